//! Records to query parameters and query results back to records.
//!
//! Parameters are built as Bolt maps from typed values (timestamps as Bolt date-times in
//! UTC, ids as strings, vectors as float lists); results are map projections decoded field
//! by field, so a missing or mistyped property is a `Corrupt` error naming it.

use mnemo_core::{
    Entity, EntityId, EntityType, Episode, EpisodeId, EpisodeStatus, LlmUsage, Relation,
    RelationId, RelationTimes, RelationType, Scope, ScopeSummary, StatedEnd, StoreError, Timestamp,
};
use neo4rs::{BoltList, BoltMap, BoltString, BoltType, Row};

use crate::text;

/// Entity types that are labels of the store itself: such an entity keeps its type in the
/// `type` property only, never as a label.
const RESERVED_LABELS: &[&str] = &[
    "Entity",
    "EntityKey",
    "Episode",
    "RelationKey",
    "ScopeSummary",
];

/// A Bolt map under construction.
#[derive(Default)]
pub(crate) struct Props(BoltMap);

impl Props {
    pub(crate) fn new() -> Self {
        Props::default()
    }

    pub(crate) fn set(mut self, key: &str, value: impl Into<BoltType>) -> Self {
        self.0.put(BoltString::from(key), value.into());
        self
    }

    /// A relation's own end as `stated_valid_to`, `stated_invalidated_at`, `stated_in`
    /// (all null for none), the properties it is stored in.
    pub(crate) fn stated_end(self, end: Option<StatedEnd>) -> Self {
        self.set("stated_valid_to", end.map(|e| e.valid_to))
            .set("stated_invalidated_at", end.and_then(|e| e.invalidated_at))
            .set(
                "stated_in",
                end.and_then(|e| e.episode).map(|e| e.to_string()),
            )
    }

    /// The scope's key and parts, as `$scope_key`, `$user_id`, `$agent_id`, `$run_id`.
    pub(crate) fn scope(self, scope: &Scope) -> Self {
        self.set("scope_key", scope.key())
            .set("user_id", scope.user_id().map(str::to_owned))
            .set("agent_id", scope.agent_id().map(str::to_owned))
            .set("run_id", scope.run_id().map(str::to_owned))
    }
}

impl From<Props> for BoltType {
    fn from(props: Props) -> BoltType {
        BoltType::Map(props.0)
    }
}

/// A list parameter.
pub(crate) fn list<T: Into<BoltType>>(items: impl IntoIterator<Item = T>) -> BoltType {
    BoltType::List(BoltList {
        value: items.into_iter().map(Into::into).collect(),
    })
}

/// A list of strings, or null when empty (properties never hold empty lists).
pub(crate) fn strings_or_null(items: &[String]) -> BoltType {
    if items.is_empty() {
        BoltType::Null(neo4rs::BoltNull)
    } else {
        list(items.iter().cloned())
    }
}

/// A count as a Bolt integer (Cypher integers are i64).
pub(crate) fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

pub(crate) fn ids<T: ToString>(ids: impl IntoIterator<Item = T>) -> BoltType {
    list(ids.into_iter().map(|id| id.to_string()))
}

/// The type label an entity carries: its type, unless that is one of the store's labels.
pub(crate) fn type_labels(entity_type: &EntityType) -> Vec<String> {
    let label = entity_type.as_str();
    if RESERVED_LABELS.contains(&label) {
        Vec::new()
    } else {
        vec![label.to_owned()]
    }
}

