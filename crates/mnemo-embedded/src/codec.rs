//! How domain values are written to and read from SQLite columns: timestamps, ids,
//! vectors, JSON lists, and whole rows of each table.
//!
//! Timestamps are `mnemo_core::time`'s text (RFC 3339 UTC with exactly nine fractional
//! digits): they round-trip at chrono's full (nanosecond) precision over the supported
//! range 0001–9999 and, being fixed-width there, compare correctly as strings in SQL.
//!
//! A row that does not decode is skipped by [`keep`] (logged with its id and counted),
//! never an error of the read that met it.

use std::str::FromStr;

use mnemo_core::{
    Entity, EntityType, Episode, EpisodeId, EpisodeStatus, Fact, FactEvent, FactEventKind,
    LlmUsage, Relation, RelationTimes, RelationType, Scope, ScopeSummary, SkippedRecords,
    StatedEnd, Timestamp, time,
};
use rusqlite::Row;

use crate::error::{EmbeddedError, Result};

/// The stored text of a timestamp ([`mnemo_core::time::to_text`]); one outside the
/// supported range is refused (`Invalid`), never written.
pub(crate) fn ts(t: &Timestamp) -> Result<String> {
    Ok(time::to_text("timestamp", t)?)
}

pub(crate) fn opt_ts(t: &Option<Timestamp>) -> Result<Option<String>> {
    t.as_ref().map(ts).transpose()
}

pub(crate) fn parse_ts(s: &str) -> Result<Timestamp> {
    time::from_text(s).map_err(|e| EmbeddedError::corrupt("timestamp", e))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<Timestamp>> {
    s.as_deref().map(parse_ts).transpose()
}

/// `decoded` as `Some`, or `None` when the row could not be decoded: then it is logged
/// with its `kind` and the id in column `id_column`, and counted in `skipped`. Errors of
/// SQLite itself (IO, locks) are not the row's fault and are returned.
pub(crate) fn keep<T>(
    skipped: &SkippedRecords,
    kind: &'static str,
    row: &Row<'_>,
    id_column: usize,
    decoded: Result<T>,
) -> Result<Option<T>> {
    match decoded {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_undecodable(&error) => {
            let id = match row.get_ref(id_column) {
                Ok(rusqlite::types::ValueRef::Text(text)) => {
                    String::from_utf8_lossy(text).into_owned()
                }
                Ok(other) => format!("{other:?}"),
                Err(e) => format!("(unreadable id: {e})"),
            };
            skipped.skip(kind, &id, &error);
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Every row of `rows` that decodes with `decode`; the others are skipped by [`keep`].
pub(crate) fn kept_rows<T>(
    skipped: &SkippedRecords,
    kind: &'static str,
    id_column: usize,
    mut rows: rusqlite::Rows<'_>,
    decode: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.extend(keep(skipped, kind, row, id_column, decode(row))?);
    }
    Ok(out)
}

fn is_undecodable(error: &EmbeddedError) -> bool {
    match error {
        EmbeddedError::Corrupt { .. } | EmbeddedError::Column(_) => true,
        EmbeddedError::Sqlite(e) => matches!(
            e,
            rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
                | rusqlite::Error::Utf8Error(..)
        ),
        _ => false,
    }
}

pub(crate) fn parse_id<T: FromStr>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| EmbeddedError::corrupt("id", format!("{s:?}")))
}

pub(crate) fn parse_opt_id<T: FromStr>(s: Option<String>) -> Result<Option<T>> {
    s.as_deref().map(parse_id).transpose()
}

pub(crate) fn vector_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn parse_vector(blob: &[u8], dimension: usize) -> Result<Vec<f32>> {
    if blob.len() != dimension * 4 {
        return Err(EmbeddedError::corrupt(
            "vector",
            format!("{} bytes, expected {}", blob.len(), dimension * 4),
        ));
    }
    let (chunks, _) = blob.as_chunks::<4>();
    Ok(chunks.iter().map(|c| f32::from_le_bytes(*c)).collect())
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| EmbeddedError::corrupt("json", e))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(what: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| EmbeddedError::corrupt(what, e))
}

pub(crate) fn parse_scope(key: &str) -> Result<Scope> {
    Scope::from_key(key).map_err(|e| EmbeddedError::corrupt("scope", e))
}

