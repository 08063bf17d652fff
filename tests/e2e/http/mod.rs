//! End-to-end over HTTP: the real `mnemo serve` (started on port 0 by [`Server`]) driven
//! with reqwest through the wire contract of DESIGN §6 and the session's contract notes:
//! the write scenarios, the temporal queries, facts, erasure, async adds, auth, every
//! error status, OpenAPI, metrics, and shutdown with an episode in flight.
//!
//! The LLM is `mnemo_testkit::scripted_llm::ScriptedLlm` on a real socket, reached
//! through `MNEMO__LLM__BASE_URL`. Each server start loads the model (about a second),
//! so each test groups its cases on one server, each case in a scope of its own.

mod auth;
mod corrupt;
mod errors;
mod facts;
mod lifecycle;
mod ops;
mod temporal;
mod write;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mnemo_core::Timestamp;
use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm, ScriptedRequest};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{PATIENCE, Server};

/// The keys of a relation in any response.
pub const RELATION_KEYS: &[&str] = &[
    "id",
    "source",
    "relation",
    "target",
    "fact",
    "valid_from",
    "valid_to",
    "recorded_at",
    "invalidated_at",
    "invalidated_by",
    "retracted_at",
    "episodes",
    "mentions",
];

/// The keys of a fact in any response.
pub const FACT_KEYS: &[&str] = &[
    "id",
    "text",
    "metadata",
    "created_at",
    "updated_at",
    "episodes",
];

/// The keys of an entity reference in any response.
pub const ENTITY_REF_KEYS: &[&str] = &["id", "name", "type"];

/// A running server and a client for it.
pub struct Api {
    pub server: Server,
    client: reqwest::Client,
    base: String,
}

/// One HTTP answer: status, parsed JSON body (`Null` when empty) and raw text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub content_type: String,
}

impl Answer {
    /// `(status, error code)` of an error answer, asserting the error shape
    /// `{"error":{"code","message"}}` with nothing else.
    #[track_caller]
    pub fn error(&self) -> (u16, String) {
        assert_keys(&self.body, &["error"], "error body");
        assert_keys(&self.body["error"], &["code", "message"], "error");
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "empty error message: {}", self.text);
        (
            self.status,
            self.body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }

    /// The body of a 200 answer.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.text
        );
        &self.body
    }
}

/// Environment for a server whose LLM is `llm`: no retries, so failures are quick.
pub fn llm_vars(llm: &ScriptedLlm) -> Vec<(&'static str, String)> {
    vec![
        ("MNEMO__LLM__BASE_URL", llm.base_url()),
        ("MNEMO__LLM__MODEL", "scripted".to_owned()),
        ("MNEMO__LLM__MAX_RETRIES", "0".to_owned()),
        ("MNEMO__LLM__TIMEOUT_S", "20".to_owned()),
    ]
}

