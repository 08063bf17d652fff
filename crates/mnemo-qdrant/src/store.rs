//! `VectorRead` and `VectorWrite` over the three collections. Every read is a request
//! filtered inside Qdrant by the scope (and, for relations, by visibility); every write waits
//! until Qdrant has applied it, so the next read sees it.
//!
//! Qdrant has no transaction across collections, so the fact writes that the port asks to
//! be atomic are ordered instead: the history event first, then the fact. A crash between
//! the two leaves an event whose change did not happen — reverting the episode then finds
//! it and undoes a no-op — rather than a changed fact that its episode's revert cannot find.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mnemo_core::ports::{Page, RelationVector, Scored, VectorCounts, VectorRead, VectorWrite};
use mnemo_core::time::check_stored;
use mnemo_core::{
    EpisodeId, Fact, FactEvent, FactId, RelationId, RelationTimes, Scope, StoreError, Visibility,
};
use qdrant_client::qdrant::{
    CountPointsBuilder, DeletePointsBuilder, Direction, Filter, GetPointsBuilder, OrderBy, PointId,
    PointStruct, PointsOperationResponse, Query, QueryPointsBuilder, RetrievedPoint,
    ScrollPointsBuilder, SetPayloadPointsBuilder, UpdateStatus, UpsertPointsBuilder,
};
use uuid::Uuid;

use crate::QdrantStore;
use crate::error::{QdrantStoreError, Result};
use crate::filter::{
    query_words, scope_and_ids, scope_and_keyword, scope_filter, text_tier, visibility_filter,
};
use crate::payload::{
    CREATED_AT, EPISODE, FACT_ID, event_from_payload, event_payload, fact_from_payload,
    fact_payload, in_scope, point_id, point_uuid, relation_payload, times_payload,
};
use crate::schema::HISTORY_DIMENSION;

/// Points per scroll page and per upsert request.
const BATCH: usize = 256;

/// Writes must be applied before they return (reads right after them must see them).
fn applied(action: &'static str, response: PointsOperationResponse) -> Result<()> {
    let status = response.result.map(|r| r.status);
    match status.and_then(|s| UpdateStatus::try_from(s).ok()) {
        Some(UpdateStatus::Completed | UpdateStatus::Acknowledged) => Ok(()),
        other => Err(QdrantStoreError::NotApplied {
            action,
            status: other.map_or_else(
                || format!("status {status:?}"),
                |s| s.as_str_name().to_owned(),
            ),
        }),
    }
}

fn check_event_fact(event: &FactEvent, id: FactId) -> Result<()> {
    if event.fact_id == id {
        Ok(())
    } else {
        Err(QdrantStoreError::Conflict(format!(
            "history event of fact {} given for fact {id}",
            event.fact_id
        )))
    }
}

fn fact_of(point: &RetrievedPoint) -> Result<Fact> {
    fact_from_payload(point_uuid(point.id.as_ref())?, &point.payload)
}

impl QdrantStore {
    /// `decoded` as `Some`, or `None` for a point whose payload does not decode: logged
    /// with its id, counted and skipped, so one bad point never fails the read.
    fn keep<T>(
        &self,
        what: &'static str,
        id: &Option<PointId>,
        decoded: Result<T>,
    ) -> Result<Option<T>> {
        match decoded {
            Ok(value) => Ok(Some(value)),
            Err(error @ QdrantStoreError::Corrupt { .. }) => {
                let id =
                    point_uuid(id.as_ref()).map_or_else(|_| format!("{id:?}"), |u| u.to_string());
                self.skipped.skip(what, &id, &error);
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }
}

fn limit_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl QdrantStore {
    fn check_vector(&self, v: &[f32]) -> Result<()> {
        if v.len() == self.dimension {
            Ok(())
        } else {
            Err(QdrantStoreError::VectorLength {
                expected: self.dimension,
                got: v.len(),
            })
        }
    }

    /// The point `id` of `collection` with its payload, when it belongs to `scope`.
    async fn point_in_scope(
        &self,
        collection: &str,
        scope: &Scope,
        id: Uuid,
    ) -> Result<Option<RetrievedPoint>> {
        let response = self
            .client
            .get_points(GetPointsBuilder::new(collection, vec![point_id(id)]).with_payload(true))
            .await
            .map_err(QdrantStoreError::request("reading a point"))?;
        Ok(response
            .result
            .into_iter()
            .find(|p| in_scope(&p.payload, scope)))
    }

    /// Every point matching `filter`, page by page (for histories: a handful of points).
    async fn scroll_all(&self, collection: &str, filter: Filter) -> Result<Vec<RetrievedPoint>> {
        let mut points = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(collection)
                .filter(filter.clone())
                .limit(limit_u32(BATCH))
                .with_payload(true);
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let page = self
                .client
                .scroll(request)
                .await
                .map_err(QdrantStoreError::request("scrolling points"))?;
            points.extend(page.result);
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(points),
            }
        }
    }

