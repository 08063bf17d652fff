//! Turning user text into an FTS5 query that cannot be FTS syntax: every whitespace-separated
//! token becomes a quoted phrase, and the phrases are OR-ed (ranking is left to bm25).

/// Longer queries are cut; FTS5 cost grows with the number of phrases.
const MAX_TERMS: usize = 32;

/// The MATCH expression for `input`, or `None` when no token has a letter or digit.
pub(crate) fn match_expression(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split_whitespace()
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .take(MAX_TERMS)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// The text indexed for an entity: display name, name and aliases, each once (ignoring
/// case), so bm25 does not count a word twice because it is both name and display name.
pub(crate) fn entity_names(display_name: &str, name: &str, aliases: &[String]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for n in std::iter::once(display_name)
        .chain(std::iter::once(name))
        .chain(aliases.iter().map(String::as_str))
    {
        let lower = n.to_lowercase();
        if !seen.contains(&lower) {
            seen.push(lower);
        }
    }
    seen.join(" ; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_phrases() {
        let cases: &[(&str, Option<&str>)] = &[
            ("alice", Some(r#""alice""#)),
            ("  Alice   Smith ", Some(r#""Alice" OR "Smith""#)),
            (r#"say "hi""#, Some(r#""say" OR """hi""""#)),
            ("alice AND bob", Some(r#""alice" OR "AND" OR "bob""#)),
            ("NEAR(a b)", Some(r#""NEAR(a" OR "b)""#)),
            ("ali*", Some(r#""ali*""#)),
            ("name:x", Some(r#""name:x""#)),
            ("* - \" ()", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                match_expression(input).as_deref(),
                *expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn entity_names_are_deduplicated_ignoring_case() {
        assert_eq!(
            entity_names("Alice Smith", "alice smith", &["ali".into(), "Ali".into()]),
            "alice smith ; ali"
        );
    }
}
