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
    store: Check,
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

pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let store = match state.store() {
        None => Check::Loading,
        Some(store) => {
            let pings = async {
                tokio::join!(
                    GraphRead::ping(&*store.graph),
                    VectorRead::ping(&*store.vectors)
                )
            };
            match tokio::time::timeout(PING_TIMEOUT, pings).await {
                Ok((Ok(()), Ok(()))) => Check::Ok,
                Ok((graph, vectors)) => {
                    if let Err(error) = graph {
                        tracing::warn!(%error, "readiness: graph store ping failed");
                    }
                    if let Err(error) = vectors {
                        tracing::warn!(%error, "readiness: vector store ping failed");
                    }
                    Check::Unavailable
                }
                Err(_) => {
                    tracing::warn!(
                        timeout_ms = PING_TIMEOUT.as_millis(),
                        "readiness: store ping timed out"
                    );
                    Check::Unavailable
                }
            }
        }
    };
    let embedder = match state.embedder() {
        Some(_) => Check::Ok,
        None => Check::Loading,
    };
    let ready = store == Check::Ok && embedder == Check::Ok;
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let body = Readiness {
        status: word,
        checks: Checks { store, embedder },
    };
    (status, Json(body))
}
