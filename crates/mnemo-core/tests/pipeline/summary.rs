//! The scope's rolling summary: `Memory::refresh_summary` calls `summarize_conversation`
//! once for what arrived since the last summary, and not at all when nothing did.

use mnemo_core::ports::GraphRead;
use mnemo_core::write::{AddOutcome, AddRequest};
use mnemo_core::{EpisodeId, EpisodeStatus, MemoryError, Scope};
use mnemo_testkit::scripted_llm::Reply;
use serde_json::json;

use crate::support::{Harness, fresh_scope, harness, harness_without_llm, messages};

async fn say(h: &Harness, scope: &Scope, texts: &[&str]) -> AddOutcome {
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
    assert_eq!(outcome.status, EpisodeStatus::Done);
    outcome
}

/// One round: episodes added (one per entry), then a refresh.
struct Round {
    say: &'static [&'static [&'static str]],
    /// `None`: the refresh must not call the LLM. `Some((shown, not shown))`: texts the
    /// one `summarize_conversation` call must and must not contain.
    summarized: Option<(&'static [&'static str], &'static [&'static str])>,
}

async fn check(rounds: &[Round]) {
    let h = harness().await;
    let scope = fresh_scope("alice");
    let mut last: Option<EpisodeId> = None;
    for (i, round) in rounds.iter().enumerate() {
        for texts in round.say {
            last = Some(say(&h, &scope, texts).await.episode_id);
        }
        let calls = h.llm().calls("summarize_conversation");
        let text = format!("Summary after round {i}");
        if round.summarized.is_some() {
            h.llm()
                .on("summarize_conversation")
                .once()
                .reply(Reply::json(json!({ "summary": text })));
        }
        let refreshed = h.memory.refresh_summary(&scope).await.unwrap();
        let stored = h.store.scope_summary(&scope).await.unwrap();
        match round.summarized {
            None => {
                assert_eq!(refreshed, None, "round {i}");
                assert_eq!(h.llm().calls("summarize_conversation"), calls, "round {i}");
            }
            Some((shown, not_shown)) => {
                let requests = h.llm().requests_to("summarize_conversation");
                assert_eq!(requests.len(), calls + 1, "round {i}: one call");
                let input = &requests.last().unwrap().input;
                for text in shown {
                    assert!(input.contains(text), "round {i}: {text:?} in {input}");
                }
                for text in not_shown {
                    assert!(!input.contains(text), "round {i}: {text:?} not in {input}");
                }
                let refreshed = refreshed.expect("a new summary");
                assert_eq!(refreshed.text, text);
                assert_eq!(Some(refreshed.through_episode), last);
                assert_eq!(stored.as_ref(), Some(&refreshed), "round {i}: stored");
            }
        }
    }
}

#[tokio::test]
async fn a_refresh_summarizes_what_arrived_since_the_last_one_and_nothing_else() {
    check(&[
        // Nothing said yet.
        Round {
            say: &[],
            summarized: None,
        },
        Round {
            say: &[
                &["I moved to Lisbon"],
                &["I adopted a cat", "Her name is Mia"],
            ],
            summarized: Some((
                &[
                    "(none yet)",
                    "I moved to Lisbon",
                    "I adopted a cat",
                    "Her name is Mia",
                ],
                &[],
            )),
        },
        // Nothing new: no call.
        Round {
            say: &[],
            summarized: None,
        },
        Round {
            say: &[&["I started a new job"]],
            summarized: Some((
                &["Summary after round 1", "I started a new job"],
                &["I moved to Lisbon", "Her name is Mia"],
            )),
        },
        Round {
            say: &[],
            summarized: None,
        },
    ])
    .await;
}

