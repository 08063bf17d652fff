//! The records of the temporal knowledge graph: entities, bi-temporal relations, episodes
//! (the ingestion journal) and plain facts with their history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EntityId, EntityType, EpisodeId, FactId, RelationId, RelationType, Scope};

/// Every time in mnemo is UTC.
pub type Timestamp = DateTime<Utc>;

/// A node of the graph: a person, place, organisation, … within one scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: EntityId,
    pub scope: Scope,
    /// Normalised lookup key ([`crate::normalize_name`]); unique within the scope.
    pub name: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    /// Normalised alternative keys; each resolves to this entity.
    pub aliases: Vec<String>,
    /// Unit-length embedding of the display name.
    pub embedding: Vec<f32>,
    pub mentions: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The two time axes of a relation.
///
/// Event time (`valid_from`/`valid_to`) is when the relation held in the world; transaction
/// time (`recorded_at`, `invalidated_at`, `retracted_at`) is when mnemo learned things.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationTimes {
    /// When it started to hold; `None` = unknown (treated as "always").
    pub valid_from: Option<Timestamp>,
    /// When it stopped holding; `None` = still holds.
    pub valid_to: Option<Timestamp>,
    /// When mnemo recorded it.
    pub recorded_at: Timestamp,
    /// When mnemo learned it ended. `None` with a `valid_to` means it was known to be
    /// ended when it was recorded.
    pub invalidated_at: Option<Timestamp>,
    /// When mnemo learned it was never true.
    pub retracted_at: Option<Timestamp>,
}

impl RelationTimes {
    /// All five times within what a store can write and read back
    /// ([`crate::time::check_stored`]), each error naming its field.
    pub fn check_stored(&self) -> Result<(), crate::ValidationError> {
        use crate::time::check_stored;
        for (field, t) in [
            ("valid_from", self.valid_from),
            ("valid_to", self.valid_to),
            ("recorded_at", Some(self.recorded_at)),
            ("invalidated_at", self.invalidated_at),
            ("retracted_at", self.retracted_at),
        ] {
            if let Some(t) = t {
                check_stored(field, &t)?;
            }
        }
        Ok(())
    }
}

/// The end a relation has on its own, apart from any cut by a successor on its timeline:
/// the `valid_to` it was stated with, or the one a restatement gave it. Kept so that a
/// relation cut by a successor gets exactly this end back when the successor goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatedEnd {
    pub valid_to: Timestamp,
    /// When mnemo learned this end; `None` = known when the relation was recorded.
    pub invalidated_at: Option<Timestamp>,
    /// The episode (a restatement) that gave this end; `None` = the relation's first
    /// statement. Deleting that episode takes the end away again.
    pub episode: Option<EpisodeId>,
}

impl StatedEnd {
    /// Both times within what a store can write and read back, each error naming its
    /// field.
    pub fn check_stored(&self) -> Result<(), crate::ValidationError> {
        use crate::time::check_stored;
        check_stored("stated_end.valid_to", &self.valid_to)?;
        self.invalidated_at
            .as_ref()
            .map_or(Ok(()), |at| check_stored("stated_end.invalidated_at", at))
    }

    /// The stated end of a relation that carries none (a row or an export from before the
    /// field existed): its current end when no successor cut it, else unknown (open).
    /// After a retraction, `invalidated_in` is the retracting episode, not the end's.
    pub fn presumed(relation: &Relation) -> Option<StatedEnd> {
        if relation.invalidated_by.is_some() {
            return None;
        }
        Some(StatedEnd {
            valid_to: relation.times.valid_to?,
            invalidated_at: relation.times.invalidated_at,
            episode: relation
                .invalidated_in
                .filter(|_| relation.times.retracted_at.is_none()),
        })
    }
}

/// A typed edge between two entities of the same scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    pub id: RelationId,
    pub scope: Scope,
    pub source: EntityId,
    #[serde(rename = "relation")]
    pub relation_type: RelationType,
    pub target: EntityId,
    /// One sentence stating the relation, the text that is embedded.
    pub fact: String,
    #[serde(flatten)]
    pub times: RelationTimes,
    /// The relation whose arrival ended this one.
    pub invalidated_by: Option<RelationId>,
    /// The episode that ended or retracted this one; deleting that episode restores it.
    #[serde(default)]
    pub invalidated_in: Option<EpisodeId>,
    /// Provenance: the episodes that stated it, oldest first.
    pub episodes: Vec<EpisodeId>,
    pub mentions: u32,
    /// Its own end, kept while a successor cuts it (`None`: open on its own).
    #[serde(default)]
    pub stated_end: Option<StatedEnd>,
}

/// Where an episode is in the ingestion journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EpisodeStatus {
    /// Journaled, not yet (fully) applied; resumed on start.
    Pending,
    Done,
    Failed {
        reason: String,
    },
}

impl EpisodeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EpisodeStatus::Pending => "pending",
            EpisodeStatus::Done => "done",
            EpisodeStatus::Failed { .. } => "failed",
        }
    }
}

/// One ingested batch of messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub id: EpisodeId,
    pub scope: Scope,
    /// The input as journaled by the write path (a JSON document; see `write::Journal`).
    pub content: String,
    /// Reference time for relative dates in the content.
    pub occurred_at: Timestamp,
    pub ingested_at: Timestamp,
    #[serde(flatten)]
    pub status: EpisodeStatus,
    /// Unique within the scope when set: the same key twice adds nothing the second time.
    pub idempotency_key: Option<String>,
    pub metadata: serde_json::Value,
    /// LLM calls and tokens spent on this episode so far.
    #[serde(default)]
    pub llm_usage: LlmUsage,
}

/// LLM calls and token counts, summed per episode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmUsage {
    pub calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl std::ops::AddAssign for LlmUsage {
    fn add_assign(&mut self, other: LlmUsage) {
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// A conversation's rolling summary, refreshed in the background, shown to the extractor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeSummary {
    pub scope: Scope,
    pub text: String,
    /// The newest episode the summary has read.
    pub through_episode: EpisodeId,
    pub updated_at: Timestamp,
}

/// A plain declarative sentence (Mem0's base memory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub id: FactId,
    pub scope: Scope,
    pub text: String,
    pub metadata: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Episodes that produced or changed it.
    pub episodes: Vec<EpisodeId>,
}

/// The kind of change a fact went through (the `update_memory` verdicts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FactEventKind {
    Add,
    Update,
    Delete,
    None,
}

/// One row of a fact's history; history survives the fact's deletion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactEvent {
    pub fact_id: FactId,
    pub event: FactEventKind,
    pub old_text: Option<String>,
    pub new_text: Option<String>,
    pub at: Timestamp,
    pub episode: Option<EpisodeId>,
}
