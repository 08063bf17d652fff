//! mnemo's domain: the temporal knowledge-graph model, the visibility rule, the ports
//! (traits) every storage, embedding and LLM adapter implements, and the write and read
//! pipelines that run on them.
//!
//! This crate does no IO and knows no HTTP, database driver or LLM SDK.

pub mod clock;
pub mod corrupt;
pub mod engine;
pub mod error;
pub mod identity;
pub mod ids;
pub mod llm;
pub mod manage;
pub mod model;
pub mod names;
pub mod ontology;
pub mod ports;
pub mod read;
pub mod scope;
pub mod text;
pub mod time;
pub mod transfer;
pub mod views;
pub mod visibility;
pub mod write;

pub use clock::{Clock, SystemClock};
pub use corrupt::SkippedRecords;
pub use engine::{Memory, MemoryParts, MemorySettings};
pub use error::{EmbedError, MemoryError, StoreError, ValidationError};
pub use ids::{EntityId, EpisodeId, FactId, RelationId};
pub use manage::FactEdit;
pub use model::{
    Entity, Episode, EpisodeStatus, Fact, FactEvent, FactEventKind, LlmUsage, Relation,
    RelationTimes, ScopeSummary, StatedEnd, Timestamp,
};
pub use names::{EntityType, RelationType, normalize_name};
pub use ontology::{Cardinality, Ontology, OntologySpec};
pub use scope::Scope;
pub use views::{EntityRef, RelationView};
pub use visibility::{Visibility, is_visible};
