//! `GraphRead` and `GraphWrite` over SQLite.

use async_trait::async_trait;
use mnemo_core::ports::{
    Changes, EpisodeInsert, Footprint, GraphCounts, GraphRead, GraphWrite, Page, RelationQuery,
    Scored, WriteOp,
};
use mnemo_core::{
    Entity, EntityId, Episode, EpisodeId, Relation, RelationId, RelationTimes, Scope, ScopeSummary,
    SkippedRecords, StoreError, Timestamp, is_visible, normalize_name,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{
    self, ENTITY_COLUMNS, EPISODE_COLUMNS, RELATION_COLUMNS, SCOPE_SUMMARY_COLUMNS, entity_row,
    episode_row, json, keep, kept_rows, opt_ts, relation_row, relation_times, scope_summary_row,
    ts, vector_blob,
};
use crate::error::{EmbeddedError, Result};
use crate::memory::Effect;
use crate::{EmbeddedStore, Inner, count_rows, fts, sql_int, with_records};

pub(crate) fn get_entity(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    id: EntityId,
    dimension: usize,
) -> Result<Option<Entity>> {
    let sql = format!("SELECT {ENTITY_COLUMNS} FROM entities WHERE scope = ?1 AND id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![scope.key(), id.to_string()])?;
    match rows.next()? {
        Some(row) => keep(
            skipped,
            "entities",
            row,
            0,
            entity_row(row, scope, dimension),
        ),
        None => Ok(None),
    }
}

pub(crate) fn get_relation(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    id: RelationId,
) -> Result<Option<Relation>> {
    let sql = format!("SELECT {RELATION_COLUMNS} FROM relations WHERE scope = ?1 AND id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![scope.key(), id.to_string()])?;
    match rows.next()? {
        Some(row) => keep(skipped, "relations", row, 0, relation_row(row, scope)),
        None => Ok(None),
    }
}

fn get_episode(
    conn: &Connection,
    skipped: &SkippedRecords,
    id: EpisodeId,
) -> Result<Option<Episode>> {
    let sql = format!("SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(row) => keep(skipped, "episodes", row, 1, episode_row(row)),
        None => Ok(None),
    }
}

/// Every decodable episode of `rows`; the others are skipped.
fn episode_rows(skipped: &SkippedRecords, rows: rusqlite::Rows<'_>) -> Result<Vec<Episode>> {
    kept_rows(skipped, "episodes", 1, rows, episode_row)
}

/// Every decodable relation of `rows`; the others are skipped.
fn relation_rows(
    skipped: &SkippedRecords,
    scope: &Scope,
    rows: rusqlite::Rows<'_>,
) -> Result<Vec<Relation>> {
    kept_rows(skipped, "relations", 0, rows, |row| {
        relation_row(row, scope)
    })
}

fn entity_exists(conn: &Connection, key: &str, id: EntityId) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM entities WHERE scope = ?1 AND id = ?2")?;
    Ok(stmt.exists(params![key, id.to_string()])?)
}

fn episode_exists(conn: &Connection, key: &str, id: EpisodeId) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM episodes WHERE scope = ?1 AND id = ?2")?;
    Ok(stmt.exists(params![key, id.to_string()])?)
}

fn relation_times_of(conn: &Connection, key: &str, id: RelationId) -> Result<RelationTimes> {
    let mut stmt = conn.prepare_cached(
        "SELECT valid_from, valid_to, recorded_at, invalidated_at, retracted_at \
         FROM relations WHERE scope = ?1 AND id = ?2",
    )?;
    let mut rows = stmt.query(params![key, id.to_string()])?;
    match rows.next()? {
        Some(row) => relation_times(row, 0),
        None => Err(EmbeddedError::not_found("relation", id)),
    }
}

fn write_relation_times(
    conn: &Connection,
    key: &str,
    id: RelationId,
    times: &RelationTimes,
    invalidated_by: Option<RelationId>,
    invalidated_in: Option<EpisodeId>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE relations SET valid_from = ?3, valid_to = ?4, recorded_at = ?5, \
         invalidated_at = ?6, retracted_at = ?7, invalidated_by = ?8, invalidated_in = ?9 \
         WHERE scope = ?1 AND id = ?2",
    )?;
    stmt.execute(params![
        key,
        id.to_string(),
        opt_ts(&times.valid_from)?,
        opt_ts(&times.valid_to)?,
        ts(&times.recorded_at)?,
        opt_ts(&times.invalidated_at)?,
        opt_ts(&times.retracted_at)?,
        invalidated_by.map(|r| r.to_string()),
        invalidated_in.map(|e| e.to_string()),
    ])?;
    Ok(())
}

