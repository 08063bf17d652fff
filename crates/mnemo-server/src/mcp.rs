//! `/mcp`: mnemo's MCP tools (mnemo-mcp) over streamable HTTP, behind the same API keys as
//! `/v1`. The auth layer turns the caller's key into a `mnemo_mcp::Binding` in the
//! request's extensions, which every tool checks its scope against (401 here for a missing
//! or unknown key; a call outside the binding is a `forbidden` tool error).
//!
//! Stateless and answering plain JSON (no session, no long-lived event stream), so the
//! server's graceful shutdown never waits on an idle MCP client.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::AppState;
use crate::auth::Caller;

/// The `/mcp` route.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let tools_state = state.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None);
    let service = StreamableHttpService::new(
        move || {
            // A connection before the memory is built is refused, like `/v1` (not ready).
            let memory = tools_state
                .memory()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(mnemo_mcp::MemoryTools::new(memory, None))
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(state, authenticate))
}

/// Checks the API key as `/v1` does and hands the tools the key's binding.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    parts.extensions.insert(caller.binding());
    next.run(Request::from_parts(parts, body)).await
}
