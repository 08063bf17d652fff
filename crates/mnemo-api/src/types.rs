//! The JSON shapes several resources share (session 3's wire contract): entity references,
//! relations, facts and their events, episodes, and the result of an add. Core types are
//! not the wire format; these are, converted from the core types in one place.

use chrono::{DateTime, Utc};
use mnemo_core::read::Subgraph;
use mnemo_core::write::AddOutcome;
use mnemo_core::{
    Entity, EntityId, EntityRef, Episode, EpisodeId, EpisodeStatus, Fact, FactEvent, FactEventKind,
    FactId, LlmUsage, RelationId, RelationView,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An entity as it appears in a relation, a subgraph or a search's linked entities.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = EntityRef)]
pub struct EntityRefOut {
    #[schema(value_type = String, format = "uuid")]
    pub id: EntityId,
    /// The display name.
    #[schema(example = "Alice")]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(example = "Person")]
    pub entity_type: String,
}

impl From<EntityRef> for EntityRefOut {
    fn from(entity: EntityRef) -> Self {
        EntityRefOut {
            id: entity.id,
            name: entity.name,
            entity_type: entity.entity_type.as_str().to_owned(),
        }
    }
}

/// An entity of the scope, as listed by `/v1/graph/entities`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Entity)]
pub struct EntityOut {
    #[schema(value_type = String, format = "uuid")]
    pub id: EntityId,
    /// The display name.
    pub name: String,
    #[serde(rename = "type")]
    pub entity_type: String,
    /// Normalised alternative names that resolve to this entity.
    pub aliases: Vec<String>,
    pub mentions: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Entity> for EntityOut {
    fn from(entity: Entity) -> Self {
        EntityOut {
            id: entity.id,
            name: entity.display_name,
            entity_type: entity.entity_type.as_str().to_owned(),
            aliases: entity.aliases,
            mentions: entity.mentions,
            created_at: entity.created_at,
            updated_at: entity.updated_at,
        }
    }
}

/// A typed edge with both time axes: event time (`valid_from`/`valid_to`: when it held
/// in the world) and transaction time (`recorded_at`, `invalidated_at`, `retracted_at`:
/// when mnemo learned it).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Relation)]
pub struct RelationOut {
    #[schema(value_type = String, format = "uuid")]
    pub id: RelationId,
    pub source: EntityRefOut,
    /// The relationship type, `UPPER_SNAKE_CASE`.
    #[schema(example = "LIVES_IN")]
    pub relation: String,
    pub target: EntityRefOut,
    /// One sentence stating the relation.
    pub fact: String,
    /// When it started to hold; null = unknown.
    pub valid_from: Option<DateTime<Utc>>,
    /// When it stopped holding; null = still holds.
    pub valid_to: Option<DateTime<Utc>>,
    pub recorded_at: DateTime<Utc>,
    /// When mnemo learned it ended.
    pub invalidated_at: Option<DateTime<Utc>>,
    /// The relation whose arrival ended it.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub invalidated_by: Option<RelationId>,
    /// When mnemo learned it was never true.
    pub retracted_at: Option<DateTime<Utc>>,
    /// Provenance: the episodes that stated it, oldest first.
    #[schema(value_type = Vec<String>)]
    pub episodes: Vec<EpisodeId>,
    pub mentions: u32,
}

impl From<RelationView> for RelationOut {
    fn from(view: RelationView) -> Self {
        let relation = view.relation;
        let times = relation.times;
        RelationOut {
            id: relation.id,
            source: view.source.into(),
            relation: relation.relation_type.as_str().to_owned(),
            target: view.target.into(),
            fact: relation.fact,
            valid_from: times.valid_from,
            valid_to: times.valid_to,
            recorded_at: times.recorded_at,
            invalidated_at: times.invalidated_at,
            invalidated_by: relation.invalidated_by,
            retracted_at: times.retracted_at,
            episodes: relation.episodes,
            mentions: relation.mentions,
        }
    }
}

pub(crate) fn relations(views: Vec<RelationView>) -> Vec<RelationOut> {
    views.into_iter().map(RelationOut::from).collect()
}

/// Entities and the relations between them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Subgraph)]
pub struct SubgraphOut {
    pub nodes: Vec<EntityRefOut>,
    pub edges: Vec<RelationOut>,
}

impl From<Subgraph> for SubgraphOut {
    fn from(subgraph: Subgraph) -> Self {
        SubgraphOut {
            nodes: subgraph.nodes.into_iter().map(EntityRefOut::from).collect(),
            edges: relations(subgraph.edges),
        }
    }
}

/// A plain fact (Mem0's base memory).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Fact)]
pub struct FactOut {
    #[schema(value_type = String, format = "uuid")]
    pub id: FactId,
    #[schema(example = "Alice is vegetarian")]
    pub text: String,
    /// A JSON object.
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Episodes that produced or changed it.
    #[schema(value_type = Vec<String>)]
    pub episodes: Vec<EpisodeId>,
}

impl From<Fact> for FactOut {
    fn from(fact: Fact) -> Self {
        FactOut {
            id: fact.id,
            text: fact.text,
            metadata: fact.metadata,
            created_at: fact.created_at,
            updated_at: fact.updated_at,
            episodes: fact.episodes,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[schema(as = FactEventKind)]
pub enum FactEventKindOut {
    Add,
    Update,
    Delete,
    None,
}

/// One change of a fact; a fact's history survives its deletion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = FactEvent)]
pub struct FactEventOut {
    #[schema(value_type = String, format = "uuid")]
    pub fact_id: FactId,
    pub event: FactEventKindOut,
    pub old_text: Option<String>,
    pub new_text: Option<String>,
    pub at: DateTime<Utc>,
    /// The episode that caused it; null for a direct edit.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub episode: Option<EpisodeId>,
}

impl From<FactEvent> for FactEventOut {
    fn from(event: FactEvent) -> Self {
        FactEventOut {
            fact_id: event.fact_id,
            event: match event.event {
                FactEventKind::Add => FactEventKindOut::Add,
                FactEventKind::Update => FactEventKindOut::Update,
                FactEventKind::Delete => FactEventKindOut::Delete,
                FactEventKind::None => FactEventKindOut::None,
            },
            old_text: event.old_text,
            new_text: event.new_text,
            at: event.at,
            episode: event.episode,
        }
    }
}

/// LLM calls and tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = LlmUsage)]
pub struct LlmUsageOut {
    pub calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl From<LlmUsage> for LlmUsageOut {
    fn from(usage: LlmUsage) -> Self {
        LlmUsageOut {
            calls: usage.calls,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }
    }
}

/// Where an episode is in the ingestion journal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = EpisodeStatus)]
pub enum EpisodeStatusOut {
    Pending,
    Done,
    Failed,
}

/// The status and, when failed, the reason.
pub(crate) fn status(status: EpisodeStatus) -> (EpisodeStatusOut, Option<String>) {
    match status {
        EpisodeStatus::Pending => (EpisodeStatusOut::Pending, None),
        EpisodeStatus::Done => (EpisodeStatusOut::Done, None),
        EpisodeStatus::Failed { reason } => (EpisodeStatusOut::Failed, Some(reason)),
    }
}

/// What an add changed in the graph.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = RelationChanges)]
pub struct RelationChangesOut {
    pub added: Vec<RelationOut>,
    /// Restated relations (more mentions and provenance).
    pub updated: Vec<RelationOut>,
    /// Relations the add ended (superseded).
    pub invalidated: Vec<RelationOut>,
    /// Relations the add retracted (never true).
    pub retracted: Vec<RelationOut>,
    /// Triplets the add did not store, with the reason (a self-loop such as
    /// "Alice KNOWS Alice").
    pub skipped: Vec<SkippedTripletOut>,
}

/// A triplet an add left out, as it was stated.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = SkippedTriplet)]
pub struct SkippedTripletOut {
    pub source: String,
    pub relation: String,
    pub target: String,
    pub reason: String,
}

/// What an add changed among facts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = FactChanges)]
pub struct FactChangesOut {
    pub added: Vec<FactOut>,
    pub updated: Vec<FactOut>,
    #[schema(value_type = Vec<String>)]
    pub deleted: Vec<FactId>,
}

/// The result of an add (`POST /v1/memories` with `wait=true`, `POST /v1/relations`). An
/// LLM failure is not an HTTP error: the status is `failed` with the reason.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddResult {
    #[schema(value_type = String, format = "uuid")]
    pub episode_id: EpisodeId,
    pub status: EpisodeStatusOut,
    /// Why the episode failed (only when `status` is `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub relations: RelationChangesOut,
    pub facts: FactChangesOut,
    pub llm_usage: LlmUsageOut,
    /// The idempotency key was used before: nothing was added, this is the earlier episode.
    pub duplicate: bool,
}

impl From<AddOutcome> for AddResult {
    fn from(outcome: AddOutcome) -> Self {
        let (status, reason) = status(outcome.status);
        let changes = outcome.relations;
        AddResult {
            episode_id: outcome.episode_id,
            status,
            reason,
            relations: RelationChangesOut {
                added: relations(changes.added),
                updated: relations(changes.updated),
                invalidated: relations(changes.invalidated),
                retracted: relations(changes.retracted),
                skipped: changes
                    .skipped
                    .into_iter()
                    .map(|s| SkippedTripletOut {
                        source: s.source,
                        relation: s.relation,
                        target: s.target,
                        reason: s.reason,
                    })
                    .collect(),
            },
            facts: FactChangesOut {
                added: outcome.facts.added.into_iter().map(FactOut::from).collect(),
                updated: outcome
                    .facts
                    .updated
                    .into_iter()
                    .map(FactOut::from)
                    .collect(),
                deleted: outcome.facts.deleted,
            },
            llm_usage: outcome.llm_usage.into(),
            duplicate: outcome.duplicate,
        }
    }
}

/// One ingested batch: the journal entry and where it stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Episode)]
pub struct EpisodeOut {
    #[schema(value_type = String, format = "uuid")]
    pub id: EpisodeId,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    pub status: EpisodeStatusOut,
    /// Why the episode failed (only when `status` is `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Reference time for relative dates in the content.
    pub occurred_at: DateTime<Utc>,
    pub ingested_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    pub metadata: serde_json::Value,
    pub llm_usage: LlmUsageOut,
    /// The journaled input: `{"kind":"messages","messages":[…],"infer":…}` or
    /// `{"kind":"relations","relations":[…]}`.
    pub content: serde_json::Value,
}

impl From<Episode> for EpisodeOut {
    fn from(episode: Episode) -> Self {
        let (status, reason) = status(episode.status);
        // The journal is JSON; should it ever not be, show it as the text it is.
        let content = serde_json::from_str(&episode.content)
            .unwrap_or(serde_json::Value::String(episode.content));
        EpisodeOut {
            id: episode.id,
            user_id: episode.scope.user_id().map(str::to_owned),
            agent_id: episode.scope.agent_id().map(str::to_owned),
            run_id: episode.scope.run_id().map(str::to_owned),
            status,
            reason,
            occurred_at: episode.occurred_at,
            ingested_at: episode.ingested_at,
            idempotency_key: episode.idempotency_key,
            metadata: episode.metadata,
            llm_usage: episode.llm_usage.into(),
            content,
        }
    }
}

/// What a `DELETE` of one record answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// The deleted record's id (absent when a whole scope was erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub id: Option<uuid::Uuid>,
    pub deleted: bool,
}
