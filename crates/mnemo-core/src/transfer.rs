//! Export and import of whole scopes as flat records (`mnemo export` / `mnemo import`):
//! episodes, entities with their embeddings, relations with every temporal field and
//! their provenance, mentions, facts with their history, and the rolling summary.
//!
//! Core knows no IO: the binary writes and reads the records (one JSON object per line,
//! tagged by `kind`). Importing an export into an empty store reproduces the same graph:
//! same ids, times, provenance and history; relation and fact vectors are embedded again
//! from their text (entity embeddings travel in the records).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::ports::{EpisodeInsert, Page, RelationQuery, RelationVector, WriteOp};
use crate::{
    Entity, EntityId, Episode, EpisodeId, Fact, FactEvent, FactEventKind, FactId, Memory,
    MemoryError, Relation, RelationId, Scope, ScopeSummary, StoreError, Timestamp, ValidationError,
    time,
};

/// Rows read per listing call while exporting.
const EXPORT_PAGE: usize = 1_000;
/// Texts embedded per call while importing.
const EMBED_BATCH: usize = 256;
/// "No limit" for relation listings (kept within `i64` for backends that need it).
const ALL: usize = i64::MAX as usize;

/// One exported record. Every record carries its scope; the JSON form is the domain
/// type's fields plus `"kind"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Episode(Episode),
    Entity(Entity),
    Relation(Relation),
    Mention(Mention),
    Fact(Fact),
    FactEvent(ScopedFactEvent),
    /// The scope's rolling summary (what the extractor sees of older conversation).
    Summary(ScopeSummary),
}

/// `(:Episode)-[:MENTIONS]->(:Entity)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    pub scope: Scope,
    pub episode: EpisodeId,
    pub entity: EntityId,
    /// The aliases the episode added to the entity (deleting the episode removes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// One row of a fact's history, with the scope it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopedFactEvent {
    pub scope: Scope,
    #[serde(flatten)]
    pub event: FactEvent,
}

impl Record {
    pub fn scope(&self) -> &Scope {
        match self {
            Record::Episode(episode) => &episode.scope,
            Record::Entity(entity) => &entity.scope,
            Record::Relation(relation) => &relation.scope,
            Record::Mention(mention) => &mention.scope,
            Record::Fact(fact) => &fact.scope,
            Record::FactEvent(event) => &event.scope,
            Record::Summary(summary) => &summary.scope,
        }
    }

    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Episode(_) => "episode",
            Record::Entity(_) => "entity",
            Record::Relation(_) => "relation",
            Record::Mention(_) => "mention",
            Record::Fact(_) => "fact",
            Record::FactEvent(_) => "fact_event",
            Record::Summary(_) => "summary",
        }
    }
}

impl Record {
    /// Every timestamp of the record within the supported range ([`time::check_stored`]),
    /// so an import file cannot store what would not read back.
    fn check_times(&self) -> Result<(), ValidationError> {
        let pair = |a: (&str, Timestamp), b: (&str, Timestamp)| {
            time::check_stored(a.0, &a.1).and_then(|()| time::check_stored(b.0, &b.1))
        };
        let (id, checked) = match self {
            Record::Episode(e) => (
                e.id.to_string(),
                pair(
                    ("occurred_at", e.occurred_at),
                    ("ingested_at", e.ingested_at),
                ),
            ),
            Record::Entity(e) => (
                e.id.to_string(),
                pair(("created_at", e.created_at), ("updated_at", e.updated_at)),
            ),
            Record::Relation(r) => (
                r.id.to_string(),
                r.times.check_stored().and_then(|()| {
                    r.stated_end
                        .as_ref()
                        .map_or(Ok(()), crate::StatedEnd::check_stored)
                }),
            ),
            Record::Mention(_) => return Ok(()),
            Record::Fact(f) => (
                f.id.to_string(),
                pair(("created_at", f.created_at), ("updated_at", f.updated_at)),
            ),
            Record::FactEvent(e) => (
                e.event.fact_id.to_string(),
                time::check_stored("at", &e.event.at),
            ),
            Record::Summary(s) => (
                s.scope.to_string(),
                time::check_stored("updated_at", &s.updated_at),
            ),
        };
        checked.map_err(|err| match err {
            ValidationError::Timestamp { field, value } => ValidationError::Timestamp {
                field: format!("import: {} {id}: {field}", self.kind()),
                value,
            },
            other => other,
        })
    }
}

/// What to do when a scope being imported already holds data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Refuse a scope that holds anything. The import of each scope is all or nothing:
    /// on an error the scope is erased again.
    IntoEmpty,
    /// Add to what the scope holds. Records whose id is already stored are kept as
    /// stored; an imported entity whose name (or alias) is taken by a stored entity, and
    /// an episode whose idempotency key is taken, are merged into the stored one (the
    /// imported relations, mentions and facts point to it).
    Merge,
}

