//! The cut of a search: the best fused results, at most `limit`, whose context lines fit in
//! `token_budget`. Pure: the candidates arrive loaded, only the tokenizer is consulted.

use super::fuse::{Candidate, Fused};
use super::render::{FACTS_HEADER, RELATIONS_HEADER, context, fact_line, relation_line};
use super::{FactHit, RelationHit};
use crate::ports::TokenCounter;
use crate::text::same_text_key;

/// Tokens a line break may add to (or take from) the sum of the lines' counts.
const JOIN_SLACK: usize = 2;

/// What survives the cut.
#[derive(Debug, Default)]
pub(crate) struct Cut {
    pub relations: Vec<RelationHit>,
    pub facts: Vec<FactHit>,
}

/// How much a search may return.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Results, relations and facts together.
    pub count: usize,
    /// Tokens of `context`.
    pub tokens: Option<usize>,
    /// Whether relations are in `context` (and so count against `tokens`).
    pub count_relations: bool,
}

/// Keeps the best results, at most `limits.count`, whose context lines fit in
/// `limits.tokens` together (a result that does not fit is skipped and smaller ones after
/// it may still fit). A fact saying what a kept relation's fact says is dropped as a
/// duplicate.
pub(crate) fn cut(fused: Vec<Fused>, tokens: &dyn TokenCounter, limits: Limits) -> Cut {
    let Limits {
        count: limit,
        tokens: budget,
        count_relations,
    } = limits;
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
            Candidate::Relation(view) => {
                if count_relations {
                    let line = relation_line(&view);
                    let header = cut.relations.is_empty().then_some(RELATIONS_HEADER);
                    if !fits(tokens, budget, &mut used, header, &line) {
                        continue;
                    }
                }
                seen_text.push(same_text_key(&view.relation.fact));
                cut.relations.push(RelationHit {
                    view: *view,
                    score,
                    found_by,
                });
            }
            Candidate::Fact(fact) => {
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
            Candidate::Gone => {}
        }
    }
    // The joined text counts as the sum of its lines for the WordPiece tokenizer, and within
    // a couple of tokens per line break for BPE ones. Only when that slack could break the
    // budget is the text counted, dropping the last results until it fits.
    if let Some(budget) = budget {
        let shown = |cut: &Cut| {
            if count_relations {
                cut.relations.len()
            } else {
                0
            }
        };
        let lines = shown(&cut) + cut.facts.len() + 2;
        while used + JOIN_SLACK * lines > budget
            && tokens.count(&context(
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
    cut
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
