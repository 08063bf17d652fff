//! Request ids: every request gets an `x-request-id` (the client's, if it sent a sane
//! one, else a fresh UUID), echoed on the response and recorded on a tracing span that
//! wraps the request's handling. tower-http sets, propagates and traces; we only decide
//! which client ids are kept and what a fresh one looks like.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The header carrying the request id, on requests and responses.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id we keep; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// `router` with request ids and the request span around every route.
pub(crate) fn around<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .map_request(drop_unacceptable)
            .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, FreshId))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span)
                    .on_request(())
                    .on_response(finished)
                    .on_body_chunk(())
                    .on_eos(())
                    .on_failure(()),
            ),
    )
}

/// A client id we do not keep is removed, so [`SetRequestIdLayer`] makes a fresh one.
fn drop_unacceptable(mut request: Request) -> Request {
    if let Some(id) = request.headers().get(&REQUEST_ID_HEADER)
        && !is_acceptable(id)
    {
        request.headers_mut().remove(&REQUEST_ID_HEADER);
    }
    request
}

fn span(request: &Request) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        // Only acceptable (visible ASCII) or fresh ids get this far.
        request_id = request
            .headers()
            .get(&REQUEST_ID_HEADER)
            .and_then(|id| id.to_str().ok())
            .unwrap_or_default(),
    )
}

fn finished(response: &Response<Body>, latency: Duration, _span: &Span) {
    tracing::debug!(
        status = response.status().as_u16(),
        latency_us = latency.as_micros() as u64,
        "request finished"
    );
}

/// Non-empty, at most [`MAX_ID_LEN`] bytes, visible ASCII only (safe to log verbatim).
fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_ID_LEN && bytes.iter().all(u8::is_ascii_graphic)
}

/// A UUIDv7 (time-ordered, so ids sort by arrival in the logs).
#[derive(Clone, Copy)]
struct FreshId;

impl MakeRequestId for FreshId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let id = HeaderValue::from_str(&id).expect("a UUID is a valid header value");
        Some(RequestId::new(id))
    }
}
