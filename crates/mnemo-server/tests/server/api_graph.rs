//! `POST /v1/relations`, `POST /v1/search` and `/v1/graph/*` on one small history: Alice
//! lived in Boston, works at Acme (in Boston), then moved to Lisbon. Reads are checked as
//! readable lines ("Alice LIVES_IN Lisbon [valid]") at several points of event time and
//! transaction time.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{App, app, error_of, fresh_user};

struct History {
    app: App,
    user: String,
    /// Before anything was added.
    start: DateTime<Utc>,
    /// Between the first add and the move.
    before_move: DateTime<Utc>,
    first: Value,
    moved: Value,
}

fn triplet(source: (&str, &str), relation: &str, target: (&str, &str), from: &str) -> Value {
    json!({
        "source": {"name": source.0, "type": source.1},
        "relation": relation,
        "target": {"name": target.0, "type": target.1},
        "valid_from": from,
    })
}

async fn history() -> History {
    let app = app().await;
    let user = fresh_user("alice");
    let start = Utc::now();
    let first = app
        .post(
            "/v1/relations",
            json!({
                "user_id": user,
                "relations": [
                    triplet(("Alice", "Person"), "LIVES_IN", ("Boston", "City"), "2020-01-01T00:00:00Z"),
                    triplet(("Alice", "Person"), "WORKS_AT", ("Acme", "Company"), "2021-01-01T00:00:00Z"),
                    {"source": {"name": "Acme"}, "relation": "LOCATED_IN", "target": {"name": "Boston"},
                     "fact": "Acme is based in Boston"},
                ],
                "occurred_at": "2021-06-01T00:00:00Z",
            }),
        )
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    let before_move = Utc::now();
    let moved = app
        .post(
            "/v1/relations",
            json!({
                "user_id": user,
                "relations": [
                    triplet(("Alice", "Person"), "LIVES_IN", ("Lisbon", "City"), "2024-03-01T00:00:00Z"),
                ],
            }),
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    History {
        app,
        user,
        start,
        before_move,
        first: first.body,
        moved: moved.body,
    }
}

/// "Source RELATION Target" of a relation in any response.
fn line(relation: &Value) -> String {
    format!(
        "{} {} {}",
        relation["source"]["name"].as_str().unwrap(),
        relation["relation"].as_str().unwrap(),
        relation["target"]["name"].as_str().unwrap()
    )
}

fn lines(relations: &Value) -> Vec<String> {
    let mut lines: Vec<String> = relations.as_array().unwrap().iter().map(line).collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn direct_triplets_follow_the_conflict_rules() {
    let h = history().await;
    assert_eq!(h.first["status"], "done");
    assert_eq!(h.first["llm_usage"]["calls"], 0);
    assert_eq!(
        lines(&h.first["relations"]["added"]),
        [
            "Acme LOCATED_IN Boston",
            "Alice LIVES_IN Boston",
            "Alice WORKS_AT Acme"
        ]
    );
    let added = &h.first["relations"]["added"];
    let located = added
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relation"] == "LOCATED_IN")
        .unwrap();
    assert_eq!(located["fact"], "Acme is based in Boston");
    assert_eq!(
        located["valid_from"], "2021-06-01T00:00:00Z",
        "occurred_at is the default start"
    );
    assert_eq!(
        located["source"]["type"], "Company",
        "an untyped name resolves to the known entity"
    );

    // LIVES_IN is single-valued: the move ends Boston where Lisbon starts, without an LLM.
    assert_eq!(
        lines(&h.moved["relations"]["added"]),
        ["Alice LIVES_IN Lisbon"]
    );
    assert_eq!(
        lines(&h.moved["relations"]["invalidated"]),
        ["Alice LIVES_IN Boston"]
    );
    let ended = &h.moved["relations"]["invalidated"][0];
    assert_eq!(ended["valid_to"], "2024-03-01T00:00:00Z");
    assert_eq!(
        ended["invalidated_by"],
        h.moved["relations"]["added"][0]["id"]
    );
    assert!(ended["invalidated_at"].is_string());
    assert_eq!(h.moved["relations"]["retracted"], json!([]));
}

/// `GET /v1/graph/relations?{query}` as "line [status] (ended by line)" rows, sorted.
async fn check_relations(h: &History, query: &str, expected: &[&str]) {
    let uri = format!("/v1/graph/relations?user_id={}&{query}", h.user);
    let reply = h.app.get(&uri).await;
    assert_eq!(reply.status, 200, "{uri}: {reply:?}");
    let mut got: Vec<String> = reply.body["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let ended_by = match &entry["ended_by"] {
                Value::Null => String::new(),
                ender => format!(" (ended by {})", line(ender)),
            };
            format!(
                "{} [{}]{ended_by}",
                line(entry),
                entry["status"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, expected, "{uri}");
}

#[tokio::test]
async fn relations_and_timelines_at_any_point_of_both_time_axes() {
    let h = history().await;
    let before_move = h.before_move.to_rfc3339().replace('+', "%2B");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "entity=Alice".into(),
            vec![
                "Alice LIVES_IN Lisbon [valid]",
                "Alice WORKS_AT Acme [valid]",
            ],
        ),
        (
            "entity=alice&include_invalid=true".into(),
            vec![
                "Alice LIVES_IN Boston [ended] (ended by Alice LIVES_IN Lisbon)",
                "Alice LIVES_IN Lisbon [valid]",
                "Alice WORKS_AT Acme [valid]",
            ],
        ),
        (
            "entity=Alice&as_of=2022-06-01T00:00:00Z".into(),
            vec![
                "Alice LIVES_IN Boston [valid] (ended by Alice LIVES_IN Lisbon)",
                "Alice WORKS_AT Acme [valid]",
            ],
        ),
        (
            "entity=Alice&as_of=2020-06-01T00:00:00Z&include_invalid=true".into(),
            vec![
                "Alice LIVES_IN Boston [valid] (ended by Alice LIVES_IN Lisbon)",
                "Alice LIVES_IN Lisbon [not_yet_valid]",
                "Alice WORKS_AT Acme [not_yet_valid]",
            ],
        ),
        (
            format!("entity=Alice&known_at={before_move}"),
            vec![
                "Alice LIVES_IN Boston [valid]",
                "Alice WORKS_AT Acme [valid]",
            ],
        ),
        (
            "relation=LIVES_IN&include_invalid=true".into(),
            vec![
                "Alice LIVES_IN Boston [ended] (ended by Alice LIVES_IN Lisbon)",
                "Alice LIVES_IN Lisbon [valid]",
            ],
        ),
        (
            "entity=Boston".into(),
            vec!["Acme LOCATED_IN Boston [valid]"],
        ),
        (
            String::new(),
            vec![
                "Acme LOCATED_IN Boston [valid]",
                "Alice LIVES_IN Lisbon [valid]",
                "Alice WORKS_AT Acme [valid]",
            ],
        ),
    ];
    for (query, expected) in cases {
        check_relations(&h, &query, &expected).await;
    }
}

#[tokio::test]
async fn subgraphs_grow_with_depth_and_follow_event_time() {
    let h = history().await;
    let cases = [
        (
            "entity=Alice&depth=1",
            vec!["Alice LIVES_IN Lisbon", "Alice WORKS_AT Acme"],
        ),
        (
            "entity=Alice",
            vec![
                "Acme LOCATED_IN Boston",
                "Alice LIVES_IN Lisbon",
                "Alice WORKS_AT Acme",
            ],
        ),
        (
            "entity=Alice&depth=1&as_of=2022-01-01T00:00:00Z",
            vec!["Alice LIVES_IN Boston", "Alice WORKS_AT Acme"],
        ),
        ("entity=Lisbon&depth=1", vec!["Alice LIVES_IN Lisbon"]),
    ];
    for (query, expected) in cases {
        let uri = format!("/v1/graph/subgraph?user_id={}&{query}", h.user);
        let reply = h.app.get(&uri).await;
        assert_eq!(reply.status, 200, "{uri}: {reply:?}");
        assert_eq!(lines(&reply.body["edges"]), expected, "{uri}");
        let mut nodes: Vec<&str> = reply.body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        nodes.sort_unstable();
        let mut ends: Vec<&str> = expected
            .iter()
            .flat_map(|l| {
                let parts: Vec<&str> = l.split(' ').collect();
                [parts[0], parts[2]]
            })
            .collect();
        ends.sort_unstable();
        ends.dedup();
        assert_eq!(nodes, ends, "{uri}");
    }
}

#[tokio::test]
async fn entities_are_listed_and_read_by_id() {
    let h = history().await;
    let list = h
        .app
        .get(&format!("/v1/graph/entities?user_id={}", h.user))
        .await;
    assert_eq!(list.status, 200, "{list:?}");
    let entities = list.body["entities"].as_array().unwrap();
    let mut names: Vec<(&str, &str)> = entities
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ("Acme", "Company"),
            ("Alice", "Person"),
            ("Boston", "City"),
            ("Lisbon", "City")
        ]
    );
    let alice = entities.iter().find(|e| e["name"] == "Alice").unwrap();
    let mut keys: Vec<&String> = alice.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "aliases",
            "created_at",
            "id",
            "mentions",
            "name",
            "type",
            "updated_at"
        ]
    );
    let page = h
        .app
        .get(&format!(
            "/v1/graph/entities?user_id={}&limit=3&offset=2",
            h.user
        ))
        .await;
    assert_eq!(page.body["entities"].as_array().unwrap().len(), 2);

    let id = alice["id"].as_str().unwrap();
    let one = h
        .app
        .get(&format!("/v1/graph/entities/{id}?user_id={}", h.user))
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, *alice);
    let elsewhere = h
        .app
        .get(&format!("/v1/graph/entities/{id}?user_id=other"))
        .await;
    assert_eq!(error_of(&elsewhere), (404, "not_found"));
}

