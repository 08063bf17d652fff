//! The LOCOMO data set (snap-research/LoCoMo, `locomo10.json` format): conversations made
//! of dated sessions of turns, their questions with evidence ids, and the extracted
//! observations. See `shared/eval/locomo/README.md` for the format notes followed here.
//!
//! The one reader of the format: `mnemo eval locomo` ingests what it reads, and
//! `mnemo import --format locomo` turns it into add requests ([`conversations`]).

use std::path::Path;

use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime, TimeZone as _, Utc};
use mnemo_core::Timestamp;
use serde_json::Value;

use crate::metrics::{dia_id, normalize_evidence};

/// One conversation of the benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub sample_id: String,
    /// In session order.
    pub sessions: Vec<Session>,
    pub questions: Vec<Question>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// N of `session_N`.
    pub number: u32,
    /// `session_N_date_time`, read as UTC.
    pub occurred_at: Timestamp,
    pub turns: Vec<Turn>,
    /// `observation.session_N_observation`, in the file's order.
    pub observations: Vec<Observation>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// Trimmed, never empty.
    pub speaker: String,
    /// Normalised (`D1:3`).
    pub dia_id: String,
    pub text: String,
    /// `blip_caption` of a shared photo.
    pub caption: Option<String>,
}

impl Turn {
    /// What is ingested: "speaker: text", plus "[shares photo: caption]". Never `query`.
    pub fn message(&self) -> String {
        let mut out = format!("{}: {}", self.speaker, self.text.trim());
        if let Some(caption) = &self.caption {
            out.push_str(&format!(" [shares photo: {}]", caption.trim()));
        }
        out
    }
}

/// An extracted fact about a speaker, with the turns it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub speaker: String,
    pub text: String,
    pub dia_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub question: String,
    /// `answer` (a string or a number), or `adversarial_answer` for category 5.
    pub answer: String,
    /// Normalised, malformed ids dropped.
    pub evidence: Vec<String>,
    /// 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial.
    pub category: u8,
}

/// The name of a category.
pub fn category_name(category: u8) -> &'static str {
    match category {
        1 => "multi-hop",
        2 => "temporal",
        3 => "open-domain",
        4 => "single-hop",
        5 => "adversarial",
        _ => "other",
    }
}

/// What makes a value not a LOCOMO file.
#[derive(Debug, thiserror::Error)]
pub enum LocomoError {
    #[error("a LOCOMO file is a JSON list of conversations")]
    NotAList,
    #[error("conversation {index} has no sample_id")]
    NoSampleId { index: usize },
    #[error("{sample_id}: {problem}")]
    Conversation { sample_id: String, problem: String },
}

/// Reads a LOCOMO JSON file (a list of conversations).
pub fn load(path: &Path) -> anyhow::Result<Vec<Conversation>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read LOCOMO data {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    conversations(&value).with_context(|| format!("{} is not a LOCOMO file", path.display()))
}

