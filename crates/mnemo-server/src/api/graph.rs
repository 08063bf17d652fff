//! `/v1/graph/*`: the temporal reads. The subgraph around an entity at (as_of, known_at),
//! relations and their full timeline, the changes of a transaction-time window, and the
//! scope's entities.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use mnemo_api::{
    ChangesOut, ChangesQuery, EntitiesOut, EntityOut, PageQuery, RelationsQuery, ScopeQuery,
    SubgraphOut, SubgraphQuery, TimelineEntryOut, TimelineOut,
};
use mnemo_core::read::DEFAULT_DEPTH;
use mnemo_core::{EntityId, RelationType, Visibility};

use super::page;
use crate::auth::Caller;
use crate::extract::{PathId, QueryParams};
use crate::{ApiError, AppState};

/// The read point; each defaults to now.
/// The subgraph around an entity.
///
/// The entity and what surrounds it to `depth` hops over the relations visible at
/// (`as_of`, `known_at`); at most 500 relations, nearest first.
#[utoipa::path(
    get,
    path = "/v1/graph/subgraph",
    operation_id = "get_subgraph",
    tag = "graph",
    params(SubgraphQuery),
    responses((status = 200, description = "The subgraph", body = SubgraphOut))
)]
pub(crate) async fn subgraph(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<SubgraphQuery>,
) -> Result<Json<SubgraphOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let at = Visibility::or_now(query.as_of, query.known_at);
    let depth = query.depth.unwrap_or(DEFAULT_DEPTH);
    let subgraph = state
        .memory()?
        .subgraph(&scope, &query.entity, depth, at)
        .await?;
    Ok(Json(subgraph.into()))
}

/// Relations, or their full timeline.
///
/// The relations of an entity and/or a relation type visible at (`as_of`, `known_at`);
/// with `include_invalid=true` the full timeline as known at `known_at`, each with its
/// status and what ended it. At most 1000, oldest start first.
#[utoipa::path(
    get,
    path = "/v1/graph/relations",
    operation_id = "list_relations",
    tag = "graph",
    params(RelationsQuery),
    responses((status = 200, description = "The relations", body = TimelineOut))
)]
pub(crate) async fn relations_of(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<RelationsQuery>,
) -> Result<Json<TimelineOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let relation_type = query
        .relation
        .as_deref()
        .map(RelationType::parse)
        .transpose()?;
    let at = Visibility::or_now(query.as_of, query.known_at);
    let entries = state
        .memory()?
        .timeline(
            &scope,
            query.entity.as_deref(),
            relation_type,
            query.include_invalid.unwrap_or(false),
            at,
        )
        .await?;
    Ok(Json(TimelineOut {
        relations: entries.into_iter().map(TimelineEntryOut::from).collect(),
    }))
}

/// The scope's entities.
#[utoipa::path(
    get,
    path = "/v1/graph/entities",
    operation_id = "list_entities",
    tag = "graph",
    params(PageQuery),
    responses((status = 200, description = "A page of entities, by name", body = EntitiesOut))
)]
pub(crate) async fn entities(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<EntitiesOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let page = page(query.limit, query.offset)?;
    let entities = state.memory()?.entities(&scope, page).await?;
    Ok(Json(EntitiesOut {
        entities: entities.into_iter().map(EntityOut::from).collect(),
    }))
}

/// One entity.
#[utoipa::path(
    get,
    path = "/v1/graph/entities/{id}",
    operation_id = "get_entity",
    tag = "graph",
    params(("id" = String, Path, description = "The entity's id", format = "uuid"), ScopeQuery),
    responses((status = 200, description = "The entity", body = EntityOut))
)]
pub(crate) async fn entity(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ScopeQuery>,
    PathId(id): PathId<EntityId>,
) -> Result<Json<EntityOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let entity = state.memory()?.entity(&scope, id).await?;
    Ok(Json(entity.into()))
}

/// What changed in a window.
///
/// Relations mnemo added, ended and retracted between `since` and `until` (transaction
/// time: when mnemo learned it).
#[utoipa::path(
    get,
    path = "/v1/graph/changes",
    operation_id = "get_changes",
    tag = "graph",
    params(ChangesQuery),
    responses((status = 200, description = "The changes", body = ChangesOut))
)]
pub(crate) async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ChangesQuery>,
) -> Result<Json<ChangesOut>, ApiError> {
    let scope = caller.scope(query.user_id, query.agent_id, query.run_id)?;
    let until = query.until.unwrap_or_else(Utc::now);
    let changes = state.memory()?.changes(&scope, query.since, until).await?;
    Ok(Json(changes.into()))
}
