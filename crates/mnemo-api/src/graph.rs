//! `/v1/graph/*`: the query strings of the temporal reads, and the timeline, entity
//! listing and changes they answer (the subgraph is in [`crate::types`]).

use chrono::{DateTime, Utc};
use mnemo_core::read::{ChangesView, RelationStatus, TimelineEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::types::{EntityOut, RelationOut, relations};

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubgraphQuery {
    // The scope: one object parameter in the document (`rules::SCOPE_QUERY_SCHEMA`).
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// The entity's name or alias.
    pub entity: String,
    /// Hops, 1 to 3; default 2.
    pub depth: Option<u8>,
    /// Event time; default now.
    pub as_of: Option<DateTime<Utc>>,
    /// Transaction time; default now.
    pub known_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RelationsQuery {
    // The scope: one object parameter in the document (`rules::SCOPE_QUERY_SCHEMA`).
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// Only relations touching this entity (name or alias).
    pub entity: Option<String>,
    /// Only relations of this type (`UPPER_SNAKE_CASE`).
    pub relation: Option<String>,
    /// `true`: the full timeline, ended and retracted relations too; default `false`.
    pub include_invalid: Option<bool>,
    /// Event time; default now.
    pub as_of: Option<DateTime<Utc>>,
    /// Transaction time; default now.
    pub known_at: Option<DateTime<Utc>>,
}

/// Where a relation stands at the read point.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RelationStatus)]
pub enum RelationStatusOut {
    Valid,
    NotYetValid,
    Ended,
    Retracted,
}

/// A relation of a timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = TimelineEntry)]
pub struct TimelineEntryOut {
    #[serde(flatten)]
    pub relation: RelationOut,
    pub status: RelationStatusOut,
    /// The relation whose arrival ended it, if one did.
    pub ended_by: Option<RelationOut>,
}

impl From<TimelineEntry> for TimelineEntryOut {
    fn from(entry: TimelineEntry) -> Self {
        TimelineEntryOut {
            relation: entry.relation.into(),
            status: match entry.status {
                RelationStatus::Valid => RelationStatusOut::Valid,
                RelationStatus::NotYetValid => RelationStatusOut::NotYetValid,
                RelationStatus::Ended => RelationStatusOut::Ended,
                RelationStatus::Retracted => RelationStatusOut::Retracted,
            },
            ended_by: entry.ended_by.map(RelationOut::from),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Timeline)]
pub struct TimelineOut {
    /// Oldest start first.
    pub relations: Vec<TimelineEntryOut>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Entities)]
pub struct EntitiesOut {
    /// By name.
    pub entities: Vec<EntityOut>,
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    // The scope: one object parameter in the document (`rules::SCOPE_QUERY_SCHEMA`).
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// Start of the transaction-time window (inclusive).
    pub since: DateTime<Utc>,
    /// End of the window (exclusive); default now. Not before `since` (422 otherwise).
    pub until: Option<DateTime<Utc>>,
}

/// Relations added, ended and retracted in a transaction-time window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Changes)]
pub struct ChangesOut {
    /// `recorded_at` in the window.
    pub added: Vec<RelationOut>,
    /// `invalidated_at` in the window.
    pub invalidated: Vec<RelationOut>,
    /// `retracted_at` in the window.
    pub retracted: Vec<RelationOut>,
}

impl From<ChangesView> for ChangesOut {
    fn from(changes: ChangesView) -> Self {
        ChangesOut {
            added: relations(changes.added),
            invalidated: relations(changes.invalidated),
            retracted: relations(changes.retracted),
        }
    }
}
