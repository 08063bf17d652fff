//! The writes of the graph ports: `apply_op`, which hands each `WriteOp` to the one
//! function that writes it inside the caller's transaction, and the helpers they share
//! (existence checks, relation times, provenance, entity keys).

use mnemo_core::ports::WriteOp;
use mnemo_core::{
    Entity, EntityId, EpisodeId, EpisodeStatus, LlmUsage, Relation, RelationId, RelationTimes,
    Scope, StatedEnd, Timestamp, normalize_name,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::Inner;
use crate::codec::{self, json, opt_ts, relation_times, ts, vector_blob};
use crate::error::{EmbeddedError, Result};
use crate::fts;
use crate::memory::Effect;
use crate::memory::{CodeTable, store_code};
use crate::vectors::VectorCode;

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

/// Writes an entity of `scope` with its lookup keys and FTS row; a `Conflict` when one of
/// its names belongs to another entity.
fn upsert_entity(
    tx: &Connection,
    inner: &Inner,
    scope: &Scope,
    key: &str,
    entity: &Entity,
) -> Result<Option<Effect>> {
    if entity.scope != *scope {
        return Err(EmbeddedError::not_found("entity", entity.id));
    }
    inner.check_vector(&entity.embedding)?;
    let id = entity.id.to_string();
    let row = EntityRow {
        id: &id,
        aliases: json(&entity.aliases)?,
        embedding: vector_blob(&entity.embedding),
    };
    if mentioned_again(tx, key, entity, &row)? {
        return Ok(None);
    }
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
    let code = VectorCode::of(&entity.embedding);
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
                row.aliases,
                row.embedding,
                entity.mentions,
                ts(&entity.created_at)?,
                ts(&entity.updated_at)?,
            ],
            |r| r.get(0),
        )?;
    store_code(tx, CodeTable::Entities, pk, &id, &code)?;
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
    Ok(Some(Effect::Entity {
        scope: key.to_owned(),
        id: entity.id,
        code,
        rowid: pk,
    }))
}

/// An entity's columns as stored: encoded once, for the comparison with the stored row
/// and for the write.
struct EntityRow<'a> {
    id: &'a str,
    aliases: String,
    embedding: Vec<u8>,
}

/// When the stored entity differs from `entity` at most in its mention count and times
/// (an entity mentioned again, as by every `infer: false` add naming it), writes those
/// and says so: its names, vector, lookup keys, FTS row, code and memory stay as they are.
/// Rewriting them all was most of the writing of such an add.
fn mentioned_again(
    tx: &Connection,
    key: &str,
    entity: &Entity,
    new: &EntityRow<'_>,
) -> Result<bool> {
    let stored: Option<(i64, bool)> = tx
        .prepare_cached(
            "SELECT pk, name, display_name, entity_type, aliases, embedding FROM entities \
             WHERE scope = ?1 AND id = ?2",
        )?
        .query_row(params![key, new.id], |row| {
            let text_is = |i: usize, want: &str| {
                row.get_ref(i)
                    .map(|value| value.as_str().ok() == Some(want))
            };
            let same = text_is(1, &entity.name)?
                && text_is(2, &entity.display_name)?
                && text_is(3, entity.entity_type.as_str())?
                && text_is(4, &new.aliases)?
                && row.get_ref(5)?.as_blob().ok() == Some(new.embedding.as_slice());
            Ok((row.get(0)?, same))
        })
        .optional()?;
    let Some((pk, true)) = stored else {
        return Ok(false);
    };
    tx.prepare_cached(
        "UPDATE entities SET mentions = ?1, created_at = ?2, updated_at = ?3 WHERE pk = ?4",
    )?
    .execute(params![
        entity.mentions,
        ts(&entity.created_at)?,
        ts(&entity.updated_at)?,
        pk
    ])?;
    Ok(true)
}

