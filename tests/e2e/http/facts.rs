//! A server with no LLM configured: `infer:false` adds, direct triplets through
//! `POST /v1/relations` (conflict rules without an LLM), the fact endpoints (list, get,
//! edit, delete, history), the erasure of a scope, and 409 `llm_not_configured` for what
//! needs the LLM.

use reqwest::Method;
use serde_json::{Value, json};

use super::temporal::{check_episode, search};
use super::{
    Api, add_body, assert_keys, check_add_result, check_fact, day, fresh_user, lines,
    optional_timestamp, timestamp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_llm_plain_adds_direct_triplets_facts_and_erasure_work() {
    let api = Api::start(&[]).await;
    assert!(
        api.stderr().contains("no API keys configured"),
        "an open service says so at start:\n{}",
        api.stderr()
    );
    infer_true_needs_the_llm(&api).await;
    let (user, facts) = infer_false_stores_messages_as_facts(&api).await;
    fact_endpoints_list_get_edit_delete_and_history(&api, &user, &facts).await;
    direct_triplets_follow_the_conflict_rules(&api).await;
    erasing_a_scope_removes_everything_of_it_and_nothing_else(&api).await;
}

async fn infer_true_needs_the_llm(api: &Api) {
    let user = fresh_user("alice");
    for body in [
        add_body(&user, "I live in Boston", json!({})),
        add_body(&user, "I live in Boston", json!({"infer": true})),
    ] {
        let reply = api.post("/v1/memories", &body).await;
        assert_eq!(reply.error(), (409, "llm_not_configured".into()), "{body}");
    }
    let reply = api
        .post(
            "/v1/search",
            &json!({"query": "Boston", "user_id": user, "query_entities": "llm"}),
        )
        .await;
    assert_eq!(reply.error(), (409, "llm_not_configured".into()));
    // Nothing was journaled.
    let reply = api.get("/v1/memories", &[("user_id", &user)]).await;
    assert_eq!(reply.ok()["facts"], json!([]));
}

/// Adds two messages with `infer:false`; the user and the two facts.
async fn infer_false_stores_messages_as_facts(api: &Api) -> (String, Vec<Value>) {
    let user = fresh_user("alice");
    let body = json!({
        "messages": [
            {"role": "user", "content": "My sister Carol moved to Porto"},
            {"role": "user", "content": "Carol works at Acme Labs"},
        ],
        "user_id": user,
        "agent_id": "planner",
        "infer": false,
        "occurred_at": "2024-05-01T10:00:00Z",
        "metadata": {"source": "chat"},
    });
    let reply = api.post("/v1/memories", &body).await;
    let result = check_add_result(reply.ok()).clone();
    assert_eq!(result["status"], "done");
    assert_eq!(result["duplicate"], false);
    assert_eq!(
        result["llm_usage"],
        json!({"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
    );
    for list in ["added", "updated", "invalidated", "retracted"] {
        assert_eq!(result["relations"][list], json!([]));
    }
    let facts = result["facts"]["added"].as_array().unwrap().clone();
    let texts: Vec<&str> = facts.iter().map(|f| f["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["My sister Carol moved to Porto", "Carol works at Acme Labs"]
    );
    for fact in &facts {
        assert_eq!(fact["episodes"], json!([result["episode_id"]]));
        assert_eq!(fact["metadata"]["source"], "chat", "{fact}");
    }

    let id = result["episode_id"].as_str().unwrap();
    // The episode belongs to the scope {alice, planner}: the user alone is another scope.
    let reply = api
        .get(
            &format!("/v1/episodes/{id}"),
            &[("user_id", &user), ("agent_id", "planner")],
        )
        .await;
    let episode = reply.ok();
    check_episode(episode, &user, "My sister Carol moved to Porto");
    assert_eq!(episode["agent_id"], "planner");
    assert_eq!(episode["status"], "done");
    assert_eq!(
        timestamp(&episode["occurred_at"], "occurred_at"),
        "2024-05-01T10:00:00Z"
            .parse::<mnemo_core::Timestamp>()
            .unwrap()
    );
    assert_eq!(episode["metadata"]["source"], "chat");
    assert_eq!(episode["content"]["infer"], false);

    // Retrieval works without the LLM: the fact naming Carol's employer is found.
    let result = search(
        api,
        json!({"query": "Where does Carol work?", "user_id": user, "agent_id": "planner"}),
    )
    .await;
    let found: Vec<&str> = result["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        found.first(),
        Some(&"Carol works at Acme Labs"),
        "{found:?}"
    );
    let linked: Vec<&str> = result["linked_entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(linked.contains(&"Carol"), "linked {linked:?}");
    (user, facts)
}

async fn fact_endpoints_list_get_edit_delete_and_history(api: &Api, user: &str, facts: &[Value]) {
    let scope = [("user_id", user), ("agent_id", "planner")];
    let list = |extra: &'static [(&'static str, &'static str)]| {
        let mut query = scope.to_vec();
        query.extend_from_slice(extra);
        async move {
            let reply = api.get("/v1/memories", &query).await;
            let body = reply.ok();
            assert_keys(body, &["facts"], "fact listing");
            body["facts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|fact| {
                    check_fact(fact, &[]);
                    fact["text"].as_str().unwrap().to_owned()
                })
                .collect::<Vec<_>>()
        }
    };
    let all = list(&[]).await;
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["Carol works at Acme Labs", "My sister Carol moved to Porto"]
    );
    assert_eq!(list(&[("limit", "1")]).await, all[..1]);
    assert_eq!(list(&[("limit", "1"), ("offset", "1")]).await, all[1..]);
    assert_eq!(list(&[("offset", "2")]).await, Vec::<String>::new());
    // The user alone is another scope.
    let reply = api.get("/v1/memories", &[("user_id", user)]).await;
    assert_eq!(reply.ok()["facts"], json!([]));

    let fact = &facts[1];
    let id = fact["id"].as_str().unwrap();
    let path = format!("/v1/memories/{id}");
    let reply = api.get(&path, &scope).await;
    assert_eq!(reply.ok(), fact);
    let reply = api.get(&path, &[("user_id", user)]).await;
    assert_eq!(
        reply.error(),
        (404, "not_found".into()),
        "another scope's fact"
    );

    let edit = json!({
        "user_id": user, "agent_id": "planner",
        "text": "Carol works at Globex", "metadata": {"edited": true},
    });
    let reply = api.put(&path, &edit).await;
    let edited = reply.ok().clone();
    check_fact(&edited, &[]);
    assert_eq!(edited["id"], id);
    assert_eq!(edited["text"], "Carol works at Globex");
    assert_eq!(edited["metadata"], json!({"edited": true}));
    assert_eq!(edited["created_at"], fact["created_at"]);
    assert!(
        timestamp(&edited["updated_at"], "updated_at")
            > timestamp(&fact["updated_at"], "updated_at")
    );
    assert_eq!(api.get(&path, &scope).await.ok(), &edited);
    // The edit is searchable at once (re-embedded).
    let result = search(
        api,
        json!({"query": "Globex", "user_id": user, "agent_id": "planner", "include": ["facts"]}),
    )
    .await;
    assert_eq!(result["facts"][0]["text"], "Carol works at Globex");

    let reply = api.delete(&path, &scope).await;
    assert!(
        matches!(reply.status, 200 | 204),
        "{}: {}",
        reply.status,
        reply.text
    );
    assert_eq!(
        api.get(&path, &scope).await.error(),
        (404, "not_found".into())
    );
    assert_eq!(
        api.delete(&path, &scope).await.error(),
        (404, "not_found".into())
    );
    assert_eq!(list(&[]).await, ["My sister Carol moved to Porto"]);

    let reply = api.get(&format!("{path}/history"), &scope).await;
    let body = reply.ok();
    let events = body
        .as_array()
        .or_else(|| body["history"].as_array())
        .unwrap_or_else(|| panic!("a list of events: {body}"));
    let got: Vec<(String, Value, Value)> = events
        .iter()
        .map(|event| {
            assert_keys(
                event,
                &["fact_id", "event", "old_text", "new_text", "at", "episode"],
                "fact event",
            );
            assert_eq!(event["fact_id"], id);
            timestamp(&event["at"], "at");
            (
                event["event"].as_str().unwrap().to_owned(),
                event["old_text"].clone(),
                event["new_text"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ADD".into(), Value::Null, json!("Carol works at Acme Labs")),
            (
                "UPDATE".into(),
                json!("Carol works at Acme Labs"),
                json!("Carol works at Globex")
            ),
            ("DELETE".into(), json!("Carol works at Globex"), Value::Null),
        ]
    );
    assert_eq!(events[0]["episode"], fact["episodes"][0]);
    assert_eq!(events[1]["episode"], Value::Null, "an edit has no episode");
    let reply = api
        .get(&format!("{path}/history"), &[("user_id", user)])
        .await;
    assert_eq!(
        reply.error(),
        (404, "not_found".into()),
        "another scope's history"
    );
}

async fn direct_triplets_follow_the_conflict_rules(api: &Api) {
    let user = fresh_user("alice");
    let triplet = |relation: &str, target: &str, kind: &str, valid_from: Option<&str>| {
        json!({
            "source": {"name": "Alice", "type": "Person"},
            "relation": relation,
            "target": {"name": target, "type": kind},
            "valid_from": valid_from,
        })
    };
    let first = api
        .post(
            "/v1/relations",
            &json!({"user_id": user, "relations": [
                triplet("lives in", "Boston", "city", Some("2020-01-01T00:00:00Z")),
                triplet("WORKS_AT", "Acme", "Organization", None),
            ]}),
        )
        .await;
    let first = check_add_result(first.ok()).clone();
    assert_eq!(first["status"], "done");
    assert_eq!(
        lines(&first["relations"]["added"]),
        ["Alice LIVES_IN Boston", "Alice WORKS_AT Acme"]
    );
    let boston = first["relations"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relation"] == "LIVES_IN")
        .unwrap()
        .clone();
    assert_eq!(boston["fact"], "Alice lives in Boston");
    assert_eq!(boston["target"]["type"], "City");
    assert_eq!(first["llm_usage"]["calls"], 0);

    let second = api
        .post(
            "/v1/relations",
            &json!({"user_id": user, "relations": [
                triplet("LIVES_IN", "Lisbon", "City", Some("2024-03-01T00:00:00Z")),
                // Multi-valued, and no LLM to ask: both employers stay.
                triplet("WORKS_AT", "Globex", "Organization", None),
            ]}),
        )
        .await;
    let second = check_add_result(second.ok()).clone();
    assert_eq!(
        lines(&second["relations"]["added"]),
        ["Alice LIVES_IN Lisbon", "Alice WORKS_AT Globex"]
    );
    assert_eq!(
        lines(&second["relations"]["invalidated"]),
        ["Alice LIVES_IN Boston"]
    );
    assert_eq!(
        optional_timestamp(
            &second["relations"]["invalidated"][0]["valid_to"],
            "valid_to"
        ),
        Some(day("2024-03-01"))
    );
    assert_eq!(
        api.timeline(&user, &[("entity", "Alice")]).await,
        [
            // Oldest start first; a triplet without valid_from starts at the request.
            "Alice LIVES_IN Boston [ended, ended by Lisbon]",
            "Alice LIVES_IN Lisbon [valid]",
            "Alice WORKS_AT Acme [valid]",
            "Alice WORKS_AT Globex [valid]",
        ]
    );
}

async fn erasing_a_scope_removes_everything_of_it_and_nothing_else(api: &Api) {
    let (gone, kept) = (fresh_user("erased"), fresh_user("kept"));
    for user in [&gone, &kept] {
        let reply = api
            .post(
                "/v1/memories",
                &add_body(user, "Dana met Erik in Oslo", json!({"infer": false})),
            )
            .await;
        assert_eq!(reply.ok()["status"], "done");
        let reply = api
            .post(
                "/v1/relations",
                &json!({"user_id": user, "relations": [{
                    "source": {"name": "Dana", "type": "Person"},
                    "relation": "KNOWS",
                    "target": {"name": "Erik", "type": "Person"},
                }]}),
            )
            .await;
        assert_eq!(reply.ok()["status"], "done");
    }
    let episode = {
        let reply = api.get("/v1/memories", &[("user_id", &gone)]).await;
        reply.ok()["facts"][0]["episodes"][0].clone()
    };
    let reply = api.delete("/v1/memories", &[("user_id", &gone)]).await;
    assert!(
        matches!(reply.status, 200 | 204),
        "{}: {}",
        reply.status,
        reply.text
    );
    let counts = |user: String| async move {
        let facts = api.get("/v1/memories", &[("user_id", &user)]).await;
        let entities = api.get("/v1/graph/entities", &[("user_id", &user)]).await;
        let relations = api
            .get(
                "/v1/graph/relations",
                &[("user_id", &user), ("include_invalid", "true")],
            )
            .await;
        (
            facts.ok()["facts"].as_array().unwrap().len(),
            entities.ok()["entities"].as_array().unwrap().len(),
            relations.ok()["relations"].as_array().unwrap().len(),
        )
    };
    assert_eq!(counts(gone.clone()).await, (0, 0, 0), "erased");
    let (facts, entities, relations) = counts(kept.clone()).await;
    assert_eq!((facts, relations), (1, 1), "the other scope is untouched");
    assert!(entities >= 2, "{entities}");
    let reply = api
        .get(
            &format!("/v1/episodes/{}", episode.as_str().unwrap()),
            &[("user_id", &gone)],
        )
        .await;
    assert_eq!(reply.error(), (404, "not_found".into()), "the journal too");
    let result = search(api, json!({"query": "Dana", "user_id": gone})).await;
    assert_eq!(
        (
            &result["relations"],
            &result["facts"],
            &result["linked_entities"]
        ),
        (&json!([]), &json!([]), &json!([]))
    );
    // Erasing requires a scope.
    let reply = api.delete("/v1/memories", &[]).await;
    assert_eq!(reply.error(), (422, "invalid_scope".into()));
}

/// The contract's 202 body is exactly `{"episode_id","status":"pending"}`; the episode
/// then settles in the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_false_answers_exactly_the_episode_id_and_pending() {
    let api = Api::start(&[]).await;
    let user = fresh_user("alice");
    let reply = api
        .call(
            Method::POST,
            "/v1/memories",
            &[("wait", "false")],
            Some(&add_body(&user, "I like tea", json!({"infer": false}))),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.body["episode_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let episode = api.episode_settled(&id, &user).await;
    assert_eq!(episode["status"], "done", "{episode}");
    let facts = api.get("/v1/memories", &[("user_id", &user)]).await;
    assert_eq!(facts.ok()["facts"][0]["text"], "I like tea");
    assert_keys(
        &reply.body,
        &["episode_id", "status", "duplicate"],
        "202 body",
    );
    assert_eq!(reply.body["duplicate"], false);
    assert_eq!(reply.body["status"], "pending");
}
