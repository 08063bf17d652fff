//! `/v1/memories`: adding conversation turns (the write path, waited for or in the
//! background), the scope's plain facts by id (read, edit, delete, history), and the hard
//! erasure of a whole scope.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mnemo_api::{
    Accepted, AddBody, AddQuery, AddResult, Deleted, FactEditBody, FactEventOut, FactOut, FactsOut,
    HistoryOut, PageQuery, ScopeQuery,
};
use mnemo_core::FactId;
use mnemo_core::write::Journaled;

use super::page;
use crate::auth::Caller;
use crate::extract::{JsonBody, PathId, QueryParams};
use crate::{ApiError, AppState};

/// Remember a conversation turn.
///
/// Journals the messages as an episode, extracts entities and relations (and facts),
/// resolves them against the scope and ends what they supersede. An LLM failure is not
/// an HTTP error: the result has `status: failed` and the reason.
#[utoipa::path(
    post,
    path = "/v1/memories",
    operation_id = "add_memories",
    tag = "memories",
    params(AddQuery),
    request_body = AddBody,
    responses(
        (status = 200, description = "Processed (`wait=true`)", body = AddResult),
        (status = 202, description = "Journaled, processing in the background (`wait=false`)", body = Accepted),
    )
)]
pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<AddQuery>,
    JsonBody(body): JsonBody<AddBody>,
) -> Result<Response, ApiError> {
    let scope = caller.scope(
        body.user_id.clone(),
        body.agent_id.clone(),
        body.run_id.clone(),
    )?;
    let memory = state.memory()?;
    let request = body.into_request(scope.clone(), true);
    let infer = request.infer;
    if query.wait.unwrap_or(true) {
        let adder = memory.clone();
        let outcome = state
            .run_add(
                scope,
                infer,
                memory,
                async move { adder.add(request).await },
            )
            .await?;
        return Ok(Json(AddResult::from(outcome)).into_response());
    }
    let accepted = match memory.journal(request).await? {
        Journaled::New(episode) => {
            let accepted = Accepted::of(&episode, false);
            state.process_in_background(memory, episode, infer);
            accepted
        }
        Journaled::Duplicate(episode) => Accepted::of(&episode, true),
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// The scope's facts, newest first.
#[utoipa::path(
    get,
    path = "/v1/memories",
    operation_id = "list_facts",
    tag = "memories",
    params(PageQuery),
    responses((status = 200, description = "A page of facts", body = FactsOut))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<FactsOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let page = page(query.limit, query.offset)?;
    let facts = state.memory()?.facts(&scope, page).await?;
    Ok(Json(FactsOut {
        facts: facts.into_iter().map(FactOut::from).collect(),
    }))
}

/// Erase everything of a scope.
///
/// Hard-deletes the scope's graph, episodes, vectors, facts and fact history (for
/// erasure requests). Other scopes, even overlapping ones, are untouched.
#[utoipa::path(
    delete,
    path = "/v1/memories",
    operation_id = "erase_scope",
    tag = "memories",
    params(ScopeQuery),
    responses((status = 200, description = "Erased", body = Deleted))
)]
pub(crate) async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
) -> Result<Json<Deleted>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    state.memory()?.erase_scope(&scope).await?;
    Ok(Json(Deleted {
        id: None,
        deleted: true,
    }))
}

/// One fact.
#[utoipa::path(
    get,
    path = "/v1/memories/{id}",
    operation_id = "get_fact",
    tag = "memories",
    params(("id" = String, Path, description = "The fact's id", format = "uuid"), ScopeQuery),
    responses((status = 200, description = "The fact", body = FactOut))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
    PathId(id): PathId<FactId>,
) -> Result<Json<FactOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let fact = state.memory()?.fact(&scope, id).await?;
    Ok(Json(fact.into()))
}

/// Edit a fact.
///
/// Replaces the text (and optionally the metadata) and records an `UPDATE` event.
#[utoipa::path(
    put,
    path = "/v1/memories/{id}",
    operation_id = "update_fact",
    tag = "memories",
    params(("id" = String, Path, description = "The fact's id", format = "uuid")),
    request_body = FactEditBody,
    responses((status = 200, description = "The edited fact", body = FactOut))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<FactId>,
    JsonBody(body): JsonBody<FactEditBody>,
) -> Result<Json<FactOut>, ApiError> {
    let scope = caller.scope(
        body.user_id.clone(),
        body.agent_id.clone(),
        body.run_id.clone(),
    )?;
    let fact = state.memory()?.update_fact(&scope, id, body.edit()).await?;
    Ok(Json(fact.into()))
}

/// Delete a fact.
///
/// Its history stays, ending with a `DELETE` event.
#[utoipa::path(
    delete,
    path = "/v1/memories/{id}",
    operation_id = "delete_fact",
    tag = "memories",
    params(("id" = String, Path, description = "The fact's id", format = "uuid"), ScopeQuery),
    responses((status = 200, description = "Deleted", body = Deleted))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
    PathId(id): PathId<FactId>,
) -> Result<Json<Deleted>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    state.memory()?.delete_fact(&scope, id).await?;
    Ok(Json(Deleted {
        id: Some(id.as_uuid()),
        deleted: true,
    }))
}

/// A fact's history.
///
/// Every `ADD`, `UPDATE` and `DELETE` of the fact, oldest first; also after the fact was
/// deleted (200, by design: the history is the audit trail), until the scope is erased.
#[utoipa::path(
    get,
    path = "/v1/memories/{id}/history",
    operation_id = "fact_history",
    tag = "memories",
    params(("id" = String, Path, description = "The fact's id", format = "uuid"), ScopeQuery),
    responses((status = 200, description = "The fact's events", body = HistoryOut))
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
    PathId(id): PathId<FactId>,
) -> Result<Json<HistoryOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let history = state.memory()?.fact_history(&scope, id).await?;
    Ok(Json(HistoryOut {
        history: history.into_iter().map(FactEventOut::from).collect(),
    }))
}
