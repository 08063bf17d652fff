//! LOCOMO conversations (read by `mnemo_eval::locomo::data`, the one reader of the format)
//! as add requests: each conversation into its own scope (`user_id` = `sample_id`), each
//! session one add whose `occurred_at` is the session's date; turns become messages whose
//! role is the speaker's name.

use mnemo_core::llm::ChatMessage;
use mnemo_eval::locomo::data::{self, LocomoError, Turn};
use serde_json::{Value, json};

use crate::cli::AddBody;

/// One add per session, conversations in file order, sessions in number order. Each add
/// carries an idempotency key (`locomo:SAMPLE:session_N`), so importing the file again
/// adds nothing twice.
pub fn adds(data: &Value, infer: bool) -> Result<Vec<AddBody>, LocomoError> {
    let mut adds = Vec::new();
    for conversation in data::conversations(data)? {
        let sample_id = &conversation.sample_id;
        for session in &conversation.sessions {
            let messages: Vec<ChatMessage> = session.turns.iter().filter_map(message).collect();
            if messages.is_empty() {
                continue;
            }
            let n = session.number;
            adds.push(AddBody {
                messages: messages.into_iter().map(Into::into).collect(),
                user_id: Some(sample_id.clone()),
                occurred_at: Some(session.occurred_at),
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
fn message(turn: &Turn) -> Option<ChatMessage> {
    let text = turn.text.trim();
    let content = match turn.caption.as_deref().map(str::trim) {
        Some(caption) if text.is_empty() => format!("[shares an image: {caption}]"),
        Some(caption) => format!("{text} [shares an image: {caption}]"),
        None if text.is_empty() => return None,
        None => text.to_owned(),
    };
    Some(ChatMessage {
        role: turn.speaker.clone(),
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