/// The five times of a relation as stored in five consecutive columns starting at `at`:
/// valid_from, valid_to, recorded_at, invalidated_at, retracted_at.
pub(crate) fn relation_times(row: &Row<'_>, at: usize) -> Result<RelationTimes> {
    Ok(RelationTimes {
        valid_from: parse_opt_ts(row.get(at)?)?,
        valid_to: parse_opt_ts(row.get(at + 1)?)?,
        recorded_at: parse_ts(&row.get::<_, String>(at + 2)?)?,
        invalidated_at: parse_opt_ts(row.get(at + 3)?)?,
        retracted_at: parse_opt_ts(row.get(at + 4)?)?,
    })
}

/// `stated_valid_to, stated_invalidated_at, stated_in` from column `at` on; the other two
/// without a `stated_valid_to` do not decode.
fn stated_end(row: &Row<'_>, at: usize) -> Result<Option<StatedEnd>> {
    let invalidated_at = parse_opt_ts(row.get(at + 1)?)?;
    let episode = parse_opt_id(row.get(at + 2)?)?;
    match parse_opt_ts(row.get(at)?)? {
        Some(valid_to) => Ok(Some(StatedEnd {
            valid_to,
            invalidated_at,
            episode,
        })),
        None if invalidated_at.is_none() && episode.is_none() => Ok(None),
        None => Err(EmbeddedError::corrupt(
            "stated end",
            "stated_invalidated_at or stated_in without stated_valid_to",
        )),
    }
}

pub(crate) const ENTITY_COLUMNS: &str =
    "id, name, display_name, entity_type, aliases, embedding, mentions, created_at, updated_at";

pub(crate) fn entity_row(row: &Row<'_>, scope: &Scope, dimension: usize) -> Result<Entity> {
    let entity_type: String = row.get(3)?;
    Ok(Entity {
        id: parse_id(&row.get::<_, String>(0)?)?,
        scope: scope.clone(),
        name: row.get(1)?,
        display_name: row.get(2)?,
        entity_type: EntityType::parse(&entity_type)
            .map_err(|e| EmbeddedError::corrupt("entity type", e))?,
        aliases: parse_json("aliases", &row.get::<_, String>(4)?)?,
        embedding: parse_vector(row.get_ref(5)?.as_blob()?, dimension)?,
        mentions: row.get(6)?,
        created_at: parse_ts(&row.get::<_, String>(7)?)?,
        updated_at: parse_ts(&row.get::<_, String>(8)?)?,
    })
}

pub(crate) const RELATION_COLUMNS: &str = "id, source, relation_type, target, fact, valid_from, valid_to, recorded_at, invalidated_at, retracted_at, invalidated_by, episodes, mentions, invalidated_in, stated_valid_to, stated_invalidated_at, stated_in";

pub(crate) fn relation_row(row: &Row<'_>, scope: &Scope) -> Result<Relation> {
    let relation_type: String = row.get(2)?;
    Ok(Relation {
        id: parse_id(&row.get::<_, String>(0)?)?,
        scope: scope.clone(),
        source: parse_id(&row.get::<_, String>(1)?)?,
        relation_type: RelationType::parse(&relation_type)
            .map_err(|e| EmbeddedError::corrupt("relation type", e))?,
        target: parse_id(&row.get::<_, String>(3)?)?,
        fact: row.get(4)?,
        times: relation_times(row, 5)?,
        invalidated_by: parse_opt_id(row.get(10)?)?,
        invalidated_in: parse_opt_id(row.get(13)?)?,
        episodes: parse_json("episodes", &row.get::<_, String>(11)?)?,
        mentions: row.get(12)?,
        stated_end: stated_end(row, 14)?,
    })
}

pub(crate) const EPISODE_COLUMNS: &str = "scope, id, content, occurred_at, ingested_at, status, failure_reason, idempotency_key, metadata, llm_calls, llm_prompt_tokens, llm_completion_tokens";

pub(crate) fn episode_row(row: &Row<'_>) -> Result<Episode> {
    let status: String = row.get(5)?;
    let reason: Option<String> = row.get(6)?;
    let status = match status.as_str() {
        "pending" => EpisodeStatus::Pending,
        "done" => EpisodeStatus::Done,
        "failed" => EpisodeStatus::Failed {
            reason: reason.unwrap_or_default(),
        },
        other => return Err(EmbeddedError::corrupt("episode status", other)),
    };
    Ok(Episode {
        scope: parse_scope(&row.get::<_, String>(0)?)?,
        id: parse_id(&row.get::<_, String>(1)?)?,
        content: row.get(2)?,
        occurred_at: parse_ts(&row.get::<_, String>(3)?)?,
        ingested_at: parse_ts(&row.get::<_, String>(4)?)?,
        status,
        idempotency_key: row.get(7)?,
        metadata: parse_json("episode metadata", &row.get::<_, String>(8)?)?,
        llm_usage: LlmUsage {
            calls: row.get(9)?,
            prompt_tokens: parse_count(row.get(10)?)?,
            completion_tokens: parse_count(row.get(11)?)?,
        },
    })
}

