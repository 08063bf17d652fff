//! API keys bound to scopes: 401 without a known key, 403 for a scope the key is not
//! bound to; every bound field must match, unbound fields are free. Health, readiness,
//! metrics and the OpenAPI document need no key.

use axum::body::Body;
use axum::http::{Request, header};
use mnemo_server::{ApiKeyBinding, ServerSettings};
use serde_json::json;

use crate::{App, app_with, error_of, send};

fn binding(key: &str, user: Option<&str>, agent: Option<&str>, run: Option<&str>) -> ApiKeyBinding {
    ApiKeyBinding {
        key: key.into(),
        user_id: user.map(Into::into),
        agent_id: agent.map(Into::into),
        run_id: run.map(Into::into),
    }
}

async fn keyed_app() -> App {
    let settings = ServerSettings {
        api_keys: vec![
            binding("k-alice", Some("alice"), None, None),
            binding("k-alice-a1", Some("alice"), Some("a1"), None),
            binding("k-run", None, None, Some("r1")),
            binding("k-admin", None, None, None),
        ],
        ..ServerSettings::default()
    };
    app_with(settings, false).await
}

/// How a request presents its key.
#[derive(Clone, Copy, Debug)]
enum Key {
    None,
    Bearer(&'static str),
    /// The whole `Authorization` header value.
    Authorization(&'static str),
    Header(&'static str),
}

fn with_key(mut builder: axum::http::request::Builder, key: Key) -> axum::http::request::Builder {
    match key {
        Key::None => {}
        Key::Bearer(key) => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"))
        }
        Key::Authorization(value) => builder = builder.header(header::AUTHORIZATION, value),
        Key::Header(key) => builder = builder.header("x-api-key", key),
    }
    builder
}

/// `GET /v1/memories?{scope}` with `key`: the status and, for errors, the code.
async fn check(app: &App, key: Key, scope: &str, expected: (u16, &str)) {
    let request = with_key(Request::builder().uri(format!("/v1/memories?{scope}")), key)
        .body(Body::empty())
        .unwrap();
    let reply = send(&app.state, request).await;
    let got = if reply.status == 200 {
        (200, "")
    } else {
        error_of(&reply)
    };
    assert_eq!(got, expected, "{key:?} {scope}: {reply:?}");
}

#[tokio::test]
async fn keys_are_checked_against_the_scope_they_are_bound_to() {
    let app = keyed_app().await;
    let ok = (200, "");
    let unauthorized = (401, "unauthorized");
    let forbidden = (403, "forbidden");
    let cases = [
        // No key, or an unknown one.
        (Key::None, "user_id=alice", unauthorized),
        (Key::Bearer("k-nobody"), "user_id=alice", unauthorized),
        (Key::Bearer("k-alic"), "user_id=alice", unauthorized),
        (Key::Bearer("k-alice "), "user_id=alice", ok),
        (
            Key::Authorization("Basic azphbGljZQ=="),
            "user_id=alice",
            unauthorized,
        ),
        (Key::Authorization("Bearer"), "user_id=alice", unauthorized),
        (Key::Authorization("Bearer "), "user_id=alice", unauthorized),
        (Key::Header(""), "user_id=alice", unauthorized),
        // A key bound to a user: any agent and run of that user, nobody else.
        (Key::Bearer("k-alice"), "user_id=alice", ok),
        (Key::Authorization("bearer k-alice"), "user_id=alice", ok),
        (Key::Header("k-alice"), "user_id=alice", ok),
        (
            Key::Bearer("k-alice"),
            "user_id=alice&agent_id=a9&run_id=r9",
            ok,
        ),
        (Key::Bearer("k-alice"), "user_id=bob", forbidden),
        (Key::Bearer("k-alice"), "agent_id=a1", forbidden),
        (Key::Bearer("k-alice"), "user_id=Alice", forbidden),
        // Bound to a user and an agent: both must match.
        (Key::Bearer("k-alice-a1"), "user_id=alice&agent_id=a1", ok),
        (
            Key::Bearer("k-alice-a1"),
            "user_id=alice&agent_id=a1&run_id=r",
            ok,
        ),
        (
            Key::Bearer("k-alice-a1"),
            "user_id=alice&agent_id=a2",
            forbidden,
        ),
        (Key::Bearer("k-alice-a1"), "user_id=alice", forbidden),
        // Bound to a run only.
        (Key::Bearer("k-run"), "run_id=r1", ok),
        (Key::Bearer("k-run"), "user_id=bob&run_id=r1", ok),
        (Key::Bearer("k-run"), "user_id=bob", forbidden),
        // Bound to nothing: every scope.
        (Key::Bearer("k-admin"), "user_id=bob", ok),
        (Key::Header("k-admin"), "agent_id=x&run_id=y", ok),
        // A known key still needs a valid scope.
        (Key::Bearer("k-admin"), "", (422, "invalid_scope")),
        (Key::Bearer("k-alice"), "", (422, "invalid_scope")),
    ];
    for (key, scope, expected) in cases {
        check(&app, key, scope, expected).await;
    }
}

#[tokio::test]
async fn body_scopes_are_checked_too_and_401_comes_before_anything_else() {
    let app = keyed_app().await;
    let search = |key: Key, body: &str| {
        with_key(
            Request::builder()
                .method("POST")
                .uri("/v1/search")
                .header(header::CONTENT_TYPE, "application/json"),
            key,
        )
        .body(Body::from(body.to_owned()))
        .unwrap()
    };
    let cases = [
        (
            Key::Bearer("k-alice"),
            r#"{"query":"x","user_id":"alice"}"#,
            (200, ""),
        ),
        (
            Key::Bearer("k-alice"),
            r#"{"query":"x","user_id":"bob"}"#,
            (403, "forbidden"),
        ),
        (
            Key::None,
            r#"{"query":"x","user_id":"alice"}"#,
            (401, "unauthorized"),
        ),
        (Key::None, "{not json", (401, "unauthorized")),
        (
            Key::Bearer("k-nobody"),
            r#"{"unknown":1}"#,
            (401, "unauthorized"),
        ),
        (Key::Bearer("k-alice"), "{not json", (400, "malformed_json")),
    ];
    for (key, body, expected) in cases {
        let reply = send(&app.state, search(key, body)).await;
        let got = if reply.status == 200 {
            (200, "")
        } else {
            error_of(&reply)
        };
        assert_eq!(got, expected, "{key:?} {body}: {reply:?}");
        if expected.0 == 401 {
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        }
    }

    // A record fetched by id belongs to the request's scope: another scope's is not found,
    // even for a key that may read both scopes.
    let added = app_post_as(
        &app,
        "k-admin",
        "/v1/memories",
        json!({
            "messages": [{"role": "user", "content": "Alice likes tea"}],
            "user_id": "alice",
            "infer": false,
        }),
    )
    .await;
    assert_eq!(added.status, 200, "{added:?}");
    let episode = added.body["episode_id"].as_str().unwrap().to_owned();
    let fact = added.body["facts"]["added"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (uri, expected) in [
        (format!("/v1/episodes/{episode}?user_id=alice"), 200),
        (format!("/v1/episodes/{episode}?user_id=bob"), 404),
        (
            format!("/v1/episodes/{episode}?user_id=alice&run_id=r1"),
            404,
        ),
        (format!("/v1/memories/{fact}?user_id=alice"), 200),
        (format!("/v1/memories/{fact}?user_id=bob"), 404),
    ] {
        let request = with_key(Request::builder().uri(&uri), Key::Bearer("k-admin"))
            .body(Body::empty())
            .unwrap();
        let reply = send(&app.state, request).await;
        assert_eq!(reply.status, expected, "{uri}: {reply:?}");
    }
}

async fn app_post_as(
    app: &App,
    key: &'static str,
    uri: &str,
    body: serde_json::Value,
) -> crate::Reply {
    let request = with_key(
        Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json"),
        Key::Bearer(key),
    )
    .body(Body::from(body.to_string()))
    .unwrap();
    send(&app.state, request).await
}

#[tokio::test]
async fn operational_endpoints_need_no_key() {
    let app = keyed_app().await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
}
