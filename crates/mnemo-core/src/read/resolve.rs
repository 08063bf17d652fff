//! Turning relations into what readers see: views with their entities' names (looked up
//! once per search), and relations as they were known at a transaction time.

use std::collections::HashMap;

use crate::ports::GraphRead;
use crate::{
    Entity, EntityId, EntityRef, Relation, RelationId, RelationView, Scope, StoreError, Timestamp,
};

/// The entities of one read, by id, loaded on first use.
#[derive(Clone)]
pub(crate) struct Names<'a> {
    graph: &'a dyn GraphRead,
    scope: &'a Scope,
    known: HashMap<EntityId, Option<EntityRef>>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(graph: &'a dyn GraphRead, scope: &'a Scope) -> Self {
        Names {
            graph,
            scope,
            known: HashMap::new(),
        }
    }

    /// Entities already loaded by another read (a walk's), so they are not fetched again.
    pub(crate) fn remember(&mut self, entities: &[Entity]) {
        for entity in entities {
            self.known.insert(entity.id, Some(EntityRef::from(entity)));
        }
    }

    /// Whether the entity is loaded (or known to be missing).
    pub(crate) fn knows(&self, id: EntityId) -> bool {
        self.known.contains_key(&id)
    }

    /// Loads entities without caching them (for a load beside other work; see
    /// [`Names::insert`]), in order, in one read.
    pub(crate) async fn load_all(
        &self,
        ids: &[EntityId],
    ) -> Result<Vec<Option<EntityRef>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.graph.entities_by_ids(self.scope, ids).await?;
        Ok(found
            .iter()
            .map(|e| e.as_ref().map(EntityRef::from))
            .collect())
    }

    pub(crate) fn insert(&mut self, id: EntityId, entity: Option<EntityRef>) {
        self.known.insert(id, entity);
    }

    /// A relation of the scope by id.
    pub(crate) async fn relation(&self, id: RelationId) -> Result<Option<Relation>, StoreError> {
        self.graph.relation(self.scope, id).await
    }

    /// Relations of the scope by id, in order, in one read.
    pub(crate) async fn relations(
        &self,
        ids: &[RelationId],
    ) -> Result<Vec<Option<Relation>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.graph.relations_by_ids(self.scope, ids).await
    }

    /// Loads the entities of `ids` not known yet, in one read.
    pub(crate) async fn prefetch(
        &mut self,
        ids: impl IntoIterator<Item = EntityId>,
    ) -> Result<(), StoreError> {
        let mut missing: Vec<EntityId> = Vec::new();
        for id in ids {
            if !self.known.contains_key(&id) && !missing.contains(&id) {
                missing.push(id);
            }
        }
        let found = self.load_all(&missing).await?;
        for (id, found) in missing.into_iter().zip(found) {
            self.known.insert(id, found);
        }
        Ok(())
    }

    async fn get(&mut self, id: EntityId) -> Result<Option<EntityRef>, StoreError> {
        if let Some(known) = self.known.get(&id) {
            return Ok(known.clone());
        }
        let found = self.graph.entity(self.scope, id).await?;
        let found = found.as_ref().map(EntityRef::from);
        self.known.insert(id, found.clone());
        Ok(found)
    }

    /// The relation with its ends' names; `None` when an end no longer exists.
    pub(crate) async fn view(
        &mut self,
        relation: Relation,
    ) -> Result<Option<RelationView>, StoreError> {
        let Some(source) = self.get(relation.source).await? else {
            return Ok(None);
        };
        let Some(target) = self.get(relation.target).await? else {
            return Ok(None);
        };
        Ok(Some(RelationView {
            relation,
            source,
            target,
        }))
    }

    /// Views of `relations` in order, skipping those with a missing end.
    pub(crate) async fn views(
        &mut self,
        relations: Vec<Relation>,
    ) -> Result<Vec<RelationView>, StoreError> {
        let mut out = Vec::with_capacity(relations.len());
        for relation in relations {
            out.extend(self.view(relation).await?);
        }
        Ok(out)
    }
}

/// The relation as mnemo knew it at `known_at`: an end or a retraction learned later is
/// not shown, so a read "as known last week" does not leak what was learned since.
pub(crate) fn as_known_at(mut relation: Relation, known_at: Timestamp) -> Relation {
    let times = &mut relation.times;
    if times.invalidated_at.is_some_and(|i| i > known_at) {
        times.valid_to = None;
        times.invalidated_at = None;
        relation.invalidated_by = None;
        relation.invalidated_in = None;
    }
    if times.retracted_at.is_some_and(|r| r > known_at) {
        times.retracted_at = None;
        if times.invalidated_at.is_none() && times.valid_to.is_none() {
            relation.invalidated_in = None;
        }
    }
    relation
}
