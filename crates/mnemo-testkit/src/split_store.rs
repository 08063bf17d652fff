//! `SplitStore`: one object implementing all four store ports by sending graph calls to
//! one backend and vector calls to another (Neo4j + Qdrant, or either paired with the
//! embedded store), so the contract suite and the pipeline tests can run on any pairing.

use std::sync::Arc;

use async_trait::async_trait;
use mnemo_core::ports::{
    Changes, EpisodeInsert, Footprint, GraphCounts, GraphRead, GraphWrite, Page, RelationQuery,
    RelationVector, Scored, VectorCounts, VectorRead, VectorWrite, WriteOp,
};
use mnemo_core::{
    Entity, EntityId, Episode, EpisodeId, Fact, FactEvent, FactId, Relation, RelationId,
    RelationTimes, Scope, ScopeSummary, StoreError, Timestamp, Visibility,
};

/// Graph ports from `graph`, vector ports from `vectors`.
#[derive(Clone)]
pub struct SplitStore {
    pub graph: Arc<dyn GraphWrite>,
    pub vectors: Arc<dyn VectorWrite>,
}

impl SplitStore {
    pub fn new(graph: Arc<dyn GraphWrite>, vectors: Arc<dyn VectorWrite>) -> SplitStore {
        SplitStore { graph, vectors }
    }
}

#[async_trait]
impl GraphRead for SplitStore {
    async fn ping(&self) -> Result<(), StoreError> {
        GraphRead::ping(&*self.graph).await
    }

    async fn entity(&self, scope: &Scope, id: EntityId) -> Result<Option<Entity>, StoreError> {
        self.graph.entity(scope, id).await
    }

    async fn entity_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<Entity>, StoreError> {
        self.graph.entity_by_name(scope, name).await
    }

    async fn entities(&self, scope: &Scope, page: Page) -> Result<Vec<Entity>, StoreError> {
        self.graph.entities(scope, page).await
    }

    async fn search_entities_text(
        &self,
        scope: &Scope,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        self.graph.search_entities_text(scope, query, limit).await
    }

    async fn search_entities_vector(
        &self,
        scope: &Scope,
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        self.graph.search_entities_vector(scope, query, limit).await
    }

    async fn relation(
        &self,
        scope: &Scope,
        id: RelationId,
    ) -> Result<Option<Relation>, StoreError> {
        self.graph.relation(scope, id).await
    }

    async fn relations(
        &self,
        scope: &Scope,
        query: &RelationQuery,
    ) -> Result<Vec<Relation>, StoreError> {
        self.graph.relations(scope, query).await
    }

    async fn changes(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Changes, StoreError> {
        self.graph.changes(scope, since, until).await
    }

    async fn episode(&self, id: EpisodeId) -> Result<Option<Episode>, StoreError> {
        self.graph.episode(id).await
    }

    async fn pending_episodes(&self, limit: usize) -> Result<Vec<Episode>, StoreError> {
        self.graph.pending_episodes(limit).await
    }

    async fn recent_episodes(
        &self,
        scope: &Scope,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Episode>, StoreError> {
        self.graph.recent_episodes(scope, before, limit).await
    }

    async fn episode_footprint(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Footprint, StoreError> {
        self.graph.episode_footprint(scope, episode).await
    }

    async fn scope_summary(&self, scope: &Scope) -> Result<Option<ScopeSummary>, StoreError> {
        self.graph.scope_summary(scope).await
    }

    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        self.graph.scopes().await
    }

    async fn counts(&self) -> Result<GraphCounts, StoreError> {
        GraphRead::counts(&*self.graph).await
    }
}

#[async_trait]
impl GraphWrite for SplitStore {
    async fn insert_episode(&self, episode: &Episode) -> Result<EpisodeInsert, StoreError> {
        self.graph.insert_episode(episode).await
    }

    async fn apply(&self, scope: &Scope, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.graph.apply(scope, ops).await
    }

    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        GraphWrite::erase_scope(&*self.graph, scope).await
    }

    async fn put_scope_summary(&self, summary: &ScopeSummary) -> Result<(), StoreError> {
        self.graph.put_scope_summary(summary).await
    }
}

#[async_trait]
impl VectorRead for SplitStore {
    async fn ping(&self) -> Result<(), StoreError> {
        VectorRead::ping(&*self.vectors).await
    }

    async fn search_relations(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
        at: Visibility,
    ) -> Result<Vec<Scored<RelationId>>, StoreError> {
        self.vectors.search_relations(scope, query, k, at).await
    }

    async fn fact(&self, scope: &Scope, id: FactId) -> Result<Option<Fact>, StoreError> {
        self.vectors.fact(scope, id).await
    }

    async fn facts(&self, scope: &Scope, page: Page) -> Result<Vec<Fact>, StoreError> {
        self.vectors.facts(scope, page).await
    }

    async fn search_facts(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError> {
        self.vectors.search_facts(scope, query, k).await
    }

    async fn search_facts_text(
        &self,
        scope: &Scope,
        query: &str,
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError> {
        self.vectors.search_facts_text(scope, query, k).await
    }

    async fn fact_history(&self, scope: &Scope, id: FactId) -> Result<Vec<FactEvent>, StoreError> {
        self.vectors.fact_history(scope, id).await
    }

    async fn fact_events_of_episode(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Vec<FactEvent>, StoreError> {
        self.vectors.fact_events_of_episode(scope, episode).await
    }

    async fn counts(&self) -> Result<VectorCounts, StoreError> {
        VectorRead::counts(&*self.vectors).await
    }
}

#[async_trait]
impl VectorWrite for SplitStore {
    async fn upsert_relation_vectors(&self, items: &[RelationVector]) -> Result<(), StoreError> {
        self.vectors.upsert_relation_vectors(items).await
    }

    async fn set_relation_times(
        &self,
        scope: &Scope,
        id: RelationId,
        times: RelationTimes,
    ) -> Result<(), StoreError> {
        self.vectors.set_relation_times(scope, id, times).await
    }

    async fn delete_relation_vectors(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<(), StoreError> {
        self.vectors.delete_relation_vectors(scope, ids).await
    }

    async fn put_fact(
        &self,
        fact: &Fact,
        vector: &[f32],
        event: &FactEvent,
    ) -> Result<(), StoreError> {
        self.vectors.put_fact(fact, vector, event).await
    }

    async fn delete_fact(
        &self,
        scope: &Scope,
        id: FactId,
        event: &FactEvent,
    ) -> Result<(), StoreError> {
        self.vectors.delete_fact(scope, id, event).await
    }

    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        VectorWrite::erase_scope(&*self.vectors, scope).await
    }
}