#[tokio::test]
async fn changes_in_a_transaction_time_window() {
    let h = history().await;
    let at = |t: DateTime<Utc>| t.to_rfc3339().replace('+', "%2B");
    let cases = [
        (
            format!("since={}", at(h.start)),
            (
                vec![
                    "Acme LOCATED_IN Boston",
                    "Alice LIVES_IN Boston",
                    "Alice LIVES_IN Lisbon",
                    "Alice WORKS_AT Acme",
                ],
                vec!["Alice LIVES_IN Boston"],
            ),
        ),
        (
            format!("since={}", at(h.before_move)),
            (vec!["Alice LIVES_IN Lisbon"], vec!["Alice LIVES_IN Boston"]),
        ),
        (
            format!("since={}&until={}", at(h.start), at(h.before_move)),
            (
                vec![
                    "Acme LOCATED_IN Boston",
                    "Alice LIVES_IN Boston",
                    "Alice WORKS_AT Acme",
                ],
                vec![],
            ),
        ),
    ];
    for (query, (added, invalidated)) in cases {
        let uri = format!("/v1/graph/changes?user_id={}&{query}", h.user);
        let reply = h.app.get(&uri).await;
        assert_eq!(reply.status, 200, "{uri}: {reply:?}");
        assert_eq!(lines(&reply.body["added"]), added, "{uri}");
        assert_eq!(lines(&reply.body["invalidated"]), invalidated, "{uri}");
        assert_eq!(reply.body["retracted"], json!([]), "{uri}");
    }
}

