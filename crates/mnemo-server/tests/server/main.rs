//! The HTTP layer against real parts: the router driven in-process with `oneshot`, and
//! `serve` over a real socket, on a real embedded store in a temporary folder and the real
//! embedder from `.deps` (installed by `make setup`).

mod errors;
mod health;
mod request_id;
mod serve;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use mnemo_core::ports::{Embedder, GraphWrite, VectorWrite};
use mnemo_embed::{EmbedConfig, FastEmbedder};
use mnemo_embedded::EmbeddedStore;
use mnemo_server::{AppState, router};
use tempfile::TempDir;
use tower::ServiceExt as _;

/// The embedder, loaded once per test binary (loading takes a while).
fn embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<FastEmbedder> = OnceLock::new();
    let embedder = EMBEDDER.get_or_init(|| {
        let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        FastEmbedder::load(&EmbedConfig::repo_default(&repo_root))
            .unwrap_or_else(|err| panic!("{err} (the tests need `make setup`)"))
    });
    Arc::new(embedder.clone())
}

/// A real embedded store in a fresh temporary folder (kept alive by the returned guard).
fn store() -> (TempDir, Arc<dyn GraphWrite>, Arc<dyn VectorWrite>) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let dimension = mnemo_embed::DIMENSION;
    let store = EmbeddedStore::open(dir.path(), dimension).expect("embedded store opens");
    (dir, Arc::new(store.clone()), Arc::new(store))
}

/// A state with the store and the embedder loaded.
fn ready_state() -> (TempDir, AppState) {
    let (dir, graph, vectors) = store();
    (dir, AppState::ready(graph, vectors, embedder()))
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: serde_json::Value,
}

/// Sends one request through the router, in-process.
async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
        panic!(
            "body is not JSON ({err}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Reply {
        status,
        headers,
        body,
    }
}

fn request(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("valid request")
}
