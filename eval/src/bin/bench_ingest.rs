//! Write-path benchmark: adds per second and engine milliseconds per relation with a
//! zero-latency scripted LLM, at 1k and 10k existing relations in the scope, and LLM calls
//! per add. Prints numbers; it is not a test.
//!
//! `cargo run --release -p mnemo-eval --features scripted-llm --bin bench_ingest`
//!
//! Each add says "Person-p moved to City-c and works at Org-o": two relations, one of them
//! superseding by the ontology rule (LIVES_IN), one possibly sent to `resolve_conflicts`
//! (WORKS_AT, multi-valued) when the person already has an employer. Embedding runs on the
//! real model, so "engine time" includes the embedder; the LLM's own time is nil.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mnemo_core::write::{EntityInput, RelationsRequest, TripletRequest};
use mnemo_core::{Memory, MemoryParts, MemorySettings, Ontology, Scope};
use mnemo_embedded::EmbeddedStore;
use mnemo_eval::synthetic::move_message;
use mnemo_eval::{seeded, summarize};
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};
use mnemo_llm::{LlmConfig, OpenAiLlm};
use rand::RngCore as _;
use serde_json::json;

const PEOPLE: u64 = 400;
const CITIES: u64 = 300;
const ORGS: u64 = 300;
const ADDS: usize = 200;
const PRELOAD_BATCH: usize = 500;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = EmbedConfig::repo_default(&root);
    let embedder = Arc::new(FastEmbedder::load(&config).context("run `make setup` first")?);
    let tokens = Arc::new(TokenizerCounter::load(&config)?);
    let llm = mnemo_testkit::zero_latency_llm::start().await;

    println!("write path, zero-latency scripted LLM, real embedder, {ADDS} adds per size");
    println!(
        "{:>10} {:>9} {:>11} {:>11} {:>13} {:>10}",
        "existing", "adds/s", "add p50 ms", "add p95 ms", "ms/relation", "LLM/add"
    );
    for existing in [1_000usize, 10_000] {
        let dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open(dir.path(), mnemo_fastembed::DIMENSION)?;
        let mut llm_config = LlmConfig::new(llm.base_url(), "scripted");
        llm_config.retry_base_delay = Duration::from_millis(1);
        let memory = Memory::new(MemoryParts {
            graph: Arc::new(store.clone()),
            vectors: Arc::new(store.clone()),
            embedder: embedder.clone(),
            tokens: tokens.clone(),
            llm: Some(Arc::new(OpenAiLlm::new(llm_config)?)),
            ontology: Ontology::builtin(),
            settings: MemorySettings {
                facts_enabled: false,
                ..MemorySettings::default()
            },
        });
        let scope = Scope::user(format!("bench-{existing}"))?;
        preload(&memory, &scope, existing).await?;

        let calls_before = llm.requests().len();
        let mut rng = seeded(0x5eed ^ existing as u64);
        let mut latencies = Vec::with_capacity(ADDS);
        let mut relations = 0usize;
        let started = Instant::now();
        for i in 0..ADDS {
            let (p, c, o) = (
                rng.next_u64() % PEOPLE,
                rng.next_u64() % CITIES,
                rng.next_u64() % ORGS,
            );
            let text = move_message(p, c, o, i);
            let one = Instant::now();
            let outcome = memory
                .add(mnemo_eval::synthetic::user_says(&scope, text))
                .await?;
            latencies.push(one.elapsed());
            anyhow::ensure!(
                outcome.status == mnemo_core::EpisodeStatus::Done,
                "add failed: {:?}",
                outcome.status
            );
            relations += outcome.relations.added.len() + outcome.relations.updated.len();
        }
        let total = started.elapsed();
        let calls = llm.requests().len() - calls_before;
        let summary = summarize(&latencies).expect("samples");
        println!(
            "{:>10} {:>9.1} {:>11.2} {:>11.2} {:>13.2} {:>10.2}",
            existing,
            ADDS as f64 / total.as_secs_f64(),
            summary.p50.as_secs_f64() * 1e3,
            summary.p95.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3 / relations.max(1) as f64,
            calls as f64 / ADDS as f64,
        );
    }
    Ok(())
}

/// Fills the scope with `count` relations through the direct-triplet path (no LLM).
async fn preload(memory: &Memory, scope: &Scope, count: usize) -> anyhow::Result<()> {
    let mut rng = seeded(count as u64);
    let kinds = [
        ("LIKES", "Food", "Dish"),
        ("VISITED", "City", "City"),
        ("FRIEND_OF", "Person", "Person"),
        ("OWNS", "Product", "Thing"),
    ];
    let mut added = 0;
    while added < count {
        let batch = PRELOAD_BATCH.min(count - added);
        let relations = (0..batch)
            .map(|_| {
                let (relation, target_type, prefix) = kinds[(rng.next_u64() % 4) as usize];
                TripletRequest {
                    source: EntityInput {
                        name: format!("Person-{}", rng.next_u64() % PEOPLE),
                        entity_type: Some("Person".into()),
                    },
                    relation: relation.into(),
                    target: EntityInput {
                        name: format!("{prefix}-{}", rng.next_u64() % 2_000),
                        entity_type: Some(target_type.into()),
                    },
                    fact: None,
                    valid_from: None,
                    valid_to: None,
                }
            })
            .collect();
        let outcome = memory
            .add_relations(RelationsRequest {
                scope: scope.clone(),
                occurred_at: None,
                relations,
                metadata: json!({}),
                idempotency_key: None,
            })
            .await?;
        added += outcome.relations.added.len().max(1);
    }
    Ok(())
}
