//! Every error comes back as `{"error":{"code","message"}}` with its status and stable
//! code; bad input is told apart (400 not JSON, 415 not a JSON content type, 422 bad
//! fields, 413 too large); 5xx messages name no internals.

use axum::body::Body;
use axum::http::{Request, header};
use axum::response::IntoResponse as _;
use mnemo_core::llm::LlmError;
use mnemo_core::{EmbedError, LlmUsage, MemoryError, StoreError, ValidationError};
use mnemo_server::{ApiError, AppState, ServerSettings};
use mnemo_testkit::scripted_llm::Reply as LlmReply;
use serde_json::json;

use crate::{app, app_with, app_with_llm, error_of, fresh_user, request, send};

#[tokio::test]
async fn unknown_routes_and_methods_use_our_error_shape() {
    let cases = [
        ("GET", "/nope", 404, "not_found", "no route for GET /nope"),
        (
            "GET",
            "/v1/nope",
            404,
            "not_found",
            "no route for GET /v1/nope",
        ),
        (
            "GET",
            "/healthz/",
            404,
            "not_found",
            "no route for GET /healthz/",
        ),
        (
            "POST",
            "/healthz",
            405,
            "method_not_allowed",
            "method POST is not allowed on /healthz",
        ),
        (
            "PUT",
            "/readyz",
            405,
            "method_not_allowed",
            "method PUT is not allowed on /readyz",
        ),
        (
            "PATCH",
            "/v1/memories",
            405,
            "method_not_allowed",
            "method PATCH is not allowed on /v1/memories",
        ),
        (
            "GET",
            "/v1/search",
            405,
            "method_not_allowed",
            "method GET is not allowed on /v1/search",
        ),
        (
            "POST",
            "/v1/episodes/0190c1a2-7f00-7000-8000-000000000000",
            405,
            "method_not_allowed",
            "method POST is not allowed on /v1/episodes/0190c1a2-7f00-7000-8000-000000000000",
        ),
    ];
    let state = AppState::new();
    for (method, uri, status, code, message) in cases {
        let reply = send(&state, request(method, uri)).await;
        assert_eq!(
            (reply.status.as_u16(), reply.body),
            (status, json!({"error": {"code": code, "message": message}})),
            "{method} {uri}"
        );
        assert_eq!(
            reply.headers["content-type"], "application/json",
            "{method} {uri}"
        );
    }
}

/// An error, its status and code, and the message clients see.
async fn check_mapping(error: ApiError, status: u16, code: &str, message: &str) {
    let shown = format!("{error:?}");
    let (expected_status, expected_code) = error.status_and_code();
    assert_eq!(
        (expected_status.as_u16(), expected_code),
        (status, code),
        "{shown}"
    );
    let response = error.into_response();
    assert_eq!(response.status().as_u16(), status, "{shown}");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
        json!({"error": {"code": code, "message": message}}),
        "{shown}"
    );
}

#[tokio::test]
async fn errors_map_to_status_code_and_body() {
    let unavailable = "service unavailable, try again later";
    let cases: Vec<(ApiError, u16, &str, &str)> = vec![
        (
            ApiError::RouteNotFound {
                method: axum::http::Method::GET,
                path: "/x".into(),
            },
            404,
            "not_found",
            "no route for GET /x",
        ),
        (
            ApiError::MethodNotAllowed {
                method: axum::http::Method::PATCH,
                path: "/readyz".into(),
            },
            405,
            "method_not_allowed",
            "method PATCH is not allowed on /readyz",
        ),
        (
            ApiError::NotReady,
            503,
            "not_ready",
            "mnemo is starting up and cannot serve this request yet",
        ),
        (
            ApiError::PayloadTooLarge { limit: 10 },
            413,
            "payload_too_large",
            "the request body is larger than the limit of 10 bytes",
        ),
        (ApiError::Forbidden("no".into()), 403, "forbidden", "no"),
        // From the core's errors: each variant to its status, 5xx causes never shown.
        (
            MemoryError::Invalid(ValidationError::EmptyScope).into(),
            422,
            "invalid_scope",
            "scope needs at least one of user_id, agent_id, run_id",
        ),
        (
            MemoryError::Invalid(ValidationError::BadScopeField { field: "run_id" }).into(),
            422,
            "invalid_scope",
            "scope field `run_id` must be 1 to 256 characters, not only white space, and free of control characters",
        ),
        (
            MemoryError::Invalid(ValidationError::Request("limit is odd".into())).into(),
            422,
            "invalid_request",
            "limit is odd",
        ),
        (
            MemoryError::Invalid(ValidationError::RelationType("x".into())).into(),
            422,
            "invalid_request",
            "invalid relation type `x`: expected an UPPER_SNAKE_CASE name: words of ASCII letters and digits separated by spaces, `-` or `_`, the first starting with a letter, at most 64 characters",
        ),
        (
            MemoryError::NotFound {
                kind: "fact",
                id: "f1".into(),
            }
            .into(),
            404,
            "not_found",
            "fact `f1` not found",
        ),
        (
            MemoryError::Store(StoreError::NotFound {
                kind: "entity",
                id: "e1".into(),
            })
            .into(),
            404,
            "not_found",
            "entity `e1` not found",
        ),
        (
            MemoryError::Store(StoreError::Invalid(ValidationError::EmptyScope)).into(),
            422,
            "invalid_scope",
            "scope needs at least one of user_id, agent_id, run_id",
        ),
        (
            MemoryError::Store(StoreError::Conflict("name `alice` is taken".into())).into(),
            409,
            "conflict",
            "name `alice` is taken",
        ),
        (
            MemoryError::LlmNotConfigured.into(),
            409,
            "llm_not_configured",
            "no LLM is configured; use infer: false or configure llm.base_url and llm.model",
        ),
        (
            MemoryError::Llm(LlmError::Unavailable {
                attempts: 3,
                reason: "connect to 10.0.0.7:8000 refused".into(),
                usage: LlmUsage::default(),
            })
            .into(),
            503,
            "unavailable",
            unavailable,
        ),
        (
            MemoryError::Embed(EmbedError::Inference("onnx session poisoned".into())).into(),
            503,
            "unavailable",
            unavailable,
        ),
        (
            MemoryError::Store(StoreError::Backend("sqlite: disk I/O error".into())).into(),
            503,
            "unavailable",
            unavailable,
        ),
        (
            MemoryError::Store(StoreError::Corrupt("row 7 of relations".into())).into(),
            500,
            "internal",
            "internal error",
        ),
    ];
    for (error, status, code, message) in cases {
        check_mapping(error, status, code, message).await;
    }
}