/// The lookup keys of an entity (normalised name, then aliases), each once.
pub(crate) fn entity_keys(entity: &Entity) -> Result<Vec<String>, StoreError> {
    let mut keys: Vec<String> = Vec::with_capacity(1 + entity.aliases.len());
    for name in std::iter::once(&entity.name).chain(&entity.aliases) {
        let key = mnemo_core::normalize_name(name)?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// One row of `$entities` for `upsert_entities.cypher`.
pub(crate) fn entity_row(entity: &Entity) -> BoltType {
    Props::new()
        .set("id", entity.id.to_string())
        .set("name", entity.name.clone())
        .set("display_name", entity.display_name.clone())
        .set("type", entity.entity_type.as_str())
        .set("labels", list(type_labels(&entity.entity_type)))
        .set("aliases", strings_or_null(&entity.aliases))
        .set("embedding", list(entity.embedding.iter().copied()))
        .set("mentions", i64::from(entity.mentions))
        .set("created_at", entity.created_at)
        .set("updated_at", entity.updated_at)
        .set(
            "names",
            text::entity_names(&entity.display_name, &entity.name, &entity.aliases),
        )
        .into()
}

/// The `status` property Browser shows on a relation: `retracted`, `ended` (it has an end)
/// or none.
pub(crate) fn relation_status(times: &RelationTimes) -> Option<&'static str> {
    if times.retracted_at.is_some() {
        Some("retracted")
    } else if times.valid_to.is_some() {
        Some("ended")
    } else {
        None
    }
}

/// One row of `$relations` for `add_relations.cypher`.
pub(crate) fn relation_row(relation: &Relation) -> BoltType {
    let ids: Vec<String> = relation.episodes.iter().map(ToString::to_string).collect();
    Props::new()
        .set("id", relation.id.to_string())
        .set("source", relation.source.to_string())
        .set("target", relation.target.to_string())
        .set("type", relation.relation_type.as_str())
        .set("fact", relation.fact.clone())
        .set("valid_from", relation.times.valid_from)
        .set("valid_to", relation.times.valid_to)
        .set("recorded_at", relation.times.recorded_at)
        .set("invalidated_at", relation.times.invalidated_at)
        .set("retracted_at", relation.times.retracted_at)
        .set(
            "invalidated_by",
            relation.invalidated_by.map(|r| r.to_string()),
        )
        .set(
            "invalidated_in",
            relation.invalidated_in.map(|e| e.to_string()),
        )
        .set("episodes", strings_or_null(&ids))
        .set("mentions", i64::from(relation.mentions))
        .set("status", relation_status(&relation.times))
        .stated_end(relation.stated_end)
        .into()
}

/// The status fields of an episode: `(status, failure reason)`.
pub(crate) fn status_fields(status: &EpisodeStatus) -> (&'static str, Option<String>) {
    let reason = match status {
        EpisodeStatus::Failed { reason } => Some(reason.clone()),
        EpisodeStatus::Pending | EpisodeStatus::Done => None,
    };
    (status.as_str(), reason)
}

/// LLM usage as `(calls, prompt_tokens, completion_tokens)` integers.
pub(crate) fn usage_fields(usage: &LlmUsage) -> (i64, i64, i64) {
    (
        i64::from(usage.calls),
        int(usage.prompt_tokens),
        int(usage.completion_tokens),
    )
}

/// The value of column `column` of a result row.
pub(crate) fn column(row: &Row, column: &str) -> Result<BoltType, StoreError> {
    row.get::<BoltType>(column)
        .map_err(|err| StoreError::Corrupt(format!("result column `{column}`: {err}")))
}

/// A result map (a map projection), read field by field.
pub(crate) struct Record {
    what: &'static str,
    map: BoltMap,
}

impl Record {
    /// Column `name` of `row`, which must hold a map describing a `what`.
    pub(crate) fn from_row(row: &Row, name: &str, what: &'static str) -> Result<Self, StoreError> {
        match column(row, name)? {
            BoltType::Map(map) => Ok(Record { what, map }),
            other => Err(StoreError::Corrupt(format!(
                "{what}: expected a map, got {other:?}"
            ))),
        }
    }

    /// The record's `id` as text for a log line, whatever it holds.
    pub(crate) fn id_text(&self) -> String {
        match self.get("id") {
            Some(BoltType::String(s)) => s.value.clone(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        }
    }

    fn corrupt(&self, field: &str, problem: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!("{} field `{field}`: {problem}", self.what))
    }

    /// The field's value; absent and null are both `None`.
    fn get(&self, field: &str) -> Option<&BoltType> {
        match self.map.value.get(field) {
            None | Some(BoltType::Null(_)) => None,
            Some(value) => Some(value),
        }
    }

    fn required(&self, field: &str) -> Result<&BoltType, StoreError> {
        self.get(field)
            .ok_or_else(|| self.corrupt(field, "missing"))
    }

    pub(crate) fn opt_string(&self, field: &str) -> Result<Option<String>, StoreError> {
        match self.get(field) {
            None => Ok(None),
            Some(BoltType::String(s)) => Ok(Some(s.value.clone())),
            Some(other) => Err(self.corrupt(field, format!("expected a string, got {other:?}"))),
        }
    }

    pub(crate) fn string(&self, field: &str) -> Result<String, StoreError> {
        self.opt_string(field)?
            .ok_or_else(|| self.corrupt(field, "missing"))
    }

    pub(crate) fn int(&self, field: &str) -> Result<i64, StoreError> {
        match self.required(field)? {
            BoltType::Integer(i) => Ok(i.value),
            other => Err(self.corrupt(field, format!("expected an integer, got {other:?}"))),
        }
    }

    fn count<T: TryFrom<i64>>(&self, field: &str) -> Result<T, StoreError> {
        let n = self.int(field)?;
        T::try_from(n).map_err(|_| self.corrupt(field, format!("{n} is out of range")))
    }

    pub(crate) fn opt_ts(&self, field: &str) -> Result<Option<Timestamp>, StoreError> {
        self.get(field)
            .map(|value| timestamp(value).map_err(|problem| self.corrupt(field, problem)))
            .transpose()
    }

    pub(crate) fn ts(&self, field: &str) -> Result<Timestamp, StoreError> {
        self.opt_ts(field)?
            .ok_or_else(|| self.corrupt(field, "missing"))
    }

    fn list(&self, field: &str) -> Result<&[BoltType], StoreError> {
        match self.get(field) {
            None => Ok(&[]),
            Some(BoltType::List(list)) => Ok(&list.value),
            Some(other) => Err(self.corrupt(field, format!("expected a list, got {other:?}"))),
        }
    }

    pub(crate) fn strings(&self, field: &str) -> Result<Vec<String>, StoreError> {
        self.list(field)?
            .iter()
            .map(|item| match item {
                BoltType::String(s) => Ok(s.value.clone()),
                other => Err(self.corrupt(field, format!("expected strings, got {other:?}"))),
            })
            .collect()
    }

    fn floats(&self, field: &str) -> Result<Vec<f32>, StoreError> {
        self.list(field)?
            .iter()
            .map(|item| match item {
                // Stored from f32, so the narrowing is exact.
                BoltType::Float(f) => Ok(f.value as f32),
                BoltType::Integer(i) => Ok(i.value as f32),
                other => Err(self.corrupt(field, format!("expected floats, got {other:?}"))),
            })
            .collect()
    }

    pub(crate) fn parse<T: std::str::FromStr>(&self, field: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.string(field)?;
        text.parse()
            .map_err(|err| self.corrupt(field, format!("{text:?}: {err}")))
    }

    fn opt_parse<T: std::str::FromStr>(&self, field: &str) -> Result<Option<T>, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        match self.opt_string(field)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|err| self.corrupt(field, format!("{text:?}: {err}"))),
        }
    }

    fn parse_all<T: std::str::FromStr>(&self, field: &str) -> Result<Vec<T>, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        self.strings(field)?
            .into_iter()
            .map(|text| {
                text.parse()
                    .map_err(|err| self.corrupt(field, format!("{text:?}: {err}")))
            })
            .collect()
    }
}

