//! API keys bound to scopes (`auth.api_keys`): a missing or unknown key is 401, a key
//! bound to another scope 403, a bound key may use any agent and run of its user, an
//! unbound key every scope; both header forms work; health and metrics need no key.

use reqwest::Method;
use serde_json::json;

use super::{Api, add_body, send};

const KEYS: &str = r#"[
    { key = "alice-key", user_id = "alice" },
    { key = "bob-r1-key", user_id = "bob", run_id = "r1" },
    { key = "agent-key", agent_id = "planner" },
]"#;

/// How a request presents its key.
#[derive(Clone, Copy, Debug)]
enum Key {
    None,
    Bearer(&'static str),
    Header(&'static str),
    /// A raw `Authorization` value.
    Raw(&'static str),
}

fn with_key(request: reqwest::RequestBuilder, key: Key) -> reqwest::RequestBuilder {
    match key {
        Key::None => request,
        Key::Bearer(key) => request.bearer_auth(key),
        Key::Header(key) => request.header("x-api-key", key),
        Key::Raw(value) => request.header(reqwest::header::AUTHORIZATION, value),
    }
}

const OK: (u16, &str) = (200, "");
const UNAUTHORIZED: (u16, &str) = (401, "unauthorized");
const FORBIDDEN: (u16, &str) = (403, "forbidden");

/// A key, a scope, and the (status, code) expected.
type Case = (Key, Vec<(&'static str, &'static str)>, (u16, &'static str));

/// `GET /v1/memories` and `POST /v1/search` in `scope` with `key`: both must get `expected`.
async fn check(api: &Api, key: Key, scope: &[(&str, &str)], expected: (u16, &str)) {
    let listing = with_key(api.request(Method::GET, "/v1/memories").query(scope), key);
    let mut body = json!({"query": "tea"});
    for (field, value) in scope {
        body[*field] = json!(value);
    }
    let search = with_key(api.request(Method::POST, "/v1/search").json(&body), key);
    for (what, request) in [("GET /v1/memories", listing), ("POST /v1/search", search)] {
        let reply = send(request).await;
        let got = if reply.status == 200 {
            (200, String::new())
        } else {
            reply.error()
        };
        assert_eq!(
            (got.0, got.1.as_str()),
            expected,
            "{what} with {key:?} in {scope:?}: {}",
            reply.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_bound_to_scopes() {
    let api = Api::start(&[("MNEMO__AUTH__API_KEYS", KEYS.to_owned())]).await;
    assert!(
        !api.stderr().contains("no API keys configured"),
        "{}",
        api.stderr()
    );
    let alice = [("user_id", "alice")];
    let cases: Vec<Case> = vec![
        (Key::None, alice.to_vec(), UNAUTHORIZED),
        (Key::Bearer("wrong-key"), alice.to_vec(), UNAUTHORIZED),
        (Key::Header("wrong-key"), alice.to_vec(), UNAUTHORIZED),
        (Key::Bearer("alice-ke"), alice.to_vec(), UNAUTHORIZED),
        (Key::Bearer("alice-key-"), alice.to_vec(), UNAUTHORIZED),
        (Key::Raw("alice-key"), alice.to_vec(), UNAUTHORIZED),
        (Key::Raw("Basic YWxpY2Uta2V5"), alice.to_vec(), UNAUTHORIZED),
        (Key::Bearer(""), alice.to_vec(), UNAUTHORIZED),
        // A key bound to alice: any agent and run of alice, nobody else.
        (Key::Bearer("alice-key"), alice.to_vec(), OK),
        (Key::Header("alice-key"), alice.to_vec(), OK),
        (
            Key::Bearer("alice-key"),
            vec![("user_id", "alice"), ("agent_id", "a1")],
            OK,
        ),
        (
            Key::Bearer("alice-key"),
            vec![("user_id", "alice"), ("agent_id", "a1"), ("run_id", "r9")],
            OK,
        ),
        (
            Key::Bearer("alice-key"),
            vec![("user_id", "bob")],
            FORBIDDEN,
        ),
        (
            Key::Header("alice-key"),
            vec![("user_id", "bob")],
            FORBIDDEN,
        ),
        (
            Key::Bearer("alice-key"),
            vec![("user_id", "Alice")],
            FORBIDDEN,
        ),
        (
            Key::Bearer("alice-key"),
            vec![("agent_id", "a1")],
            FORBIDDEN,
        ),
        (Key::Bearer("alice-key"), vec![("run_id", "r1")], FORBIDDEN),
        // Bound to bob's run r1.
        (
            Key::Bearer("bob-r1-key"),
            vec![("user_id", "bob"), ("run_id", "r1")],
            OK,
        ),
        (
            Key::Bearer("bob-r1-key"),
            vec![("user_id", "bob"), ("agent_id", "x"), ("run_id", "r1")],
            OK,
        ),
        (
            Key::Bearer("bob-r1-key"),
            vec![("user_id", "bob")],
            FORBIDDEN,
        ),
        (
            Key::Bearer("bob-r1-key"),
            vec![("user_id", "bob"), ("run_id", "r2")],
            FORBIDDEN,
        ),
        (Key::Bearer("bob-r1-key"), vec![("run_id", "r1")], FORBIDDEN),
        // Bound to an agent: that agent, with any user.
        (Key::Bearer("agent-key"), vec![("agent_id", "planner")], OK),
        (
            Key::Bearer("agent-key"),
            vec![("user_id", "carol"), ("agent_id", "planner")],
            OK,
        ),
        (
            Key::Bearer("agent-key"),
            vec![("user_id", "carol")],
            FORBIDDEN,
        ),
    ];
    for (key, scope, expected) in cases {
        check(&api, key, &scope, expected).await;
    }

    // Writes are checked the same way, and records stay in their scope.
    let post = |key: Key, user: &'static str| {
        with_key(
            api.request(Method::POST, "/v1/memories").json(&add_body(
                user,
                "I like tea",
                json!({"infer": false}),
            )),
            key,
        )
    };
    let reply = send(post(Key::Bearer("alice-key"), "bob")).await;
    assert_eq!(reply.error(), (403, "forbidden".into()));
    let reply = send(post(Key::None, "alice")).await;
    assert_eq!(reply.error(), (401, "unauthorized".into()));
    let reply = send(post(Key::Bearer("alice-key"), "alice")).await;
    let episode = reply.ok()["episode_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/episodes/{episode}");
    let get = |key: Key, scope: &[(&str, &str)]| {
        with_key(api.request(Method::GET, &path).query(scope), key)
    };
    let reply = send(get(Key::Header("alice-key"), &alice)).await;
    assert_eq!(reply.ok()["status"], "done");
    let reply = send(get(
        Key::Bearer("bob-r1-key"),
        &[("user_id", "bob"), ("run_id", "r1")],
    ))
    .await;
    assert_eq!(
        reply.error(),
        (404, "not_found".into()),
        "bob cannot read alice's"
    );
    let reply = send(get(Key::Bearer("bob-r1-key"), &alice)).await;
    assert_eq!(reply.error(), (403, "forbidden".into()));
    let reply = send(get(Key::Bearer("alice-key"), &alice)).await;
    assert_eq!(reply.ok()["id"], episode.as_str());

    // Health, readiness and metrics need no key.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let reply = send(api.request(Method::GET, path)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    // A key is never echoed back.
    let reply = send(
        api.request(Method::GET, "/v1/memories")
            .query(&[("user_id", "bob")])
            .bearer_auth("alice-key"),
    )
    .await;
    assert!(!reply.text.contains("alice-key"), "{}", reply.text);
    assert!(!api.stderr().contains("alice-key"), "a key was logged");
}

/// "A key with no bound field may use every scope" (the contract).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_bound_to_nothing_may_use_every_scope() {
    let keys = r#"[{ key = "open-key" }, { key = "alice-key", user_id = "alice" }]"#;
    let api = Api::start(&[("MNEMO__AUTH__API_KEYS", keys.to_owned())]).await;
    let cases: Vec<Case> = vec![
        (Key::Bearer("open-key"), vec![("user_id", "alice")], OK),
        (Key::Header("open-key"), vec![("user_id", "bob")], OK),
        (Key::Bearer("open-key"), vec![("run_id", "r7")], OK),
        (
            Key::Bearer("open-key"),
            vec![("user_id", "carol"), ("agent_id", "a"), ("run_id", "r")],
            OK,
        ),
        (
            Key::Bearer("alice-key"),
            vec![("user_id", "bob")],
            FORBIDDEN,
        ),
        (Key::None, vec![("user_id", "bob")], UNAUTHORIZED),
    ];
    for (key, scope, expected) in cases {
        check(&api, key, &scope, expected).await;
    }
}
