//! `GET /healthz` (the process is up) and `GET /readyz` (the store answers and the
//! embedder is loaded), for load balancers and orchestrators.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mnemo_core::ports::{GraphRead, VectorRead};
use serde::Serialize;

use crate::AppState;

/// How long `/readyz` waits for the store to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
}

pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
pub(crate) struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    /// The graph half of the backend (SQLite on the embedded store, Neo4j at scale).
    graph_store: Check,
    /// The vector half (the same SQLite file, or Qdrant).
    vector_store: Check,
    embedder: Check,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Check {
    Ok,
    /// Still being opened or loaded at start-up.
    Loading,
    /// Loaded, but failed its check just now (the cause is logged).
    Unavailable,
}

/// One dependency's ping, bounded by [`PING_TIMEOUT`]; failures are logged with `what`.
async fn ping(
    what: &'static str,
    ping: impl std::future::Future<Output = Result<(), mnemo_core::StoreError>>,
) -> Check {
    match tokio::time::timeout(PING_TIMEOUT, ping).await {
        Ok(Ok(())) => Check::Ok,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: {what} ping failed");
            Check::Unavailable
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = PING_TIMEOUT.as_millis(),
                "readiness: {what} ping timed out"
            );
            Check::Unavailable
        }
    }
}

pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (graph_store, vector_store) = match state.store() {
        None => (Check::Loading, Check::Loading),
        Some(store) => {
            tokio::join!(
                ping("graph store", GraphRead::ping(&*store.graph)),
                ping("vector store", VectorRead::ping(&*store.vectors))
            )
        }
    };
    let embedder = match state.embedder() {
        Some(_) => Check::Ok,
        None => Check::Loading,
    };
    let ready = [graph_store, vector_store, embedder]
        .iter()
        .all(|check| *check == Check::Ok);
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let body = Readiness {
        status: word,
        checks: Checks {
            graph_store,
            vector_store,
            embedder,
        },
    };
    (status, Json(body))
}
