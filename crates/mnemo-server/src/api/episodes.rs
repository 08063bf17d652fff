//! `/v1/episodes/{id}`: an ingested episode (its journal entry and status, e.g. to follow
//! a `wait=false` add), and reverting one. An episode of another scope is not found.

use axum::Json;
use axum::extract::State;
use mnemo_api::{Deleted, EpisodeOut, ScopeQuery};
use mnemo_core::EpisodeId;

use crate::auth::Caller;
use crate::extract::{PathId, QueryParams};
use crate::{ApiError, AppState};

/// One episode.
#[utoipa::path(
    get,
    path = "/v1/episodes/{id}",
    operation_id = "get_episode",
    tag = "episodes",
    params(("id" = String, Path, description = "The episode's id", format = "uuid"), ScopeQuery),
    responses((status = 200, description = "The episode", body = EpisodeOut))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
    PathId(id): PathId<EpisodeId>,
) -> Result<Json<EpisodeOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    Ok(Json(state.memory()?.episode(&scope, id).await?.into()))
}

/// Delete an episode, reverting its effects.
///
/// Relations only it stated are deleted, its restatements lose its provenance, relations
/// it ended or retracted are restored, and its fact changes are undone.
#[utoipa::path(
    delete,
    path = "/v1/episodes/{id}",
    operation_id = "delete_episode",
    tag = "episodes",
    params(("id" = String, Path, description = "The episode's id", format = "uuid"), ScopeQuery),
    responses((status = 200, description = "Deleted and reverted", body = Deleted))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
    PathId(id): PathId<EpisodeId>,
) -> Result<Json<Deleted>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    state.memory()?.delete_episode(&scope, id).await?;
    Ok(Json(Deleted {
        id: Some(id.as_uuid()),
        deleted: true,
    }))
}
