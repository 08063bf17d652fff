//! `GET /metrics`: Prometheus text format 0.0.4, through the `prometheus` crate. HTTP
//! requests by route template (never the raw path, so ids do not explode the label set),
//! method and status; latency histograms by route; LLM calls and tokens summed from add
//! outcomes; episodes by status, store sizes and skipped undecodable records read from the
//! store at scrape time.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mnemo_core::LlmUsage;
use mnemo_core::ports::{GraphCounts, GraphRead, VectorCounts, VectorRead};
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

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

/// The metrics this process keeps (one registry per [`AppState`], so two states never
/// share counts).
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    llm_calls: IntCounter,
    llm_prompt_tokens: IntCounter,
    llm_completion_tokens: IntCounter,
    background_tasks: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            register(&registry, IntCounter::with_opts(Opts::new(name, help)))
        };
        Metrics {
            requests: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "mnemo_http_requests_total",
                        "HTTP requests answered, by route template, method and status.",
                    ),
                    &["route", "method", "status"],
                ),
            ),
            durations: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "mnemo_http_request_duration_seconds",
                        "Time to answer an HTTP request, by route template.",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &["route"],
                ),
            ),
            llm_calls: counter("mnemo_llm_calls_total", "LLM calls made by adds."),
            llm_prompt_tokens: counter(
                "mnemo_llm_prompt_tokens_total",
                "Prompt tokens spent by adds.",
            ),
            llm_completion_tokens: counter(
                "mnemo_llm_completion_tokens_total",
                "Completion tokens spent by adds.",
            ),
            background_tasks: register(
                &registry,
                IntGauge::new(
                    "mnemo_background_tasks",
                    "Background tasks running (wait=false episodes, summary refreshes).",
                ),
            ),
            registry,
        }
    }
}

/// `metric`, registered in `registry`. The definitions are constants, so a failure is a bug.
fn register<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("a valid metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Metrics {
    fn observe(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, method.as_str(), status.as_str()])
            .inc();
        self.durations
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn llm_usage(&self, usage: LlmUsage) {
        self.llm_calls.inc_by(u64::from(usage.calls));
        self.llm_prompt_tokens.inc_by(usage.prompt_tokens);
        self.llm_completion_tokens.inc_by(usage.completion_tokens);
    }
}

/// The store's sizes as metric families, read fresh at each scrape.
fn store_families(graph: &GraphCounts, vectors: &VectorCounts) -> Vec<MetricFamily> {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, label: &str, values: &[(&str, u64)]| {
        let family = register(&registry, IntGaugeVec::new(Opts::new(name, help), &[label]));
        for (value, n) in values {
            family
                .with_label_values(&[*value])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    };
    gauge(
        "mnemo_episodes",
        "Episodes in the journal, by status.",
        "status",
        &[
            ("pending", graph.episodes_pending),
            ("done", graph.episodes_done),
            ("failed", graph.episodes_failed),
        ],
    );
    gauge(
        "mnemo_store_records",
        "Records in the store, by kind.",
        "kind",
        &[
            ("entities", graph.entities),
            ("relations", graph.relations),
            ("relation_vectors", vectors.relation_vectors),
            ("facts", vectors.facts),
        ],
    );
    // A counter kept by the store since it was opened; this registry lives for one
    // scrape, so adding the store's total to zero exports it as it is.
    let skipped = register(
        &registry,
        IntCounterVec::new(
            Opts::new(
                "mnemo_store_corrupt_records_skipped_total",
                "Undecodable stored records that reads skipped (logged with their id) since \
                 the store was opened, by store half; `mnemo check` lists them per scope.",
            ),
            &["store"],
        ),
    );
    for (store, n) in [
        ("graph", graph.corrupt_skipped),
        ("vector", vectors.corrupt_skipped),
    ] {
        skipped.with_label_values(&[store]).inc_by(n);
    }
    registry.gather()
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
    let metrics = state.metrics();
    metrics
        .background_tasks
        .set(i64::try_from(state.background_tasks()).unwrap_or(i64::MAX));
    let mut families = metrics.registry.gather();
    if let Some(store) = state.store() {
        let counts = async {
            tokio::join!(
                GraphRead::counts(&*store.graph),
                VectorRead::counts(&*store.vectors)
            )
        };
        match tokio::time::timeout(COUNTS_TIMEOUT, counts).await {
            Ok((Ok(graph), Ok(vectors))) => families.extend(store_families(&graph, &vectors)),
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
    match TextEncoder::new().encode_to_string(&families) {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(error) => crate::ApiError::Internal(format!("metrics: {error}")).into_response(),
    }
}
