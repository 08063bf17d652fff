//! The scope every read and write is filtered by: a non-empty subset of user, agent and run.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Most characters (Unicode scalar values, as JSON Schema's `maxLength` counts) in a scope
/// field.
pub const MAX_FIELD_CHARS: usize = 256;
/// The scope field rule as a JSON Schema pattern (ECMA-262, as OpenAPI reads it): no
/// control character (Unicode `Cc`: U+0000-U+001F, U+007F-U+009F) and at least one
/// character that is not white space. [`check_field`] applies the same rule.
pub const FIELD_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// Separates the parts of [`Scope::key`]; control characters are rejected in scope fields,
/// so the key is unambiguous.
const KEY_SEPARATOR: char = '\u{1f}';

/// Any non-empty subset of `user_id`, `agent_id`, `run_id`. Two scopes are the same only
/// if all three parts are equal: `{user: a}` and `{user: a, run: r}` never share data.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_id: Option<String>,
}

impl Scope {
    pub fn new(
        user_id: Option<String>,
        agent_id: Option<String>,
        run_id: Option<String>,
    ) -> Result<Self, ValidationError> {
        check_field("user_id", user_id.as_deref())?;
        check_field("agent_id", agent_id.as_deref())?;
        check_field("run_id", run_id.as_deref())?;
        if user_id.is_none() && agent_id.is_none() && run_id.is_none() {
            return Err(ValidationError::EmptyScope);
        }
        Ok(Scope {
            user_id,
            agent_id,
            run_id,
        })
    }

    /// A scope of one user, the common case.
    pub fn user(user_id: impl Into<String>) -> Result<Self, ValidationError> {
        Scope::new(Some(user_id.into()), None, None)
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// One string that identifies the scope exactly, for storage keys and indexes.
    pub fn key(&self) -> String {
        let part = |p: &Option<String>| p.clone().unwrap_or_default();
        format!(
            "{}{KEY_SEPARATOR}{}{KEY_SEPARATOR}{}",
            part(&self.user_id),
            part(&self.agent_id),
            part(&self.run_id)
        )
    }

    /// Inverse of [`Scope::key`].
    pub fn from_key(key: &str) -> Result<Self, ValidationError> {
        let mut parts = key.split(KEY_SEPARATOR);
        let mut next = || {
            parts
                .next()
                .filter(|p| !p.is_empty())
                .map(ToOwned::to_owned)
        };
        let (user, agent, run) = (next(), next(), next());
        Scope::new(user, agent, run)
    }
}

fn check_field(field: &'static str, value: Option<&str>) -> Result<(), ValidationError> {
    match value {
        None => Ok(()),
        // White space as ECMA-262's `\s` reads it (Rust's plus U+FEFF), so the check and
        // FIELD_PATTERN agree on every string.
        Some(v)
            if v.chars().all(|c| c.is_whitespace() || c == '\u{feff}')
                || v.chars().count() > MAX_FIELD_CHARS
                || v.chars().any(char::is_control) =>
        {
            Err(ValidationError::BadScopeField { field })
        }
        Some(_) => Ok(()),
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (name, value) in [
            ("user", &self.user_id),
            ("agent", &self.agent_id),
            ("run", &self.run_id),
        ] {
            if let Some(v) = value {
                write!(f, "{sep}{name}={v}")?;
                sep = ",";
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_scope_is_rejected() {
        assert_eq!(
            Scope::new(None, None, None),
            Err(ValidationError::EmptyScope)
        );
        assert!(matches!(
            Scope::new(Some("  ".into()), None, None),
            Err(ValidationError::BadScopeField { field: "user_id" })
        ));
        assert!(Scope::new(None, None, Some("a\u{1f}b".into())).is_err());
    }

    #[test]
    fn key_round_trips_and_distinguishes_subsets() {
        let a = Scope::new(Some("alice".into()), None, None).unwrap();
        let b = Scope::new(Some("alice".into()), None, Some("r1".into())).unwrap();
        let c = Scope::new(None, Some("alice".into()), None).unwrap();
        assert_ne!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        for s in [a, b, c] {
            assert_eq!(Scope::from_key(&s.key()).unwrap(), s);
        }
    }
}
