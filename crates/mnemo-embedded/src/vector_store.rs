//! `VectorRead` and `VectorWrite`: relation embeddings and facts, searched in memory and
//! persisted in SQLite.

use async_trait::async_trait;
use mnemo_core::ports::{
    FactPut, Page, RelationVector, Scored, VectorCounts, VectorRead, VectorWrite,
};
use mnemo_core::{
    EpisodeId, Fact, FactEvent, FactId, RelationId, RelationTimes, Scope, SkippedRecords,
    StoreError, Visibility, is_visible,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{
    FACT_COLUMNS, FACT_EVENT_COLUMNS, fact_event_kind, fact_event_row, fact_row, json, keep,
    kept_rows, opt_ts, ts, vector_blob,
};
use crate::error::{EmbeddedError, Result};
use crate::memory::Effect;
use crate::memory::{CodeTable, store_code};
use crate::vectors::VectorCode;
use crate::{
    EXACT_FACT_VECTOR, EXACT_RELATION_VECTOR, EmbeddedStore, count_rows, exact_vectors, fts, graph,
    sql_int, with_records,
};

fn get_fact(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    id: FactId,
) -> Result<Option<Fact>> {
    let sql = format!("SELECT {FACT_COLUMNS} FROM facts WHERE scope = ?1 AND id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![scope.key(), id.to_string()])?;
    match rows.next()? {
        Some(row) => keep(skipped, "facts", row, 0, fact_row(row, scope)),
        None => Ok(None),
    }
}

/// Every decodable fact event of `rows`; the others are skipped.
fn event_rows(skipped: &SkippedRecords, rows: rusqlite::Rows<'_>) -> Result<Vec<FactEvent>> {
    kept_rows(skipped, "fact_history", 0, rows, fact_event_row)
}

fn append_event(conn: &Connection, key: &str, event: &FactEvent) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO fact_history (scope, fact_id, event, old_text, new_text, at, episode) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key,
        event.fact_id.to_string(),
        fact_event_kind(event.event),
        event.old_text,
        event.new_text,
        ts(&event.at)?,
        event.episode.map(|e| e.to_string()),
    ])?;
    Ok(())
}

/// `?1` scope, `?2` episode: the episode's fact events, oldest first, through
/// `fact_history_by_episode`.
pub(crate) fn episode_events_sql() -> String {
    format!(
        "SELECT {FACT_EVENT_COLUMNS} FROM fact_history \
         WHERE scope = ?1 AND episode = ?2 ORDER BY at, seq"
    )
}

fn check_event_fact(event: &FactEvent, id: FactId) -> Result<()> {
    if event.fact_id == id {
        Ok(())
    } else {
        Err(EmbeddedError::Conflict(format!(
            "history event of fact {} given for fact {id}",
            event.fact_id
        )))
    }
}

fn facts_text(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    query: &str,
    k: usize,
) -> Result<Vec<Scored<Fact>>> {
    fts::search(conn, &fts::FACTS, scope, query, k, |row| {
        keep(skipped, "facts", row, 0, fact_row(row, scope))
    })
}

