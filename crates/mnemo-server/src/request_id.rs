//! Request ids: every request gets an `x-request-id` (the client's, if it sent a sane
//! one, else a fresh UUID), echoed on the response and recorded on a tracing span that
//! wraps the request's handling.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header carrying the request id, on requests and responses.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id we keep; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .filter(|value| is_acceptable(value))
        .cloned()
        .unwrap_or_else(fresh_id);
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());

    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        // `is_acceptable` guarantees visible ASCII.
        request_id = id.to_str().unwrap_or_default(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request finished"
        );
    });
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

/// Non-empty, at most [`MAX_ID_LEN`] bytes, visible ASCII only (safe to log verbatim).
fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_ID_LEN && bytes.iter().all(u8::is_ascii_graphic)
}

fn fresh_id() -> HeaderValue {
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    HeaderValue::from_str(&id).expect("a UUID is a valid header value")
}