/// The lookup keys of an entity: its normalised name and aliases, without duplicates.
fn entity_keys(entity: &Entity) -> Result<Vec<String>> {
    let mut keys: Vec<String> = Vec::with_capacity(1 + entity.aliases.len());
    for name in std::iter::once(&entity.name).chain(&entity.aliases) {
        let key = normalize_name(name)?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

fn upsert_entity(tx: &Connection, inner: &Inner, key: &str, entity: &Entity) -> Result<Effect> {
    inner.check_vector(&entity.embedding)?;
    let id = entity.id.to_string();
    let keys = entity_keys(entity)?;
    {
        let mut owner =
            tx.prepare_cached("SELECT entity_id FROM entity_keys WHERE scope = ?1 AND key = ?2")?;
        for k in &keys {
            let found: Option<String> =
                owner.query_row(params![key, k], |r| r.get(0)).optional()?;
            if let Some(other) = found
                && other != id
            {
                return Err(EmbeddedError::Conflict(format!(
                    "name `{k}` already belongs to entity {other}"
                )));
            }
        }
    }
    let pk: i64 = tx
        .prepare_cached(
            "INSERT INTO entities (scope, id, name, display_name, entity_type, aliases, embedding, \
             mentions, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (scope, id) DO UPDATE SET name = excluded.name, \
             display_name = excluded.display_name, entity_type = excluded.entity_type, \
             aliases = excluded.aliases, embedding = excluded.embedding, \
             mentions = excluded.mentions, created_at = excluded.created_at, \
             updated_at = excluded.updated_at RETURNING pk",
        )?
        .query_row(
            params![
                key,
                id,
                entity.name,
                entity.display_name,
                entity.entity_type.as_str(),
                json(&entity.aliases)?,
                vector_blob(&entity.embedding),
                entity.mentions,
                ts(&entity.created_at)?,
                ts(&entity.updated_at)?,
            ],
            |r| r.get(0),
        )?;
    tx.prepare_cached("DELETE FROM entity_keys WHERE scope = ?1 AND entity_id = ?2")?
        .execute(params![key, id])?;
    let mut insert_key =
        tx.prepare_cached("INSERT INTO entity_keys (scope, key, entity_id) VALUES (?1, ?2, ?3)")?;
    for k in &keys {
        insert_key.execute(params![key, k, id])?;
    }
    tx.prepare_cached("DELETE FROM entity_fts WHERE rowid = ?1")?
        .execute([pk])?;
    tx.prepare_cached("INSERT INTO entity_fts (rowid, names, scope_tag) VALUES (?1, ?2, ?3)")?
        .execute(params![
            pk,
            fts::entity_names(&entity.display_name, &entity.name, &entity.aliases),
            fts::scope_tag(key)
        ])?;
    Ok(Effect::Entity {
        scope: key.to_owned(),
        id: entity.id,
        vector: entity.embedding.clone(),
    })
}

fn add_relation(tx: &Connection, key: &str, r: &Relation) -> Result<()> {
    for entity in [r.source, r.target] {
        if !entity_exists(tx, key, entity)? {
            return Err(EmbeddedError::not_found("entity", entity));
        }
    }
    let mut exists = tx.prepare_cached("SELECT 1 FROM relations WHERE scope = ?1 AND id = ?2")?;
    if exists.exists(params![key, r.id.to_string()])? {
        return Err(EmbeddedError::Conflict(format!(
            "relation {} already exists",
            r.id
        )));
    }
    tx.prepare_cached(
        "INSERT INTO relations (scope, id, source, relation_type, target, fact, valid_from, \
         valid_to, recorded_at, invalidated_at, retracted_at, invalidated_by, episodes, mentions, \
         invalidated_in, stated_valid_to, stated_invalidated_at, stated_in) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        key,
        r.id.to_string(),
        r.source.to_string(),
        r.relation_type.as_str(),
        r.target.to_string(),
        r.fact,
        opt_ts(&r.times.valid_from)?,
        opt_ts(&r.times.valid_to)?,
        ts(&r.times.recorded_at)?,
        opt_ts(&r.times.invalidated_at)?,
        opt_ts(&r.times.retracted_at)?,
        r.invalidated_by.map(|i| i.to_string()),
        json(&r.episodes)?,
        r.mentions,
        r.invalidated_in.map(|e| e.to_string()),
        opt_ts(&r.stated_end.map(|s| s.valid_to))?,
        opt_ts(&r.stated_end.and_then(|s| s.invalidated_at))?,
        r.stated_end.and_then(|s| s.episode).map(|e| e.to_string()),
    ])?;
    for episode in &r.episodes {
        link_provenance(tx, key, *episode, r.id)?;
    }
    Ok(())
}

/// Records `episode` in the provenance index of `relation` (the `relation_episodes` row
/// mirroring one element of `relations.episodes`).
fn link_provenance(
    tx: &Connection,
    key: &str,
    episode: EpisodeId,
    relation: RelationId,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO relation_episodes (scope, episode, relation) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![key, episode.to_string(), relation.to_string()])?;
    Ok(())
}

