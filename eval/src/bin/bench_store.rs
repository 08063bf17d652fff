//! Benchmark of the embedded store: exact top-10 vector search in one scope at 10k and
//! 100k vectors of 384 dimensions (p50/p95), and store open time at 100k relations.
//!
//! Run with `cargo run --release -p mnemo-eval --bin bench_store`. Prints numbers; it is not
//! a test. `--quick` uses a tenth of the sizes (for a smoke run); `--open 1000000` measures
//! only the open time, at that many relations; `--upgrade` first measures the open of that
//! store made as it was before the stored vector codes (schema version 5: every code
//! computed and stored once), with its peak memory.
//!
//! The 100k scan is memory-bound and split over the cores: on a shared VM the bandwidth a
//! process gets varies from run to run (seen here: p50 1.8 ms or 3.5 ms), so run it a few
//! times and read the load average it prints.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use mnemo_core::ports::{GraphWrite, RelationVector, VectorRead, VectorWrite, WriteOp};
use mnemo_core::{
    Entity, EntityId, EntityType, Relation, RelationId, RelationTimes, RelationType, Scope,
    Visibility,
};
use mnemo_embedded::EmbeddedStore;
use mnemo_eval::{Rng, Summary, seeded, summarize, unit_vector};
use rand::RngCore as _;

const DIMENSION: usize = 384;
const TOP_K: usize = 10;
const QUERIES: usize = 300;
const WARMUP_QUERIES: usize = 20;
const ENTITIES: usize = 20_000;
const WRITE_BATCH: usize = 2_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scale = mnemo_eval::bench_start(
        "bench_store",
        &format!("dimension {DIMENSION}, top-{TOP_K}, {QUERIES} queries per size"),
    );
    let mut rng = seeded(0x5eed);
    let args: Vec<String> = std::env::args().collect();
    let open_only: Option<usize> = match args.iter().position(|a| a == "--open") {
        Some(i) => Some(
            args.get(i + 1)
                .context("--open needs a number of relations")?
                .parse()?,
        ),
        None => None,
    };
    let search_sizes = match open_only {
        Some(_) => vec![],
        None => vec![10_000 / scale, 100_000 / scale],
    };

    for n in search_sizes {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(dir.path(), DIMENSION)?;
        let scope = Scope::user("bench")?;
        // A neighbour scope of the same size: search must not pay for it.
        let other = Scope::user("neighbour")?;
        for s in [&scope, &other] {
            let started = Instant::now();
            insert_relation_vectors(&store, s, n, &mut rng).await?;
            if s == &scope {
                println!(
                    "vectors n={n:>7}: inserted {n} relation vectors in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let now = Visibility::now();
        let all_visible = search_latencies(&store, &scope, now, &mut rng).await?;
        report(&format!("search  n={n:>7} (all visible)"), &all_visible);
        // Half of the relations are invisible at this point in time: the filter runs inside
        // the scan and still returns k hits.
        let past = Visibility {
            as_of: now.as_of,
            known_at: now.known_at - chrono::Duration::days(1),
        };
        let hidden = search_latencies(&store, &scope, past, &mut rng).await;
        match hidden {
            Ok(samples) => report(&format!("search  n={n:>7} (half visible)"), &samples),
            Err(e) => println!("search  n={n:>7} (half visible): {e}"),
        }
    }

    let relations = open_only.unwrap_or(100_000 / scale);
    let dir = tempfile::tempdir()?;
    {
        let store = EmbeddedStore::open(dir.path(), DIMENSION)?;
        let started = Instant::now();
        build_graph(&store, relations, &mut rng).await?;
        println!(
            "graph: wrote {} entities and {relations} relations (+ their vectors) in {:.2} s",
            (ENTITIES * relations / 100_000).max(2),
            started.elapsed().as_secs_f64()
        );
    }
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.path())?
        .filter_map(|e| {
            let e = e.ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().ok()?.len(),
            ))
        })
        .collect();
    files.sort();
    let files: Vec<String> = files
        .iter()
        .map(|(name, len)| format!("{name} {:.1} MB", *len as f64 / 1e6))
        .collect();
    println!("graph: files {}", files.join(", "));
    if args.iter().any(|a| a == "--upgrade") {
        upgrade_open(dir.path())?;
    }
    let mut opens = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let store = EmbeddedStore::open(dir.path(), DIMENSION)?;
        opens.push(started.elapsed());
        drop(store);
    }
    report(&format!("open    {relations} relations"), &opens);
    Ok(())
}

