//! The body of every error response: `{"error":{"code":"…","message":"…"}}`. Which status
//! and code a failure gets is decided by the server, in one place.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `malformed_json`, `malformed_query`, `request_timeout`,
    /// `uri_too_long`, `headers_too_large`, `unsupported_media_type`,
    /// `invalid_request`, `invalid_scope`, `payload_too_large`, `unauthorized`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `conflict`, `llm_not_configured`,
    /// `not_ready`, `unavailable`, `internal`.
    pub code: String,
    /// For people; 5xx messages name no internals.
    pub message: String,
}
