//! `POST /v1/relations`: typed triplets added directly, without extraction; entity
//! resolution and the conflict rules apply as for any add.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use mnemo_core::write::{EntityInput, RelationsRequest, TripletRequest};
use serde::Deserialize;
use utoipa::ToSchema;

use super::types::AddResult;
use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// One end of a triplet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EntityInput)]
pub(crate) struct EntityIn {
    #[schema(example = "Alice")]
    pub name: String,
    /// `PascalCase`; default `Concept` for a new entity.
    #[serde(rename = "type")]
    #[schema(example = "Person")]
    pub entity_type: Option<String>,
}

/// One triplet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Triplet)]
pub(crate) struct TripletIn {
    pub source: EntityIn,
    /// `UPPER_SNAKE_CASE`.
    #[schema(example = "LIVES_IN")]
    pub relation: String,
    pub target: EntityIn,
    /// One sentence; default "source relation target" in words.
    pub fact: Option<String>,
    /// Default: the request's `occurred_at`.
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// `POST /v1/relations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelationsBody {
    /// 1 to 1000 triplets.
    pub relations: Vec<TripletIn>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// Default start of triplets without `valid_from`; default now.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A JSON object kept with the episode.
    pub metadata: Option<serde_json::Value>,
    /// The same key twice in a scope adds nothing the second time.
    pub idempotency_key: Option<String>,
}

fn entity(input: EntityIn) -> EntityInput {
    EntityInput {
        name: input.name,
        entity_type: input.entity_type,
    }
}

/// Add typed triplets.
///
/// No extraction: the triplets are resolved against the scope's entities and the conflict
/// rules apply (single-valued types supersede; the LLM, when configured, judges the rest).
#[utoipa::path(
    post,
    path = "/v1/relations",
    operation_id = "add_relations",
    tag = "graph",
    request_body = RelationsBody,
    responses((status = 200, description = "Processed", body = AddResult))
)]
pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<RelationsBody>,
) -> Result<Json<AddResult>, ApiError> {
    let scope = caller.scope(body.user_id, body.agent_id, body.run_id)?;
    let memory = state.memory()?;
    let request = RelationsRequest {
        scope: scope.clone(),
        occurred_at: body.occurred_at,
        relations: body
            .relations
            .into_iter()
            .map(|t| TripletRequest {
                source: entity(t.source),
                relation: t.relation,
                target: entity(t.target),
                fact: t.fact,
                valid_from: t.valid_from,
                valid_to: t.valid_to,
            })
            .collect(),
        metadata: body
            .metadata
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        idempotency_key: body.idempotency_key,
    };
    let adder = memory.clone();
    let outcome = state
        .run_add(scope, false, memory, async move {
            adder.add_relations(request).await
        })
        .await?;
    Ok(Json(outcome.into()))
}
