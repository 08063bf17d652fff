//! The reads of the graph ports: row loaders and the SQL of every read with a shape of
//! its own (relation listings, transaction-time windows, an episode's footprint, recent
//! episodes, full text), kept beside the test that holds each statement to an index.

use mnemo_core::ports::{Footprint, RelationQuery, Scored};
use mnemo_core::{
    Entity, EntityId, Episode, EpisodeId, Relation, RelationId, Scope, SkippedRecords, is_visible,
};
use rusqlite::{Connection, params};

use crate::codec::{
    self, ENTITY_COLUMNS, EPISODE_COLUMNS, RELATION_COLUMNS, entity_row, episode_row, keep,
    kept_rows, relation_row,
};
use crate::error::Result;
use crate::fts;

pub(super) fn get_entity(
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

pub(super) fn get_relation(
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

pub(super) fn get_episode(
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
pub(super) fn episode_rows(
    skipped: &SkippedRecords,
    rows: rusqlite::Rows<'_>,
) -> Result<Vec<Episode>> {
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

/// Relations with `column` in `[?2, ?3)`; `column` is one of the three transaction times,
/// never user input.
fn window_sql(column: &str) -> String {
    format!(
        "SELECT {RELATION_COLUMNS} FROM relations WHERE scope = ?1 AND {column} >= ?2 \
         AND {column} < ?3 ORDER BY {column}, id"
    )
}

pub(super) fn relations_in_window(
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

/// The SQL of [`GraphRead::relations`](mnemo_core::ports::GraphRead::relations): `?1` scope, `?2` entity (or NULL), `?3` type. Each
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

pub(super) fn query_relations(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    q: &RelationQuery,
) -> Result<Vec<Relation>> {
    let all = query_relations_within(conn, skipped, scope, q, usize::MAX)?;
    Ok(all.expect("no row budget to run out of"))
}

/// [`query_relations`], reading at most `budget` rows: `None` when the rows read ran out
/// before the query's limit was met and more rows were left (most of them not visible at
/// the query's point).
pub(super) fn query_relations_within(
    conn: &Connection,
    skipped: &SkippedRecords,
    scope: &Scope,
    q: &RelationQuery,
    budget: usize,
) -> Result<Option<Vec<Relation>>> {
    if q.limit == 0 {
        return Ok(Some(Vec::new()));
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
    let mut read = 0usize;
    while let Some(row) = rows.next()? {
        if read == budget {
            return Ok(None);
        }
        read += 1;
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
    Ok(Some(out))
}

/// `?1` scope, `?2` before, `?3` limit: newest first through `episodes_by_ingested`.
pub(super) fn recent_episodes_sql() -> String {
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

pub(super) fn footprint(
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

pub(super) fn entities_text(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plans::{assert_searches, migrated, plan};

    #[test]
    fn relation_queries_use_an_index_never_a_scan() {
        let conn = migrated();
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
        // The reads of reverting an episode and of the extractor's context: (sql, index it
        // must use, whether its ORDER BY may sort). The delete-entity statements are held
        // to theirs in `write.rs`.
        assert_searches(
            &conn,
            vec![
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
                    ALIASES_ADDED_SQL.to_owned(),
                    "PRIMARY KEY (scope=? AND episode=?)",
                    false,
                ),
            ],
        );
        for column in ["recorded_at", "invalidated_at", "retracted_at"] {
            let sql = window_sql(column);
            let plan = plan(&conn, &sql, &[&"s", &"a", &"b"]);
            assert!(plan.contains("USING INDEX relations_by_"), "{sql}\n{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
        }
    }
}
