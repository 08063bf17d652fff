//! How records become Qdrant points and back: point ids, payload field names, times, and
//! the payloads of relation vectors, facts and fact events.
//!
//! Every point carries its scope twice: `scope_key` (the exact [`Scope::key`], what every
//! filter matches) and `user_id`/`agent_id`/`run_id` (null when absent, for operators
//! reading the collections). Every time is stored twice: as an RFC 3339 string with full
//! precision (what is decoded) and, where a filter or an ordering needs it, as an integer
//! count of microseconds since the epoch (`<name>_us`, what is indexed).

use std::collections::HashMap;

use chrono::SecondsFormat;
use mnemo_core::{
    EpisodeId, Fact, FactEvent, FactEventKind, FactId, RelationTimes, Scope, Timestamp,
};
use qdrant_client::Payload;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{ListValue, PointId, Value};
use uuid::Uuid;

use crate::error::QdrantStoreError;

pub(crate) const SCOPE_KEY: &str = "scope_key";
pub(crate) const USER_ID: &str = "user_id";
pub(crate) const AGENT_ID: &str = "agent_id";
pub(crate) const RUN_ID: &str = "run_id";

pub(crate) const TEXT: &str = "text";
pub(crate) const METADATA: &str = "metadata";
pub(crate) const EPISODES: &str = "episodes";
pub(crate) const UPDATED_AT: &str = "updated_at";

pub(crate) const FACT_ID: &str = "fact_id";
pub(crate) const EVENT: &str = "event";
pub(crate) const OLD_TEXT: &str = "old_text";
pub(crate) const NEW_TEXT: &str = "new_text";
pub(crate) const AT: &str = "at";
pub(crate) const EPISODE: &str = "episode";

/// Which way a time is rounded to whole microseconds for its indexed copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Round {
    Down,
    Up,
}

/// A time stored as an exact RFC 3339 string (`name`) plus an indexed integer of
/// microseconds since the epoch (`indexed`), rounded the way `filter.rs` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeField {
    pub name: &'static str,
    pub indexed: &'static str,
    pub round: Round,
}

macro_rules! time_field {
    ($name:literal, $round:expr) => {
        TimeField {
            name: $name,
            indexed: concat!($name, "_us"),
            round: $round,
        }
    };
}

// The rounding makes the visibility filter a superset of the visibility rule (it never hides
// a visible relation), and exact when every time is a whole microsecond; see `filter.rs`.
pub(crate) const VALID_FROM: TimeField = time_field!("valid_from", Round::Down);
pub(crate) const VALID_TO: TimeField = time_field!("valid_to", Round::Up);
pub(crate) const RECORDED_AT: TimeField = time_field!("recorded_at", Round::Down);
pub(crate) const INVALIDATED_AT: TimeField = time_field!("invalidated_at", Round::Up);
pub(crate) const RETRACTED_AT: TimeField = time_field!("retracted_at", Round::Up);
/// Orders fact listings (newest first).
pub(crate) const CREATED_AT: TimeField = time_field!("created_at", Round::Down);

/// Microseconds since the epoch, rounded down. Every chrono time fits in an `i64`.
pub(crate) fn micros_down(t: &Timestamp) -> i64 {
    t.timestamp_micros()
}

/// Microseconds since the epoch, rounded up (equal to [`micros_down`] for a whole
/// microsecond).
pub(crate) fn micros_up(t: &Timestamp) -> i64 {
    let sub_micro = !t.timestamp_subsec_nanos().is_multiple_of(1_000);
    micros_down(t) + i64::from(sub_micro)
}

fn micros(t: &Timestamp, round: Round) -> i64 {
    match round {
        Round::Down => micros_down(t),
        Round::Up => micros_up(t),
    }
}

