//! Benchmark of the embedding models: milliseconds per call for what a search embeds (one
//! LOCOMO question) and what an add embeds (one conversation turn, and a session's turns in
//! one call), for every model installed under `.deps/models/`.
//!
//! Run with `cargo run --release -p mnemo-eval --bin bench_embed`. Prints numbers; it is not
//! a test. Models not installed (all-mpnet-base-v2 needs `make setup-mpnet`) are named and
//! skipped.

use std::path::Path;
use std::time::Instant;

use mnemo_core::ports::Embedder as _;
use mnemo_eval::{locomo, summarize};
use mnemo_fastembed::{EmbedConfig, FastEmbedder, Model, PoolConfig};

const QUERIES: usize = 200;
const TURNS: usize = 200;
const WARMUP: usize = 10;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// How long each call took, one call per batch, one after the other.
async fn timed(
    batches: impl Iterator<Item = Vec<String>>,
    embedder: &FastEmbedder,
) -> anyhow::Result<Vec<std::time::Duration>> {
    let mut samples = Vec::new();
    for batch in batches {
        let started = Instant::now();
        embedder.embed(batch).await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

fn print_summary(what: &str, samples: &[std::time::Duration]) {
    if let Some(s) = summarize(samples) {
        println!(
            "  {what}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            ms(s.p50),
            ms(s.p95),
            ms(s.max)
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mnemo_eval::bench_start(
        "bench_embed",
        &format!("{QUERIES} questions and {TURNS} turns of LOCOMO dev, one call each"),
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = locomo::load(&repo.join("../shared/eval/locomo/locomo_dev.json"))
        .or_else(|_| locomo::load(&repo.join("shared/eval/locomo/locomo_dev.json")))?;
    let questions: Vec<String> = data
        .iter()
        .flat_map(|c| c.questions.iter().map(|q| q.question.clone()))
        .take(QUERIES)
        .collect();
    let sessions: Vec<Vec<String>> = data[0]
        .sessions
        .iter()
        .map(|s| s.turns.iter().map(|t| t.message()).collect())
        .collect();
    let turns: Vec<String> = sessions.iter().flatten().take(TURNS).cloned().collect();

    for model in Model::ALL {
        let config = EmbedConfig::repo_model(&repo, model);
        if !config.model_dir.join("model.onnx").is_file() {
            println!(
                "\n{model}: not installed in {} (`{}`), skipped",
                config.model_dir.display(),
                model.setup_command()
            );
            continue;
        }
        for pool in [
            PoolConfig::default(),
            PoolConfig {
                sessions: 1,
                ..PoolConfig::default()
            },
        ] {
            let embedder = FastEmbedder::load_pool(&config, pool)?;
            for text in questions.iter().take(WARMUP) {
                embedder.embed(vec![text.clone()]).await?;
            }
            println!(
                "\n{model} ({} dimensions), {} session(s) of {} thread(s):",
                model.dimension(),
                pool.sessions,
                pool.threads_per_session()
            );
            for (what, texts) in [("question", &questions), ("turn", &turns)] {
                let samples = timed(texts.iter().map(|t| vec![t.clone()]), &embedder).await?;
                print_summary(&format!("one {what} per call"), &samples);
            }
            // The shape of a search's call before #18: the question and its noun phrases
            // in one padded batch.
            let with_phrases = questions.iter().map(|q| {
                let mut batch = vec![q.clone()];
                batch.extend(q.split_whitespace().take(4).map(str::to_owned));
                batch
            });
            let samples = timed(with_phrases, &embedder).await?;
            print_summary("a question and 4 of its words in one call", &samples);
            let started = Instant::now();
            let mut count = 0;
            for session in &sessions {
                embedder.embed(session.clone()).await?;
                count += session.len();
            }
            println!(
                "  whole sessions per call ({} sessions, {count} turns): {:.1} ms per turn",
                sessions.len(),
                ms(started.elapsed()) / count as f64
            );
        }
    }
    Ok(())
}
