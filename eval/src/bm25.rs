//! The BM25-only baseline of the LOCOMO evaluation: plain Okapi BM25 (k1 = 1.2, b = 0.75)
//! over the same items mnemo stores, in memory, so the baseline depends on no store.

use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Lower-cased runs of letters and digits.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// An inverted index over a fixed list of documents.
#[derive(Debug, Default)]
pub struct Bm25 {
    /// term → (document, term frequency)
    postings: HashMap<String, Vec<(usize, u32)>>,
    lengths: Vec<usize>,
    average_length: f64,
}

impl Bm25 {
    pub fn new<S: AsRef<str>>(documents: &[S]) -> Bm25 {
        let mut index = Bm25::default();
        for (doc, text) in documents.iter().enumerate() {
            let words = terms(text.as_ref());
            index.lengths.push(words.len());
            let mut counts: HashMap<String, u32> = HashMap::new();
            for word in words {
                *counts.entry(word).or_default() += 1;
            }
            for (word, count) in counts {
                index.postings.entry(word).or_default().push((doc, count));
            }
        }
        let total: usize = index.lengths.iter().sum();
        index.average_length = total as f64 / index.lengths.len().max(1) as f64;
        index
    }

    /// The best `k` documents for `query` (each query term counted once), best first; ties
    /// by document order. Documents sharing no term with the query are not returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f64)> {
        let n = self.lengths.len() as f64;
        let mut seen: Vec<String> = Vec::new();
        let mut scores: HashMap<usize, f64> = HashMap::new();
        for term in terms(query) {
            if seen.contains(&term) {
                continue;
            }
            let Some(postings) = self.postings.get(&term) else {
                seen.push(term);
                continue;
            };
            let df = postings.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in postings {
                let tf = f64::from(tf);
                let norm = 1.0 - B + B * self.lengths[doc] as f64 / self.average_length;
                *scores.entry(doc).or_default() += idf * tf * (K1 + 1.0) / (tf + K1 * norm);
            }
            seen.push(term);
        }
        let mut ranked: Vec<(usize, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_hand() {
        let docs = [
            "Caroline: I went to a LGBTQ support group yesterday",
            "Melanie: I painted a sunrise last year",
            "Caroline: the support group was great, the group was kind",
            "Melanie: kids and work",
        ];
        let index = Bm25::new(&docs);
        let check = |query: &str, expected: &[usize]| {
            let got: Vec<usize> = index
                .search(query, 10)
                .into_iter()
                .map(|(d, _)| d)
                .collect();
            assert_eq!(got, expected, "{query}");
        };
        check("When did Melanie paint a sunrise?", &[1, 3, 0]);
        check("support group", &[2, 0]);
        check("LGBTQ", &[0]);
        check("nothing matches", &[]);
        check("", &[]);
        assert_eq!(index.search("Caroline", 1).len(), 1);

        // One document, one term: idf = ln(1 + (1 - 1 + 0.5) / 1.5), tf part = 1 at the
        // average length.
        let single = Bm25::new(&["alpha"]);
        let score = single.search("alpha alpha", 1)[0].1;
        assert!((score - (1.0f64 + 0.5 / 1.5).ln()).abs() < 1e-12, "{score}");
    }

    #[test]
    fn terms_split_on_punctuation() {
        assert_eq!(
            terms("Hey Mel! It's D1:3."),
            ["hey", "mel", "it", "s", "d1", "3"]
        );
    }
}
