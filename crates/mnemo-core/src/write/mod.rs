//! The write path (DESIGN §3): journal an episode, extract entities and relations,
//! resolve them against the scope, detect conflicts, and apply everything at once.
//!
//! Order of effects, chosen so a crash at any point is repaired by [`Memory::resume_pending`]:
//! 1. the episode is journaled `pending`;
//! 2. every LLM call runs and the plans are validated (nothing written yet);
//! 3. fact writes (each one atomic with its history row);
//! 4. all graph ops of the episode in one transaction (the episode stays `pending`);
//! 5. relation vectors mirrored into the vector store;
//! 6. the episode set `done` with its LLM usage.
//!
//! A pending episode whose graph ops are applied (its footprint is not empty) resumes at
//! step 5; one without resumes from step 2.

mod facts;
mod graph;
mod pipeline;
mod plain;
mod summary;
mod timeline;

pub use pipeline::ResumeReport;
pub use plain::SAID_AT;
pub(crate) use plain::plain_fact_id;
pub use summary::SUMMARY_EVERY;

use serde::{Deserialize, Serialize};

use crate::engine::Reader;
use crate::llm::{ChatMessage, ExtractionInput, Speakers};
use crate::{
    EntityType, Episode, EpisodeId, EpisodeStatus, Fact, FactId, LlmUsage, MemoryError,
    RelationType, RelationView, Scope, Timestamp, ValidationError, normalize_name, time,
};
use graph::{NamedEntity, TripletIn};

/// Most messages in one add, and most triplets in one `POST /v1/relations`.
pub const MAX_ITEMS_PER_ADD: usize = 1000;

/// `POST /v1/memories`.
#[derive(Clone, Debug, PartialEq)]
pub struct AddRequest {
    pub scope: Scope,
    pub messages: Vec<ChatMessage>,
    /// Reference time for relative dates; default now.
    pub occurred_at: Option<Timestamp>,
    pub metadata: serde_json::Value,
    /// `false`: no LLM; messages become facts linked to known entities.
    pub infer: bool,
    pub idempotency_key: Option<String>,
}

impl AddRequest {
    /// Checks the request and brings its timestamp into the supported range's form.
    fn validate(&mut self) -> Result<(), ValidationError> {
        self.occurred_at = time::check_opt("occurred_at", self.occurred_at)?;
        if self.messages.is_empty() {
            return Err(ValidationError::Request(
                "messages must not be empty".into(),
            ));
        }
        if self.messages.len() > MAX_ITEMS_PER_ADD {
            return Err(ValidationError::Request(format!(
                "at most {MAX_ITEMS_PER_ADD} messages per add"
            )));
        }
        for (i, message) in self.messages.iter().enumerate() {
            if message.role.trim().is_empty() {
                return Err(ValidationError::Request(format!(
                    "messages[{i}].role must not be empty"
                )));
            }
            if message.content.trim().is_empty() {
                return Err(ValidationError::Request(format!(
                    "messages[{i}].content must not be empty"
                )));
            }
            crate::text::check_text(&format!("messages[{i}].role"), &message.role)?;
            crate::text::check_text(&format!("messages[{i}].content"), &message.content)?;
        }
        check_metadata(&self.metadata)?;
        check_idempotency_key(self.idempotency_key.as_deref())
    }
}

fn check_metadata(metadata: &serde_json::Value) -> Result<(), ValidationError> {
    if metadata.is_object() || metadata.is_null() {
        Ok(())
    } else {
        Err(ValidationError::Request(
            "metadata must be a JSON object".into(),
        ))
    }
}

/// Most characters in an add's `idempotency_key`.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 256;

fn check_idempotency_key(key: Option<&str>) -> Result<(), ValidationError> {
    match key {
        Some(key) if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS => {
            Err(ValidationError::Request(format!(
                "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
            )))
        }
        _ => Ok(()),
    }
}

/// `POST /v1/relations`: typed triplets without extraction.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationsRequest {
    pub scope: Scope,
    /// Default start of triplets without `valid_from`; default now.
    pub occurred_at: Option<Timestamp>,
    pub relations: Vec<TripletRequest>,
    pub metadata: serde_json::Value,
    pub idempotency_key: Option<String>,
}

/// One end of a requested triplet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityInput {
    pub name: String,
    /// Entity type; `Concept` when absent and the entity is new.
    #[serde(rename = "type", default)]
    pub entity_type: Option<String>,
}

/// One requested triplet; `fact` defaults to "source relation target" in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripletRequest {
    pub source: EntityInput,
    pub relation: String,
    pub target: EntityInput,
    #[serde(default)]
    pub fact: Option<String>,
    #[serde(default)]
    pub valid_from: Option<Timestamp>,
    #[serde(default)]
    pub valid_to: Option<Timestamp>,
}

impl RelationsRequest {
    /// Checks the request and brings its timestamps into the supported range's form.
    fn validate(&mut self) -> Result<(), ValidationError> {
        self.occurred_at = time::check_opt("occurred_at", self.occurred_at)?;
        if self.relations.is_empty() {
            return Err(ValidationError::Request(
                "relations must not be empty".into(),
            ));
        }
        if self.relations.len() > MAX_ITEMS_PER_ADD {
            return Err(ValidationError::Request(format!(
                "at most {MAX_ITEMS_PER_ADD} relations per request"
            )));
        }
        for (i, triplet) in self.relations.iter_mut().enumerate() {
            triplet.valid_from =
                time::check_opt(&format!("relations[{i}].valid_from"), triplet.valid_from)?;
            triplet.valid_to =
                time::check_opt(&format!("relations[{i}].valid_to"), triplet.valid_to)?;
            triplet
                .clone()
                .into_triplet()
                .map_err(|e| ValidationError::Request(format!("relations[{i}]: {e}")))?;
        }
        check_metadata(&self.metadata)?;
        check_idempotency_key(self.idempotency_key.as_deref())
    }
}

