//! Operations over HTTP: `/v1` answers 503 `not_ready` (never anything else) until the
//! store and embedder are loaded; `/openapi.json` documents every `/v1` route; `/metrics`
//! counts requests by route template (never the raw path), method and status.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::{Api, add_body, fresh_user, send};
use crate::{PATIENCE, Server};

/// Every `/v1` route of DESIGN §6 and its methods.
const ROUTES: &[(&str, &[&str])] = &[
    ("/v1/memories", &["get", "post", "delete"]),
    ("/v1/memories/{id}", &["get", "put", "delete"]),
    ("/v1/memories/{id}/history", &["get"]),
    ("/v1/relations", &["post"]),
    ("/v1/search", &["post"]),
    ("/v1/graph/subgraph", &["get"]),
    ("/v1/graph/relations", &["get"]),
    ("/v1/graph/entities", &["get"]),
    ("/v1/graph/entities/{id}", &["get"]),
    ("/v1/graph/changes", &["get"]),
    ("/v1/episodes/{id}", &["get", "delete"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_is_not_ready_until_loaded_and_never_anything_else() {
    let server = tokio::task::block_in_place(|| Server::start(&[]));
    let client = super::client();
    let url = format!("http://{}/v1/search", server.addr);
    let body = json!({"query": "tea", "user_id": "alice"});
    let deadline = Instant::now() + PATIENCE;
    let mut not_ready = 0;
    loop {
        let reply = send(client.post(&url).json(&body)).await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.error(), (503, "not_ready".into()), "{}", reply.text);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(!message.contains(".deps"), "names a path: {message}");
        not_ready += 1;
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Loading takes about a second, so the first requests usually saw `not_ready`; a
    // faster machine may not, which is fine.
    println!("{not_ready} requests answered not_ready during start-up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_metrics_count_requests() {
    let api = Api::start(&[]).await;
    let reply = api.get("/openapi.json", &[]).await;
    let doc = reply.ok();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "OpenAPI 3: {version:?}");
    let paths = doc["paths"].as_object().expect("paths");
    for (route, methods) in ROUTES {
        let item = paths
            .get(*route)
            .unwrap_or_else(|| panic!("{route} is not documented; paths: {:?}", paths.keys()));
        for method in *methods {
            assert!(
                item.get(*method).is_some(),
                "{method} {route} is not documented"
            );
        }
    }
    for path in paths.keys().filter(|p| p.starts_with("/v1")) {
        assert!(
            ROUTES.iter().any(|(route, _)| route == path),
            "{path} is documented but not in DESIGN §6"
        );
    }

    // Some traffic: 3 searches, 2 adds, a fact read by id, a 404 and a 422.
    let user = fresh_user("alice");
    for _ in 0..3 {
        api.post("/v1/search", &json!({"query": "tea", "user_id": user}))
            .await
            .ok();
    }
    let mut fact = String::new();
    for say in ["I like tea", "I like green tea"] {
        let reply = api
            .post(
                "/v1/memories",
                &add_body(&user, say, json!({"infer": false})),
            )
            .await;
        fact = reply.ok()["facts"]["added"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    api.get(&format!("/v1/memories/{fact}"), &[("user_id", &user)])
        .await
        .ok();
    let reply = api
        .get(
            "/v1/graph/subgraph",
            &[("user_id", &user), ("entity", "nobody")],
        )
        .await;
    assert_eq!(reply.status, 404);
    let reply = api.post("/v1/search", &json!({"query": "tea"})).await;
    assert_eq!(reply.status, 422);

    let reply = send(api.request(Method::GET, "/metrics")).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/plain"),
        "Prometheus text: {:?}",
        reply.content_type
    );
    let metrics = reply.text;
    let requests = |route: &str, method: &str, status: &str| {
        samples(&metrics, "mnemo_http_requests_total")
            .into_iter()
            .filter(|(labels, _)| {
                labels.get("route").map(String::as_str) == Some(route)
                    && labels.get("method").map(String::as_str) == Some(method)
                    && labels.get("status").map(String::as_str) == Some(status)
            })
            .map(|(_, value)| value)
            .sum::<f64>()
    };
    assert_eq!(requests("/v1/search", "POST", "200"), 3.0, "{metrics}");
    assert_eq!(requests("/v1/search", "POST", "422"), 1.0, "{metrics}");
    assert_eq!(requests("/v1/memories", "POST", "200"), 2.0, "{metrics}");
    assert_eq!(
        requests("/v1/memories/{id}", "GET", "200"),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        requests("/v1/graph/subgraph", "GET", "404"),
        1.0,
        "{metrics}"
    );
    assert!(
        !metrics.contains(&fact),
        "a raw path (with an id) became a label:\n{metrics}"
    );
    assert!(
        metrics.contains("# TYPE mnemo_http_requests_total counter"),
        "{metrics}"
    );
    assert!(
        !samples(&metrics, "mnemo_http_request_duration_seconds_count").is_empty(),
        "a latency histogram:\n{metrics}"
    );
    // Store sizes at scrape time: two facts so far.
    let facts: f64 = samples(&metrics, "mnemo_store_records")
        .into_iter()
        .filter(|(labels, _)| labels.get("kind").map(String::as_str) == Some("facts"))
        .map(|(_, value)| value)
        .sum();
    assert_eq!(facts, 2.0, "{metrics}");
}

/// The samples of one metric: labels and value.
fn samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => {
                    // Label values may hold braces (`/v1/memories/{id}`): the last one ends.
                    let (labels, value) = rest.rsplit_once('}')?;
                    (labels, value)
                }
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.trim().to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect();
            let value = value.split_whitespace().next()?.parse().ok()?;
            Some((labels, value))
        })
        .collect()
}
