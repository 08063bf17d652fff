//! mnemo's domain: the temporal knowledge-graph model, the visibility rule, and the
//! ports (traits) every storage and embedding adapter implements.
//!
//! This crate does no IO and knows no HTTP, database driver or LLM SDK.

pub mod error;
pub mod ids;
pub mod model;
pub mod names;
pub mod ports;
pub mod scope;
pub mod visibility;

pub use error::{EmbedError, StoreError, ValidationError};
pub use ids::{EntityId, EpisodeId, FactId, RelationId};
pub use model::{
    Entity, Episode, EpisodeStatus, Fact, FactEvent, FactEventKind, Relation, RelationTimes,
    Timestamp,
};
pub use names::{EntityType, RelationType, normalize_name};
pub use scope::Scope;
pub use visibility::{Visibility, is_visible};