    /// Fact events matching `filter`, oldest first (ties in insertion order: history point
    /// ids are time-ordered UUIDv7).
    async fn events(&self, filter: Filter) -> Result<Vec<FactEvent>> {
        let mut events = Vec::new();
        for p in self.scroll_all(&self.collections.history, filter).await? {
            let decoded = event_from_payload(&p.payload)
                .and_then(|event| Ok((event, point_uuid(p.id.as_ref())?)));
            events.extend(self.keep("fact history", &p.id, decoded)?);
        }
        events.sort_by(|(a, a_id), (b, b_id)| a.at.cmp(&b.at).then(a_id.cmp(b_id)));
        Ok(events.into_iter().map(|(event, _)| event).collect())
    }

    async fn append_event(&self, scope: &Scope, event: &FactEvent) -> Result<()> {
        let point = PointStruct::new(
            point_id(Uuid::now_v7()),
            vec![1.0_f32; HISTORY_DIMENSION],
            event_payload(scope, event),
        );
        let response = self
            .client
            .upsert_points(
                UpsertPointsBuilder::new(&self.collections.history, vec![point]).wait(true),
            )
            .await
            .map_err(QdrantStoreError::request("appending a fact event"))?;
        applied("appending a fact event", response)
    }

    /// Upserts points of one scope; an existing point of another scope with the same id is
    /// left as it is (`update_filter`, Qdrant 1.16+).
    async fn upsert_in_scope(
        &self,
        action: &'static str,
        collection: &str,
        scope: &Scope,
        points: Vec<PointStruct>,
    ) -> Result<()> {
        let response = self
            .client
            .upsert_points(
                UpsertPointsBuilder::new(collection, points)
                    .update_filter(scope_filter(scope))
                    .wait(true),
            )
            .await
            .map_err(QdrantStoreError::request(action))?;
        applied(action, response)
    }

