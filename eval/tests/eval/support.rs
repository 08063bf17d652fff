//! The tiny LOCOMO slice the tests run on, and where the model files are.

use std::path::{Path, PathBuf};

use mnemo_fastembed::EmbedConfig;
use serde_json::{Value, json};

pub fn embed_config() -> EmbedConfig {
    EmbedConfig::repo_default(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// One conversation of two sessions between Ann and Bo, in the LOCOMO format, with one
/// malformed evidence id, a photo caption, a `query` field that must not be ingested, and
/// observations.
pub fn tiny_slice() -> Value {
    json!([{
        "sample_id": "conv-tiny",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "Hey Bo! Long time no see."},
                {"speaker": "Ann", "dia_id": "D1:2", "text": "I adopted a kitten last week, I named him Tom.",
                 "img_url": ["http://example.invalid/cat.jpg"], "blip_caption": "a photo of a grey kitten",
                 "query": "zanzibar secret query words"},
                {"speaker": "Bo", "dia_id": "D1:3", "text": "Lovely! I am flying to Lisbon for a conference in June."},
                {"speaker": "Ann", "dia_id": "D1:4", "text": "Have fun, and try the pastries there."}
            ],
            "session_2_date_time": "10:00 am on 20 June, 2023",
            "session_2": [
                {"speaker": "Bo", "dia_id": "D2:1", "text": "Back from Lisbon, the conference was great."},
                {"speaker": "Ann", "dia_id": "D2:2", "text": "Tom broke my favourite vase yesterday."},
                {"speaker": "Bo", "dia_id": "D2:3", "text": "Oh no! I started learning the cello this month."}
            ],
            "session_3_date_time": "9:00 am on 1 July, 2023"
        },
        "observation": {
            "session_1_observation": {
                "Ann": [["Ann adopted a grey kitten named Tom.", "D1:2"]],
                "Bo": [["Bo is flying to Lisbon for a conference in June.", "D1:3"]]
            },
            "session_2_observation": {
                "Ann": [["Ann's kitten Tom broke her favourite vase.", "D2:2"]],
                "Bo": [["Bo started learning the cello.", ["D2:3"]]]
            }
        },
        "qa": [
            {"question": "What is the name of Ann's kitten?", "answer": "Tom",
             "evidence": ["D1:2"], "category": 4},
            {"question": "When did Bo fly to Lisbon for the conference?", "answer": "June 2023",
             "evidence": ["D1:3"], "category": 2},
            {"question": "What did Ann's kitten break, and what instrument is Bo learning?",
             "answer": "a vase; the cello", "evidence": ["D2:2; D2:03"], "category": 1},
            {"question": "Which city did Ann fly to?", "evidence": ["D1:3"], "category": 5,
             "adversarial_answer": "Lisbon"},
            {"question": "What is Bo's favourite colour?", "answer": "unknown",
             "evidence": ["D:9:9"], "category": 3}
        ]
    }])
}

/// Writes the slice into a new temporary folder; returns (folder, data file).
pub fn write_slice() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tiny.json");
    std::fs::write(&path, tiny_slice().to_string()).expect("write slice");
    (dir, path)
}

/// The lines of `questions.jsonl`.
pub fn questions(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("questions.jsonl"))
        .expect("questions.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}
