//! `GET /metrics`: Prometheus text with requests by route template (never a raw path),
//! latency histograms, LLM calls and tokens summed from adds, episodes by status and
//! store sizes.

use std::collections::BTreeMap;
use std::time::Duration;

use mnemo_server::{AppState, METRICS_CONTENT_TYPE};
use mnemo_testkit::scripted_llm::Reply as LlmReply;
use serde_json::json;

use crate::{app_with_llm, fresh_user, request, send};

/// Every sample of the exposition as `name{labels}` → value; checks each line's syntax.
/// Labels come sorted by name (`le` last), as the `prometheus` crate writes them.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        assert!(
            series.starts_with("mnemo_") && (series.ends_with('}') || !series.contains('{')),
            "bad series {line:?}"
        );
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "repeated {line:?}"
        );
    }
    samples
}

async fn scrape(state: &AppState) -> (String, BTreeMap<String, f64>) {
    let reply = send(state, request("GET", "/metrics")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], METRICS_CONTENT_TYPE);
    let samples = samples(&reply.text);
    (reply.text, samples)
}

#[tokio::test]
async fn requests_are_counted_by_route_template_method_and_status() {
    let app = app_with_llm().await;
    let user = fresh_user("alice");
    let missing = "0190c1a2-7f00-7000-8000-000000000000";
    app.get(&format!("/v1/memories/{missing}?user_id={user}"))
        .await;
    app.get(&format!("/v1/memories/{missing}?user_id={user}"))
        .await;
    app.get("/v1/memories").await;
    app.get("/healthz").await;
    app.get("/no/such/route/42").await;
    app.post("/healthz", json!({})).await;

    let (text, samples) = scrape(&app.state).await;
    assert!(!text.contains(missing), "raw paths never become labels");
    let expected = [
        (
            r#"mnemo_http_requests_total{method="GET",route="/v1/memories/{id}",status="404"}"#,
            2.0,
        ),
        (
            r#"mnemo_http_requests_total{method="GET",route="/v1/memories",status="422"}"#,
            1.0,
        ),
        (
            r#"mnemo_http_requests_total{method="GET",route="/healthz",status="200"}"#,
            1.0,
        ),
        (
            r#"mnemo_http_requests_total{method="POST",route="/healthz",status="405"}"#,
            1.0,
        ),
        (
            r#"mnemo_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"mnemo_http_request_duration_seconds_bucket{route="/v1/memories/{id}",le="+Inf"}"#,
            2.0,
        ),
        (
            r#"mnemo_http_request_duration_seconds_count{route="/v1/memories/{id}"}"#,
            2.0,
        ),
        (
            r#"mnemo_http_request_duration_seconds_count{route="/healthz"}"#,
            2.0,
        ),
        ("mnemo_llm_calls_total", 0.0),
        ("mnemo_background_tasks", 0.0),
        (r#"mnemo_episodes{status="pending"}"#, 0.0),
        (r#"mnemo_store_records{kind="entities"}"#, 0.0),
    ];
    for (series, value) in expected {
        assert_eq!(samples.get(series), Some(&value), "{series} in\n{text}");
    }
    // Buckets are cumulative and end at the count.
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(k, _)| {
            k.starts_with(r#"mnemo_http_request_duration_seconds_bucket{route="/healthz","#)
        })
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 15, "14 bounds and +Inf");
    let mut sorted = buckets.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted.last(), Some(&2.0));
}

#[tokio::test]
async fn llm_spending_and_store_sizes_are_exported() {
    let app = app_with_llm().await;
    let user = fresh_user("alice");
    let llm = app.llm();
    llm.on("extract_entities")
        .reply(LlmReply::json(json!({"entities": [{"name": "Alice", "type": "Person"}, {"name": "Oslo", "type": "City"}]})));
    llm.on("establish_relations")
        .reply(LlmReply::json(json!({"relations": [{
            "source": "Alice", "relation": "LIVES_IN", "target": "Oslo",
            "fact": "Alice lives in Oslo", "valid_from": null, "valid_to": null
        }]})));
    llm.on("extract_facts")
        .reply(LlmReply::json(json!({"facts": []})));
    let add = |wait: bool| {
        app.post(
            if wait { "/v1/memories" } else { "/v1/memories?wait=false" },
            json!({"messages": [{"role": "user", "content": "Alice lives in Oslo"}], "user_id": user}),
        )
    };
    assert_eq!(add(true).await.status, 200);
    assert_eq!(add(false).await.status, 202);
    assert_eq!(
        app.state.wait_for_background(Duration::from_secs(30)).await,
        0
    );
    let plain = app
        .post(
            "/v1/memories",
            json!({"messages": [{"role": "user", "content": "Oslo is cold"}], "user_id": user, "infer": false}),
        )
        .await;
    assert_eq!(plain.status, 200);

    let (text, samples) = scrape(&app.state).await;
    let usage = llm.usage();
    assert_eq!(usage.calls, 6, "two inferred adds, three calls each");
    let expected = [
        ("mnemo_llm_calls_total", usage.calls as f64),
        ("mnemo_llm_prompt_tokens_total", usage.prompt_tokens as f64),
        (
            "mnemo_llm_completion_tokens_total",
            usage.completion_tokens as f64,
        ),
        (r#"mnemo_episodes{status="done"}"#, 3.0),
        (r#"mnemo_episodes{status="pending"}"#, 0.0),
        (r#"mnemo_episodes{status="failed"}"#, 0.0),
        (r#"mnemo_store_records{kind="entities"}"#, 2.0),
        (r#"mnemo_store_records{kind="relations"}"#, 1.0),
        (r#"mnemo_store_records{kind="relation_vectors"}"#, 1.0),
        (r#"mnemo_store_records{kind="facts"}"#, 1.0),
        (
            r#"mnemo_http_requests_total{method="POST",route="/v1/memories",status="202"}"#,
            1.0,
        ),
        (
            r#"mnemo_http_requests_total{method="POST",route="/v1/memories",status="200"}"#,
            2.0,
        ),
    ];
    for (series, value) in expected {
        assert_eq!(samples.get(series), Some(&value), "{series} in\n{text}");
    }
}

#[tokio::test]
async fn metrics_answer_before_the_store_is_loaded() {
    let state = AppState::new();
    let (text, samples) = scrape(&state).await;
    assert_eq!(samples.get("mnemo_llm_calls_total"), Some(&0.0), "{text}");
    assert!(
        !text.contains("mnemo_store_records"),
        "no store, no sizes: {text}"
    );
}
