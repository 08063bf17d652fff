//! `eval extraction` end to end against the scripted LLM: a two-case file, a model whose
//! answers are known, and the scores a person can work out from them.

use std::time::Duration;

use mnemo_eval::extraction::{self, ExtractionOptions};
use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm};
use serde_json::{Value, json};

use crate::support::embed_config;

fn cases() -> Value {
    json!({
        "about": "test cases", "user": "Alice", "agent": "Mnemo",
        "cases": [
            {
                "id": "move", "tags": ["move", "supersession"],
                "before": [{"occurred_at": "2024-01-05T10:00:00Z",
                            "messages": [{"role": "user", "content": "I live in Paris."}]}],
                "occurred_at": "2024-05-10T12:00:00Z",
                "messages": [{"role": "user", "content": "I moved to Lisbon last month."}],
                "expect": [
                    {"source": "Alice", "relation": "LIVES_IN", "target": "Lisbon",
                     "valid_from": "2024-04", "valid_to": null, "current": true},
                    {"source": "Alice", "relation": "LIVES_IN", "target": "Paris",
                     "valid_from": null, "valid_to": "2024-04", "current": false},
                ],
                "absent": [],
            },
            {
                "id": "likes", "tags": ["likes"],
                "occurred_at": "2024-05-10T12:00:00Z",
                "messages": [{"role": "user", "content": "I love chess but never played golf."}],
                "expect": [
                    {"source": "Alice", "relation": "LIKES", "target": "chess", "also": ["PLAYS"],
                     "valid_from": null, "valid_to": null, "current": true},
                ],
                "absent": [{"source": "Alice", "relation": "PLAYS", "target": "golf"}],
            },
        ],
    })
}

fn entity(name: &str, kind: &str) -> Value {
    json!({"name": name, "type": kind})
}

fn relation(relation: &str, target: &str, from: Option<&str>) -> Value {
    json!({"source": "I", "relation": relation, "target": target, "fact": "f",
           "valid_from": from, "valid_to": null})
}

/// Paris, then a move written the way small models write it (MOVED_TO, normalised to
/// LIVES_IN); chess as PLAYS (an `also` type) and golf as a false belief.
fn script(llm: &ScriptedLlm) {
    let pairs = [
        (
            "I live in Paris",
            vec![entity("Paris", "City")],
            vec![relation("LIVES_IN", "Paris", None)],
        ),
        (
            "I moved to Lisbon",
            vec![entity("Lisbon", "City")],
            vec![relation("MOVED_TO", "Lisbon", Some("2024-04-01"))],
        ),
        (
            "I love chess",
            vec![entity("chess", "Activity"), entity("golf", "Activity")],
            vec![
                relation("PLAYS", "chess", None),
                relation("PLAYS", "golf", None),
            ],
        ),
    ];
    for (text, entities, relations) in pairs {
        let mut entities = entities;
        entities.insert(0, entity("I", "Person"));
        llm.on("extract_entities")
            .containing(text)
            .reply(Reply::json(json!({ "entities": entities })));
        llm.on("establish_relations")
            .containing(text)
            .reply(Reply::json(json!({ "relations": relations })));
    }
}

#[tokio::test]
async fn cases_run_through_the_pipeline_and_are_scored_label_by_label() {
    let llm = ScriptedLlm::start().await;
    script(&llm);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cases.json");
    std::fs::write(&data, cases().to_string()).unwrap();
    let out = dir.path().join("out");
    let options = ExtractionOptions {
        data,
        out: out.clone(),
        llm: mnemo_llm::LlmConfig {
            timeout: Duration::from_secs(30),
            max_retries: 0,
            ..mnemo_llm::LlmConfig::new(llm.base_url(), "scripted")
        },
        only: Vec::new(),
        stride: 1,
        limit: None,
        ontology: None,
        facts: false,
        progress: false,
    };
    let report = extraction::run(&options, &embed_config())
        .await
        .expect("extraction run");
    let overall = &report["overall"];
    assert_eq!(overall["expected"], 3);
    assert_eq!(overall["recall"], 1.0, "{report:#}");
    // Held: Paris (ended by Lisbon), Lisbon, chess and golf; golf is labelled nowhere.
    assert_eq!(overall["held"], 4);
    assert_eq!(overall["precision"], 0.75);
    assert_eq!(overall["current_accuracy"], 1.0);
    assert_eq!(
        overall["temporal_accuracy"], 1.0,
        "Lisbon from April, Paris until April"
    );
    assert_eq!(overall["false_beliefs"], 1);
    assert_eq!(report["adds"], 3);
    // Graph path only: entities and relations per add, no conflict call (LIVES_IN is
    // single-valued, PLAYS has no earlier candidate).
    assert_eq!(report["llm"]["calls"], 6);
    assert_eq!(report["by_tag"]["likes"]["false_beliefs"], 1);
    assert_eq!(report["by_tag"]["move"]["exact_recall"], 1.0);

    let lines: Vec<Value> = std::fs::read_to_string(out.join("cases.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let problems: Vec<&str> = lines[1]["misses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["problem"].as_str())
        .collect();
    assert_eq!(problems, ["not labelled", "false belief"]);
    assert!(out.join("report.md").exists());

    // Only one tag: the other case is not run.
    let only = ExtractionOptions {
        only: vec!["likes".into()],
        out: dir.path().join("out-likes"),
        ..options
    };
    let report = extraction::run(&only, &embed_config()).await.unwrap();
    assert_eq!(report["cases"], 1);
}
