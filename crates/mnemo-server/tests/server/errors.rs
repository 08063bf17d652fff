//! Every error comes back as `{"error":{"code","message"}}` with its status; 5xx
//! messages name no internals.

use axum::response::IntoResponse as _;
use mnemo_server::{ApiError, AppState};
use serde_json::json;

use crate::{request, send};

#[tokio::test]
async fn unknown_routes_and_methods_use_our_error_shape() {
    let cases = [
        ("GET", "/nope", 404, "not_found", "no route for GET /nope"),
        (
            "DELETE",
            "/v1/memories",
            404,
            "not_found",
            "no route for DELETE /v1/memories",
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

#[tokio::test]
async fn errors_map_to_status_code_and_body() {
    let cases = [
        (
            ApiError::RouteNotFound {
                method: axum::http::Method::GET,
                path: "/x".into(),
            },
            404,
            json!({"error": {"code": "not_found", "message": "no route for GET /x"}}),
        ),
        (
            ApiError::MethodNotAllowed {
                method: axum::http::Method::PATCH,
                path: "/readyz".into(),
            },
            405,
            json!({"error": {"code": "method_not_allowed", "message": "method PATCH is not allowed on /readyz"}}),
        ),
        (
            ApiError::NotReady,
            503,
            json!({"error": {"code": "not_ready", "message": "service unavailable, try again later"}}),
        ),
    ];
    for (error, status, body) in cases {
        let (expected_status, code) = error.status_and_code();
        assert_eq!(expected_status.as_u16(), status, "{error}");
        assert_eq!(body["error"]["code"], code);
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), status);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            body
        );
    }
}
