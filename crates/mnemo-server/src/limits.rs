//! Limits on the request head, checked before anything reads the body: a target over
//! [`MAX_URI_BYTES`] is 414, a header section over [`MAX_HEADER_BYTES`] or
//! [`MAX_HEADER_FIELDS`] is 431, and a declared `Content-Length` over the body limit is
//! 413 at once (for `POST /v1/search`, over [`MAX_SEARCH_BODY_BYTES`]), all in our error
//! shape. hyper's own limits (see `serve`) sit above these,
//! so only requests past them get hyper's bare answers.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// Longest request target (path and query) answered normally.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Largest header section (names, values and their separators) answered normally.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Most header fields answered normally.
pub const MAX_HEADER_FIELDS: usize = 100;

/// Largest declared body of `POST /v1/search`: a query is at most a few thousand
/// characters, so a larger `Content-Length` is refused before the body is read and
/// parsed. (A chunked body has no length to check; it gets the configured limit.)
pub const MAX_SEARCH_BODY_BYTES: usize = 64 * 1024;

/// The body limit of a request to `path` when the configured one is `configured`.
pub(crate) fn body_limit_for(path: &str, configured: usize) -> usize {
    if path == "/v1/search" {
        configured.min(MAX_SEARCH_BODY_BYTES)
    } else {
        configured
    }
}

pub(crate) async fn check_request_head(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match head_error(&request, state.settings().body_limit_bytes) {
        Some(error) => error.into_response(),
        None => next.run(request).await,
    }
}

fn head_error(request: &Request, body_limit: usize) -> Option<ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        });
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADER_FIELDS {
        return Some(ApiError::HeadersTooLarge(format!(
            "the request has {} header fields, the limit is {MAX_HEADER_FIELDS}",
            headers.len()
        )));
    }
    // ": " and CRLF around each field.
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Some(ApiError::HeadersTooLarge(format!(
            "the request's header section is larger than the limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    let body_limit = body_limit_for(request.uri().path(), body_limit);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > body_limit as u64 => {
            Some(ApiError::PayloadTooLarge { limit: body_limit })
        }
        _ => None,
    }
}
