//! The ports: what the pipelines need from a graph store, a vector store and an embedder.
//!
//! Reads and writes are split (`GraphRead`/`GraphWrite`, `VectorRead`/`VectorWrite`) so
//! retrievers can only be handed read access. Every method takes the full [`Scope`]; an
//! implementation must never return or touch data of another scope.

use crate::{
    EmbedError, Entity, EntityId, Episode, EpisodeId, EpisodeStatus, Fact, FactEvent, FactId,
    LlmUsage, Relation, RelationId, RelationTimes, RelationType, Scope, ScopeSummary, StatedEnd,
    StoreError, Timestamp, Visibility,
};
use async_trait::async_trait;

/// A search hit with its similarity (cosine for vectors, higher is better for text).
#[derive(Clone, Debug, PartialEq)]
pub struct Scored<T> {
    pub item: T,
    pub score: f32,
}

/// Offset pagination for listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

/// Which relations [`GraphRead::relations`] returns; every query uses an index
/// (the entity's adjacency or the relation type), never a scan of the scope.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationQuery {
    /// Relations whose source or target is this entity.
    pub entity: Option<EntityId>,
    /// With `entity`: only relations where the entity is the source.
    pub outgoing_only: bool,
    pub relation_type: Option<RelationType>,
    /// `Some`: only relations visible at that point. `None`: the full timeline,
    /// including ended and retracted relations.
    pub visible_at: Option<Visibility>,
    pub limit: usize,
}

/// Relations whose transaction-time events fall in a window `[since, until)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// `recorded_at` in the window.
    pub added: Vec<Relation>,
    /// `invalidated_at` in the window.
    pub invalidated: Vec<Relation>,
    /// `retracted_at` in the window.
    pub retracted: Vec<Relation>,
}

/// What one episode did to the graph, found through indexes (for reverting it and for
/// reconciling the vector store after a crash).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Footprint {
    /// Relations whose provenance contains the episode.
    pub stated: Vec<Relation>,
    /// Relations the episode ended or retracted (`invalidated_in` = the episode).
    pub ended: Vec<Relation>,
    /// Entities the episode mentions.
    pub mentioned: Vec<EntityId>,
    /// Aliases the episode added, by entity, sorted.
    pub aliases: Vec<(EntityId, String)>,
}

/// Sizes of the graph across all scopes (for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphCounts {
    pub entities: u64,
    pub relations: u64,
    pub episodes_pending: u64,
    pub episodes_done: u64,
    pub episodes_failed: u64,
    /// Undecodable records reads have skipped since the store was opened.
    pub corrupt_skipped: u64,
}

/// Sizes of the vector store across all scopes (for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VectorCounts {
    pub relation_vectors: u64,
    pub facts: u64,
    /// Undecodable records reads have skipped since the store was opened.
    pub corrupt_skipped: u64,
}

/// What [`GraphWrite::insert_episode`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum EpisodeInsert {
    Inserted,
    /// An episode with the same idempotency key exists in the scope; nothing was written.
    Duplicate(Box<Episode>),
}

