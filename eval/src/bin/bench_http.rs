//! Benchmark of `POST /v1/search` over HTTP on loopback: throughput and latency (p50,
//! p95, p99) seen by N concurrent keep-alive clients, with 100k relations stored.
//!
//! Run with `cargo run --release -p mnemo-eval --bin bench_http`. Prints numbers; it is
//! not a test. Flags: `--clients N` (default 8), `--seconds S` (default 60),
//! `--relations N` (default 100000), `--quick` (10k relations for 10 s, a smoke run),
//! `--heavy N` (default 0: N more clients each sending 1.9 MB search queries in a loop,
//! whatever the answer; the latency reported is still the ordinary clients'),
//! `--adders N` (default 0: N more clients each posting one-message `infer: false` adds to
//! the searched scope in a loop; their latency is reported apart, and any answer but 200
//! fails the run).
//!
//! The store is `mnemo_eval::synthetic`'s graph (as in `bench_search`), opened in a
//! temporary folder and served in-process by the real router (`mnemo_server::serve`) on
//! `127.0.0.1:0`, with the real embedder and tokenizer. The clients run on their own
//! single-threaded runtime and thread; each holds one keep-alive connection and sends the
//! next query as soon as the previous answer is read. Queries name people and companies of
//! the graph, so they hit. The first seconds are a warm-up and not counted. Any answer
//! other than 200 is an error, and the run fails if there is one.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mnemo_core::{Memory, MemoryParts, MemorySettings, Ontology, Scope};
use mnemo_embedded::EmbeddedStore;
use mnemo_eval::synthetic::build_scope;
use mnemo_eval::{seeded, summarize};
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};
use mnemo_server::AppState;
use serde::Deserialize;
use serde::de::IgnoredAny;

const LIMIT: usize = 10;
const TOKEN_BUDGET: usize = 400;
/// Distinct queries the clients cycle through.
const QUERIES: usize = 20_000;
const USER: &str = "bench";

struct Options {
    clients: usize,
    heavy: usize,
    adders: usize,
    seconds: u64,
    relations: usize,
}

impl Options {
    fn parse() -> anyhow::Result<Options> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let mut options = Options {
            clients: 8,
            heavy: 0,
            adders: 0,
            seconds: if quick { 10 } else { 60 },
            relations: if quick { 10_000 } else { 100_000 },
        };
        let value = |flag: &str| -> anyhow::Result<Option<u64>> {
            match args.iter().position(|a| a == flag) {
                None => Ok(None),
                Some(i) => Ok(Some(
                    args.get(i + 1)
                        .with_context(|| format!("{flag} needs a number"))?
                        .parse()
                        .with_context(|| format!("{flag} needs a number"))?,
                )),
            }
        };
        if let Some(n) = value("--clients")? {
            options.clients = n.max(1) as usize;
        }
        if let Some(n) = value("--heavy")? {
            options.heavy = n as usize;
        }
        if let Some(n) = value("--adders")? {
            options.adders = n as usize;
        }
        if let Some(s) = value("--seconds")? {
            options.seconds = s.max(1);
        }
        if let Some(n) = value("--relations")? {
            options.relations = n as usize;
        }
        for arg in &args {
            if arg.starts_with("--")
                && ![
                    "--quick",
                    "--clients",
                    "--seconds",
                    "--relations",
                    "--heavy",
                    "--adders",
                ]
                .contains(&arg.as_str())
            {
                bail!(
                    "unknown flag {arg}; flags: --clients N --seconds S --relations N --heavy N --adders N --quick"
                );
            }
        }
        Ok(options)
    }

    /// Not counted: the first tenth of the run, at most 5 s.
    fn warm_up(&self) -> Duration {
        (Duration::from_secs(self.seconds) / 10).min(Duration::from_secs(5))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    println!(
        "bench_http: POST /v1/search, {} relations, {} keep-alive clients, {} s \
         (warm-up {:.1} s not counted), limit {LIMIT}, token_budget {TOKEN_BUDGET}, \
         {} heavy clients ({HEAVY_QUERY_BYTES} B queries), {} adding clients",
        options.relations,
        options.clients,
        options.seconds,
        options.warm_up().as_secs_f64(),
        options.heavy,
        options.adders
    );
    mnemo_eval::print_load_average();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = EmbedConfig::repo_default(&repo);
    let embedder = Arc::new(FastEmbedder::load(&config)?);
    let tokens = Arc::new(TokenizerCounter::load(&config)?);

    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(dir.path(), mnemo_fastembed::DIMENSION)?;
    let scope = Scope::user(USER)?;
    let mut rng = seeded(0x5eed_4774);
    let started = Instant::now();
    let world = build_scope(&store, &scope, options.relations, &embedder, &mut rng).await?;
    println!(
        "store: {} entities, {} relations (max degree {}), {} facts, built in {:.1} s",
        world.entity_count,
        options.relations,
        world.max_degree,
        options.relations / 10,
        started.elapsed().as_secs_f64()
    );
    let queries: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..QUERIES)
            .map(|_| {
                serde_json::to_vec(&serde_json::json!({
                    "query": world.query(&mut rng),
                    "user_id": USER,
                    "limit": LIMIT,
                    "token_budget": TOKEN_BUDGET,
                }))
                .expect("a JSON body")
            })
            .collect(),
    );

    let state = AppState::new();
    state.set_store(Arc::new(store.clone()), Arc::new(store.clone()));
    state.set_embedder(embedder.clone());
    state.set_memory(Arc::new(Memory::new(MemoryParts {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store),
        embedder,
        tokens,
        llm: None,
        ontology: Ontology::builtin(),
        settings: MemorySettings::default(),
    })));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/search", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mnemo_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let load = {
        let url = url.clone();
        let queries = Arc::clone(&queries);
        let warm_up = options.warm_up();
        let run = Duration::from_secs(options.seconds);
        let clients = options.clients;
        let heavy = options.heavy;
        let adders = options.adders;
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("client runtime")?
                .block_on(async {
                    let heavy = tokio::spawn(heavy_load(url.clone(), heavy, run));
                    let adds = tokio::spawn(add_load(url.clone(), adders, warm_up, run));
                    let results = generate_load(url, queries, clients, warm_up, run).await;
                    let heavy = heavy.await?;
                    println!("heavy clients: {heavy}");
                    let adds = adds.await??;
                    Ok::<_, anyhow::Error>((results?, adds))
                })
        })
    };
    let (results, adds) = tokio::task::spawn_blocking(move || load.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
    let _ = stop.send(());
    server.await??;
    report_adds(&adds, options.adders)?;
    report(&results, &options)
}