/// RFC 3339 with as many fractional digits as the time has, so it decodes to the same time.
pub(crate) fn rfc3339(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn null() -> Value {
    Value {
        kind: Some(Kind::NullValue(0)),
    }
}

fn opt_string(v: Option<&str>) -> Value {
    v.map_or_else(null, Value::from)
}

// ---- ids -----------------------------------------------------------------------------

/// Our ids are UUIDs (v7 for relations and facts) and become UUID point ids unchanged.
pub(crate) fn point_id(uuid: Uuid) -> PointId {
    PointId::from(uuid.to_string())
}

/// The UUID of a point id; a numeric id (never written by mnemo) is corrupt data.
pub(crate) fn point_uuid(id: Option<&PointId>) -> Result<Uuid, QdrantStoreError> {
    match id.and_then(|id| id.point_id_options.as_ref()) {
        Some(PointIdOptions::Uuid(s)) => {
            Uuid::parse_str(s).map_err(|e| QdrantStoreError::corrupt("point id", e))
        }
        Some(PointIdOptions::Num(n)) => Err(QdrantStoreError::corrupt(
            "point id",
            format!("numeric id {n}, mnemo writes UUIDs"),
        )),
        None => Err(QdrantStoreError::corrupt("point id", "missing")),
    }
}

// ---- payloads ------------------------------------------------------------------------

/// The scope fields every point carries.
pub(crate) fn scope_payload(scope: &Scope) -> Payload {
    let mut p = Payload::new();
    p.insert(SCOPE_KEY, scope.key());
    p.insert(USER_ID, opt_string(scope.user_id()));
    p.insert(AGENT_ID, opt_string(scope.agent_id()));
    p.insert(RUN_ID, opt_string(scope.run_id()));
    p
}

fn insert_time(p: &mut HashMap<String, Value>, field: TimeField, t: Option<&Timestamp>) {
    p.insert(
        field.name.to_owned(),
        t.map_or_else(null, |t| rfc3339(t).into()),
    );
    p.insert(
        field.indexed.to_owned(),
        t.map_or_else(null, |t| micros(t, field.round).into()),
    );
}

/// The validity fields of a relation vector: what `set_relation_times` writes (absent
/// times as explicit nulls, so an update clears them).
pub(crate) fn times_payload(times: &RelationTimes) -> HashMap<String, Value> {
    let mut p = HashMap::new();
    insert_time(&mut p, VALID_FROM, times.valid_from.as_ref());
    insert_time(&mut p, VALID_TO, times.valid_to.as_ref());
    insert_time(&mut p, RECORDED_AT, Some(&times.recorded_at));
    insert_time(&mut p, INVALIDATED_AT, times.invalidated_at.as_ref());
    insert_time(&mut p, RETRACTED_AT, times.retracted_at.as_ref());
    p
}

/// The payload of a relation vector: scope and validity.
pub(crate) fn relation_payload(scope: &Scope, times: &RelationTimes) -> Payload {
    let mut p: HashMap<String, Value> = scope_payload(scope).into();
    p.extend(times_payload(times));
    p.into()
}

/// The payload of a fact point: scope, text (full-text indexed), metadata (as a JSON
/// string, so it round-trips exactly), times and provenance.
pub(crate) fn fact_payload(fact: &Fact) -> Payload {
    let mut p: HashMap<String, Value> = scope_payload(&fact.scope).into();
    p.insert(TEXT.to_owned(), fact.text.clone().into());
    p.insert(METADATA.to_owned(), fact.metadata.to_string().into());
    insert_time(&mut p, CREATED_AT, Some(&fact.created_at));
    p.insert(UPDATED_AT.to_owned(), rfc3339(&fact.updated_at).into());
    let episodes = fact
        .episodes
        .iter()
        .map(|e| Value::from(e.to_string()))
        .collect();
    p.insert(
        EPISODES.to_owned(),
        Value {
            kind: Some(Kind::ListValue(ListValue { values: episodes })),
        },
    );
    p.into()
}

fn event_kind(kind: FactEventKind) -> &'static str {
    match kind {
        FactEventKind::Add => "ADD",
        FactEventKind::Update => "UPDATE",
        FactEventKind::Delete => "DELETE",
        FactEventKind::None => "NONE",
    }
}