/// One change to the graph. A batch of these is applied in one transaction by
/// [`GraphWrite::apply`]: all of them, or (on any error) none.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    /// Insert, or replace the entity with the same id. A different id with the same name
    /// (or an alias equal to another entity's name) in the scope is a `Conflict`.
    UpsertEntity(Entity),
    /// Insert a new relation; both entities must exist in the scope.
    AddRelation(Relation),
    /// A restatement: `mentions += 1` and the episode added to provenance (once).
    AddProvenance {
        relation: RelationId,
        episode: EpisodeId,
    },
    /// Undo [`WriteOp::AddProvenance`]: `mentions -= 1` (never below 1) and the episode
    /// removed from provenance.
    RemoveProvenance {
        relation: RelationId,
        episode: EpisodeId,
    },
    /// Close the relation's validity interval; `episode` (stored as `invalidated_in`) is
    /// the episode whose arrival ended it. `invalidated_at: None`: the end was known when
    /// the relation was recorded (a relation placed before one recorded earlier). The
    /// stored `stated_end` is untouched: a cut never changes the relation's own end.
    EndRelation {
        relation: RelationId,
        valid_to: Timestamp,
        invalidated_at: Option<Timestamp>,
        invalidated_by: Option<RelationId>,
        episode: Option<EpisodeId>,
    },
    /// Mark the relation as never true; `episode` as in [`WriteOp::EndRelation`].
    RetractRelation {
        relation: RelationId,
        retracted_at: Timestamp,
        episode: Option<EpisodeId>,
    },
    /// Undo an end or retraction: restore the given times and clear `invalidated_by` and
    /// `invalidated_in`.
    RestoreRelation {
        relation: RelationId,
        times: RelationTimes,
    },
    /// Replace the relation's own end (`Relation::stated_end`) and nothing else: a
    /// restatement gives one, deleting that restatement's episode takes it away.
    SetStatedEnd {
        relation: RelationId,
        stated_end: Option<StatedEnd>,
    },
    /// Remove a relation entirely (only for reverting the episode that created it).
    DeleteRelation { relation: RelationId },
    /// Remove an entity and its mentions; a `Conflict` while any relation touches it.
    DeleteEntity { entity: EntityId },
    /// `(:Episode)-[:MENTIONS]->(:Entity)`.
    Mention {
        episode: EpisodeId,
        entity: EntityId,
    },
    /// The episode added `alias` to the entity's aliases (after its `Mention`), so
    /// deleting the episode removes the alias again.
    RecordAlias {
        episode: EpisodeId,
        entity: EntityId,
        alias: String,
    },
    /// Set the episode's status and its total LLM usage so far.
    SetEpisodeStatus {
        episode: EpisodeId,
        status: EpisodeStatus,
        llm_usage: LlmUsage,
    },
    /// Remove the episode and its mentions (its relations are handled by other ops).
    DeleteEpisode { episode: EpisodeId },
    /// Remove the scope's rolling summary (when an episode it read is deleted; the next
    /// refresh rebuilds it from the episodes that remain).
    DropScopeSummary,
}

impl WriteOp {
    /// Every timestamp of the op is one the store can write and read back
    /// ([`crate::time::check_stored`]); stores call it for a whole batch before their
    /// transaction, so nothing unreadable is ever written.
    pub fn check_times(&self) -> Result<(), crate::ValidationError> {
        use crate::time::check_stored;
        match self {
            WriteOp::UpsertEntity(e) => {
                check_stored("created_at", &e.created_at)?;
                check_stored("updated_at", &e.updated_at)
            }
            WriteOp::AddRelation(r) => {
                r.times.check_stored()?;
                r.stated_end
                    .as_ref()
                    .map_or(Ok(()), StatedEnd::check_stored)
            }
            WriteOp::EndRelation {
                valid_to,
                invalidated_at,
                ..
            } => {
                check_stored("valid_to", valid_to)?;
                invalidated_at
                    .as_ref()
                    .map_or(Ok(()), |at| check_stored("invalidated_at", at))
            }
            WriteOp::RetractRelation { retracted_at, .. } => {
                check_stored("retracted_at", retracted_at)
            }
            WriteOp::RestoreRelation { times, .. } => times.check_stored(),
            WriteOp::SetStatedEnd { stated_end, .. } => {
                stated_end.as_ref().map_or(Ok(()), StatedEnd::check_stored)
            }
            WriteOp::AddProvenance { .. }
            | WriteOp::RemoveProvenance { .. }
            | WriteOp::DeleteRelation { .. }
            | WriteOp::DeleteEntity { .. }
            | WriteOp::Mention { .. }
            | WriteOp::RecordAlias { .. }
            | WriteOp::SetEpisodeStatus { .. }
            | WriteOp::DeleteEpisode { .. }
            | WriteOp::DropScopeSummary => Ok(()),
        }
    }
}

/// [`WriteOp::check_times`] over a batch.
pub fn check_times(ops: &[WriteOp]) -> Result<(), crate::ValidationError> {
    ops.iter().try_for_each(WriteOp::check_times)
}

