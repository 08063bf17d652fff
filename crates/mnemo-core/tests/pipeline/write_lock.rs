//! The scope's write lock is not held across an add's extraction calls, nor across the
//! embedding of its relations' facts: adds to one scope have them in flight together, and
//! each still ends `done`.

use std::time::Duration;

use mnemo_core::{EpisodeStatus, MemorySettings};
use mnemo_testkit::scripted_llm::{Reply, ScriptedRequest};
use serde_json::json;

use crate::support::{
    add_request, date, embedder, fresh_scope, harness_with, llm_config, messages, token_counter,
};

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

/// The real embedder, holding every call that embeds a text containing `slow` for `hold`.
struct SlowFor {
    slow: &'static str,
    hold: Duration,
}

#[async_trait::async_trait]
impl mnemo_core::ports::Embedder for SlowFor {
    fn dimension(&self) -> usize {
        embedder().dimension()
    }
    fn model_name(&self) -> &str {
        "slow-for"
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, mnemo_core::EmbedError> {
        if texts.iter().any(|t| t.contains(self.slow)) {
            tokio::time::sleep(self.hold).await;
        }
        embedder().embed(texts).await
    }
}

/// A relation's fact is embedded before the scope's write lock: while the first add's fact
/// embeds slowly, a second add to the scope, whose extraction finished later, takes the
/// lock and finishes first. With the fact embedded under the lock, the second add would
/// wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relation_fact_is_embedded_before_the_scopes_lock() {
    let settings = MemorySettings {
        facts_enabled: false,
        // No earlier messages as context: the script tells the two adds apart by their
        // words, and whichever is journaled first would be the other's context.
        recent_messages: 0,
        ..MemorySettings::default()
    };
    let h = harness_with(settings.clone(), true).await;
    h.llm()
        .respond_with(|request: &ScriptedRequest| match request.tool.as_str() {
            "extract_entities" if request.input.contains("tea") => Reply::json(json!({
                "entities": [{"name": "Ann", "type": "Person"}, {"name": "Tea", "type": "Concept"}]
            }))
            // Tea's extraction ends after Boston's, so Boston's add reaches the lock first
            // unless its fact embedding comes before the lock.
            .after(Duration::from_millis(300)),
            "extract_entities" => Reply::json(json!({
                "entities": [{"name": "Ann", "type": "Person"}, {"name": "Boston", "type": "City"}]
            })),
            "establish_relations" if request.input.contains("Tea") => Reply::json(json!({
                "relations": [{"source": "Ann", "relation": "LIKES", "target": "Tea",
                    "fact": "Ann likes tea", "valid_from": null, "valid_to": null}]
            })),
            "establish_relations" => Reply::json(json!({
                "relations": [{"source": "Ann", "relation": "LIVES_IN", "target": "Boston",
                    "fact": "Ann lives in Boston", "valid_from": null, "valid_to": null}]
            })),
            _ => Reply::status(400),
        });
    let memory = std::sync::Arc::new(mnemo_core::Memory::new(mnemo_core::MemoryParts {
        graph: h.store.graph.clone(),
        vectors: h.store.vectors.clone(),
        embedder: std::sync::Arc::new(SlowFor {
            slow: "Ann lives in Boston",
            hold: Duration::from_millis(1_500),
        }),
        tokens: token_counter(),
        llm: Some(std::sync::Arc::new(
            mnemo_llm::OpenAiLlm::new(llm_config(h.llm())).expect("LLM client"),
        )),
        ontology: mnemo_core::Ontology::builtin(),
        settings,
    }));
    let scope = fresh_scope("fact-before-lock");
    let (finished, mut order) = tokio::sync::mpsc::unbounded_channel();
    for say in ["Ann lives in Boston", "Ann likes tea"] {
        let (memory, scope, finished) = (memory.clone(), scope.clone(), finished.clone());
        tokio::spawn(async move {
            let outcome = memory.add(add_request(&scope, say, date(2026, 1, 5))).await;
            finished.send((say, outcome)).unwrap();
        });
    }
    drop(finished);
    let mut done = Vec::new();
    while let Some((say, outcome)) = order.recv().await {
        let outcome = outcome.unwrap();
        assert_eq!(outcome.status, EpisodeStatus::Done, "{say}: {outcome:?}");
        assert_eq!(outcome.relations.added.len(), 1, "{say}: {outcome:?}");
        done.push(say);
    }
    assert_eq!(done, ["Ann likes tea", "Ann lives in Boston"]);
}
