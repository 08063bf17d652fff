//! Reciprocal-rank fusion of the retrievers' lists, the cut to `limit` and `token_budget`,
//! and the `context` text and subgraph of what is kept.

use std::collections::{HashMap, HashSet};

use super::resolve::{Names, as_known_at};
use super::retrieve::Ranked;
use super::{FactHit, RelationHit, Retriever, Subgraph};
use crate::ports::TokenCounter;
use crate::{
    EntityId, Fact, FactId, Relation, RelationId, RelationView, StoreError, Timestamp, Visibility,
    is_visible,
};

/// The `k` of reciprocal-rank fusion: an item at rank `r` (from 1) of a list scores
/// `1 / (k + r)`.
pub(crate) const RRF_K: f32 = 60.0;

/// Tokens a line break may add to (or take from) the sum of the lines' counts.
const JOIN_SLACK: usize = 2;

const RELATIONS_HEADER: &str = "Relations:";
const FACTS_HEADER: &str = "Facts:";

/// A result before it is cut.
#[derive(Debug)]
pub(crate) enum Item {
    Relation(Relation),
    /// A relation hit by vector search, not loaded yet.
    Pending(RelationId),
    /// A pending relation that is gone from the graph or not visible there.
    Gone,
    Fact(Fact),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Relation(RelationId),
    Fact(FactId),
}