/// Read access to the graph and the episode journal.
#[async_trait]
pub trait GraphRead: Send + Sync {
    /// Succeeds when the backend is reachable and usable (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    async fn entity(&self, scope: &Scope, id: EntityId) -> Result<Option<Entity>, StoreError>;

    /// [`GraphRead::entity`] of each id, in order, in one round trip where the backend can
    /// (a search loads the ends of the relations it shows at once).
    async fn entities_by_ids(
        &self,
        scope: &Scope,
        ids: &[EntityId],
    ) -> Result<Vec<Option<Entity>>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for &id in ids {
            found.push(self.entity(scope, id).await?);
        }
        Ok(found)
    }

    /// Exact match of the normalised name against entity names and aliases.
    async fn entity_by_name(&self, scope: &Scope, name: &str)
    -> Result<Option<Entity>, StoreError>;

    /// [`GraphRead::entity_by_name`] of each name, in order. A backend answers them in one
    /// round trip where it can (the write path looks up every span of a message at once).
    async fn entities_by_names(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> Result<Vec<Option<Entity>>, StoreError> {
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            found.push(self.entity_by_name(scope, name).await?);
        }
        Ok(found)
    }

    async fn entities(&self, scope: &Scope, page: Page) -> Result<Vec<Entity>, StoreError>;

    /// Full-text search over entity names and aliases, best first.
    async fn search_entities_text(
        &self,
        scope: &Scope,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError>;

    /// Nearest entities by name embedding (cosine), best first.
    async fn search_entities_vector(
        &self,
        scope: &Scope,
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError>;

    async fn relation(&self, scope: &Scope, id: RelationId)
    -> Result<Option<Relation>, StoreError>;

    /// [`GraphRead::relation`] of each id, in order. A backend answers them in one round
    /// trip where it can (a search loads its nearest relations at once).
    async fn relations_by_ids(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<Vec<Option<Relation>>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for &id in ids {
            found.push(self.relation(scope, id).await?);
        }
        Ok(found)
    }

    /// Relations by entity and/or type, optionally filtered by visibility, ordered by
    /// `recorded_at` then id.
    async fn relations(
        &self,
        scope: &Scope,
        query: &RelationQuery,
    ) -> Result<Vec<Relation>, StoreError>;

    /// Relations added, invalidated or retracted in the transaction-time window
    /// `[since, until)`.
    async fn changes(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Changes, StoreError>;

    /// An episode by id, whatever its scope (callers check the scope).
    async fn episode(&self, id: EpisodeId) -> Result<Option<Episode>, StoreError>;

    /// Episodes still `pending`, oldest first, across all scopes (resumed on start).
    async fn pending_episodes(&self, limit: usize) -> Result<Vec<Episode>, StoreError>;

    /// The scope's episodes ingested strictly before `before`, newest first (the recent
    /// messages the extractor sees).
    async fn recent_episodes(
        &self,
        scope: &Scope,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Episode>, StoreError>;

    /// What the episode stated, ended and mentioned in the scope.
    async fn episode_footprint(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Footprint, StoreError>;

    async fn scope_summary(&self, scope: &Scope) -> Result<Option<ScopeSummary>, StoreError>;

    /// Every scope holding an entity or an episode, in [`Scope::key`] order (for export).
    async fn scopes(&self) -> Result<Vec<Scope>, StoreError>;

    /// Record counts across all scopes.
    async fn counts(&self) -> Result<GraphCounts, StoreError>;
}

/// Write access to the graph and the episode journal.
#[async_trait]
pub trait GraphWrite: GraphRead {
    /// Journals an episode durably. With an idempotency key already used in the scope,
    /// writes nothing and returns the existing episode.
    async fn insert_episode(&self, episode: &Episode) -> Result<EpisodeInsert, StoreError>;

    /// Applies every op in one transaction; on error nothing is applied. Every op must
    /// refer to records of `scope`, else `NotFound`.
    async fn apply(&self, scope: &Scope, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Hard-deletes everything of the scope: entities, relations, episodes, summary.
    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError>;

    /// Inserts or replaces the scope's rolling summary.
    async fn put_scope_summary(&self, summary: &ScopeSummary) -> Result<(), StoreError>;
}

/// One fact for [`VectorWrite::put_facts`]: the fact, its embedding and the history event.
#[derive(Clone, Debug)]
pub struct FactPut {
    pub fact: Fact,
    pub vector: Vec<f32>,
    pub event: FactEvent,
}

/// A relation's embedding with the payload vector search filters on.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationVector {
    pub id: RelationId,
    pub scope: Scope,
    pub times: RelationTimes,
    /// Unit length.
    pub vector: Vec<f32>,
}

/// Read access to relation embeddings and facts.
#[async_trait]
pub trait VectorRead: Send + Sync {
    async fn ping(&self) -> Result<(), StoreError>;

    /// Nearest relations visible at `at`, best first (the filter is applied inside the
    /// search, so `k` visible hits come back when there are that many).
    async fn search_relations(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
        at: Visibility,
    ) -> Result<Vec<Scored<RelationId>>, StoreError>;

    async fn fact(&self, scope: &Scope, id: FactId) -> Result<Option<Fact>, StoreError>;

    /// Facts of the scope, newest first.
    async fn facts(&self, scope: &Scope, page: Page) -> Result<Vec<Fact>, StoreError>;

    /// Nearest facts by embedding, best first.
    async fn search_facts(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError>;

    /// Full-text search over fact text, best first.
    async fn search_facts_text(
        &self,
        scope: &Scope,
        query: &str,
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError>;

    /// The fact's events, oldest first; kept after the fact is deleted.
    async fn fact_history(&self, scope: &Scope, id: FactId) -> Result<Vec<FactEvent>, StoreError>;

    /// Every fact event the episode caused in the scope, oldest first (to revert it).
    async fn fact_events_of_episode(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Vec<FactEvent>, StoreError>;

    /// Record counts across all scopes.
    async fn counts(&self) -> Result<VectorCounts, StoreError>;
}

/// Write access to relation embeddings and facts.
#[async_trait]
pub trait VectorWrite: VectorRead {
    /// Inserts or replaces by id.
    async fn upsert_relation_vectors(&self, items: &[RelationVector]) -> Result<(), StoreError>;

    /// Mirrors a relation's new validity (ended, retracted, restored) into the payload.
    async fn set_relation_times(
        &self,
        scope: &Scope,
        id: RelationId,
        times: RelationTimes,
    ) -> Result<(), StoreError>;

    async fn delete_relation_vectors(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<(), StoreError>;

    /// Inserts or replaces the fact and appends `event` to its history, atomically.
    async fn put_fact(
        &self,
        fact: &Fact,
        vector: &[f32],
        event: &FactEvent,
    ) -> Result<(), StoreError>;

    /// [`VectorWrite::put_fact`] of each item; each item is atomic, and a backend writes
    /// them all in one transaction where it can (one commit for all of an episode's
    /// messages). On an error, the items before it may be written.
    async fn put_facts(&self, items: &[FactPut]) -> Result<(), StoreError> {
        for item in items {
            self.put_fact(&item.fact, &item.vector, &item.event).await?;
        }
        Ok(())
    }

    /// Removes the fact (its history stays) and appends `event`, atomically.
    async fn delete_fact(
        &self,
        scope: &Scope,
        id: FactId,
        event: &FactEvent,
    ) -> Result<(), StoreError>;

    /// Hard-deletes every vector, fact and history row of the scope.
    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError>;
}

/// Turns text into unit-length vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Length of every vector returned.
    fn dimension(&self) -> usize;

    /// The model's name, for logs and `/readyz`.
    fn model_name(&self) -> &str;

    /// One vector per input, in order. Implementations batch and keep CPU work off the
    /// async runtime.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// [`Embedder::embed`] for a search (its query, its phrases): the same vectors, but an
    /// implementation may serve it after waiting writes, whose callers hold a scope's
    /// write lock or a client's add.
    async fn embed_query(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed(texts).await
    }
}

/// Counts tokens the way the budgeted text will be counted (a real tokenizer).
pub trait TokenCounter: Send + Sync {
    fn count(&self, text: &str) -> usize;
}
