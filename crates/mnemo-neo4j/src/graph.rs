//! `GraphRead`, and `GraphWrite` apart from `apply` (in `apply.rs`), for `Neo4jStore`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use mnemo_core::ports::{
    Changes, EpisodeInsert, Footprint, GraphCounts, GraphRead, GraphWrite, Page, RelationQuery,
    Scored, WriteOp,
};
use mnemo_core::time::check_stored;
use mnemo_core::{
    Entity, EntityId, Episode, EpisodeId, Relation, RelationId, Scope, ScopeSummary, StoreError,
    Timestamp, ValidationError, Visibility, normalize_name,
};
use neo4rs::{BoltType, Graph, Row};

use crate::codec::{self, Props, Record, ids, int};
use crate::db::{self, Tx, query};
use crate::queries::*;
use crate::{Neo4jStore, PING_TIMEOUT, text};

/// Candidates asked from the vector index per requested hit: the index ranks every scope's
/// entities, the query keeps the caller's.
const VECTOR_OVERSAMPLING: usize = 10;
const MIN_VECTOR_CANDIDATES: usize = 100;
const MAX_VECTOR_CANDIDATES: usize = 10_000;
/// Tries of a write batch that fails with a transient server error.
const APPLY_ATTEMPTS: u64 = 3;

/// The dimension of the `entity_embedding` vector index, if it exists.
pub(crate) async fn vector_index_dimension(graph: &Graph) -> Result<Option<usize>, StoreError> {
    let rows = db::rows(graph, query(VECTOR_INDEX, Props::new())).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let BoltType::Map(options) = codec::column(row, "options")? else {
        return Ok(None);
    };
    let Some(BoltType::Map(config)) = options.value.get("indexConfig") else {
        return Ok(None);
    };
    Ok(match config.value.get("vector.dimensions") {
        Some(BoltType::Integer(n)) => usize::try_from(n.value).ok(),
        _ => None,
    })
}

/// `$as_of` and `$known_at` of a read at `at` (null: the full timeline).
fn at_params(props: Props, at: Option<Visibility>) -> Props {
    props
        .set("as_of", at.map(|v| v.as_of))
        .set("known_at", at.map(|v| v.known_at))
}

/// Column `name` of each row as a string (ids of `changes.cypher`, `footprint.cypher`, …).
fn strings(rows: &[Row], name: &str) -> Result<Vec<String>, StoreError> {
    rows.iter()
        .map(|row| match codec::column(row, name)? {
            BoltType::String(s) => Ok(s.value),
            other => Err(StoreError::Corrupt(format!(
                "column `{name}`: expected a string, got {other:?}"
            ))),
        })
        .collect()
}

/// Column `name` of each row as a list of strings (the aliases of `footprint.cypher`).
fn string_lists(rows: &[Row], name: &str) -> Result<Vec<Vec<String>>, StoreError> {
    let corrupt = |other: &BoltType| {
        StoreError::Corrupt(format!(
            "column `{name}`: expected a list of strings, got {other:?}"
        ))
    };
    rows.iter()
        .map(|row| match codec::column(row, name)? {
            BoltType::List(list) => list
                .value
                .iter()
                .map(|item| match item {
                    BoltType::String(s) => Ok(s.value.clone()),
                    other => Err(corrupt(other)),
                })
                .collect(),
            BoltType::Null(_) => Ok(Vec::new()),
            other => Err(corrupt(&other)),
        })
        .collect()
}

fn parse_id<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("stored id {text:?} is not a uuid")))
}

fn float(row: &Row, name: &str) -> Result<f32, StoreError> {
    match codec::column(row, name)? {
        BoltType::Float(f) => Ok(f.value as f32),
        BoltType::Integer(i) => Ok(i.value as f32),
        other => Err(StoreError::Corrupt(format!(
            "column `{name}`: expected a number, got {other:?}"
        ))),
    }
}

fn integer(row: &Row, name: &str) -> Result<i64, StoreError> {
    match codec::column(row, name)? {
        BoltType::Integer(i) => Ok(i.value),
        other => Err(StoreError::Corrupt(format!(
            "column `{name}`: expected an integer, got {other:?}"
        ))),
    }
}

fn count(row: &Row, name: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(integer(row, name)?).unwrap_or_default())
}

/// Neo4j's normalised cosine similarity, (1 + cos) / 2, back to the cosine.
fn cosine(score: f32) -> f32 {
    2.0 * score - 1.0
}

