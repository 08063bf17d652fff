//! `eval locomo --llm` on the tiny slice against the scripted LLM: full-pipeline ingestion,
//! answers from the retrieved context, judgements, and the scores computed from them.

use std::time::Duration;

use mnemo_eval::locomo::{self, LocomoOptions, Mode};
use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm, ScriptedRequest};
use serde_json::{Value, json};

use crate::support::{embed_config, questions, write_slice};

/// The lines of section `title` of a rendered input, without their list or role prefix.
fn section(input: &str, title: &str) -> Vec<String> {
    let Some((_, rest)) = input.split_once(&format!("## {title}\n")) else {
        return Vec::new();
    };
    rest.lines()
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim_start_matches("- ");
            l.strip_prefix("[user] ").unwrap_or(l).to_owned()
        })
        .collect()
}

/// A model that stores every message as a fact, knows the kitten's name when the context
/// says it, and judges by exact match.
fn model(request: &ScriptedRequest) -> Reply {
    let input = &request.input;
    match request.tool.as_str() {
        "extract_entities" => Reply::json(json!({"entities": []})),
        "establish_relations" => Reply::json(json!({"relations": []})),
        "extract_facts" => Reply::json(json!({"facts": section(input, "New messages")})),
        "update_memory" => {
            let memory: Vec<Value> = section(input, "New facts")
                .into_iter()
                .map(|text| json!({"id": "new", "text": text, "event": "ADD"}))
                .collect();
            Reply::json(json!({ "memory": memory }))
        }
        "answer_question" => {
            let memories = section(input, "Memories").join("\n");
            let question = section(input, "Question").join(" ");
            let answer = if question.contains("kitten") && memories.contains("named him Tom") {
                "Tom"
            } else {
                "Not mentioned"
            };
            Reply::json(json!({ "answer": answer }))
        }
        "judge_answer" => {
            let gold = section(input, "Gold answer").join(" ");
            let generated = section(input, "Generated answer").join(" ");
            let label = if gold.eq_ignore_ascii_case(&generated) {
                "CORRECT"
            } else {
                "WRONG"
            };
            Reply::json(json!({"reasoning": "compared", "label": label}))
        }
        other => {
            eprintln!("unexpected tool {other}");
            Reply::status(500)
        }
    }
}

#[tokio::test]
async fn answers_are_generated_judged_and_scored_per_category() {
    let llm = ScriptedLlm::start().await;
    llm.respond_with(model);
    let (dir, data) = write_slice();
    let out = dir.path().join("out");
    let options = LocomoOptions {
        data,
        mode: Mode::Turns,
        out: out.clone(),
        llm: Some(mnemo_llm::LlmConfig {
            api_key: Some("test-key".into()),
            output: mnemo_llm::OutputMode::Tools,
            timeout: Duration::from_secs(30),
            max_retries: 1,
            ..mnemo_llm::LlmConfig::new(llm.base_url(), "scripted")
        }),
        store: None,
        conversations: Vec::new(),
        sessions: None,
        answers: true,
        progress: false,
    };
    let report = locomo::run(&options, &embed_config())
        .await
        .expect("llm run");

    // Ingestion went through the LLM: one extract_facts per session.
    assert_eq!(llm.calls("extract_facts"), 2);
    // Categories 1-4 are answered and judged; category 5 is not.
    assert_eq!(llm.calls("answer_question"), 4);
    assert_eq!(llm.calls("judge_answer"), 4);
    let judge = llm.requests_to("judge_answer");
    assert!(
        judge
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer test-key"))
    );
    assert!(judge.iter().all(|r| r.system.contains("CORRECT")
        && r.mode == mnemo_testkit::scripted_llm::ScriptedMode::JsonSchema));

    // Only the kitten question (category 4) is answered right: F1 and BLEU-1 are 1 there
    // and 0 elsewhere ("Not mentioned" shares no word with the other gold answers).
    let answers = &report["answers"];
    assert_eq!(answers["overall_1_4"]["questions"], 4);
    assert_eq!(answers["overall_1_4"]["j"], 0.25);
    assert_eq!(answers["overall_1_4"]["f1"], 0.25);
    assert_eq!(answers["overall_1_4"]["bleu1"], 0.25);
    assert_eq!(answers["categories"]["4"]["j"], 1.0);
    assert_eq!(answers["categories"]["2"]["j"], 0.0);
    assert_eq!(answers["categories"]["3"]["questions"], 1);
    assert!(answers["categories"].get("5").is_none());
    assert_eq!(report["llm"], "scripted");
    assert_eq!(report["llm_usage"]["episodes_failed"], 0);
    assert_eq!(report["llm_usage"]["answer_and_judge"]["calls"], 8);

    // An extracted fact knows its episode, not its message: its ids are the session's.
    let kitten = questions(&out)
        .into_iter()
        .find(|q| q["question"] == "What is the name of Ann's kitten?")
        .unwrap();
    assert_eq!(kitten["answer"]["generated"], "Tom");
    assert_eq!(kitten["answer"]["correct"], true);
    assert_eq!(kitten["retrieved"][0], "D1:1,D1:2,D1:3,D1:4");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| overall 1-4 | 4 | 0.250 | 0.250 | 0.250 |"),
        "{md}"
    );
}