#[tokio::test]
async fn unauthorized_answers_say_how_to_authenticate() {
    let response = ApiError::Unauthorized("missing API key".into()).into_response();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

/// A request with a raw body and content type (`None`: no content-type header).
fn raw(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

struct Case {
    method: &'static str,
    uri: String,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    code: &'static str,
    /// The message must contain each of these.
    says: Vec<&'static str>,
}

fn case(
    method: &'static str,
    uri: &str,
    body: &str,
    status: u16,
    code: &'static str,
    says: &'static [&'static str],
) -> Case {
    Case {
        method,
        uri: uri.to_owned(),
        content_type: Some("application/json"),
        body: body.to_owned(),
        status,
        code,
        says: says.to_vec(),
    }
}

async fn check_cases(state: &AppState, cases: Vec<Case>) {
    for case in cases {
        let label = format!(
            "{} {} {:?} {}",
            case.method, case.uri, case.content_type, case.body
        );
        let reply = send(
            state,
            raw(case.method, &case.uri, case.content_type, &case.body),
        )
        .await;
        assert_eq!(
            error_of(&reply),
            (case.status, case.code),
            "{label}: {reply:?}"
        );
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        for part in &case.says {
            assert!(
                message.contains(part),
                "{label}: {message:?} lacks {part:?}"
            );
        }
    }
}

#[tokio::test]
async fn bad_bodies_and_query_strings_are_told_apart() {
    let app = app().await;
    let search = "/v1/search";
    let add = "/v1/memories";
    let none = "00000000-0000-7000-8000-000000000000";
    let mut cases = vec![
        // Not JSON, or not an object: 400.
        case(
            "POST",
            search,
            "{not json",
            400,
            "malformed_json",
            &["not valid JSON"],
        ),
        case("POST", search, "", 400, "malformed_json", &["EOF"]),
        case(
            "POST",
            search,
            "[1, 2]",
            400,
            "malformed_json",
            &["must be a JSON object"],
        ),
        case(
            "POST",
            search,
            "\"query\"",
            400,
            "malformed_json",
            &["must be a JSON object"],
        ),
        // Unknown fields, wrong types, bad values: 422 with the field's path.
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"u","colour":1}"#,
            422,
            "invalid_request",
            &["unknown field `colour`"],
        ),
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"u","limit":"ten"}"#,
            422,
            "invalid_request",
            &["limit: invalid type: string \"ten\""],
        ),
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"u","include":["everything"]}"#,
            422,
            "invalid_request",
            &["include[0]: unknown variant `everything`"],
        ),
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"u","as_of":"yesterday"}"#,
            422,
            "invalid_request",
            &["as_of: "],
        ),
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"u","depth":300}"#,
            422,
            "invalid_request",
            &["depth: invalid value: integer `300`"],
        ),
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"u","depth":9}"#,
            422,
            "invalid_request",
            &["depth must be between 1 and 3, got 9"],
        ),
        case(
            "POST",
            search,
            r#"{"query":"  ","user_id":"u"}"#,
            422,
            "invalid_request",
            &["query must not be empty"],
        ),
        case(
            "POST",
            search,
            r#"{"user_id":"u"}"#,
            422,
            "invalid_request",
            &["missing field `query`"],
        ),
        case(
            "POST",
            add,
            r#"{"messages":[{"role":"user","text":"hi"}],"user_id":"u"}"#,
            422,
            "invalid_request",
            &["messages[0]", "unknown field `text`"],
        ),
        case(
            "POST",
            add,
            r#"{"messages":[],"user_id":"u","infer":false}"#,
            422,
            "invalid_request",
            &["messages must not be empty"],
        ),
        case(
            "POST",
            add,
            r#"{"messages":[{"role":"user","content":"hi"}],"user_id":"u","infer":false,"metadata":[1]}"#,
            422,
            "invalid_request",
            &["metadata must be a JSON object"],
        ),
        case(
            "POST",
            "/v1/relations",
            r#"{"relations":[{"source":{"name":"A"},"relation":"LIVES_IN; DROP","target":{"name":"B"}}],"user_id":"u"}"#,
            422,
            "invalid_request",
            &["relations[0]", "invalid relation type `LIVES_IN; DROP`"],
        ),
        // Scope: none, or a bad one.
        case(
            "POST",
            search,
            r#"{"query":"x"}"#,
            422,
            "invalid_scope",
            &["at least one of"],
        ),
        case(
            "POST",
            search,
            r#"{"query":"x","user_id":"  "}"#,
            422,
            "invalid_scope",
            &["user_id"],
        ),
        case(
            "GET",
            "/v1/memories",
            "",
            422,
            "invalid_scope",
            &["at least one of"],
        ),
        case(
            "GET",
            &format!("/v1/memories?run_id={}", "r".repeat(300)),
            "",
            422,
            "invalid_scope",
            &["run_id"],
        ),
        // Query strings.
        case(
            "GET",
            "/v1/memories?user_id=u&limit=0",
            "",
            422,
            "invalid_request",
            &["limit must be between 1 and 1000, got 0"],
        ),
        case(
            "GET",
            "/v1/graph/entities?user_id=u&limit=1001",
            "",
            422,
            "invalid_request",
            &["limit must be between 1 and 1000"],
        ),
        case(
            "GET",
            "/v1/memories?user_id=u&limit=ten",
            "",
            422,
            "invalid_request",
            &["query string: limit: invalid digit"],
        ),
        case(
            "GET",
            "/v1/memories?user_id=u&colour=red",
            "",
            422,
            "invalid_request",
            &["unknown field `colour`"],
        ),
        case(
            "GET",
            "/v1/graph/changes?user_id=u",
            "",
            422,
            "invalid_request",
            &["missing field `since`"],
        ),
        case(
            "GET",
            "/v1/graph/changes?user_id=u&since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z",
            "",
            422,
            "invalid_request",
            &["must not be after until"],
        ),
        case(
            "GET",
            "/v1/graph/relations?user_id=u&relation=LIVES_IN%3B%20DROP",
            "",
            422,
            "invalid_request",
            &["invalid relation type `LIVES_IN; DROP`"],
        ),
        case(
            "GET",
            "/v1/graph/relations?user_id=u&include_invalid=maybe",
            "",
            422,
            "invalid_request",
            &["include_invalid"],
        ),
        case(
            "GET",
            "/v1/graph/subgraph?user_id=u&entity=Alice&depth=0",
            "",
            422,
            "invalid_request",
            &["depth must be between 1 and 3, got 0"],
        ),
        // Unknown ids and names: 404.
        case(
            "GET",
            "/v1/memories/not-an-id?user_id=u",
            "",
            404,
            "not_found",
            &["fact `not-an-id` not found"],
        ),
        case(
            "GET",
            &format!("/v1/memories/{none}?user_id=u"),
            "",
            404,
            "not_found",
            &["fact"],
        ),
        case(
            "DELETE",
            &format!("/v1/memories/{none}?user_id=u"),
            "",
            404,
            "not_found",
            &["fact"],
        ),
        case(
            "GET",
            &format!("/v1/memories/{none}/history?user_id=u"),
            "",
            404,
            "not_found",
            &["fact"],
        ),
        case(
            "PUT",
            &format!("/v1/memories/{none}"),
            r#"{"text":"x","user_id":"u"}"#,
            404,
            "not_found",
            &["fact"],
        ),
        case(
            "GET",
            &format!("/v1/episodes/{none}?user_id=u"),
            "",
            404,
            "not_found",
            &["episode"],
        ),
        case(
            "DELETE",
            &format!("/v1/episodes/{none}?user_id=u"),
            "",
            404,
            "not_found",
            &["episode"],
        ),
        case(
            "GET",
            &format!("/v1/graph/entities/{none}?user_id=u"),
            "",
            404,
            "not_found",
            &["entity"],
        ),
        case(
            "GET",
            "/v1/graph/subgraph?user_id=u&entity=Nobody",
            "",
            404,
            "not_found",
            &["entity `Nobody` not found"],
        ),
        case(
            "GET",
            "/v1/graph/relations?user_id=u&entity=Nobody",
            "",
            404,
            "not_found",
            &["entity `Nobody` not found"],
        ),
        // No LLM configured.
        case(
            "POST",
            add,
            r#"{"messages":[{"role":"user","content":"hi"}],"user_id":"u"}"#,
            409,
            "llm_not_configured",
            &["no LLM is configured"],
        ),
        case(
            "POST",
            search,
            r#"{"query":"Where is Alice?","user_id":"u","query_entities":"llm"}"#,
            409,
            "llm_not_configured",
            &["no LLM is configured"],
        ),
    ];
    // Content types: only JSON bodies are read.
    let body = r#"{"query":"x","user_id":"u"}"#;
    for (content_type, says) in [
        (Some("text/plain"), "got `text/plain`"),
        (
            Some("application/x-www-form-urlencoded"),
            "got `application/x-www-form-urlencoded`",
        ),
        (Some("application/jsonl"), "got `application/jsonl`"),
        (None, "got no content type"),
    ] {
        cases.push(Case {
            content_type,
            says: vec![says],
            ..case("POST", search, body, 415, "unsupported_media_type", &[])
        });
    }
    check_cases(&app.state, cases).await;

    // JSON content types are accepted, parameters and all.
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.mnemo+json",
    ] {
        let reply = send(&app.state, raw("POST", search, Some(content_type), body)).await;
        assert_eq!(reply.status, 200, "{content_type}: {reply:?}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_in_our_shape() {
    let settings = ServerSettings {
        body_limit_bytes: 1024,
        ..ServerSettings::default()
    };
    let app = app_with(settings, false).await;
    let body =
        |query_len: usize| json!({"query": "q".repeat(query_len), "user_id": "u"}).to_string();
    let under = send(
        &app.state,
        raw("POST", "/v1/search", Some("application/json"), &body(900)),
    )
    .await;
    assert_eq!(under.status, 200, "{under:?}");
    let over = send(
        &app.state,
        raw("POST", "/v1/search", Some("application/json"), &body(2000)),
    )
    .await;
    assert_eq!(error_of(&over), (413, "payload_too_large"), "{over:?}");
    assert_eq!(
        over.body["error"]["message"],
        "the request body is larger than the limit of 1024 bytes"
    );
    let add = json!({
        "messages": [{"role": "user", "content": "x".repeat(5000)}],
        "user_id": "u",
        "infer": false,
    });
    let over = send(
        &app.state,
        raw(
            "POST",
            "/v1/memories",
            Some("application/json"),
            &add.to_string(),
        ),
    )
    .await;
    assert_eq!(error_of(&over), (413, "payload_too_large"), "{over:?}");
}

#[tokio::test]
async fn v1_answers_not_ready_until_the_memory_is_built() {
    let (_dir, state) = crate::ready_state();
    let cases = [
        raw(
            "POST",
            "/v1/search",
            Some("application/json"),
            r#"{"query":"x","user_id":"u"}"#,
        ),
        request("GET", "/v1/memories?user_id=u"),
        request("GET", "/v1/graph/entities?user_id=u"),
    ];
    for request in cases {
        let label = format!("{} {}", request.method(), request.uri());
        let reply = send(&state, request).await;
        assert_eq!(error_of(&reply), (503, "not_ready"), "{label}");
    }
}

#[tokio::test]
async fn an_llm_that_is_down_is_unavailable_on_reads_and_a_failed_episode_on_adds() {
    let app = app_with_llm().await;
    app.llm().respond_with(|_| LlmReply::status(500));
    let user = fresh_user("alice");
    let reply = app
        .post(
            "/v1/search",
            json!({"query": "Where is Alice?", "user_id": user, "query_entities": "llm"}),
        )
        .await;
    assert_eq!(error_of(&reply), (503, "unavailable"), "{reply:?}");
    assert_eq!(
        reply.body["error"]["message"], "service unavailable, try again later",
        "no internals in 5xx messages"
    );

    let reply = app
        .post(
            "/v1/memories",
            json!({"messages": [{"role": "user", "content": "I live in Lisbon"}], "user_id": user}),
        )
        .await;
    assert_eq!(
        reply.status, 200,
        "an LLM failure is not an HTTP error: {reply:?}"
    );
    assert_eq!(reply.body["status"], "failed");
    assert!(
        reply.body["reason"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{reply:?}"
    );
    assert!(reply.body["llm_usage"]["calls"].as_u64().unwrap() >= 1);
}
