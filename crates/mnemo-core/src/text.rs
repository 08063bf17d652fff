//! Free text: the one rule for text from clients (messages, queries, facts: no NUL and no
//! other control character but tab, line feed and carriage return; such characters mean
//! nothing to a reader, and NUL ends strings in the full-text engines below us), and the
//! one normalisation that decides when two texts say the same thing.

use crate::ValidationError;

/// The rule of [`check_text`] plus "not only white space" as a JSON Schema pattern
/// (ECMA-262): no control character but tab, line feed and carriage return, and one
/// character that is not white space. The OpenAPI document states it for every free text
/// field whose check also refuses blank text.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$";

/// Refuses `text` when it holds a control character other than `\t`, `\n` and `\r`; the
/// error names `field` and the character.
pub fn check_text(field: &str, text: &str) -> Result<(), ValidationError> {
    match text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(c) => Err(ValidationError::Request(format!(
            "{field} must not contain control characters (found U+{:04X})",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Lower-cased runs of letters and digits: "Alice's NYC-trip" → `alice s nyc trip`. Entity
/// names are split the same way, so a name matches the query word for word.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The key under which two texts are the same: their [`words`], so case, spacing and
/// punctuation do not matter ("Alice is vegetarian." = "alice  is vegetarian").
pub fn same_text_key(text: &str) -> String {
    words(text).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_other_than_line_breaks_and_tabs_are_refused() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Ann likes jazz", None),
            ("line one\nline two\r\n\ttabbed", None),
            ("Zoë, 東京, emoji 🎷", None),
            ("Ann\0 likes", Some("U+0000")),
            ("bell \u{7}", Some("U+0007")),
            ("escape \u{1b}[31m", Some("U+001B")),
            ("delete \u{7f}", Some("U+007F")),
            ("c1 \u{85}", Some("U+0085")),
        ];
        for (text, expected) in cases {
            let got = check_text("query", text).err().map(|e| e.to_string());
            match expected {
                None => assert_eq!(got, None, "{text:?}"),
                Some(code) => {
                    let message = got.unwrap_or_else(|| panic!("{text:?} accepted"));
                    assert!(message.starts_with("query must not"), "{message}");
                    assert!(message.contains(code), "{message}");
                }
            }
        }
    }
}
