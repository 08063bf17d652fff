//! The scores of the LOCOMO evaluation, as pure functions over one question's ranked
//! retrieval: recall@k, full-evidence hit@k, reciprocal rank, evidence within a token
//! budget; and the answer scores of `--llm` mode (token F1, BLEU-1), the way the Mem0 paper
//! computes them.

use std::collections::HashSet;

/// One retrieved item as the metrics see it: the LOCOMO dialogue ids it came from and what
/// it costs in the prompt (tokens of its context line).
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub dia_ids: Vec<String>,
    pub tokens: usize,
}

/// Normalises LOCOMO evidence ids: splits on `;`, `,` and white space, keeps what matches
/// `D(\d+):0*(\d+)` as `D<session>:<turn>` (leading zeros dropped), drops the rest, each id
/// once in first-seen order. `["D8:6; D9:17", "D30:05", "D:11:26"]` → `D8:6 D9:17 D30:5`.
pub fn normalize_evidence<S: AsRef<str>>(raw: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in raw.iter().flat_map(|r| {
        r.as_ref()
            .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
    }) {
        if let Some(id) = dia_id(piece)
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// The first `D(\d+):0*(\d+)` in `text`, normalised (leading zeros of both numbers dropped).
pub fn dia_id(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    for (start, _) in text.match_indices('D') {
        let session = digits(start + 1);
        if session == 0 || bytes.get(start + 1 + session) != Some(&b':') {
            continue;
        }
        let turn_at = start + 2 + session;
        let turn = digits(turn_at);
        if turn == 0 {
            continue;
        }
        let number = |s: &str| {
            let trimmed = s.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }.to_owned()
        };
        return Some(format!(
            "D{}:{}",
            number(&text[start + 1..start + 1 + session]),
            number(&text[turn_at..turn_at + turn])
        ));
    }
    None
}

/// The evidence ids found in the first `k` items.
fn found(items: &[Item], evidence: &[String], k: usize) -> usize {
    let seen: HashSet<&str> = items
        .iter()
        .take(k)
        .flat_map(|i| i.dia_ids.iter().map(String::as_str))
        .collect();
    evidence
        .iter()
        .filter(|e| seen.contains(e.as_str()))
        .count()
}

/// Share of the evidence ids retrieved in the first `k` items (0 without evidence).
pub fn recall_at(items: &[Item], evidence: &[String], k: usize) -> f64 {
    if evidence.is_empty() {
        return 0.0;
    }
    found(items, evidence, k) as f64 / evidence.len() as f64
}

/// 1 when every evidence id is in the first `k` items, else 0.
pub fn full_at(items: &[Item], evidence: &[String], k: usize) -> f64 {
    f64::from(u8::from(
        !evidence.is_empty() && found(items, evidence, k) == evidence.len(),
    ))
}

/// 1 / rank of the first item holding an evidence id (0 when none does).
pub fn reciprocal_rank(items: &[Item], evidence: &[String]) -> f64 {
    items
        .iter()
        .position(|i| i.dia_ids.iter().any(|d| evidence.contains(d)))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

/// How many leading items fit in `budget` tokens together (the ranked list cut where the
/// next item would overflow).
pub fn within_budget(items: &[Item], budget: usize) -> usize {
    let mut used = 0;
    items
        .iter()
        .take_while(|i| {
            used += i.tokens;
            used <= budget
        })
        .count()
}

/// 1 when every evidence id is in the items that fit in `budget` tokens, else 0.
pub fn full_within(items: &[Item], evidence: &[String], budget: usize) -> f64 {
    full_at(items, evidence, within_budget(items, budget))
}

/// SQuAD-style answer normalisation: lower case, punctuation removed, articles (a, an,
/// the) dropped, white space collapsed; as words.
pub fn answer_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .map(str::to_owned)
        .collect()
}

/// Words of `prediction` also in `gold`, each gold word used at most once.
fn overlap(prediction: &[String], gold: &[String]) -> usize {
    let mut left: Vec<&String> = gold.iter().collect();
    prediction
        .iter()
        .filter(|w| match left.iter().position(|g| g == w) {
            Some(at) => {
                left.swap_remove(at);
                true
            }
            None => false,
        })
        .count()
}

/// Token-level F1 of the normalised answers (1 when both are empty).
pub fn token_f1(prediction: &str, gold: &str) -> f64 {
    let (p, g) = (answer_words(prediction), answer_words(gold));
    if p.is_empty() || g.is_empty() {
        return f64::from(u8::from(p.is_empty() && g.is_empty()));
    }
    let common = overlap(&p, &g);
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// BLEU-1 of the normalised answers: clipped unigram precision times the brevity penalty
/// `exp(1 - gold/prediction)` when the prediction is shorter than the gold answer.
pub fn bleu1(prediction: &str, gold: &str) -> f64 {
    let (p, g) = (answer_words(prediction), answer_words(gold));
    if p.is_empty() || g.is_empty() {
        return 0.0;
    }
    let precision = overlap(&p, &g) as f64 / p.len() as f64;
    let brevity = if p.len() >= g.len() {
        1.0
    } else {
        (1.0 - g.len() as f64 / p.len() as f64).exp()
    };
    precision * brevity
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(ids: &[&[&str]], tokens: usize) -> Vec<Item> {
        ids.iter()
            .map(|ids| Item {
                dia_ids: ids.iter().map(|s| s.to_string()).collect(),
                tokens,
            })
            .collect()
    }

    fn ev(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn evidence_ids_are_normalised() {
        let check = |raw: &[&str], expected: &[&str]| {
            assert_eq!(normalize_evidence(raw), ev(expected), "{raw:?}");
        };
        check(&["D1:3"], &["D1:3"]);
        check(&["D8:6; D9:17"], &["D8:6", "D9:17"]);
        check(&["D30:05"], &["D30:5"]);
        check(&["D:11:26"], &[]);
        check(&["D1:3", "D1:3", "D2:1,D2:2"], &["D1:3", "D2:1", "D2:2"]);
        check(&["D3:0", "D03:007"], &["D3:0", "D3:7"]);
        check(&["", "D", "D1:", "x", "1:2"], &[]);
        check(&["(D4:12)"], &["D4:12"]);
        check(&["D10:1 D10:2"], &["D10:1", "D10:2"]);
    }

    #[test]
    fn recall_full_and_reciprocal_rank_by_hand() {
        let ranked = items(&[&["D1:1"], &["D1:2"], &["D2:5", "D2:6"], &["D3:1"]], 10);
        let evidence = ev(&["D2:6", "D3:1"]);
        let check = |k: usize, recall: f64, full: f64| {
            assert_eq!(recall_at(&ranked, &evidence, k), recall, "recall@{k}");
            assert_eq!(full_at(&ranked, &evidence, k), full, "full@{k}");
        };
        check(1, 0.0, 0.0);
        check(2, 0.0, 0.0);
        check(3, 0.5, 0.0);
        check(4, 1.0, 1.0);
        check(50, 1.0, 1.0);
        assert_eq!(reciprocal_rank(&ranked, &evidence), 1.0 / 3.0);
        assert_eq!(reciprocal_rank(&ranked, &ev(&["D1:1"])), 1.0);
        assert_eq!(reciprocal_rank(&ranked, &ev(&["D9:9"])), 0.0);
        assert_eq!(recall_at(&ranked, &[], 10), 0.0);
        assert_eq!(full_at(&ranked, &[], 10), 0.0);
        assert_eq!(recall_at(&[], &evidence, 10), 0.0);
    }

    #[test]
    fn budgets_cut_the_ranked_list() {
        let ranked = items(&[&["D1:1"], &["D1:2"], &["D1:3"]], 400);
        let check = |budget: usize, fit: usize, full: f64| {
            assert_eq!(within_budget(&ranked, budget), fit, "{budget}");
            assert_eq!(
                full_within(&ranked, &ev(&["D1:1", "D1:3"]), budget),
                full,
                "{budget}"
            );
        };
        check(0, 0, 0.0);
        check(399, 0, 0.0);
        check(400, 1, 0.0);
        check(1000, 2, 0.0);
        check(1200, 3, 1.0);
        check(4000, 3, 1.0);
    }

    #[test]
    fn answer_scores_by_hand() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let check = |prediction: &str, gold: &str, f1: f64, bleu: f64| {
            let (got_f1, got_bleu) = (token_f1(prediction, gold), bleu1(prediction, gold));
            assert!(close(got_f1, f1), "f1 {prediction:?} {gold:?}: {got_f1}");
            assert!(
                close(got_bleu, bleu),
                "bleu {prediction:?} {gold:?}: {got_bleu}"
            );
        };
        check("7 May 2023", "7 May 2023", 1.0, 1.0);
        check("The sunrise.", "sunrise", 1.0, 1.0);
        // p = 1/2, r = 1/1: F1 2/3; BLEU-1 precision 1/2, no brevity penalty.
        check("Paris France", "Paris", 2.0 / 3.0, 0.5);
        // p = 1/1, r = 1/3: F1 0.5; BLEU-1 1 * exp(1 - 3).
        check(
            "psychology",
            "psychology counseling certification",
            0.5,
            (-2.0f64).exp(),
        );
        check("no", "yes", 0.0, 0.0);
        // Clipped: the one gold "cat" matches one predicted "cat".
        check("cat cat cat", "cat", 0.5, 1.0 / 3.0);
        check("", "", 1.0, 0.0);
        check("", "x", 0.0, 0.0);
        assert_eq!(
            answer_words("The Art, of a  War!"),
            ev(&["art", "of", "war"])
        );
    }
}
