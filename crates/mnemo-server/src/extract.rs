//! Request extractors whose rejections are [`ApiError`]s in our error shape, not axum's
//! plain text: a JSON body, a query string, and a record id in the path.
//!
//! Not JSON (or not an object) → 400 `malformed_json`; a query string that is not UTF-8
//! → 400 `malformed_query`; a content type that is not JSON → 415; over the body limit →
//! 413; a body slower than `read_timeout` → 408; an unknown field, a wrong type or a bad value → 422
//! `invalid_request` with serde's message prefixed by the field's path
//! (`messages[0].role: …`).

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use mnemo_core::{EntityId, EpisodeId, FactId};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A JSON object body deserialized into `T` (whose fields deny unknown names).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(request.headers())?;
        let limit = state.settings().body_limit_bytes;
        let timeout = state.settings().read_timeout;
        // A deadline for the whole body, not per chunk: a client trickling one byte at a
        // time cannot hold the connection open.
        let read = tokio::time::timeout(timeout, Bytes::from_request(request, state))
            .await
            .map_err(|_| ApiError::RequestTimeout {
                seconds: timeout.as_secs(),
            })?;
        let bytes = read.map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::PayloadTooLarge { limit }
            }
            other => ApiError::MalformedJson(format!(
                "the body could not be read: {}",
                other.body_text()
            )),
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(
            "expected a JSON body with `content-type: application/json`, got no content type"
                .into(),
        ));
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "expected a JSON body with `content-type: application/json`, got `{}`",
            String::from_utf8_lossy(value.as_bytes())
        )))
    }
}

/// Syntax first (400), then the shape (422), so the two kinds of mistake are told apart.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| ApiError::MalformedJson(format!("the body is not valid JSON: {err}")))?;
    if !value.is_object() {
        return Err(ApiError::MalformedJson(
            "the body must be a JSON object".into(),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| ApiError::InvalidRequest(err.to_string()))
}

/// The query string deserialized into `T` (whose fields deny unknown names).
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        check_query_encoding(query)?;
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|err| ApiError::InvalidRequest(format!("query string: {err}")))
    }
}

/// Every name and value of `query` must percent-decode to UTF-8: decoding leniently
/// would turn `%FF`, `%FE` and `%C3` alike into U+FFFD, so different bytes would name the
/// same scope.
fn check_query_encoding(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&') {
        for part in pair.splitn(2, '=') {
            let unplussed = part.replace('+', " ");
            let decoded: Vec<u8> = percent_encoding::percent_decode_str(&unplussed).collect();
            if let Err(err) = std::str::from_utf8(&decoded) {
                return Err(ApiError::MalformedQuery(format!(
                    "query string: `{part}` is not valid UTF-8 once percent-decoded ({err})"
                )));
            }
        }
    }
    Ok(())
}

/// An id type that can appear in a path, with the record kind named in 404s.
pub(crate) trait RecordId: FromStr + Send {
    const KIND: &'static str;
}

impl RecordId for FactId {
    const KIND: &'static str = "fact";
}
impl RecordId for EpisodeId {
    const KIND: &'static str = "episode";
}
impl RecordId for EntityId {
    const KIND: &'static str = "entity";
}

/// The `{id}` of the path. Something that is not an id names no record: 404.
pub(crate) struct PathId<T>(pub(crate) T);

impl<S: Send + Sync, T: RecordId> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = |id: String| ApiError::NotFound { kind: T::KIND, id };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found(parts.uri.path().to_owned()))?;
        raw.parse().map(PathId).map_err(|_| not_found(raw))
    }
}
