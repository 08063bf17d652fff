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
use mnemo_fastembed::{EmbedConfig, FastEmbedder, Model};

const QUERIES: usize = 200;
const TURNS: usize = 200;
const WARMUP: usize = 10;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
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
        let embedder = FastEmbedder::load(&config)?;
        for text in questions.iter().take(WARMUP) {
            embedder.embed(vec![text.clone()]).await?;
        }
        println!("\n{model} ({} dimensions):", model.dimension());
        for (what, texts) in [("question", &questions), ("turn", &turns)] {
            let mut samples = Vec::with_capacity(texts.len());
            for text in texts.iter() {
                let started = Instant::now();
                embedder.embed(vec![text.clone()]).await?;
                samples.push(started.elapsed());
            }
            if let Some(s) = summarize(&samples) {
                println!(
                    "  one {what} per call: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                    ms(s.p50),
                    ms(s.p95),
                    ms(s.max)
                );
            }
        }
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
    Ok(())
}
