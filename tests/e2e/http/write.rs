//! The write path over HTTP (issue [2/6]'s scenarios through `POST /v1/memories`):
//! restatement, retraction, the idempotency key, LLM failures as `failed` episodes (not
//! HTTP errors), `?wait=false` with polling, the facts path, and a 503 that names no
//! internals. The move and its revert are in `temporal`, next to the reads they feed.

use std::time::Duration;

use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    Api, add_body, answer_the_rest, assert_keys, check_add_result, day, fresh_user, lines,
    llm_vars, timestamp,
};

/// One add: what the user says, when, and what the scripted LLM answers to it.
pub struct Step {
    pub say: &'static str,
    pub at: &'static str,
    pub entities: Value,
    pub relations: Value,
    /// `resolve_conflicts` answer; `None` = the step must not call it.
    pub conflicts: Option<Value>,
}

pub fn step(say: &'static str, at: &'static str, entities: Value, relations: Value) -> Step {
    Step {
        say,
        at,
        entities,
        relations,
        conflicts: None,
    }
}

/// `step`, with the LLM judging its one new triplet against the one candidate.
pub fn judged(verdict: &str, step: Step) -> Step {
    Step {
        conflicts: Some(json!([{"existing": 0, "new": 0, "verdict": verdict}])),
        ..step
    }
}

pub fn person() -> Value {
    json!({"name": "I", "type": "Person"})
}

pub fn city(name: &str) -> Value {
    json!({"name": name, "type": "City"})
}

pub fn lives_in(target: &str, fact: &str, valid_from: Option<&str>) -> Value {
    json!({
        "source": "I", "relation": "LIVES_IN", "target": target, "fact": fact,
        "valid_from": valid_from, "valid_to": null
    })
}

/// Boston in January 2023, then Lisbon from March 2024, told in April 2024.
pub fn move_steps() -> [Step; 2] {
    [
        step(
            "I live in Boston",
            "2023-01-10T00:00:00Z",
            json!([person(), city("Boston")]),
            json!([lives_in("Boston", "Alice lives in Boston", None)]),
        ),
        step(
            "I moved to Lisbon in March 2024",
            "2024-04-02T00:00:00Z",
            json!([person(), city("Lisbon")]),
            json!([lives_in(
                "Lisbon",
                "Alice lives in Lisbon",
                Some("2024-03-01T00:00:00Z")
            )]),
        ),
    ]
}

/// Scripts the LLM's answers to `step`'s message (each used once).
pub fn script(llm: &ScriptedLlm, step: &Step) {
    llm.on("extract_entities")
        .containing(step.say)
        .once()
        .reply(Reply::json(json!({ "entities": step.entities })));
    llm.on("establish_relations")
        .containing(step.say)
        .once()
        .reply(Reply::json(json!({ "relations": step.relations })));
    if let Some(decisions) = &step.conflicts {
        llm.on("resolve_conflicts")
            .once()
            .reply(Reply::json(json!({ "decisions": decisions })));
    }
}

/// Scripts and posts `step` for `user` (`wait=true`); asserts the add is `done`, new, and
/// called `resolve_conflicts` exactly when the step scripted it. Returns the add result.
pub async fn play(api: &Api, llm: &ScriptedLlm, user: &str, step: &Step) -> Value {
    script(llm, step);
    let conflicts_before = llm.calls("resolve_conflicts");
    let reply = api
        .post(
            "/v1/memories",
            &add_body(user, step.say, json!({"occurred_at": step.at})),
        )
        .await;
    let result = check_add_result(reply.ok()).clone();
    assert_eq!(result["status"], "done", "{}: {result}", step.say);
    assert_eq!(result["duplicate"], false, "{}: {result}", step.say);
    assert_eq!(
        llm.calls("resolve_conflicts") - conflicts_before,
        usize::from(step.conflicts.is_some()),
        "resolve_conflicts calls for {:?}",
        step.say
    );
    result
}

/// Plays the steps for a fresh user; their add results.
async fn play_all(api: &Api, llm: &ScriptedLlm, user: &str, steps: &[Step]) -> Vec<Value> {
    let mut results = Vec::new();
    for step in steps {
        results.push(play(api, llm, user, step).await);
    }
    results
}

