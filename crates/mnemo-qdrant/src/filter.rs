//! The Qdrant filters every read runs inside the search: the scope, the visibility rule of
//! the data model (`mnemo_core::is_visible`) and the word tiers of full-text search.
//!
//! Visibility at (T, K), with every time compared as whole microseconds (the indexed
//! `<time>_us` copies, see `payload.rs`):
//!
//! ```text
//! must:     scope_key = K(scope)
//!           recorded_at_us <= floor(K)
//!           any: is_empty(valid_from_us) | valid_from_us <= floor(T)
//!           any: is_empty(valid_to_us) | invalidated_at_us > floor(K) | valid_to_us > floor(T)
//! must_not: retracted_at_us <= floor(K)
//! ```
//!
//! `recorded_at` and `valid_from` are stored rounded down, `valid_to`, `invalidated_at` and
//! `retracted_at` rounded up. With that choice each condition is implied by the exact one,
//! so the filter never hides a visible relation, and it equals the rule whenever the times
//! involved are whole microseconds. Only two times within the same microsecond can let an
//! invisible relation through; the read path re-checks every hit against the graph anyway.
//!
//! Range bounds travel as `f64` (Qdrant's `Range`), exact for microsecond counts between
//! the years 1685 and 2255 (|µs| < 2^53); outside that, bounds are rounded to a few µs.

use mnemo_core::{Scope, Visibility};
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::{Condition, Filter, MinShould, PointId, Range};

use crate::payload::{
    INVALIDATED_AT, RECORDED_AT, RETRACTED_AT, SCOPE_KEY, TEXT, VALID_FROM, VALID_TO, micros_down,
};

/// An exact keyword match. (`Condition::matches` with a `String` would turn a value
/// containing whitespace into a full-text match.)
pub(crate) fn keyword(field: &str, value: String) -> Condition {
    Condition::matches(field, MatchValue::Keyword(value))
}

/// Points of this scope, and only of this scope.
pub(crate) fn scope_condition(scope: &Scope) -> Condition {
    keyword(SCOPE_KEY, scope.key())
}

pub(crate) fn scope_filter(scope: &Scope) -> Filter {
    Filter::must([scope_condition(scope)])
}

/// The scope's points among `ids`.
pub(crate) fn scope_and_ids(scope: &Scope, ids: Vec<PointId>) -> Filter {
    Filter::must([scope_condition(scope), Condition::has_id(ids)])
}

/// The scope's points whose keyword `field` equals `value`.
pub(crate) fn scope_and_keyword(scope: &Scope, field: &str, value: String) -> Filter {
    Filter::must([scope_condition(scope), keyword(field, value)])
}

fn at_most(field: &str, micros: i64) -> Condition {
    Condition::range(
        field,
        Range {
            lte: Some(micros as f64),
            ..Range::default()
        },
    )
}

fn above(field: &str, micros: i64) -> Condition {
    Condition::range(
        field,
        Range {
            gt: Some(micros as f64),
            ..Range::default()
        },
    )
}

/// The relations of `scope` visible at `at` (see the module documentation).
pub(crate) fn visibility_filter(scope: &Scope, at: &Visibility) -> Filter {
    let (t, k) = (micros_down(&at.as_of), micros_down(&at.known_at));
    Filter {
        must: vec![
            scope_condition(scope),
            at_most(RECORDED_AT.indexed, k),
            Filter::should([
                Condition::is_empty(VALID_FROM.indexed),
                at_most(VALID_FROM.indexed, t),
            ])
            .into(),
            Filter::should([
                Condition::is_empty(VALID_TO.indexed),
                above(INVALIDATED_AT.indexed, k),
                above(VALID_TO.indexed, t),
            ])
            .into(),
        ],
        must_not: vec![at_most(RETRACTED_AT.indexed, k)],
        ..Filter::default()
    }
}

/// Longer queries are cut (each word is one condition, and may cost one tier).
pub(crate) const MAX_WORDS: usize = 16;

/// The distinct words of a query, lowercased, in order: runs of letters and digits, like
/// the word tokenizer of the text index. Query syntax does not exist here; `"tea" OR (` is
/// the words `tea` and `or`.
pub(crate) fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if !words.contains(&word) {
            words.push(word);
        }
        if words.len() == MAX_WORDS {
            break;
        }
    }
    words
}