impl Api {
    /// Starts `mnemo serve` with these variables and waits until `/readyz` says ready.
    pub async fn start(vars: &[(&str, String)]) -> Api {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = tokio::task::block_in_place(|| {
            let server = Server::start(&vars);
            let ready = server.wait_ready();
            assert_eq!(
                ready.status,
                200,
                "not ready: {}; stderr:\n{}",
                ready.body,
                server.stderr.lock().unwrap()
            );
            server
        });
        let base = format!("http://{}", server.addr);
        Api {
            server,
            client: client(),
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to build on (headers, raw bodies); send it with [`send`].
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self.request(method, path).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        send(request).await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::PUT, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.call(Method::DELETE, path, query, None).await
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.server.stderr.lock().unwrap().clone()
    }

    /// Polls `GET /v1/episodes/{id}` until the episode is no longer `pending`.
    pub async fn episode_settled(&self, id: &str, user: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let episode = self
                .get(&format!("/v1/episodes/{id}"), &[("user_id", user)])
                .await;
            let body = episode.ok().clone();
            if body["status"] != "pending" || Instant::now() > deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The whole timeline of `entity` (`include_invalid=true`) as lines.
    pub async fn timeline(&self, user: &str, query: &[(&str, &str)]) -> Vec<String> {
        let mut all = vec![("user_id", user), ("include_invalid", "true")];
        all.extend_from_slice(query);
        let reply = self.get("/v1/graph/relations", &all).await;
        let body = reply.ok();
        assert_keys(body, &["relations"], "timeline");
        body["relations"]
            .as_array()
            .unwrap()
            .iter()
            .map(timeline_line)
            .collect()
    }
}

/// An HTTP client for plain `http://` on loopback. reqwest is built with
/// `rustls-no-provider` (the binary's TLS setup), so a crypto provider must be installed
/// before any client is built, even one that never speaks TLS.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("an HTTP client")
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a response body");
    let body = if text.is_empty() {
        Value::Null
    } else if content_type.starts_with("application/json") {
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
    } else {
        Value::Null
    };
    Answer {
        status,
        body,
        text,
        content_type,
    }
}

/// A user id no other case of the same server uses.
pub fn fresh_user(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Asserts that `value` is an object with exactly these keys.
#[track_caller]
pub fn assert_keys(value: &Value, expected: &[&str], what: &str) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    let mut got: Vec<&str> = object.keys().map(String::as_str).collect();
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "keys of {what}: {value}");
}

/// An RFC 3339 timestamp in UTC.
#[track_caller]
pub fn timestamp(value: &Value, what: &str) -> Timestamp {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    assert!(
        text.ends_with('Z') || text.ends_with("+00:00"),
        "{what} is not in UTC: {text}"
    );
    text.parse()
        .unwrap_or_else(|err| panic!("{what} is not RFC 3339 ({err}): {text}"))
}

#[track_caller]
pub fn optional_timestamp(value: &Value, what: &str) -> Option<Timestamp> {
    (!value.is_null()).then(|| timestamp(value, what))
}

/// The date at midnight UTC, as the wire writes it.
pub fn day(date: &str) -> Timestamp {
    format!("{date}T00:00:00Z").parse().unwrap()
}

/// Checks the wire shape of an entity reference.
#[track_caller]
pub fn check_entity_ref(entity: &Value) {
    assert_keys(entity, ENTITY_REF_KEYS, "entity reference");
    for key in ENTITY_REF_KEYS {
        assert!(entity[key].is_string(), "{key} of {entity}");
    }
}

/// Checks the wire shape of a relation with `extra` keys (`score`, `status`, …) on top.
#[track_caller]
pub fn check_relation(relation: &Value, extra: &[&str]) {
    let mut keys = RELATION_KEYS.to_vec();
    keys.extend_from_slice(extra);
    assert_keys(relation, &keys, "relation");
    check_entity_ref(&relation["source"]);
    check_entity_ref(&relation["target"]);
    for key in ["id", "relation", "fact"] {
        assert!(relation[key].is_string(), "{key} of {relation}");
    }
    timestamp(&relation["recorded_at"], "recorded_at");
    for key in ["valid_from", "valid_to", "invalidated_at", "retracted_at"] {
        optional_timestamp(&relation[key], key);
    }
    assert!(
        relation["invalidated_by"].is_null() || relation["invalidated_by"].is_string(),
        "invalidated_by of {relation}"
    );
    assert!(relation["episodes"].is_array(), "episodes of {relation}");
    assert!(
        relation["mentions"].as_u64().is_some(),
        "mentions of {relation}"
    );
}

/// Checks the wire shape of a fact with `extra` keys on top.
#[track_caller]
pub fn check_fact(fact: &Value, extra: &[&str]) {
    let mut keys = FACT_KEYS.to_vec();
    keys.extend_from_slice(extra);
    assert_keys(fact, &keys, "fact");
    assert!(fact["id"].is_string() && fact["text"].is_string(), "{fact}");
    assert!(fact["metadata"].is_object(), "metadata of {fact}");
    timestamp(&fact["created_at"], "created_at");
    timestamp(&fact["updated_at"], "updated_at");
    assert!(fact["episodes"].is_array(), "episodes of {fact}");
}