/// Adds a relation of `scope` between two of its entities, with its provenance index rows.
fn add_relation(tx: &Connection, scope: &Scope, key: &str, r: &Relation) -> Result<()> {
    if r.scope != *scope {
        return Err(EmbeddedError::not_found("relation", r.id));
    }
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
pub(super) fn apply_op(
    tx: &Connection,
    inner: &Inner,
    scope: &Scope,
    key: &str,
    op: WriteOp,
) -> Result<Option<Effect>> {
    let none = |()| None;
    match op {
        WriteOp::UpsertEntity(entity) => upsert_entity(tx, inner, scope, key, &entity),
        WriteOp::AddRelation(relation) => add_relation(tx, scope, key, &relation).map(none),
        WriteOp::AddProvenance { relation, episode } => {
            add_provenance(tx, key, relation, episode).map(none)
        }
        WriteOp::RemoveProvenance { relation, episode } => {
            remove_provenance(tx, key, relation, episode).map(none)
        }
        WriteOp::EndRelation {
            relation,
            valid_to,
            invalidated_at,
            invalidated_by,
            episode,
        } => end_relation(
            tx,
            key,
            relation,
            valid_to,
            invalidated_at,
            invalidated_by,
            episode,
        )
        .map(none),
        WriteOp::RetractRelation {
            relation,
            retracted_at,
            episode,
        } => retract_relation(tx, key, relation, retracted_at, episode).map(none),
        WriteOp::RestoreRelation { relation, times } => {
            restore_relation(tx, key, relation, &times).map(none)
        }
        WriteOp::SetStatedEnd {
            relation,
            stated_end,
        } => set_stated_end(tx, key, relation, stated_end).map(none),
        WriteOp::DeleteRelation { relation } => delete_relation(tx, key, relation).map(none),
        WriteOp::DeleteEntity { entity } => delete_entity(tx, key, entity).map(Some),
        WriteOp::Mention { episode, entity } => mention(tx, key, episode, entity).map(none),
        WriteOp::RecordAlias {
            episode,
            entity,
            alias,
        } => record_alias(tx, key, episode, entity, &alias).map(none),
        WriteOp::SetEpisodeStatus {
            episode,
            status,
            llm_usage,
        } => set_episode_status(tx, key, episode, &status, &llm_usage).map(none),
        WriteOp::DropScopeSummary => drop_scope_summary(tx, key).map(none),
        WriteOp::DeleteEpisode { episode } => delete_episode(tx, key, episode).map(none),
    }
}

/// Ends a relation: its `valid_to`, when it was invalidated, by which relation, in which
/// episode.
fn end_relation(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    valid_to: Timestamp,
    invalidated_at: Option<Timestamp>,
    invalidated_by: Option<RelationId>,
    episode: Option<EpisodeId>,
) -> Result<()> {
    let mut times = relation_times_of(tx, key, relation)?;
    check_episode(tx, key, episode)?;
    times.valid_to = Some(valid_to);
    times.invalidated_at = invalidated_at;
    write_relation_times(tx, key, relation, &times, invalidated_by, episode)
}

fn retract_relation(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    retracted_at: Timestamp,
    episode: Option<EpisodeId>,
) -> Result<()> {
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
    Ok(())
}

/// Puts back the times a relation had, with neither an invalidating relation nor episode.
fn restore_relation(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    times: &RelationTimes,
) -> Result<()> {
    relation_times_of(tx, key, relation)?;
    write_relation_times(tx, key, relation, times, None, None)
}

/// A relation's own end. Not part of the in-memory state (visibility reads `valid_to`).
fn set_stated_end(
    tx: &Connection,
    key: &str,
    relation: RelationId,
    stated_end: Option<StatedEnd>,
) -> Result<()> {
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
    Ok(())
}

/// Deletes a relation and its provenance index rows.
fn delete_relation(tx: &Connection, key: &str, relation: RelationId) -> Result<()> {
    let (episodes, _) = provenance_of(tx, key, relation)?;
    tx.prepare_cached("DELETE FROM relations WHERE scope = ?1 AND id = ?2")?
        .execute(params![key, relation.to_string()])?;
    for episode in episodes {
        unlink_provenance(tx, key, episode, relation)?;
    }
    Ok(())
}

/// Records that `episode` mentions `entity`; both must exist.
fn mention(tx: &Connection, key: &str, episode: EpisodeId, entity: EntityId) -> Result<()> {
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
    Ok(())
}

/// Records an alias the episode added, on the episode's mention of the entity.
fn record_alias(
    tx: &Connection,
    key: &str,
    episode: EpisodeId,
    entity: EntityId,
    alias: &str,
) -> Result<()> {
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
    Ok(())
}

fn set_episode_status(
    tx: &Connection,
    key: &str,
    episode: EpisodeId,
    status: &EpisodeStatus,
    llm_usage: &LlmUsage,
) -> Result<()> {
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
            codec::failure_reason(status),
            llm_usage.calls,
            codec::count(llm_usage.prompt_tokens),
            codec::count(llm_usage.completion_tokens),
        ])?;
    if updated == 0 {
        return Err(EmbeddedError::not_found("episode", episode));
    }
    Ok(())
}

fn drop_scope_summary(tx: &Connection, key: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM scope_summaries WHERE scope = ?1")?
        .execute(params![key])?;
    Ok(())
}

/// Deletes an episode with its mentions and the aliases it recorded.
fn delete_episode(tx: &Connection, key: &str, episode: EpisodeId) -> Result<()> {
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plans::{assert_searches, migrated};

    #[test]
    fn delete_entity_queries_use_an_index_never_a_scan() {
        assert_searches(
            &migrated(),
            vec![
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
                (TOUCHING_SQL.to_owned(), "relations_by_target", false),
            ],
        );
    }
}
