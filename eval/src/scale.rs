//! `mnemo eval scale`: how the embedded store behaves with many relations. Builds a
//! synthetic memory ([`crate::synthetic`]) of `--relations` relations over many scopes
//! whose sizes follow a Zipf law (a few large users, many small ones), then measures:
//! - search latency (`Memory::search`, limit 10, token budget 400, real embedder) at walk
//!   depths 1, 2 and 3, the searched scope drawn in proportion to its size, split into the
//!   embedding calls (from the first's start to the last's end) and the rest ("engine");
//! - ingest throughput: adds through the full write path (`infer: true`) into the largest
//!   scope, against the zero-latency scripted LLM of `mnemo_testkit::zero_latency_llm` on
//!   a real socket, facts path off, once one add at a time and once [`INGEST_IN_FLIGHT`]
//!   at a time (as a client importing history would send them). That model is test
//!   code, so the `mnemo` binary does not ship it: only a caller that starts it (the
//!   `eval` bench binary, built with the `scripted-llm` feature; the tests) gets this
//!   number, and the report says how to get it otherwise ([`INGEST_NOT_MEASURED`]);
//! - the store's size on disk, the time to open it again after the build (as a restarted
//!   server would), the process's resident memory right after that open (`VmRSS`) and its
//!   peak over the whole run, build included (`VmHWM`).
//!
//! Writes `report.json` (`search_p50_ms`, `search_p95_ms`, `ingest_relations_per_s`,
//! `ingest_relations_per_s_in_flight`, `open_s`, `rss_after_open_mb`, `rss_mb`, …) and `report.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use mnemo_core::{EpisodeStatus, Memory, MemoryParts, MemorySettings, Ontology, Scope};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{EmbedConfig, TokenizerCounter};
use mnemo_llm::{LlmConfig, OpenAiLlm};
use rand::RngCore as _;
use serde_json::{Value, json};

use crate::synthetic::{Timed, World, build_scope, move_message, timed_search, user_says};
use crate::{Rng, seeded, summarize};

/// Relations per scope on average; the number of scopes follows from it.
const RELATIONS_PER_SCOPE: usize = 5_000;
const MAX_SCOPES: usize = 200;
/// The smallest scope built.
const MIN_SCOPE: usize = 50;
const WARMUP_QUERIES: usize = 20;
const LIMIT: usize = 10;
const TOKEN_BUDGET: usize = 400;

/// What a run without the zero-latency model reports instead of the ingest numbers.
pub const INGEST_NOT_MEASURED: &str = "ingest not measured: the zero-latency scripted LLM \
     it needs is test code, left out of the mnemo binary; run `cargo run --release -p \
     mnemo-eval --features scripted-llm --bin eval -- scale …` (same options) or \
     `cargo run --release -p mnemo-eval --features scripted-llm --bin bench_ingest`";

/// One run.
#[derive(Clone, Debug)]
pub struct ScaleOptions {
    pub relations: usize,
    pub out: PathBuf,
    /// Searches measured per depth.
    pub queries: usize,
    /// Adds measured for the ingest rate.
    pub adds: usize,
    /// The OpenAI-compatible endpoint of the zero-latency model the measured adds call
    /// (`mnemo_testkit::zero_latency_llm`); `None` skips the ingest measurement.
    pub ingest_llm_url: Option<String>,
    pub progress: bool,
}

/// Relations per scope: a Zipf law (weight 1/rank) over `scopes` scopes, each at least
/// [`MIN_SCOPE`] (or all of `total` when that is smaller), summing to `total`.
pub fn scope_sizes(total: usize, scopes: usize) -> Vec<usize> {
    let scopes = scopes.max(1);
    let floor = MIN_SCOPE.min(total / scopes);
    let spare = total - floor * scopes;
    let harmonic: f64 = (1..=scopes).map(|r| 1.0 / r as f64).sum();
    let mut sizes: Vec<usize> = (1..=scopes)
        .map(|r| floor + (spare as f64 / r as f64 / harmonic) as usize)
        .collect();
    let assigned: usize = sizes.iter().sum();
    sizes[0] += total - assigned;
    sizes
}

/// Peak resident memory of this process in MB (`VmHWM`), if the platform says.
pub fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// Resident memory of this process now in MB (`VmRSS`), if the platform says.
pub fn rss_mb() -> Option<f64> {
    status_mb("VmRSS:")
}

fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Bytes of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.metadata() {
            Ok(m) if m.is_dir() => total += dir_size(&entry.path()),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e3, 3)
}

