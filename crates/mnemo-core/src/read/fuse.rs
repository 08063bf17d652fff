//! Reciprocal-rank fusion of the retrievers' lists, the cut to `limit` and `token_budget`,
//! and the `context` text and subgraph of what is kept.

use std::collections::HashMap;

use super::resolve::{Names, as_known_at};
use super::retrieve::Ranked;
use super::{FactHit, RelationHit, Retriever, Subgraph};
use crate::ports::TokenCounter;
use crate::{Fact, FactId, Relation, RelationId, RelationView, StoreError, Timestamp};

/// The `k` of reciprocal-rank fusion: an item at rank `r` (from 1) of a list scores
/// `1 / (k + r)`.
pub(crate) const RRF_K: f32 = 60.0;

const RELATIONS_HEADER: &str = "Relations:";
const FACTS_HEADER: &str = "Facts:";

/// A result before it is cut.
#[derive(Debug)]
pub(crate) enum Item {
    Relation(Relation),
    Fact(Fact),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Relation(RelationId),
    Fact(FactId),
}

impl Item {
    fn key(&self) -> Key {
        match self {
            Item::Relation(r) => Key::Relation(r.id),
            Item::Fact(f) => Key::Fact(f.id),
        }
    }
}

/// One fused result.
#[derive(Debug)]
pub(crate) struct Fused {
    pub item: Item,
    pub score: f32,
    pub found_by: Vec<Retriever>,
}

