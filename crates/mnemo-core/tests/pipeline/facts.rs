//! The facts path (DESIGN §3.7) through `Memory::add` and `Memory::delete_episode`: each
//! scenario is a list of adds (what the user says, the scripted `extract_facts` and
//! `update_memory` answers, which existing facts `update_memory` must be shown), then
//! episodes deleted, then the facts and their whole history as text.

use std::collections::HashMap;

use mnemo_core::ports::{Page, VectorRead};
use mnemo_core::write::{AddOutcome, AddRequest};
use mnemo_core::{EpisodeId, EpisodeStatus, FactEventKind, FactId, MemorySettings, Scope};
use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm, ScriptedRequest};
use serde_json::{Value, json};

use crate::support::{Harness, fresh_scope, harness_with, messages};

/// One add on the facts path.
struct Step {
    say: &'static str,
    /// The `extract_facts` answer.
    facts: &'static [&'static str],
    /// The existing facts `update_memory` must be shown (any order); `None`: it must not
    /// be called.
    shown: Option<&'static [&'static str]>,
    /// The `update_memory` answer's `memory` list.
    edits: Value,
}

fn step(
    say: &'static str,
    facts: &'static [&'static str],
    shown: &'static [&'static str],
    edits: Value,
) -> Step {
    Step {
        say,
        facts,
        shown: Some(shown),
        edits,
    }
}

fn add(text: &str) -> Value {
    json!({"id": "0", "text": text, "event": "ADD"})
}

fn edit(id: usize, event: &str, text: &str) -> Value {
    json!({"id": id.to_string(), "text": text, "event": event})
}

/// Answers the graph path with nothing found, and refuses (400, not retried) any facts
/// call a step did not script, so an unexpected call fails the episode.
pub fn script_graph_path(llm: &ScriptedLlm) {
    llm.respond_with(|request: &ScriptedRequest| match request.tool.as_str() {
        "extract_entities" => Reply::json(json!({"entities": []})),
        "establish_relations" => Reply::json(json!({"relations": []})),
        _ => Reply::status(400),
    });
}

fn request(scope: &Scope, say: &str, n: usize) -> AddRequest {
    AddRequest {
        scope: scope.clone(),
        messages: messages(&[say]),
        occurred_at: None,
        metadata: json!({"step": n}),
        infer: true,
        idempotency_key: None,
    }
}

/// The existing memories an `update_memory` request listed (`- id "0": text`).
fn shown_memories(request: &ScriptedRequest) -> Vec<String> {
    let mut shown: Vec<String> = request
        .input
        .lines()
        .filter_map(|line| line.strip_prefix("- id \""))
        .filter_map(|rest| rest.split_once("\": "))
        .map(|(_, text)| text.to_owned())
        .collect();
    shown.sort();
    shown
}

async fn play(h: &Harness, scope: &Scope, step: &Step, n: usize) -> AddOutcome {
    let llm = h.llm();
    llm.on("extract_facts")
        .containing(step.say)
        .once()
        .reply(Reply::json(json!({"facts": step.facts})));
    if step.shown.is_some() {
        llm.on("update_memory")
            .once()
            .reply(Reply::json(json!({"memory": step.edits})));
    }
    let before = llm.calls("update_memory");
    let outcome = h.memory.add(request(scope, step.say, n)).await.unwrap();
    assert_eq!(
        outcome.status,
        EpisodeStatus::Done,
        "step {n}: {}",
        step.say
    );
    let requests = llm.requests_to("update_memory");
    match step.shown {
        None => assert_eq!(
            requests.len(),
            before,
            "step {n} must not call update_memory"
        ),
        Some(shown) => {
            assert_eq!(
                requests.len(),
                before + 1,
                "step {n} calls update_memory once"
            );
            let mut want: Vec<String> = shown.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(
                shown_memories(requests.last().unwrap()),
                want,
                "existing facts shown at step {n}"
            );
        }
    }
    outcome
}

/// The scope's facts as "text @steps" (the steps of its provenance), sorted.
async fn facts_text(h: &Harness, scope: &Scope, steps: &HashMap<EpisodeId, usize>) -> Vec<String> {
    let page = Page {
        limit: 1000,
        offset: 0,
    };
    let mut lines: Vec<String> = h
        .store
        .facts(scope, page)
        .await
        .unwrap()
        .into_iter()
        .map(|fact| format!("{} @{}", fact.text, step_list(&fact.episodes, steps)))
        .collect();
    lines.sort();
    lines
}