fn unlink_provenance(
    tx: &Connection,
    key: &str,
    episode: EpisodeId,
    relation: RelationId,
) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM relation_episodes WHERE scope = ?1 AND episode = ?2 AND relation = ?3",
    )?
    .execute(params![key, episode.to_string(), relation.to_string()])?;
    Ok(())
}

/// A relation's provenance list and mention count; `NotFound` when it does not exist.
fn provenance_of(
    tx: &Connection,
    key: &str,
    relation: RelationId,
) -> Result<(Vec<EpisodeId>, u32)> {
    let found: Option<(String, u32)> = tx
        .prepare_cached("SELECT episodes, mentions FROM relations WHERE scope = ?1 AND id = ?2")?
        .query_row(params![key, relation.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((episodes, mentions)) = found else {
        return Err(EmbeddedError::not_found("relation", relation));
    };
    Ok((codec::parse_json("episodes", &episodes)?, mentions))
}

fn write_provenance(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    episodes: &[EpisodeId],
    mentions: u32,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE relations SET episodes = ?3, mentions = ?4 WHERE scope = ?1 AND id = ?2",
    )?
    .execute(params![
        key,
        relation.to_string(),
        json(episodes)?,
        mentions
    ])?;
    Ok(())
}

fn add_provenance(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    episode: EpisodeId,
) -> Result<()> {
    if !episode_exists(tx, key, episode)? {
        return Err(EmbeddedError::not_found("episode", episode));
    }
    let (mut episodes, mentions) = provenance_of(tx, key, relation)?;
    if !episodes.contains(&episode) {
        episodes.push(episode);
    }
    write_provenance(tx, key, relation, &episodes, mentions.saturating_add(1))?;
    link_provenance(tx, key, episode, relation)
}

/// Undoes one `add_provenance`: one mention less (never below 1), the episode out of the
/// provenance list.
fn remove_provenance(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    episode: EpisodeId,
) -> Result<()> {
    let (mut episodes, mentions) = provenance_of(tx, key, relation)?;
    episodes.retain(|e| *e != episode);
    write_provenance(
        tx,
        key,
        relation,
        &episodes,
        mentions.saturating_sub(1).max(1),
    )?;
    unlink_provenance(tx, key, episode, relation)
}

/// `?1` scope, `?2` entity: one relation that has the entity as source or target.
const TOUCHING_SQL: &str = "SELECT id FROM relations INDEXED BY relations_by_source \
     WHERE scope = ?1 AND source = ?2 \
     UNION ALL SELECT id FROM relations INDEXED BY relations_by_target \
     WHERE scope = ?1 AND target = ?2 LIMIT 1";

const DELETE_ENTITY_MENTIONS: &str = "DELETE FROM mentions WHERE scope = ?1 AND entity_id = ?2";
const DELETE_ENTITY_ALIASES: &str =
    "DELETE FROM mention_aliases WHERE scope = ?1 AND entity_id = ?2";

/// Deletes an entity with its lookup keys, FTS row and mentions; a `Conflict` while a
/// relation (ended, retracted or not) still has it as source or target.
fn delete_entity(tx: &Connection, key: &str, entity: EntityId) -> Result<Effect> {
    let id = entity.to_string();
    let touching = tx
        .prepare_cached(TOUCHING_SQL)?
        .query_row(params![key, id], |r| r.get::<_, String>(0))
        .optional()?;
    let pk: Option<i64> = tx
        .prepare_cached("SELECT pk FROM entities WHERE scope = ?1 AND id = ?2")?
        .query_row(params![key, id], |r| r.get(0))
        .optional()?;
    let Some(pk) = pk else {
        return Err(EmbeddedError::not_found("entity", entity));
    };
    if let Some(relation) = touching {
        return Err(EmbeddedError::Conflict(format!(
            "entity {entity} is still touched by relation {relation}"
        )));
    }
    tx.prepare_cached("DELETE FROM entities WHERE pk = ?1")?
        .execute([pk])?;
    tx.prepare_cached("DELETE FROM entity_fts WHERE rowid = ?1")?
        .execute([pk])?;
    tx.prepare_cached("DELETE FROM entity_keys WHERE scope = ?1 AND entity_id = ?2")?
        .execute(params![key, id])?;
    for sql in [DELETE_ENTITY_MENTIONS, DELETE_ENTITY_ALIASES] {
        tx.prepare_cached(sql)?.execute(params![key, id])?;
    }
    Ok(Effect::RemoveEntity {
        scope: key.to_owned(),
        id: entity,
    })
}

/// `NotFound` unless `episode` (when given) is an episode of the scope.
fn check_episode(tx: &Connection, key: &str, episode: Option<EpisodeId>) -> Result<()> {
    match episode {
        Some(e) if !episode_exists(tx, key, e)? => Err(EmbeddedError::not_found("episode", e)),
        _ => Ok(()),
    }
}

/// Applies one op inside the caller's transaction; the memory effect, if any.
fn apply_op(
    tx: &Connection,
    inner: &Inner,
    scope: &Scope,
    key: &str,
    op: WriteOp,
) -> Result<Option<Effect>> {
    match op {
        WriteOp::UpsertEntity(entity) => {
            if entity.scope != *scope {
                return Err(EmbeddedError::not_found("entity", entity.id));
            }
            upsert_entity(tx, inner, key, &entity).map(Some)
        }
        WriteOp::AddRelation(relation) => {
            if relation.scope != *scope {
                return Err(EmbeddedError::not_found("relation", relation.id));
            }
            add_relation(tx, key, &relation)?;
            Ok(None)
        }
        WriteOp::AddProvenance { relation, episode } => {
            add_provenance(tx, key, relation, episode)?;
            Ok(None)
        }
        WriteOp::RemoveProvenance { relation, episode } => {
            remove_provenance(tx, key, relation, episode)?;
            Ok(None)
        }
        WriteOp::EndRelation {
            relation,
            valid_to,
            invalidated_at,
            invalidated_by,
            episode,
        } => {
            let mut times = relation_times_of(tx, key, relation)?;
            check_episode(tx, key, episode)?;
            times.valid_to = Some(valid_to);
            times.invalidated_at = invalidated_at;
            write_relation_times(tx, key, relation, &times, invalidated_by, episode)?;
            Ok(None)
        }
        WriteOp::RetractRelation {
            relation,
            retracted_at,
            episode,
        } => {
            // Existence check: `NotFound` for an unknown relation.
            relation_times_of(tx, key, relation)?;
            check_episode(tx, key, episode)?;
            tx.prepare_cached(
                "UPDATE relations SET retracted_at = ?3, invalidated_in = ?4 \
                 WHERE scope = ?1 AND id = ?2",
            )?
            .execute(params![
                key,
                relation.to_string(),
                ts(&retracted_at)?,
                episode.map(|e| e.to_string())
            ])?;
            Ok(None)
        }
        WriteOp::RestoreRelation { relation, times } => {
            relation_times_of(tx, key, relation)?;
            write_relation_times(tx, key, relation, &times, None, None)?;
            Ok(None)
        }
        WriteOp::SetStatedEnd {
            relation,
            stated_end,
        } => {
            relation_times_of(tx, key, relation)?;
            check_episode(tx, key, stated_end.and_then(|s| s.episode))?;
            tx.prepare_cached(
                "UPDATE relations SET stated_valid_to = ?3, stated_invalidated_at = ?4, \
                 stated_in = ?5 WHERE scope = ?1 AND id = ?2",
            )?
            .execute(params![
                key,
                relation.to_string(),
                opt_ts(&stated_end.map(|s| s.valid_to))?,
                opt_ts(&stated_end.and_then(|s| s.invalidated_at))?,
                stated_end.and_then(|s| s.episode).map(|e| e.to_string()),
            ])?;
            // Not part of the in-memory state (visibility reads `valid_to`).
            Ok(None)
        }
        WriteOp::DeleteRelation { relation } => {
            let (episodes, _) = provenance_of(tx, key, relation)?;
            tx.prepare_cached("DELETE FROM relations WHERE scope = ?1 AND id = ?2")?
                .execute(params![key, relation.to_string()])?;
            for episode in episodes {
                unlink_provenance(tx, key, episode, relation)?;
            }
            Ok(None)
        }
        WriteOp::DeleteEntity { entity } => delete_entity(tx, key, entity).map(Some),
        WriteOp::Mention { episode, entity } => {
            if !episode_exists(tx, key, episode)? {
                return Err(EmbeddedError::not_found("episode", episode));
            }
            if !entity_exists(tx, key, entity)? {
                return Err(EmbeddedError::not_found("entity", entity));
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO mentions (scope, episode, entity_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![key, episode.to_string(), entity.to_string()])?;
            Ok(None)
        }
        WriteOp::RecordAlias {
            episode,
            entity,
            alias,
        } => {
            let (episode, entity) = (episode.to_string(), entity.to_string());
            let mentioned = tx
                .prepare_cached(
                    "SELECT 1 FROM mentions WHERE scope = ?1 AND episode = ?2 AND entity_id = ?3",
                )?
                .exists(params![key, episode, entity])?;
            if !mentioned {
                return Err(EmbeddedError::not_found(
                    "mention",
                    format!("{episode}/{entity}"),
                ));
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO mention_aliases (scope, episode, entity_id, alias) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key, episode, entity, alias])?;
            Ok(None)
        }
        WriteOp::SetEpisodeStatus {
            episode,
            status,
            llm_usage,
        } => {
            let updated = tx
                .prepare_cached(
                    "UPDATE episodes SET status = ?3, failure_reason = ?4, llm_calls = ?5, \
                     llm_prompt_tokens = ?6, llm_completion_tokens = ?7 \
                     WHERE scope = ?1 AND id = ?2",
                )?
                .execute(params![
                    key,
                    episode.to_string(),
                    status.as_str(),
                    codec::failure_reason(&status),
                    llm_usage.calls,
                    codec::count(llm_usage.prompt_tokens),
                    codec::count(llm_usage.completion_tokens),
                ])?;
            if updated == 0 {
                return Err(EmbeddedError::not_found("episode", episode));
            }
            Ok(None)
        }
        WriteOp::DropScopeSummary => {
            tx.prepare_cached("DELETE FROM scope_summaries WHERE scope = ?1")?
                .execute(params![key])?;
            Ok(None)
        }
        WriteOp::DeleteEpisode { episode } => {
            let deleted = tx
                .prepare_cached("DELETE FROM episodes WHERE scope = ?1 AND id = ?2")?
                .execute(params![key, episode.to_string()])?;
            if deleted == 0 {
                return Err(EmbeddedError::not_found("episode", episode));
            }
            for sql in [
                "DELETE FROM mentions WHERE scope = ?1 AND episode = ?2",
                "DELETE FROM mention_aliases WHERE scope = ?1 AND episode = ?2",
            ] {
                tx.prepare_cached(sql)?
                    .execute(params![key, episode.to_string()])?;
            }
            Ok(None)
        }
    }
}

/// Deletes every row of the scope, in every table; used by both traits' `erase_scope`.
pub(crate) fn erase_scope(tx: &Connection, key: &str) -> Result<Effect> {
    tx.execute(
        "DELETE FROM entity_fts WHERE rowid IN (SELECT pk FROM entities WHERE scope = ?1)",
        [key],
    )?;
    tx.execute(
        "DELETE FROM fact_fts WHERE rowid IN (SELECT pk FROM facts WHERE scope = ?1)",
        [key],
    )?;
    for table in [
        "entities",
        "entity_keys",
        "relations",
        "episodes",
        "mentions",
        "mention_aliases",
        "relation_episodes",
        "scope_summaries",
        "relation_vectors",
        "facts",
        "fact_history",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE scope = ?1"), [key])?;
    }
    Ok(Effect::EraseScope {
        scope: key.to_owned(),
    })
}

/// Relations with `column` in `[?2, ?3)`; `column` is one of the three transaction times,
/// never user input.
fn window_sql(column: &str) -> String {
    format!(
        "SELECT {RELATION_COLUMNS} FROM relations WHERE scope = ?1 AND {column} >= ?2 \
         AND {column} < ?3 ORDER BY {column}, id"
    )
}

fn relations_in_window(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    column: &str,
    (since, until): (&str, &str),
) -> Result<Vec<Relation>> {
    let mut stmt = conn.prepare_cached(&window_sql(column))?;
    let rows = stmt.query(params![scope.key(), since, until])?;
    relation_rows(skipped, scope, rows)
}

/// The SQL of [`GraphRead::relations`]: `?1` scope, `?2` entity (or NULL), `?3` type. Each
/// shape is served by one index: by source, by target, by type, or by recording time. With
/// an entity, its adjacency index is forced: a type can hold most of a scope.
fn relations_sql(by_entity: bool, outgoing_only: bool, by_type: bool) -> String {
    let type_filter = if by_type {
        " AND relation_type = ?3"
    } else {
        ""
    };
    let order = "ORDER BY recorded_at, id";
    match (by_entity, outgoing_only) {
        (true, true) => format!(
            "SELECT {RELATION_COLUMNS} FROM relations INDEXED BY relations_by_source \
             WHERE scope = ?1 AND source = ?2{type_filter} {order}"
        ),
        (true, false) => format!(
            "SELECT {RELATION_COLUMNS} FROM relations INDEXED BY relations_by_source \
             WHERE scope = ?1 AND source = ?2{type_filter} \
             UNION ALL SELECT {RELATION_COLUMNS} FROM relations INDEXED BY relations_by_target \
             WHERE scope = ?1 AND target = ?2 AND source <> ?2{type_filter} {order}"
        ),
        (false, _) => format!(
            "SELECT {RELATION_COLUMNS} FROM relations \
             WHERE scope = ?1 AND ?2 IS NULL{type_filter} {order}"
        ),
    }
}

fn query_relations(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    q: &RelationQuery,
) -> Result<Vec<Relation>> {
    if q.limit == 0 {
        return Ok(Vec::new());
    }
    let sql = relations_sql(
        q.entity.is_some(),
        q.outgoing_only,
        q.relation_type.is_some(),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let entity = q.entity.map(|e| e.to_string());
    let relation_type = q.relation_type.as_ref().map(|t| t.as_str());
    let mut rows = if q.relation_type.is_some() {
        stmt.query(params![scope.key(), entity, relation_type])?
    } else {
        stmt.query(params![scope.key(), entity])?
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let Some(relation) = keep(skipped, "relations", row, 0, relation_row(row, scope))? else {
            continue;
        };
        if q.visible_at
            .is_none_or(|at| is_visible(&relation.times, &at))
        {
            out.push(relation);
            if out.len() == q.limit {
                break;
            }
        }
    }
    Ok(out)
}

/// `?1` scope, `?2` before, `?3` limit: newest first through `episodes_by_ingested`.
fn recent_episodes_sql() -> String {
    format!(
        "SELECT {EPISODE_COLUMNS} FROM episodes WHERE scope = ?1 AND ingested_at < ?2 \
         ORDER BY ingested_at DESC, id DESC LIMIT ?3"
    )
}

/// `?1` scope, `?2` episode: the relations whose provenance holds the episode. `CROSS JOIN`
/// keeps the provenance index as the outer loop (else SQLite may walk the whole scope's
/// relations in `recorded_at` order).
fn stated_sql() -> String {
    let columns = RELATION_COLUMNS
        .split(", ")
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns} FROM relation_episodes AS p \
         CROSS JOIN relations AS r ON r.scope = p.scope AND r.id = p.relation \
         WHERE p.scope = ?1 AND p.episode = ?2 ORDER BY r.recorded_at, r.id"
    )
}