/// Drops the vector codes (back to schema version 5) and measures the one open that computes
/// and stores them all: its time, and the peak resident memory it adds.
fn upgrade_open(dir: &std::path::Path) -> anyhow::Result<()> {
    rusqlite::Connection::open(dir.join("mnemo.db"))?.execute_batch(
        "DROP TRIGGER entity_codes_deleted; DROP TRIGGER relation_vector_codes_deleted; \
         DROP TRIGGER fact_codes_deleted; DROP TABLE entity_codes; \
         DROP TABLE relation_vector_codes; DROP TABLE fact_codes; PRAGMA user_version = 5;",
    )?;
    // Writing 5 to clear_refs resets the peak (VmHWM) to the current resident size.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = mnemo_eval::scale::rss_mb();
    let started = Instant::now();
    let store = EmbeddedStore::open(dir, DIMENSION)?;
    let elapsed = started.elapsed();
    let after = mnemo_eval::scale::rss_mb();
    let peak = mnemo_eval::scale::peak_rss_mb().filter(|_| reset);
    drop(store);
    let mb = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} MB"));
    println!(
        "upgrade open (every code computed and stored): {:.2} s; RSS {} before, {} after, \
         peak {}",
        elapsed.as_secs_f64(),
        mb(before),
        mb(after),
        mb(peak)
    );
    Ok(())
}

fn report(label: &str, samples: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if let Some(Summary { p50, p95, max }) = summarize(samples) {
        println!(
            "{label}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} runs)",
            ms(p50),
            ms(p95),
            ms(max),
            samples.len()
        );
    }
}

/// Every other relation is recorded today, the rest a year ago and ended a week ago
/// (learned yesterday at the latest), so half is invisible "as known yesterday".
fn times(i: usize) -> RelationTimes {
    let now = Utc::now();
    if i.is_multiple_of(2) {
        RelationTimes {
            valid_from: None,
            valid_to: None,
            recorded_at: now,
            invalidated_at: None,
            retracted_at: None,
        }
    } else {
        RelationTimes {
            valid_from: Some(now - chrono::Duration::days(365)),
            valid_to: None,
            recorded_at: now - chrono::Duration::days(365),
            invalidated_at: None,
            retracted_at: None,
        }
    }
}

async fn insert_relation_vectors(
    store: &EmbeddedStore,
    scope: &Scope,
    n: usize,
    rng: &mut Rng,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    for i in 0..n {
        batch.push(RelationVector {
            id: RelationId::new(),
            scope: scope.clone(),
            times: times(i),
            vector: unit_vector(rng, DIMENSION),
        });
        if batch.len() == WRITE_BATCH || i + 1 == n {
            store.upsert_relation_vectors(&batch).await?;
            batch.clear();
        }
    }
    Ok(())
}

async fn search_latencies(
    store: &EmbeddedStore,
    scope: &Scope,
    at: Visibility,
    rng: &mut Rng,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(QUERIES);
    for q in 0..WARMUP_QUERIES + QUERIES {
        let query = unit_vector(rng, DIMENSION);
        let started = Instant::now();
        let hits = store.search_relations(scope, &query, TOP_K, at).await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(hits.len() == TOP_K, "got {} hits", hits.len());
        if q >= WARMUP_QUERIES {
            samples.push(elapsed);
        }
    }
    Ok(samples)
}

/// `relations` relations between random pairs of the scope's entities, each with its
/// relation vector, written in batches as the ingestion pipeline would.
async fn build_graph(store: &EmbeddedStore, relations: usize, rng: &mut Rng) -> anyhow::Result<()> {
    let scope = Scope::user("graph")?;
    let entities = (ENTITIES * relations / 100_000).max(2);
    let person = EntityType::parse("Person")?;
    let knows = RelationType::parse("KNOWS")?;
    let now = Utc::now();
    let mut ids: Vec<EntityId> = Vec::with_capacity(entities);
    let mut ops = Vec::with_capacity(WRITE_BATCH);
    for i in 0..entities {
        let entity = Entity {
            id: EntityId::new(),
            scope: scope.clone(),
            name: format!("person {i}"),
            display_name: format!("Person {i}"),
            entity_type: person.clone(),
            aliases: vec![format!("p{i}")],
            embedding: unit_vector(rng, DIMENSION),
            mentions: 1,
            created_at: now,
            updated_at: now,
        };
        ids.push(entity.id);
        ops.push(WriteOp::UpsertEntity(entity));
        if ops.len() == WRITE_BATCH {
            store.apply(&scope, std::mem::take(&mut ops)).await?;
        }
    }
    store.apply(&scope, std::mem::take(&mut ops)).await?;
    let mut vectors = Vec::with_capacity(WRITE_BATCH);
    for i in 0..relations {
        let pick = |rng: &mut Rng| ids[(rng.next_u64() % ids.len() as u64) as usize];
        let relation = Relation {
            id: RelationId::new(),
            scope: scope.clone(),
            source: pick(rng),
            relation_type: knows.clone(),
            target: pick(rng),
            fact: format!("person {i} knows someone"),
            times: times(i),
            invalidated_by: None,
            invalidated_in: None,
            episodes: Vec::new(),
            mentions: 1,
            stated_end: None,
        };
        vectors.push(RelationVector {
            id: relation.id,
            scope: scope.clone(),
            times: relation.times,
            vector: unit_vector(rng, DIMENSION),
        });
        ops.push(WriteOp::AddRelation(relation));
        if ops.len() == WRITE_BATCH || i + 1 == relations {
            store.apply(&scope, std::mem::take(&mut ops)).await?;
            store
                .upsert_relation_vectors(&vectors)
                .await
                .context("relation vectors")?;
            vectors.clear();
        }
    }
    Ok(())
}
