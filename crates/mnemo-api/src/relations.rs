//! `POST /v1/relations`: typed triplets added directly, without extraction.

use chrono::{DateTime, Utc};
use mnemo_core::Scope;
use mnemo_core::write::{EntityInput, RelationsRequest, TripletRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One end of a triplet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[schema(as = EntityInput)]
pub struct EntityIn {
    #[schema(example = "Alice")]
    pub name: String,
    /// `PascalCase`; default `Concept` for a new entity.
    #[serde(rename = "type")]
    #[schema(example = "Person")]
    pub entity_type: Option<String>,
}

impl From<EntityIn> for EntityInput {
    fn from(input: EntityIn) -> Self {
        EntityInput {
            name: input.name,
            entity_type: input.entity_type,
        }
    }
}

/// One triplet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[schema(as = Triplet)]
pub struct TripletIn {
    pub source: EntityIn,
    /// `UPPER_SNAKE_CASE`.
    #[schema(example = "LIVES_IN")]
    pub relation: String,
    pub target: EntityIn,
    /// One sentence; default "source relation target" in words.
    pub fact: Option<String>,
    /// Default: the request's `occurred_at`.
    pub valid_from: Option<DateTime<Utc>>,
    /// When it stopped being true; after `valid_from` (422 otherwise).
    pub valid_to: Option<DateTime<Utc>>,
}

impl From<TripletIn> for TripletRequest {
    fn from(triplet: TripletIn) -> Self {
        TripletRequest {
            source: triplet.source.into(),
            relation: triplet.relation,
            target: triplet.target.into(),
            fact: triplet.fact,
            valid_from: triplet.valid_from,
            valid_to: triplet.valid_to,
        }
    }
}

/// `POST /v1/relations`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RelationsBody {
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

impl RelationsBody {
    /// The core request in `scope` (the caller checks it against the body's scope fields).
    pub fn into_request(self, scope: Scope) -> RelationsRequest {
        RelationsRequest {
            scope,
            occurred_at: self.occurred_at,
            relations: self.relations.into_iter().map(Into::into).collect(),
            metadata: crate::metadata_or_empty(self.metadata),
            idempotency_key: self.idempotency_key,
        }
    }
}
