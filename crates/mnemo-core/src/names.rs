//! Validated names: entity and relation types (which become Neo4j labels and relationship
//! types) and the normalised lookup key of an entity name.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Most characters in an entity or relation type as a client writes it; its normal form
/// (camelCase split with `_`) may be up to twice as long.
pub const MAX_TYPE_INPUT_CHARS: usize = 64;
const MAX_TYPE_LEN: usize = 2 * MAX_TYPE_INPUT_CHARS;
/// Most characters in an entity name as a client writes it.
pub const MAX_NAME_CHARS: usize = 256;
/// What [`EntityType::parse`] and [`RelationType::parse`] accept, as a JSON Schema pattern
/// (with at most [`MAX_TYPE_INPUT_CHARS`] characters): words of ASCII letters and digits
/// separated by spaces, tabs, `-` or `_`, the first starting with a letter.
pub const TYPE_INPUT_PATTERN: &str = r"^[\t _-]*[A-Za-z][A-Za-z0-9\t _-]*$";

/// An entity type such as `Person` or `City`: PascalCase, `^[A-Z][A-Za-z0-9_]{0,127}$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityType(String);

/// A relation type such as `LIVES_IN`: UPPER_SNAKE_CASE, `^[A-Z][A-Z0-9_]{0,127}$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelationType(String);

impl EntityType {
    /// Accepts LLM-style input ("person", "tv show", "sports_team") and returns its
    /// PascalCase form; anything that is not letters, digits, spaces, `-` or `_` is rejected.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = || ValidationError::EntityType(input.to_owned());
        let words = split_words(input).ok_or_else(err)?;
        let mut out = String::new();
        for word in words {
            let mut chars = word.chars();
            let first = chars.next().ok_or_else(err)?;
            out.push(first.to_ascii_uppercase());
            let rest: String = chars.collect();
            // "PERSON" → "Person", but keep inner capitals of "TvShow".
            if rest.chars().all(|c| !c.is_ascii_lowercase()) {
                out.push_str(&rest.to_ascii_lowercase());
            } else {
                out.push_str(&rest);
            }
        }
        if is_valid_type(&out, false) {
            Ok(EntityType(out))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RelationType {
    /// Accepts LLM-style input ("lives in", "livesIn", "works-at") and returns its
    /// UPPER_SNAKE_CASE form; anything else (quotes, brackets, leading digits) is rejected.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = || ValidationError::RelationType(input.to_owned());
        let words = split_words(input).ok_or_else(err)?;
        let mut parts = Vec::new();
        for word in words {
            // Split camelCase: "livesIn" → "lives", "In".
            let mut current = String::new();
            let mut prev_lower = false;
            for c in word.chars() {
                if c.is_ascii_uppercase() && prev_lower {
                    parts.push(std::mem::take(&mut current));
                }
                prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
                current.push(c.to_ascii_uppercase());
            }
            parts.push(current);
        }
        let out = parts.join("_");
        if is_valid_type(&out, true) {
            Ok(RelationType(out))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Splits on spaces, `-` and `_`; `None` if any other non-alphanumeric ASCII or any
/// non-ASCII character appears, or nothing is left.
fn split_words(input: &str) -> Option<Vec<&str>> {
    if input.chars().count() > MAX_TYPE_INPUT_CHARS {
        return None;
    }
    // Only the separators are trimmed, so TYPE_INPUT_PATTERN states the rule exactly.
    let trimmed = input.trim_matches([' ', '\t']);
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || c == ' ' || c == '-' || c == '_' || c == '\t'))
    {
        return None;
    }
    let words: Vec<&str> = trimmed
        .split([' ', '-', '_', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    (!words.is_empty()).then_some(words)
}

fn is_valid_type(s: &str, upper_only: bool) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    s.len() <= MAX_TYPE_LEN
        && first.is_ascii_uppercase()
        && chars.all(|c| {
            c.is_ascii_digit()
                || c == '_'
                || c.is_ascii_uppercase()
                || (!upper_only && c.is_ascii_lowercase())
        })
}

/// The lookup key of an entity name or alias: trimmed, inner whitespace collapsed,
/// lower-cased. "  Alice   Smith " and "alice smith" are the same entity key.
pub fn normalize_name(name: &str) -> Result<String, ValidationError> {
    let key = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if key.is_empty() {
        return Err(ValidationError::Name("name is empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ValidationError::Name(format!(
            "name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(ValidationError::Name(
            "name contains control characters".into(),
        ));
    }
    Ok(key)
}

macro_rules! string_newtype_impls {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
string_newtype_impls!(EntityType);
string_newtype_impls!(RelationType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_types_are_normalised_or_rejected() {
        let cases: &[(&str, Option<&str>)] = &[
            ("LIVES_IN", Some("LIVES_IN")),
            ("lives in", Some("LIVES_IN")),
            ("  lives   in ", Some("LIVES_IN")),
            ("livesIn", Some("LIVES_IN")),
            ("works-at", Some("WORKS_AT")),
            ("has_age", Some("HAS_AGE")),
            ("PLAYS_FOR_2", Some("PLAYS_FOR_2")),
            ("", None),
            ("   ", None),
            ("2LIVES", None),
            ("LIVES_IN`]->(x) DETACH DELETE x //", None),
            ("lives.in", None),
            ("vit à", None),
            (&"A".repeat(65), None),
        ];
        for (input, expected) in cases {
            let got = RelationType::parse(input).ok();
            assert_eq!(
                got.as_ref().map(|t| t.as_str()),
                *expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn entity_types_are_normalised_or_rejected() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Person", Some("Person")),
            ("person", Some("Person")),
            ("PERSON", Some("Person")),
            ("tv show", Some("TvShow")),
            ("TvShow", Some("TvShow")),
            ("sports_team", Some("SportsTeam")),
            ("City2", Some("City2")),
            ("", None),
            ("9lives", None),
            ("Person:Admin", None),
            ("Pers`on", None),
        ];
        for (input, expected) in cases {
            let got = EntityType::parse(input).ok();
            assert_eq!(
                got.as_ref().map(|t| t.as_str()),
                *expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn names_normalise_to_one_key() {
        assert_eq!(normalize_name("  Alice   Smith ").unwrap(), "alice smith");
        assert_eq!(normalize_name("ALICE smith").unwrap(), "alice smith");
        assert!(normalize_name(" \t ").is_err());
        assert!(normalize_name(&"x".repeat(300)).is_err());
    }

    #[test]
    fn serde_validates() {
        let t: RelationType = serde_json::from_str("\"works at\"").unwrap();
        assert_eq!(t.as_str(), "WORKS_AT");
        assert!(serde_json::from_str::<RelationType>("\"a)b\"").is_err());
    }
}
