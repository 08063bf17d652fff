//! The scope's write lock is not held across an add's extraction calls: adds to one scope
//! have them in flight together, and each still ends `done`.

use std::time::Duration;

use mnemo_core::{EpisodeStatus, MemorySettings};
use mnemo_testkit::scripted_llm::{Reply, ScriptedRequest};
use serde_json::json;

use crate::support::{fresh_scope, harness_with, messages};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_to_one_scope_overlap_their_extraction_calls() {
    let settings = MemorySettings {
        facts_enabled: false,
        ..MemorySettings::default()
    };
    let h = std::sync::Arc::new(harness_with(settings, true).await);
    // Slow entity extraction: the second add reaches the LLM while the first one waits,
    // unless the first holds the scope's lock through its call.
    h.llm()
        .respond_with(|request: &ScriptedRequest| match request.tool.as_str() {
            "extract_entities" => Reply::json(json!({"entities": [
                {"name": "I", "type": "Person"}
            ]}))
            .after(Duration::from_millis(800)),
            "establish_relations" => Reply::json(json!({"relations": []})),
            _ => Reply::status(400),
        });
    let scope = fresh_scope("lock");
    let adds: Vec<_> = ["I live in Boston", "I like tea"]
        .into_iter()
        .map(|say| {
            let (h, scope) = (h.clone(), scope.clone());
            tokio::spawn(async move {
                h.memory
                    .add(mnemo_core::write::AddRequest {
                        scope,
                        messages: messages(&[say]),
                        occurred_at: None,
                        metadata: json!({}),
                        infer: true,
                        idempotency_key: None,
                    })
                    .await
            })
        })
        .collect();
    for add in adds {
        let outcome = add.await.unwrap().unwrap();
        assert_eq!(outcome.status, EpisodeStatus::Done, "{outcome:?}");
    }
    let tools: Vec<String> = h.llm().requests().into_iter().map(|r| r.tool).collect();
    assert_eq!(
        tools[..2],
        ["extract_entities", "extract_entities"],
        "both extractions in flight before either add went on: {tools:?}"
    );
    assert_eq!(tools.len(), 4, "{tools:?}");
}