/// `clients` connections posting one-message `infer: false` adds to the searched scope
/// until `run` is over; the latencies of those sent after `warm_up`. Fails on any answer
/// but 200.
async fn add_load(
    search_url: String,
    clients: usize,
    warm_up: Duration,
    run: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let url = search_url.replace("/v1/search", "/v1/memories");
    let start = Instant::now();
    let (measure_from, end) = (start + warm_up, start + run);
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let http = http_client()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()?;
            let mut latencies = Vec::new();
            let mut n = 0usize;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                n += 1;
                let body = serde_json::json!({
                    "user_id": USER,
                    "messages": [{"role": "user", "content": format!(
                        "Adder {client} note {n}: I met Dana Whitfield at the Harbor Cafe \
                         and we talked about the marathon in Lisbon."
                    )}],
                    "infer": false,
                });
                let response = http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&body)?)
                    .send()
                    .await?;
                let status = response.status();
                let text = response.text().await?;
                if !status.is_success() {
                    bail!("add answered {status}: {}", &text[..text.len().min(200)]);
                }
                if sent >= measure_from {
                    latencies.push(sent.elapsed());
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

fn report_adds(latencies: &[Duration], adders: usize) -> anyhow::Result<()> {
    if adders == 0 {
        return Ok(());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let summary = summarize(latencies).context("no add finished in the measured window")?;
    println!(
        "\n{adders} adding clients: {} infer:false adds, latency p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        latencies.len(),
        ms(summary.p50),
        ms(summary.p95),
        ms(summary.max)
    );
    Ok(())
}

/// Size of a heavy client's search query.
const HEAVY_QUERY_BYTES: usize = 1_900_000;

/// `clients` connections sending huge search queries until `run` is over; returns how
/// many answers came back, by status.
async fn heavy_load(url: String, clients: usize, run: Duration) -> String {
    let end = Instant::now() + run;
    let body = serde_json::to_vec(&serde_json::json!({
        "query": "where does anyone work ".repeat(HEAVY_QUERY_BYTES / 23),
        "user_id": USER,
    }))
    .expect("a JSON body");
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, body) = (url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let http = http_client().build().expect("an HTTP client");
            let mut statuses = std::collections::BTreeMap::<String, usize>::new();
            while Instant::now() < end {
                let status = match http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(response) => response.status().as_u16().to_string(),
                    Err(_) => "error".to_owned(),
                };
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        }));
    }
    let mut all = std::collections::BTreeMap::<String, usize>::new();
    for task in tasks {
        for (status, n) in task.await.unwrap_or_default() {
            *all.entry(status).or_default() += n;
        }
    }
    format!("{clients} clients, answers by status {all:?}")
}

