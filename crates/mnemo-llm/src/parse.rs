//! Turns a tool's answer text into the validated types of `mnemo_core::llm`. Every
//! rejection is a human-readable reason; the client retries on it (a malformed answer).

use chrono::{DateTime, NaiveDate, Utc};
use mnemo_core::llm::{
    ConflictDecision, ConflictVerdict, ConflictsInput, ExtractedEntity, ExtractedRelation,
    MemoryEdit, MemoryUpdateInput,
};
use mnemo_core::{EntityType, FactEventKind, RelationType, Timestamp, normalize_name, time};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

type Parsed<T> = Result<T, String>;

pub(crate) fn entities(text: &str) -> Parsed<Vec<ExtractedEntity>> {
    #[derive(Deserialize)]
    struct Answer {
        entities: Vec<Entity>,
    }
    #[derive(Deserialize)]
    struct Entity {
        name: String,
        #[serde(rename = "type")]
        entity_type: String,
    }
    let answer: Answer = json(text)?;
    answer
        .entities
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let at = |reason: String| format!("entities[{i}]: {reason}");
            Ok(ExtractedEntity {
                name: name(&e.name).map_err(at)?,
                entity_type: EntityType::parse(&e.entity_type)
                    .map_err(|err| at(err.to_string()))?,
            })
        })
        .collect()
}

pub(crate) fn relations(text: &str) -> Parsed<Vec<ExtractedRelation>> {
    #[derive(Deserialize)]
    struct Answer {
        relations: Vec<Relation>,
    }
    #[derive(Deserialize)]
    struct Relation {
        source: String,
        relation: String,
        target: String,
        fact: String,
        #[serde(default)]
        valid_from: Option<String>,
        #[serde(default)]
        valid_to: Option<String>,
    }
    let answer: Answer = json(text)?;
    answer
        .relations
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let at = |reason: String| format!("relations[{i}]: {reason}");
            let valid_from =
                date(r.valid_from.as_deref()).map_err(|e| at(format!("valid_from: {e}")))?;
            let valid_to = date(r.valid_to.as_deref()).map_err(|e| at(format!("valid_to: {e}")))?;
            if let (Some(from), Some(to)) = (valid_from, valid_to)
                && to < from
            {
                return Err(at(format!("valid_to {to} is before valid_from {from}")));
            }
            Ok(ExtractedRelation {
                source: name(&r.source).map_err(|e| at(format!("source: {e}")))?,
                relation_type: RelationType::parse(&r.relation).map_err(|e| at(e.to_string()))?,
                target: name(&r.target).map_err(|e| at(format!("target: {e}")))?,
                fact: non_empty(&r.fact).map_err(|e| at(format!("fact: {e}")))?,
                valid_from,
                valid_to,
            })
        })
        .collect()
}

pub(crate) fn conflicts(text: &str, input: &ConflictsInput) -> Parsed<Vec<ConflictDecision>> {
    #[derive(Deserialize)]
    struct Answer {
        decisions: Vec<Decision>,
    }
    #[derive(Deserialize)]
    struct Decision {
        existing: usize,
        new: usize,
        verdict: String,
    }
    let answer: Answer = json(text)?;
    answer
        .decisions
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let at = |reason: String| format!("decisions[{i}]: {reason}");
            if d.existing >= input.existing.len() {
                return Err(at(format!(
                    "existing id {} is not among the {} existing relations shown",
                    d.existing,
                    input.existing.len()
                )));
            }
            if d.new >= input.new.len() {
                return Err(at(format!(
                    "new id {} is not among the {} new relations shown",
                    d.new,
                    input.new.len()
                )));
            }
            let verdict = match d.verdict.trim().to_ascii_lowercase().as_str() {
                "duplicate" => ConflictVerdict::Duplicate,
                "superseded" => ConflictVerdict::Superseded,
                "retracted" => ConflictVerdict::Retracted,
                "unrelated" => ConflictVerdict::Unrelated,
                _ => return Err(at(format!("unknown verdict `{}`", d.verdict))),
            };
            Ok(ConflictDecision {
                existing: d.existing,
                new: d.new,
                verdict,
            })
        })
        .collect()
}

pub(crate) fn facts(text: &str) -> Parsed<Vec<String>> {
    #[derive(Deserialize)]
    struct Answer {
        facts: Vec<String>,
    }
    let answer: Answer = json(text)?;
    answer
        .facts
        .iter()
        .enumerate()
        .map(|(i, f)| non_empty(f).map_err(|e| format!("facts[{i}]: {e}")))
        .collect()
}