fn step_list(episodes: &[EpisodeId], steps: &HashMap<EpisodeId, usize>) -> String {
    episodes
        .iter()
        .map(|e| steps.get(e).map_or("?".to_owned(), |n| n.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every history row of the given facts, fact by fact: "F1 UPDATE old => new @2", where
/// F1 is the first fact added and `@-` marks a row without episode (a revert).
async fn history_text(
    h: &Harness,
    scope: &Scope,
    facts: &[FactId],
    steps: &HashMap<EpisodeId, usize>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, id) in facts.iter().enumerate() {
        for event in h.store.fact_history(scope, *id).await.unwrap() {
            let kind = match event.event {
                FactEventKind::Add => "ADD",
                FactEventKind::Update => "UPDATE",
                FactEventKind::Delete => "DELETE",
                FactEventKind::None => "NONE",
            };
            let texts = match (&event.old_text, &event.new_text) {
                (Some(old), Some(new)) => format!("{old} => {new}"),
                (Some(text), None) | (None, Some(text)) => text.clone(),
                (None, None) => String::new(),
            };
            let at = event
                .episode
                .map_or("-".to_owned(), |e| step_list(&[e], steps));
            lines.push(format!("F{} {kind} {texts} @{at}", i + 1));
        }
    }
    lines
}

struct Run {
    h: Harness,
    scope: Scope,
    outcomes: Vec<AddOutcome>,
    facts: Vec<FactId>,
}

/// Plays the steps, deletes the episodes of `delete` (step numbers, in that order), and
/// compares the scope's facts and their history.
async fn check(steps: &[Step], delete: &[usize], facts: &[&str], history: &[&str]) -> Run {
    let h = harness_with(MemorySettings::default(), true).await;
    script_graph_path(h.llm());
    let scope = fresh_scope("alice");
    let mut outcomes = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        outcomes.push(play(&h, &scope, step, i + 1).await);
    }
    let steps: HashMap<EpisodeId, usize> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| (o.episode_id, i + 1))
        .collect();
    let fact_ids: Vec<FactId> = outcomes
        .iter()
        .flat_map(|o| o.facts.added.iter().map(|f| f.id))
        .collect();
    for n in delete {
        h.memory
            .delete_episode(&scope, outcomes[n - 1].episode_id)
            .await
            .unwrap();
    }
    let mut want_facts: Vec<String> = facts.iter().map(|s| s.to_string()).collect();
    want_facts.sort();
    assert_eq!(facts_text(&h, &scope, &steps).await, want_facts, "facts");
    assert_eq!(
        history_text(&h, &scope, &fact_ids, &steps).await,
        history,
        "history"
    );
    Run {
        h,
        scope,
        outcomes,
        facts: fact_ids,
    }
}

fn likes_pizza() -> Step {
    step(
        "I like pizza",
        &["Alice likes pizza"],
        &[],
        json!([add("Alice likes pizza")]),
    )
}

#[tokio::test]
async fn add_update_delete_and_none_leave_a_history_row_per_change() {
    // ADD.
    let run = check(
        &[likes_pizza()],
        &[],
        &["Alice likes pizza @1"],
        &["F1 ADD Alice likes pizza @1"],
    )
    .await;
    let added = &run.outcomes[0].facts.added;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].metadata, json!({"step": 1}));

    // UPDATE: same id, new text, the episode joins the provenance.
    let run = check(
        &[
            likes_pizza(),
            step(
                "Actually I love pepperoni pizza",
                &["Alice loves pepperoni pizza"],
                &["Alice likes pizza"],
                json!([edit(0, "UPDATE", "Alice loves pepperoni pizza")]),
            ),
        ],
        &[],
        &["Alice loves pepperoni pizza @1,2"],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 UPDATE Alice likes pizza => Alice loves pepperoni pizza @2",
        ],
    )
    .await;
    assert_eq!(run.outcomes[1].facts.updated.len(), 1);
    assert_eq!(run.outcomes[1].facts.updated[0].id, run.facts[0]);

    // DELETE: the fact goes, its history stays.
    let run = check(
        &[
            likes_pizza(),
            step(
                "I stopped eating pizza",
                &["Alice no longer eats pizza"],
                &["Alice likes pizza"],
                json!([edit(0, "DELETE", "")]),
            ),
        ],
        &[],
        &[],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 DELETE Alice likes pizza @2",
        ],
    )
    .await;
    assert_eq!(run.outcomes[1].facts.deleted, vec![run.facts[0]]);
    assert_eq!(
        run.h.store.fact(&run.scope, run.facts[0]).await.unwrap(),
        None
    );

    // NONE: nothing changes and no row is written.
    let run = check(
        &[
            likes_pizza(),
            step(
                "Pizza is still my favourite",
                &["Alice likes pizza"],
                &["Alice likes pizza"],
                json!([edit(0, "NONE", "Alice likes pizza")]),
            ),
        ],
        &[],
        &["Alice likes pizza @1"],
        &["F1 ADD Alice likes pizza @1"],
    )
    .await;
    assert_eq!(run.outcomes[1].facts, Default::default());

    // Several edits at once; an ADD repeating a shown fact is dropped.
    check(
        &[
            likes_pizza(),
            step(
                "I love pepperoni pizza and I got a dog",
                &[
                    "Alice loves pepperoni pizza",
                    "Alice has a dog",
                    "Alice likes pizza",
                ],
                &["Alice likes pizza"],
                json!([
                    edit(0, "UPDATE", "Alice loves pepperoni pizza"),
                    add("Alice has a dog"),
                    add("alice likes  pizza"),
                ]),
            ),
        ],
        &[],
        &["Alice has a dog @2", "Alice loves pepperoni pizza @1,2"],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 UPDATE Alice likes pizza => Alice loves pepperoni pizza @2",
            "F2 ADD Alice has a dog @2",
        ],
    )
    .await;

    // Nothing extracted: no update_memory call.
    check(
        &[Step {
            say: "Hi there",
            facts: &[],
            shown: None,
            edits: Value::Null,
        }],
        &[],
        &[],
        &[],
    )
    .await;
}

