//! What `mnemo add` and `mnemo search` print: the API's JSON result, and a readable form
//! of it. A `--local` result is converted to the API's own wire types (`mnemo_api`) first,
//! so both ends print the same.

use std::fmt::Write as _;

use mnemo_api::{AddResult, SearchOut};
use mnemo_core::read::SearchResult;
use mnemo_core::write::AddOutcome;
use serde_json::Value;

/// An add's result as `POST /v1/memories` returns it.
pub fn add_outcome_json(outcome: &AddOutcome) -> Value {
    wire(AddResult::from(outcome.clone()))
}

/// A search result as `POST /v1/search` returns it.
pub fn search_result_json(result: &SearchResult) -> Value {
    wire(SearchOut::from(result.clone()))
}

fn wire(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("wire types serialize to JSON")
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn list<'v>(value: &'v Value, path: &[&str]) -> &'v [Value] {
    let mut at = value;
    for key in path {
        match at.get(key) {
            Some(next) => at = next,
            None => return &[],
        }
    }
    at.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The date part of an RFC 3339 time when it is midnight, else the time to the minute.
fn when(value: &Value) -> Option<String> {
    let time = value.as_str()?;
    let time = time.strip_suffix('Z').unwrap_or(time);
    Some(match time.split_once('T') {
        Some((date, clock)) if clock.trim_start_matches(['0', ':', '.']).is_empty() => {
            date.to_owned()
        }
        Some((date, clock)) => format!("{date} {}", clock.get(..5).unwrap_or(clock)),
        None => time.to_owned(),
    })
}

/// "Alice LIVES_IN Lisbon — Alice lives in Lisbon [2024-03-01 → 2025-01-10]".
fn relation_line(relation: &Value) -> String {
    let name = |end: &str| relation.get(end).map(|e| text(e, "name")).unwrap_or("");
    let mut line = format!(
        "{} {} {}",
        name("source"),
        text(relation, "relation"),
        name("target")
    );
    let fact = text(relation, "fact");
    if !fact.is_empty() {
        let _ = write!(line, " — {fact}");
    }
    let from = relation.get("valid_from").and_then(when);
    let to = relation.get("valid_to").and_then(when);
    if from.is_some() || to.is_some() {
        let _ = write!(
            line,
            " [{} → {}]",
            from.as_deref().unwrap_or("?"),
            to.as_deref().unwrap_or("now")
        );
    }
    if relation.get("retracted_at").is_some_and(|v| !v.is_null()) {
        line.push_str(" (retracted)");
    }
    line
}

/// The readable form of an add's result.
pub fn add_result(result: &Value) -> String {
    let mut out = String::new();
    let status = text(result, "status");
    let _ = write!(out, "episode {}: {status}", text(result, "episode_id"));
    if result.get("duplicate").and_then(Value::as_bool) == Some(true) {
        out.push_str(" (already added: same idempotency key)");
    }
    if let Some(usage) = result.get("llm_usage")
        && let Some(calls) = usage.get("calls").and_then(Value::as_u64)
        && calls > 0
    {
        let tokens = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        let _ = write!(
            out,
            " ({calls} LLM calls, {} prompt + {} completion tokens)",
            tokens("prompt_tokens"),
            tokens("completion_tokens")
        );
    }
    out.push('\n');
    let reason = text(result, "reason");
    if !reason.is_empty() {
        let _ = writeln!(out, "  reason: {reason}");
    }
    for (key, mark) in [
        ("added", "+"),
        ("updated", "="),
        ("invalidated", "-"),
        ("retracted", "x"),
    ] {
        for relation in list(result, &["relations", key]) {
            let _ = writeln!(out, "  {mark} {}", relation_line(relation));
        }
    }
    for (key, mark) in [("added", "+"), ("updated", "~")] {
        for fact in list(result, &["facts", key]) {
            let _ = writeln!(out, "  {mark} fact: {}", text(fact, "text"));
        }
    }
    for id in list(result, &["facts", "deleted"]) {
        let _ = writeln!(out, "  - fact {}", id.as_str().unwrap_or(""));
    }
    out
}