pub(crate) fn memory_edits(text: &str, input: &MemoryUpdateInput) -> Parsed<Vec<MemoryEdit>> {
    #[derive(Deserialize)]
    struct Answer {
        memory: Vec<Edit>,
    }
    #[derive(Deserialize)]
    struct Edit {
        /// `"0"` as asked, but a bare number is accepted too.
        id: Value,
        #[serde(default)]
        text: String,
        event: String,
    }
    let answer: Answer = json(text)?;
    answer
        .memory
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let at = |reason: String| format!("memory[{i}]: {reason}");
            let event = match e.event.trim().to_ascii_uppercase().as_str() {
                "ADD" => FactEventKind::Add,
                "UPDATE" => FactEventKind::Update,
                "DELETE" => FactEventKind::Delete,
                "NONE" => FactEventKind::None,
                _ => return Err(at(format!("unknown event `{}`", e.event))),
            };
            let text = e.text.trim().to_owned();
            let existing = match event {
                FactEventKind::Add => {
                    if text.is_empty() {
                        return Err(at("ADD with an empty text".to_owned()));
                    }
                    None
                }
                FactEventKind::Update | FactEventKind::Delete | FactEventKind::None => {
                    let shown = shown_id(&e.id, input.existing.len()).ok_or_else(|| {
                        at(format!(
                            "{event:?} names memory id {} but only ids \"0\"..\"{}\" were shown",
                            e.id,
                            input.existing.len().saturating_sub(1)
                        ))
                    })?;
                    if event == FactEventKind::Update && text.is_empty() {
                        return Err(at("UPDATE with an empty text".to_owned()));
                    }
                    Some(shown)
                }
            };
            Ok(MemoryEdit {
                existing,
                text,
                event,
            })
        })
        .collect()
}

pub(crate) fn summary(text: &str) -> Parsed<String> {
    #[derive(Deserialize)]
    struct Answer {
        summary: String,
    }
    let answer: Answer = json(text)?;
    non_empty(&answer.summary).map_err(|e| format!("summary: {e}"))
}

/// Parses the answer's JSON, tolerating a Markdown code fence around it.
fn json<T: DeserializeOwned>(text: &str) -> Parsed<T> {
    let mut body = text.trim();
    if let Some(rest) = body.strip_prefix("```") {
        body = rest
            .trim_start_matches("json")
            .trim_end()
            .trim_end_matches("```")
            .trim();
    }
    serde_json::from_str(body).map_err(|e| format!("answer does not fit the schema: {e}"))
}

fn non_empty(text: &str) -> Parsed<String> {
    let text = text.trim();
    if text.is_empty() {
        Err("empty".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// An entity name the store will accept, trimmed.
fn name(text: &str) -> Parsed<String> {
    normalize_name(text).map_err(|e| format!("{e} (`{text}`)"))?;
    Ok(text.trim().to_owned())
}

/// `null`, `""`, an RFC 3339 date-time, or a `YYYY-MM-DD` date (midnight UTC), within the
/// supported range (`mnemo_core::time::check`: outside it, the answer is refused).
fn date(text: Option<&str>) -> Parsed<Option<Timestamp>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|at| at.and_utc())
            .ok_or_else(|| {
                format!("`{text}` is neither an RFC 3339 date-time nor a YYYY-MM-DD date")
            })?,
    };
    let at = time::check("date", at)
        .map_err(|_| format!("`{text}` is outside the supported range {}", time::RANGE))?;
    Ok(Some(at))
}

/// The index of a shown existing memory: `"3"` or `3`, below `shown`.
fn shown_id(id: &Value, shown: usize) -> Option<usize> {
    let index = match id {
        Value::String(s) => s.trim().parse::<usize>().ok()?,
        Value::Number(n) => usize::try_from(n.as_u64()?).ok()?,
        _ => return None,
    };
    (index < shown).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        fn check(input: Option<&str>, expected: Option<&str>) {
            let got = date(input).map(|d| d.map(|d| d.to_rfc3339()));
            assert_eq!(got, Ok(expected.map(str::to_owned)), "{input:?}");
        }
        check(None, None);
        check(Some(""), None);
        check(Some("  "), None);
        check(Some("2024-03-01"), Some("2024-03-01T00:00:00+00:00"));
        check(
            Some("2024-03-01T10:30:00Z"),
            Some("2024-03-01T10:30:00+00:00"),
        );
        check(
            Some("2024-03-01T10:30:00+02:00"),
            Some("2024-03-01T08:30:00+00:00"),
        );
        check(Some("9999-12-31"), Some("9999-12-31T00:00:00+00:00"));
        check(
            Some("2016-12-31T23:59:60Z"),
            Some("2016-12-31T23:59:59.999999999+00:00"),
        );
        for bad in [
            "last month",
            "2024-13-01",
            "01/03/2024",
            "2024-03",
            "2024",
            "-0001-01-01T00:00:00Z",
            "-0001-01-01",
            "0000-06-01",
            "+10000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-12:00",
        ] {
            assert!(date(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn code_fences_are_tolerated() {
        for text in [
            r#"{"facts":["a"]}"#,
            "```json\n{\"facts\":[\"a\"]}\n```",
            "```\n{\"facts\":[\"a\"]}\n```",
        ] {
            assert_eq!(facts(text), Ok(vec!["a".to_owned()]), "{text}");
        }
    }

    #[test]
    fn memory_ids() {
        for (id, expected) in [
            (serde_json::json!("0"), Some(0)),
            (serde_json::json!(" 2 "), Some(2)),
            (serde_json::json!(1), Some(1)),
            (serde_json::json!("3"), None),
            (serde_json::json!(-1), None),
            (serde_json::json!("x"), None),
            (serde_json::json!(null), None),
        ] {
            assert_eq!(shown_id(&id, 3), expected, "{id}");
        }
    }
}