/// What one client saw in the measured window.
#[derive(Default)]
struct ClientResults {
    latencies: Vec<Duration>,
    errors: usize,
    /// First error answers, for the report.
    error_samples: Vec<String>,
    /// Answers with at least one relation or fact.
    hits: usize,
    bytes: usize,
    elapsed: Duration,
}

#[derive(Deserialize)]
struct SearchAnswer {
    relations: Vec<IgnoredAny>,
    facts: Vec<IgnoredAny>,
}

async fn generate_load(
    url: String,
    queries: Arc<Vec<Vec<u8>>>,
    clients: usize,
    warm_up: Duration,
    run: Duration,
) -> anyhow::Result<Vec<ClientResults>> {
    let start = Instant::now();
    let measure_from = start + warm_up;
    let end = start + run;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let url = url.clone();
        let queries = Arc::clone(&queries);
        tasks.push(tokio::spawn(async move {
            // One connection per client, kept alive between requests.
            let http = http_client()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()?;
            let mut results = ClientResults::default();
            let mut next = client * (queries.len() / clients.max(1));
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let body = queries[next % queries.len()].clone();
                next += 1;
                let answer = http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await;
                let outcome = match answer {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(bytes) if status.is_success() => Ok(bytes),
                            Ok(bytes) => Err(format!(
                                "{status}: {}",
                                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                            )),
                            Err(err) => Err(format!("reading the body: {err}")),
                        }
                    }
                    Err(err) => Err(format!("request: {err}")),
                };
                let latency = sent.elapsed();
                if sent < measure_from {
                    continue;
                }
                match outcome {
                    Ok(bytes) => {
                        results.latencies.push(latency);
                        results.bytes += bytes.len();
                        match serde_json::from_slice::<SearchAnswer>(&bytes) {
                            Ok(answer) => {
                                if !answer.relations.is_empty() || !answer.facts.is_empty() {
                                    results.hits += 1;
                                }
                            }
                            Err(err) => {
                                results.errors += 1;
                                if results.error_samples.len() < 3 {
                                    results
                                        .error_samples
                                        .push(format!("not a search answer: {err}"));
                                }
                            }
                        }
                    }
                    Err(sample) => {
                        results.errors += 1;
                        if results.error_samples.len() < 3 {
                            results.error_samples.push(sample);
                        }
                    }
                }
            }
            results.elapsed = Instant::now().saturating_duration_since(measure_from);
            Ok::<_, anyhow::Error>(results)
        }));
    }
    let mut all = Vec::with_capacity(clients);
    for task in tasks {
        all.push(task.await??);
    }
    Ok(all)
}

fn report(results: &[ClientResults], options: &Options) -> anyhow::Result<()> {
    let latencies: Vec<Duration> = results
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    let errors: usize = results.iter().map(|r| r.errors).sum();
    let hits: usize = results.iter().map(|r| r.hits).sum();
    let bytes: usize = results.iter().map(|r| r.bytes).sum();
    let window = results
        .iter()
        .map(|r| r.elapsed)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let ok = latencies.len();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n{} clients, {:.1} s measured: {} answers, {:.0} requests/s, {:.1} % with results, \
         {:.1} KiB per answer",
        options.clients,
        window,
        ok + errors,
        (ok + errors) as f64 / window.max(1e-9),
        100.0 * hits as f64 / ok.max(1) as f64,
        bytes as f64 / ok.max(1) as f64 / 1024.0
    );
    if let Some(summary) = summarize(&latencies) {
        let mut sorted = latencies.clone();
        sorted.sort();
        let p99 = sorted[((0.99 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        println!(
            "latency: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(summary.p50),
            ms(summary.p95),
            ms(p99),
            ms(summary.max)
        );
    }
    println!("errors: {errors}");
    for sample in results.iter().flat_map(|r| &r.error_samples).take(5) {
        println!("  {sample}");
    }
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    if ok == 0 {
        bail!("no request finished in the measured window");
    }
    Ok(())
}

/// A client for plain `http://` on loopback. reqwest is built with `rustls-no-provider`,
/// so even a client that never speaks TLS gets the one TLS setup (`mnemo_llm::tls`).
fn http_client() -> reqwest::ClientBuilder {
    let tls = mnemo_llm::tls::client_config(false).expect("TLS setup for plain HTTP");
    reqwest::Client::builder().tls_backend_preconfigured(tls)
}
