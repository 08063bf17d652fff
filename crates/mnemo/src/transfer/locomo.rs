//! The LOCOMO benchmark's JSON as add requests: each conversation into its own scope
//! (`user_id` = `sample_id`), each session one add whose `occurred_at` is the session's
//! date; turns become messages whose role is the speaker's name.

use anyhow::{Context as _, anyhow, bail};
use mnemo_core::Timestamp;
use mnemo_core::llm::ChatMessage;
use serde_json::{Value, json};

use crate::cli::AddBody;

/// One add per session, conversations in file order, sessions in number order. Each add
/// carries an idempotency key (`locomo:SAMPLE:session_N`), so importing the file again
/// adds nothing twice.
pub fn adds(data: &Value, infer: bool) -> anyhow::Result<Vec<AddBody>> {
    let samples = data
        .as_array()
        .ok_or_else(|| anyhow!("a LOCOMO file is a JSON list of conversations"))?;
    let mut adds = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        let sample_id = sample
            .get("sample_id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("conversation {i} has no sample_id"))?;
        let conversation = sample
            .get("conversation")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{sample_id}: no conversation object"))?;
        let mut sessions: Vec<(u32, &Vec<Value>)> = conversation
            .iter()
            .filter_map(|(key, turns)| {
                let n = key.strip_prefix("session_")?.parse().ok()?;
                Some((n, turns.as_array()?))
            })
            .collect();
        sessions.sort_by_key(|(n, _)| *n);
        for (n, turns) in sessions {
            let date_key = format!("session_{n}_date_time");
            let date = conversation
                .get(&date_key)
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("{sample_id}: session {n} has no {date_key}"))?;
            let occurred_at =
                parse_session_time(date).with_context(|| format!("{sample_id}: {date_key}"))?;
            let messages: Vec<ChatMessage> = turns
                .iter()
                .filter_map(message)
                .collect::<anyhow::Result<_>>()
                .with_context(|| format!("{sample_id}: session {n}"))?;
            if messages.is_empty() {
                continue;
            }
            adds.push(AddBody {
                messages: messages.into_iter().map(Into::into).collect(),
                user_id: Some(sample_id.to_owned()),
                occurred_at: Some(occurred_at),
                metadata: Some(json!({"source": "locomo", "sample_id": sample_id, "session": n})),
                infer: Some(infer),
                idempotency_key: Some(format!("locomo:{sample_id}:session_{n}")),
                ..AddBody::default()
            });
        }
    }
    Ok(adds)
}

/// A turn as a message: the speaker as role, the text, and a shared image's caption.
/// `None` for a turn with nothing to say.
fn message(turn: &Value) -> Option<anyhow::Result<ChatMessage>> {
    let speaker = turn.get("speaker").and_then(Value::as_str).unwrap_or("");
    let text = turn
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let caption = turn
        .get("blip_caption")
        .and_then(Value::as_str)
        .map(str::trim);
    let content = match caption {
        Some(caption) if !caption.is_empty() && text.is_empty() => {
            format!("[shares an image: {caption}]")
        }
        Some(caption) if !caption.is_empty() => format!("{text} [shares an image: {caption}]"),
        _ if text.is_empty() => return None,
        _ => text.to_owned(),
    };
    if speaker.trim().is_empty() {
        let id = turn.get("dia_id").and_then(Value::as_str).unwrap_or("?");
        return Some(Err(anyhow!("turn {id} has no speaker")));
    }
    Some(Ok(ChatMessage {
        role: speaker.trim().to_owned(),
        content,
    }))
}