#[tokio::test]
async fn deleting_an_episode_reverts_each_kind_of_fact_event() {
    let update = || {
        step(
            "I love pizza now",
            &["Alice loves pizza"],
            &["Alice likes pizza"],
            json!([edit(0, "UPDATE", "Alice loves pizza")]),
        )
    };
    let delete = || {
        step(
            "I stopped eating pizza",
            &["Alice no longer eats pizza"],
            &["Alice likes pizza"],
            json!([edit(0, "DELETE", "")]),
        )
    };

    // ADD reverted: the fact is deleted, with a row of its own.
    check(
        &[likes_pizza()],
        &[1],
        &[],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 DELETE Alice likes pizza @-",
        ],
    )
    .await;

    // UPDATE reverted: the old text is back, the episode leaves the provenance.
    check(
        &[likes_pizza(), update()],
        &[2],
        &["Alice likes pizza @1"],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 UPDATE Alice likes pizza => Alice loves pizza @2",
            "F1 UPDATE Alice loves pizza => Alice likes pizza @-",
        ],
    )
    .await;

    // DELETE reverted: the old text is back under the same id, with the adding
    // episode's metadata and creation time.
    let run = check(
        &[likes_pizza(), delete()],
        &[2],
        &["Alice likes pizza @1"],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 DELETE Alice likes pizza @2",
            "F1 ADD Alice likes pizza @-",
        ],
    )
    .await;
    let restored = run
        .h
        .store
        .fact(&run.scope, run.facts[0])
        .await
        .unwrap()
        .unwrap();
    let original = &run.outcomes[0].facts.added[0];
    assert_eq!(restored.metadata, json!({"step": 1}));
    assert_eq!(restored.created_at, original.created_at);
    // Still found by meaning: the vector came back too.
    let vector = crate::support::embedder();
    let query = mnemo_core::ports::Embedder::embed(&*vector, vec!["pizza".into()])
        .await
        .unwrap();
    let hits = run
        .h
        .store
        .search_facts(&run.scope, &query[0], 1)
        .await
        .unwrap();
    assert_eq!(hits[0].item.id, run.facts[0]);

    // A fact added by the deleted episode goes even though a later episode updated it.
    check(
        &[likes_pizza(), update()],
        &[1],
        &[],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 UPDATE Alice likes pizza => Alice loves pizza @2",
            "F1 DELETE Alice loves pizza @-",
        ],
    )
    .await;

    // An update changed again later stays as the later episode left it.
    check(
        &[
            likes_pizza(),
            update(),
            step(
                "Pepperoni is the best",
                &["Alice loves pepperoni pizza"],
                &["Alice loves pizza"],
                json!([edit(0, "UPDATE", "Alice loves pepperoni pizza")]),
            ),
        ],
        &[2],
        &["Alice loves pepperoni pizza @1,3"],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 UPDATE Alice likes pizza => Alice loves pizza @2",
            "F1 UPDATE Alice loves pizza => Alice loves pepperoni pizza @3",
            "F1 UPDATE Alice loves pepperoni pizza => Alice loves pepperoni pizza @-",
        ],
    )
    .await;

    // Deleting the deleter, then the adder: back, then gone.
    check(
        &[likes_pizza(), delete()],
        &[2, 1],
        &[],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 DELETE Alice likes pizza @2",
            "F1 ADD Alice likes pizza @-",
            "F1 DELETE Alice likes pizza @-",
        ],
    )
    .await;

    // Deleting the adder, then the deleter: the fact's origin is gone, it stays deleted.
    check(
        &[likes_pizza(), delete()],
        &[1, 2],
        &[],
        &[
            "F1 ADD Alice likes pizza @1",
            "F1 DELETE Alice likes pizza @2",
        ],
    )
    .await;
}