fn parse_event_kind(s: &str) -> Result<FactEventKind, QdrantStoreError> {
    match s {
        "ADD" => Ok(FactEventKind::Add),
        "UPDATE" => Ok(FactEventKind::Update),
        "DELETE" => Ok(FactEventKind::Delete),
        "NONE" => Ok(FactEventKind::None),
        other => Err(QdrantStoreError::corrupt("fact event kind", other)),
    }
}

/// The payload of a fact-history point: scope and the event.
pub(crate) fn event_payload(scope: &Scope, event: &FactEvent) -> Payload {
    let mut p: HashMap<String, Value> = scope_payload(scope).into();
    p.insert(FACT_ID.to_owned(), event.fact_id.to_string().into());
    p.insert(EVENT.to_owned(), event_kind(event.event).into());
    p.insert(OLD_TEXT.to_owned(), opt_string(event.old_text.as_deref()));
    p.insert(NEW_TEXT.to_owned(), opt_string(event.new_text.as_deref()));
    p.insert(AT.to_owned(), rfc3339(&event.at).into());
    let episode = event.episode.map(|e| e.to_string());
    p.insert(EPISODE.to_owned(), opt_string(episode.as_deref()));
    p.into()
}

// ---- decoding ------------------------------------------------------------------------

type Fields = HashMap<String, Value>;

/// A string field; `None` when absent or null.
fn opt_str<'a>(p: &'a Fields, key: &'static str) -> Result<Option<&'a str>, QdrantStoreError> {
    match p.get(key).and_then(|v| v.kind.as_ref()) {
        None | Some(Kind::NullValue(_)) => Ok(None),
        Some(Kind::StringValue(s)) => Ok(Some(s)),
        Some(other) => Err(QdrantStoreError::corrupt(
            key,
            format!("expected a string, found {other:?}"),
        )),
    }
}

fn req_str<'a>(p: &'a Fields, key: &'static str) -> Result<&'a str, QdrantStoreError> {
    opt_str(p, key)?.ok_or_else(|| QdrantStoreError::corrupt(key, "missing"))
}

fn opt_time(p: &Fields, key: &'static str) -> Result<Option<Timestamp>, QdrantStoreError> {
    opt_str(p, key)?
        .map(|s| mnemo_core::time::from_text(s).map_err(|e| QdrantStoreError::corrupt(key, e)))
        .transpose()
}

fn req_time(p: &Fields, key: &'static str) -> Result<Timestamp, QdrantStoreError> {
    opt_time(p, key)?.ok_or_else(|| QdrantStoreError::corrupt(key, "missing"))
}

fn parse_uuid(s: &str, what: &'static str) -> Result<Uuid, QdrantStoreError> {
    Uuid::parse_str(s).map_err(|e| QdrantStoreError::corrupt(what, format!("{s:?}: {e}")))
}

/// The scope a point belongs to, from its `scope_key`.
pub(crate) fn scope_of(p: &Fields) -> Result<Scope, QdrantStoreError> {
    let key = req_str(p, SCOPE_KEY)?;
    Scope::from_key(key).map_err(|e| QdrantStoreError::corrupt(SCOPE_KEY, e))
}

/// Whether a point belongs to `scope`.
pub(crate) fn in_scope(p: &Fields, scope: &Scope) -> bool {
    matches!(opt_str(p, SCOPE_KEY), Ok(Some(key)) if key == scope.key())
}

/// Inverse of [`relation_payload`] (the exact times, not their indexed copies).
#[cfg(test)]
pub(crate) fn relation_from_payload(
    p: &Fields,
) -> Result<(Scope, RelationTimes), QdrantStoreError> {
    let times = RelationTimes {
        valid_from: opt_time(p, VALID_FROM.name)?,
        valid_to: opt_time(p, VALID_TO.name)?,
        recorded_at: req_time(p, RECORDED_AT.name)?,
        invalidated_at: opt_time(p, INVALIDATED_AT.name)?,
        retracted_at: opt_time(p, RETRACTED_AT.name)?,
    };
    Ok((scope_of(p)?, times))
}

