//! Benchmark of the read path: `Memory::search` on the embedded store with 10k and 100k
//! relations in the searched scope, at walk depths 1, 2 and 3 (p50/p95), LLM-free.
//!
//! Run with `cargo run --release -p mnemo-eval --bin bench_search`. Prints numbers; it is
//! not a test. `--quick` uses a tenth of the sizes (for a smoke run); `--sizes 100000`
//! picks the sizes.
//!
//! The graph is `mnemo_eval::synthetic`'s, shaped like a memory: people, organisations, cities and
//! topics with realistic names (embedded for real, so entity linking behaves as in
//! production), relations of seven types whose ends are drawn with a heavy skew (a few
//! hubs with thousands of relations, most entities with a handful), a fifth of them ended
//! and a few retracted, and plain facts. Relation and fact vectors are random unit vectors
//! (embedding 100k sentences would take long and changes no cost), but every query goes
//! through the real `Memory::search` with the real embedder and tokenizer. The one
//! embedding call is timed apart from the rest ("engine").

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mnemo_core::read::walk;
use mnemo_core::{Memory, MemoryParts, MemorySettings, Ontology, Scope, Visibility};
use mnemo_embedded::EmbeddedStore;
use mnemo_eval::synthetic::{
    SEARCH_LIMIT as LIMIT, SEARCH_TOKEN_BUDGET as TOKEN_BUDGET, Timed, build_scope, pick,
    timed_search,
};
use mnemo_eval::{Summary, seeded, summarize};
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};

const DIMENSION: usize = mnemo_fastembed::DIMENSION;
const QUERIES: usize = 200;
const WARMUP_QUERIES: usize = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scale = mnemo_eval::bench_start(
        "bench_search",
        &format!("limit {LIMIT}, token_budget {TOKEN_BUDGET}, {QUERIES} queries per depth"),
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = EmbedConfig::repo_default(&repo);
    let embedder = Arc::new(Timed::new(FastEmbedder::load(&config)?));
    let tokens = Arc::new(TokenizerCounter::load(&config)?);
    let mut rng = seeded(0x5eed_5ea7c);

    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = match args.iter().position(|a| a == "--sizes") {
        Some(i) => args
            .get(i + 1)
            .context("--sizes needs a list such as 10000,100000")?
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()?,
        None => vec![10_000 / scale, 100_000 / scale],
    };
    for n in sizes {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(dir.path(), DIMENSION)?;
        let scope = Scope::user("bench")?;
        let started = Instant::now();
        let world = build_scope(&store, &scope, n, &embedder.inner, &mut rng).await?;
        println!(
            "\nn={n}: {} entities, {n} relations (max degree {}), {} facts written in {:.1} s",
            world.entity_count,
            world.max_degree,
            n / 10,
            started.elapsed().as_secs_f64()
        );
        // The search's walk alone (bounded: 40 relations per entity, 8 entities per hop),
        // from one entity.
        for depth in 1..=3u8 {
            let mut samples = Vec::new();
            let mut reached = 0usize;
            for _ in 0..50 {
                let seed = world.person_ids[*pick(&mut rng, &world.sources)];
                let started = Instant::now();
                let walk = walk::walk(
                    &store,
                    &scope,
                    &[seed],
                    depth,
                    Visibility::now(),
                    walk::SEARCH,
                    |_| 0.0,
                )
                .await?;
                samples.push(started.elapsed());
                reached += walk.len();
            }
            println!(
                "n={n:>7} search walk depth {depth} from a degree-weighted person: {:.0} relations",
                reached as f64 / 50.0
            );
            report("  walk     ", &samples);
        }
        let memory = Memory::new(MemoryParts {
            graph: Arc::new(store.clone()),
            vectors: Arc::new(store.clone()),
            embedder: embedder.clone(),
            tokens: tokens.clone(),
            llm: None,
            ontology: Ontology::builtin(),
            settings: MemorySettings::default(),
        });
        for depth in 1..=3u8 {
            let mut total = Vec::with_capacity(QUERIES);
            let mut embed = Vec::with_capacity(QUERIES);
            let mut engine = Vec::with_capacity(QUERIES);
            let (mut results, mut linked) = (0usize, 0usize);
            for q in 0..WARMUP_QUERIES + QUERIES {
                let query = world.query(&mut rng);
                let (result, timing) =
                    timed_search(&memory, &embedder, scope.clone(), query, depth).await?;
                if q >= WARMUP_QUERIES {
                    total.push(timing.total);
                    embed.push(timing.embedding);
                    engine.push(timing.engine);
                    results += result.relations.len() + result.facts.len();
                    linked += result.linked_entities.len();
                }
            }
            println!(
                "n={n:>7} depth {depth}: {:.1} results, {:.1} linked entities per query",
                results as f64 / QUERIES as f64,
                linked as f64 / QUERIES as f64
            );
            report("  engine   ", &engine);
            report("  embedding", &embed);
            report("  total    ", &total);
        }
    }
    Ok(())
}

fn report(label: &str, samples: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if let Some(Summary { p50, p95, max }) = summarize(samples) {
        println!(
            "{label}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            ms(p50),
            ms(p95),
            ms(max)
        );
    }
}