/// `?1` scope, `?2` episode: the relations the episode ended or retracted.
fn ended_sql() -> String {
    format!(
        "SELECT {RELATION_COLUMNS} FROM relations INDEXED BY relations_by_invalidated_in \
         WHERE scope = ?1 AND invalidated_in = ?2 ORDER BY recorded_at, id"
    )
}

/// `?1` scope, `?2` episode: the entities the episode mentions.
const MENTIONED_SQL: &str =
    "SELECT entity_id FROM mentions WHERE scope = ?1 AND episode = ?2 ORDER BY entity_id";

const ALIASES_ADDED_SQL: &str = "SELECT entity_id, alias FROM mention_aliases \
     WHERE scope = ?1 AND episode = ?2 ORDER BY entity_id, alias";

fn relations_by(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    sql: &str,
    episode: &str,
) -> Result<Vec<Relation>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query(params![scope.key(), episode])?;
    relation_rows(skipped, scope, rows)
}

fn footprint(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    episode: EpisodeId,
) -> Result<Footprint> {
    let episode = episode.to_string();
    let mut stmt = conn.prepare_cached(MENTIONED_SQL)?;
    let mut rows = stmt.query(params![scope.key(), episode])?;
    let mut mentioned = Vec::new();
    while let Some(row) = rows.next()? {
        mentioned.push(codec::parse_id(row.get_ref(0)?.as_str()?)?);
    }
    let mut stmt = conn.prepare_cached(ALIASES_ADDED_SQL)?;
    let mut rows = stmt.query(params![scope.key(), episode])?;
    let mut aliases = Vec::new();
    while let Some(row) = rows.next()? {
        let entity: EntityId = codec::parse_id(row.get_ref(0)?.as_str()?)?;
        aliases.push((entity, row.get::<_, String>(1)?));
    }
    Ok(Footprint {
        stated: relations_by(conn, skipped, scope, &stated_sql(), &episode)?,
        ended: relations_by(conn, skipped, scope, &ended_sql(), &episode)?,
        mentioned,
        aliases,
    })
}