/// Inverse of [`fact_payload`].
pub(crate) fn fact_from_payload(id: Uuid, p: &Fields) -> Result<Fact, QdrantStoreError> {
    let metadata = req_str(p, METADATA)?;
    let episodes = match p.get(EPISODES).and_then(|v| v.kind.as_ref()) {
        Some(Kind::ListValue(list)) => list
            .values
            .iter()
            .map(|v| match &v.kind {
                Some(Kind::StringValue(s)) => parse_uuid(s, EPISODES).map(EpisodeId::from_uuid),
                other => Err(QdrantStoreError::corrupt(
                    EPISODES,
                    format!("expected a string, found {other:?}"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None | Some(Kind::NullValue(_)) => Vec::new(),
        Some(other) => {
            return Err(QdrantStoreError::corrupt(
                EPISODES,
                format!("expected a list, found {other:?}"),
            ));
        }
    };
    Ok(Fact {
        id: FactId::from_uuid(id),
        scope: scope_of(p)?,
        text: req_str(p, TEXT)?.to_owned(),
        metadata: serde_json::from_str(metadata)
            .map_err(|e| QdrantStoreError::corrupt(METADATA, e))?,
        created_at: req_time(p, CREATED_AT.name)?,
        updated_at: req_time(p, UPDATED_AT)?,
        episodes,
    })
}

/// Inverse of [`event_payload`] (the scope is checked by the caller's filter).
pub(crate) fn event_from_payload(p: &Fields) -> Result<FactEvent, QdrantStoreError> {
    Ok(FactEvent {
        fact_id: FactId::from_uuid(parse_uuid(req_str(p, FACT_ID)?, FACT_ID)?),
        event: parse_event_kind(req_str(p, EVENT)?)?,
        old_text: opt_str(p, OLD_TEXT)?.map(str::to_owned),
        new_text: opt_str(p, NEW_TEXT)?.map(str::to_owned),
        at: req_time(p, AT)?,
        episode: opt_str(p, EPISODE)?
            .map(|s| parse_uuid(s, EPISODE).map(EpisodeId::from_uuid))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone};
    use serde_json::json;

    use super::*;

    fn at(y: i32, m: u32, d: u32, nanos: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(y, m, d, 12, 30, 15).unwrap()
            + chrono::Duration::nanoseconds(i64::from(nanos))
    }

    fn scopes() -> Vec<Scope> {
        vec![
            Scope::user("alice").unwrap(),
            Scope::new(Some("alice smith".into()), None, Some("run 1".into())).unwrap(),
            Scope::new(None, Some("agent-7".into()), None).unwrap(),
        ]
    }

    fn fields(p: Payload) -> Fields {
        p.into()
    }

    #[test]
    fn micros_round_each_way() {
        let epoch = chrono::DateTime::UNIX_EPOCH;
        let ns = |n: i64| epoch + chrono::Duration::nanoseconds(n);
        let checks: &[(i64, i64, i64)] = &[
            (0, 0, 0),
            (1_000, 1, 1),
            (1_001, 1, 2),
            (1_999, 1, 2),
            (-1, -1, 0),
            (-1_000, -1, -1),
            (-1_500, -2, -1),
        ];
        for &(nanos, down, up) in checks {
            assert_eq!(micros_down(&ns(nanos)), down, "down({nanos} ns)");
            assert_eq!(micros_up(&ns(nanos)), up, "up({nanos} ns)");
        }
    }

    #[test]
    fn rfc3339_round_trips_to_the_nanosecond() {
        for t in [
            at(2024, 1, 1, 0),
            at(2024, 1, 1, 1),
            at(2024, 1, 1, 123_456_789),
            at(1500, 6, 30, 5_000),
            at(9999, 12, 31, 999_999_999),
        ] {
            let s = rfc3339(&t);
            assert_eq!(DateTime::parse_from_rfc3339(&s).unwrap().to_utc(), t, "{s}");
        }
        assert_eq!(rfc3339(&at(2024, 1, 1, 0)), "2024-01-01T12:30:15Z");
    }

    #[test]
    fn ids_map_to_uuid_point_ids_and_back() {
        let id = Uuid::now_v7();
        let point = point_id(id);
        assert_eq!(
            point.point_id_options,
            Some(PointIdOptions::Uuid(id.to_string()))
        );
        assert_eq!(point_uuid(Some(&point)).unwrap(), id);
        assert!(point_uuid(Some(&PointId::from(7u64))).is_err());
        assert!(point_uuid(None).is_err());
        assert!(point_uuid(Some(&PointId::from("not-a-uuid"))).is_err());
    }

    /// Every instant of the supported range round-trips through the payload (RFC 3339
    /// text), and its indexed microseconds bracket it the way `filter.rs` needs; one
    /// outside the range is refused on read (issue 20: year -1 was written, never read).
    #[test]
    fn times_round_trip_over_the_whole_range() {
        let scope = Scope::user("alice").unwrap();
        for t in mnemo_testkit::fixtures::timestamp_sweep() {
            let times = RelationTimes {
                valid_from: Some(t),
                valid_to: Some(t),
                recorded_at: t,
                invalidated_at: Some(t),
                retracted_at: Some(t),
            };
            let p = fields(relation_payload(&scope, &times));
            assert_eq!(relation_from_payload(&p).unwrap().1, times, "{t:?}");
            let down = DateTime::from_timestamp_micros(micros_down(&t)).unwrap();
            let up = DateTime::from_timestamp_micros(micros_up(&t)).unwrap();
            assert!(down <= t && t <= up, "{t:?}: {down:?} {up:?}");
        }
        let mut p = fields(relation_payload(
            &scope,
            &RelationTimes {
                valid_from: None,
                valid_to: None,
                recorded_at: at(2024, 1, 1, 0),
                invalidated_at: None,
                retracted_at: None,
            },
        ));
        p.insert(RECORDED_AT.name.to_owned(), "-0001-01-01T00:00:00Z".into());
        assert!(relation_from_payload(&p).is_err());
    }

    #[test]
    fn relation_payload_round_trips() {
        let t = |n| Some(at(2024, 3, 1, n));
        let cases = [
            RelationTimes {
                valid_from: None,
                valid_to: None,
                recorded_at: at(2024, 3, 2, 0),
                invalidated_at: None,
                retracted_at: None,
            },
            RelationTimes {
                valid_from: t(1),
                valid_to: t(2_000),
                recorded_at: at(2024, 3, 2, 999),
                invalidated_at: t(3_001),
                retracted_at: t(123_456_789),
            },
        ];
        for scope in scopes() {
            for times in &cases {
                let p = fields(relation_payload(&scope, times));
                assert_eq!(
                    relation_from_payload(&p).unwrap(),
                    (scope.clone(), *times),
                    "{scope}: {times:?}"
                );
                assert!(in_scope(&p, &scope));
            }
        }
    }

    #[test]
    fn relation_payload_indexes_times_rounded_for_the_filter() {
        let times = RelationTimes {
            valid_from: Some(at(2024, 3, 1, 1_500)),
            valid_to: Some(at(2024, 3, 1, 1_500)),
            recorded_at: at(2024, 3, 1, 1_500),
            invalidated_at: Some(at(2024, 3, 1, 1_500)),
            retracted_at: None,
        };
        let p = fields(relation_payload(&Scope::user("u").unwrap(), &times));
        let int = |key: &str| match p[key].kind {
            Some(Kind::IntegerValue(i)) => Some(i),
            Some(Kind::NullValue(_)) => None,
            ref other => panic!("{key}: {other:?}"),
        };
        let base = micros_down(&at(2024, 3, 1, 0));
        assert_eq!(
            int("valid_from_us"),
            Some(base + 1),
            "valid_from rounds down"
        );
        assert_eq!(
            int("recorded_at_us"),
            Some(base + 1),
            "recorded_at rounds down"
        );
        assert_eq!(int("valid_to_us"), Some(base + 2), "valid_to rounds up");
        assert_eq!(
            int("invalidated_at_us"),
            Some(base + 2),
            "invalidated_at rounds up"
        );
        assert_eq!(
            int("retracted_at_us"),
            None,
            "an absent time is an explicit null"
        );
        assert_eq!(
            p["scope_key"].kind,
            Some(Kind::StringValue("u\u{1f}\u{1f}".into()))
        );
        assert_eq!(p["user_id"].kind, Some(Kind::StringValue("u".into())));
        assert_eq!(p["agent_id"].kind, Some(Kind::NullValue(0)));
    }

    #[test]
    fn fact_payload_round_trips() {
        let metadata = [
            json!({}),
            json!({"source": "chat", "n": 18446744073709551615_u64, "x": 1.5, "nested": {"a": [1, null, "b"]}}),
            json!(null),
        ];
        for scope in scopes() {
            for (i, metadata) in metadata.iter().enumerate() {
                let fact = Fact {
                    id: FactId::new(),
                    scope: scope.clone(),
                    text: format!("Alice likes tea ({i}) — ünïcode"),
                    metadata: metadata.clone(),
                    created_at: at(2024, 5, 1, 17),
                    updated_at: at(2024, 5, 2, 0),
                    episodes: (0..i).map(|_| EpisodeId::new()).collect(),
                };
                let p = fields(fact_payload(&fact));
                assert_eq!(
                    fact_from_payload(fact.id.as_uuid(), &p).unwrap(),
                    fact,
                    "{scope}, metadata {metadata}"
                );
            }
        }
    }

    #[test]
    fn fact_event_payload_round_trips() {
        let fact = FactId::new();
        let event = |kind, old: Option<&str>, new: Option<&str>, episode| FactEvent {
            fact_id: fact,
            event: kind,
            old_text: old.map(str::to_owned),
            new_text: new.map(str::to_owned),
            at: at(2024, 5, 1, 42),
            episode,
        };
        let cases = [
            event(
                FactEventKind::Add,
                None,
                Some("tea"),
                Some(EpisodeId::new()),
            ),
            event(FactEventKind::Update, Some("tea"), Some("coffee"), None),
            event(
                FactEventKind::Delete,
                Some("coffee"),
                None,
                Some(EpisodeId::new()),
            ),
            event(FactEventKind::None, None, None, None),
        ];
        for scope in scopes() {
            for e in &cases {
                let p = fields(event_payload(&scope, e));
                assert_eq!(&event_from_payload(&p).unwrap(), e);
                assert_eq!(scope_of(&p).unwrap(), scope);
            }
        }
    }

    #[test]
    fn corrupt_payloads_are_errors_not_panics() {
        let scope = Scope::user("u").unwrap();
        let fact = Fact {
            id: FactId::new(),
            scope: scope.clone(),
            text: "t".into(),
            metadata: json!({}),
            created_at: at(2024, 1, 1, 0),
            updated_at: at(2024, 1, 1, 0),
            episodes: vec![],
        };
        let broken: &[(&str, Value)] = &[
            (TEXT, 3_i64.into()),
            (METADATA, "{not json".into()),
            ("created_at", "yesterday".into()),
            (SCOPE_KEY, "".into()),
            (EPISODES, "e1".into()),
        ];
        for (key, value) in broken {
            let mut p = fields(fact_payload(&fact));
            p.insert((*key).to_owned(), value.clone());
            assert!(
                matches!(
                    fact_from_payload(fact.id.as_uuid(), &p),
                    Err(QdrantStoreError::Corrupt { .. })
                ),
                "{key} = {value:?}"
            );
        }
        let mut p = fields(event_payload(
            &scope,
            &FactEvent {
                fact_id: fact.id,
                event: FactEventKind::Add,
                old_text: None,
                new_text: None,
                at: at(2024, 1, 1, 0),
                episode: None,
            },
        ));
        p.insert(EVENT.to_owned(), "MERGE".into());
        assert!(event_from_payload(&p).is_err());
    }
}