/// What [`Memory::import`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub scopes: usize,
    pub episodes: usize,
    pub entities: usize,
    pub relations: usize,
    pub mentions: usize,
    pub facts: usize,
    pub fact_events: usize,
    pub summaries: usize,
    /// Records left out because the scope already held them ([`ImportMode::Merge`]).
    pub skipped: usize,
}

impl std::ops::AddAssign for ImportReport {
    fn add_assign(&mut self, other: ImportReport) {
        self.scopes += other.scopes;
        self.episodes += other.episodes;
        self.entities += other.entities;
        self.relations += other.relations;
        self.mentions += other.mentions;
        self.facts += other.facts;
        self.fact_events += other.fact_events;
        self.summaries += other.summaries;
        self.skipped += other.skipped;
    }
}

/// Groups records by scope, keeping their order within each scope.
fn by_scope(records: Vec<Record>) -> BTreeMap<Scope, Vec<Record>> {
    let mut scopes: BTreeMap<Scope, Vec<Record>> = BTreeMap::new();
    for record in records {
        scopes
            .entry(record.scope().clone())
            .or_default()
            .push(record);
    }
    scopes
}

impl Memory {
    /// Every scope holding an entity or an episode, in [`Scope::key`] order.
    pub async fn scopes(&self) -> Result<Vec<Scope>, MemoryError> {
        Ok(self.graph.scopes().await?)
    }

    /// Everything the scope holds, as records in a stable order: episodes (oldest first),
    /// entities, relations (by `recorded_at`), mentions, facts (oldest first), fact
    /// history (live facts, then deleted ones), summary.
    ///
    /// History rows are found through the live facts and the stored episodes; the history
    /// of a fact that was deleted together with its episode (a reverted episode) is not
    /// reachable and is left out.
    pub async fn export_scope(&self, scope: &Scope) -> Result<Vec<Record>, MemoryError> {
        let _guard = self.lock_scope(scope).await;
        let mut records = Vec::new();

        let mut episodes = self.graph.recent_episodes(scope, time::MAX, ALL).await?;
        episodes.reverse();

        // Pages are counted in stored rows, and a page can come back short when a store
        // skipped an undecodable row in it: the listing ends at the first empty page.
        let mut entities = Vec::new();
        for offset in (0..).step_by(EXPORT_PAGE) {
            let page = Page {
                limit: EXPORT_PAGE,
                offset,
            };
            let batch = self.graph.entities(scope, page).await?;
            if batch.is_empty() {
                break;
            }
            entities.extend(batch);
        }

        let relations = self
            .graph
            .relations(
                scope,
                &RelationQuery {
                    entity: None,
                    outgoing_only: false,
                    relation_type: None,
                    visible_at: None,
                    limit: ALL,
                },
            )
            .await?;

        let mut mentions = Vec::new();
        let mut fact_ids_of_episodes = BTreeSet::new();
        for episode in &episodes {
            let footprint = self.graph.episode_footprint(scope, episode.id).await?;
            let added = &footprint.aliases;
            mentions.extend(footprint.mentioned.iter().map(|&entity| {
                Mention {
                    scope: scope.clone(),
                    episode: episode.id,
                    entity,
                    aliases: added
                        .iter()
                        .filter(|(of, _)| *of == entity)
                        .map(|(_, alias)| alias.clone())
                        .collect(),
                }
            }));
            for event in self
                .vectors
                .fact_events_of_episode(scope, episode.id)
                .await?
            {
                fact_ids_of_episodes.insert(event.fact_id);
            }
        }

        let mut facts = Vec::new();
        for offset in (0..).step_by(EXPORT_PAGE) {
            let page = Page {
                limit: EXPORT_PAGE,
                offset,
            };
            let batch = self.vectors.facts(scope, page).await?;
            if batch.is_empty() {
                break;
            }
            facts.extend(batch);
        }
        facts.reverse();
        let live: HashSet<FactId> = facts.iter().map(|f| f.id).collect();
        let history_of: Vec<FactId> = facts
            .iter()
            .map(|f| f.id)
            .chain(
                fact_ids_of_episodes
                    .into_iter()
                    .filter(|id| !live.contains(id)),
            )
            .collect();
        let mut events = Vec::new();
        for id in history_of {
            for event in self.vectors.fact_history(scope, id).await? {
                events.push(ScopedFactEvent {
                    scope: scope.clone(),
                    event,
                });
            }
        }

        records.extend(episodes.into_iter().map(Record::Episode));
        records.extend(entities.into_iter().map(Record::Entity));
        records.extend(relations.into_iter().map(Record::Relation));
        records.extend(mentions.into_iter().map(Record::Mention));
        records.extend(facts.into_iter().map(Record::Fact));
        records.extend(events.into_iter().map(Record::FactEvent));
        if let Some(summary) = self.graph.scope_summary(scope).await? {
            records.push(Record::Summary(summary));
        }
        Ok(records)
    }