impl TripletRequest {
    fn into_triplet(self) -> Result<TripletIn, ValidationError> {
        let end = |input: EntityInput| -> Result<NamedEntity, ValidationError> {
            normalize_name(&input.name)?;
            Ok(NamedEntity {
                entity_type: input
                    .entity_type
                    .as_deref()
                    .map(EntityType::parse)
                    .transpose()?,
                display: input.name.trim().to_owned(),
            })
        };
        let relation_type = RelationType::parse(&self.relation)?;
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && to <= from
        {
            return Err(ValidationError::Request(
                "valid_to must be after valid_from".into(),
            ));
        }
        let source = end(self.source)?;
        let target = end(self.target)?;
        let fact = match self.fact.map(|f| f.trim().to_owned()) {
            Some(fact) if !fact.is_empty() => {
                crate::text::check_text("fact", &fact)?;
                fact
            }
            Some(_) => return Err(ValidationError::Request("fact must not be empty".into())),
            None => format!(
                "{} {} {}",
                source.display,
                relation_type.as_str().replace('_', " ").to_lowercase(),
                target.display
            ),
        };
        Ok(TripletIn {
            source,
            relation_type,
            target,
            fact,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        })
    }
}

/// What an episode's `content` holds: the input as received, so a pending episode can
/// be processed again after a crash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Journal {
    Messages {
        messages: Vec<ChatMessage>,
        infer: bool,
    },
    Relations {
        relations: Vec<TripletRequest>,
    },
}

impl Journal {
    fn write(&self) -> String {
        serde_json::to_string(self).expect("journal entries serialize")
    }

    pub(crate) fn read(episode: &Episode) -> Result<Journal, MemoryError> {
        serde_json::from_str(&episode.content).map_err(|e| {
            MemoryError::Store(crate::StoreError::Corrupt(format!(
                "episode {} content is not a journal entry: {e}",
                episode.id
            )))
        })
    }
}

/// What [`Memory::journal`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Journaled {
    /// Journaled `pending`; process it with [`Memory::process_episode`].
    New(Episode),
    /// The idempotency key was used before: this is the earlier episode.
    Duplicate(Episode),
}

/// What an add changed in the graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RelationChanges {
    pub added: Vec<RelationView>,
    /// Restated relations (more mentions and provenance).
    pub updated: Vec<RelationView>,
    pub invalidated: Vec<RelationView>,
    pub retracted: Vec<RelationView>,
    /// Triplets the add did not store, each with the reason.
    #[serde(default)]
    pub skipped: Vec<SkippedTriplet>,
}

/// A triplet an add left out, as it was stated, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedTriplet {
    pub source: String,
    pub relation: String,
    pub target: String,
    pub reason: String,
}

/// What an add changed among facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FactChanges {
    pub added: Vec<Fact>,
    pub updated: Vec<Fact>,
    pub deleted: Vec<FactId>,
}

/// The result of an add.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddOutcome {
    pub episode_id: EpisodeId,
    pub status: EpisodeStatus,
    pub relations: RelationChanges,
    pub facts: FactChanges,
    pub llm_usage: LlmUsage,
    /// The idempotency key was already used: nothing was added.
    pub duplicate: bool,
}

/// The messages journaled in an episode (none for an episode of direct triplets).
pub(crate) fn episode_messages(episode: &crate::Episode) -> Result<Vec<ChatMessage>, MemoryError> {
    Ok(match Journal::read(episode)? {
        Journal::Messages { messages, .. } => messages,
        Journal::Relations { .. } => Vec::new(),
    })
}

/// What the extractors see: the new messages, the scope's recent messages and summary,
/// and who is speaking when.
pub(crate) async fn extraction_input(
    reader: Reader<'_>,
    episode: &crate::Episode,
) -> Result<ExtractionInput, MemoryError> {
    let messages = episode_messages(episode)?;
    let wanted = reader.settings.recent_messages;
    let mut recent = Vec::new();
    if wanted > 0 {
        // Each episode holds at least one message, so `wanted` episodes are enough.
        let earlier = reader
            .graph
            .recent_episodes(&episode.scope, episode.ingested_at, wanted)
            .await?;
        for earlier in &earlier {
            // An unreadable earlier episode (failed when it was met) is no context.
            let Ok(mut batch) = episode_messages(earlier) else {
                continue;
            };
            while let Some(message) = batch.pop() {
                if recent.len() == wanted {
                    break;
                }
                recent.push(message);
            }
        }
        recent.reverse();
    }
    let summary = reader
        .graph
        .scope_summary(&episode.scope)
        .await?
        .map(|s| s.text);
    Ok(ExtractionInput {
        speakers: speakers(episode),
        messages,
        recent,
        summary,
        entity_types: reader.ontology.entity_types().to_vec(),
    })
}

pub(crate) fn speakers(episode: &crate::Episode) -> Speakers {
    Speakers {
        user: episode.scope.user_id().map(str::to_owned),
        agent: episode.scope.agent_id().map(str::to_owned),
        occurred_at: episode.occurred_at,
    }
}
