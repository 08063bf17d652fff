//! mnemo's HTTP layer (axum): the router, its handlers and the one place errors become
//! HTTP responses. It translates between HTTP and the core; it holds no domain logic.

mod error;
mod health;
mod request_id;
mod state;

use std::future::Future;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use request_id::REQUEST_ID_HEADER;
pub use state::{AppState, Services};

/// Every route of the service, with the request-id middleware and the JSON 404/405
/// fallbacks. Needs no socket, so tests drive it with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Applies to the routes above, so it must come after them.
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::route_not_found)
        .layer(middleware::from_fn(request_id::request_id))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then stops accepting
/// connections and returns once the requests in flight have been answered.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = async move {
        shutdown.await;
        tracing::info!("no longer accepting connections; finishing requests in flight");
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
