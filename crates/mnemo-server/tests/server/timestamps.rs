//! Hostile timestamps on every timestamp field of the API (issue 20): negative, huge and
//! edge years, offsets that push past the range, leap seconds, lower-case `t`/`z`, a space
//! for `T`, long fractions. Each answers 200 or 422 `invalid_request` naming the field,
//! never 5xx; afterwards every read of the scope still answers 200 with its data intact.

use serde_json::{Value, json};

use crate::{App, Reply, app, error_of, fresh_user};

/// (input, accepted): accepted inputs lie in 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.
/// 999999999Z once read as UTC; the others must be refused.
const INPUTS: &[(&str, bool)] = &[
    ("-0001-01-01T00:00:00Z", false),
    ("-1000000-01-01T00:00:00Z", false),
    ("0000-01-01T00:00:00Z", false),
    ("0000-12-31T23:59:59.999999999Z", false),
    ("0001-01-01T00:00:00Z", true),
    ("0001-01-01T00:00:00+14:00", false),
    ("0001-01-01T00:00:00-12:00", true),
    ("0001-01-01T13:59:59+14:00", false),
    ("1970-01-01T00:00:00Z", true),
    ("2016-12-31T23:59:60Z", true),
    ("2016-12-31T23:59:60.999999999Z", true),
    ("2024-03-01t10:00:00z", true),
    ("2024-03-01 10:00:00Z", true),
    ("2024-03-01T10:00:00.123456789123456Z", true),
    ("2024-03-01T10:00:00.1+05:30", true),
    ("9999-12-31T23:59:59.999999999Z", true),
    ("9999-12-31T12:00:00+14:00", true),
    ("9999-12-31T23:59:59-12:00", false),
    ("9999-12-31T23:59:59.999999999-00:01", false),
    ("10000-01-01T00:00:00Z", false),
    ("+10000-01-01T00:00:00Z", false),
    ("+275760-09-13T00:00:00Z", false),
    ("2024-02-30T00:00:00Z", false),
    ("2024-03-01T24:00:00Z", false),
    ("2024-03-01T10:00:00+24:00", false),
    ("yesterday", false),
];

/// One place a timestamp goes: a name for messages, the field as errors name it, and the
/// request carrying `v` there: a body for `POST`, query parameters for `GET`.
struct Field {
    name: &'static str,
    field: &'static str,
    method: &'static str,
    path: &'static str,
    with: fn(&str, &str) -> Value,
}