/// Runs the benchmark; writes `report.json` and `report.md` into `options.out`.
pub async fn run(options: &ScaleOptions, embed: &EmbedConfig) -> anyhow::Result<Value> {
    anyhow::ensure!(options.relations >= 100, "--relations must be at least 100");
    anyhow::ensure!(options.queries > 0, "--queries must be at least 1");
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    let (embedder, tokens) = crate::synthetic::load_models(embed).await?;
    let store_dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(store_dir.path(), mnemo_fastembed::DIMENSION)?;
    let mut rng = seeded(0x5ca1e);

    let scopes = (options.relations / RELATIONS_PER_SCOPE).clamp(2, MAX_SCOPES);
    let sizes = scope_sizes(options.relations, scopes);
    let steps = options.relations as u64 + 3 * options.queries as u64 + 2 * options.adds as u64;
    let bar = progress_bar(options.progress, steps);

    // Build.
    bar.set_message("building the synthetic memory");
    let started = Instant::now();
    let mut worlds: Vec<(Scope, World, usize)> = Vec::with_capacity(scopes);
    let mut entities = 0usize;
    for (i, &size) in sizes.iter().enumerate() {
        let scope = Scope::user(format!("scale-{i:03}"))?;
        let world = build_scope(&store, &scope, size, &embedder.inner, &mut rng).await?;
        entities += world.entity_count;
        worlds.push((scope, world, size));
        bar.inc(size as u64);
    }
    let build_time = started.elapsed();

    // Closed and opened again, as a restarted server would find it: the open time, and
    // everything after runs on the store as loaded.
    bar.set_message("reopening the store");
    drop(store);
    let opened = Instant::now();
    let path = store_dir.path().to_owned();
    let store =
        tokio::task::spawn_blocking(move || EmbeddedStore::open(&path, mnemo_fastembed::DIMENSION))
            .await??;
    let open_time = opened.elapsed();
    let rss_open = rss_mb();

    let memory = Memory::new(MemoryParts {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store.clone()),
        embedder: embedder.clone(),
        tokens: tokens.clone(),
        llm: None,
        ontology: Ontology::builtin(),
        settings: MemorySettings::default(),
    });

    // Search: the scope of each query drawn in proportion to its relations.
    let mut depths = serde_json::Map::new();
    let mut headline = (0.0, 0.0);
    for depth in 1..=3u8 {
        bar.set_message(format!("searching at depth {depth}"));
        let (mut total, mut engine, mut embedding) = (Vec::new(), Vec::new(), Vec::new());
        let mut results = 0usize;
        for q in 0..WARMUP_QUERIES + options.queries {
            let (scope, world) = weighted_scope(&worlds, options.relations, &mut rng);
            let query = world.query(&mut rng);
            let (result, timing) =
                timed_search(&memory, &embedder, scope.clone(), query, depth).await?;
            if q >= WARMUP_QUERIES {
                total.push(timing.total);
                embedding.push(timing.embedding);
                engine.push(timing.engine);
                results += result.relations.len() + result.facts.len();
                bar.inc(1);
            }
        }
        let (t, e, m) = (
            summarize(&total).context("no samples")?,
            summarize(&engine).context("no samples")?,
            summarize(&embedding).context("no samples")?,
        );
        if depth == mnemo_core::read::DEFAULT_DEPTH {
            headline = (ms(t.p50), ms(t.p95));
        }
        depths.insert(
            depth.to_string(),
            json!({
                "p50_ms": ms(t.p50), "p95_ms": ms(t.p95), "max_ms": ms(t.max),
                "engine_p50_ms": ms(e.p50), "engine_p95_ms": ms(e.p95),
                "embedding_p50_ms": ms(m.p50), "embedding_p95_ms": ms(m.p95),
                "results_per_query": round(results as f64 / options.queries as f64, 2),
            }),
        );
    }
    drop(memory);

    // Ingest through the full pipeline into the largest scope.
    bar.set_message("ingesting through the write path");
    let ingest = ingest(
        &store,
        embedder.clone(),
        tokens.clone(),
        &worlds[0].0,
        options,
        &bar,
    )
    .await?;
    bar.finish_and_clear();

    let store_bytes = dir_size(store_dir.path());
    let rss = peak_rss_mb();
    let report = json!({
        "benchmark": "scale",
        "relations": options.relations,
        "scopes": scopes,
        "largest_scope_relations": sizes[0],
        "smallest_scope_relations": sizes[scopes - 1],
        "entities": entities,
        "build_s": round(build_time.as_secs_f64(), 2),
        "open_s": round(open_time.as_secs_f64(), 2),
        "rss_after_open_mb": rss_open.map(|r| round(r, 1)),
        "search_p50_ms": headline.0,
        "search_p95_ms": headline.1,
        "search_depth": depths,
        "ingest_relations_per_s": ingest["relations_per_s"],
        "ingest_relations_per_s_in_flight": ingest["relations_per_s_in_flight"],
        "ingest": ingest,
        "store_mb": round(store_bytes as f64 / 1e6, 1),
        "rss_mb": rss.map(|r| round(r, 1)),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "load_average": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.trim().to_owned()),
    });
    let write = |name: &str, text: String| {
        let path = options.out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("report.json", serde_json::to_string_pretty(&report)?)?;
    write("report.md", markdown(&report))?;
    Ok(report)
}