/// A `Corrupt` error again (the original is kept for its record).
fn clone_corrupt(error: &StoreError) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

impl Neo4jStore {
    async fn read(&self, text: &'static str, params: Props) -> Result<Vec<Row>, StoreError> {
        db::rows(&self.graph, query(text, params)).await
    }

    /// Each row's `column` map decoded by `decode`; a row that does not decode is logged
    /// with its id, counted and skipped, so one bad record never fails the read.
    fn decode_rows<T>(
        &self,
        rows: &[Row],
        column: &'static str,
        decode: impl Fn(&Record, &Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let record = Record::from_row(row, column, column);
            let decoded = record
                .as_ref()
                .map_err(clone_corrupt)
                .and_then(|r| decode(r, row));
            match decoded {
                Ok(item) => out.push(item),
                Err(StoreError::Corrupt(error)) => {
                    let id = record.map(|r| r.id_text()).unwrap_or_default();
                    self.skipped.skip(column, &id, &error);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(out)
    }

    fn entities_from(&self, rows: &[Row], scope: &Scope) -> Result<Vec<Entity>, StoreError> {
        self.decode_rows(rows, "entity", |record, _| codec::entity(record, scope))
    }

    fn relations_from(&self, rows: &[Row], scope: &Scope) -> Result<Vec<Relation>, StoreError> {
        self.decode_rows(rows, "relation", |record, _| codec::relation(record, scope))
    }

    fn episodes_from(&self, rows: &[Row]) -> Result<Vec<Episode>, StoreError> {
        self.decode_rows(rows, "episode", |record, _| codec::episode(record))
    }

    fn scored_entities(
        &self,
        rows: &[Row],
        scope: &Scope,
        score: impl Fn(f32) -> f32,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        self.decode_rows(rows, "entity", |record, row| {
            Ok(Scored {
                item: codec::entity(record, scope)?,
                score: score(float(row, "score")?),
            })
        })
    }

    /// The scope's entities with these ids, in the order of `ids` (missing ones skipped).
    pub(crate) async fn entities_by_id(
        &self,
        scope: &Scope,
        wanted: &[EntityId],
    ) -> Result<Vec<Entity>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .read(
                ENTITIES_BY_ID,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("ids", ids(wanted)),
            )
            .await?;
        let mut found: HashMap<EntityId, Entity> = self
            .entities_from(&rows, scope)?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        Ok(wanted.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// The scope's relations with these ids, by id (missing ones absent).
    async fn relations_by_id(
        &self,
        scope: &Scope,
        wanted: impl IntoIterator<Item = RelationId>,
    ) -> Result<HashMap<RelationId, Relation>, StoreError> {
        let wanted: Vec<RelationId> = wanted.into_iter().collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self
            .read(
                RELATIONS_BY_ID,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("ids", ids(&wanted)),
            )
            .await?;
        Ok(self
            .relations_from(&rows, scope)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect())
    }

    fn check_vector(&self, vector: &[f32]) -> Result<(), StoreError> {
        if vector.len() == self.dimension {
            Ok(())
        } else {
            Err(StoreError::Invalid(ValidationError::Request(format!(
                "vector has {} dimensions, the store holds {}",
                vector.len(),
                self.dimension
            ))))
        }
    }

    /// Nearest entities through the vector index, or `None` when the index could have
    /// left out nearer entities of the scope (or failed, e.g. still populating).
    async fn entities_near_indexed(
        &self,
        scope: &Scope,
        vector: &[f32],
        limit: usize,
    ) -> Option<Vec<Scored<Entity>>> {
        let candidates = (limit.saturating_mul(VECTOR_OVERSAMPLING))
            .clamp(MIN_VECTOR_CANDIDATES, MAX_VECTOR_CANDIDATES)
            .max(limit);
        let params = Props::new()
            .set("scope_key", scope.key())
            .set("vector", codec::list(vector.iter().copied()))
            .set("candidates", int(candidates))
            .set("limit", int(limit));
        let rows = match self.read(ENTITIES_VECTOR_INDEX, params).await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::debug!(error = %err, "vector index query failed; scanning the scope");
                return None;
            }
        };
        let seen = match rows.first().map(|row| integer(row, "seen")) {
            Some(Ok(seen)) => usize::try_from(seen).unwrap_or(usize::MAX),
            Some(Err(_)) | None => return None,
        };
        let complete = rows.len() >= limit || seen < candidates;
        if !complete {
            return None;
        }
        self.scored_entities(&rows, scope, cosine).ok()
    }
}

#[async_trait]
impl GraphRead for Neo4jStore {
    async fn ping(&self) -> Result<(), StoreError> {
        match tokio::time::timeout(PING_TIMEOUT, self.read(PING, Props::new())).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(StoreError::Backend(format!(
                "Neo4j did not answer within {} s",
                PING_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn entity(&self, scope: &Scope, id: EntityId) -> Result<Option<Entity>, StoreError> {
        Ok(self.entities_by_id(scope, &[id]).await?.pop())
    }

    async fn entities_by_ids(
        &self,
        scope: &Scope,
        ids: &[EntityId],
    ) -> Result<Vec<Option<Entity>>, StoreError> {
        let found: HashMap<EntityId, Entity> = self
            .entities_by_id(scope, ids)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn entity_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<Entity>, StoreError> {
        let Ok(key) = normalize_name(name) else {
            return Ok(None);
        };
        let scope_key = scope.key();
        let rows = self
            .read(
                ENTITY_BY_NAME,
                Props::new()
                    .set("uid", text::uid(&scope_key, &key))
                    .set("scope_key", scope_key),
            )
            .await?;
        Ok(self.entities_from(&rows, scope)?.pop())
    }

    async fn entities(&self, scope: &Scope, page: Page) -> Result<Vec<Entity>, StoreError> {
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .read(
                ENTITIES,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("offset", int(page.offset))
                    .set("limit", int(page.limit)),
            )
            .await?;
        self.entities_from(&rows, scope)
    }

    async fn search_entities_text(
        &self,
        scope: &Scope,
        query_text: &str,
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        let scope_key = scope.key();
        let Some(lucene) = text::fulltext_query(query_text, &scope_key) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .read(
                ENTITIES_TEXT,
                Props::new()
                    .set("query", lucene)
                    .set("scope_key", scope_key)
                    .set("limit", int(limit)),
            )
            .await?;
        self.scored_entities(&rows, scope, |score| score)
    }

    async fn search_entities_vector(
        &self,
        scope: &Scope,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        self.check_vector(vector)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        if self.vector_index
            && let Some(hits) = self.entities_near_indexed(scope, vector, limit).await
        {
            return Ok(hits);
        }
        let rows = self
            .read(
                ENTITIES_VECTOR_EXACT,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("vector", codec::list(vector.iter().copied()))
                    .set("limit", int(limit)),
            )
            .await?;
        self.scored_entities(&rows, scope, cosine)
    }

    async fn relation(
        &self,
        scope: &Scope,
        id: RelationId,
    ) -> Result<Option<Relation>, StoreError> {
        Ok(self.relations_by_id(scope, [id]).await?.remove(&id))
    }

    async fn relations_by_ids(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<Vec<Option<Relation>>, StoreError> {
        let found = self.relations_by_id(scope, ids.iter().copied()).await?;
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn relations(
        &self,
        scope: &Scope,
        q: &RelationQuery,
    ) -> Result<Vec<Relation>, StoreError> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let props = at_params(
            Props::new()
                .set("scope_key", scope.key())
                .set("limit", int(q.limit)),
            q.visible_at,
        );
        let relation_type = q.relation_type.as_ref().map(|t| t.as_str().to_owned());
        let rows = match (q.entity, relation_type) {
            (Some(entity), relation_type) => {
                let props = props
                    .set("entity", entity.to_string())
                    .set("outgoing_only", q.outgoing_only)
                    .set("type", relation_type);
                self.read(RELATIONS_OF_ENTITY, props).await?
            }
            (None, Some(relation_type)) => {
                self.read(RELATIONS_OF_TYPE, props.set("type", relation_type))
                    .await?
            }
            (None, None) => self.read(RELATIONS_OF_SCOPE, props).await?,
        };
        self.relations_from(&rows, scope)
    }

    async fn changes(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Changes, StoreError> {
        let rows = self
            .read(
                CHANGES,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("since", since)
                    .set("until", until),
            )
            .await?;
        let kinds = strings(&rows, "kind")?;
        let found: Vec<RelationId> = strings(&rows, "id")?
            .iter()
            .map(|id| parse_id(id))
            .collect::<Result<_, _>>()?;
        let relations = self.relations_by_id(scope, found.iter().copied()).await?;
        let mut changes = Changes::default();
        for (kind, id) in kinds.iter().zip(&found) {
            let Some(relation) = relations.get(id).cloned() else {
                continue;
            };
            match kind.as_str() {
                "added" => changes.added.push(relation),
                "invalidated" => changes.invalidated.push(relation),
                _ => changes.retracted.push(relation),
            }
        }
        changes.added.sort_by_key(|r| (r.times.recorded_at, r.id));
        changes
            .invalidated
            .sort_by_key(|r| (r.times.invalidated_at, r.id));
        changes
            .retracted
            .sort_by_key(|r| (r.times.retracted_at, r.id));
        Ok(changes)
    }

    async fn episode(&self, id: EpisodeId) -> Result<Option<Episode>, StoreError> {
        let rows = self
            .read(EPISODE, Props::new().set("id", id.to_string()))
            .await?;
        Ok(self.episodes_from(&rows[..rows.len().min(1)])?.pop())
    }

    async fn pending_episodes(&self, limit: usize) -> Result<Vec<Episode>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .read(PENDING_EPISODES, Props::new().set("limit", int(limit)))
            .await?;
        self.episodes_from(&rows)
    }

    async fn recent_episodes(
        &self,
        scope: &Scope,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Episode>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .read(
                RECENT_EPISODES,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("before", before)
                    .set("limit", int(limit)),
            )
            .await?;
        self.episodes_from(&rows)
    }

    async fn episode_footprint(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Footprint, StoreError> {
        let rows = self
            .read(
                FOOTPRINT,
                Props::new()
                    .set("scope_key", scope.key())
                    .set("episode", episode.to_string()),
            )
            .await?;
        let kinds = strings(&rows, "kind")?;
        let found = strings(&rows, "id")?;
        let added = string_lists(&rows, "aliases")?;
        let mut stated = Vec::new();
        let mut ended = Vec::new();
        let mut mentioned: Vec<EntityId> = Vec::new();
        let mut aliases: Vec<(EntityId, String)> = Vec::new();
        for ((kind, id), added) in kinds.iter().zip(&found).zip(added) {
            match kind.as_str() {
                "stated" => stated.push(parse_id::<RelationId>(id)?),
                "ended" => ended.push(parse_id::<RelationId>(id)?),
                _ => {
                    let entity: EntityId = parse_id(id)?;
                    aliases.extend(added.into_iter().map(|alias| (entity, alias)));
                    mentioned.push(entity);
                }
            }
        }
        aliases.sort();
        aliases.dedup();
        let relations = self
            .relations_by_id(scope, stated.iter().chain(&ended).copied())
            .await?;
        let load = |ids: Vec<RelationId>| -> Vec<Relation> {
            let mut out: Vec<Relation> = ids
                .iter()
                .filter_map(|id| relations.get(id).cloned())
                .collect();
            out.sort_by_key(|r| (r.times.recorded_at, r.id));
            out.dedup_by_key(|r| r.id);
            out
        };
        mentioned.sort();
        mentioned.dedup();
        Ok(Footprint {
            stated: load(stated),
            ended: load(ended),
            mentioned,
            aliases,
        })
    }

    async fn scope_summary(&self, scope: &Scope) -> Result<Option<ScopeSummary>, StoreError> {
        let rows = self
            .read(SCOPE_SUMMARY, Props::new().set("scope_key", scope.key()))
            .await?;
        rows.first()
            .map(|row| codec::scope_summary(&Record::from_row(row, "summary", "summary")?, scope))
            .transpose()
    }

    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        let rows = self.read(SCOPES, Props::new()).await?;
        let mut scopes = BTreeMap::new();
        for key in strings(&rows, "scope_key")? {
            let scope = Scope::from_key(&key)
                .map_err(|err| StoreError::Corrupt(format!("stored scope key {key:?}: {err}")))?;
            scopes.insert(key, scope);
        }
        Ok(scopes.into_values().collect())
    }

    async fn counts(&self) -> Result<GraphCounts, StoreError> {
        let rows = self.read(COUNTS, Props::new()).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("counts: no row".to_owned()))?;
        Ok(GraphCounts {
            entities: count(row, "entities")?,
            relations: count(row, "relations")?,
            episodes_pending: count(row, "pending")?,
            episodes_done: count(row, "done")?,
            episodes_failed: count(row, "failed")?,
            corrupt_skipped: self.skipped.count(),
        })
    }
}

#[async_trait]
impl GraphWrite for Neo4jStore {
    async fn insert_episode(&self, episode: &Episode) -> Result<EpisodeInsert, StoreError> {
        check_stored("occurred_at", &episode.occurred_at)?;
        check_stored("ingested_at", &episode.ingested_at)?;
        let scope_key = episode.scope.key();
        let idempotency_uid = episode
            .idempotency_key
            .as_ref()
            .map(|key| text::uid(&scope_key, key));
        let by_key = |uid: String| Props::new().set("uid", uid);
        let mut tx = Tx::begin(&self.graph).await?;
        let result = async {
            if let Some(uid) = &idempotency_uid {
                let rows = tx
                    .rows(query(EPISODE_BY_IDEMPOTENCY, by_key(uid.clone())))
                    .await?;
                if let Some(row) = rows.first() {
                    let existing = codec::episode(&Record::from_row(row, "episode", "episode")?)?;
                    return Ok(Some(existing));
                }
            }
            let rows = tx
                .rows(query(
                    EPISODE,
                    Props::new().set("id", episode.id.to_string()),
                ))
                .await?;
            if !rows.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "episode {} already exists",
                    episode.id
                )));
            }
            let (status, reason) = codec::status_fields(&episode.status);
            let (calls, prompt, completion) = codec::usage_fields(&episode.llm_usage);
            let metadata = serde_json::to_string(&episode.metadata)
                .map_err(|err| StoreError::Invalid(ValidationError::Request(err.to_string())))?;
            let params = Props::new()
                .scope(&episode.scope)
                .set("id", episode.id.to_string())
                .set("content", episode.content.clone())
                .set("occurred_at", episode.occurred_at)
                .set("ingested_at", episode.ingested_at)
                .set("status", status)
                .set("reason", reason)
                .set("idempotency_key", episode.idempotency_key.clone())
                .set("idempotency_uid", idempotency_uid.clone())
                .set("metadata", metadata)
                .set("llm_calls", calls)
                .set("llm_prompt_tokens", prompt)
                .set("llm_completion_tokens", completion);
            tx.rows(query(CREATE_EPISODE, params)).await?;
            Ok(None)
        }
        .await;
        let outcome = match result {
            Ok(Some(existing)) => {
                tx.rollback().await;
                return Ok(EpisodeInsert::Duplicate(Box::new(existing)));
            }
            Ok(None) => tx.commit().await,
            Err(err) => {
                tx.rollback().await;
                Err(err)
            }
        };
        match (outcome, idempotency_uid) {
            (Ok(()), _) => Ok(EpisodeInsert::Inserted),
            // Another process journaled the same key first.
            (Err(StoreError::Conflict(message)), Some(uid)) => {
                let rows = self.read(EPISODE_BY_IDEMPOTENCY, by_key(uid)).await?;
                match rows.first() {
                    Some(row) => Ok(EpisodeInsert::Duplicate(Box::new(codec::episode(
                        &Record::from_row(row, "episode", "episode")?,
                    )?))),
                    None => Err(StoreError::Conflict(message)),
                }
            }
            (Err(err), _) => Err(err),
        }
    }

    async fn apply(&self, scope: &Scope, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        // Nothing that would not read back is written: refused before the transaction.
        mnemo_core::ports::check_times(&ops)?;
        // A batch is all or nothing, so one that hit a transient error (a deadlock with
        // another process, a leader switch) can simply run again.
        let mut attempt = 1;
        loop {
            match crate::apply::apply(&self.graph, scope, ops.clone(), self.dimension).await {
                Err(err) if db::is_transient(&err) && attempt < APPLY_ATTEMPTS => {
                    tracing::debug!(error = %err, attempt, "retrying a Neo4j write batch");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        db::run(
            &self.graph,
            query(ERASE_SCOPE, Props::new().set("scope_key", scope.key())),
        )
        .await
    }

    async fn put_scope_summary(&self, summary: &ScopeSummary) -> Result<(), StoreError> {
        check_stored("updated_at", &summary.updated_at)?;
        db::run(
            &self.graph,
            query(
                PUT_SCOPE_SUMMARY,
                Props::new()
                    .scope(&summary.scope)
                    .set("text", summary.text.clone())
                    .set("through_episode", summary.through_episode.to_string())
                    .set("updated_at", summary.updated_at),
            ),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_cosine_maps_back() {
        for (score, cos) in [(1.0, 1.0), (0.5, 0.0), (0.0, -1.0), (0.75, 0.5)] {
            assert!((cosine(score) - cos).abs() < 1e-6, "{score}");
        }
    }
}
