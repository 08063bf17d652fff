//! `POST /v1/search`: the read path. The relevant relations, facts and subgraph for a
//! query, fused and ranked, at any point of event time and transaction time, with a
//! ready-to-inject `context` text.

use axum::Json;
use axum::extract::State;
use mnemo_api::{SearchBody, SearchOut};

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// Search the scope's memory.
///
/// Embeds the query once and runs three retrievers (the walk from the entities it names,
/// the nearest relations, the nearest facts), fused by reciprocal rank and cut to `limit`
/// and `token_budget`. No LLM call unless `query_entities` is `llm`.
#[utoipa::path(
    post,
    path = "/v1/search",
    operation_id = "search",
    tag = "search",
    request_body = SearchBody,
    responses((status = 200, description = "The results", body = SearchOut))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<SearchOut>, ApiError> {
    let scope = caller.scope(
        body.user_id.clone(),
        body.agent_id.clone(),
        body.run_id.clone(),
    )?;
    let request = body.into_request(scope);
    let result = state.memory()?.search(request).await?;
    Ok(Json(result.into()))
}