/// A stored date-time as UTC. The store writes UTC date-times; a zone or offset set by
/// hand in Browser still decodes to the same instant.
fn timestamp(value: &BoltType) -> Result<Timestamp, String> {
    let fixed: chrono::DateTime<chrono::FixedOffset> = match value {
        BoltType::DateTime(dt) => dt.try_into(),
        BoltType::DateTimeZoneId(dt) => dt.try_into(),
        other => return Err(format!("expected a date-time, got {other:?}")),
    }
    .map_err(|err| format!("unreadable date-time: {err}"))?;
    let t = fixed.to_utc();
    mnemo_core::time::check_stored("date-time", &t).map_err(|err| err.to_string())?;
    Ok(t)
}

/// An entity of `scope` from `entities_*.cypher`'s projection.
pub(crate) fn entity(record: &Record, scope: &Scope) -> Result<Entity, StoreError> {
    let entity_type: String = record.string("type")?;
    Ok(Entity {
        id: record.parse::<EntityId>("id")?,
        scope: scope.clone(),
        name: record.string("name")?,
        display_name: record.string("display_name")?,
        entity_type: EntityType::parse(&entity_type).map_err(|err| record.corrupt("type", err))?,
        aliases: record.strings("aliases")?,
        embedding: record.floats("embedding")?,
        mentions: record.count("mentions")?,
        created_at: record.ts("created_at")?,
        updated_at: record.ts("updated_at")?,
    })
}

