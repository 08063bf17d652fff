//! The service's error type and the one place it becomes an HTTP response:
//! `{"error":{"code":"…","message":"…"}}` with a stable `code` per variant.

use axum::Json;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every way a request can fail. Grows with the API; each variant maps to exactly one
/// status and code in [`ApiError::status_and_code`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    RouteNotFound { method: Method, path: String },
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: Method, path: String },
    /// The store or the embedder has not finished loading.
    #[error("mnemo is starting up and cannot serve this request yet")]
    NotReady,
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
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            // The cause goes to the log (inside the request's span); clients get a
            // message that names no internals.
            tracing::error!(code, error = %self, "request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => "service unavailable, try again later",
                _ => "internal error",
            }
            .to_owned()
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: ErrorDetail { code, message },
        };
        (status, Json(body)).into_response()
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