/// Facts of `scope` whose text contains at least `min` of `words`, except `found`.
pub(crate) fn text_tier(scope: &Scope, words: &[String], min: usize, found: &[PointId]) -> Filter {
    let conditions = words
        .iter()
        .map(|w| Condition::matches_text(TEXT, w.clone()))
        .collect();
    Filter {
        must: vec![scope_condition(scope)],
        must_not: if found.is_empty() {
            Vec::new()
        } else {
            vec![Condition::has_id(found.to_vec())]
        },
        min_should: Some(MinShould {
            min_count: min as u64,
            conditions,
        }),
        ..Filter::default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The filters are checked two ways: as readable text (their exact structure), and by
    //! evaluating them over payloads with a small model of Qdrant's documented filter
    //! semantics, against `mnemo_core::is_visible`.

    use std::collections::HashMap;
    use std::fmt::Write;

    use chrono::TimeZone;
    use mnemo_core::{RelationTimes, Timestamp, is_visible};
    use qdrant_client::qdrant::condition::ConditionOneOf;
    use qdrant_client::qdrant::point_id::PointIdOptions;
    use qdrant_client::qdrant::value::Kind;
    use qdrant_client::qdrant::{FieldCondition, Value};

    use super::*;
    use crate::payload::relation_payload;

    // ---- rendering ---------------------------------------------------------------------

    fn render_field(f: &FieldCondition) -> String {
        if let Some(m) = f.r#match.as_ref().and_then(|m| m.match_value.as_ref()) {
            return match m {
                MatchValue::Keyword(k) => format!("{} = {:?}", f.key, k),
                MatchValue::Text(t) => format!("{} has word {:?}", f.key, t),
                other => format!("{} match {other:?}", f.key),
            };
        }
        if let Some(r) = &f.range {
            let mut parts = Vec::new();
            for (op, bound) in [("<", r.lt), ("<=", r.lte), (">", r.gt), (">=", r.gte)] {
                if let Some(b) = bound {
                    parts.push(format!("{} {op} {b}", f.key));
                }
            }
            return parts.join(" and ");
        }
        format!("{f:?}")
    }

    fn render_condition(c: &Condition, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        match c.condition_one_of.as_ref().expect("a condition") {
            ConditionOneOf::Field(f) => writeln!(out, "{pad}{}", render_field(f)).unwrap(),
            ConditionOneOf::IsEmpty(e) => writeln!(out, "{pad}is_empty({})", e.key).unwrap(),
            ConditionOneOf::HasId(ids) => {
                let ids: Vec<String> = ids
                    .has_id
                    .iter()
                    .map(|id| match &id.point_id_options {
                        Some(PointIdOptions::Uuid(u)) => u.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                writeln!(out, "{pad}has_id[{}]", ids.join(", ")).unwrap();
            }
            ConditionOneOf::Filter(f) => render_filter(f, depth, out),
            other => writeln!(out, "{pad}{other:?}").unwrap(),
        }
    }

    fn render_filter(f: &Filter, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let section = |name: &str, conditions: &[Condition], out: &mut String| {
            if !conditions.is_empty() {
                writeln!(out, "{pad}{name}:").unwrap();
                for c in conditions {
                    render_condition(c, depth + 1, out);
                }
            }
        };
        section("must", &f.must, out);
        section("any", &f.should, out);
        if let Some(m) = &f.min_should {
            section(&format!("at least {} of", m.min_count), &m.conditions, out);
        }
        section("must_not", &f.must_not, out);
    }

    pub(crate) fn filter_to_text(f: &Filter) -> String {
        let mut out = String::new();
        render_filter(f, 0, &mut out);
        out
    }

    // ---- evaluation (a model of Qdrant's documented filter semantics) -------------------

    fn number(v: Option<&Value>) -> Option<f64> {
        match v.and_then(|v| v.kind.as_ref()) {
            Some(Kind::IntegerValue(i)) => Some(*i as f64),
            Some(Kind::DoubleValue(d)) => Some(*d),
            _ => None,
        }
    }

    fn field_matches(f: &FieldCondition, p: &HashMap<String, Value>) -> bool {
        let value = p.get(&f.key);
        if let Some(m) = f.r#match.as_ref().and_then(|m| m.match_value.as_ref()) {
            return match (m, value.and_then(|v| v.kind.as_ref())) {
                (MatchValue::Keyword(k), Some(Kind::StringValue(s))) => k == s,
                (MatchValue::Text(word), Some(Kind::StringValue(s))) => {
                    query_words(s).contains(&word.to_lowercase())
                }
                _ => false,
            };
        }
        if let Some(r) = &f.range {
            // A range never matches a missing or null value.
            let Some(x) = number(value) else {
                return false;
            };
            return r.lt.is_none_or(|b| x < b)
                && r.lte.is_none_or(|b| x <= b)
                && r.gt.is_none_or(|b| x > b)
                && r.gte.is_none_or(|b| x >= b);
        }
        panic!("condition not modelled: {f:?}");
    }

    fn condition_matches(c: &Condition, p: &HashMap<String, Value>) -> bool {
        match c.condition_one_of.as_ref().expect("a condition") {
            ConditionOneOf::Field(f) => field_matches(f, p),
            // is_empty: the field is missing, null or an empty list.
            ConditionOneOf::IsEmpty(e) => match p.get(&e.key).and_then(|v| v.kind.as_ref()) {
                None | Some(Kind::NullValue(_)) => true,
                Some(Kind::ListValue(l)) => l.values.is_empty(),
                Some(_) => false,
            },
            ConditionOneOf::Filter(f) => matches(f, p),
            other => panic!("condition not modelled: {other:?}"),
        }
    }

    /// All of `must`, at least one of `should` (when any), at least `min_count` of
    /// `min_should`, none of `must_not`.
    pub(crate) fn matches(f: &Filter, p: &HashMap<String, Value>) -> bool {
        f.must.iter().all(|c| condition_matches(c, p))
            && (f.should.is_empty() || f.should.iter().any(|c| condition_matches(c, p)))
            && f.min_should.as_ref().is_none_or(|m| {
                m.conditions
                    .iter()
                    .filter(|c| condition_matches(c, p))
                    .count() as u64
                    >= m.min_count
            })
            && !f.must_not.iter().any(|c| condition_matches(c, p))
    }

    // ---- cases -------------------------------------------------------------------------

    fn day(d: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap()
    }

    fn scope() -> Scope {
        Scope::user("alice").unwrap()
    }

    #[test]
    fn visibility_filter_structure() {
        let at = Visibility {
            as_of: day(10) + chrono::Duration::nanoseconds(1_500),
            known_at: day(20),
        };
        let (t, k) = (1_704_844_800_000_001_i64, 1_705_708_800_000_000_i64);
        let expected = format!(
            "must:
  scope_key = \"alice\\u{{1f}}\\u{{1f}}\"
  recorded_at_us <= {k}
  any:
    is_empty(valid_from_us)
    valid_from_us <= {t}
  any:
    is_empty(valid_to_us)
    invalidated_at_us > {k}
    valid_to_us > {t}
must_not:
  retracted_at_us <= {k}
"
        );
        assert_eq!(filter_to_text(&visibility_filter(&scope(), &at)), expected);
    }

    /// Alice lived in Boston from day 5; on day 20 we learned she moved out on day 15
    /// (the table of `mnemo_core::visibility`'s own test).
    fn ended() -> RelationTimes {
        RelationTimes {
            valid_from: Some(day(5)),
            valid_to: Some(day(15)),
            recorded_at: day(6),
            invalidated_at: Some(day(20)),
            retracted_at: None,
        }
    }

    fn current() -> RelationTimes {
        RelationTimes {
            valid_from: Some(day(5)),
            valid_to: None,
            recorded_at: day(6),
            invalidated_at: None,
            retracted_at: None,
        }
    }

    fn sample_times() -> Vec<RelationTimes> {
        let retracted = |d| RelationTimes {
            retracted_at: Some(day(d)),
            ..current()
        };
        vec![
            current(),
            ended(),
            retracted(10),
            RelationTimes {
                valid_from: None,
                ..current()
            },
            RelationTimes {
                valid_from: None,
                ..ended()
            },
            RelationTimes {
                recorded_at: day(22),
                ..current()
            },
            RelationTimes {
                invalidated_at: None,
                ..ended()
            },
            RelationTimes {
                retracted_at: Some(day(10)),
                ..ended()
            },
        ]
    }

    fn check(times: &RelationTimes, at: &Visibility) -> (bool, bool) {
        let payload: HashMap<String, Value> = relation_payload(&scope(), times).into();
        (
            matches(&visibility_filter(&scope(), at), &payload),
            is_visible(times, at),
        )
    }

    #[test]
    fn visibility_filter_equals_the_rule_on_whole_microseconds() {
        let mut checked = 0;
        for times in sample_times() {
            for t in 1..=28 {
                for k in 1..=28 {
                    let at = Visibility {
                        as_of: day(t),
                        known_at: day(k),
                    };
                    let (filter, rule) = check(&times, &at);
                    assert_eq!(filter, rule, "{times:?} at (day {t}, day {k})");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 8 * 28 * 28);
    }

    /// Every time and the query point nudged by sub-microsecond amounts around the day
    /// boundaries: the filter may let an invisible relation through, never hide a visible one.
    #[test]
    fn visibility_filter_never_hides_a_visible_relation() {
        let nudges = [-1_001_i64, -1_000, -999, -1, 0, 1, 999, 1_000, 1_001];
        let nudge = |t: Timestamp, i: usize| t + chrono::Duration::nanoseconds(nudges[i % 9]);
        let (mut visible, mut invisible, mut let_through) = (0, 0, 0);
        for (n, base) in sample_times().into_iter().enumerate() {
            for i in 0..81 {
                let times = RelationTimes {
                    valid_from: base.valid_from.map(|t| nudge(t, i + n)),
                    valid_to: base.valid_to.map(|t| nudge(t, i / 9)),
                    recorded_at: nudge(base.recorded_at, i * 7 + n),
                    invalidated_at: base.invalidated_at.map(|t| nudge(t, i * 5)),
                    retracted_at: base.retracted_at.map(|t| nudge(t, i * 2 + 1)),
                };
                for (t, k) in [(5, 6), (10, 10), (15, 20), (14, 19), (15, 15), (25, 22)] {
                    for j in 0..9 {
                        let at = Visibility {
                            as_of: nudge(day(t), j),
                            known_at: nudge(day(k), j * 4 + i),
                        };
                        let (filter, rule) = check(&times, &at);
                        assert!(
                            filter || !rule,
                            "the filter hides a visible relation: {times:?} at {at:?}"
                        );
                        visible += usize::from(rule);
                        invisible += usize::from(!rule);
                        let_through += usize::from(filter && !rule);
                    }
                }
            }
        }
        // The cases exercise both sides and the same-microsecond edge, and the filter still
        // rejects most invisible relations even though the cases crowd that edge.
        assert!(
            visible > 1_000 && invisible > 1_000,
            "{visible} / {invisible}"
        );
        assert!(
            let_through > 0 && let_through * 4 < invisible,
            "{let_through} of {invisible} invisible let through"
        );
    }

    #[test]
    fn visibility_filter_is_scoped() {
        let other = Scope::new(Some("alice".into()), None, Some("r".into())).unwrap();
        let payload: HashMap<String, Value> = relation_payload(&other, &current()).into();
        let at = Visibility {
            as_of: day(25),
            known_at: day(25),
        };
        assert!(!matches(&visibility_filter(&scope(), &at), &payload));
        assert!(matches(&visibility_filter(&other, &at), &payload));
    }

    #[test]
    fn query_words_are_distinct_lowercase_alphanumeric_runs() {
        let cases: &[(&str, &[&str])] = &[
            ("tea", &["tea"]),
            ("  Green   TEA green ", &["green", "tea"]),
            ("chess)", &["chess"]),
            ("\"tea\" OR (", &["tea", "or"]),
            ("text:tea AND [", &["text", "tea", "and"]),
            ("Alice's café", &["alice", "s", "café"]),
            ("* - \" ()", &[]),
            ("", &[]),
        ];
        for (query, expected) in cases {
            assert_eq!(query_words(query), *expected, "query {query:?}");
        }
        let long: String = (0..40).map(|i| format!("w{i} ")).collect();
        assert_eq!(query_words(&long).len(), MAX_WORDS);
    }

    #[test]
    fn text_tier_structure_and_semantics() {
        let words = query_words("green tea");
        let found = PointId::from("0190b4a2-0000-7000-8000-000000000001".to_owned());
        let expected = "must:
  scope_key = \"alice\\u{1f}\\u{1f}\"
at least 2 of:
  text has word \"green\"
  text has word \"tea\"
must_not:
  has_id[0190b4a2-0000-7000-8000-000000000001]
";
        let tier = text_tier(&scope(), &words, 2, &[found]);
        assert_eq!(filter_to_text(&tier), expected);

        let fact = |text: &str| -> HashMap<String, Value> {
            let mut p: HashMap<String, Value> = crate::payload::scope_payload(&scope()).into();
            p.insert(TEXT.to_owned(), text.into());
            p
        };
        let cases: &[(&str, usize, bool)] = &[
            ("Dan drinks green tea", 2, true),
            ("Dan drinks green tea", 1, true),
            ("Erin drinks black tea", 2, false),
            ("Erin drinks black tea", 1, true),
            ("Bob plays chess", 1, false),
        ];
        for (text, min, expected) in cases {
            let tier = text_tier(&scope(), &words, *min, &[]);
            assert_eq!(
                matches(&tier, &fact(text)),
                *expected,
                "{text:?}, min {min}"
            );
        }
    }
}