/// A relation of `scope` from the relation projection of `relations_*.cypher`.
pub(crate) fn relation(record: &Record, scope: &Scope) -> Result<Relation, StoreError> {
    let relation_type: String = record.string("type")?;
    Ok(Relation {
        id: record.parse::<RelationId>("id")?,
        scope: scope.clone(),
        source: record.parse::<EntityId>("source")?,
        relation_type: RelationType::parse(&relation_type)
            .map_err(|err| record.corrupt("type", err))?,
        target: record.parse::<EntityId>("target")?,
        fact: record.string("fact")?,
        times: RelationTimes {
            valid_from: record.opt_ts("valid_from")?,
            valid_to: record.opt_ts("valid_to")?,
            recorded_at: record.ts("recorded_at")?,
            invalidated_at: record.opt_ts("invalidated_at")?,
            retracted_at: record.opt_ts("retracted_at")?,
        },
        invalidated_by: record.opt_parse::<RelationId>("invalidated_by")?,
        invalidated_in: record.opt_parse::<EpisodeId>("invalidated_in")?,
        episodes: record.parse_all::<EpisodeId>("episodes")?,
        mentions: record.count("mentions")?,
        stated_end: stated_end(record)?,
    })
}

/// `stated_valid_to`, `stated_invalidated_at` and `stated_in` of a relation projection;
/// the other two without a `stated_valid_to` do not decode.
fn stated_end(record: &Record) -> Result<Option<StatedEnd>, StoreError> {
    let invalidated_at = record.opt_ts("stated_invalidated_at")?;
    let episode = record.opt_parse::<EpisodeId>("stated_in")?;
    match record.opt_ts("stated_valid_to")? {
        Some(valid_to) => Ok(Some(StatedEnd {
            valid_to,
            invalidated_at,
            episode,
        })),
        None if invalidated_at.is_none() && episode.is_none() => Ok(None),
        None => Err(record.corrupt(
            "stated_valid_to",
            "missing while stated_invalidated_at or stated_in is set",
        )),
    }
}

