//! `POST /v1/relations`: typed triplets added directly, without extraction; entity
//! resolution and the conflict rules apply as for any add.

use axum::Json;
use axum::extract::State;
use mnemo_api::{AddResult, RelationsBody};

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::{ApiError, AppState};

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
    let scope = caller.scope(
        body.user_id.clone(),
        body.agent_id.clone(),
        body.run_id.clone(),
    )?;
    let memory = state.memory()?;
    let request = body.into_request(scope.clone());
    let adder = memory.clone();
    let outcome = state
        .run_add(scope, false, memory, async move {
            adder.add_relations(request).await
        })
        .await?;
    Ok(Json(outcome.into()))
}