/// The conversations of a LOCOMO file's JSON, in file order. A conversation without `qa`
/// has no questions.
pub fn conversations(value: &Value) -> Result<Vec<Conversation>, LocomoError> {
    let list = value.as_array().ok_or(LocomoError::NotAList)?;
    list.iter()
        .enumerate()
        .map(|(index, c)| {
            let sample_id = text(&c["sample_id"]).ok_or(LocomoError::NoSampleId { index })?;
            conversation(c, &sample_id)
                .map_err(|problem| LocomoError::Conversation { sample_id, problem })
        })
        .collect()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One conversation; the error is what is wrong with it.
fn conversation(value: &Value, sample_id: &str) -> Result<Conversation, String> {
    let conv = value["conversation"]
        .as_object()
        .ok_or("no conversation object")?;
    let observations = &value["observation"];

    let mut numbers: Vec<u32> = conv
        .keys()
        .filter_map(|k| k.strip_prefix("session_")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    let mut sessions = Vec::with_capacity(numbers.len());
    for number in numbers {
        let key = format!("session_{number}");
        let date_key = format!("{key}_date_time");
        let when = conv
            .get(&date_key)
            .and_then(text)
            .ok_or_else(|| format!("session {number} has no {date_key}"))?;
        let occurred_at = parse_date_time(&when).ok_or_else(|| {
            format!("{date_key} {when:?} is not a session time such as \"1:56 pm on 8 May, 2023\"")
        })?;
        let turns = conv[&key]
            .as_array()
            .ok_or_else(|| format!("{key} is not a list"))?
            .iter()
            .map(|t| {
                let raw_id = text(&t["dia_id"]);
                let speaker = text(&t["speaker"])
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        let id = raw_id.as_deref().unwrap_or("?");
                        format!("session {number}: turn {id} has no speaker")
                    })?;
                let raw_id =
                    raw_id.ok_or_else(|| format!("session {number}: a turn has no dia_id"))?;
                Ok(Turn {
                    speaker,
                    dia_id: dia_id(&raw_id)
                        .ok_or_else(|| format!("malformed turn id `{raw_id}`"))?,
                    text: text(&t["text"]).unwrap_or_default(),
                    caption: text(&t["blip_caption"]).filter(|c| !c.trim().is_empty()),
                })
            })
            .collect::<Result<Vec<Turn>, String>>()?;
        let observations = session_observations(&observations[format!("{key}_observation")]);
        sessions.push(Session {
            number,
            occurred_at,
            turns,
            observations,
        });
    }

    let questions = value["qa"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let category = q["category"].as_u64().ok_or("question without category")?;
            let answer = text(&q["answer"])
                .or_else(|| text(&q["adversarial_answer"]))
                .unwrap_or_default();
            let evidence: Vec<String> = q["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(text)
                .collect();
            Ok(Question {
                question: text(&q["question"]).ok_or("question without text")?,
                answer,
                evidence: normalize_evidence(&evidence),
                category: u8::try_from(category).map_err(|_| "category out of range")?,
            })
        })
        .collect::<Result<Vec<Question>, &str>>()?;
    Ok(Conversation {
        sample_id: sample_id.to_owned(),
        sessions,
        questions,
    })
}

/// `{speaker: [[fact, dia_id or [dia_ids]], …]}`; entries without a usable id are kept
/// with none (they can never be evidence).
fn session_observations(value: &Value) -> Vec<Observation> {
    let mut out = Vec::new();
    for (speaker, facts) in value.as_object().into_iter().flatten() {
        for fact in facts.as_array().into_iter().flatten() {
            let Some(text) = fact.get(0).and_then(text) else {
                continue;
            };
            let ids: Vec<String> = match fact.get(1) {
                Some(Value::Array(ids)) => ids.iter().filter_map(self::text).collect(),
                Some(other) => self::text(other).into_iter().collect(),
                None => Vec::new(),
            };
            out.push(Observation {
                speaker: speaker.clone(),
                text,
                dia_ids: normalize_evidence(&ids),
            });
        }
    }
    out
}