/// "1:56 pm on 8 May, 2023" (the dataset's format), as UTC.
pub fn parse_session_time(text: &str) -> anyhow::Result<Timestamp> {
    let normal = text.trim().to_ascii_uppercase();
    match chrono::NaiveDateTime::parse_from_str(&normal, "%I:%M %p ON %d %B, %Y") {
        Ok(time) => Ok(time.and_utc()),
        Err(_) => bail!("{text:?} is not a session time such as \"1:56 pm on 8 May, 2023\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_times() {
        let check = |text: &str, expected: Option<&str>| {
            let got = parse_session_time(text).ok().map(|t| t.to_rfc3339());
            assert_eq!(got.as_deref(), expected, "{text}");
        };
        check("1:56 pm on 8 May, 2023", Some("2023-05-08T13:56:00+00:00"));
        check(
            "10:37 am on 27 June, 2023",
            Some("2023-06-27T10:37:00+00:00"),
        );
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
        check("", None);
    }

    #[test]
    fn conversations_become_adds() {
        let data = json!([{
            "sample_id": "conv-1",
            "qa": [],
            "conversation": {
                "speaker_a": "Caroline", "speaker_b": "Melanie",
                "session_2_date_time": "9:00 am on 9 May, 2023",
                "session_2": [{"speaker": "Melanie", "dia_id": "D2:1", "text": "Back again!"}],
                "session_10_date_time": "9:00 am on 1 June, 2023",
                "session_10": [{"speaker": "Caroline", "dia_id": "D10:1", "text": ""}],
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Caroline", "dia_id": "D1:1", "text": "Hey Mel!"},
                    {"speaker": "Melanie", "dia_id": "D1:2", "text": "Look:",
                     "blip_caption": "a photo of a dog", "query": "dog"},
                    {"speaker": "Caroline", "dia_id": "D1:3", "text": "",
                     "blip_caption": "a cake"}
                ],
                "session_3_date_time": "9:00 am on 1 June, 2023"
            }
        }]);
        let adds = adds(&data, false).unwrap();
        let lines: Vec<String> = adds
            .iter()
            .map(|add| {
                let messages: Vec<String> = add
                    .messages
                    .iter()
                    .map(|m| format!("{}: {}", m.role, m.content))
                    .collect();
                format!(
                    "{} {} {} {}",
                    add.user_id.as_deref().unwrap(),
                    add.occurred_at.unwrap().to_rfc3339(),
                    add.idempotency_key.as_deref().unwrap(),
                    messages.join(" | ")
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                "conv-1 2023-05-08T13:56:00+00:00 locomo:conv-1:session_1 Caroline: Hey Mel! | \
                 Melanie: Look: [shares an image: a photo of a dog] | \
                 Caroline: [shares an image: a cake]",
                "conv-1 2023-05-09T09:00:00+00:00 locomo:conv-1:session_2 Melanie: Back again!",
            ]
        );
        assert!(adds.iter().all(|add| add.infer == Some(false)));
        assert_eq!(
            adds[1].metadata,
            Some(json!({"source": "locomo", "sample_id": "conv-1", "session": 2}))
        );
    }

    #[test]
    fn bad_files_are_named() {
        let check = |data: Value, expected: &str| {
            let err = format!("{:#}", adds(&data, false).unwrap_err());
            assert!(err.contains(expected), "{err}");
        };
        check(json!({}), "a JSON list of conversations");
        check(
            json!([{"conversation": {}}]),
            "conversation 0 has no sample_id",
        );
        check(
            json!([{"sample_id": "c", "conversation": {"session_1": []}}]),
            "c: session 1 has no session_1_date_time",
        );
        check(
            json!([{"sample_id": "c", "conversation": {
                "session_1": [{"text": "hi"}], "session_1_date_time": "1:56 pm on 8 May, 2023"}}]),
            "turn ? has no speaker",
        );
    }

    /// The development split shipped with the evaluation data, when it is there.
    #[test]
    fn the_dev_split_converts() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/eval/locomo/locomo_dev.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: no {}", path.display());
            return;
        };
        let adds = adds(&serde_json::from_str(&text).unwrap(), false).unwrap();
        // README: 128 sessions in the dev split.
        assert_eq!(adds.len(), 128);
    }
}