impl Item {
    fn key(&self) -> Option<Key> {
        match self {
            Item::Relation(r) => Some(Key::Relation(r.id)),
            Item::Pending(id) => Some(Key::Relation(*id)),
            Item::Fact(f) => Some(Key::Fact(f.id)),
            Item::Gone => None,
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
    triplets: Vec<Ranked<Item>>,
    facts: Vec<Ranked<Fact>>,
) -> Vec<Fused> {
    let lists: [(Retriever, Vec<Item>); 3] = [
        (
            Retriever::Entities,
            walked.into_iter().map(|r| Item::Relation(r.item)).collect(),
        ),
        (
            Retriever::Triplets,
            triplets.into_iter().map(|r| r.item).collect(),
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
            let Some(key) = item.key() else {
                continue;
            };
            match index.get(&key) {
                Some(&at) => {
                    let entry = &mut fused[at];
                    if !entry.found_by.contains(&retriever) {
                        entry.score += score;
                        entry.found_by.push(retriever);
                    }
                }
                None => {
                    index.insert(key, fused.len());
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

/// The ends of the first `n` relations.
pub(crate) fn ends(relations: &[Ranked<Relation>], n: usize) -> Vec<EntityId> {
    relations
        .iter()
        .take(n)
        .flat_map(|r| [r.item.source, r.item.target])
        .collect()
}

/// The vector hits as items to fuse: the first `load` that the walk did not already load
/// are loaded (and checked against the graph), the rest stay pending.
pub(crate) async fn load_hits(
    hits: Vec<Ranked<RelationId>>,
    walked: &HashSet<RelationId>,
    load: usize,
    names: &mut Names<'_>,
    at: Visibility,
) -> Result<Vec<Ranked<Item>>, StoreError> {
    let mut items: Vec<Ranked<Item>> = hits
        .iter()
        .map(|hit| Ranked {
            item: Item::Pending(hit.item),
            score: hit.score,
        })
        .collect();
    let mut to_load: Vec<usize> = Vec::new();
    for (i, hit) in hits.iter().enumerate() {
        if to_load.len() == load {
            break;
        }
        if !walked.contains(&hit.item) {
            to_load.push(i);
        }
    }
    // Each load goes on to the relation's ends, so the round trips overlap.
    let shared: &Names<'_> = names;
    let loads = to_load.iter().map(|&i| {
        let id = hits[i].item;
        async move {
            let relation = match shared.relation(id).await? {
                Some(r) if is_visible(&r.times, &at) => r,
                _ => return Ok((Item::Gone, Vec::new())),
            };
            let mut ends = Vec::new();
            for end in [relation.source, relation.target] {
                if !shared.knows(end) && !ends.iter().any(|(id, _)| *id == end) {
                    ends.push((end, shared.load(end).await?));
                }
            }
            Ok::<_, StoreError>((Item::Relation(relation), ends))
        }
    });
    let loaded = super::join_all(loads.collect(), super::CONCURRENCY).await;
    for (&i, loaded) in to_load.iter().zip(loaded) {
        let (item, ends) = loaded?;
        items[i].item = item;
        for (id, entity) in ends {
            names.insert(id, entity);
        }
    }
    Ok(items)
}

/// Loads the pending relations among `items` a few at a time; those gone from the graph,
/// or not visible there at `at` (the vector payload can lag the graph after a crash),
/// become [`Item::Gone`].
async fn load_pending(
    items: &mut [Fused],
    names: &Names<'_>,
    at: Visibility,
) -> Result<(), StoreError> {
    let pending: Vec<(usize, RelationId)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f.item {
            Item::Pending(id) => Some((i, id)),
            _ => None,
        })
        .collect();
    let loads = pending.iter().map(|&(_, id)| names.relation(id));
    let loaded = super::join_all(loads.collect(), super::CONCURRENCY).await;
    for (&(i, _), loaded) in pending.iter().zip(loaded) {
        items[i].item = match loaded? {
            Some(r) if is_visible(&r.times, &at) => Item::Relation(r),
            _ => Item::Gone,
        };
    }
    Ok(())
}

/// Keeps the best results, at most `limits.count`, whose context lines fit in
/// `limits.tokens` together (a result that does not fit is skipped and smaller ones after
/// it may still fit). Relations are shown as known at `at.known_at`; a fact saying what a
/// kept relation's fact says is dropped as a duplicate.
pub(crate) async fn cut(
    mut fused: Vec<Fused>,
    names: &mut Names<'_>,
    tokens: &dyn TokenCounter,
    limits: Limits,
    at: Visibility,
) -> Result<Cut, StoreError> {
    let Limits {
        count: limit,
        tokens: budget,
        count_relations,
    } = limits;
    // What is likely to be kept is loaded together: the pending relations, then the ends
    // of every relation.
    let ahead = fused.len().min(limit + limit / 2 + 2);
    load_pending(&mut fused[..ahead], names, at).await?;
    // Collected first: a borrowing closure held across the await would make the search
    // future not `Send` (a rustc limitation with higher-ranked lifetimes).
    let ends: Vec<EntityId> = fused[..ahead]
        .iter()
        .filter_map(|f| match &f.item {
            Item::Relation(r) => Some([r.source, r.target]),
            _ => None,
        })
        .flatten()
        .collect();
    names.prefetch(ends).await?;

    let mut cut = Cut::default();
    let mut used = 0usize;
    let mut seen_text: Vec<String> = Vec::new();
    for i in 0..fused.len() {
        if cut.relations.len() + cut.facts.len() == limit {
            break;
        }
        load_pending(&mut fused[i..=i], names, at).await?;
        let Fused {
            item,
            score,
            found_by,
        } = std::mem::replace(
            &mut fused[i],
            Fused {
                item: Item::Gone,
                score: 0.0,
                found_by: Vec::new(),
            },
        );
        match item {
            Item::Relation(relation) => {
                let Some(view) = names.view(as_known_at(relation, at.known_at)).await? else {
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
            Item::Pending(_) | Item::Gone => {}
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
    use crate::{EntityId, RelationTimes, RelationType, Scope};

    fn id(n: u128) -> uuid::Uuid {
        uuid::Uuid::from_u128(n)
    }

    fn relation(n: u128) -> Relation {
        let now = chrono::Utc::now();
        Relation {
            id: RelationId::from_uuid(id(n)),
            scope: Scope::user("u").unwrap(),
            source: EntityId::new(),
            relation_type: RelationType::parse("KNOWS").unwrap(),
            target: EntityId::new(),
            fact: String::new(),
            times: RelationTimes {
                valid_from: None,
                valid_to: None,
                recorded_at: now,
                invalidated_at: None,
                retracted_at: None,
            },
            invalidated_by: None,
            invalidated_in: None,
            episodes: Vec::new(),
            mentions: 1,
            stated_end: None,
        }
    }

    fn fact(n: u128) -> Fact {
        let now = chrono::Utc::now();
        Fact {
            id: FactId::from_uuid(id(n)),
            scope: Scope::user("u").unwrap(),
            text: String::new(),
            metadata: serde_json::Value::Null,
            created_at: now,
            updated_at: now,
            episodes: Vec::new(),
        }
    }

    fn ranked<T>(items: impl IntoIterator<Item = T>) -> Vec<Ranked<T>> {
        items
            .into_iter()
            .map(|item| Ranked { item, score: 0.5 })
            .collect()
    }

    /// "r2 r1+" etc.: `rN` for relation N, `fN` for fact N, `+` when found by two lists.
    fn check(walked: &[u128], triplets: &[Option<u128>], facts: &[u128], expected: &str) {
        let fused = reciprocal_rank(
            ranked(walked.iter().map(|&n| relation(n))),
            ranked(triplets.iter().map(|n| match n {
                Some(n) => Item::Pending(RelationId::from_uuid(id(*n))),
                None => Item::Gone,
            })),
            ranked(facts.iter().map(|&n| fact(n))),
        );
        let got: Vec<String> = fused
            .iter()
            .map(|f| {
                let plus = if f.found_by.len() > 1 { "+" } else { "" };
                match &f.item {
                    Item::Relation(r) => format!("r{}{plus}", r.id.as_uuid().as_u128()),
                    Item::Pending(r) => format!("r{}{plus}", r.as_uuid().as_u128()),
                    Item::Fact(f) => format!("f{}{plus}", f.id.as_uuid().as_u128()),
                    Item::Gone => "gone".into(),
                }
            })
            .collect();
        assert_eq!(got.join(" "), expected);
        let scores: Vec<f32> = fused.iter().map(|f| f.score).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }

    #[test]
    fn reciprocal_rank_fusion() {
        // Found twice beats found once at a better rank; ties keep first appearance.
        check(&[1, 2], &[Some(2), Some(3)], &[1], "r2+ r1 f1 r3");
        check(&[], &[Some(5), Some(6)], &[7, 8], "r5 f7 r6 f8");
        // A relation found by both keeps the walk's loaded copy.
        check(&[4], &[Some(4)], &[], "r4+");
        // A hit gone from the graph takes no place.
        check(&[1], &[None, Some(2)], &[], "r1 r2");
        check(&[], &[], &[], "");
        let single = 1.0 / (RRF_K + 1.0);
        let fused = reciprocal_rank(ranked([relation(1)]), Vec::new(), Vec::new());
        assert_eq!(fused[0].score, single);
    }

    #[tokio::test]
    async fn join_all_keeps_order_and_bounds_what_is_in_flight() {
        use std::cell::Cell;
        use std::task::Poll;
        let in_flight = Cell::new(0usize);
        let most = Cell::new(0usize);
        let futures: Vec<_> = (0..10)
            .map(|i| {
                let (in_flight, most) = (&in_flight, &most);
                async move {
                    in_flight.set(in_flight.get() + 1);
                    most.set(most.get().max(in_flight.get()));
                    // Pending once per index, so they finish out of order.
                    for _ in 0..(10 - i) {
                        let mut yielded = false;
                        std::future::poll_fn(|cx| {
                            if yielded {
                                Poll::Ready(())
                            } else {
                                yielded = true;
                                cx.waker().wake_by_ref();
                                Poll::Pending
                            }
                        })
                        .await;
                    }
                    in_flight.set(in_flight.get() - 1);
                    i * 2
                }
            })
            .collect();
        let out = super::super::join_all(futures, 3).await;
        assert_eq!(out, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most.get(), 3);
    }
}
