//! A move (Boston, then Lisbon from March 2024) over HTTP, every temporal read of issue
//! [3/6] on it (search at `as_of` and `known_at`, subgraph, timeline, changes, entities),
//! then `DELETE /v1/episodes/{id}` of the move, which restores Boston.

use mnemo_testkit::scripted_llm::ScriptedLlm;
use serde_json::{Value, json};

use super::write::{move_steps, play};
use super::{
    Api, answer_the_rest, assert_keys, check_entity_ref, check_fact, check_relation, day,
    fresh_user, lines, llm_vars, optional_timestamp, timestamp,
};

/// What the move left behind, for the reads.
struct Moved {
    user: String,
    boston: Value,
    lisbon: Value,
    /// `recorded_at` of Boston: a transaction time before the move was known.
    before_move: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_then_every_temporal_query_then_deleting_the_move_restores_the_old_home() {
    let llm = ScriptedLlm::start().await;
    answer_the_rest(&llm);
    let api = Api::start(&llm_vars(&llm)).await;
    let moved = a_move_ends_the_old_home_where_the_new_one_starts(&api, &llm).await;
    search_at_any_event_and_transaction_time(&api, &moved).await;
    subgraph_around_an_entity(&api, &moved).await;
    timeline_of_an_entity_and_a_relation_type(&api, &moved).await;
    changes_in_a_transaction_time_window(&api, &moved).await;
    entities_of_the_scope(&api, &moved).await;
    deleting_the_move_restores_the_old_home(&api, &moved).await;
}

async fn a_move_ends_the_old_home_where_the_new_one_starts(api: &Api, llm: &ScriptedLlm) -> Moved {
    let user = fresh_user("alice");
    let [first, second] = move_steps();
    let settled = play(api, llm, &user, &first).await;
    let boston = settled["relations"]["added"][0].clone();
    assert_eq!(
        lines(&settled["relations"]["added"]),
        [format!("{user} LIVES_IN Boston")]
    );
    assert_eq!(boston["episodes"], json!([settled["episode_id"]]));
    assert_eq!(boston["mentions"], 1);
    assert_eq!(
        timestamp(&boston["valid_from"], "valid_from"),
        day("2023-01-10"),
        "no stated date: it holds from the episode's occurred_at"
    );
    assert_eq!(boston["source"]["name"], user.as_str(), "\"I\" is the user");
    assert_eq!(boston["target"]["type"], "City");

    let usage_before = llm.usage();
    let moved = play(api, llm, &user, &second).await;
    let usage = llm.usage();
    assert_eq!(
        moved["llm_usage"],
        json!({
            "calls": usage.calls - usage_before.calls,
            "prompt_tokens": usage.prompt_tokens - usage_before.prompt_tokens,
            "completion_tokens": usage.completion_tokens - usage_before.completion_tokens,
        }),
        "the add reports the tokens the LLM counted"
    );
    let changes = &moved["relations"];
    assert_eq!(
        lines(&changes["added"]),
        [format!("{user} LIVES_IN Lisbon")]
    );
    assert_eq!(
        lines(&changes["invalidated"]),
        [format!("{user} LIVES_IN Boston")]
    );
    assert_eq!(changes["updated"], json!([]));
    assert_eq!(changes["retracted"], json!([]));
    let lisbon = changes["added"][0].clone();
    let ended = changes["invalidated"][0].clone();
    assert_eq!(ended["id"], boston["id"]);
    assert_eq!(
        timestamp(&lisbon["valid_from"], "valid_from"),
        day("2024-03-01")
    );
    assert_eq!(
        optional_timestamp(&ended["valid_to"], "valid_to"),
        Some(day("2024-03-01")),
        "the old home ends where the new one starts"
    );
    assert_eq!(ended["invalidated_by"], lisbon["id"]);
    let invalidated_at = timestamp(&ended["invalidated_at"], "invalidated_at");
    assert!(invalidated_at >= timestamp(&boston["recorded_at"], "recorded_at"));
    assert_eq!(ended["retracted_at"], Value::Null);

    let episode = api
        .get(
            &format!("/v1/episodes/{}", settled["episode_id"].as_str().unwrap()),
            &[("user_id", &user)],
        )
        .await;
    check_episode(episode.ok(), &user, "I live in Boston");
    Moved {
        user,
        before_move: boston["recorded_at"].as_str().unwrap().to_owned(),
        boston: ended,
        lisbon,
    }
}

/// The wire shape of an episode (DESIGN §2, the session's contract).
#[track_caller]
pub fn check_episode(episode: &Value, user: &str, said: &str) {
    let required = [
        "id",
        "status",
        "occurred_at",
        "ingested_at",
        "idempotency_key",
        "metadata",
        "llm_usage",
        "content",
    ];
    let allowed = ["user_id", "agent_id", "run_id", "reason"];
    let object = episode.as_object().expect("an episode object");
    for key in required {
        assert!(object.contains_key(key), "no {key} in {episode}");
    }
    for key in object.keys() {
        assert!(
            required.contains(&key.as_str()) || allowed.contains(&key.as_str()),
            "unexpected key {key} in {episode}"
        );
    }
    assert_eq!(episode["user_id"], user);
    timestamp(&episode["occurred_at"], "occurred_at");
    timestamp(&episode["ingested_at"], "ingested_at");
    assert_keys(
        &episode["llm_usage"],
        &["calls", "prompt_tokens", "completion_tokens"],
        "llm_usage",
    );
    assert!(
        episode["content"].is_object(),
        "content is the journaled JSON, parsed: {}",
        episode["content"]
    );
    assert_eq!(
        episode["content"]["messages"][0]["content"], said,
        "{episode}"
    );
}

/// `POST /v1/search`, checking the response shape.
pub async fn search(api: &Api, body: Value) -> Value {
    let reply = api.post("/v1/search", &body).await;
    let result = reply.ok().clone();
    assert_keys(
        &result,
        &[
            "relations",
            "facts",
            "subgraph",
            "context",
            "linked_entities",
        ],
        "search result",
    );
    for hit in result["relations"].as_array().unwrap() {
        check_relation(hit, &["score", "found_by"]);
        assert!(hit["score"].is_number(), "{hit}");
        let found_by = hit["found_by"].as_array().unwrap();
        assert!(!found_by.is_empty(), "{hit}");
        for retriever in found_by {
            assert!(
                ["entities", "triplets", "facts"].contains(&retriever.as_str().unwrap_or("")),
                "found_by {retriever}"
            );
        }
    }
    for hit in result["facts"].as_array().unwrap() {
        check_fact(hit, &["score"]);
    }
    assert_keys(&result["subgraph"], &["nodes", "edges"], "subgraph");
    for node in result["subgraph"]["nodes"].as_array().unwrap() {
        check_entity_ref(node);
    }
    for edge in result["subgraph"]["edges"].as_array().unwrap() {
        check_relation(edge, &[]);
    }
    for entity in result["linked_entities"].as_array().unwrap() {
        check_entity_ref(entity);
    }
    assert!(result["context"].is_string());
    result
}

async fn search_at_any_event_and_transaction_time(api: &Api, moved: &Moved) {
    let user = &moved.user;
    let k = moved.before_move.as_str();
    // (as_of, known_at, homes found)
    let cases: [(Option<&str>, Option<&str>, &[&str]); 10] = [
        (None, None, &["Lisbon"]),
        (Some("2023-06-01T00:00:00Z"), None, &["Boston"]),
        (Some("2024-02-29T23:59:59Z"), None, &["Boston"]),
        // valid_to is exclusive, valid_from inclusive.
        (Some("2024-03-01T00:00:00Z"), None, &["Lisbon"]),
        (Some("2022-12-31T00:00:00Z"), None, &[]),
        // RFC 3339 with an offset is read as the instant it names.
        (Some("2024-02-29T23:30:00-01:00"), None, &["Lisbon"]),
        (Some("2024-03-01T00:30:00+01:00"), None, &["Boston"]),
        // Before the move was known, Boston was home, and nothing else was known.
        (None, Some(k), &["Boston"]),
        (Some("2023-06-01T00:00:00Z"), Some(k), &["Boston"]),
        (Some("2022-12-31T00:00:00Z"), Some(k), &[]),
    ];
    for (as_of, known_at, homes) in cases {
        let mut body = json!({"query": format!("Where does {user} live?"), "user_id": user});
        if let Some(as_of) = as_of {
            body["as_of"] = json!(as_of);
        }
        if let Some(known_at) = known_at {
            body["known_at"] = json!(known_at);
        }
        let result = search(api, body).await;
        let expected: Vec<String> = homes
            .iter()
            .map(|home| format!("{user} LIVES_IN {home}"))
            .collect();
        assert_eq!(
            lines(&result["relations"]),
            expected,
            "as_of {as_of:?}, known_at {known_at:?}"
        );
        if let Some(home) = homes.first() {
            let context = result["context"].as_str().unwrap();
            assert!(context.contains(home), "context names {home}: {context}");
        }
    }
    // The user entity is named in the query, so the walk finds the home too.
    let result = search(
        api,
        json!({"query": format!("Where does {user} live?"), "user_id": user, "depth": 1}),
    )
    .await;
    let linked: Vec<&str> = result["linked_entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(linked.contains(&user.as_str()), "linked {linked:?}");
    assert!(
        result["relations"][0]["found_by"]
            .as_array()
            .unwrap()
            .contains(&json!("entities")),
        "{}",
        result["relations"]
    );
    // include: only the parts asked for are filled.
    let result = search(
        api,
        json!({"query": "home", "user_id": user, "include": ["facts"]}),
    )
    .await;
    assert_eq!(result["relations"], json!([]));
    assert_eq!(result["subgraph"]["edges"], json!([]));
}

/// (entity, depth, as_of, known_at, nodes, edges' targets)
type SubgraphCase<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a [&'a str],
    &'a [&'a str],
);

async fn subgraph_around_an_entity(api: &Api, moved: &Moved) {
    let user = moved.user.as_str();
    let k = moved.before_move.as_str();
    let cases: [SubgraphCase; 7] = [
        (user, "1", None, None, &["Lisbon", user], &["Lisbon"]),
        (
            user,
            "2",
            Some("2023-06-01T00:00:00Z"),
            None,
            &["Boston", user],
            &["Boston"],
        ),
        ("Boston", "2", None, None, &["Boston"], &[]),
        (
            "Boston",
            "2",
            Some("2023-06-01T00:00:00Z"),
            None,
            &["Boston", user],
            &["Boston"],
        ),
        (user, "1", None, Some(k), &["Boston", user], &["Boston"]),
        // An offset in a query parameter (its `+` percent-encoded by the client).
        (
            user,
            "1",
            Some("2024-03-01T00:30:00+01:00"),
            None,
            &["Boston", user],
            &["Boston"],
        ),
        // Names are matched normalised.
        ("  lisbon ", "1", None, None, &["Lisbon", user], &["Lisbon"]),
    ];
    for (entity, depth, as_of, known_at, nodes, targets) in cases {
        let mut query = vec![("user_id", user), ("entity", entity), ("depth", depth)];
        if let Some(as_of) = as_of {
            query.push(("as_of", as_of));
        }
        if let Some(known_at) = known_at {
            query.push(("known_at", known_at));
        }
        let reply = api.get("/v1/graph/subgraph", &query).await;
        let body = reply.ok();
        assert_keys(body, &["nodes", "edges"], "subgraph");
        let mut got_nodes: Vec<&str> = body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                check_entity_ref(node);
                node["name"].as_str().unwrap()
            })
            .collect();
        got_nodes.sort_unstable();
        let mut want_nodes = nodes.to_vec();
        want_nodes.sort_unstable();
        let expected_edges: Vec<String> = targets
            .iter()
            .map(|target| format!("{user} LIVES_IN {target}"))
            .collect();
        for edge in body["edges"].as_array().unwrap() {
            check_relation(edge, &[]);
        }
        assert_eq!(
            (got_nodes, lines(&body["edges"])),
            (want_nodes, expected_edges),
            "subgraph of {entity:?} at depth {depth}, as_of {as_of:?}, known_at {known_at:?}"
        );
    }
    let missing = api
        .get(
            "/v1/graph/subgraph",
            &[("user_id", user), ("entity", "Atlantis")],
        )
        .await;
    assert_eq!(missing.error(), (404, "not_found".into()));
}

