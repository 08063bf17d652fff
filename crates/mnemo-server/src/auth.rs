//! API keys bound to scopes (DESIGN §9 `auth.api_keys`): who is calling, and may they use
//! the scope their request names.
//!
//! A key is presented as `Authorization: Bearer KEY` or `x-api-key: KEY` and compared in
//! constant time with every configured key. A bound field must equal the request's field,
//! so a key bound to user alice may use any agent or run of alice; a key with no bound
//! field may use every scope. With no key configured the service is open.

use std::fmt;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, header};
use mnemo_core::Scope;
use subtle::ConstantTimeEq as _;

use crate::{ApiError, AppState};

/// The header carrying an API key when `Authorization` is not used.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// One configured API key and the scope fields it is bound to.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiKeyBinding {
    pub key: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

impl fmt::Debug for ApiKeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyBinding")
            .field("key", &"***")
            .field("user_id", &self.user_id)
            .field("agent_id", &self.agent_id)
            .field("run_id", &self.run_id)
            .finish()
    }
}

/// How the HTTP layer is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// Empty: the service is open to every client and every scope.
    pub api_keys: Vec<ApiKeyBinding>,
    /// Largest request body accepted; larger ones get 413 `payload_too_large`.
    pub body_limit_bytes: usize,
    /// How long a client may take to send a request's header section, and, separately,
    /// its whole body (408 `request_timeout`); a trickling client is cut off either way.
    pub read_timeout: Duration,
}

impl ServerSettings {
    /// 2 MiB.
    pub const DEFAULT_BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;
    /// 30 s.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            api_keys: Vec::new(),
            body_limit_bytes: Self::DEFAULT_BODY_LIMIT_BYTES,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
        }
    }
}

/// The authenticated caller of a `/v1` request. Extracting it answers 401 when keys are
/// configured and the request has none, or an unknown one.
pub(crate) struct Caller {
    /// `None`: the service is open (no keys configured).
    bound: Option<ApiKeyBinding>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let keys = &state.settings().api_keys;
        if keys.is_empty() {
            return Ok(Caller { bound: None });
        }
        let presented = presented_key(&parts.headers)?;
        // Every key is compared, whichever matches, so the time taken says nothing about
        // how close a guess was.
        let mut found = None;
        for binding in keys {
            if constant_time_eq(binding.key.as_bytes(), presented) {
                found = Some(binding);
            }
        }
        match found {
            Some(binding) => Ok(Caller {
                bound: Some(binding.clone()),
            }),
            None => Err(ApiError::Unauthorized("unknown API key".into())),
        }
    }
}

impl Caller {
    /// The scope fields the caller's key is bound to, for the MCP tools (none: open).
    pub(crate) fn binding(&self) -> mnemo_mcp::Binding {
        match &self.bound {
            None => mnemo_mcp::Binding::default(),
            Some(key) => mnemo_mcp::Binding {
                user_id: key.user_id.clone(),
                agent_id: key.agent_id.clone(),
                run_id: key.run_id.clone(),
            },
        }
    }

    /// The request's scope, validated (422 `invalid_scope`) and checked against the key's
    /// binding (403 `forbidden`).
    pub(crate) fn scope(
        &self,
        user_id: Option<String>,
        agent_id: Option<String>,
        run_id: Option<String>,
    ) -> Result<Scope, ApiError> {
        let scope = Scope::new(user_id, agent_id, run_id)?;
        self.authorize(&scope)?;
        Ok(scope)
    }

    /// The one binding rule, shared with the MCP tools.
    fn authorize(&self, scope: &Scope) -> Result<(), ApiError> {
        self.binding().admits(scope).map_err(ApiError::Forbidden)
    }
}

/// The key from `Authorization: Bearer KEY`, else from `x-api-key`.
fn presented_key(headers: &HeaderMap) -> Result<&[u8], ApiError> {
    let missing = || {
        ApiError::Unauthorized(
            "missing API key: send `Authorization: Bearer KEY` or `x-api-key: KEY`".into(),
        )
    };
    let key = if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.as_bytes();
        let scheme_ok = value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ");
        if !scheme_ok {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be `Bearer KEY`".into(),
            ));
        }
        value[7..].trim_ascii()
    } else if let Some(value) = headers.get(&API_KEY_HEADER) {
        value.as_bytes().trim_ascii()
    } else {
        return Err(missing());
    };
    if key.is_empty() {
        return Err(missing());
    }
    Ok(key)
}

/// Equality whose running time depends on the lengths only, never on where the inputs
/// differ (`subtle`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        let cases: [(&[u8], &[u8], bool); 7] = [
            (b"", b"", true),
            (b"key", b"key", true),
            (b"key", b"kez", false),
            (b"key", b"ke", false),
            (b"ke", b"key", false),
            (b"key\0", b"key", false),
            (b"", b"\0", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(constant_time_eq(a, b), expected, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let binding = ApiKeyBinding {
            key: "s3cret".into(),
            user_id: Some("alice".into()),
            ..ApiKeyBinding::default()
        };
        let shown = format!(
            "{:?}",
            ServerSettings {
                api_keys: vec![binding],
                ..ServerSettings::default()
            }
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
    }
}