/// Fuses the ranked lists: each item scores the sum of `1 / (RRF_K + rank)` over the lists
/// it is in, and appears once. Best first; ties keep the order of first appearance.
pub(crate) fn reciprocal_rank(
    walked: Vec<Ranked<Relation>>,
    triplets: Vec<Ranked<Relation>>,
    facts: Vec<Ranked<Fact>>,
) -> Vec<Fused> {
    let lists: [(Retriever, Vec<Item>); 3] = [
        (
            Retriever::Entities,
            walked.into_iter().map(|r| Item::Relation(r.item)).collect(),
        ),
        (
            Retriever::Triplets,
            triplets
                .into_iter()
                .map(|r| Item::Relation(r.item))
                .collect(),
        ),
        (
            Retriever::Facts,
            facts.into_iter().map(|r| Item::Fact(r.item)).collect(),
        ),
    ];
    let mut fused: Vec<Fused> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for (retriever, items) in lists {
        for (rank, item) in items.into_iter().enumerate() {
            let score = 1.0 / (RRF_K + rank as f32 + 1.0);
            match index.get(&item.key()) {
                Some(&at) => {
                    let entry = &mut fused[at];
                    if !entry.found_by.contains(&retriever) {
                        entry.score += score;
                        entry.found_by.push(retriever);
                    }
                }
                None => {
                    index.insert(item.key(), fused.len());
                    fused.push(Fused {
                        item,
                        score,
                        found_by: vec![retriever],
                    });
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

/// What survives the cut.
#[derive(Debug, Default)]
pub(crate) struct Cut {
    pub relations: Vec<RelationHit>,
    pub facts: Vec<FactHit>,
}

/// Keeps the best results, at most `limit`, whose context lines fit in `budget` tokens
/// together (a result that does not fit is skipped and smaller ones after it may still
/// fit); relations count only when `count_relations` (they are in the context). Relations are shown as known at `known_at`; a fact saying what a kept relation's
/// fact says is dropped as a duplicate.
pub(crate) async fn cut(
    fused: Vec<Fused>,
    names: &mut Names<'_>,
    tokens: &dyn TokenCounter,
    limit: usize,
    budget: Option<usize>,
    count_relations: bool,
    known_at: Timestamp,
) -> Result<Cut, StoreError> {
    let mut cut = Cut::default();
    let mut used = 0usize;
    let mut seen_text: Vec<String> = Vec::new();
    for Fused {
        item,
        score,
        found_by,
    } in fused
    {
        if cut.relations.len() + cut.facts.len() == limit {
            break;
        }
        match item {
            Item::Relation(relation) => {
                let Some(view) = names.view(as_known_at(relation, known_at)).await? else {
                    continue;
                };
                if count_relations {
                    let line = relation_line(&view);
                    let header = cut.relations.is_empty().then_some(RELATIONS_HEADER);
                    if !fits(tokens, budget, &mut used, header, &line) {
                        continue;
                    }
                }
                seen_text.push(same_text_key(&view.relation.fact));
                cut.relations.push(RelationHit {
                    view,
                    score,
                    found_by,
                });
            }
            Item::Fact(fact) => {
                if seen_text.contains(&same_text_key(&fact.text)) {
                    continue;
                }
                let line = fact_line(&fact);
                let header = cut.facts.is_empty().then_some(FACTS_HEADER);
                if !fits(tokens, budget, &mut used, header, &line) {
                    continue;
                }
                seen_text.push(same_text_key(&fact.text));
                cut.facts.push(FactHit { fact, score });
            }
        }
    }
    // Counts of lines add up for the WordPiece tokenizer; for any other, drop the last
    // results until the joined text fits.
    if let Some(budget) = budget {
        let shown = |cut: &Cut| {
            if count_relations {
                cut.relations.len()
            } else {
                0
            }
        };
        while tokens.count(&context(
            cut.relations[..shown(&cut)].iter().map(|h| &h.view),
            cut.facts.iter().map(|h| &h.fact),
        )) > budget
        {
            let last_relation = cut.relations[..shown(&cut)].last().map(|h| h.score);
            let last_fact = cut.facts.last().map(|h| h.score);
            match (last_relation, last_fact) {
                (Some(r), Some(f)) if f <= r => drop(cut.facts.pop()),
                (Some(_), _) => drop(cut.relations.pop()),
                (None, Some(_)) => drop(cut.facts.pop()),
                (None, None) => break,
            }
        }
    }
    Ok(cut)
}

/// Adds the line (and the section header it opens) to `used` if they fit in `budget`.
fn fits(
    tokens: &dyn TokenCounter,
    budget: Option<usize>,
    used: &mut usize,
    header: Option<&str>,
    line: &str,
) -> bool {
    let Some(budget) = budget else {
        return true;
    };
    let cost = tokens.count(line) + header.map_or(0, |h| tokens.count(h));
    if *used + cost > budget {
        return false;
    }
    *used += cost;
    true
}

fn same_text_key(text: &str) -> String {
    super::query::words(text).join(" ")
}

fn date(t: Option<Timestamp>, missing: &str) -> String {
    t.map_or_else(|| missing.to_owned(), |t| t.format("%Y-%m-%d").to_string())
}

/// "- Alice LIVES_IN Lisbon (Alice lives in Lisbon) [valid 2024-03-01 → now]"; a
/// retracted relation (shown only to a read from before the retraction) never gets here.
pub(crate) fn relation_line(view: &RelationView) -> String {
    let triplet = view.triplet_text();
    let times = &view.relation.times;
    let fact = view.relation.fact.trim();
    let said = if fact.is_empty() || fact.eq_ignore_ascii_case(&triplet) {
        String::new()
    } else {
        format!(" ({fact})")
    };
    format!(
        "- {triplet}{said} [valid {} → {}]",
        date(times.valid_from, "?"),
        date(times.valid_to, "now")
    )
}

/// "- Alice is vegetarian [2024-03-02]" (the date the fact was last changed).
pub(crate) fn fact_line(fact: &Fact) -> String {
    format!(
        "- {} [{}]",
        fact.text.trim(),
        date(Some(fact.updated_at), "")
    )
}

/// The prompt text of the kept results: a relations section, then a facts section, each
/// only when it has lines.
pub(crate) fn context<'a>(
    relations: impl Iterator<Item = &'a RelationView>,
    facts: impl Iterator<Item = &'a Fact>,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (i, view) in relations.enumerate() {
        if i == 0 {
            lines.push(RELATIONS_HEADER.into());
        }
        lines.push(relation_line(view));
    }
    for (i, fact) in facts.enumerate() {
        if i == 0 {
            lines.push(FACTS_HEADER.into());
        }
        lines.push(fact_line(fact));
    }
    lines.join("\n")
}

/// The kept relations as a graph: their ends (each once, in order of appearance) and the
/// relations themselves.
pub(crate) fn subgraph(relations: &[RelationHit]) -> Subgraph {
    let mut graph = Subgraph::default();
    for hit in relations {
        for end in [&hit.view.source, &hit.view.target] {
            if !graph.nodes.iter().any(|n| n.id == end.id) {
                graph.nodes.push(end.clone());
            }
        }
        graph.edges.push(hit.view.clone());
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts whitespace-separated words: enough to test the budget arithmetic.
    struct Words;
    impl TokenCounter for Words {
        fn count(&self, text: &str) -> usize {
            text.split_whitespace().count()
        }
    }

    #[test]
    fn rrf_scores_add_up_across_lists() {
        let a = 1.0 / 61.0;
        let b = 1.0 / 62.0;
        assert!((a + b - (1.0 / (RRF_K + 1.0) + 1.0 / (RRF_K + 2.0))).abs() < 1e-9);
        // Found by two lists at rank 2 beats found by one at rank 1.
        assert!(2.0 * b > a);
        assert_eq!(Words.count("a b  c"), 3);
    }
}