/// Query parameters.
type Query<'a> = Vec<(&'a str, &'a str)>;

async fn timeline_of_an_entity_and_a_relation_type(api: &Api, moved: &Moved) {
    let user = moved.user.as_str();
    let k = moved.before_move.as_str();
    let boston = format!("{user} LIVES_IN Boston");
    let lisbon = format!("{user} LIVES_IN Lisbon");
    // (query on top of user_id and include_invalid=true, expected entries in order)
    let cases: Vec<(Query, Vec<String>)> = vec![
        (
            vec![("entity", user)],
            vec![
                format!("{boston} [ended, ended by Lisbon]"),
                format!("{lisbon} [valid]"),
            ],
        ),
        (
            vec![("entity", "Boston")],
            vec![format!("{boston} [ended, ended by Lisbon]")],
        ),
        (
            vec![("relation", "LIVES_IN")],
            vec![
                format!("{boston} [ended, ended by Lisbon]"),
                format!("{lisbon} [valid]"),
            ],
        ),
        (vec![("relation", "WORKS_AT")], vec![]),
        (
            vec![("entity", user), ("as_of", "2023-06-01T00:00:00Z")],
            vec![
                format!("{boston} [valid, ended by Lisbon]"),
                format!("{lisbon} [not_yet_valid]"),
            ],
        ),
        // As known before the move: Boston, not yet ended by anything.
        (
            vec![("entity", user), ("known_at", k)],
            vec![format!("{boston} [valid]")],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(api.timeline(user, &query).await, expected, "{query:?}");
    }
    let entry = {
        let reply = api
            .get(
                "/v1/graph/relations",
                &[
                    ("user_id", user),
                    ("entity", "Boston"),
                    ("include_invalid", "true"),
                ],
            )
            .await;
        reply.ok()["relations"][0].clone()
    };
    assert_eq!(entry["valid_to"], moved.boston["valid_to"]);
    assert_eq!(entry["ended_by"]["id"], moved.lisbon["id"]);

    // Without include_invalid: only what holds now.
    let reply = api
        .get(
            "/v1/graph/relations",
            &[("user_id", user), ("entity", user)],
        )
        .await;
    assert_eq!(lines(&reply.ok()["relations"]), [lisbon.as_str()]);
    let reply = api
        .get(
            "/v1/graph/relations",
            &[
                ("user_id", user),
                ("entity", user),
                ("as_of", "2023-06-01T00:00:00Z"),
            ],
        )
        .await;
    assert_eq!(lines(&reply.ok()["relations"]), [boston.as_str()]);
    let missing = api
        .get(
            "/v1/graph/relations",
            &[("user_id", user), ("entity", "Atlantis")],
        )
        .await;
    assert_eq!(missing.error(), (404, "not_found".into()));
}

async fn changes_in_a_transaction_time_window(api: &Api, moved: &Moved) {
    let user = moved.user.as_str();
    let lisbon_recorded = moved.lisbon["recorded_at"].as_str().unwrap();
    let boston_ended = moved.boston["invalidated_at"].as_str().unwrap();
    let boston = format!("{user} LIVES_IN Boston");
    let lisbon = format!("{user} LIVES_IN Lisbon");
    let long_ago = "2000-01-01T00:00:00Z";
    let far_ahead = "2100-01-01T00:00:00Z";
    // (since, until, added, invalidated); the window is [since, until).
    let cases: [(&str, &str, Vec<&String>, Vec<&String>); 5] = [
        (long_ago, far_ahead, vec![&boston, &lisbon], vec![&boston]),
        (lisbon_recorded, far_ahead, vec![&lisbon], vec![&boston]),
        (long_ago, lisbon_recorded, vec![&boston], vec![]),
        (boston_ended, far_ahead, vec![&lisbon], vec![&boston]),
        ("2099-01-01T00:00:00Z", far_ahead, vec![], vec![]),
    ];
    for (since, until, added, invalidated) in cases {
        let reply = api
            .get(
                "/v1/graph/changes",
                &[("user_id", user), ("since", since), ("until", until)],
            )
            .await;
        let body = reply.ok();
        assert_keys(body, &["added", "invalidated", "retracted"], "changes");
        for list in ["added", "invalidated", "retracted"] {
            for relation in body[list].as_array().unwrap() {
                check_relation(relation, &[]);
            }
        }
        assert_eq!(
            (
                lines(&body["added"]),
                lines(&body["invalidated"]),
                lines(&body["retracted"])
            ),
            (
                added.into_iter().cloned().collect::<Vec<_>>(),
                invalidated.into_iter().cloned().collect::<Vec<_>>(),
                Vec::<String>::new()
            ),
            "changes in [{since}, {until})"
        );
    }
    let backwards = api
        .get(
            "/v1/graph/changes",
            &[("user_id", user), ("since", far_ahead), ("until", long_ago)],
        )
        .await;
    assert_eq!(backwards.error(), (422, "invalid_request".into()));
}

async fn entities_of_the_scope(api: &Api, moved: &Moved) {
    let user = moved.user.as_str();
    let reply = api.get("/v1/graph/entities", &[("user_id", user)]).await;
    let body = reply.ok();
    assert_keys(body, &["entities"], "entity listing");
    let entities = body["entities"].as_array().unwrap();
    let mut names: Vec<&str> = entities
        .iter()
        .map(|e| {
            for key in ["id", "name", "type"] {
                assert!(e[key].is_string(), "{key} of entity {e}");
            }
            e["name"].as_str().unwrap()
        })
        .collect();
    names.sort_unstable();
    let mut expected = vec!["Boston", "Lisbon", user];
    expected.sort_unstable();
    assert_eq!(names, expected);

    let page = |limit: &'static str, offset: &'static str| async move {
        let reply = api
            .get(
                "/v1/graph/entities",
                &[("user_id", user), ("limit", limit), ("offset", offset)],
            )
            .await;
        reply.ok()["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect::<Vec<_>>()
    };
    let all: Vec<Value> = entities.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(page("1", "0").await, all[..1]);
    assert_eq!(page("2", "1").await, all[1..]);
    assert_eq!(page("10", "3").await, Vec::<Value>::new());

    let boston = &moved.boston["target"];
    let id = boston["id"].as_str().unwrap();
    let reply = api
        .get(&format!("/v1/graph/entities/{id}"), &[("user_id", user)])
        .await;
    let entity = reply.ok();
    assert_eq!(
        (&entity["id"], &entity["name"], &entity["type"]),
        (&boston["id"], &json!("Boston"), &json!("City"))
    );
    // Another scope does not see it.
    let other = fresh_user("mallory");
    let reply = api
        .get(&format!("/v1/graph/entities/{id}"), &[("user_id", &other)])
        .await;
    assert_eq!(reply.error(), (404, "not_found".into()));
}

async fn deleting_the_move_restores_the_old_home(api: &Api, moved: &Moved) {
    let user = moved.user.as_str();
    let episode = moved.lisbon["episodes"][0].as_str().unwrap();
    let path = format!("/v1/episodes/{episode}");
    // Another scope cannot delete it.
    let other = fresh_user("mallory");
    let reply = api.delete(&path, &[("user_id", &other)]).await;
    assert_eq!(reply.error(), (404, "not_found".into()));

    let reply = api.delete(&path, &[("user_id", user)]).await;
    assert!(
        matches!(reply.status, 200 | 204),
        "{}: {}",
        reply.status,
        reply.text
    );
    assert_eq!(
        api.timeline(user, &[("entity", user)]).await,
        [format!("{user} LIVES_IN Boston [valid]")]
    );
    let reply = api
        .get(
            "/v1/graph/relations",
            &[("user_id", user), ("entity", "Boston")],
        )
        .await;
    let boston = &reply.ok()["relations"][0];
    for key in ["valid_to", "invalidated_at", "invalidated_by"] {
        assert_eq!(boston[key], Value::Null, "{key} restored: {boston}");
    }
    let reply = api.get("/v1/graph/entities", &[("user_id", user)]).await;
    let mut names: Vec<&str> = reply.ok()["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut expected = vec!["Boston", user];
    expected.sort_unstable();
    assert_eq!(names, expected, "only the deleted episode knew Lisbon");
    let result = search(
        api,
        json!({"query": format!("Where does {user} live?"), "user_id": user}),
    )
    .await;
    assert_eq!(
        lines(&result["relations"]),
        [format!("{user} LIVES_IN Boston")]
    );
    let reply = api.get(&path, &[("user_id", user)]).await;
    assert_eq!(reply.error(), (404, "not_found".into()));
    let reply = api.delete(&path, &[("user_id", user)]).await;
    assert_eq!(reply.error(), (404, "not_found".into()));
}
