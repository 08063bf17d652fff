//! `GET /metrics`: Prometheus text format 0.0.4, written by hand. HTTP requests by route
//! template (never the raw path, so ids do not explode the label set), method and status;
//! latency histograms by route; LLM calls and tokens summed from add outcomes; episodes by
//! status, store sizes and skipped undecodable records read from the store at scrape
//! time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mnemo_core::LlmUsage;
use mnemo_core::ports::{GraphRead, VectorRead};

use crate::AppState;

/// The content type of the text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `route` label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How long a scrape waits for the store's counts.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct Metrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    llm_calls: AtomicU64,
    llm_prompt_tokens: AtomicU64,
    llm_completion_tokens: AtomicU64,
}

#[derive(Default)]
struct RouteStats {
    responses: BTreeMap<(Method, u16), u64>,
    /// Non-cumulative counts per bucket of [`BUCKETS`]; slower ones only in `count`.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Metrics {
    fn observe(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_owned()).or_default(),
        };
        *stats
            .responses
            .entry((method.clone(), status.as_u16()))
            .or_default() += 1;
        if let Some(bucket) = BUCKETS.iter().position(|le| seconds <= *le) {
            stats.buckets[bucket] += 1;
        }
        stats.count += 1;
        stats.sum_seconds += seconds;
    }

    pub(crate) fn llm_usage(&self, usage: LlmUsage) {
        self.llm_calls
            .fetch_add(u64::from(usage.calls), Ordering::Relaxed);
        self.llm_prompt_tokens
            .fetch_add(usage.prompt_tokens, Ordering::Relaxed);
        self.llm_completion_tokens
            .fetch_add(usage.completion_tokens, Ordering::Relaxed);
    }

    fn render_http(&self, out: &mut String) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        describe(
            out,
            "mnemo_http_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status.",
        );
        for (route, stats) in routes.iter() {
            for ((method, status), n) in &stats.responses {
                let _ = writeln!(
                    out,
                    "mnemo_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape(route),
                    escape(method.as_str()),
                );
            }
        }
        describe(
            out,
            "mnemo_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request, by route template.",
        );
        for (route, stats) in routes.iter() {
            let route = escape(route);
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(stats.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "mnemo_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "mnemo_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 mnemo_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 mnemo_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                stats.count, stats.sum_seconds, stats.count
            );
        }
    }

    fn render_llm(&self, out: &mut String) {
        for (name, help, value) in [
            (
                "mnemo_llm_calls_total",
                "LLM calls made by adds.",
                &self.llm_calls,
            ),
            (
                "mnemo_llm_prompt_tokens_total",
                "Prompt tokens spent by adds.",
                &self.llm_prompt_tokens,
            ),
            (
                "mnemo_llm_completion_tokens_total",
                "Completion tokens spent by adds.",
                &self.llm_completion_tokens,
            ),
        ] {
            describe(out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
    }
}

fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: counts and times every response under its route template.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // A clone of the matched path shares its text; nothing is allocated per request.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().observe(
        route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
        &method,
        response.status(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(4096);
    state.metrics().render_http(&mut out);
    state.metrics().render_llm(&mut out);
    describe(
        &mut out,
        "mnemo_background_tasks",
        "gauge",
        "Background tasks running (wait=false episodes, summary refreshes).",
    );
    let _ = writeln!(out, "mnemo_background_tasks {}", state.background_tasks());
    if let Some(store) = state.store() {
        let counts = async {
            tokio::join!(
                GraphRead::counts(&*store.graph),
                VectorRead::counts(&*store.vectors)
            )
        };
        match tokio::time::timeout(COUNTS_TIMEOUT, counts).await {
            Ok((Ok(graph), Ok(vectors))) => {
                describe(
                    &mut out,
                    "mnemo_episodes",
                    "gauge",
                    "Episodes in the journal, by status.",
                );
                for (status, n) in [
                    ("pending", graph.episodes_pending),
                    ("done", graph.episodes_done),
                    ("failed", graph.episodes_failed),
                ] {
                    let _ = writeln!(out, "mnemo_episodes{{status=\"{status}\"}} {n}");
                }
                describe(
                    &mut out,
                    "mnemo_store_records",
                    "gauge",
                    "Records in the store, by kind.",
                );
                for (kind, n) in [
                    ("entities", graph.entities),
                    ("relations", graph.relations),
                    ("relation_vectors", vectors.relation_vectors),
                    ("facts", vectors.facts),
                ] {
                    let _ = writeln!(out, "mnemo_store_records{{kind=\"{kind}\"}} {n}");
                }
                describe(
                    &mut out,
                    "mnemo_store_corrupt_records_skipped_total",
                    "counter",
                    "Undecodable stored records that reads skipped (logged with their id) since \
                     the store was opened, by store half; `mnemo check` lists them per scope.",
                );
                for (store, n) in [
                    ("graph", graph.corrupt_skipped),
                    ("vector", vectors.corrupt_skipped),
                ] {
                    let _ = writeln!(
                        out,
                        "mnemo_store_corrupt_records_skipped_total{{store=\"{store}\"}} {n}"
                    );
                }
            }
            Ok((graph, vectors)) => {
                for error in [graph.err(), vectors.err()].into_iter().flatten() {
                    tracing::warn!(%error, "metrics: store counts failed");
                }
            }
            Err(_) => tracing::warn!(
                timeout_ms = COUNTS_TIMEOUT.as_millis() as u64,
                "metrics: store counts timed out"
            ),
        }
    }
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], out).into_response()
}
