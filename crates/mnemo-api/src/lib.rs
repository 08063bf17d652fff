//! mnemo's wire types (DESIGN §6): every JSON request, response and query string of the
//! `/v1` API and the error body, with their OpenAPI schemas (utoipa), and their
//! conversions from and to the core types. The server answers with them, the CLI sends
//! them and prints them (`--json`), so both ends of the wire share one definition.
//!
//! Core types are not the wire format: a field renamed in the domain never changes the
//! API by accident. No HTTP framework here; statuses are the server's. Request bodies
//! serialize an absent optional field as `null`, which the server reads as absent.

mod error;
mod graph;
mod integer;
mod memories;
mod query;
mod relations;
pub mod rules;
mod search;
mod types;

pub use error::{ErrorBody, ErrorDetail};
pub use graph::{
    ChangesOut, ChangesQuery, EntitiesOut, RelationStatusOut, RelationsQuery, SubgraphQuery,
    TimelineEntryOut, TimelineOut,
};
pub use memories::{Accepted, AddBody, AddQuery, FactEditBody, FactsOut, HistoryOut, MessageIn};
pub use query::{PageQuery, ScopeQuery};
pub use relations::{EntityIn, RelationsBody, TripletIn};
pub use search::{
    FactHitOut, FoundBy, IncludePart, QueryEntitiesIn, RelationHitOut, SearchBody, SearchOut,
};
pub use types::{
    AddResult, Deleted, EntityOut, EntityRefOut, EpisodeOut, EpisodeStatusOut, FactChangesOut,
    FactEventKindOut, FactEventOut, FactOut, LlmUsageOut, RelationChangesOut, RelationOut,
    SkippedTripletOut, SubgraphOut,
};

/// A request's `metadata`, an empty object when absent.
fn metadata_or_empty(metadata: Option<serde_json::Value>) -> serde_json::Value {
    metadata.unwrap_or_else(|| serde_json::Value::Object(Default::default()))
}
