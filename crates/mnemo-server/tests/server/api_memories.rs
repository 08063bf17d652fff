//! `/v1/memories` and `/v1/episodes`: adding (waited for, in the background, idempotent,
//! inferred with the scripted LLM), the scope's facts by id, erasing a scope, and
//! reading and reverting episodes, in the wire shapes of the contract.

use std::collections::BTreeSet;
use std::time::Duration;

use mnemo_testkit::scripted_llm::Reply as LlmReply;
use serde_json::{Value, json};

use crate::{app, app_with_llm, error_of, fresh_user};

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn texts(facts: &Value) -> BTreeSet<String> {
    facts
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect()
}

fn is_utc_rfc3339(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

const FACT_KEYS: [&str; 6] = [
    "created_at",
    "episodes",
    "id",
    "metadata",
    "text",
    "updated_at",
];
const ADD_KEYS: [&str; 6] = [
    "duplicate",
    "episode_id",
    "facts",
    "llm_usage",
    "relations",
    "status",
];

#[tokio::test]
async fn facts_are_listed_read_edited_deleted_with_their_history() {
    let app = app().await;
    let user = fresh_user("alice");
    let scope = format!("user_id={user}");
    let added = app
        .post(
            "/v1/memories",
            json!({
                "messages": [
                    {"role": "user", "content": "Alice likes green tea"},
                    {"role": "user", "content": "Alice has a cat named Tom"},
                ],
                "user_id": user,
                "infer": false,
                "occurred_at": "2024-03-01T10:00:00+02:00",
                "metadata": {"source": "chat"},
            }),
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let body = &added.body;
    assert_eq!(keys(body), ADD_KEYS);
    assert_eq!(body["status"], "done");
    assert_eq!(body["duplicate"], false);
    assert_eq!(
        body["llm_usage"],
        json!({"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
    );
    assert_eq!(
        keys(&body["relations"]),
        ["added", "invalidated", "retracted", "skipped", "updated"]
    );
    assert_eq!(keys(&body["facts"]), ["added", "deleted", "updated"]);
    assert_eq!(
        texts(&body["facts"]["added"]),
        BTreeSet::from([
            "Alice likes green tea".to_owned(),
            "Alice has a cat named Tom".to_owned()
        ])
    );
    let episode = body["episode_id"].as_str().unwrap().to_owned();
    let fact = &body["facts"]["added"][0];
    assert_eq!(keys(fact), FACT_KEYS);
    assert_eq!(fact["episodes"], json!([episode]));
    assert!(is_utc_rfc3339(&fact["created_at"]), "{fact}");
    let id = fact["id"].as_str().unwrap().to_owned();
    let text = fact["text"].as_str().unwrap().to_owned();

    // Listing, with pages.
    let list = app.get(&format!("/v1/memories?{scope}")).await;
    assert_eq!(list.status, 200);
    assert_eq!(keys(&list.body), ["facts"]);
    assert_eq!(texts(&list.body["facts"]), texts(&body["facts"]["added"]));
    let first = app.get(&format!("/v1/memories?{scope}&limit=1")).await;
    let second = app
        .get(&format!("/v1/memories?{scope}&limit=1&offset=1"))
        .await;
    let third = app
        .get(&format!("/v1/memories?{scope}&limit=1&offset=2"))
        .await;
    let paged: BTreeSet<String> = texts(&first.body["facts"])
        .into_iter()
        .chain(texts(&second.body["facts"]))
        .collect();
    assert_eq!(paged, texts(&list.body["facts"]));
    assert_eq!(third.body["facts"], json!([]));

    // One fact.
    let got = app.get(&format!("/v1/memories/{id}?{scope}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, *fact);

    // Edits: the text, then the metadata.
    let edited = app
        .put(
            &format!("/v1/memories/{id}"),
            json!({"text": "Alice likes black tea", "user_id": user}),
        )
        .await;
    assert_eq!(edited.status, 200, "{edited:?}");
    assert_eq!(edited.body["text"], "Alice likes black tea");
    assert_eq!(edited.body["metadata"], fact["metadata"], "metadata kept");
    let edited = app
        .put(
            &format!("/v1/memories/{id}"),
            json!({"text": "Alice likes oolong", "metadata": {"checked": true}, "user_id": user}),
        )
        .await;
    assert_eq!(edited.body["metadata"], json!({"checked": true}));
    let bad = app
        .put(
            &format!("/v1/memories/{id}"),
            json!({"text": " ", "user_id": user}),
        )
        .await;
    assert_eq!(error_of(&bad), (422, "invalid_request"));

    // Delete; the history stays.
    let deleted = app.delete(&format!("/v1/memories/{id}?{scope}")).await;
    assert_eq!(deleted.body, json!({"id": id, "deleted": true}));
    let gone = app.get(&format!("/v1/memories/{id}?{scope}")).await;
    assert_eq!(error_of(&gone), (404, "not_found"));
    let history = app.get(&format!("/v1/memories/{id}/history?{scope}")).await;
    assert_eq!(history.status, 200, "{history:?}");
    assert_eq!(keys(&history.body), ["history"]);
    let events: Vec<(String, Value, Value, Value)> = history.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(
                keys(e),
                ["at", "episode", "event", "fact_id", "new_text", "old_text"]
            );
            assert_eq!(e["fact_id"], id.as_str());
            (
                e["event"].as_str().unwrap().to_owned(),
                e["old_text"].clone(),
                e["new_text"].clone(),
                e["episode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("ADD".into(), Value::Null, json!(text), json!(episode)),
            (
                "UPDATE".into(),
                json!(text),
                json!("Alice likes black tea"),
                Value::Null
            ),
            (
                "UPDATE".into(),
                json!("Alice likes black tea"),
                json!("Alice likes oolong"),
                Value::Null
            ),
            (
                "DELETE".into(),
                json!("Alice likes oolong"),
                Value::Null,
                Value::Null
            ),
        ]
    );
    let list = app.get(&format!("/v1/memories?{scope}")).await;
    assert_eq!(list.body["facts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_adds_once_waited_for_or_not() {
    let app = app().await;
    let user = fresh_user("alice");
    let add = json!({
        "messages": [{"role": "user", "content": "Bob plays chess"}],
        "user_id": user,
        "infer": false,
        "idempotency_key": "turn-1",
    });
    let first = app.post("/v1/memories", add.clone()).await;
    assert_eq!(
        (first.status.as_u16(), &first.body["duplicate"]),
        (200, &json!(false))
    );
    let again = app.post("/v1/memories", add.clone()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["episode_id"], first.body["episode_id"]);
    assert_eq!(again.body["status"], "done");
    assert_eq!(again.body["facts"]["added"], json!([]));
    let queued = app.post("/v1/memories?wait=false", add).await;
    assert_eq!(queued.status, 202);
    assert_eq!(
        queued.body,
        json!({"episode_id": first.body["episode_id"], "status": "done", "duplicate": true})
    );
    let facts = app.get(&format!("/v1/memories?user_id={user}")).await;
    assert_eq!(facts.body["facts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn wait_false_answers_202_and_the_episode_is_processed_in_the_background() {
    let app = app().await;
    let user = fresh_user("alice");
    let reply = app
        .post(
            "/v1/memories?wait=false",
            json!({
                "messages": [{"role": "user", "content": "Carol runs marathons"}],
                "user_id": user,
                "agent_id": "coach",
                "infer": false,
                "occurred_at": "2024-05-01T08:00:00Z",
            }),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(keys(&reply.body), ["duplicate", "episode_id", "status"]);
    assert_eq!(reply.body["status"], "pending");
    let episode = reply.body["episode_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.state.wait_for_background(Duration::from_secs(30)).await,
        0
    );

    let got = app
        .get(&format!(
            "/v1/episodes/{episode}?user_id={user}&agent_id=coach"
        ))
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(
        keys(&got.body),
        [
            "agent_id",
            "content",
            "id",
            "idempotency_key",
            "ingested_at",
            "llm_usage",
            "metadata",
            "occurred_at",
            "run_id",
            "status",
            "user_id"
        ]
    );
    assert_eq!(got.body["id"], episode.as_str());
    assert_eq!(got.body["status"], "done");
    assert_eq!(got.body["user_id"], user.as_str());
    assert_eq!(got.body["agent_id"], "coach");
    assert_eq!(got.body["run_id"], Value::Null);
    assert_eq!(got.body["occurred_at"], "2024-05-01T08:00:00Z");
    assert!(is_utc_rfc3339(&got.body["ingested_at"]));
    assert_eq!(
        got.body["content"],
        json!({
            "kind": "messages",
            "messages": [{"role": "user", "content": "Carol runs marathons"}],
            "infer": false,
        }),
        "content is the journaled JSON, parsed"
    );
    let facts = app
        .get(&format!("/v1/memories?user_id={user}&agent_id=coach"))
        .await;
    assert_eq!(
        texts(&facts.body["facts"]),
        BTreeSet::from(["Carol runs marathons".to_owned()])
    );
    // The scope is the whole scope: the user alone is another scope.
    let other = app
        .get(&format!("/v1/episodes/{episode}?user_id={user}"))
        .await;
    assert_eq!(error_of(&other), (404, "not_found"));
}

#[tokio::test]
async fn deleting_an_episode_reverts_it() {
    let app = app().await;
    let user = fresh_user("alice");
    let scope = format!("user_id={user}");
    let keep = app
        .post(
            "/v1/memories",
            json!({"messages": [{"role": "user", "content": "Dan sings"}], "user_id": user, "infer": false}),
        )
        .await;
    let revert = app
        .post(
            "/v1/memories",
            json!({"messages": [{"role": "user", "content": "Dan dances"}], "user_id": user, "infer": false}),
        )
        .await;
    let episode = revert.body["episode_id"].as_str().unwrap();
    let other_scope = app
        .delete(&format!("/v1/episodes/{episode}?user_id=someone-else"))
        .await;
    assert_eq!(
        error_of(&other_scope),
        (404, "not_found"),
        "another scope cannot delete it"
    );

    let deleted = app.delete(&format!("/v1/episodes/{episode}?{scope}")).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(deleted.body, json!({"id": episode, "deleted": true}));
    let gone = app.get(&format!("/v1/episodes/{episode}?{scope}")).await;
    assert_eq!(error_of(&gone), (404, "not_found"));
    let facts = app.get(&format!("/v1/memories?{scope}")).await;
    assert_eq!(
        texts(&facts.body["facts"]),
        BTreeSet::from(["Dan sings".to_owned()])
    );
    let kept = keep.body["episode_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/episodes/{kept}?{scope}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn erasing_a_scope_leaves_other_scopes_alone() {
    let app = app().await;
    let (alice, bob) = (fresh_user("alice"), fresh_user("bob"));
    for user in [&alice, &bob] {
        let reply = app
            .post(
                "/v1/memories",
                json!({"messages": [{"role": "user", "content": "I met Eve in Paris"}], "user_id": user, "infer": false}),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    let erased = app.delete(&format!("/v1/memories?user_id={alice}")).await;
    assert_eq!(erased.status, 200, "{erased:?}");
    assert_eq!(erased.body, json!({"deleted": true}));
    for (user, facts) in [(&alice, 0), (&bob, 1)] {
        let list = app.get(&format!("/v1/memories?user_id={user}")).await;
        assert_eq!(
            list.body["facts"].as_array().unwrap().len(),
            facts,
            "{user}"
        );
        let entities = app.get(&format!("/v1/graph/entities?user_id={user}")).await;
        assert_eq!(
            entities.body["entities"].as_array().unwrap().is_empty(),
            facts == 0,
            "{user}: {entities:?}"
        );
    }
}

/// Scripts the LLM's answers to one inferred add.
fn script(app: &crate::App, say: &str, entities: Value, relations: Value, facts: Value) {
    let llm = app.llm();
    llm.on("extract_entities")
        .containing(say)
        .once()
        .reply(LlmReply::json(json!({ "entities": entities })));
    llm.on("establish_relations")
        .containing(say)
        .once()
        .reply(LlmReply::json(json!({ "relations": relations })));
    llm.on("extract_facts")
        .containing(say)
        .once()
        .reply(LlmReply::json(json!({ "facts": facts })));
    let adds: Vec<Value> = facts
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"id": i.to_string(), "text": text, "event": "ADD"}))
        .collect();
    llm.on("update_memory")
        .once()
        .reply(LlmReply::json(json!({ "memory": adds })));
}

#[tokio::test]
async fn an_inferred_add_reports_what_it_changed_and_what_it_spent() {
    let app = app_with_llm().await;
    let user = fresh_user("alice");
    let say = "Alice moved to Lisbon in March";
    script(
        &app,
        say,
        json!([{"name": "Alice", "type": "Person"}, {"name": "Lisbon", "type": "City"}]),
        json!([{
            "source": "Alice", "relation": "LIVES_IN", "target": "Lisbon",
            "fact": "Alice lives in Lisbon", "valid_from": "2024-03-01T00:00:00Z", "valid_to": null
        }]),
        json!(["Alice lives in Lisbon"]),
    );
    let reply = app
        .post(
            "/v1/memories",
            json!({
                "messages": [{"role": "user", "content": say}],
                "user_id": user,
                "occurred_at": "2024-04-02T09:30:00Z",
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = &reply.body;
    assert_eq!(body["status"], "done", "{reply:?}");
    let usage = app.llm().usage();
    assert_eq!(
        usage.calls, 4,
        "extract_entities, establish_relations, extract_facts, update_memory"
    );
    assert_eq!(
        body["llm_usage"],
        json!({
            "calls": usage.calls,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        })
    );
    let added = &body["relations"]["added"];
    assert_eq!(added.as_array().unwrap().len(), 1, "{body}");
    let relation = &added[0];
    assert_eq!(
        keys(relation),
        [
            "episodes",
            "fact",
            "id",
            "invalidated_at",
            "invalidated_by",
            "mentions",
            "recorded_at",
            "relation",
            "retracted_at",
            "source",
            "target",
            "valid_from",
            "valid_to"
        ]
    );
    assert_eq!(keys(&relation["source"]), ["id", "name", "type"]);
    assert_eq!(relation["source"]["name"], "Alice");
    assert_eq!(relation["source"]["type"], "Person");
    assert_eq!(relation["relation"], "LIVES_IN");
    assert_eq!(relation["target"]["name"], "Lisbon");
    assert_eq!(relation["target"]["type"], "City");
    assert_eq!(relation["fact"], "Alice lives in Lisbon");
    assert_eq!(relation["valid_from"], "2024-03-01T00:00:00Z");
    for open in [
        "valid_to",
        "invalidated_at",
        "invalidated_by",
        "retracted_at",
    ] {
        assert_eq!(relation[open], Value::Null, "{open}");
    }
    assert!(is_utc_rfc3339(&relation["recorded_at"]));
    assert_eq!(relation["episodes"], json!([body["episode_id"]]));
    assert_eq!(relation["mentions"], 1);
    assert_eq!(
        texts(&body["facts"]["added"]),
        BTreeSet::from(["Alice lives in Lisbon".to_owned()])
    );
}