#[tokio::test]
async fn search_answers_from_the_graph_at_the_asked_time() {
    let h = history().await;
    let search = |extra: Value| {
        let mut body = json!({"query": "Where does Alice live?", "user_id": h.user});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        h.app.post("/v1/search", body)
    };

    let now = search(json!({})).await;
    assert_eq!(now.status, 200, "{now:?}");
    let mut top_keys: Vec<&String> = now.body.as_object().unwrap().keys().collect();
    top_keys.sort();
    assert_eq!(
        top_keys,
        [
            "context",
            "facts",
            "linked_entities",
            "relations",
            "subgraph"
        ]
    );
    let found = lines(&now.body["relations"]);
    assert!(
        found.contains(&"Alice LIVES_IN Lisbon".to_owned()),
        "{found:?}"
    );
    assert!(
        !found.contains(&"Alice LIVES_IN Boston".to_owned()),
        "{found:?}"
    );
    let hit = &now.body["relations"][0];
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert!(!hit["found_by"].as_array().unwrap().is_empty());
    for retriever in hit["found_by"].as_array().unwrap() {
        assert!(
            ["entities", "triplets", "facts"].contains(&retriever.as_str().unwrap()),
            "{retriever}"
        );
    }
    let linked: Vec<&str> = now.body["linked_entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(linked.contains(&"Alice"), "{linked:?}");
    assert_eq!(lines(&now.body["subgraph"]["edges"]), found);
    assert!(now.body["context"].as_str().unwrap().contains("Lisbon"));

    let then = search(json!({"as_of": "2022-06-01T00:00:00Z", "limit": 5, "depth": 1})).await;
    let found = lines(&then.body["relations"]);
    assert!(
        found.contains(&"Alice LIVES_IN Boston".to_owned()),
        "{found:?}"
    );
    assert!(
        !found.contains(&"Alice LIVES_IN Lisbon".to_owned()),
        "{found:?}"
    );

    let facts_only = search(json!({"include": ["facts"]})).await;
    assert_eq!(facts_only.status, 200, "{facts_only:?}");
    assert_eq!(facts_only.body["relations"], json!([]));
    assert_eq!(
        facts_only.body["subgraph"],
        json!({"nodes": [], "edges": []})
    );
}
