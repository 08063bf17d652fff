//! `GraphRead` and `GraphWrite` over SQLite: the trait impls, each a short read or write
//! on the blocking pool. The SQL of reads lives in `read.rs`, the write helpers and
//! `apply`'s one function per op in `write.rs`.

mod read;
mod write;

use async_trait::async_trait;
use mnemo_core::ports::{
    Changes, EpisodeInsert, Footprint, GraphCounts, GraphRead, GraphWrite, Page, RelationQuery,
    Scored, WriteOp,
};
use mnemo_core::{
    Entity, EntityId, Episode, EpisodeId, Relation, RelationId, Scope, ScopeSummary, StoreError,
    Timestamp, normalize_name,
};
use rusqlite::{OptionalExtension, params};

use crate::codec::{
    self, ENTITY_COLUMNS, EPISODE_COLUMNS, SCOPE_SUMMARY_COLUMNS, entity_row, episode_row, json,
    keep, scope_summary_row, ts,
};
use crate::error::{EmbeddedError, Result};
use crate::{
    EXACT_ENTITY_VECTOR, EmbeddedStore, POINT_READ_MAX_KEYS, count_rows, exact_vectors, sql_int,
    with_records,
};
use read::{
    entities_text, episode_rows, footprint, get_entity, get_episode, get_relation, query_relations,
    query_relations_within, recent_episodes_sql, relations_in_window,
};
use write::apply_op;
pub(crate) use write::erase_scope;

/// Rows an entity's relations read on the caller's thread before the query moves to the
/// blocking pool: a few times the walk's limit of 40, so only an entity with many
/// relations not visible at the query's point moves.
const ENTITY_RELATIONS_INLINE_ROWS: usize = 256;