/// `lines` with the user id written as `USER`.
fn lines_of(user: &str, relations: &Value) -> Vec<String> {
    lines(relations)
        .into_iter()
        .map(|line| line.replace(user, "USER"))
        .collect()
}

async fn timeline_of(api: &Api, user: &str) -> Vec<String> {
    api.timeline(user, &[("entity", user)])
        .await
        .into_iter()
        .map(|line| line.replace(user, "USER"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restatements_retractions_idempotency_failures_and_async_adds() {
    let llm = ScriptedLlm::start().await;
    answer_the_rest(&llm);
    let api = Api::start(&llm_vars(&llm)).await;
    restatements_add_provenance_and_never_rewrite_history(&api, &llm).await;
    a_denial_retracts_and_adds_nothing(&api, &llm).await;
    the_same_idempotency_key_adds_nothing_twice(&api, &llm).await;
    an_llm_failure_is_a_failed_episode_not_an_http_error(&api, &llm).await;
    wait_false_answers_202_and_the_episode_finishes_in_the_background(&api, &llm).await;
    the_facts_path_adds_updates_and_deletes_with_history(&api, &llm).await;
    an_llm_down_during_search_is_a_503_naming_no_internals(&api, &llm).await;
    a_slow_llm_call_does_not_hold_the_scope_for_its_other_writers(&api, &llm).await;
}

async fn restatements_add_provenance_and_never_rewrite_history(api: &Api, llm: &ScriptedLlm) {
    let user = fresh_user("alice");
    let boston = |fact| json!([lives_in("Boston", fact, None)]);
    let results = play_all(
        api,
        llm,
        &user,
        &[
            step(
                "I live in Boston now",
                "2023-01-10T00:00:00Z",
                json!([person(), city("Boston")]),
                boston("Alice lives in Boston"),
            ),
            // The same fact again: a duplicate by rule, no LLM.
            step(
                "Still in Boston!",
                "2023-06-01T00:00:00Z",
                json!([person(), city("Boston")]),
                boston("Alice lives in Boston"),
            ),
            // Other words: the LLM says duplicate.
            judged(
                "duplicate",
                step(
                    "Boston is home",
                    "2023-07-01T00:00:00Z",
                    json!([person(), city("Boston")]),
                    boston("Boston is Alice's home"),
                ),
            ),
        ],
    )
    .await;
    assert_eq!(
        lines_of(&user, &results[0]["relations"]["added"]),
        ["USER LIVES_IN Boston"]
    );
    for (n, result) in results.iter().enumerate().skip(1) {
        assert_eq!(result["relations"]["added"], json!([]), "restatement {n}");
        let updated = &result["relations"]["updated"];
        assert_eq!(lines_of(&user, updated), ["USER LIVES_IN Boston"]);
        assert_eq!(updated[0]["mentions"], n + 1, "restatement {n}");
        assert_eq!(updated[0]["id"], results[0]["relations"]["added"][0]["id"]);
    }
    assert_eq!(
        timeline_of(api, &user).await,
        ["USER LIVES_IN Boston [valid]"]
    );
    let reply = api
        .get(
            "/v1/graph/relations",
            &[("user_id", &user), ("entity", &user)],
        )
        .await;
    let relation = &reply.ok()["relations"][0];
    assert_eq!(relation["mentions"], 3);
    assert_eq!(
        timestamp(&relation["valid_from"], "valid_from"),
        day("2023-01-10"),
        "the first statement's date stays"
    );
    let mut episodes: Vec<&Value> = relation["episodes"].as_array().unwrap().iter().collect();
    let mut expected: Vec<&Value> = results.iter().map(|r| &r["episode_id"]).collect();
    episodes.sort_by_key(|v| v.to_string());
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(episodes, expected, "provenance: every episode that said it");
}

async fn a_denial_retracts_and_adds_nothing(api: &Api, llm: &ScriptedLlm) {
    let user = fresh_user("alice");
    let results = play_all(
        api,
        llm,
        &user,
        &[
            step(
                "I lived in Paris",
                "2023-01-01T00:00:00Z",
                json!([person(), city("Paris")]),
                json!([lives_in("Paris", "Alice lives in Paris", None)]),
            ),
            judged(
                "retracted",
                step(
                    "I never lived in Paris, that was my sister",
                    "2023-02-01T00:00:00Z",
                    json!([person(), city("Paris")]),
                    json!([lives_in("Paris", "Alice never lived in Paris", None)]),
                ),
            ),
        ],
    )
    .await;
    let denial = &results[1]["relations"];
    assert_eq!(denial["added"], json!([]));
    assert_eq!(
        lines_of(&user, &denial["retracted"]),
        ["USER LIVES_IN Paris"]
    );
    let retracted_at = timestamp(&denial["retracted"][0]["retracted_at"], "retracted_at");
    assert!(
        retracted_at >= timestamp(&denial["retracted"][0]["recorded_at"], "recorded_at"),
        "retracted after it was recorded"
    );
    assert_eq!(
        timeline_of(api, &user).await,
        ["USER LIVES_IN Paris [retracted]"]
    );
    let search = api
        .post(
            "/v1/search",
            &json!({"query": "Where did I live? Paris?", "user_id": user}),
        )
        .await;
    assert_eq!(
        search.ok()["relations"],
        json!([]),
        "a retraction is never found"
    );
}

async fn the_same_idempotency_key_adds_nothing_twice(api: &Api, llm: &ScriptedLlm) {
    let user = fresh_user("alice");
    let say = "I live in Denver these days";
    llm.on("extract_entities")
        .containing(say)
        .reply(Reply::json(json!({"entities": [person(), city("Denver")]})));
    llm.on("establish_relations")
        .containing(say)
        .reply(Reply::json(json!({"relations": [
            lives_in("Denver", "Alice lives in Denver", None)
        ]})));
    let body = add_body(&user, say, json!({"idempotency_key": "turn-1"}));
    let first = api.post("/v1/memories", &body).await;
    let first = check_add_result(first.ok()).clone();
    assert_eq!(first["status"], "done");
    assert_eq!(first["duplicate"], false);
    assert_eq!(
        lines_of(&user, &first["relations"]["added"]),
        ["USER LIVES_IN Denver"]
    );
    let calls = llm.requests().len();

    let second = api.post("/v1/memories", &body).await;
    let second = check_add_result(second.ok()).clone();
    assert_eq!(second["duplicate"], true, "{second}");
    assert_eq!(second["episode_id"], first["episode_id"]);
    assert_eq!(second["status"], "done");
    assert_eq!(second["relations"]["added"], json!([]));
    assert_eq!(
        llm.requests().len(),
        calls,
        "the second add made no LLM call"
    );

    let episode = api
        .get(
            &format!("/v1/episodes/{}", first["episode_id"].as_str().unwrap()),
            &[("user_id", &user)],
        )
        .await;
    assert_eq!(episode.ok()["idempotency_key"], "turn-1");
    assert_eq!(
        timeline_of(api, &user).await,
        ["USER LIVES_IN Denver [valid]"]
    );
}

async fn an_llm_failure_is_a_failed_episode_not_an_http_error(api: &Api, llm: &ScriptedLlm) {
    // (what the user says, what establish_relations answers)
    let cases = [
        ("I live in Atlantis", Reply::raw("{not json")),
        (
            "I live in Narnia",
            Reply::json(
                json!({"relations": [{"source": "I", "relation": "lives.in", "target": "Narnia", "fact": "x"}]}),
            ),
        ),
        ("I live in Lilliput", Reply::status(500)),
        ("I live in Utopia", Reply::status(401)),
    ];
    for (say, answer) in cases {
        let user = fresh_user("alice");
        let place = say.rsplit(' ').next().unwrap();
        llm.on("extract_entities")
            .containing(say)
            .reply(Reply::json(json!({"entities": [person(), city(place)]})));
        llm.on("establish_relations").containing(say).reply(answer);
        let reply = api
            .post("/v1/memories", &add_body(&user, say, json!({})))
            .await;
        let result = check_add_result(reply.ok()).clone();
        assert_eq!(result["status"], "failed", "{say}: {result}");
        let reason = result["reason"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "{say}: a failed episode says why");
        for list in ["added", "updated", "invalidated", "retracted"] {
            assert_eq!(
                result["relations"][list],
                json!([]),
                "{say}: nothing applied"
            );
        }
        let id = result["episode_id"].as_str().unwrap();
        let episode = api
            .get(&format!("/v1/episodes/{id}"), &[("user_id", &user)])
            .await;
        let episode = episode.ok();
        assert_eq!(episode["status"], "failed", "{episode}");
        assert_eq!(episode["reason"], result["reason"]);
        let entities = api.get("/v1/graph/entities", &[("user_id", &user)]).await;
        assert_eq!(
            entities.ok()["entities"],
            json!([]),
            "{say}: no entity applied"
        );
    }
}

async fn wait_false_answers_202_and_the_episode_finishes_in_the_background(
    api: &Api,
    llm: &ScriptedLlm,
) {
    let user = fresh_user("alice");
    let say = "I moved to Porto last week";
    let slow = Duration::from_millis(300);
    llm.on("extract_entities")
        .containing(say)
        .once()
        .reply(Reply::json(json!({"entities": [person(), city("Porto")]})).after(slow));
    llm.on("establish_relations")
        .containing(say)
        .once()
        .reply(Reply::json(
            json!({"relations": [lives_in("Porto", "Alice lives in Porto", None)]}),
        ));
    let reply = api
        .call(
            Method::POST,
            "/v1/memories",
            &[("wait", "false")],
            Some(&add_body(&user, say, json!({}))),
        )
        .await;
    // The exact 202 body is checked in `facts::wait_false_answers_exactly_the_episode_id_and_pending`.
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["status"], "pending");
    let id = reply.body["episode_id"].as_str().unwrap();
    let episode = api.episode_settled(id, &user).await;
    assert_eq!(episode["status"], "done", "{episode}");
    assert_eq!(
        episode["llm_usage"]["calls"], 3,
        "entities, relations, facts"
    );
    assert_eq!(
        timeline_of(api, &user).await,
        ["USER LIVES_IN Porto [valid]"]
    );
}

async fn the_facts_path_adds_updates_and_deletes_with_history(api: &Api, llm: &ScriptedLlm) {
    let user = fresh_user("alice");
    // (what the user says, extract_facts answer, update_memory answer)
    let steps = [
        (
            "I am vegetarian",
            "Is vegetarian",
            json!([{"id": "0", "text": "Is vegetarian", "event": "ADD"}]),
        ),
        (
            "Actually I eat fish now",
            "Eats fish",
            json!([{"id": "0", "text": "Eats fish", "event": "UPDATE"}]),
        ),
        (
            "Forget what I eat",
            "Diet is private",
            json!([{"id": "0", "text": "", "event": "DELETE"}]),
        ),
    ];
    let mut results = Vec::new();
    for (say, fact, memory) in &steps {
        llm.on("extract_facts")
            .containing(*say)
            .once()
            .reply(Reply::json(json!({ "facts": [fact] })));
        llm.on("update_memory")
            .once()
            .reply(Reply::json(json!({ "memory": memory })));
        let reply = api
            .post("/v1/memories", &add_body(&user, say, json!({})))
            .await;
        let result = check_add_result(reply.ok()).clone();
        assert_eq!(result["status"], "done", "{say}: {result}");
        results.push(result);
    }
    let added = &results[0]["facts"]["added"];
    assert_eq!(added.as_array().unwrap().len(), 1, "{added}");
    assert_eq!(added[0]["text"], "Is vegetarian");
    assert_eq!(added[0]["episodes"], json!([results[0]["episode_id"]]));
    let id = added[0]["id"].as_str().unwrap().to_owned();
    let updated = &results[1]["facts"]["updated"];
    assert_eq!(updated[0]["id"], id.as_str());
    assert_eq!(updated[0]["text"], "Eats fish");
    assert_eq!(results[2]["facts"]["deleted"], json!([id]));

    let history = api
        .get(&format!("/v1/memories/{id}/history"), &[("user_id", &user)])
        .await;
    let events = history.ok().as_array().cloned().unwrap_or_else(|| {
        // Either a bare list or `{"history": [...]}`; DESIGN leaves the wrapper open.
        history.body["history"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    });
    let got: Vec<(String, Value, Value, Value)> = events
        .iter()
        .map(|event| {
            assert_keys(
                event,
                &["fact_id", "event", "old_text", "new_text", "at", "episode"],
                "fact event",
            );
            assert_eq!(event["fact_id"], id.as_str());
            timestamp(&event["at"], "at");
            (
                event["event"].as_str().unwrap().to_owned(),
                event["old_text"].clone(),
                event["new_text"].clone(),
                event["episode"].clone(),
            )
        })
        .collect();
    let episode = |n: usize| results[n]["episode_id"].clone();
    assert_eq!(
        got,
        [
            (
                "ADD".into(),
                Value::Null,
                json!("Is vegetarian"),
                episode(0)
            ),
            (
                "UPDATE".into(),
                json!("Is vegetarian"),
                json!("Eats fish"),
                episode(1)
            ),
            ("DELETE".into(), json!("Eats fish"), Value::Null, episode(2)),
        ]
    );
    let gone = api
        .get(&format!("/v1/memories/{id}"), &[("user_id", &user)])
        .await;
    assert_eq!(gone.error(), (404, "not_found".into()));
}

async fn an_llm_down_during_search_is_a_503_naming_no_internals(api: &Api, llm: &ScriptedLlm) {
    let user = fresh_user("alice");
    llm.on("extract_entities")
        .containing("zebra")
        .reply(Reply::status(500));
    let reply = api
        .post(
            "/v1/search",
            &json!({"query": "Where is the zebra?", "user_id": user, "query_entities": "llm"}),
        )
        .await;
    assert_eq!(reply.error(), (503, "unavailable".into()), "{}", reply.text);
    let message = reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let port = llm.base_url();
    for internal in [
        port.as_str(),
        "127.0.0.1",
        "scripted",
        "chat/completions",
        "extract_entities",
        "status 500",
        "sqlite",
        "reqwest",
        "openai",
    ] {
        assert!(
            !message.contains(internal),
            "the 503 names {internal:?}: {message}"
        );
    }
}

/// Issue [Edge] item 6: an add waiting for the LLM holds no lock on its scope, so an
/// `infer: false` add to the same scope is answered first, and both are applied.
async fn a_slow_llm_call_does_not_hold_the_scope_for_its_other_writers(
    api: &Api,
    llm: &ScriptedLlm,
) {
    let user = fresh_user("alice");
    let slow_say = "I moved to Faro last week";
    llm.on("extract_entities")
        .containing(slow_say)
        .once()
        .reply(
            Reply::json(json!({"entities": [person(), city("Faro")]}))
                .after(Duration::from_secs(5)),
        );
    llm.on("establish_relations")
        .containing(slow_say)
        .once()
        .reply(Reply::json(
            json!({"relations": [lives_in("Faro", "Alice lives in Faro", None)]}),
        ));
    let slow_body = add_body(&user, slow_say, json!({}));
    let slow = api.post("/v1/memories", &slow_body);
    tokio::pin!(slow);
    let quick = async {
        // Only once the slow add is waiting on its LLM call.
        while !llm
            .requests_to("extract_entities")
            .iter()
            .any(|request| request.input.contains(slow_say))
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        api.post(
            "/v1/memories",
            &add_body(&user, "I like sardines", json!({"infer": false})),
        )
        .await
    };
    let quick = tokio::select! {
        // Polled first: were the scope held through the LLM call, the slow add would end
        // before the quick one could start.
        biased;
        slow = &mut slow => panic!("the slow add was answered before the quick one: {slow:?}"),
        quick = quick => quick,
    };
    assert_eq!(quick.status, 200, "{}", quick.text);
    assert_eq!(quick.body["status"], "done", "{}", quick.text);
    let slow = slow.await;
    assert_eq!(slow.status, 200, "{}", slow.text);
    assert_eq!(slow.body["status"], "done", "{}", slow.text);
    assert_eq!(
        timeline_of(api, &user).await,
        ["USER LIVES_IN Faro [valid]"]
    );
    let facts = api.get("/v1/memories", &[("user_id", &user)]).await;
    assert!(
        facts.ok().to_string().contains("I like sardines"),
        "{}",
        facts.text
    );
}
