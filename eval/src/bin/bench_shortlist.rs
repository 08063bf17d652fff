//! Benchmark of the embedded store's shortlisted vector search against its exact scan, on
//! real embeddings: how often the shortlist finds the same nearest relations, and how much
//! faster it is, for each shortlist length tried.
//!
//! Run with `cargo run --release -p mnemo-eval --bin bench_shortlist`. Prints numbers; it is
//! not a test. The set is one scope's relation vectors: every LOCOMO dev turn and observation
//! (`--data`, real conversation text) and `--synthetic N` relation facts in the form the
//! synthetic memory writes ("Mia Orlen works at Tavik Labs"), all embedded with the real
//! model. The queries are the LOCOMO questions and, as a hard case, 200 of the synthetic
//! facts themselves (each has many near-duplicates). Recall is the share of the exact top k
//! the shortlisted search also returns.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use mnemo_core::ports::{Embedder as _, RelationVector, VectorRead as _, VectorWrite as _};
use mnemo_core::{RelationId, RelationTimes, Scope, Visibility};
use mnemo_embedded::{EmbeddedStore, VectorSearch};
use mnemo_eval::synthetic::relation_facts;
use mnemo_eval::{seeded, summarize};
use mnemo_fastembed::{EmbedConfig, FastEmbedder};
use rand::seq::SliceRandom as _;

const EMBED_BATCH: usize = 256;
const HARD_QUERIES: usize = 200;
const WRITE_BATCH: usize = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scale = mnemo_eval::bench_start(
        "bench_shortlist",
        "shortlisted vs exact relation search on real embeddings",
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let data = arg("--data").map_or_else(
        || repo.join("../shared/eval/locomo/locomo_dev.json"),
        PathBuf::from,
    );
    let synthetic: usize = arg("--synthetic").map_or(Ok(30_000), |n| n.parse())? / scale;
    let per_result: Vec<usize> = arg("--per-result")
        .map_or("5,10,20,40", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("--per-result takes a list such as 10,20")?;
    let ks = [20, 100];

    let conversations = mnemo_eval::locomo::data::load(&data)?;
    let mut texts: Vec<String> = Vec::new();
    for session in conversations.iter().flat_map(|c| &c.sessions) {
        texts.extend(session.turns.iter().map(|t| t.message()));
        texts.extend(session.observations.iter().map(|o| o.text.clone()));
    }
    let real = texts.len();
    let mut rng = seeded(0x5407_7157);
    let facts = relation_facts(&mut rng, synthetic);
    let mut queries: Vec<(&str, String)> = conversations
        .iter()
        .flat_map(|c| &c.questions)
        .map(|q| ("LOCOMO question", q.question.clone()))
        .collect();
    let mut hard: Vec<String> = facts.clone();
    hard.shuffle(&mut rng);
    queries.extend(
        hard.into_iter()
            .take(HARD_QUERIES)
            .map(|f| ("synthetic fact", f)),
    );
    texts.extend(facts);
    println!(
        "set: {} texts ({real} LOCOMO turns and observations, {synthetic} synthetic facts); \
         {} queries",
        texts.len(),
        queries.len()
    );

    let config = EmbedConfig::repo_default(&repo);
    let embedder = FastEmbedder::load(&config)?;
    let started = Instant::now();
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(EMBED_BATCH) {
        vectors.extend(embedder.embed(chunk.to_vec()).await?);
    }
    let query_texts: Vec<String> = queries.iter().map(|(_, q)| q.clone()).collect();
    let mut query_vectors = Vec::with_capacity(query_texts.len());
    for chunk in query_texts.chunks(EMBED_BATCH) {
        query_vectors.extend(embedder.embed(chunk.to_vec()).await?);
    }
    println!("embedded in {:.1} s", started.elapsed().as_secs_f64());

    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(dir.path(), mnemo_fastembed::DIMENSION)?;
    let scope = Scope::user("bench_shortlist")?;
    let times = RelationTimes {
        valid_from: None,
        valid_to: None,
        recorded_at: Utc::now(),
        invalidated_at: None,
        retracted_at: None,
    };
    for chunk in vectors.chunks(WRITE_BATCH) {
        let batch: Vec<RelationVector> = chunk
            .iter()
            .map(|vector| RelationVector {
                id: RelationId::new(),
                scope: scope.clone(),
                times,
                vector: vector.clone(),
            })
            .collect();
        store.upsert_relation_vectors(&batch).await?;
    }

    let search = |k: usize| {
        let (store, scope, query_vectors) = (&store, &scope, &query_vectors);
        async move {
            let mut hits = Vec::with_capacity(query_vectors.len());
            let mut times = Vec::with_capacity(query_vectors.len());
            for query in query_vectors {
                let started = Instant::now();
                let found = store
                    .search_relations(scope, query, k, Visibility::now())
                    .await?;
                times.push(started.elapsed());
                hits.push(found.into_iter().map(|hit| hit.item).collect::<Vec<_>>());
            }
            Ok::<_, anyhow::Error>((hits, times))
        }
    };
    println!(
        "\n| search | k | recall, LOCOMO questions | recall, synthetic facts | worst query | \
         p50 ms | p95 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for k in ks {
        store.set_vector_search(VectorSearch::EXACT);
        let (exact, times) = search(k).await?;
        print_row("exact", k, &times, None);
        for &p in &per_result {
            store.set_vector_search(VectorSearch {
                exact_max_rows: 0,
                shortlist_per_result: p,
            });
            let (found, times) = search(k).await?;
            let recall: Vec<(&str, f64)> = queries
                .iter()
                .zip(exact.iter().zip(&found))
                .map(|((kind, _), (want, got))| {
                    let same = got.iter().filter(|id| want.contains(id)).count();
                    (*kind, same as f64 / want.len().max(1) as f64)
                })
                .collect();
            let label = format!(
                "shortlist {p} per result (≥ {})",
                mnemo_embedded::SHORTLIST_MIN
            );
            print_row(&label, k, &times, Some(&recall));
        }
    }
    Ok(())
}

fn print_row(label: &str, k: usize, times: &[Duration], recall: Option<&[(&str, f64)]>) {
    let Some(summary) = summarize(times) else {
        return;
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = |kind: &str| {
        recall.map_or("1 (reference)".to_owned(), |r| {
            let of: Vec<f64> = r.iter().filter(|(k, _)| *k == kind).map(|r| r.1).collect();
            format!("{:.4}", of.iter().sum::<f64>() / of.len().max(1) as f64)
        })
    };
    let worst = recall.map_or("-".to_owned(), |r| {
        format!("{:.2}", r.iter().map(|r| r.1).fold(1.0, f64::min))
    });
    println!(
        "| {label} | {k} | {} | {} | {worst} | {:.2} | {:.2} |",
        mean("LOCOMO question"),
        mean("synthetic fact"),
        ms(summary.p50),
        ms(summary.p95)
    );
}
