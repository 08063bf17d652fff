//! Every error status of the contract, each with its stable code and the error shape
//! `{"error":{"code","message"}}`: 400 malformed JSON, 415, 422 (unknown field, wrong
//! type, bad value, missing or bad scope), 413 over a small configured body limit, 404
//! (routes, unknown ids, another scope's records), 405, and 409 `llm_not_configured`.

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::{Api, add_body, fresh_user, send};

const JSON: &str = "application/json";
/// The body limit the server under test is configured with.
const LIMIT: usize = 4096;
/// A well-formed id no record has.
const UNKNOWN: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

/// One request and the (status, code) pairs it may get (usually exactly one).
struct Case {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Option<String>,
    expected: &'static [(u16, &'static str)],
}

fn case(method: Method, path: &str, expected: &'static [(u16, &'static str)]) -> Case {
    Case {
        method,
        path: path.to_owned(),
        content_type: None,
        body: None,
        expected,
    }
}

fn with_body(
    method: Method,
    path: &str,
    content_type: &'static str,
    body: impl Into<String>,
    expected: &'static [(u16, &'static str)],
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        content_type: Some(content_type),
        body: Some(body.into()),
        expected,
    }
}

fn json_body(
    method: Method,
    path: &str,
    body: Value,
    expected: &'static [(u16, &'static str)],
) -> Case {
    with_body(method, path, JSON, body.to_string(), expected)
}

const MALFORMED: &[(u16, &str)] = &[(400, "malformed_json")];
const MEDIA_TYPE: &[(u16, &str)] = &[(415, "unsupported_media_type")];
const INVALID: &[(u16, &str)] = &[(422, "invalid_request")];
const SCOPE: &[(u16, &str)] = &[(422, "invalid_scope")];
const NOT_FOUND: &[(u16, &str)] = &[(404, "not_found")];
const METHOD: &[(u16, &str)] = &[(405, "method_not_allowed")];
const TOO_LARGE: &[(u16, &str)] = &[(413, "payload_too_large")];
const NO_LLM: &[(u16, &str)] = &[(409, "llm_not_configured")];
const OK: &[(u16, &str)] = &[(200, "")];