    /// Writes the records, scope by scope (see [`ImportMode`]); `on_scope` is called as
    /// each scope starts (for progress). With [`ImportMode::IntoEmpty`], every scope is
    /// checked before anything is written.
    ///
    /// Within a scope: episodes are journaled first, then entities, relations and mentions
    /// go in one graph batch, then relation vectors (embedded from each relation's
    /// `fact`), then facts and their history replayed event by event, then the summary.
    pub async fn import(
        &self,
        records: Vec<Record>,
        mode: ImportMode,
        on_scope: &mut (dyn FnMut(&Scope) + Send),
    ) -> Result<ImportReport, MemoryError> {
        let scopes = by_scope(records);
        if mode == ImportMode::IntoEmpty {
            for scope in scopes.keys() {
                if !self.scope_is_empty(scope).await? {
                    return Err(not_empty(scope));
                }
            }
        }
        let mut report = ImportReport::default();
        for (scope, records) in scopes {
            on_scope(&scope);
            report += self.import_scope(&scope, records, mode).await?;
        }
        Ok(report)
    }

    async fn import_scope(
        &self,
        scope: &Scope,
        records: Vec<Record>,
        mode: ImportMode,
    ) -> Result<ImportReport, MemoryError> {
        let batch = ScopeBatch::new(records, self.embedder.dimension())
            .map_err(|err| in_scope(err, scope))?;
        let _guard = self.lock_scope(scope).await;
        if mode == ImportMode::IntoEmpty {
            if !self.scope_is_empty(scope).await? {
                return Err(not_empty(scope));
            }
            let result = self.write_batch(scope, batch, mode).await;
            if result.is_err() {
                // Leave the scope as empty as it was; the original error is what matters.
                if let Err(err) = self.vectors.erase_scope(scope).await {
                    tracing::warn!(%scope, error = %err, "cleaning up a failed import");
                }
                if let Err(err) = self.graph.erase_scope(scope).await {
                    tracing::warn!(%scope, error = %err, "cleaning up a failed import");
                }
            }
            result
        } else {
            self.write_batch(scope, batch, mode).await
        }
    }

    async fn scope_is_empty(&self, scope: &Scope) -> Result<bool, MemoryError> {
        let one = Page {
            limit: 1,
            offset: 0,
        };
        Ok(self.graph.entities(scope, one).await?.is_empty()
            && self
                .graph
                .recent_episodes(scope, time::MAX, 1)
                .await?
                .is_empty()
            && self.vectors.facts(scope, one).await?.is_empty()
            && self.graph.scope_summary(scope).await?.is_none())
    }

