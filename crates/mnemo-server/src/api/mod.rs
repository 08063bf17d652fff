//! The `/v1` API (DESIGN §6), one module per resource. Handlers are thin: extract (our
//! extractors answer bad input in our error shape), authorize the scope, call one
//! `Memory` method, map its result to the wire types of `mnemo_api`.

pub(crate) mod episodes;
pub(crate) mod graph;
pub(crate) mod memories;
pub(crate) mod relations;
pub(crate) mod search;

use axum::Router;
use axum::routing::{get, post};
use mnemo_core::ports::Page;

use crate::{ApiError, AppState};

/// Every `/v1` route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/memories",
            post(memories::add)
                .get(memories::list)
                .delete(memories::erase),
        )
        .route(
            "/v1/memories/{id}",
            get(memories::get)
                .put(memories::update)
                .delete(memories::delete),
        )
        .route("/v1/memories/{id}/history", get(memories::history))
        .route("/v1/relations", post(relations::add))
        .route("/v1/search", post(search::search))
        .route("/v1/graph/subgraph", get(graph::subgraph))
        .route("/v1/graph/relations", get(graph::relations_of))
        .route("/v1/graph/entities", get(graph::entities))
        .route("/v1/graph/entities/{id}", get(graph::entity))
        .route("/v1/graph/changes", get(graph::changes))
        .route(
            "/v1/episodes/{id}",
            get(episodes::get).delete(episodes::delete),
        )
}

// The page bounds are core's, which the document states too.
use mnemo_core::manage::{DEFAULT_PAGE, MAX_OFFSET, MAX_PAGE};

/// `limit` (default 100, 1 to 1000) and `offset` (default 0).
pub(crate) fn page(limit: Option<usize>, offset: Option<usize>) -> Result<Page, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    let offset = offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ApiError::InvalidRequest(format!(
            "offset must be at most {MAX_OFFSET}, got {offset}"
        )));
    }
    Ok(Page { limit, offset })
}
