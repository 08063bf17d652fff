//! The identity guard of entity resolution: two names that an embedding finds close are
//! only the same entity when their distinguishing tokens agree.
//!
//! A name embedding scores "Room 101" and "Room 102", "Flight BA117" and "Flight BA171",
//! "John A. Smith" and "John B. Smith", "Q3 2024" and "Q4 2024" well above any match
//! threshold, yet they name different things. The tokens that tell such names apart are
//! numbers and codes (any token with a digit), initials (one letter), ordinals, roman
//! numerals and month names; they must be equal, as a multiset, for a vector match.
//! Titles, case and accents are not distinguishing ("Dr. Ana Silva" / "Ana Silva").

const ORDINALS: &[&str] = &[
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "junior", "senior", "jr", "sr",
];
/// The months' names, lower case (also the calendar words `infer: false` does not link).
pub(crate) const MONTH_NAMES: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const MONTH_ABBREVIATIONS: &[&str] = &[
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
];

/// The distinguishing tokens of a name, lowercased and sorted.
pub fn distinguishing_tokens(name: &str) -> Vec<String> {
    let mut tokens: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .filter(|t| {
            let lower = t.to_lowercase();
            t.chars().any(|c| c.is_ascii_digit() || c.is_numeric())
                || t.chars().count() == 1
                || ORDINALS.contains(&lower.as_str())
                || MONTH_NAMES.contains(&lower.as_str())
                || MONTH_ABBREVIATIONS.contains(&lower.as_str())
                || (t.len() >= 2 && t.chars().all(|c| "IVXLCDM".contains(c)))
        })
        .map(str::to_lowercase)
        .collect();
    tokens.sort();
    tokens
}

/// Honorifics and titles that do not change who a name names ("Dr. Ana Silva").
const TITLES: &[&str] = &[
    "dr",
    "doctor",
    "prof",
    "professor",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "sir",
    "dame",
    "madam",
    "mme",
    "mlle",
    "herr",
    "frau",
];

/// The letter without its accent, for the accented Latin letters names use most.
fn fold_accent(c: char) -> char {
    const FROM: &str = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťùúûüūůűųýÿźżž";
    const TO: &str = "aaaaaaaaacccdeeeeeeeeiiiiiilnnnoooooooorrssstuuuuuuuuyyzzz";
    FROM.chars()
        .position(|f| f == c)
        .and_then(|i| TO.chars().nth(i))
        .unwrap_or(c)
}

/// The words of a name that say who it is: lower case, accents folded, punctuation and
/// leading titles dropped ("Dr. José Álvarez" → `jose alvarez`).
fn identity_words(name: &str) -> Vec<String> {
    let words: Vec<String> = crate::text::words(name)
        .into_iter()
        .map(|w| w.chars().map(fold_accent).collect())
        .collect();
    let titles = words
        .iter()
        .take_while(|w| TITLES.contains(&w.as_str()))
        .count();
    // A title alone is a name of its own ("Doctor").
    words[titles.min(words.len().saturating_sub(1))..].to_vec()
}

/// Whether the two names are one name written two ways (case, accents, punctuation,
/// titles): enough to merge on a weaker vector match than [`may_merge`] needs.
pub fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (identity_words(a), identity_words(b));
    !a.is_empty() && a == b
}

/// Whether a vector match between the two names may be taken as the same entity.
pub fn may_merge(a: &str, b: &str) -> bool {
    distinguishing_tokens(a) == distinguishing_tokens(b)
}

#[cfg(test)]
mod tests {
    use super::{may_merge, same_name};

    #[test]
    fn one_name_written_two_ways() {
        let cases: &[(&str, &str, bool)] = &[
            ("Dr. Ana Silva", "Ana Silva", true),
            ("Prof. José Álvarez", "jose alvarez", true),
            ("Mrs Smith", "Smith", true),
            ("Zoë", "Zoe", true),
            ("Doctor", "Dr", false),
            ("Ana Silva", "Ana Silvas", false),
            ("St. Louis", "Louis", false),
            ("Dr. John A. Smith", "John B. Smith", false),
        ];
        for (a, b, same) in cases {
            assert_eq!(same_name(a, b), *same, "{a} / {b}");
        }
    }

    #[test]
    fn look_alike_names_do_not_merge_and_variants_do() {
        let cases: &[(&str, &str, bool)] = &[
            ("City014", "City010", false),
            ("City014", "city014", true),
            ("Room 101", "Room 102", false),
            ("Flight BA117", "Flight BA171", false),
            ("John A. Smith", "John B. Smith", false),
            ("John A. Smith", "John Smith", false),
            ("Q3 2024", "Q4 2024", false),
            ("March 2024", "May 2024", false),
            ("Henry VII", "Henry VIII", false),
            ("the first floor", "the second floor", false),
            ("Dr. Ana Silva", "Ana Silva", true),
            ("José Álvarez", "Jose Alvarez", true),
            ("New York City", "new york city", true),
            ("Flight BA117", "flight ba117", true),
        ];
        for (a, b, expected) in cases {
            assert_eq!(may_merge(a, b), *expected, "{a} / {b}");
        }
    }
}