/// An episode from `episode*.cypher`'s projection (its scope is stored with it).
pub(crate) fn episode(record: &Record) -> Result<Episode, StoreError> {
    let scope = Scope::new(
        record.opt_string("user_id")?,
        record.opt_string("agent_id")?,
        record.opt_string("run_id")?,
    )
    .map_err(|err| record.corrupt("user_id/agent_id/run_id", err))?;
    let status = match record.string("status")?.as_str() {
        "pending" => EpisodeStatus::Pending,
        "done" => EpisodeStatus::Done,
        "failed" => EpisodeStatus::Failed {
            reason: record.opt_string("reason")?.unwrap_or_default(),
        },
        other => return Err(record.corrupt("status", format!("unknown status {other:?}"))),
    };
    let metadata = record.string("metadata")?;
    Ok(Episode {
        id: record.parse::<EpisodeId>("id")?,
        scope,
        content: record.string("content")?,
        occurred_at: record.ts("occurred_at")?,
        ingested_at: record.ts("ingested_at")?,
        status,
        idempotency_key: record.opt_string("idempotency_key")?,
        metadata: serde_json::from_str(&metadata).map_err(|err| record.corrupt("metadata", err))?,
        llm_usage: LlmUsage {
            calls: record.count("llm_calls")?,
            prompt_tokens: record.count("llm_prompt_tokens")?,
            completion_tokens: record.count("llm_completion_tokens")?,
        },
    })
}

