//! The service's error type and the one place it becomes an HTTP response:
//! `{"error":{"code":"…","message":"…"}}` with a stable `code` per variant.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mnemo_api::{ErrorBody, ErrorDetail};
use mnemo_core::{MemoryError, StoreError, ValidationError};

/// Every way a request can fail. Each variant maps to exactly one status and code in
/// [`ApiError::status_and_code`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    RouteNotFound { method: Method, path: String },
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: Method, path: String },
    /// The store or the embedder has not finished loading.
    #[error("mnemo is starting up and cannot serve this request yet")]
    NotReady,
    /// The body is not JSON, or not a JSON object.
    #[error("{0}")]
    MalformedJson(String),
    /// A query string that is not valid percent-encoded UTF-8.
    #[error("{0}")]
    MalformedQuery(String),
    /// The client did not send the whole request body in time.
    #[error("the request body did not arrive within {seconds} s")]
    RequestTimeout { seconds: u64 },
    #[error("the request target is longer than the limit of {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("{0}")]
    HeadersTooLarge(String),
    /// A body whose content type is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An unknown field, a wrong type or a bad value (the message says which).
    #[error("{0}")]
    InvalidRequest(String),
    /// No scope field, or a bad one.
    #[error("{0}")]
    InvalidScope(String),
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A missing or unknown API key.
    #[error("{0}")]
    Unauthorized(String),
    /// The API key is bound to another scope.
    #[error("{0}")]
    Forbidden(String),
    /// An unknown id (or a record of another scope).
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("no LLM is configured; use infer: false or configure llm.base_url and llm.model")]
    LlmNotConfigured,
    /// The store, the embedder or the LLM is down; the cause is logged, never sent.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data; the cause is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status and the stable, machine-readable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::RouteNotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            ApiError::MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed_query"),
            ApiError::RequestTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::UriTooLong { .. } => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            ApiError::HeadersTooLarge(_) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::InvalidRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::InvalidScope(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_scope"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::LlmNotConfigured => (StatusCode::CONFLICT, "llm_not_configured"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// What the client is told. Causes of failures on our side stay in the log.
    fn public_message(&self) -> String {
        match self {
            ApiError::Unavailable(_) => "service unavailable, try again later".to_owned(),
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    fn from_validation(error: ValidationError) -> ApiError {
        match error {
            ValidationError::EmptyScope | ValidationError::BadScopeField { .. } => {
                ApiError::InvalidScope(error.to_string())
            }
            ValidationError::EntityType(_)
            | ValidationError::RelationType(_)
            | ValidationError::Name(_)
            | ValidationError::Id(_)
            | ValidationError::Timestamp { .. }
            | ValidationError::Request(_) => ApiError::InvalidRequest(error.to_string()),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        ApiError::from_validation(error)
    }
}

impl From<MemoryError> for ApiError {
    fn from(error: MemoryError) -> Self {
        match error {
            MemoryError::Invalid(invalid) => ApiError::from_validation(invalid),
            MemoryError::NotFound { kind, id } => ApiError::NotFound { kind, id },
            MemoryError::LlmNotConfigured => ApiError::LlmNotConfigured,
            MemoryError::Llm(error) => ApiError::Unavailable(format!("LLM: {error}")),
            MemoryError::Embed(error) => ApiError::Unavailable(format!("embedder: {error}")),
            MemoryError::Store(error) => match error {
                StoreError::NotFound { kind, id } => ApiError::NotFound { kind, id },
                StoreError::Invalid(invalid) => ApiError::from_validation(invalid),
                StoreError::Conflict(message) => ApiError::Conflict(message),
                StoreError::Backend(_) => ApiError::Unavailable(error.to_string()),
                StoreError::Corrupt(_) => ApiError::Internal(error.to_string()),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if matches!(self, ApiError::Unavailable(_) | ApiError::Internal(_)) {
            // Inside the request's span, so the log line carries the request id.
            tracing::error!(code, cause = %self, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.public_message(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Fallback for paths no route matches.
pub(crate) async fn route_not_found(request: Request) -> ApiError {
    ApiError::RouteNotFound {
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
    }
}

/// Fallback for a known path with a method it does not accept.
pub(crate) async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed {
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
    }
}