/// A token count as an SQLite integer (saturating: no count reaches `i64::MAX`).
pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn parse_count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| EmbeddedError::corrupt("token count", n))
}

/// The `failure_reason` column of a status.
pub(crate) fn failure_reason(status: &EpisodeStatus) -> Option<&str> {
    match status {
        EpisodeStatus::Failed { reason } => Some(reason),
        EpisodeStatus::Pending | EpisodeStatus::Done => None,
    }
}

pub(crate) const SCOPE_SUMMARY_COLUMNS: &str = "text, through_episode, updated_at";

pub(crate) fn scope_summary_row(row: &Row<'_>, scope: &Scope) -> Result<ScopeSummary> {
    Ok(ScopeSummary {
        scope: scope.clone(),
        text: row.get(0)?,
        through_episode: parse_id(&row.get::<_, String>(1)?)?,
        updated_at: parse_ts(&row.get::<_, String>(2)?)?,
    })
}

pub(crate) const FACT_COLUMNS: &str = "id, text, metadata, created_at, updated_at, episodes";

pub(crate) fn fact_row(row: &Row<'_>, scope: &Scope) -> Result<Fact> {
    Ok(Fact {
        id: parse_id(&row.get::<_, String>(0)?)?,
        scope: scope.clone(),
        text: row.get(1)?,
        metadata: parse_json("fact metadata", &row.get::<_, String>(2)?)?,
        created_at: parse_ts(&row.get::<_, String>(3)?)?,
        updated_at: parse_ts(&row.get::<_, String>(4)?)?,
        episodes: parse_json::<Vec<EpisodeId>>("episodes", &row.get::<_, String>(5)?)?,
    })
}

pub(crate) fn fact_event_kind(kind: FactEventKind) -> &'static str {
    match kind {
        FactEventKind::Add => "ADD",
        FactEventKind::Update => "UPDATE",
        FactEventKind::Delete => "DELETE",
        FactEventKind::None => "NONE",
    }
}

pub(crate) const FACT_EVENT_COLUMNS: &str = "fact_id, event, old_text, new_text, at, episode";

pub(crate) fn fact_event_row(row: &Row<'_>) -> Result<FactEvent> {
    let event: String = row.get(1)?;
    let event = match event.as_str() {
        "ADD" => FactEventKind::Add,
        "UPDATE" => FactEventKind::Update,
        "DELETE" => FactEventKind::Delete,
        "NONE" => FactEventKind::None,
        other => return Err(EmbeddedError::corrupt("fact event", other)),
    };
    Ok(FactEvent {
        fact_id: parse_id(&row.get::<_, String>(0)?)?,
        event,
        old_text: row.get(2)?,
        new_text: row.get(3)?,
        at: parse_ts(&row.get::<_, String>(4)?)?,
        episode: parse_opt_id(row.get(5)?)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let times = [
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1564, 4, 23, 0, 0, 0).unwrap(),
            Utc.timestamp_opt(1_700_000_000, 1).unwrap(),
            Utc.timestamp_opt(1_700_000_000, 999_999_999).unwrap(),
            Utc.timestamp_opt(1_700_000_001, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap(),
            time::MAX,
        ];
        for t in &times {
            let text = ts(t).unwrap();
            assert_eq!(parse_ts(&text).unwrap(), *t, "{text}");
        }
        for pair in times.windows(2) {
            assert!(ts(&pair[0]).unwrap() < ts(&pair[1]).unwrap(), "{:?}", pair);
        }
        assert!(parse_ts("yesterday").is_err());
        for t in mnemo_testkit::fixtures::timestamp_sweep() {
            assert_eq!(parse_ts(&ts(&t).unwrap()).unwrap(), t);
        }
    }

    /// What broke (issue 20): year -1 was written as `-0001-…` and never read back.
    #[test]
    fn timestamps_outside_the_range_are_refused_before_writing() {
        for year in [-1, 0, 10_000] {
            let t = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
            assert!(
                matches!(ts(&t), Err(EmbeddedError::Invalid(_))),
                "year {year}"
            );
        }
        assert!(parse_ts("-0001-01-01T00:00:00.000000000Z").is_err());
    }

    #[test]
    fn vectors_round_trip() {
        let v = vec![0.5, -1.25, f32::MIN_POSITIVE, 3.0e7];
        assert_eq!(parse_vector(&vector_blob(&v), 4).unwrap(), v);
        assert!(parse_vector(&vector_blob(&v), 3).is_err());
    }
}