/// The scope's summary from `scope_summary.cypher`'s projection.
pub(crate) fn scope_summary(record: &Record, scope: &Scope) -> Result<ScopeSummary, StoreError> {
    Ok(ScopeSummary {
        scope: scope.clone(),
        text: record.string("text")?,
        through_episode: record.parse::<EpisodeId>("through_episode")?,
        updated_at: record.ts("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone, Utc};
    use neo4rs::{BoltDateTime, BoltDateTimeZoneId, BoltFloat, BoltInteger, BoltNull};

    use super::*;

    fn s(v: &str) -> BoltType {
        BoltType::String(BoltString::from(v))
    }

    /// A result row with one column holding `map`, as the driver builds it from the wire.
    fn row_of(name: &str, map: BoltMap) -> Row {
        Row::new(
            BoltList {
                value: vec![s(name)],
            },
            BoltList {
                value: vec![BoltType::Map(map)],
            },
        )
    }

    fn map(fields: Vec<(&str, BoltType)>) -> BoltMap {
        let mut m = BoltMap::new();
        for (k, v) in fields {
            m.put(BoltString::from(k), v);
        }
        m
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, nanos: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(i64::from(nanos))
    }

    /// Every instant of the supported range round-trips through the Bolt date-time the
    /// store writes; one outside it is refused on read (issue 20).
    #[test]
    fn timestamps_round_trip_over_the_whole_range() {
        for t in mnemo_testkit::fixtures::timestamp_sweep() {
            let row = row_of("r", map(vec![("at", BoltType::from(t))]));
            let record = Record::from_row(&row, "r", "test").unwrap();
            assert_eq!(record.ts("at").unwrap(), t);
        }
        let year_minus_one = Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap();
        let row = row_of("r", map(vec![("at", BoltType::from(year_minus_one))]));
        let record = Record::from_row(&row, "r", "test").unwrap();
        assert!(record.ts("at").is_err());
    }

    #[test]
    fn timestamps_decode_to_the_same_instant_whatever_the_zone() {
        let instant = utc(2024, 3, 1, 12, 123_456_789);
        let plus_two = instant.with_timezone(&FixedOffset::east_opt(7200).unwrap());
        // Berlin is at +01:00 on 2024-03-01.
        let berlin = instant.with_timezone(&FixedOffset::east_opt(3600).unwrap());
        let cases: Vec<(&str, BoltType)> = vec![
            ("what the store writes", BoltType::from(instant)),
            (
                "an offset",
                BoltType::DateTime(BoltDateTime::from(plus_two)),
            ),
            (
                "a zone id",
                BoltType::DateTimeZoneId(BoltDateTimeZoneId::from((
                    berlin.naive_local(),
                    "Europe/Berlin",
                ))),
            ),
        ];
        for (what, value) in cases {
            let row = row_of("r", map(vec![("at", value)]));
            let record = Record::from_row(&row, "r", "test").unwrap();
            assert_eq!(record.ts("at").unwrap(), instant, "{what}");
        }
        let record =
            Record::from_row(&row_of("r", map(vec![("at", s("2024"))])), "r", "test").unwrap();
        let err = record.ts("at").unwrap_err().to_string();
        assert!(
            err.contains("test field `at`: expected a date-time"),
            "{err}"
        );
        assert_eq!(record.opt_ts("missing").unwrap(), None);
    }

    fn entity_fixture() -> Entity {
        let scope = Scope::user("alice").unwrap();
        Entity {
            id: EntityId::new(),
            scope,
            name: "alice smith".into(),
            display_name: "Alice Smith".into(),
            entity_type: EntityType::parse("Person").unwrap(),
            aliases: vec!["ally".into()],
            embedding: vec![0.1, -0.25, 1.0 / 3.0],
            mentions: 3,
            created_at: utc(2024, 1, 1, 0, 0),
            updated_at: utc(2024, 1, 2, 0, 7),
        }
    }

    /// The parameters written for an entity, read back as the projection returns them.
    #[test]
    fn entity_round_trips_through_its_parameters() {
        let e = entity_fixture();
        let BoltType::Map(written) = entity_row(&e) else {
            panic!("entity_row is a map")
        };
        assert_eq!(
            written.get::<Vec<String>>("labels").unwrap(),
            vec!["Person"]
        );
        assert_eq!(
            written.get::<String>("names").unwrap(),
            "alice smith ; ally"
        );
        let row = row_of("entity", written);
        let record = Record::from_row(&row, "entity", "entity").unwrap();
        assert_eq!(entity(&record, &e.scope).unwrap(), e);

        // No aliases: the property is absent (the projection gives []).
        let bare = Entity {
            aliases: Vec::new(),
            ..e.clone()
        };
        let BoltType::Map(mut written) = entity_row(&bare) else {
            panic!()
        };
        assert_eq!(
            written.value.get("aliases"),
            Some(&BoltType::Null(BoltNull))
        );
        written.put("aliases".into(), BoltType::List(BoltList { value: vec![] }));
        let record = Record::from_row(&row_of("e", written), "e", "entity").unwrap();
        assert_eq!(entity(&record, &e.scope).unwrap(), bare);
    }

    #[test]
    fn reserved_types_carry_no_label() {
        for (ty, labels) in [
            ("Person", vec!["Person"]),
            ("entity", vec![]),
            ("Episode", vec![]),
            ("relation key", vec![]),
            ("Entity Key", vec![]),
            ("scope summary", vec![]),
            ("Entities", vec!["Entities"]),
        ] {
            assert_eq!(
                type_labels(&EntityType::parse(ty).unwrap()),
                labels,
                "type {ty:?}"
            );
        }
    }

    #[test]
    fn relation_round_trips_through_its_parameters() {
        let scope = Scope::user("alice").unwrap();
        let r = Relation {
            id: RelationId::new(),
            scope: scope.clone(),
            source: EntityId::new(),
            relation_type: RelationType::parse("LIVES_IN").unwrap(),
            target: EntityId::new(),
            fact: "Alice lives in Boston".into(),
            times: RelationTimes {
                valid_from: Some(utc(2024, 1, 1, 0, 0)),
                valid_to: Some(utc(2024, 2, 1, 0, 5)),
                recorded_at: utc(2024, 1, 3, 0, 0),
                invalidated_at: Some(utc(2024, 2, 2, 0, 0)),
                retracted_at: None,
            },
            invalidated_by: Some(RelationId::new()),
            invalidated_in: Some(EpisodeId::new()),
            episodes: vec![EpisodeId::new(), EpisodeId::new()],
            mentions: 2,
            stated_end: Some(StatedEnd {
                valid_to: utc(2024, 6, 1, 0, 0),
                invalidated_at: Some(utc(2024, 1, 10, 0, 0)),
                episode: Some(EpisodeId::new()),
            }),
        };
        let BoltType::Map(mut written) = relation_row(&r) else {
            panic!()
        };
        // The projection names the relationship type `type` too; nulls come back absent.
        written.value.retain(|_, v| !matches!(v, BoltType::Null(_)));
        let record =
            Record::from_row(&row_of("relation", written), "relation", "relation").unwrap();
        assert_eq!(relation(&record, &scope).unwrap(), r);
    }

    #[test]
    fn relation_status_marks_ended_and_retracted() {
        let day = |d| utc(2024, 1, d, 0, 0);
        let base = RelationTimes {
            valid_from: Some(day(1)),
            valid_to: None,
            recorded_at: day(2),
            invalidated_at: None,
            retracted_at: None,
        };
        let cases = [
            (base, None),
            (
                RelationTimes {
                    valid_to: Some(day(3)),
                    invalidated_at: Some(day(4)),
                    ..base
                },
                Some("ended"),
            ),
            (
                RelationTimes {
                    valid_to: Some(day(3)),
                    ..base
                },
                Some("ended"),
            ),
            (
                RelationTimes {
                    retracted_at: Some(day(5)),
                    valid_to: Some(day(3)),
                    ..base
                },
                Some("retracted"),
            ),
        ];
        for (times, expected) in cases {
            assert_eq!(relation_status(&times), expected, "{times:?}");
        }
    }

    #[test]
    fn episodes_decode_status_usage_and_scope() {
        let failed = map(vec![
            ("id", s("0190f5c2-7a4e-7cc0-8000-000000000001")),
            ("user_id", s("alice")),
            ("run_id", s("r1")),
            ("content", s("[]")),
            ("occurred_at", BoltType::from(utc(2024, 1, 1, 0, 0))),
            ("ingested_at", BoltType::from(utc(2024, 1, 1, 1, 0))),
            ("status", s("failed")),
            ("reason", s("timeout")),
            ("metadata", s(r#"{"source":"test"}"#)),
            ("llm_calls", BoltType::Integer(BoltInteger::new(7))),
            (
                "llm_prompt_tokens",
                BoltType::Integer(BoltInteger::new(6_000_000_000)),
            ),
            (
                "llm_completion_tokens",
                BoltType::Integer(BoltInteger::new(5)),
            ),
        ]);
        let record = Record::from_row(&row_of("episode", failed), "episode", "episode").unwrap();
        let e = episode(&record).unwrap();
        assert_eq!(
            e.scope,
            Scope::new(Some("alice".into()), None, Some("r1".into())).unwrap()
        );
        assert_eq!(
            e.status,
            EpisodeStatus::Failed {
                reason: "timeout".into()
            }
        );
        assert_eq!(e.idempotency_key, None);
        assert_eq!(e.metadata, serde_json::json!({"source": "test"}));
        assert_eq!(e.llm_usage.prompt_tokens, 6_000_000_000);
        assert_eq!(status_fields(&e.status), ("failed", Some("timeout".into())));
        assert_eq!(usage_fields(&e.llm_usage), (7, 6_000_000_000, 5));
    }

    #[test]
    fn corrupt_fields_are_named() {
        let cases: Vec<(&str, BoltType, &str)> = vec![
            (
                "mentions",
                s("three"),
                "entity field `mentions`: expected an integer",
            ),
            (
                "mentions",
                BoltType::Integer(BoltInteger::new(-1)),
                "entity field `mentions`: -1 is out of range",
            ),
            (
                "embedding",
                BoltType::Float(BoltFloat::new(1.0)),
                "entity field `embedding`: expected a list",
            ),
            ("type", s("not a type!"), "entity field `type`"),
            ("id", s("nope"), "entity field `id`: \"nope\""),
        ];
        for (field, value, expected) in cases {
            let BoltType::Map(mut written) = entity_row(&entity_fixture()) else {
                panic!()
            };
            written.put(field.into(), value);
            let record = Record::from_row(&row_of("e", written), "e", "entity").unwrap();
            let err = entity(&record, &entity_fixture().scope).unwrap_err();
            assert!(
                matches!(err, StoreError::Corrupt(_)) && err.to_string().contains(expected),
                "{field}: {err}"
            );
        }
    }
}