fn entities_text(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    query: &str,
    limit: usize,
    dimension: usize,
) -> Result<Vec<Scored<Entity>>> {
    fts::search(conn, &fts::ENTITIES, scope, query, limit, |row| {
        keep(
            skipped,
            "entities",
            row,
            0,
            entity_row(row, scope, dimension),
        )
    })
}

#[async_trait]
impl GraphRead for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.blocking(|inner| inner.read(|tx| Ok(tx.query_row("SELECT 1", [], |_| Ok(()))?)))
            .await
    }

    async fn entity(&self, scope: &Scope, id: EntityId) -> Result<Option<Entity>, StoreError> {
        let scope = scope.clone();
        self.blocking(move |inner| {
            inner.read(|tx| get_entity(tx, &inner.skipped, &scope, id, inner.dimension))
        })
        .await
    }

    async fn entity_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<Entity>, StoreError> {
        let Ok(key) = normalize_name(name) else {
            return Ok(None);
        };
        let scope = scope.clone();
        self.blocking(move |inner| {
            inner.read(|tx| {
                let id: Option<String> = tx
                    .prepare_cached(
                        "SELECT entity_id FROM entity_keys WHERE scope = ?1 AND key = ?2",
                    )?
                    .query_row(params![scope.key(), key], |r| r.get(0))
                    .optional()?;
                match id {
                    Some(id) => get_entity(
                        tx,
                        &inner.skipped,
                        &scope,
                        codec::parse_id(&id)?,
                        inner.dimension,
                    ),
                    None => Ok(None),
                }
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
            let hits = match inner.memory()?.scope(&scope.key()) {
                Some(s) => s.entities.search(&query, limit, |_| true),
                None => return Ok(Vec::new()),
            };
            inner.read(|tx| {
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
        self.blocking(move |inner| inner.read(|tx| get_relation(tx, &inner.skipped, &scope, id)))
            .await
    }

    async fn relations(
        &self,
        scope: &Scope,
        query: &RelationQuery,
    ) -> Result<Vec<Relation>, StoreError> {
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
        self.blocking(move |inner| inner.read(|tx| get_episode(tx, &inner.skipped, id)))
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
        self.blocking(move |inner| inner.read(|tx| footprint(tx, &inner.skipped, &scope, episode)))
            .await
    }

    async fn scope_summary(&self, scope: &Scope) -> Result<Option<ScopeSummary>, StoreError> {
        let scope = scope.clone();
        self.blocking(move |inner| {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan of `sql`, one detail line per step.
    fn plan(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows.join("\n")
    }

    #[test]
    fn relation_queries_use_an_index_never_a_scan() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        let p: [&dyn rusqlite::ToSql; 3] = [&"scope", &"entity", &"TYPE"];
        let cases = [
            (relations_sql(true, true, false), "relations_by_source"),
            (relations_sql(true, true, true), "relations_by_source"),
            (relations_sql(true, false, false), "relations_by_target"),
            (relations_sql(true, false, true), "relations_by_target"),
            (relations_sql(false, false, true), "relations_by_type"),
            (relations_sql(false, false, false), "relations_by_recorded"),
        ];
        for (sql, index) in cases {
            let n = if sql.contains("?3") { 3 } else { 2 };
            let plan = plan(&conn, &sql, &p[..n]);
            assert!(plan.contains(index), "{sql}\n{plan}");
            assert!(!plan.contains("SCAN relations"), "{sql}\n{plan}");
        }
        // The reads of reverting an episode and of the extractor's context, and the
        // delete-entity check: (sql, index it must use, whether its ORDER BY may sort).
        let cases = [
            (recent_episodes_sql(), "episodes_by_ingested", false),
            (
                stated_sql(),
                "SEARCH p USING PRIMARY KEY (scope=? AND episode=?)\nSEARCH r USING INDEX sqlite_autoindex_relations_1",
                true,
            ),
            (ended_sql(), "relations_by_invalidated_in", false),
            (
                MENTIONED_SQL.to_owned(),
                "PRIMARY KEY (scope=? AND episode=?)",
                false,
            ),
            (
                crate::vector_store::episode_events_sql(),
                "fact_history_by_episode",
                false,
            ),
            (
                DELETE_ENTITY_MENTIONS.to_owned(),
                "mentions_by_entity",
                false,
            ),
            (
                DELETE_ENTITY_ALIASES.to_owned(),
                "mention_aliases_by_entity",
                false,
            ),
            (
                ALIASES_ADDED_SQL.to_owned(),
                "PRIMARY KEY (scope=? AND episode=?)",
                false,
            ),
            (TOUCHING_SQL.to_owned(), "relations_by_target", false),
        ];
        for (sql, index, may_sort) in cases {
            let n = (1..=3).filter(|i| sql.contains(&format!("?{i}"))).count();
            let plan = plan(&conn, &sql, &p[..n]);
            assert!(plan.contains(index), "{sql}\n{plan}");
            assert!(!plan.contains("SCAN"), "{sql}\n{plan}");
            assert!(may_sort || !plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
        }
        for column in ["recorded_at", "invalidated_at", "retracted_at"] {
            let sql = window_sql(column);
            let plan = plan(&conn, &sql, &[&"s", &"a", &"b"]);
            assert!(plan.contains("USING INDEX relations_by_"), "{sql}\n{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
        }
    }
}