/// "1:56 pm on 8 May, 2023" → 2023-05-08T13:56:00Z.
pub fn parse_date_time(text: &str) -> Option<Timestamp> {
    let (time, date) = text.trim().split_once(" on ")?;
    let (clock, half) = time.trim().rsplit_once(' ')?;
    let (hour, minute) = clock.split_once(':')?;
    let (hour, minute): (u32, u32) = (hour.trim().parse().ok()?, minute.trim().parse().ok()?);
    let hour = match (half.to_ascii_lowercase().as_str(), hour) {
        ("am", 12) => 0,
        ("am", h @ 1..=11) => h,
        ("pm", 12) => 12,
        ("pm", h @ 1..=11) => h + 12,
        _ => return None,
    };
    let date = date.replace(',', " ");
    let mut parts = date.split_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = parts.next()?.to_ascii_lowercase();
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let month = MONTHS
        .iter()
        .position(|m| *m == month || (month.len() >= 3 && m.starts_with(&month)))?;
    let naive = NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()? + 1, day)?
        .and_time(NaiveTime::from_hms_opt(hour, minute, 0)?);
    Some(Utc.from_utc_datetime(&naive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_dates() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(
                parse_date_time(text).map(|t| t.to_rfc3339()),
                expected.map(str::to_owned),
                "{text}"
            );
        };
        check("1:56 pm on 8 May, 2023", Some("2023-05-08T13:56:00+00:00"));
        check(
            "12:09 am on 13 September, 2023",
            Some("2023-09-13T00:09:00+00:00"),
        );
        check("12:30 pm on 1 Jan, 2024", Some("2024-01-01T12:30:00+00:00"));
        check(
            "10:37 am on 27 June, 2023",
            Some("2023-06-27T10:37:00+00:00"),
        );
        check("13:00 pm on 8 May, 2023", None);
        check("1:56 pm on 31 February, 2023", None);
        check("1:56 pm 8 May 2023", None);
        check("", None);
        // The forms `mnemo import --format locomo` was tested on.
        check(
            "12:09 am on 1 January, 2024",
            Some("2024-01-01T00:09:00+00:00"),
        );
        check(
            "12:30 pm on 13 August, 2023",
            Some("2023-08-13T12:30:00+00:00"),
        );
        check(
            " 7:05 PM on 3 Sep, 2023 ",
            Some("2023-09-03T19:05:00+00:00"),
        );
        check("8 May 2023", None);
    }

    #[test]
    fn a_turn_is_ingested_as_speaker_text_and_caption() {
        let turn = |caption: Option<&str>| Turn {
            speaker: "Melanie".into(),
            dia_id: "D1:12".into(),
            text: " Look at this! ".into(),
            caption: caption.map(str::to_owned),
        };
        assert_eq!(turn(None).message(), "Melanie: Look at this!");
        assert_eq!(
            turn(Some("a painting of a sunrise")).message(),
            "Melanie: Look at this! [shares photo: a painting of a sunrise]"
        );
    }

    #[test]
    fn a_conversation_is_read_with_sessions_in_order_and_ids_normalised() {
        let value = serde_json::json!({
            "sample_id": "conv-x",
            "conversation": {
                "speaker_a": "Ann", "speaker_b": "Bo",
                "session_10_date_time": "1:00 pm on 2 May, 2023",
                "session_10": [{"speaker": "Bo", "dia_id": "D10:01", "text": "later"}],
                "session_2_date_time": "1:00 pm on 1 May, 2023",
                "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "hi",
                               "blip_caption": "a cat", "query": "cat photo"}],
                "session_3_date_time": "1:00 pm on 3 May, 2023"
            },
            "observation": {"session_2_observation": {"Ann": [["Ann has a cat", "D2:1"],
                                                               ["Ann waves", ["D2:1", "D2:02"]]]}},
            "qa": [
                {"question": "q1", "answer": 2022, "evidence": ["D2:1; D10:1"], "category": 2},
                {"question": "q5", "evidence": ["D:11:26"], "category": 5,
                 "adversarial_answer": "none"}
            ]
        });
        let c = conversation(&value, "conv-x").unwrap();
        let numbers: Vec<u32> = c.sessions.iter().map(|s| s.number).collect();
        assert_eq!(numbers, [2, 10]);
        assert_eq!(c.sessions[1].turns[0].dia_id, "D10:1");
        assert_eq!(
            c.sessions[0].turns[0].message(),
            "Ann: hi [shares photo: a cat]"
        );
        assert_eq!(c.sessions[0].observations.len(), 2);
        assert_eq!(c.sessions[0].observations[1].dia_ids, ["D2:1", "D2:2"]);
        assert_eq!(c.questions[0].answer, "2022");
        assert_eq!(c.questions[0].evidence, ["D2:1", "D10:1"]);
        assert_eq!(c.questions[1].answer, "none");
        assert!(c.questions[1].evidence.is_empty());
    }
}
