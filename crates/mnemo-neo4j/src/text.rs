//! The strings the store derives from records: lookup keys of names and idempotency keys,
//! the text and scope tag the full-text index holds, and the Lucene query for a user's
//! search text (quoted terms only, so user text can never be query syntax).

/// Separates a scope key from the value in a uid; scope fields and names reject control
/// characters, and a scope key always holds exactly two separators, so a uid is
/// unambiguous.
const SEPARATOR: char = '\u{1f}';

/// Longer queries are cut: each term is a Lucene clause.
const MAX_TERMS: usize = 32;

/// The unique key of a name (or idempotency key) within a scope.
pub(crate) fn uid(scope_key: &str, value: &str) -> String {
    format!("{scope_key}{SEPARATOR}{value}")
}

/// One token per scope for the full-text index: `s` + FNV-1a 64 of the scope key in hex
/// (letters and digits only, so the analyzer keeps it whole). Stable across builds: it is
/// stored. A collision only costs time: reads also filter on the full scope key.
pub(crate) fn scope_tag(scope_key: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in scope_key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("s{hash:016x}")
}

/// The text indexed for an entity: display name, name and aliases, each once (ignoring
/// case), so a word is not counted twice for being both name and display name.
pub(crate) fn entity_names(display_name: &str, name: &str, aliases: &[String]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for n in [display_name, name]
        .into_iter()
        .chain(aliases.iter().map(String::as_str))
    {
        let lower = n.to_lowercase();
        if !seen.contains(&lower) {
            seen.push(lower);
        }
    }
    seen.join(" ; ")
}

/// The Lucene query searching `input` in the `names` field within the scope whose key is
/// `scope_key`: every whitespace-separated token holding a letter or digit becomes a
/// quoted phrase (`\` and `"` escaped), OR-ed, ANDed with the scope's tag. `None` when no
/// token has a letter or digit.
pub(crate) fn fulltext_query(input: &str, scope_key: &str) -> Option<String> {
    // Control characters separate terms like spaces: a NUL would end the query early.
    let terms: Vec<String> = input
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .take(MAX_TERMS)
        .map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    (!terms.is_empty()).then(|| {
        format!(
            "scope_tag:\"{}\" AND names:({})",
            scope_tag(scope_key),
            terms.join(" OR ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_terms() {
        let tag = scope_tag("alice");
        let cases: &[(&str, Option<&str>)] = &[
            ("alice", Some(r#""alice""#)),
            ("  Alice   Smith ", Some(r#""Alice" OR "Smith""#)),
            (r#"say "hi""#, Some(r#""say" OR "\"hi\"""#)),
            ("alice AND bob", Some(r#""alice" OR "AND" OR "bob""#)),
            ("name:alice AND [", Some(r#""name:alice" OR "AND""#)),
            (r"back\slash", Some(r#""back\\slash""#)),
            ("bob* smith)", Some(r#""bob*" OR "smith)""#)),
            ("-bob NEAR(x y)", Some(r#""-bob" OR "NEAR(x" OR "y)""#)),
            ("zoë", Some(r#""zoë""#)),
            ("* - \" () [ ]", None),
            ("Ann\0 likes", Some(r#""Ann" OR "likes""#)),
            ("\0\u{7}", None),
            ("   ", None),
            ("", None),
        ];
        for (input, expected) in cases {
            let expected = expected.map(|terms| format!("scope_tag:\"{tag}\" AND names:({terms})"));
            assert_eq!(fulltext_query(input, "alice"), expected, "input {input:?}");
        }
        let long = "w ".repeat(100);
        let query = fulltext_query(&long, "alice").unwrap();
        assert_eq!(query.matches(" OR ").count(), MAX_TERMS - 1);
    }

    #[test]
    fn scope_tags_are_stable_single_tokens() {
        // Stored in the database: changing the function would orphan stored entities.
        assert_eq!(scope_tag(""), "scbf29ce484222325");
        assert_eq!(scope_tag("a"), "saf63dc4c8601ec8c");
        assert_ne!(
            scope_tag("alice\u{1f}\u{1f}"),
            scope_tag("\u{1f}alice\u{1f}")
        );
        assert!(scope_tag("x").chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn entity_names_are_deduplicated_ignoring_case() {
        assert_eq!(
            entity_names("Alice Smith", "alice smith", &["ali".into(), "Ali".into()]),
            "alice smith ; ali"
        );
        assert_eq!(entity_names("NYC", "nyc", &[]), "nyc");
    }

    #[test]
    fn uids_keep_scope_and_value_apart() {
        let a = uid("u\u{1f}\u{1f}", "x");
        let b = uid("u\u{1f}\u{1f}x", "");
        assert_ne!(a, b);
        assert_eq!(a, "u\u{1f}\u{1f}\u{1f}x");
    }
}