fn weighted_scope<'a>(
    worlds: &'a [(Scope, World, usize)],
    total: usize,
    rng: &mut Rng,
) -> (&'a Scope, &'a World) {
    let mut pick = (rng.next_u64() % total as u64) as usize;
    for (scope, world, size) in worlds {
        if pick < *size {
            return (scope, world);
        }
        pick -= size;
    }
    let (scope, world, _) = &worlds[0];
    (scope, world)
}

async fn ingest(
    store: &EmbeddedStore,
    embedder: Arc<Timed>,
    tokens: Arc<TokenizerCounter>,
    scope: &Scope,
    options: &ScaleOptions,
    bar: &ProgressBar,
) -> anyhow::Result<Value> {
    if options.adds == 0 {
        return Ok(json!({"adds": 0, "relations_per_s": null}));
    }
    let Some(url) = &options.ingest_llm_url else {
        return Ok(
            json!({"adds": 0, "relations_per_s": null, "not_measured": INGEST_NOT_MEASURED}),
        );
    };
    let mut config = LlmConfig::new(url, "scripted");
    config.retry_base_delay = Duration::from_millis(1);
    let memory = Memory::new(MemoryParts {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store.clone()),
        embedder,
        tokens,
        llm: Some(Arc::new(OpenAiLlm::new(config)?)),
        ontology: Ontology::builtin(),
        settings: MemorySettings {
            facts_enabled: false,
            ..MemorySettings::default()
        },
    });
    let memory = Arc::new(memory);
    let one_at_a_time = add_moves(&memory, scope, options.adds, 1, 0, bar).await?;
    let in_flight = add_moves(
        &memory,
        scope,
        options.adds,
        INGEST_IN_FLIGHT,
        options.adds,
        bar,
    )
    .await?;
    let mut out = one_at_a_time;
    out["relations_per_s_in_flight"] = in_flight["relations_per_s"].clone();
    out["concurrent"] = in_flight;
    Ok(out)
}

/// Adds sent at once in the second ingest measurement: a client importing history sends
/// several; all go to the one scope, so they share its write lock.
const INGEST_IN_FLIGHT: usize = 4;

/// `adds` one-message adds ("Person-… moved to City-… and works at Org-…", numbered from
/// `first`) into `scope`, `in_flight` at a time; their rate and latency.
async fn add_moves(
    memory: &Arc<Memory>,
    scope: &Scope,
    adds: usize,
    in_flight: usize,
    first: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Value> {
    let mut rng = seeded(0xadd5 + first as u64);
    let messages: Vec<String> = (first..first + adds)
        .map(|i| {
            let (p, c, o) = (
                rng.next_u64() % 400,
                rng.next_u64() % 300,
                rng.next_u64() % 300,
            );
            move_message(p, c, o, i)
        })
        .collect();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let messages = Arc::new(messages);
    let started = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..in_flight.max(1) {
        let (memory, scope, next, messages) = (
            Arc::clone(memory),
            scope.clone(),
            Arc::clone(&next),
            Arc::clone(&messages),
        );
        let bar = bar.clone();
        lanes.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(message) = messages.get(i) else {
                    return Ok::<_, anyhow::Error>(done);
                };
                let one = Instant::now();
                let outcome = memory.add(user_says(&scope, message.clone())).await?;
                anyhow::ensure!(
                    outcome.status == EpisodeStatus::Done,
                    "add {i} did not finish: {:?}",
                    outcome.status
                );
                done.push((one.elapsed(), outcome));
                bar.inc(1);
            }
        });
    }
    let mut latencies = Vec::with_capacity(adds);
    let (mut relations, mut ended, mut llm_calls) = (0usize, 0usize, 0u32);
    while let Some(lane) = lanes.join_next().await {
        for (latency, outcome) in lane?? {
            latencies.push(latency);
            relations += outcome.relations.added.len() + outcome.relations.updated.len();
            ended += outcome.relations.invalidated.len();
            llm_calls += outcome.llm_usage.calls;
        }
    }
    let elapsed = started.elapsed();
    let summary = summarize(&latencies).context("no adds")?;
    Ok(json!({
        "adds": adds,
        "in_flight": in_flight,
        "relations": relations,
        "relations_ended": ended,
        "seconds": round(elapsed.as_secs_f64(), 2),
        "adds_per_s": round(adds as f64 / elapsed.as_secs_f64(), 1),
        "relations_per_s": round(relations as f64 / elapsed.as_secs_f64(), 1),
        "add_p50_ms": ms(summary.p50),
        "add_p95_ms": ms(summary.p95),
        "llm_calls_per_add": round(llm_calls as f64 / adds as f64, 2),
    }))
}

fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {percent}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn num(value: &Value) -> String {
    match value {
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

/// `report.md` of a scale run.
pub fn markdown(report: &Value) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Scale: {} relations in {} scopes\n\nLargest scope {} relations, smallest {}; {} \
         entities; built in {} s, opened again in {} s. Store on disk {} MB; RSS {} MB after \
         the open, peak {} MB ({} CPUs, load {}).\n",
        num(&report["relations"]),
        num(&report["scopes"]),
        num(&report["largest_scope_relations"]),
        num(&report["smallest_scope_relations"]),
        num(&report["entities"]),
        num(&report["build_s"]),
        num(&report["open_s"]),
        num(&report["store_mb"]),
        num(&report["rss_after_open_mb"]),
        num(&report["rss_mb"]),
        num(&report["cpus"]),
        report["load_average"].as_str().unwrap_or("?"),
    );
    let _ = writeln!(
        md,
        "## Search (limit {LIMIT}, token budget {TOKEN_BUDGET}, scope drawn by size)\n\n\
         | depth | p50 ms | p95 ms | max ms | engine p50 | engine p95 | embedding p50 | \
         embedding p95 | results |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for (depth, d) in report["search_depth"].as_object().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {depth} | {} | {} | {} | {} | {} | {} | {} | {} |",
            num(&d["p50_ms"]),
            num(&d["p95_ms"]),
            num(&d["max_ms"]),
            num(&d["engine_p50_ms"]),
            num(&d["engine_p95_ms"]),
            num(&d["embedding_p50_ms"]),
            num(&d["embedding_p95_ms"]),
            num(&d["results_per_query"]),
        );
    }
    let i = &report["ingest"];
    if let Some(reason) = i["not_measured"].as_str() {
        let _ = writeln!(md, "\n## Ingest\n\n{reason}.");
        return md;
    }
    let _ = writeln!(
        md,
        "\n## Ingest (full write path, zero-latency scripted LLM, facts path off, largest \
         scope)\n\n| in flight | adds | relations | ended | adds/s | relations/s | add p50 ms \
         | add p95 ms | LLM calls/add |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for run in [i, &i["concurrent"]] {
        if run.is_object() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                num(&run["in_flight"]),
                num(&run["adds"]),
                num(&run["relations"]),
                num(&run["relations_ended"]),
                num(&run["adds_per_s"]),
                num(&run["relations_per_s"]),
                num(&run["add_p50_ms"]),
                num(&run["add_p95_ms"]),
                num(&run["llm_calls_per_add"]),
            );
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sizes_follow_zipf_and_sum_to_the_total() {
        let check = |total: usize, scopes: usize, first: usize, last: usize| {
            let sizes = scope_sizes(total, scopes);
            assert_eq!(sizes.len(), scopes.max(1));
            assert_eq!(sizes.iter().sum::<usize>(), total, "{total}/{scopes}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
            assert_eq!(
                (sizes[0], sizes[sizes.len() - 1]),
                (first, last),
                "{sizes:?}"
            );
        };
        // 100 spare over 2 scopes: weights 1 and 1/2 of H2 = 1.5.
        check(200, 2, 117, 83);
        check(1000, 1, 1000, 1000);
        // Too small for the floor: the floor shrinks to fit.
        check(120, 4, 30, 30);
        check(130, 4, 34, 32);
        check(100_000, 20, 27_577, 1_425);
    }

    #[test]
    fn a_run_without_the_zero_latency_model_says_how_to_measure_the_ingest() {
        let report = json!({
            "relations": 600,
            "search_depth": {},
            "ingest": {"adds": 0, "relations_per_s": null, "not_measured": INGEST_NOT_MEASURED},
        });
        let md = markdown(&report);
        assert!(
            md.contains("## Ingest\n\ningest not measured")
                && md.contains("--features scripted-llm --bin eval -- scale"),
            "{md}"
        );
    }

    #[test]
    fn store_size_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(dir_size(dir.path()), 15);
        assert!(peak_rss_mb().is_some_and(|mb| mb > 0.0));
    }
}
