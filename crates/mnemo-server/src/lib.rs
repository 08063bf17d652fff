//! mnemo's HTTP layer (axum): the router, its handlers and the one place errors become
//! HTTP responses. It translates between HTTP and the core; it holds no domain logic.

mod api;
mod auth;
mod background;
mod error;
mod extract;
mod health;
mod limits;
mod listen;
mod mcp;
mod metrics;
mod openapi;
mod request_id;
mod state;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use tokio::net::TcpListener;

pub use auth::{API_KEY_HEADER, ApiKeyBinding, ServerSettings};
pub use error::ApiError;
pub use limits::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_SEARCH_BODY_BYTES, MAX_URI_BYTES};
pub use metrics::METRICS_CONTENT_TYPE;
pub use openapi::openapi_json;
pub use request_id::REQUEST_ID_HEADER;
pub use state::{AppState, Services};

/// How long [`serve`] waits, after the last request was answered, for background work
/// (episodes of `wait=false` adds, summary refreshes) before returning.
pub const BACKGROUND_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Every route of the service, with the request-id and metrics middleware, the body limit
/// and the JSON 404/405 fallbacks. Needs no socket, so tests drive it with
/// `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings().body_limit_bytes;
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::serve_openapi))
        .merge(api::routes())
        .merge(mcp::routes(state.clone()))
        // Applies to the routes above, so it must come after them.
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::route_not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::check_request_head,
        ))
        // Per route (after matching), so it sees the route template.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));
    request_id::around(routes).with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then stops accepting
/// connections, returns once the requests in flight have been answered and background
/// work has finished (at most [`BACKGROUND_DRAIN_TIMEOUT`]; episodes still running then
/// stay `pending` in the journal and resume at the next start).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let keys = state.settings().api_keys.len();
    if keys == 0 {
        tracing::warn!(
            "no API keys configured (auth.api_keys): the service is open to every client and every scope"
        );
    } else {
        tracing::info!(keys, "API keys required on /v1");
    }
    let shutdown = async move {
        shutdown.await;
        tracing::info!("no longer accepting connections; finishing requests in flight");
    };
    let read_timeout = state.settings().read_timeout;
    listen::serve_connections(listener, router(state.clone()), read_timeout, shutdown).await?;
    let running = state.background_tasks();
    if running > 0 {
        tracing::info!(running, "waiting for background work");
        let left = state.wait_for_background(BACKGROUND_DRAIN_TIMEOUT).await;
        if left > 0 {
            tracing::warn!(
                left,
                "background work still running; its episodes stay pending and resume at the next start"
            );
        }
    }
    Ok(())
}
