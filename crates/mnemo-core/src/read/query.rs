//! What the read path takes from the query text without a model: its words, its
//! capitalised spans (likely names), its noun-phrase chunks, and a loose word match used to
//! score walked relations against it.

/// Words that carry no topic and never name an entity on their own.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "against", "all", "also", "am", "among", "an", "and", "any",
    "are", "around", "as", "at", "be", "been", "before", "being", "between", "but", "by", "can",
    "could", "did", "do", "does", "doing", "down", "during", "each", "else", "ever", "every",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "know", "like", "many",
    "may", "me", "might", "mine", "more", "most", "much", "must", "my", "myself", "no", "not",
    "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "s",
    "same", "shall", "she", "should", "so", "some", "still", "such", "t", "tell", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "too", "under", "up", "us", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "whose", "why", "will", "with", "without", "would", "yes", "you",
    "your", "yours",
];

/// Noun-phrase chunks embedded next to the query (in the same call).
const MAX_CHUNKS: usize = 4;
/// Capitalised spans looked up by exact name.
const MAX_SPANS: usize = 6;

pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

pub(crate) use crate::text::words;

/// The query as the linkers see it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct QueryText {
    /// Every word, in order.
    pub words: Vec<String>,
    /// Runs of capitalised words as written ("New York"), without ones made only of
    /// stopwords ("Where", "I").
    pub spans: Vec<String>,
    /// Maximal runs of words that are not stopwords, split where capitals start or stop
    /// ("alice", "employer").
    pub chunks: Vec<Chunk>,
}

/// A noun-phrase chunk of the query, lower-cased.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chunk {
    pub text: String,
    /// Written with capitals, like a name.
    pub capitalised: bool,
}

impl QueryText {
    pub(crate) fn parse(query: &str) -> QueryText {
        let words = words(query);
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut run: Vec<String> = Vec::new();
        let mut run_capitalised = false;
        let raw = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty());
        for word in raw.map(Some).chain(std::iter::once(None)) {
            let capitalised =
                word.is_some_and(|w| w.chars().next().is_some_and(char::is_uppercase));
            let lower = word.map(str::to_lowercase);
            // A run ends at a stopword, at the end, and where capitals start or stop
            // ("Alice work" is a name and a word).
            let ends = lower.as_deref().is_none_or(is_stopword) || capitalised != run_capitalised;
            if ends && !run.is_empty() {
                let text = run.join(" ");
                if !chunks.iter().any(|c| c.text == text) {
                    chunks.push(Chunk {
                        text,
                        capitalised: run_capitalised,
                    });
                }
                run.clear();
            }
            if let Some(lower) = lower.filter(|w| !is_stopword(w)) {
                run.push(lower);
                run_capitalised = capitalised;
            }
        }
        chunks.truncate(MAX_CHUNKS);
        QueryText {
            spans: capitalised_spans(query),
            words,
            chunks,
        }
    }

    /// The words that are not stopwords, each once.
    pub(crate) fn content_words(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for word in &self.words {
            if !is_stopword(word) && !out.contains(&word.as_str()) {
                out.push(word);
            }
        }
        out
    }

    /// Whether `name` (split into words) occurs in the query as consecutive words.
    pub(crate) fn mentions(&self, name: &str) -> bool {
        let name = words(name);
        !name.is_empty()
            && name.len() <= self.words.len()
            && self.words.windows(name.len()).any(|w| w == name.as_slice())
    }
}

/// "Did Alice move to New York, or Boston?" → `Alice`, `New York`, `Boston`.
fn capitalised_spans(query: &str) -> Vec<String> {
    let mut spans: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let close = |current: &mut Vec<&str>, spans: &mut Vec<String>| {
        // A sentence starts with a capital: "Did Alice" is "Alice".
        let stop = |w: &&str| is_stopword(&w.to_lowercase());
        let start = current.iter().position(|w| !stop(w));
        let end = current.iter().rposition(|w| !stop(w));
        if let (Some(start), Some(end)) = (start, end) {
            let span = current[start..=end].join(" ");
            if !spans.contains(&span) {
                spans.push(span);
            }
        }
        current.clear();
    };
    for raw in query.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let word = word
            .strip_suffix("'s")
            .or_else(|| word.strip_suffix("’s"))
            .unwrap_or(word);
        let capitalised = word.chars().next().is_some_and(char::is_uppercase);
        if capitalised {
            current.push(word);
        } else {
            close(&mut current, &mut spans);
        }
        // Punctuation after a word ends the span: "Alice, Bob".
        if raw.ends_with(|c: char| !c.is_alphanumeric()) {
            close(&mut current, &mut spans);
        }
    }
    close(&mut current, &mut spans);
    spans.truncate(MAX_SPANS);
    spans
}

/// Whether two words are forms of one another: equal, or sharing a prefix of at least
/// four letters that covers most of the shorter one ("headquarters" / "headquartered",
/// "works" / "work", "lives" / "lived").
pub(crate) fn same_stem(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    shared >= 4 && shared * 10 >= shorter * 7
}

/// Share of `terms` that some word of `text` matches ([`same_stem`]); 0 without terms.
pub(crate) fn term_overlap(terms: &[&str], text_words: &[String]) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let matched = terms
        .iter()
        .filter(|t| text_words.iter().any(|w| same_stem(t, w)))
        .count();
    matched as f32 / terms.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn queries_are_split_into_spans_and_chunks() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("Where does Alice work?", &["Alice"], &["alice", "work"]),
            (
                "Did Alice move to New York, or Boston?",
                &["Alice", "New York", "Boston"],
                &["alice", "move", "new york", "boston"],
            ),
            (
                "Where is Alice's employer headquartered?",
                &["Alice"],
                &["alice", "employer headquartered"],
            ),
            ("what do I like", &[], &[]),
            ("", &[], &[]),
        ];
        for (query, spans, chunks) in cases {
            let parsed = QueryText::parse(query);
            assert_eq!(parsed.spans, *spans, "spans of {query:?}");
            let texts: Vec<&str> = parsed.chunks.iter().map(|c| c.text.as_str()).collect();
            assert_eq!(texts, *chunks, "chunks of {query:?}");
        }
    }

    #[test]
    fn names_are_found_as_consecutive_words() {
        let q = QueryText::parse("Did alice move to New York-City last year?");
        let cases = [
            ("Alice", true),
            ("new york city", true),
            ("New York", true),
            ("york new", false),
            ("Bob", false),
            ("", false),
            ("alice move to new york city last year again", false),
        ];
        for (name, expected) in cases {
            assert_eq!(q.mentions(name), expected, "{name:?}");
        }
    }

    #[test]
    fn stems_match_word_forms_only() {
        let cases = [
            ("headquarters", "headquartered", true),
            ("works", "work", true),
            ("lives", "lived", true),
            ("live", "lives", true),
            ("cat", "cats", false),
            ("berlin", "bern", false),
            ("company", "computer", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(same_stem(a, b), expected, "{a} / {b}");
        }
    }
}