#[async_trait]
impl GraphRead for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.point_read(1, |inner| {
            inner.read(|tx| Ok(tx.query_row("SELECT 1", [], |_| Ok(()))?))
        })
        .await
    }

    async fn entity(&self, scope: &Scope, id: EntityId) -> Result<Option<Entity>, StoreError> {
        let scope = scope.clone();
        self.point_read(1, move |inner| {
            inner.read(|tx| get_entity(tx, &inner.skipped, &scope, id, inner.dimension))
        })
        .await
    }

    async fn entities_by_ids(
        &self,
        scope: &Scope,
        ids: &[EntityId],
    ) -> Result<Vec<Option<Entity>>, StoreError> {
        let (scope, ids) = (scope.clone(), ids.to_vec());
        self.point_read(ids.len(), move |inner| {
            inner.read(|tx| {
                ids.iter()
                    .map(|&id| get_entity(tx, &inner.skipped, &scope, id, inner.dimension))
                    .collect()
            })
        })
        .await
    }

    async fn entity_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<Entity>, StoreError> {
        let found = self.entities_by_names(scope, &[name.to_owned()]).await?;
        Ok(found.into_iter().next().flatten())
    }

    async fn entities_by_names(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> Result<Vec<Option<Entity>>, StoreError> {
        let (scope, names) = (scope.clone(), names.to_vec());
        self.point_read(names.len(), move |inner| {
            inner.read(|tx| {
                let mut stmt = tx.prepare_cached(
                    "SELECT entity_id FROM entity_keys WHERE scope = ?1 AND key = ?2",
                )?;
                let mut found = Vec::with_capacity(names.len());
                for name in &names {
                    let Ok(key) = normalize_name(name) else {
                        found.push(None);
                        continue;
                    };
                    let id: Option<String> = stmt
                        .query_row(params![scope.key(), key], |r| r.get(0))
                        .optional()?;
                    found.push(match id {
                        Some(id) => get_entity(
                            tx,
                            &inner.skipped,
                            &scope,
                            codec::parse_id(&id)?,
                            inner.dimension,
                        )?,
                        None => None,
                    });
                }
                Ok(found)
            })
        })
        .await
    }

    async fn entities(&self, scope: &Scope, page: Page) -> Result<Vec<Entity>, StoreError> {
        let scope = scope.clone();
        self.blocking(move |inner| {
            inner.read(|tx| {
                let sql = format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities WHERE scope = ?1 \
                     ORDER BY name, id LIMIT ?2 OFFSET ?3"
                );
                let mut stmt = tx.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![
                    scope.key(),
                    sql_int(page.limit),
                    sql_int(page.offset)
                ])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let entity = entity_row(row, &scope, inner.dimension);
                    out.extend(keep(&inner.skipped, "entities", row, 0, entity)?);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn search_entities_text(
        &self,
        scope: &Scope,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        let (scope, query) = (scope.clone(), query.to_owned());
        self.blocking(move |inner| {
            inner.read(|tx| {
                entities_text(tx, &inner.skipped, &scope, &query, limit, inner.dimension)
            })
        })
        .await
    }

    async fn search_entities_vector(
        &self,
        scope: &Scope,
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<Scored<Entity>>, StoreError> {
        let (scope, query) = (scope.clone(), query.to_vec());
        self.blocking(move |inner| {
            inner.check_vector(&query)?;
            let key = scope.key();
            let candidates = match inner.memory()?.scope(&key) {
                Some(s) => s
                    .entities
                    .candidates(&query, limit, |_| true, inner.search()),
                None => return Ok(Vec::new()),
            };
            inner.read(|tx| {
                let exact = exact_vectors(tx, inner, EXACT_ENTITY_VECTOR, &key);
                let hits = candidates.rescore(&query, exact)?;
                with_records(hits, |id| {
                    get_entity(tx, &inner.skipped, &scope, id, inner.dimension)
                })
            })
        })
        .await
    }

    async fn relation(
        &self,
        scope: &Scope,
        id: RelationId,
    ) -> Result<Option<Relation>, StoreError> {
        let scope = scope.clone();
        self.point_read(1, move |inner| {
            inner.read(|tx| get_relation(tx, &inner.skipped, &scope, id))
        })
        .await
    }

    async fn relations_by_ids(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<Vec<Option<Relation>>, StoreError> {
        let (scope, ids) = (scope.clone(), ids.to_vec());
        self.point_read(ids.len(), move |inner| {
            inner.read(|tx| {
                ids.iter()
                    .map(|&id| get_relation(tx, &inner.skipped, &scope, id))
                    .collect()
            })
        })
        .await
    }

    async fn relations(
        &self,
        scope: &Scope,
        query: &RelationQuery,
    ) -> Result<Vec<Relation>, StoreError> {
        // One entity's relations come through its index, but the rows not visible at the
        // query's point are read too (a hub at an early `as_of`): a point read only while
        // the rows read stay within [`ENTITY_RELATIONS_INLINE_ROWS`]; past that the query
        // runs again on the blocking pool. The whole scope's relations are a scan.
        if query.entity.is_some() && query.limit <= POINT_READ_MAX_KEYS {
            let (scope, query) = (scope.clone(), query.clone());
            let within = self
                .point_read(1, move |inner| {
                    inner.read(|tx| {
                        let budget = ENTITY_RELATIONS_INLINE_ROWS;
                        query_relations_within(tx, &inner.skipped, &scope, &query, budget)
                    })
                })
                .await?;
            if let Some(found) = within {
                return Ok(found);
            }
        }
        let (scope, query) = (scope.clone(), query.clone());
        self.blocking(move |inner| {
            inner.read(|tx| query_relations(tx, &inner.skipped, &scope, &query))
        })
        .await
    }

    async fn changes(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Changes, StoreError> {
        let scope = scope.clone();
        let (since, until) = (ts(&since)?, ts(&until)?);
        self.blocking(move |inner| {
            inner.read(|tx| {
                let window = |column| {
                    relations_in_window(tx, &inner.skipped, &scope, column, (&since, &until))
                };
                Ok(Changes {
                    added: window("recorded_at")?,
                    invalidated: window("invalidated_at")?,
                    retracted: window("retracted_at")?,
                })
            })
        })
        .await
    }

    async fn episode(&self, id: EpisodeId) -> Result<Option<Episode>, StoreError> {
        self.point_read(1, move |inner| {
            inner.read(|tx| get_episode(tx, &inner.skipped, id))
        })
        .await
    }

    async fn pending_episodes(&self, limit: usize) -> Result<Vec<Episode>, StoreError> {
        self.blocking(move |inner| {
            inner.read(|tx| {
                let sql = format!(
                    "SELECT {EPISODE_COLUMNS} FROM episodes WHERE status = 'pending' \
                     ORDER BY ingested_at, id LIMIT ?1"
                );
                let mut stmt = tx.prepare_cached(&sql)?;
                episode_rows(&inner.skipped, stmt.query([sql_int(limit)])?)
            })
        })
        .await
    }

    async fn recent_episodes(
        &self,
        scope: &Scope,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<Episode>, StoreError> {
        let (key, before) = (scope.key(), ts(&before)?);
        self.blocking(move |inner| {
            inner.read(|tx| {
                let mut stmt = tx.prepare_cached(&recent_episodes_sql())?;
                episode_rows(
                    &inner.skipped,
                    stmt.query(params![key, before, sql_int(limit)])?,
                )
            })
        })
        .await
    }

    async fn episode_footprint(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Footprint, StoreError> {
        let scope = scope.clone();
        // Through the provenance and `invalidated_in` indexes; as long as what one episode did.
        self.point_read(1, move |inner| {
            inner.read(|tx| footprint(tx, &inner.skipped, &scope, episode))
        })
        .await
    }

    async fn scope_summary(&self, scope: &Scope) -> Result<Option<ScopeSummary>, StoreError> {
        let scope = scope.clone();
        self.point_read(1, move |inner| {
            inner.read(|tx| {
                let sql =
                    format!("SELECT {SCOPE_SUMMARY_COLUMNS} FROM scope_summaries WHERE scope = ?1");
                let mut stmt = tx.prepare_cached(&sql)?;
                let mut rows = stmt.query([scope.key()])?;
                match rows.next()? {
                    Some(row) => {
                        let summary = scope_summary_row(row, &scope);
                        keep(&inner.skipped, "scope_summaries", row, 1, summary)
                    }
                    None => Ok(None),
                }
            })
        })
        .await
    }
    async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        self.blocking(|inner| {
            inner.read(|tx| {
                let mut stmt = tx.prepare_cached(
                    "SELECT scope FROM entities UNION SELECT scope FROM episodes ORDER BY 1",
                )?;
                let keys = stmt
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                keys.iter()
                    .map(|key| {
                        Scope::from_key(key).map_err(|err| EmbeddedError::corrupt("scope key", err))
                    })
                    .collect()
            })
        })
        .await
    }

    async fn counts(&self) -> Result<GraphCounts, StoreError> {
        self.blocking(|inner| {
            inner.read(|tx| {
                let count = |sql: &str| count_rows(tx, sql, []);
                let episodes = |status: &str| {
                    count_rows(
                        tx,
                        "SELECT count(*) FROM episodes WHERE status = ?1",
                        [status],
                    )
                };
                Ok(GraphCounts {
                    entities: count("SELECT count(*) FROM entities")?,
                    relations: count("SELECT count(*) FROM relations")?,
                    episodes_pending: episodes("pending")?,
                    episodes_done: episodes("done")?,
                    episodes_failed: episodes("failed")?,
                    corrupt_skipped: inner.skipped.count(),
                })
            })
        })
        .await
    }
}

#[async_trait]
impl GraphWrite for EmbeddedStore {
    async fn insert_episode(&self, episode: &Episode) -> Result<EpisodeInsert, StoreError> {
        let episode = episode.clone();
        self.blocking(move |inner| {
            let (occurred_at, ingested_at) = (ts(&episode.occurred_at)?, ts(&episode.ingested_at)?);
            inner.write(|tx| {
                let key = episode.scope.key();
                if let Some(idempotency_key) = &episode.idempotency_key {
                    let sql = format!(
                        "SELECT {EPISODE_COLUMNS} FROM episodes \
                         WHERE scope = ?1 AND idempotency_key = ?2"
                    );
                    let mut stmt = tx.prepare_cached(&sql)?;
                    let mut rows = stmt.query(params![key, idempotency_key])?;
                    if let Some(row) = rows.next()?
                        && let Some(existing) =
                            keep(&inner.skipped, "episodes", row, 1, episode_row(row))?
                    {
                        return Ok((EpisodeInsert::Duplicate(Box::new(existing)), Vec::new()));
                    }
                }
                if get_episode(tx, &inner.skipped, episode.id)?.is_some() {
                    return Err(EmbeddedError::Conflict(format!(
                        "episode {} already exists",
                        episode.id
                    )));
                }
                tx.prepare_cached(
                    "INSERT INTO episodes (scope, id, content, occurred_at, ingested_at, status, \
                     failure_reason, idempotency_key, metadata, llm_calls, llm_prompt_tokens, \
                     llm_completion_tokens) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?
                .execute(params![
                    key,
                    episode.id.to_string(),
                    episode.content,
                    occurred_at,
                    ingested_at,
                    episode.status.as_str(),
                    codec::failure_reason(&episode.status),
                    episode.idempotency_key,
                    json(&episode.metadata)?,
                    episode.llm_usage.calls,
                    codec::count(episode.llm_usage.prompt_tokens),
                    codec::count(episode.llm_usage.completion_tokens),
                ])?;
                Ok((EpisodeInsert::Inserted, Vec::new()))
            })
        })
        .await
    }

    async fn apply(&self, scope: &Scope, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.blocking(move |inner| {
            let key = scope.key();
            // Nothing that would not read back is written: refused before the transaction.
            mnemo_core::ports::check_times(&ops)?;
            inner.write(|tx| {
                let mut effects = Vec::with_capacity(ops.len());
                for op in ops {
                    effects.extend(apply_op(tx, inner, &scope, &key, op)?);
                }
                Ok(((), effects))
            })
        })
        .await
    }

    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        let key = scope.key();
        self.blocking(move |inner| inner.write(|tx| Ok(((), vec![erase_scope(tx, &key)?]))))
            .await
    }

    async fn put_scope_summary(&self, summary: &ScopeSummary) -> Result<(), StoreError> {
        let summary = summary.clone();
        self.blocking(move |inner| {
            inner.write(|tx| {
                tx.prepare_cached(
                    "INSERT INTO scope_summaries (scope, text, through_episode, updated_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope) DO UPDATE SET \
                     text = excluded.text, through_episode = excluded.through_episode, \
                     updated_at = excluded.updated_at",
                )?
                .execute(params![
                    summary.scope.key(),
                    summary.text,
                    summary.through_episode.to_string(),
                    ts(&summary.updated_at)?,
                ])?;
                Ok(((), Vec::new()))
            })
        })
        .await
    }
}

/// Query plans, for the tests that keep each statement on an index.
#[cfg(test)]
mod plans {
    use rusqlite::Connection;

    /// An in-memory database with the schema.
    pub(super) fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        conn
    }

    /// The query plan of `sql`, one detail line per step.
    pub(super) fn plan(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows.join("\n")
    }

    /// Each `(sql, index it must use, whether its ORDER BY may sort)`, its parameters
    /// `?1` scope, `?2` entity, `?3` type as far as it has them: no scan, no sort unless allowed.
    pub(super) fn assert_searches(conn: &Connection, cases: Vec<(String, &str, bool)>) {
        let p: [&dyn rusqlite::ToSql; 3] = [&"scope", &"entity", &"TYPE"];
        for (sql, index, may_sort) in cases {
            let n = (1..=3).filter(|i| sql.contains(&format!("?{i}"))).count();
            let plan = plan(conn, &sql, &p[..n]);
            assert!(plan.contains(index), "{sql}\n{plan}");
            assert!(!plan.contains("SCAN"), "{sql}\n{plan}");
            assert!(may_sort || !plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
        }
    }
}