/// "SOURCE RELATION TARGET", names as displayed.
#[track_caller]
pub fn line(relation: &Value) -> String {
    format!(
        "{} {} {}",
        relation["source"]["name"].as_str().unwrap(),
        relation["relation"].as_str().unwrap(),
        relation["target"]["name"].as_str().unwrap()
    )
}

/// Every relation of a list as a line, sorted.
#[track_caller]
pub fn lines(relations: &Value) -> Vec<String> {
    let mut out: Vec<String> = relations
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {relations}"))
        .iter()
        .map(line)
        .collect();
    out.sort();
    out
}

/// A timeline entry: "SOURCE RELATION TARGET [status]" or "… [status, ended by TARGET]",
/// after checking its shape.
#[track_caller]
pub fn timeline_line(entry: &Value) -> String {
    check_relation(entry, &["status", "ended_by"]);
    let status = entry["status"].as_str().unwrap();
    assert!(
        ["valid", "not_yet_valid", "ended", "retracted"].contains(&status),
        "status {status}"
    );
    match &entry["ended_by"] {
        Value::Null => format!("{} [{status}]", line(entry)),
        ender => {
            check_relation(ender, &[]);
            assert_eq!(
                entry["invalidated_by"], ender["id"],
                "ended_by is invalidated_by"
            );
            format!(
                "{} [{status}, ended by {}]",
                line(entry),
                ender["target"]["name"].as_str().unwrap()
            )
        }
    }
}

/// Checks the shape of an add result and returns it.
#[track_caller]
pub fn check_add_result(result: &Value) -> &Value {
    let mut keys = vec![
        "episode_id",
        "status",
        "relations",
        "facts",
        "llm_usage",
        "duplicate",
    ];
    if result["status"] == "failed" {
        keys.push("reason");
    }
    assert_keys(result, &keys, "add result");
    assert!(result["episode_id"].is_string(), "{result}");
    assert!(result["duplicate"].is_boolean(), "{result}");
    assert_keys(
        &result["relations"],
        &["added", "updated", "invalidated", "retracted", "skipped"],
        "relations of an add result",
    );
    for list in ["added", "updated", "invalidated", "retracted"] {
        for relation in result["relations"][list].as_array().unwrap() {
            check_relation(relation, &[]);
        }
    }
    assert_keys(
        &result["facts"],
        &["added", "updated", "deleted"],
        "facts of an add result",
    );
    for list in ["added", "updated"] {
        for fact in result["facts"][list].as_array().unwrap() {
            check_fact(fact, &[]);
        }
    }
    for id in result["facts"]["deleted"].as_array().unwrap() {
        assert!(id.is_string(), "deleted fact id {id}");
    }
    assert_keys(
        &result["llm_usage"],
        &["calls", "prompt_tokens", "completion_tokens"],
        "llm_usage",
    );
    result
}

/// `{"messages":[{"role":"user","content":say}],"user_id":user, …extra}`.
pub fn add_body(user: &str, say: &str, extra: Value) -> Value {
    let mut body = json!({
        "messages": [{"role": "user", "content": say}],
        "user_id": user,
    });
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    body
}

/// Answers what no rule scripts: nothing found on the graph and facts paths, a summary
/// for the background refresh, and a refusal (400, not retried) for anything else, so
/// an unscripted conflict or memory update fails its episode loudly.
pub fn answer_the_rest(llm: &ScriptedLlm) {
    llm.respond_with(|request: &ScriptedRequest| match request.tool.as_str() {
        "extract_entities" => Reply::json(json!({"entities": []})),
        "establish_relations" => Reply::json(json!({"relations": []})),
        "extract_facts" => Reply::json(json!({"facts": []})),
        "summarize_conversation" => Reply::json(json!({"summary": "A user of mnemo."})),
        _ => Reply::status(400),
    });
}