/// The readable form of a search result.
pub fn search_result(result: &Value) -> String {
    let mut out = String::new();
    let relations = list(result, &["relations"]);
    let facts = list(result, &["facts"]);
    if relations.is_empty() && facts.is_empty() {
        return "nothing found\n".into();
    }
    let score = |hit: &Value| hit.get("score").and_then(Value::as_f64).unwrap_or(0.0);
    if !relations.is_empty() {
        out.push_str("relations:\n");
        for hit in relations {
            let _ = writeln!(out, "  {:.4}  {}", score(hit), relation_line(hit));
        }
    }
    if !facts.is_empty() {
        out.push_str("facts:\n");
        for hit in facts {
            let _ = writeln!(out, "  {:.4}  {}", score(hit), text(hit, "text"));
        }
    }
    let context = text(result, "context");
    if !context.is_empty() {
        out.push_str("context:\n");
        for line in context.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn times_are_short() {
        let check = |time: &str, expected: &str| {
            assert_eq!(when(&json!(time)).unwrap(), expected, "{time}");
        };
        check("2024-03-01T00:00:00Z", "2024-03-01");
        check("2024-03-01T00:00:00.000Z", "2024-03-01");
        check("2024-03-01T09:30:15Z", "2024-03-01 09:30");
        check("2024-03-01T00:00:00.5Z", "2024-03-01 00:00");
        assert_eq!(when(&Value::Null), None);
    }

    fn relation(from: Value, to: Value, retracted: Value) -> Value {
        json!({
            "source": {"name": "Alice"}, "relation": "LIVES_IN", "target": {"name": "Lisbon"},
            "fact": "Alice lives in Lisbon", "valid_from": from, "valid_to": to,
            "retracted_at": retracted, "score": 0.03279
        })
    }

    #[test]
    fn add_results_read_as_changes() {
        let check = |result: Value, expected: &str| assert_eq!(add_result(&result), expected);
        check(
            json!({
                "episode_id": "e1", "status": "done", "duplicate": false,
                "llm_usage": {"calls": 3, "prompt_tokens": 900, "completion_tokens": 80},
                "relations": {
                    "added": [relation(json!("2024-03-01T00:00:00Z"), Value::Null, Value::Null)],
                    "updated": [], "retracted": [],
                    "invalidated": [relation(Value::Null, json!("2024-03-01T00:00:00Z"), Value::Null)],
                },
                "facts": {"added": [{"text": "Alice is vegetarian"}], "updated": [], "deleted": ["f9"]},
            }),
            "episode e1: done (3 LLM calls, 900 prompt + 80 completion tokens)\n\
             \x20 + Alice LIVES_IN Lisbon — Alice lives in Lisbon [2024-03-01 → now]\n\
             \x20 - Alice LIVES_IN Lisbon — Alice lives in Lisbon [? → 2024-03-01]\n\
             \x20 + fact: Alice is vegetarian\n\
             \x20 - fact f9\n",
        );
        check(
            json!({"episode_id": "e2", "status": "failed", "reason": "the LLM is down",
                   "llm_usage": {"calls": 0}}),
            "episode e2: failed\n  reason: the LLM is down\n",
        );
        check(
            json!({"episode_id": "e3", "status": "done", "duplicate": true}),
            "episode e3: done (already added: same idempotency key)\n",
        );
    }

    #[test]
    fn search_results_read_as_lists() {
        let check = |result: Value, expected: &str| assert_eq!(search_result(&result), expected);
        check(json!({"relations": [], "facts": []}), "nothing found\n");
        check(
            json!({
                "relations": [relation(Value::Null, Value::Null, json!("2024-01-01T00:00:00Z"))],
                "facts": [{"text": "Alice is vegetarian", "score": 0.0161}],
                "context": "line one\nline two",
            }),
            "relations:\n\
             \x20 0.0328  Alice LIVES_IN Lisbon — Alice lives in Lisbon (retracted)\n\
             facts:\n\
             \x20 0.0161  Alice is vegetarian\n\
             context:\n\
             \x20 line one\n\
             \x20 line two\n",
        );
    }
}