#[async_trait]
impl VectorRead for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        <Self as mnemo_core::ports::GraphRead>::ping(self).await
    }

    async fn search_relations(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
        at: Visibility,
    ) -> Result<Vec<Scored<RelationId>>, StoreError> {
        let (key, query) = (scope.key(), query.to_vec());
        self.blocking(move |inner| {
            inner.check_vector(&query)?;
            // The memory lock only for the scan: the re-scoring reads SQLite, and a write
            // waiting for the lock would hold up every search behind it meanwhile.
            let candidates = match inner.memory()?.scope(&key) {
                Some(scope) => scope.relations.candidates(
                    &query,
                    k,
                    |times| is_visible(times, &at),
                    inner.search(),
                ),
                None => return Ok(Vec::new()),
            };
            inner.read(|tx| {
                let exact = exact_vectors(tx, inner, EXACT_RELATION_VECTOR, &key);
                Ok(candidates
                    .rescore(&query, exact)?
                    .into_iter()
                    .map(|(item, score)| Scored { item, score })
                    .collect())
            })
        })
        .await
    }

    async fn fact(&self, scope: &Scope, id: FactId) -> Result<Option<Fact>, StoreError> {
        let scope = scope.clone();
        self.point_read(1, move |inner| {
            inner.read(|tx| get_fact(tx, &inner.skipped_vectors, &scope, id))
        })
        .await
    }

    async fn facts(&self, scope: &Scope, page: Page) -> Result<Vec<Fact>, StoreError> {
        let scope = scope.clone();
        self.blocking(move |inner| {
            inner.read(|tx| {
                let sql = format!(
                    "SELECT {FACT_COLUMNS} FROM facts WHERE scope = ?1 \
                     ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
                );
                let mut stmt = tx.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![
                    scope.key(),
                    sql_int(page.limit),
                    sql_int(page.offset)
                ])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let fact = fact_row(row, &scope);
                    out.extend(keep(&inner.skipped_vectors, "facts", row, 0, fact)?);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn search_facts(
        &self,
        scope: &Scope,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError> {
        let (scope, query) = (scope.clone(), query.to_vec());
        self.blocking(move |inner| {
            inner.check_vector(&query)?;
            let key = scope.key();
            let candidates = match inner.memory()?.scope(&key) {
                Some(s) => s.facts.candidates(&query, k, |_| true, inner.search()),
                None => return Ok(Vec::new()),
            };
            inner.read(|tx| {
                let exact = exact_vectors(tx, inner, EXACT_FACT_VECTOR, &key);
                let hits = candidates.rescore(&query, exact)?;
                with_records(hits, |id| get_fact(tx, &inner.skipped_vectors, &scope, id))
            })
        })
        .await
    }

    async fn search_facts_text(
        &self,
        scope: &Scope,
        query: &str,
        k: usize,
    ) -> Result<Vec<Scored<Fact>>, StoreError> {
        let (scope, query) = (scope.clone(), query.to_owned());
        self.blocking(move |inner| {
            inner.read(|tx| facts_text(tx, &inner.skipped_vectors, &scope, &query, k))
        })
        .await
    }

    async fn fact_history(&self, scope: &Scope, id: FactId) -> Result<Vec<FactEvent>, StoreError> {
        let key = scope.key();
        // One fact's events, through its index.
        self.point_read(1, move |inner| {
            inner.read(|tx| {
                let sql = format!(
                    "SELECT {FACT_EVENT_COLUMNS} FROM fact_history \
                     WHERE scope = ?1 AND fact_id = ?2 ORDER BY at, seq"
                );
                let mut stmt = tx.prepare_cached(&sql)?;
                event_rows(
                    &inner.skipped_vectors,
                    stmt.query(params![key, id.to_string()])?,
                )
            })
        })
        .await
    }

    async fn fact_events_of_episode(
        &self,
        scope: &Scope,
        episode: EpisodeId,
    ) -> Result<Vec<FactEvent>, StoreError> {
        let key = scope.key();
        // One episode's events, through its index.
        self.point_read(1, move |inner| {
            inner.read(|tx| {
                let mut stmt = tx.prepare_cached(&episode_events_sql())?;
                event_rows(
                    &inner.skipped_vectors,
                    stmt.query(params![key, episode.to_string()])?,
                )
            })
        })
        .await
    }
    async fn counts(&self) -> Result<VectorCounts, StoreError> {
        self.blocking(|inner| {
            inner.read(|tx| {
                let count = |sql: &str| count_rows(tx, sql, []);
                Ok(VectorCounts {
                    relation_vectors: count("SELECT count(*) FROM relation_vectors")?,
                    facts: count("SELECT count(*) FROM facts")?,
                    corrupt_skipped: inner.skipped_vectors.count(),
                })
            })
        })
        .await
    }
}

#[async_trait]
impl VectorWrite for EmbeddedStore {
    async fn upsert_relation_vectors(&self, items: &[RelationVector]) -> Result<(), StoreError> {
        let items = items.to_vec();
        self.blocking(move |inner| {
            for item in &items {
                inner.check_vector(&item.vector)?;
            }
            let codes: Vec<VectorCode> = items.iter().map(|i| VectorCode::of(&i.vector)).collect();
            inner.write(|tx| {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO relation_vectors (scope, id, valid_from, valid_to, recorded_at, \
                     invalidated_at, retracted_at, vector) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (scope, id) DO UPDATE SET valid_from = excluded.valid_from, \
                     valid_to = excluded.valid_to, recorded_at = excluded.recorded_at, \
                     invalidated_at = excluded.invalidated_at, \
                     retracted_at = excluded.retracted_at, vector = excluded.vector \
                     RETURNING rowid",
                )?;
                let mut effects = Vec::with_capacity(items.len());
                for (item, code) in items.into_iter().zip(codes) {
                    let key = item.scope.key();
                    let t = &item.times;
                    let id = item.id.to_string();
                    let rowid: i64 = stmt.query_row(
                        params![
                            key,
                            id,
                            opt_ts(&t.valid_from)?,
                            opt_ts(&t.valid_to)?,
                            ts(&t.recorded_at)?,
                            opt_ts(&t.invalidated_at)?,
                            opt_ts(&t.retracted_at)?,
                            vector_blob(&item.vector),
                        ],
                        |r| r.get(0),
                    )?;
                    store_code(tx, CodeTable::RelationVectors, rowid, &id, &code)?;
                    effects.push(Effect::RelationVector {
                        scope: key,
                        id: item.id,
                        times: item.times,
                        code,
                        rowid,
                    });
                }
                Ok(((), effects))
            })
        })
        .await
    }

    async fn set_relation_times(
        &self,
        scope: &Scope,
        id: RelationId,
        times: RelationTimes,
    ) -> Result<(), StoreError> {
        let key = scope.key();
        self.blocking(move |inner| {
            inner.write(|tx| {
                let updated = tx
                    .prepare_cached(
                        "UPDATE relation_vectors SET valid_from = ?3, valid_to = ?4, \
                         recorded_at = ?5, invalidated_at = ?6, retracted_at = ?7 \
                         WHERE scope = ?1 AND id = ?2",
                    )?
                    .execute(params![
                        key,
                        id.to_string(),
                        opt_ts(&times.valid_from)?,
                        opt_ts(&times.valid_to)?,
                        ts(&times.recorded_at)?,
                        opt_ts(&times.invalidated_at)?,
                        opt_ts(&times.retracted_at)?,
                    ])?;
                if updated == 0 {
                    return Err(EmbeddedError::not_found("relation vector", id));
                }
                Ok((
                    (),
                    vec![Effect::RelationVectorTimes {
                        scope: key,
                        id,
                        times,
                    }],
                ))
            })
        })
        .await
    }

    async fn delete_relation_vectors(
        &self,
        scope: &Scope,
        ids: &[RelationId],
    ) -> Result<(), StoreError> {
        let (key, ids) = (scope.key(), ids.to_vec());
        self.blocking(move |inner| {
            inner.write(|tx| {
                let mut stmt =
                    tx.prepare_cached("DELETE FROM relation_vectors WHERE scope = ?1 AND id = ?2")?;
                let mut effects = Vec::new();
                for id in ids {
                    if stmt.execute(params![key, id.to_string()])? > 0 {
                        effects.push(Effect::RemoveRelationVector {
                            scope: key.clone(),
                            id,
                        });
                    }
                }
                Ok(((), effects))
            })
        })
        .await
    }

    async fn put_fact(
        &self,
        fact: &Fact,
        vector: &[f32],
        event: &FactEvent,
    ) -> Result<(), StoreError> {
        self.put_facts(&[FactPut {
            fact: fact.clone(),
            vector: vector.to_vec(),
            event: event.clone(),
        }])
        .await
    }

    async fn put_facts(&self, items: &[FactPut]) -> Result<(), StoreError> {
        let items = items.to_vec();
        self.blocking(move |inner| {
            for item in &items {
                inner.check_vector(&item.vector)?;
                check_event_fact(&item.event, item.fact.id)?;
            }
            inner.write(|tx| {
                let mut effects = Vec::with_capacity(items.len());
                for FactPut {
                    fact,
                    vector,
                    event,
                } in items
                {
                    let key = fact.scope.key();
                    let code = VectorCode::of(&vector);
                    let pk: i64 = tx
                        .prepare_cached(
                            "INSERT INTO facts (scope, id, text, metadata, created_at, \
                             updated_at, episodes, vector) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                             ON CONFLICT (scope, id) DO UPDATE SET text = excluded.text, \
                             metadata = excluded.metadata, created_at = excluded.created_at, \
                             updated_at = excluded.updated_at, episodes = excluded.episodes, \
                             vector = excluded.vector RETURNING pk",
                        )?
                        .query_row(
                            params![
                                key,
                                fact.id.to_string(),
                                fact.text,
                                json(&fact.metadata)?,
                                ts(&fact.created_at)?,
                                ts(&fact.updated_at)?,
                                json(&fact.episodes)?,
                                vector_blob(&vector),
                            ],
                            |r| r.get(0),
                        )?;
                    store_code(tx, CodeTable::Facts, pk, &fact.id.to_string(), &code)?;
                    tx.prepare_cached("DELETE FROM fact_fts WHERE rowid = ?1")?
                        .execute([pk])?;
                    tx.prepare_cached(
                        "INSERT INTO fact_fts (rowid, text, scope_tag) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![pk, fact.text, fts::scope_tag(&key)])?;
                    append_event(tx, &key, &event)?;
                    effects.push(Effect::Fact {
                        scope: key,
                        id: fact.id,
                        code,
                        rowid: pk,
                    });
                }
                Ok(((), effects))
            })
        })
        .await
    }

    async fn delete_fact(
        &self,
        scope: &Scope,
        id: FactId,
        event: &FactEvent,
    ) -> Result<(), StoreError> {
        let (key, event) = (scope.key(), event.clone());
        self.blocking(move |inner| {
            check_event_fact(&event, id)?;
            inner.write(|tx| {
                let pk: Option<i64> = tx
                    .prepare_cached("DELETE FROM facts WHERE scope = ?1 AND id = ?2 RETURNING pk")?
                    .query_row(params![key, id.to_string()], |r| r.get(0))
                    .optional()?;
                let Some(pk) = pk else {
                    return Err(EmbeddedError::not_found("fact", id));
                };
                tx.prepare_cached("DELETE FROM fact_fts WHERE rowid = ?1")?
                    .execute([pk])?;
                append_event(tx, &key, &event)?;
                Ok((
                    (),
                    vec![Effect::RemoveFact {
                        scope: key.clone(),
                        id,
                    }],
                ))
            })
        })
        .await
    }

    async fn erase_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        let key = scope.key();
        self.blocking(move |inner| inner.write(|tx| Ok(((), vec![graph::erase_scope(tx, &key)?]))))
            .await
    }
}