/// Facts stored without the LLM, to compare against.
async fn seed(h: &Harness, scope: &Scope, texts: &[&str]) {
    let outcome = h
        .memory
        .add(AddRequest {
            scope: scope.clone(),
            messages: messages(texts),
            occurred_at: None,
            metadata: json!({}),
            infer: false,
            idempotency_key: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome.facts.added.len(), texts.len());
}

#[tokio::test]
async fn update_memory_sees_only_the_k_most_similar_facts_of_the_scope() {
    let existing = [
        "Alice likes pizza",
        "Alice eats pizza every Friday",
        "The sky is blue today",
        "Bob's car is red",
        "Tax returns are due in April",
    ];
    // (K, extracted facts, what update_memory is shown)
    let cases: &[(usize, &[&str], &[&str])] = &[
        (
            2,
            &["Alice loves pizza"],
            &["Alice eats pizza every Friday", "Alice likes pizza"],
        ),
        (1, &["Alice loves pizza"], &["Alice likes pizza"]),
        // Each new fact's nearest first, K in all.
        (
            2,
            &["Alice loves pizza", "Alice's car is red"],
            &["Alice likes pizza", "Bob's car is red"],
        ),
        (10, &["Alice loves pizza"], &existing),
    ];
    for (k, extracted, shown) in cases {
        let settings = MemorySettings {
            facts_top_k: *k,
            ..MemorySettings::default()
        };
        let h = harness_with(settings, true).await;
        script_graph_path(h.llm());
        let scope = fresh_scope("alice");
        seed(&h, &scope, &existing).await;
        // Another scope holds the very fact being stated; it must never be shown.
        let other = fresh_scope("alice");
        seed(&h, &other, &["Alice loves pizza", "Alice's car is red"]).await;

        let extracted: Vec<String> = extracted.iter().map(|s| s.to_string()).collect();
        h.llm()
            .on("extract_facts")
            .reply(Reply::json(json!({"facts": extracted})));
        h.llm()
            .on("update_memory")
            .reply(Reply::json(json!({"memory": [edit(0, "NONE", "")]})));
        let outcome = h
            .memory
            .add(request(&scope, "I love pizza", 1))
            .await
            .unwrap();
        assert_eq!(outcome.status, EpisodeStatus::Done);
        let requests = h.llm().requests_to("update_memory");
        assert_eq!(requests.len(), 1, "K={k} {extracted:?}");
        let mut want: Vec<String> = shown.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(shown_memories(&requests[0]), want, "K={k} {extracted:?}");
    }
}

#[tokio::test]
async fn with_the_facts_path_off_no_facts_call_is_made() {
    let settings = MemorySettings {
        facts_enabled: false,
        ..MemorySettings::default()
    };
    let h = harness_with(settings, true).await;
    script_graph_path(h.llm());
    let scope = fresh_scope("alice");
    let outcome = h
        .memory
        .add(request(&scope, "I like pizza", 1))
        .await
        .unwrap();
    assert_eq!(outcome.status, EpisodeStatus::Done);
    assert_eq!(h.llm().calls("extract_facts"), 0);
    assert_eq!(h.llm().calls("update_memory"), 0);
    assert_eq!(h.llm().calls("extract_entities"), 1);
    let page = Page {
        limit: 10,
        offset: 0,
    };
    assert!(h.store.facts(&scope, page).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_update_memory_answer_fails_the_episode_with_no_fact_written() {
    let h = harness_with(MemorySettings::default(), true).await;
    script_graph_path(h.llm());
    let scope = fresh_scope("alice");
    h.llm()
        .on("extract_facts")
        .reply(Reply::json(json!({"facts": ["Alice likes pizza"]})));
    h.llm().on("update_memory").reply(Reply::raw("{not json"));
    let outcome = h
        .memory
        .add(request(&scope, "I like pizza", 1))
        .await
        .unwrap();
    assert!(
        matches!(outcome.status, EpisodeStatus::Failed { .. }),
        "{:?}",
        outcome.status
    );
    // The first try and two retries, and every call of the add is counted.
    assert_eq!(h.llm().calls("update_memory"), 3);
    assert_eq!(outcome.llm_usage.calls as usize, h.llm().requests().len());
    assert_eq!(outcome.llm_usage, h.llm().usage());
    let page = Page {
        limit: 10,
        offset: 0,
    };
    assert!(h.store.facts(&scope, page).await.unwrap().is_empty());
}
