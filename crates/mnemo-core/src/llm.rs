//! The LLM port: the six tools of the extraction contract (DESIGN §3) as typed calls.
//!
//! An adapter turns each call into one forced tool call (or a `json_schema` answer),
//! validates the answer into these types, and retries malformed answers itself; the
//! pipelines only ever see validated values. Existing records are shown to the model
//! under small integer ids (their index in the input lists), never real ids.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{EntityType, FactEventKind, LlmUsage, RelationType, Timestamp};

/// One message of a conversation, as posted by the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// Who "I", "me", "my" and "you" refer to, and when the conversation happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Speakers {
    /// The scope's user id: first-person references map to this entity name.
    pub user: Option<String>,
    /// The scope's agent id, if any.
    pub agent: Option<String>,
    /// Reference time for relative dates ("last month").
    pub occurred_at: Timestamp,
}

/// Input of `extract_entities` and `extract_facts`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractionInput {
    pub speakers: Speakers,
    /// The new messages.
    pub messages: Vec<ChatMessage>,
    /// The last messages of the scope before these, oldest first (context only).
    pub recent: Vec<ChatMessage>,
    /// The scope's rolling summary, if one exists.
    pub summary: Option<String>,
    /// Entity types the ontology suggests (others are allowed).
    pub entity_types: Vec<EntityType>,
}

/// An entity named in the messages.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractedEntity {
    /// As written (display form); never empty.
    pub name: String,
    pub entity_type: EntityType,
}

/// A known entity the model may reuse by name when the messages refer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownEntity {
    pub name: String,
    pub entity_type: EntityType,
}

/// A relation type the ontology declares, with its meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationTypeHint {
    pub relation_type: RelationType,
    pub description: String,
}

/// Input of `establish_relations`.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationsInput {
    pub speakers: Speakers,
    pub messages: Vec<ChatMessage>,
    /// The entities extracted from the messages.
    pub entities: Vec<ExtractedEntity>,
    /// Existing entities an extracted name may refer to (ambiguous matches); the model
    /// uses the known name when it means the same thing.
    pub known_entities: Vec<KnownEntity>,
    pub relation_types: Vec<RelationTypeHint>,
}

/// A typed triplet as the model stated it; names refer to `RelationsInput::entities` or
/// `known_entities` (or new names).
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractedRelation {
    pub source: String,
    pub relation_type: RelationType,
    pub target: String,
    pub fact: String,
    pub valid_from: Option<Timestamp>,
    pub valid_to: Option<Timestamp>,
}

/// A triplet as text, the way conflicts are shown to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct TripletText {
    pub source: String,
    pub relation_type: RelationType,
    pub target: String,
    pub fact: String,
    pub valid_from: Option<Timestamp>,
    pub valid_to: Option<Timestamp>,
}

/// Input of `resolve_conflicts`: `existing[i]` is shown as id `i`, `new[j]` as id `j`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictsInput {
    pub occurred_at: Timestamp,
    pub existing: Vec<TripletText>,
    pub new: Vec<TripletText>,
}

/// How a new triplet bears on an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictVerdict {
    /// The same information restated.
    Duplicate,
    /// The existing one stopped holding because of the new one.
    Superseded,
    /// The existing one was never true.
    Retracted,
    Unrelated,
}

/// One labelled pair; both indexes are within the input lists (validated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConflictDecision {
    pub existing: usize,
    pub new: usize,
    pub verdict: ConflictVerdict,
}

/// Input of `update_memory`: `existing[i]` is shown as id `"i"`.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryUpdateInput {
    pub existing: Vec<String>,
    pub facts: Vec<String>,
}

/// One `update_memory` decision.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEdit {
    /// The existing fact it applies to (`None` for `Add`; always `Some` in range otherwise).
    pub existing: Option<usize>,
    pub text: String,
    pub event: FactEventKind,
}

/// Input of `summarize_conversation`.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryInput {
    pub previous: Option<String>,
    pub messages: Vec<ChatMessage>,
}

/// A validated answer and what it cost (all attempts included).
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<T> {
    pub value: T,
    pub usage: LlmUsage,
}

/// The LLM could not give a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Every attempt answered something that does not fit the tool's schema.
    #[error("`{tool}` answer invalid after {attempts} attempts: {reason}")]
    Malformed {
        tool: &'static str,
        attempts: u32,
        reason: String,
        usage: LlmUsage,
    },
    /// Timeouts, 429 or 5xx on every attempt, or the endpoint unreachable.
    #[error("LLM endpoint unavailable after {attempts} attempts: {reason}")]
    Unavailable {
        attempts: u32,
        reason: String,
        usage: LlmUsage,
    },
    /// A non-retryable refusal (401, 400, …).
    #[error("LLM endpoint rejected the request: {reason}")]
    Rejected { reason: String, usage: LlmUsage },
}

impl LlmError {
    /// What the failed call cost before it gave up.
    pub fn usage(&self) -> LlmUsage {
        match self {
            LlmError::Malformed { usage, .. }
            | LlmError::Unavailable { usage, .. }
            | LlmError::Rejected { usage, .. } => *usage,
        }
    }

    /// The same error, also counting `extra` (spent by earlier calls of the same path).
    pub fn with_extra_usage(mut self, extra: LlmUsage) -> LlmError {
        match &mut self {
            LlmError::Malformed { usage, .. }
            | LlmError::Unavailable { usage, .. }
            | LlmError::Rejected { usage, .. } => *usage += extra,
        }
        self
    }
}

/// An OpenAI-compatible chat model that answers the six tools.
#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn model_name(&self) -> &str;

    async fn extract_entities(
        &self,
        input: &ExtractionInput,
    ) -> Result<Answer<Vec<ExtractedEntity>>, LlmError>;

    async fn establish_relations(
        &self,
        input: &RelationsInput,
    ) -> Result<Answer<Vec<ExtractedRelation>>, LlmError>;

    async fn resolve_conflicts(
        &self,
        input: &ConflictsInput,
    ) -> Result<Answer<Vec<ConflictDecision>>, LlmError>;

    async fn extract_facts(&self, input: &ExtractionInput)
    -> Result<Answer<Vec<String>>, LlmError>;

    async fn update_memory(
        &self,
        input: &MemoryUpdateInput,
    ) -> Result<Answer<Vec<MemoryEdit>>, LlmError>;

    async fn summarize_conversation(
        &self,
        input: &SummaryInput,
    ) -> Result<Answer<String>, LlmError>;
}