impl Field {
    async fn send(&self, app: &App, user: &str, v: &str) -> Reply {
        let request = (self.with)(user, v);
        if self.method == "POST" {
            return app.post(self.path, request).await;
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in request.as_object().expect("query parameters") {
            query.append_pair(k, v.as_str().expect("a text parameter"));
        }
        app.get(&format!("{}?{}", self.path, query.finish())).await
    }
}

fn triplet(valid_from: Option<&str>, valid_to: Option<&str>) -> Value {
    json!({
        "source": {"name": "Bob", "type": "Person"},
        "relation": "WORKS_AT",
        "target": {"name": "Initech", "type": "Company"},
        "valid_from": valid_from,
        "valid_to": valid_to,
    })
}

const QUESTION: &str = "Where does Alice live?";

const FIELDS: &[Field] = &[
    Field {
        name: "POST /v1/memories occurred_at",
        field: "occurred_at",
        method: "POST",
        path: "/v1/memories",
        with: |user, v| {
            json!({"user_id": user, "infer": false, "occurred_at": v,
                   "messages": [{"role": "user", "content": "Bob drinks coffee"}]})
        },
    },
    Field {
        name: "POST /v1/relations occurred_at",
        field: "occurred_at",
        method: "POST",
        path: "/v1/relations",
        with: |user, v| json!({"user_id": user, "occurred_at": v, "relations": [triplet(None, None)]}),
    },
    Field {
        name: "POST /v1/relations valid_from",
        field: "relations[0].valid_from",
        method: "POST",
        path: "/v1/relations",
        with: |user, v| json!({"user_id": user, "relations": [triplet(Some(v), None)]}),
    },
    Field {
        name: "POST /v1/relations valid_to",
        field: "relations[0].valid_to",
        method: "POST",
        path: "/v1/relations",
        with: |user, v| json!({"user_id": user, "relations": [triplet(None, Some(v))]}),
    },
    Field {
        name: "POST /v1/search as_of",
        field: "as_of",
        method: "POST",
        path: "/v1/search",
        with: |user, v| json!({"user_id": user, "query": QUESTION, "as_of": v}),
    },
    Field {
        name: "POST /v1/search known_at",
        field: "known_at",
        method: "POST",
        path: "/v1/search",
        with: |user, v| json!({"user_id": user, "query": QUESTION, "known_at": v}),
    },
    Field {
        name: "GET /v1/graph/subgraph as_of",
        field: "as_of",
        method: "GET",
        path: "/v1/graph/subgraph",
        with: |user, v| json!({"user_id": user, "entity": "Alice", "as_of": v}),
    },
    Field {
        name: "GET /v1/graph/subgraph known_at",
        field: "known_at",
        method: "GET",
        path: "/v1/graph/subgraph",
        with: |user, v| json!({"user_id": user, "entity": "Alice", "known_at": v}),
    },
    Field {
        name: "GET /v1/graph/relations as_of",
        field: "as_of",
        method: "GET",
        path: "/v1/graph/relations",
        with: |user, v| json!({"user_id": user, "entity": "Alice", "as_of": v}),
    },
    Field {
        name: "GET /v1/graph/relations known_at",
        field: "known_at",
        method: "GET",
        path: "/v1/graph/relations",
        with: |user, v| json!({"user_id": user, "include_invalid": "true", "known_at": v}),
    },
    Field {
        name: "GET /v1/graph/changes since",
        field: "since",
        method: "GET",
        path: "/v1/graph/changes",
        with: |user, v| json!({"user_id": user, "since": v, "until": "9999-12-31T23:59:59.999999999Z"}),
    },
    Field {
        name: "GET /v1/graph/changes until",
        field: "until",
        method: "GET",
        path: "/v1/graph/changes",
        with: |user, v| json!({"user_id": user, "since": "0001-01-01T00:00:00Z", "until": v}),
    },
];

/// What was wrong with one answer, if anything: accepted inputs must answer 200, refused
/// ones 422 `invalid_request` with a message naming the field.
fn problem(field: &Field, input: &str, accepted: bool, reply: &Reply) -> Option<String> {
    let fine = if accepted {
        reply.status == 200
    } else {
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        error_of(reply) == (422, "invalid_request") && message.contains(field.field)
    };
    (!fine).then(|| format!("{} = {input:?}: {reply:?}", field.name))
}

/// Every read of the scope, each answering 200.
async fn reads(app: &App, user: &str) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    for uri in [
        format!("/v1/graph/relations?user_id={user}&include_invalid=true"),
        format!("/v1/graph/relations?user_id={user}&entity=Alice"),
        format!("/v1/graph/subgraph?user_id={user}&entity=Alice"),
        format!("/v1/graph/changes?user_id={user}&since=0001-01-01T00:00:00Z"),
        format!("/v1/graph/entities?user_id={user}"),
        format!("/v1/memories?user_id={user}"),
    ] {
        let reply = app.get(&uri).await;
        out.push((uri, reply));
    }
    for body in [
        json!({"user_id": user, "query": QUESTION}),
        json!({"user_id": user, "query": QUESTION, "as_of": "2022-01-01T00:00:00Z"}),
    ] {
        let reply = app.post("/v1/search", body.clone()).await;
        out.push((format!("POST /v1/search {body}"), reply));
    }
    out
}

#[tokio::test]
async fn hostile_timestamps_never_answer_5xx_nor_poison_the_scope() {
    let app = app().await;
    let user = fresh_user("hostile");
    let seeded = app
        .post(
            "/v1/relations",
            json!({"user_id": user, "relations": [{
                "source": {"name": "Alice", "type": "Person"},
                "relation": "LIVES_IN",
                "target": {"name": "Boston", "type": "City"},
                "valid_from": "2020-01-01T00:00:00Z",
            }]}),
        )
        .await;
    assert_eq!(seeded.status, 200, "{seeded:?}");
    let fact = app
        .post(
            "/v1/memories",
            json!({"user_id": user, "infer": false,
                   "messages": [{"role": "user", "content": "Alice likes green tea"}]}),
        )
        .await;
    assert_eq!(fact.status, 200, "{fact:?}");

    let mut problems = Vec::new();
    let (mut cases, mut server_errors) = (0, 0);
    for field in FIELDS {
        for (input, accepted) in INPUTS {
            let reply = field.send(&app, &user, input).await;
            cases += 1;
            server_errors += usize::from(reply.status.is_server_error());
            problems.extend(problem(field, input, *accepted, &reply));
        }
    }
    println!("{cases} hostile cases, {server_errors} answered 5xx");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    for (what, reply) in reads(&app, &user).await {
        assert_eq!(reply.status, 200, "{what}: {reply:?}");
    }
    let timeline = app
        .get(&format!(
            "/v1/graph/relations?user_id={user}&entity=Alice&include_invalid=true"
        ))
        .await;
    assert!(
        timeline.text.contains("Boston"),
        "the seeded relation is gone: {timeline:?}"
    );
    let facts = app.get(&format!("/v1/memories?user_id={user}")).await;
    assert!(
        facts.text.contains("Alice likes green tea"),
        "the seeded fact is gone: {facts:?}"
    );
}