    async fn delete_where(
        &self,
        action: &'static str,
        collection: &str,
        filter: Filter,
    ) -> Result<()> {
        let response = self
            .client
            .delete_points(
                DeletePointsBuilder::new(collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(QdrantStoreError::request(action))?;
        applied(action, response)
    }

    async fn count(&self, collection: &str) -> Result<u64> {
        let response = self
            .client
            .count(CountPointsBuilder::new(collection).exact(true))
            .await
            .map_err(QdrantStoreError::request("counting points"))?;
        Ok(response.result.map_or(0, |r| r.count))
    }

    async fn search_relations_inner(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
        at: Visibility,
    ) -> Result<Vec<Scored<RelationId>>> {
        self.check_vector(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let response = self
            .client
            .query(
                QueryPointsBuilder::new(&self.collections.relations)
                    .query(Query::new_nearest(query.to_vec()))
                    .filter(visibility_filter(scope, &at))
                    .limit(k as u64)
                    .with_payload(false),
            )
            .await
            .map_err(QdrantStoreError::request("searching relations"))?;
        response
            .result
            .into_iter()
            .map(|p| {
                Ok(Scored {
                    item: RelationId::from_uuid(point_uuid(p.id.as_ref())?),
                    score: p.score,
                })
            })
            .collect()
    }

    async fn facts_inner(&self, scope: &Scope, page: Page) -> Result<Vec<Fact>> {
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        // Qdrant orders by `created_at_us` and cannot skip with an ordering, so the first
        // `offset + limit` come back and the offset is dropped here.
        let order = OrderBy {
            key: CREATED_AT.indexed.to_owned(),
            direction: Some(Direction::Desc as i32),
            start_from: None,
        };
        let response = self
            .client
            .scroll(
                ScrollPointsBuilder::new(&self.collections.facts)
                    .filter(scope_filter(scope))
                    .order_by(order)
                    .limit(limit_u32(page.offset.saturating_add(page.limit)))
                    .with_payload(true),
            )
            .await
            .map_err(QdrantStoreError::request("listing facts"))?;
        let mut facts = Vec::with_capacity(response.result.len());
        for point in &response.result {
            facts.extend(self.keep("facts", &point.id, fact_of(point))?);
        }
        // Exact order (the index holds microseconds), ties by id, as the embedded store.
        facts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(facts
            .into_iter()
            .skip(page.offset)
            .take(page.limit)
            .collect())
    }

    async fn search_facts_inner(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Scored<Fact>>> {
        self.check_vector(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let response = self
            .client
            .query(
                QueryPointsBuilder::new(&self.collections.facts)
                    .query(Query::new_nearest(query.to_vec()))
                    .filter(scope_filter(scope))
                    .limit(k as u64)
                    .with_payload(true),
            )
            .await
            .map_err(QdrantStoreError::request("searching facts"))?;
        let mut out = Vec::with_capacity(response.result.len());
        for p in response.result {
            let fact = point_uuid(p.id.as_ref()).and_then(|id| fact_from_payload(id, &p.payload));
            if let Some(item) = self.keep("facts", &p.id, fact)? {
                out.push(Scored {
                    item,
                    score: p.score,
                });
            }
        }
        Ok(out)
    }

    /// Scored by coordination level: the share of the query's distinct words the fact
    /// contains. Found tier by tier inside Qdrant — facts with all `n` words, then at least
    /// `n - 1` (excluding those already found), … — until `k` are found; within a tier, by
    /// id (oldest first).
    async fn search_facts_text_inner(
        &self,
        scope: &Scope,
        query: &str,
        k: usize,
    ) -> Result<Vec<Scored<Fact>>> {
        let words = query_words(query);
        let mut hits: Vec<Scored<Fact>> = Vec::new();
        let mut found: Vec<PointId> = Vec::new();
        for min in (1..=words.len()).rev() {
            let remaining = k.saturating_sub(hits.len());
            if remaining == 0 {
                break;
            }
            let response = self
                .client
                .scroll(
                    ScrollPointsBuilder::new(&self.collections.facts)
                        .filter(text_tier(scope, &words, min, &found))
                        .limit(limit_u32(remaining))
                        .with_payload(true),
                )
                .await
                .map_err(QdrantStoreError::request("searching fact text"))?;
            for point in response.result.iter().take(remaining) {
                found.extend(point.id.clone());
                if let Some(item) = self.keep("facts", &point.id, fact_of(point))? {
                    hits.push(Scored {
                        item,
                        score: min as f32 / words.len() as f32,
                    });
                }
            }
        }
        Ok(hits)
    }

    async fn upsert_relation_vectors_inner(&self, items: &[RelationVector]) -> Result<()> {
        // Nothing that would not read back is written: refused before any request.
        for item in items {
            item.times.check_stored()?;
        }
        let mut by_scope: BTreeMap<String, (&Scope, Vec<PointStruct>)> = BTreeMap::new();
        for item in items {
            self.check_vector(&item.vector)?;
            by_scope
                .entry(item.scope.key())
                .or_insert_with(|| (&item.scope, Vec::new()))
                .1
                .push(PointStruct::new(
                    point_id(item.id.as_uuid()),
                    item.vector.clone(),
                    relation_payload(&item.scope, &item.times),
                ));
        }
        for (scope, points) in by_scope.into_values() {
            for chunk in points.chunks(BATCH) {
                self.upsert_in_scope(
                    "upserting relation vectors",
                    &self.collections.relations,
                    scope,
                    chunk.to_vec(),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn set_relation_times_inner(
        &self,
        scope: &Scope,
        id: RelationId,
        times: RelationTimes,
    ) -> Result<()> {
        times.check_stored()?;
        let relations = &self.collections.relations;
        if self
            .point_in_scope(relations, scope, id.as_uuid())
            .await?
            .is_none()
        {
            return Err(QdrantStoreError::not_found("relation vector", id));
        }
        let response = self
            .client
            .set_payload(
                SetPayloadPointsBuilder::new(relations, times_payload(&times))
                    .points_selector(scope_and_ids(scope, vec![point_id(id.as_uuid())]))
                    .wait(true),
            )
            .await
            .map_err(QdrantStoreError::request("setting relation times"))?;
        applied("setting relation times", response)
    }

    async fn put_fact_inner(&self, fact: &Fact, vector: &[f32], event: &FactEvent) -> Result<()> {
        self.check_vector(vector)?;
        check_stored("created_at", &fact.created_at)?;
        check_stored("updated_at", &fact.updated_at)?;
        check_stored("at", &event.at)?;
        check_event_fact(event, fact.id)?;
        self.append_event(&fact.scope, event).await?;
        let point = PointStruct::new(
            point_id(fact.id.as_uuid()),
            vector.to_vec(),
            fact_payload(fact),
        );
        self.upsert_in_scope(
            "putting a fact",
            &self.collections.facts,
            &fact.scope,
            vec![point],
        )
        .await
    }

    async fn delete_fact_inner(&self, scope: &Scope, id: FactId, event: &FactEvent) -> Result<()> {
        check_event_fact(event, id)?;
        check_stored("at", &event.at)?;
        let facts = &self.collections.facts;
        if self
            .point_in_scope(facts, scope, id.as_uuid())
            .await?
            .is_none()
        {
            return Err(QdrantStoreError::not_found("fact", id));
        }
        self.append_event(scope, event).await?;
        self.delete_where(
            "deleting a fact",
            facts,
            scope_and_ids(scope, vec![point_id(id.as_uuid())]),
        )
        .await
    }

    async fn erase_scope_inner(&self, scope: &Scope) -> Result<()> {
        let c = &self.collections;
        for collection in [&c.relations, &c.facts, &c.history] {
            self.delete_where("erasing a scope", collection, scope_filter(scope))
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl VectorRead for QdrantStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.health().await.map(drop)?)
    }

    async fn search_relations(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
        at: Visibility,
    ) -> Result<Vec<Scored<RelationId>>, StoreError> {
        Ok(self.search_relations_inner(scope, query, k, at).await?)
    }

    async fn fact(&self, scope: &Scope, id: FactId) -> Result<Option<Fact>, StoreError> {
        let point = self
            .point_in_scope(&self.collections.facts, scope, id.as_uuid())
            .await?;
        Ok(point.as_ref().map(fact_of).transpose()?)
    }

    async fn facts(&self, scope: &Scope, page: Page) -> Result<Vec<Fact>, StoreError> {
        Ok(self.facts_inner(scope, page).await?)
    }

    async fn search_facts(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError> {
        Ok(self.search_facts_inner(scope, query, k).await?)
    }

    async fn search_facts_text(
        &self,
        scope: &Scope,
        query: &str,
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError> {
        Ok(self.search_facts_text_inner(scope, query, k).await?)
    }

    async fn fact_history(&self, scope: &Scope, id: FactId) -> Result<Vec<FactEvent>, StoreError> {
        Ok(self
            .events(scope_and_keyword(scope, FACT_ID, id.to_string()))
            .await?)
    }

    async fn fact_events_of_episode(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Vec<FactEvent>, StoreError> {
        Ok(self
            .events(scope_and_keyword(scope, EPISODE, episode.to_string()))
            .await?)
    }

    async fn counts(&self) -> Result<VectorCounts, StoreError> {
        Ok(VectorCounts {
            relation_vectors: self.count(&self.collections.relations).await?,
            facts: self.count(&self.collections.facts).await?,
            corrupt_skipped: self.skipped.count(),
        })
    }
}

#[async_trait]
impl VectorWrite for QdrantStore {
    async fn upsert_relation_vectors(&self, items: &[RelationVector]) -> Result<(), StoreError> {
        Ok(self.upsert_relation_vectors_inner(items).await?)
    }

    async fn set_relation_times(
        &self,
        scope: &Scope,
        id: RelationId,
        times: RelationTimes,
    ) -> Result<(), StoreError> {
        Ok(self.set_relation_times_inner(scope, id, times).await?)
    }

    async fn delete_relation_vectors(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.iter().map(|id| point_id(id.as_uuid())).collect();
        Ok(self
            .delete_where(
                "deleting relation vectors",
                &self.collections.relations,
                scope_and_ids(scope, ids),
            )
            .await?)
    }

    async fn put_fact(
        &self,
        fact: &Fact,
        vector: &[f32],
        event: &FactEvent,
    ) -> Result<(), StoreError> {
        Ok(self.put_fact_inner(fact, vector, event).await?)
    }

    async fn delete_fact(
        &self,
        scope: &Scope,
        id: FactId,
        event: &FactEvent,
    ) -> Result<(), StoreError> {
        Ok(self.delete_fact_inner(scope, id, event).await?)
    }

    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        Ok(self.erase_scope_inner(scope).await?)
    }
}