async fn check(api: &Api, case: Case) {
    let what = format!(
        "{} {} {}",
        case.method,
        case.path,
        case.body
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(120)
            .collect::<String>()
    );
    let mut request = api.request(case.method, &case.path);
    if let Some(content_type) = case.content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    if let Some(body) = case.body {
        request = request.body(body);
    }
    let reply = send(request).await;
    if case.expected == OK {
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        return;
    }
    assert!(
        reply.content_type.starts_with(JSON),
        "{what}: content type {:?}, body {:?}",
        reply.content_type,
        reply.text
    );
    let (status, code) = reply.error();
    assert!(
        case.expected.iter().any(|&(s, c)| s == status && c == code),
        "{what}: got {status} {code:?} ({}), expected one of {:?}",
        reply.text,
        case.expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_has_its_code_and_shape() {
    let api = Api::start(&[("MNEMO__SERVER__MAX_BODY_BYTES", LIMIT.to_string())]).await;
    let user = fresh_user("alice");
    // A fact and an episode of `user`, for the by-id cases.
    let added = api
        .post(
            "/v1/memories",
            &add_body(&user, "I like tea", json!({"infer": false})),
        )
        .await;
    let added = added.ok().clone();
    let fact = added["facts"]["added"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let episode = added["episode_id"].as_str().unwrap().to_owned();
    let other = fresh_user("mallory");

    let search = |extra: Value| {
        let mut body = json!({"query": "tea", "user_id": user});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let plain = |extra: Value| {
        add_body(&user, "hello", {
            let mut e = json!({"infer": false});
            e.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            e
        })
    };
    let triplet = |relation: &str, valid: Value| {
        let mut t = json!({"source": {"name": "A"}, "relation": relation, "target": {"name": "B"}});
        t.as_object_mut()
            .unwrap()
            .extend(valid.as_object().unwrap().clone());
        json!({"user_id": user, "relations": [t]})
    };
    let u = user.as_str();
    let cases = vec![
        // 400: the body is not JSON, or not an object.
        with_body(Method::POST, "/v1/search", JSON, "{not json", MALFORMED),
        with_body(Method::POST, "/v1/search", JSON, "[1, 2]", MALFORMED),
        with_body(Method::POST, "/v1/search", JSON, "\"tea\"", MALFORMED),
        with_body(Method::POST, "/v1/search", JSON, "", MALFORMED),
        with_body(
            Method::POST,
            "/v1/memories",
            JSON,
            "{\"messages\": [",
            MALFORMED,
        ),
        // 415: a body that is not JSON.
        with_body(
            Method::POST,
            "/v1/search",
            "text/plain",
            search(json!({})).to_string(),
            MEDIA_TYPE,
        ),
        with_body(
            Method::POST,
            "/v1/memories",
            "application/x-www-form-urlencoded",
            "a=b",
            MEDIA_TYPE,
        ),
        with_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            "text/xml",
            "<a/>",
            MEDIA_TYPE,
        ),
        // 422: unknown fields, wrong types, bad values.
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"bogus": 1})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"query": 5})),
            INVALID,
        ),
        json_body(Method::POST, "/v1/search", json!({"user_id": u}), INVALID),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"query": "  "})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"limit": 0})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"limit": 1000})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"limit": -1})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"depth": 4})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"as_of": "yesterday"})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"known_at": "2024-02-30T00:00:00Z"})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"include": ["everything"]})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"query_entities": "magic"})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"messages": []})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"messages": [{"role": "user"}]})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"messages": [{"role": "user", "content": "  "}]})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"messages": [{"role": "user", "content": "x", "name": "y"}]})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"metadata": [1]})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"occurred_at": "2024-13-01T00:00:00Z"})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"infer": "no"})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"idempotency_key": ""})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/relations",
            triplet("lives.in", json!({})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/relations",
            triplet(
                "LIVES_IN",
                json!({"valid_from": "2024-01-01T00:00:00Z", "valid_to": "2023-01-01T00:00:00Z"}),
            ),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/relations",
            triplet("LIVES_IN", json!({"weight": 1})),
            INVALID,
        ),
        json_body(
            Method::POST,
            "/v1/relations",
            json!({"user_id": u, "relations": []}),
            INVALID,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            json!({"user_id": u, "text": ""}),
            INVALID,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            json!({"user_id": u}),
            INVALID,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            json!({"user_id": u, "text": "x", "score": 1}),
            INVALID,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            json!({"user_id": u, "text": "x", "metadata": "x"}),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/memories?user_id={u}&limit=1001"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/memories?user_id={u}&limit=1000"),
            OK,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/entities?user_id={u}&limit=1001"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/memories?user_id={u}&limit=0"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/memories?user_id={u}&limit=abc"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/entities?user_id={u}&offset=-1"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/entities?user_id={u}&bogus=1"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/relations?user_id={u}&include_invalid=maybe"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/relations?user_id={u}&as_of=yesterday"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/relations?user_id={u}&relation=lives.in"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/subgraph?user_id={u}&entity=tea&depth=9"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/subgraph?user_id={u}"),
            INVALID,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/changes?user_id={u}&since=nope"),
            INVALID,
        ),
        // 422: no scope, or a bad one.
        json_body(Method::POST, "/v1/search", json!({"query": "tea"}), SCOPE),
        json_body(
            Method::POST,
            "/v1/search",
            json!({"query": "tea", "user_id": ""}),
            SCOPE,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            json!({"query": "tea", "run_id": "   "}),
            SCOPE,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            json!({"query": "tea", "agent_id": "a".repeat(300)}),
            SCOPE,
        ),
        json_body(
            Method::POST,
            "/v1/memories",
            json!({"messages": [{"role": "user", "content": "x"}], "infer": false}),
            SCOPE,
        ),
        json_body(
            Method::POST,
            "/v1/relations",
            json!({"relations": [{"source": {"name": "A"}, "relation": "KNOWS", "target": {"name": "B"}}]}),
            SCOPE,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            json!({"text": "x"}),
            SCOPE,
        ),
        case(Method::GET, "/v1/memories", SCOPE),
        case(Method::GET, "/v1/memories?user_id=", SCOPE),
        case(Method::DELETE, "/v1/memories", SCOPE),
        case(Method::GET, &format!("/v1/memories/{fact}"), SCOPE),
        case(Method::GET, &format!("/v1/episodes/{episode}"), SCOPE),
        case(Method::GET, "/v1/graph/entities", SCOPE),
        case(Method::GET, "/v1/graph/relations?entity=tea", SCOPE),
        case(Method::GET, "/v1/graph/subgraph?entity=tea", SCOPE),
        case(
            Method::GET,
            "/v1/graph/changes?since=2024-01-01T00:00:00Z&until=2025-01-01T00:00:00Z",
            SCOPE,
        ),
        // 413: over the configured limit (and just under it is fine).
        json_body(
            Method::POST,
            "/v1/memories",
            plain(json!({"messages": [{"role": "user", "content": "x".repeat(LIMIT)}]})),
            TOO_LARGE,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"query": "tea ".repeat(LIMIT / 4)})),
            TOO_LARGE,
        ),
        json_body(
            Method::POST,
            "/v1/search",
            search(json!({"query": "tea ".repeat(LIMIT / 5)})),
            OK,
        ),
        // 404: unknown ids, other scopes' records, unknown routes.
        case(
            Method::GET,
            &format!("/v1/episodes/{UNKNOWN}?user_id={u}"),
            NOT_FOUND,
        ),
        case(
            Method::DELETE,
            &format!("/v1/episodes/{UNKNOWN}?user_id={u}"),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/memories/{UNKNOWN}?user_id={u}"),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/memories/{UNKNOWN}/history?user_id={u}"),
            NOT_FOUND,
        ),
        case(
            Method::DELETE,
            &format!("/v1/memories/{UNKNOWN}?user_id={u}"),
            NOT_FOUND,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{UNKNOWN}"),
            json!({"user_id": u, "text": "x"}),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/entities/{UNKNOWN}?user_id={u}"),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/episodes/{episode}?user_id={other}"),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/episodes/{episode}?user_id={u}&agent_id=planner"),
            NOT_FOUND,
        ),
        case(
            Method::DELETE,
            &format!("/v1/episodes/{episode}?user_id={other}"),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/memories/{fact}?user_id={other}"),
            NOT_FOUND,
        ),
        json_body(
            Method::PUT,
            &format!("/v1/memories/{fact}"),
            json!({"user_id": other, "text": "x"}),
            NOT_FOUND,
        ),
        case(
            Method::DELETE,
            &format!("/v1/memories/{fact}?user_id={other}"),
            NOT_FOUND,
        ),
        case(
            Method::GET,
            &format!("/v1/graph/subgraph?user_id={u}&entity=Atlantis"),
            NOT_FOUND,
        ),
        case(Method::GET, "/v1/nothing-here", NOT_FOUND),
        case(Method::GET, "/nothing-here", NOT_FOUND),
        case(Method::GET, "/v2/memories", NOT_FOUND),
        case(
            Method::GET,
            &format!("/v1/memories/{fact}/history/more?user_id={u}"),
            NOT_FOUND,
        ),
        // An id that is not an id: no such record, or a bad value.
        case(
            Method::GET,
            &format!("/v1/episodes/not-an-id?user_id={u}"),
            &[(404, "not_found"), (422, "invalid_request")],
        ),
        // 405: a known path, another method.
        case(Method::DELETE, "/v1/search", METHOD),
        case(Method::GET, "/v1/search", METHOD),
        case(Method::PUT, "/v1/memories", METHOD),
        case(Method::POST, "/v1/graph/entities", METHOD),
        case(Method::PATCH, &format!("/v1/memories/{fact}"), METHOD),
        case(Method::POST, &format!("/v1/episodes/{episode}"), METHOD),
        // 503: needs the LLM, which is not configured.
        json_body(
            Method::POST,
            "/v1/memories",
            add_body(u, "I like tea", json!({})),
            NO_LLM,
        ),
    ];
    let n = cases.len();
    for case in cases {
        check(&api, case).await;
    }
    // The records used above are untouched by the failed requests.
    let reply = api
        .get(&format!("/v1/memories/{fact}"), &[("user_id", u)])
        .await;
    assert_eq!(reply.ok()["text"], "I like tea");
    let reply = api
        .get(&format!("/v1/episodes/{episode}"), &[("user_id", u)])
        .await;
    assert_eq!(reply.ok()["status"], "done");
    assert!(n > 80, "{n} cases");
}
