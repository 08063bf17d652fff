//! Work after the answer: `wait=false` episodes run on tracked tasks the state can wait
//! for, and every fifth inferred episode of a scope refreshes its summary in the
//! background.

use std::time::Duration;

use mnemo_core::write::SUMMARY_EVERY;
use mnemo_testkit::scripted_llm::{Reply as LlmReply, ScriptedRequest};
use serde_json::json;

use crate::{App, app_with_llm, fresh_user};

/// Answers every tool of an add that finds nothing new, and the summary.
fn quiet_llm(request: &ScriptedRequest) -> LlmReply {
    match request.tool.as_str() {
        "extract_entities" => {
            LlmReply::json(json!({"entities": [{"name": "Alice", "type": "Person"}]}))
        }
        "establish_relations" => LlmReply::json(json!({"relations": []})),
        "extract_facts" => LlmReply::json(json!({"facts": []})),
        "summarize_conversation" => LlmReply::json(json!({"summary": "Alice chats."})),
        _ => LlmReply::status(500),
    }
}

async fn say(app: &App, user: &str, text: &str, infer: bool, wait: bool) {
    let uri = if wait {
        "/v1/memories"
    } else {
        "/v1/memories?wait=false"
    };
    let reply = app
        .post(
            uri,
            json!({"messages": [{"role": "user", "content": text}], "user_id": user, "infer": infer}),
        )
        .await;
    assert!(reply.status.is_success(), "{reply:?}");
}

#[tokio::test]
async fn every_fifth_inferred_episode_of_a_scope_refreshes_its_summary() {
    assert_eq!(SUMMARY_EVERY, 5);
    let app = app_with_llm().await;
    app.llm().respond_with(quiet_llm);
    let (alice, bob) = (fresh_user("alice"), fresh_user("bob"));
    let summaries = |app: &App| app.llm().calls("summarize_conversation");
    let settle = |app: &App| {
        let state = app.state.clone();
        async move { assert_eq!(state.wait_for_background(Duration::from_secs(30)).await, 0) }
    };

    // (who, inferred, waited for) per add, and the summaries expected after it.
    let steps: Vec<(&str, bool, bool, usize)> = vec![
        (&alice, true, true, 0),
        (&alice, true, true, 0),
        (&alice, true, false, 0),
        (&alice, false, true, 0),
        (&alice, false, true, 0),
        (&bob, true, true, 0),
        (&bob, true, true, 0),
        (&bob, true, true, 0),
        (&alice, true, true, 0),
        // Alice's fifth inferred episode.
        (&alice, true, true, 1),
        (&bob, true, true, 1),
        // Bob's fifth, not waited for.
        (&bob, true, false, 2),
        (&alice, true, true, 2),
        (&alice, true, true, 2),
        (&alice, true, true, 2),
        (&alice, true, false, 2),
        // Alice's tenth.
        (&alice, true, true, 3),
    ];
    for (i, (user, infer, wait, expected)) in steps.into_iter().enumerate() {
        say(&app, user, &format!("message {i}"), infer, wait).await;
        settle(&app).await;
        assert_eq!(summaries(&app), expected, "after step {i}");
    }
    let requests = app.llm().requests_to("summarize_conversation");
    assert!(
        requests[0].input.contains("message 9"),
        "{}",
        requests[0].input
    );
    assert!(
        !requests[0].input.contains("message 5"),
        "another scope's messages"
    );
}

#[tokio::test]
async fn waiting_for_background_work_gives_up_after_the_timeout() {
    let app = app_with_llm().await;
    app.llm()
        .respond_with(|request| match request.tool.as_str() {
            "extract_entities" => {
                LlmReply::json(json!({"entities": []})).after(Duration::from_millis(1500))
            }
            _ => quiet_llm(request),
        });
    let user = fresh_user("alice");
    let reply = app
        .post(
            "/v1/memories?wait=false",
            json!({"messages": [{"role": "user", "content": "Hello there"}], "user_id": user}),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let episode = reply.body["episode_id"].as_str().unwrap().to_owned();
    assert_eq!(app.state.background_tasks(), 1);
    assert_eq!(
        app.state
            .wait_for_background(Duration::from_millis(100))
            .await,
        1
    );
    let status = |app: &App| {
        let uri = format!("/v1/episodes/{episode}?user_id={user}");
        let state = app.state.clone();
        async move {
            let reply = crate::send(&state, crate::request("GET", &uri)).await;
            reply.body["status"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(status(&app).await, "pending");
    assert_eq!(
        app.state.wait_for_background(Duration::from_secs(30)).await,
        0
    );
    assert_eq!(status(&app).await, "done");
    assert_eq!(app.state.background_tasks(), 0);
}
