//! `/healthz` answers whenever the process runs; `/readyz` only once the store and the
//! embedder are both in place.

use std::sync::Arc;

use mnemo_server::AppState;
use serde_json::json;

use crate::{embedder, ready_state, request, send, store};

#[tokio::test]
async fn healthz_answers_before_anything_is_loaded() {
    for state in [AppState::new(), ready_state().1] {
        let reply = send(&state, request("GET", "/healthz")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, json!({"status": "ok"}));
    }
}

#[track_caller]
fn readyz_expectation(store: &str, embedder: &str) -> serde_json::Value {
    let status = if store == "ok" && embedder == "ok" {
        "ready"
    } else {
        "not_ready"
    };
    json!({
        "status": status,
        "checks": {"graph_store": store, "vector_store": store, "embedder": embedder}
    })
}

async fn check_readyz(state: &AppState, status: u16, store: &str, embedder: &str) {
    let reply = send(state, request("GET", "/readyz")).await;
    assert_eq!(
        (reply.status.as_u16(), &reply.body),
        (status, &readyz_expectation(store, embedder))
    );
}

#[tokio::test]
async fn readyz_reports_each_component() {
    let (_dir, graph, vectors) = store();

    let nothing = AppState::new();
    check_readyz(&nothing, 503, "loading", "loading").await;

    let store_only = AppState::new();
    assert!(store_only.set_store(Arc::clone(&graph), Arc::clone(&vectors)));
    check_readyz(&store_only, 503, "ok", "loading").await;

    let embedder_only = AppState::new();
    assert!(embedder_only.set_embedder(embedder()));
    check_readyz(&embedder_only, 503, "loading", "ok").await;

    // Filling the last slot of a shared state makes every clone ready.
    let clone = store_only.clone();
    assert!(store_only.set_embedder(embedder()));
    check_readyz(&clone, 200, "ok", "ok").await;

    let (_dir, ready) = ready_state();
    check_readyz(&ready, 200, "ok", "ok").await;
}

#[tokio::test]
async fn slots_are_filled_once() {
    let (_dir, graph, vectors) = store();
    let state = AppState::new();
    assert!(state.set_store(Arc::clone(&graph), Arc::clone(&vectors)));
    assert!(!state.set_store(graph, vectors));
    assert!(state.set_embedder(embedder()));
    assert!(!state.set_embedder(embedder()));
}

#[tokio::test]
async fn services_wait_for_both_components() {
    let state = AppState::new();
    assert!(matches!(
        state.services(),
        Err(mnemo_server::ApiError::NotReady)
    ));
    let (_dir, graph, vectors) = store();
    state.set_store(graph, vectors);
    assert!(state.services().is_err());
    state.set_embedder(embedder());
    let services = state.services().expect("ready");
    assert_eq!(services.embedder.dimension(), 384);
    services.graph.ping().await.expect("store answers");
}