    /// Writes one checked scope batch: episodes first, then entities, relations and
    /// mentions in one graph `apply`, the relations' vectors, the facts with their
    /// history, and the summary. In merge mode, records already stored are skipped and
    /// counted, and the rest point at the stored episodes and entities they merged into.
    async fn write_batch(
        &self,
        scope: &Scope,
        batch: ScopeBatch,
        mode: ImportMode,
    ) -> Result<ImportReport, MemoryError> {
        let merge = mode == ImportMode::Merge;
        let mut report = ImportReport {
            scopes: 1,
            ..ImportReport::default()
        };
        let episodes = self
            .insert_episodes(scope, batch.episodes, merge, &mut report)
            .await?;
        let mut ops = Vec::new();
        let entities = self
            .entity_ops(scope, batch.entities, merge, &mut report, &mut ops)
            .await?;
        let merged = Merged { episodes, entities };
        let added = self
            .relation_ops(
                scope,
                batch.relations,
                merge,
                &merged,
                &mut report,
                &mut ops,
            )
            .await?;
        mention_ops(batch.mentions, &merged, &mut report, &mut ops);
        if !ops.is_empty() {
            self.graph.apply(scope, ops).await?;
        }
        self.embed_relations(scope, &added).await?;
        self.import_facts(scope, batch.facts, merge, &merged, &mut report)
            .await?;
        if let Some(summary) = batch.summary {
            self.import_summary(scope, summary, merge, &merged, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Inserts the episodes not stored yet; the imported ids of those merged into a stored
    /// episode by their idempotency key, mapped to the stored ids.
    async fn insert_episodes(
        &self,
        scope: &Scope,
        episodes: Vec<Episode>,
        merge: bool,
        report: &mut ImportReport,
    ) -> Result<HashMap<EpisodeId, EpisodeId>, MemoryError> {
        let mut merged = HashMap::new();
        for episode in episodes {
            if merge && let Some(stored) = self.graph.episode(episode.id).await? {
                if stored.scope != *scope {
                    return Err(conflict(format!(
                        "episode {} belongs to another scope",
                        episode.id
                    )));
                }
                report.skipped += 1;
                continue;
            }
            match self.graph.insert_episode(&episode).await? {
                EpisodeInsert::Inserted => report.episodes += 1,
                EpisodeInsert::Duplicate(stored) if merge => {
                    merged.insert(episode.id, stored.id);
                    report.skipped += 1;
                }
                EpisodeInsert::Duplicate(stored) => {
                    return Err(conflict(format!(
                        "episode {} repeats the idempotency key of episode {}",
                        episode.id, stored.id
                    )));
                }
            }
        }
        Ok(merged)
    }

    /// Adds an upsert to `ops` for each entity not stored yet; the imported ids of the
    /// others, mapped to the stored entities they are the same as.
    async fn entity_ops(
        &self,
        scope: &Scope,
        entities: Vec<Entity>,
        merge: bool,
        report: &mut ImportReport,
        ops: &mut Vec<WriteOp>,
    ) -> Result<HashMap<EntityId, EntityId>, MemoryError> {
        let mut merged = HashMap::new();
        for entity in entities {
            if merge && let Some(stored) = self.stored_entity(scope, &entity).await? {
                merged.insert(entity.id, stored);
                report.skipped += 1;
                continue;
            }
            report.entities += 1;
            ops.push(WriteOp::UpsertEntity(entity));
        }
        Ok(merged)
    }

    /// Adds each relation not stored yet to `ops`, pointing at the stored episodes and
    /// entities; the relations added.
    async fn relation_ops(
        &self,
        scope: &Scope,
        relations: Vec<Relation>,
        merge: bool,
        merged: &Merged,
        report: &mut ImportReport,
        ops: &mut Vec<WriteOp>,
    ) -> Result<Vec<Relation>, MemoryError> {
        let mut added = Vec::new();
        for relation in relations {
            if merge && self.graph.relation(scope, relation.id).await?.is_some() {
                report.skipped += 1;
                continue;
            }
            let relation = merged.relation(relation);
            report.relations += 1;
            added.push(relation.clone());
            ops.push(WriteOp::AddRelation(relation));
        }
        Ok(added)
    }

    /// Replaces every entity record's embedding with this memory's embedding of its
    /// display name (how the write path embeds an entity), so records exported from a
    /// store embedded with another model import here (`mnemo reindex`). Relation and fact
    /// vectors need nothing: import embeds them from their text.
    pub async fn reembed_entities(&self, records: &mut [Record]) -> Result<(), MemoryError> {
        let mut entities: Vec<&mut Entity> = records
            .iter_mut()
            .filter_map(|record| match record {
                Record::Entity(entity) => Some(entity),
                _ => None,
            })
            .collect();
        for chunk in entities.chunks_mut(EMBED_BATCH) {
            let vectors = self
                .embed(chunk.iter().map(|e| e.display_name.clone()).collect())
                .await?;
            for (entity, vector) in chunk.iter_mut().zip(vectors) {
                entity.embedding = vector;
            }
        }
        Ok(())
    }

    /// Embeds the facts of the relations added and stores their vectors.
    async fn embed_relations(&self, scope: &Scope, added: &[Relation]) -> Result<(), MemoryError> {
        for chunk in added.chunks(EMBED_BATCH) {
            let vectors = self
                .embed(chunk.iter().map(|r| r.fact.clone()).collect())
                .await?;
            let items: Vec<RelationVector> = chunk
                .iter()
                .zip(vectors)
                .map(|(relation, vector)| RelationVector {
                    id: relation.id,
                    scope: scope.clone(),
                    times: relation.times,
                    vector,
                })
                .collect();
            self.vectors.upsert_relation_vectors(&items).await?;
        }
        Ok(())
    }

    /// Replays the history of each fact not stored yet, embedded in chunks.
    async fn import_facts(
        &self,
        scope: &Scope,
        facts: Vec<FactHistory>,
        merge: bool,
        merged: &Merged,
        report: &mut ImportReport,
    ) -> Result<(), MemoryError> {
        let mut histories = Vec::new();
        for history in facts {
            // A deleted fact is known by its history alone.
            if merge
                && !self
                    .vectors
                    .fact_history(scope, history.id)
                    .await?
                    .is_empty()
            {
                report.skipped += usize::from(history.fact.is_some()) + history.events.len();
                continue;
            }
            histories.push(history);
        }
        let episode = |id: EpisodeId| merged.episode(id);
        for chunk in histories.chunks(EMBED_BATCH) {
            let vectors = self
                .embed(chunk.iter().map(FactHistory::text).collect())
                .await?;
            for (history, vector) in chunk.iter().zip(vectors) {
                let (facts, events) = self.replay(scope, history, &vector, &episode).await?;
                report.facts += facts;
                report.fact_events += events;
            }
        }
        Ok(())
    }

    /// Stores the summary unless, merging, the scope already has one.
    async fn import_summary(
        &self,
        scope: &Scope,
        mut summary: ScopeSummary,
        merge: bool,
        merged: &Merged,
        report: &mut ImportReport,
    ) -> Result<(), MemoryError> {
        if merge && self.graph.scope_summary(scope).await?.is_some() {
            report.skipped += 1;
        } else {
            summary.through_episode = merged.episode(summary.through_episode);
            self.graph.put_scope_summary(&summary).await?;
            report.summaries += 1;
        }
        Ok(())
    }

    /// The stored entity an imported one is the same as: same id, or its name or an
    /// alias taken.
    async fn stored_entity(
        &self,
        scope: &Scope,
        entity: &Entity,
    ) -> Result<Option<EntityId>, MemoryError> {
        if self.graph.entity(scope, entity.id).await?.is_some() {
            return Ok(Some(entity.id));
        }
        for name in std::iter::once(&entity.name).chain(&entity.aliases) {
            if let Some(stored) = self.graph.entity_by_name(scope, name).await? {
                return Ok(Some(stored.id));
            }
        }
        Ok(None)
    }

    /// Writes one fact's history event by event, ending with the fact as exported (or
    /// deleted). Returns (facts left stored, events written).
    async fn replay(
        &self,
        scope: &Scope,
        history: &FactHistory,
        vector: &[f32],
        episode: &impl Fn(EpisodeId) -> EpisodeId,
    ) -> Result<(usize, usize), MemoryError> {
        let mut fact = history
            .fact
            .clone()
            .unwrap_or_else(|| history.ghost(scope, self.now()));
        fact.episodes = fact.episodes.iter().copied().map(episode).collect();
        let mut stored = false;
        for event in &history.events {
            let mut event = event.clone();
            event.episode = event.episode.map(episode);
            if event.event == FactEventKind::Delete {
                self.vectors.delete_fact(scope, fact.id, &event).await?;
                stored = false;
            } else {
                self.vectors.put_fact(&fact, vector, &event).await?;
                stored = true;
            }
        }
        if history.fact.is_some() && !stored {
            return Err(invalid(format!(
                "fact {}: its history ends with a DELETE but the fact is exported as live",
                fact.id
            )));
        }
        Ok((usize::from(stored), history.events.len()))
    }
}

/// A mention op for each mention, and an alias op for each alias it added.
fn mention_ops(
    mentions: Vec<Mention>,
    merged: &Merged,
    report: &mut ImportReport,
    ops: &mut Vec<WriteOp>,
) {
    for mention in mentions {
        report.mentions += 1;
        ops.push(WriteOp::Mention {
            episode: merged.episode(mention.episode),
            entity: merged.entity(mention.entity),
        });
        for alias in mention.aliases {
            ops.push(WriteOp::RecordAlias {
                episode: merged.episode(mention.episode),
                entity: merged.entity(mention.entity),
                alias,
            });
        }
    }
}

/// Imported id → stored id, for records merged into stored ones; every other id is its
/// own.
struct Merged {
    episodes: HashMap<EpisodeId, EpisodeId>,
    entities: HashMap<EntityId, EntityId>,
}

impl Merged {
    fn episode(&self, id: EpisodeId) -> EpisodeId {
        self.episodes.get(&id).copied().unwrap_or(id)
    }

    fn entity(&self, id: EntityId) -> EntityId {
        self.entities.get(&id).copied().unwrap_or(id)
    }

    /// An imported relation pointing at the stored episodes and entities, its
    /// provenance without repeats.
    fn relation(&self, mut relation: Relation) -> Relation {
        relation.source = self.entity(relation.source);
        relation.target = self.entity(relation.target);
        // An export from before `stated_end` existed: presumed as the migration does.
        relation.stated_end = relation
            .stated_end
            .or_else(|| crate::StatedEnd::presumed(&relation));
        relation.invalidated_in = relation.invalidated_in.map(|e| self.episode(e));
        if let Some(stated) = relation.stated_end.as_mut() {
            stated.episode = stated.episode.map(|e| self.episode(e));
        }
        let mut seen = HashSet::new();
        relation.episodes = relation
            .episodes
            .into_iter()
            .map(|e| self.episode(e))
            .filter(|id| seen.insert(*id))
            .collect();
        relation
    }
}

/// One scope's records sorted by kind and checked against each other.
struct ScopeBatch {
    episodes: Vec<Episode>,
    entities: Vec<Entity>,
    relations: Vec<Relation>,
    mentions: Vec<Mention>,
    facts: Vec<FactHistory>,
    summary: Option<ScopeSummary>,
}

/// A fact and its history, oldest event first; `fact` is `None` for a deleted fact.
struct FactHistory {
    id: FactId,
    fact: Option<Fact>,
    events: Vec<FactEvent>,
}

impl FactHistory {
    /// The text to embed: the fact's, or the last text a deleted fact had.
    fn text(&self) -> String {
        if let Some(fact) = &self.fact {
            return fact.text.clone();
        }
        self.events
            .iter()
            .rev()
            .find_map(|e| e.new_text.clone().or_else(|| e.old_text.clone()))
            .unwrap_or_default()
    }

    /// What a deleted fact looked like before its deletion, as far as its history says.
    /// `now` stands in for a history without events.
    fn ghost(&self, scope: &Scope, now: Timestamp) -> Fact {
        let first = self.events.first().map_or(now, |e| e.at);
        let last = self.events.last().map(|e| e.at).unwrap_or(first);
        Fact {
            id: self.id,
            scope: scope.clone(),
            text: self.text(),
            metadata: serde_json::json!({}),
            created_at: first,
            updated_at: last,
            episodes: self.events.iter().filter_map(|e| e.episode).fold(
                Vec::new(),
                |mut episodes, e| {
                    if !episodes.contains(&e) {
                        episodes.push(e);
                    }
                    episodes
                },
            ),
        }
    }
}

impl ScopeBatch {
    fn new(records: Vec<Record>, dimension: usize) -> Result<ScopeBatch, MemoryError> {
        let mut batch = ScopeBatch {
            episodes: Vec::new(),
            entities: Vec::new(),
            relations: Vec::new(),
            mentions: Vec::new(),
            facts: Vec::new(),
            summary: None,
        };
        let mut facts: BTreeMap<FactId, Option<Fact>> = BTreeMap::new();
        let mut fact_order: Vec<FactId> = Vec::new();
        let mut events: HashMap<FactId, Vec<FactEvent>> = HashMap::new();
        for record in records {
            record.check_times()?;
            match record {
                Record::Episode(episode) => batch.episodes.push(episode),
                Record::Entity(entity) => batch.entities.push(entity),
                Record::Relation(relation) => batch.relations.push(relation),
                Record::Mention(mention) => batch.mentions.push(mention),
                Record::Fact(fact) => {
                    let id = fact.id;
                    if facts.insert(id, Some(fact)).is_some_and(|f| f.is_some()) {
                        return Err(invalid(format!("fact {id} appears twice")));
                    }
                    if let std::collections::hash_map::Entry::Vacant(slot) = events.entry(id) {
                        fact_order.push(id);
                        slot.insert(Vec::new());
                    }
                }
                Record::FactEvent(event) => {
                    let id = event.event.fact_id;
                    facts.entry(id).or_insert(None);
                    events
                        .entry(id)
                        .or_insert_with(|| {
                            fact_order.push(id);
                            Vec::new()
                        })
                        .push(event.event);
                }
                Record::Summary(summary) => {
                    if batch.summary.replace(summary).is_some() {
                        return Err(invalid("more than one summary".into()));
                    }
                }
            }
        }
        for id in fact_order {
            let mut history = FactHistory {
                id,
                fact: facts.remove(&id).flatten(),
                events: events.remove(&id).unwrap_or_default(),
            };
            // Stable: events at the same time keep their exported order.
            history.events.sort_by_key(|e| e.at);
            if history.events.is_empty() {
                let fact = history
                    .fact
                    .as_ref()
                    .expect("a fact without events is live");
                // The store keeps a fact together with its history; one without any gets
                // the ADD it must have had.
                history.events.push(FactEvent {
                    fact_id: id,
                    event: FactEventKind::Add,
                    old_text: None,
                    new_text: Some(fact.text.clone()),
                    at: fact.created_at,
                    episode: fact.episodes.first().copied(),
                });
            }
            if history.fact.is_none()
                && history.events.last().map(|e| e.event) != Some(FactEventKind::Delete)
            {
                return Err(invalid(format!(
                    "fact {id} has history but no fact record and no final DELETE"
                )));
            }
            if history.events[0].event == FactEventKind::Delete {
                return Err(invalid(format!(
                    "fact {id}: its history starts with a DELETE"
                )));
            }
            batch.facts.push(history);
        }
        batch.check(dimension)?;
        // Journal order, so the recent-message context reads as it did.
        batch.episodes.sort_by_key(|e| (e.ingested_at, e.id));
        Ok(batch)
    }

    /// What the store would reject half-way is rejected before anything is written.
    fn check(&self, dimension: usize) -> Result<(), MemoryError> {
        let mut entities = HashSet::new();
        for entity in &self.entities {
            if entity.embedding.len() != dimension {
                return Err(invalid(format!(
                    "entity {}: embedding has {} dimensions, the embedder has {dimension}",
                    entity.id,
                    entity.embedding.len()
                )));
            }
            if !entities.insert(entity.id) {
                return Err(invalid(format!("entity {} appears twice", entity.id)));
            }
        }
        let mut episodes = HashSet::new();
        for episode in &self.episodes {
            if !episodes.insert(episode.id) {
                return Err(invalid(format!("episode {} appears twice", episode.id)));
            }
        }
        let mut relations: HashSet<RelationId> = HashSet::new();
        for relation in &self.relations {
            if !relations.insert(relation.id) {
                return Err(invalid(format!("relation {} appears twice", relation.id)));
            }
            for end in [relation.source, relation.target] {
                if !entities.contains(&end) {
                    return Err(invalid(format!(
                        "relation {}: entity {end} is not among the imported entities",
                        relation.id
                    )));
                }
            }
        }
        for mention in &self.mentions {
            if !entities.contains(&mention.entity) || !episodes.contains(&mention.episode) {
                return Err(invalid(format!(
                    "mention of entity {} by episode {}: both must be imported",
                    mention.entity, mention.episode
                )));
            }
        }
        Ok(())
    }
}

/// Names the scope in a validation message.
fn in_scope(err: MemoryError, scope: &Scope) -> MemoryError {
    match err {
        MemoryError::Invalid(ValidationError::Request(message)) => MemoryError::Invalid(
            ValidationError::Request(format!("{message} (scope {scope})")),
        ),
        other => other,
    }
}

fn not_empty(scope: &Scope) -> MemoryError {
    conflict(format!(
        "scope {scope} already holds data; import into an empty scope, or merge"
    ))
}

fn invalid(message: String) -> MemoryError {
    MemoryError::Invalid(ValidationError::Request(format!("import: {message}")))
}

fn conflict(message: String) -> MemoryError {
    MemoryError::Store(StoreError::Conflict(format!("import: {message}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntityType, EpisodeStatus, LlmUsage, RelationTimes, RelationType};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn scope() -> Scope {
        Scope::new(Some("alice".into()), None, Some("r1".into())).unwrap()
    }

    fn id<T: std::str::FromStr>(n: u8) -> T
    where
        T::Err: std::fmt::Debug,
    {
        format!("00000000-0000-7000-8000-0000000000{n:02x}")
            .parse()
            .unwrap()
    }

    /// Each record as JSON and back: the exact line, and the same record again.
    #[track_caller]
    fn check(record: Record, expected: &str) {
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(line, expected);
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn records_as_json_lines() {
        check(
            Record::Mention(Mention {
                scope: scope(),
                episode: id(1),
                entity: id(2),
                aliases: Vec::new(),
            }),
            r#"{"kind":"mention","scope":{"user_id":"alice","run_id":"r1"},"episode":"00000000-0000-7000-8000-000000000001","entity":"00000000-0000-7000-8000-000000000002"}"#,
        );
        check(
            Record::Mention(Mention {
                scope: scope(),
                episode: id(1),
                entity: id(2),
                aliases: vec!["nyc".into()],
            }),
            r#"{"kind":"mention","scope":{"user_id":"alice","run_id":"r1"},"episode":"00000000-0000-7000-8000-000000000001","entity":"00000000-0000-7000-8000-000000000002","aliases":["nyc"]}"#,
        );
        check(
            Record::FactEvent(ScopedFactEvent {
                scope: scope(),
                event: FactEvent {
                    fact_id: id(3),
                    event: FactEventKind::Update,
                    old_text: Some("a".into()),
                    new_text: Some("b".into()),
                    at: at("2024-03-01T10:00:00.123456789Z"),
                    episode: None,
                },
            }),
            r#"{"kind":"fact_event","scope":{"user_id":"alice","run_id":"r1"},"fact_id":"00000000-0000-7000-8000-000000000003","event":"UPDATE","old_text":"a","new_text":"b","at":"2024-03-01T10:00:00.123456789Z","episode":null}"#,
        );
        check(
            Record::Episode(Episode {
                id: id(1),
                scope: scope(),
                content: r#"{"kind":"messages"}"#.into(),
                occurred_at: at("2024-03-01T00:00:00Z"),
                ingested_at: at("2024-03-02T00:00:00Z"),
                status: EpisodeStatus::Failed {
                    reason: "LLM down".into(),
                },
                idempotency_key: Some("k".into()),
                metadata: serde_json::json!({"a": 1}),
                llm_usage: LlmUsage {
                    calls: 2,
                    prompt_tokens: 30,
                    completion_tokens: 4,
                },
            }),
            r#"{"kind":"episode","id":"00000000-0000-7000-8000-000000000001","scope":{"user_id":"alice","run_id":"r1"},"content":"{\"kind\":\"messages\"}","occurred_at":"2024-03-01T00:00:00Z","ingested_at":"2024-03-02T00:00:00Z","status":"failed","reason":"LLM down","idempotency_key":"k","metadata":{"a":1},"llm_usage":{"calls":2,"prompt_tokens":30,"completion_tokens":4}}"#,
        );
        check(
            Record::Relation(Relation {
                id: id(4),
                scope: scope(),
                source: id(5),
                relation_type: RelationType::parse("LIVES_IN").unwrap(),
                target: id(6),
                fact: "Alice lives in Boston".into(),
                times: RelationTimes {
                    valid_from: Some(at("2020-01-01T00:00:00Z")),
                    valid_to: Some(at("2024-03-01T00:00:00Z")),
                    recorded_at: at("2023-01-01T00:00:00Z"),
                    invalidated_at: Some(at("2024-03-02T00:00:00Z")),
                    retracted_at: None,
                },
                invalidated_by: Some(id(7)),
                invalidated_in: Some(id(8)),
                episodes: vec![id(1), id(9)],
                mentions: 2,
                stated_end: Some(crate::StatedEnd {
                    valid_to: at("2025-01-01T00:00:00Z"),
                    invalidated_at: Some(at("2023-06-01T00:00:00Z")),
                    episode: Some(id(9)),
                }),
            }),
            r#"{"kind":"relation","id":"00000000-0000-7000-8000-000000000004","scope":{"user_id":"alice","run_id":"r1"},"source":"00000000-0000-7000-8000-000000000005","relation":"LIVES_IN","target":"00000000-0000-7000-8000-000000000006","fact":"Alice lives in Boston","valid_from":"2020-01-01T00:00:00Z","valid_to":"2024-03-01T00:00:00Z","recorded_at":"2023-01-01T00:00:00Z","invalidated_at":"2024-03-02T00:00:00Z","retracted_at":null,"invalidated_by":"00000000-0000-7000-8000-000000000007","invalidated_in":"00000000-0000-7000-8000-000000000008","episodes":["00000000-0000-7000-8000-000000000001","00000000-0000-7000-8000-000000000009"],"mentions":2,"stated_end":{"valid_to":"2025-01-01T00:00:00Z","invalidated_at":"2023-06-01T00:00:00Z","episode":"00000000-0000-7000-8000-000000000009"}}"#,
        );
    }

    /// An export written before relations carried `stated_end` still reads: none, and
    /// import presumes it from the relation's own end (`StatedEnd::presumed`).
    #[test]
    fn relation_line_without_stated_end_still_reads() {
        let line = r#"{"kind":"relation","id":"00000000-0000-7000-8000-000000000004","scope":{"user_id":"alice"},"source":"00000000-0000-7000-8000-000000000005","relation":"LIVES_IN","target":"00000000-0000-7000-8000-000000000006","fact":"Alice lived in Paris","valid_from":"2010-01-01T00:00:00Z","valid_to":"2015-01-01T00:00:00Z","recorded_at":"2023-01-01T00:00:00Z","invalidated_at":null,"retracted_at":null,"invalidated_by":null,"invalidated_in":null,"episodes":["00000000-0000-7000-8000-000000000001"],"mentions":1}"#;
        let Record::Relation(relation) = serde_json::from_str(line).unwrap() else {
            panic!("not a relation: {line}");
        };
        assert_eq!(relation.stated_end, None);
        assert_eq!(
            crate::StatedEnd::presumed(&relation),
            Some(crate::StatedEnd {
                valid_to: at("2015-01-01T00:00:00Z"),
                invalidated_at: None,
                episode: None,
            })
        );
    }

    /// Embeddings survive the trip through JSON bit for bit (f32 → shortest decimal →
    /// f64 → f32 is exact).
    #[test]
    fn entity_embeddings_round_trip_exactly() {
        let embedding: Vec<f32> = (0..384u32)
            .map(|i| ((i as f32) * 0.618_034).sin() / 19.595_918)
            .chain([f32::MIN_POSITIVE, -0.0, 1.0 / 3.0, 0.1])
            .collect();
        let entity = Record::Entity(Entity {
            id: id(2),
            scope: scope(),
            name: "alice".into(),
            display_name: "Alice".into(),
            entity_type: EntityType::parse("Person").unwrap(),
            aliases: vec!["ally".into()],
            embedding: embedding.clone(),
            mentions: 3,
            created_at: at("2024-01-01T00:00:00Z"),
            updated_at: at("2024-01-02T00:00:00Z"),
        });
        let line = serde_json::to_string(&entity).unwrap();
        let Record::Entity(back) = serde_json::from_str(&line).unwrap() else {
            panic!("not an entity: {line}")
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.embedding), bits(&embedding));
    }

    #[test]
    fn unknown_kinds_are_rejected() {
        for line in [
            r#"{"kind":"vertex","id":"x"}"#,
            r#"{"id":"00000000-0000-7000-8000-000000000001"}"#,
            r#"{"kind":"mention","scope":{},"episode":"x","entity":"y"}"#,
        ] {
            assert!(serde_json::from_str::<Record>(line).is_err(), "{line}");
        }
    }

    #[test]
    fn batches_are_checked_before_writing() {
        let check = |records: Vec<Record>, expected: &str| {
            let err = ScopeBatch::new(records, 2).err().expect("rejected");
            assert!(err.to_string().contains(expected), "{err}");
        };
        let entity = |n: u8, dims: usize| Entity {
            id: id(n),
            scope: scope(),
            name: format!("e{n}"),
            display_name: format!("E{n}"),
            entity_type: EntityType::parse("Person").unwrap(),
            aliases: vec![],
            embedding: vec![0.0; dims],
            mentions: 1,
            created_at: at("2024-01-01T00:00:00Z"),
            updated_at: at("2024-01-01T00:00:00Z"),
        };
        check(
            vec![Record::Entity(entity(1, 3))],
            "embedding has 3 dimensions, the embedder has 2",
        );
        check(
            vec![Record::Entity(entity(1, 2)), Record::Entity(entity(1, 2))],
            "appears twice",
        );
        let event = |kind| {
            Record::FactEvent(ScopedFactEvent {
                scope: scope(),
                event: FactEvent {
                    fact_id: id(9),
                    event: kind,
                    old_text: Some("x".into()),
                    new_text: None,
                    at: at("2024-01-01T00:00:00Z"),
                    episode: None,
                },
            })
        };
        check(vec![event(FactEventKind::Add)], "no final DELETE");
        check(vec![event(FactEventKind::Delete)], "starts with a DELETE");
        check(
            vec![Record::Mention(Mention {
                scope: scope(),
                episode: id(1),
                entity: id(2),
                aliases: Vec::new(),
            })],
            "both must be imported",
        );
    }
}