#[tokio::test]
async fn a_refresh_sends_at_most_the_newest_hundred_messages() {
    let texts: Vec<String> = (0..120).map(|i| format!("note number {i:03}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let h = harness().await;
    let scope = fresh_scope("alice");
    say(&h, &scope, &texts).await;
    h.llm()
        .on("summarize_conversation")
        .reply(Reply::json(json!({"summary": "Many notes"})));
    h.memory.refresh_summary(&scope).await.unwrap().unwrap();
    let input = &h.llm().requests_to("summarize_conversation")[0].input;
    let sent: Vec<usize> = (0..120)
        .filter(|i| input.contains(&format!("note number {i:03}")))
        .collect();
    assert_eq!(sent, (20..120).collect::<Vec<_>>());
    // Oldest first.
    assert!(input.find("note number 020") < input.find("note number 119"));
}

/// Deleting the summary's last episode drops the summary; the rebuild reads what remains
/// once, and the refresh after it reads only what is new.
#[tokio::test]
async fn a_deleted_last_episode_is_left_out_of_the_rebuilt_summary() {
    let h = harness().await;
    let scope = fresh_scope("alice");
    say(&h, &scope, &["I moved to Lisbon"]).await;
    let last = say(&h, &scope, &["I adopted a cat"]).await;
    h.llm()
        .on("summarize_conversation")
        .reply(Reply::json(json!({"summary": "Moved, has a cat"})));
    h.memory.refresh_summary(&scope).await.unwrap().unwrap();
    h.memory
        .delete_episode(&scope, last.episode_id)
        .await
        .unwrap();
    h.memory.refresh_summary(&scope).await.unwrap().unwrap();
    let requests = h.llm().requests_to("summarize_conversation");
    assert_eq!(requests.len(), 2);
    assert!(requests[1].input.contains("Lisbon") && !requests[1].input.contains("cat"));
    let newer = say(&h, &scope, &["I started a new job"]).await;
    let summary = h.memory.refresh_summary(&scope).await.unwrap().unwrap();
    assert_eq!(summary.through_episode, newer.episode_id);
    let input = &h.llm().requests_to("summarize_conversation")[2].input;
    assert!(input.contains("I started a new job") && !input.contains("Lisbon"));
}

#[tokio::test]
async fn a_refresh_without_an_llm_is_refused() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    say(&h, &scope, &["I moved to Lisbon"]).await;
    let err = h.memory.refresh_summary(&scope).await.unwrap_err();
    assert!(matches!(err, MemoryError::LlmNotConfigured), "{err:?}");
}

/// The right to be forgotten reaches the summary: deleting an episode it read drops it at
/// once, and the rebuild reads only what remains.
#[tokio::test]
async fn deleting_an_episode_drops_the_summary_that_read_it_and_the_rebuild_omits_it() {
    let h = harness().await;
    let scope = fresh_scope("forget");
    say(&h, &scope, &["I am vegetarian"]).await;
    let secret = say(&h, &scope, &["My passport number is X1234567"]).await;
    h.llm()
        .on("summarize_conversation")
        .once()
        .reply(Reply::json(
            json!({ "summary": "Vegetarian; passport X1234567" }),
        ));
    h.memory
        .refresh_summary(&scope)
        .await
        .unwrap()
        .expect("a summary");

    h.memory
        .delete_episode(&scope, secret.episode_id)
        .await
        .unwrap();
    assert_eq!(
        h.store.scope_summary(&scope).await.unwrap(),
        None,
        "no summary serves the deleted episode"
    );

    h.llm()
        .on("summarize_conversation")
        .once()
        .reply(Reply::json(json!({ "summary": "Vegetarian" })));
    let rebuilt = h
        .memory
        .refresh_summary(&scope)
        .await
        .unwrap()
        .expect("rebuilt");
    assert_eq!(rebuilt.text, "Vegetarian");
    let requests = h.llm().requests_to("summarize_conversation");
    let input = &requests.last().unwrap().input;
    assert!(input.contains("I am vegetarian"), "{input}");
    assert!(
        !input.contains("X1234567"),
        "the deleted episode is not re-read: {input}"
    );
}

/// The refresh policy: due once `SUMMARY_EVERY` inferred episodes are done that the summary
/// has not read; `infer: false` episodes do not count; after a refresh the count starts
/// again.
#[tokio::test]
async fn a_refresh_is_due_after_every_fifth_inferred_episode() {
    use mnemo_core::write::SUMMARY_EVERY;
    use mnemo_testkit::scripted_llm::ScriptedRequest;
    let h = harness().await;
    h.llm()
        .respond_with(|request: &ScriptedRequest| match request.tool.as_str() {
            "extract_entities" => Reply::json(json!({"entities": []})),
            "extract_facts" => Reply::json(json!({"facts": []})),
            "summarize_conversation" => Reply::json(json!({"summary": "the gist"})),
            _ => Reply::status(400),
        });
    let scope = fresh_scope("policy");
    let infer = |n: usize| AddRequest {
        scope: scope.clone(),
        messages: messages(&[&format!("inferred message {n}")]),
        occurred_at: None,
        metadata: json!({}),
        infer: true,
        idempotency_key: None,
    };
    for round in 0..2 {
        for n in 0..SUMMARY_EVERY {
            // Plain episodes in between never make a refresh due.
            say(&h, &scope, &["a plain message"]).await;
            assert_eq!(
                h.memory.refresh_summary_if_due(&scope).await.unwrap(),
                None,
                "round {round}: after {n} inferred episodes and a plain one"
            );
            let outcome = h.memory.add(infer(n)).await.unwrap();
            assert_eq!(outcome.status, EpisodeStatus::Done);
        }
        let calls = h.llm().calls("summarize_conversation");
        let refreshed = h.memory.refresh_summary_if_due(&scope).await.unwrap();
        assert!(
            refreshed.is_some(),
            "round {round}: due after {SUMMARY_EVERY}"
        );
        assert_eq!(h.llm().calls("summarize_conversation"), calls + 1);
        assert_eq!(
            h.memory.refresh_summary_if_due(&scope).await.unwrap(),
            None,
            "round {round}: nothing unread right after a refresh"
        );
    }
}
