//! The three retrievers of a search, each a ranked list drawn from one index: the walk
//! from the linked entities (adjacency), the nearest relations (relation vectors) and the
//! nearest facts (fact vectors).

use std::collections::HashSet;

use super::query::{self, QueryText};
use crate::ports::{GraphRead, Scored, VectorRead};
use crate::{Entity, EntityId, Fact, Relation, Scope, StoreError, Timestamp, Visibility};

/// Vector hits below this cosine similarity are unrelated to the query and dropped.
pub(crate) const MIN_SIMILARITY: f32 = 0.15;
/// Vector hits scoring less than this share of the best hit are dropped too: nearest
/// neighbours always exist, and the ones far behind the best are noise in a prompt.
pub(crate) const RELATIVE_SIMILARITY: f32 = 0.5;
/// Added to a walked relation's similarity, so hop distance still orders relations the
/// query says nothing about.
const BASE_RELEVANCE: f32 = 0.1;

/// An item and its retriever's score (higher is better), in the retriever's order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ranked<T> {
    pub item: T,
    pub score: f32,
}

/// What the entity-centric retriever found.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// The linked entities the walk started from.
    pub seeds: Vec<Entity>,
    /// The best walked relations, best first.
    pub relations: Vec<Ranked<Relation>>,
}

/// How well a relation matches the query's content words other than the seeds' names
/// (the share found in its fact and type words), 1 for a relation between two seeds.
struct Relevance {
    seeds: HashSet<EntityId>,
    terms: Vec<String>,
}

impl Relevance {
    fn new(seeds: &[Entity], text: &QueryText) -> Relevance {
        let seed_words: HashSet<String> = seeds
            .iter()
            .flat_map(|e| query::words(&e.display_name))
            .collect();
        Relevance {
            seeds: seeds.iter().map(|e| e.id).collect(),
            terms: text
                .content_words()
                .into_iter()
                .filter(|w| !seed_words.contains(*w))
                .map(str::to_owned)
                .collect(),
        }
    }

    fn of(&self, r: &Relation) -> f32 {
        if self.seeds.contains(&r.source) && self.seeds.contains(&r.target) {
            return 1.0;
        }
        let words: Vec<String> = query::words(&r.fact)
            .into_iter()
            .chain(query::words(r.relation_type.as_str()))
            .collect();
        let terms: Vec<&str> = self.terms.iter().map(String::as_str).collect();
        query::term_overlap(&terms, &words)
    }
}

/// A bounded breadth-first walk from `seeds` to `depth` hops over relations visible at
/// `at` (see [`super::walk`]), expanding first the entities reached through the most
/// relevant relations. A relation scores `(BASE_RELEVANCE + relevance) / hops`; the best
/// `keep` are returned.
pub(crate) async fn walk(
    graph: &dyn GraphRead,
    scope: &Scope,
    seeds: &[Entity],
    depth: u8,
    at: Visibility,
    text: &QueryText,
    keep: usize,
) -> Result<Walked, StoreError> {
    if seeds.is_empty() {
        return Ok(Walked::default());
    }
    let relevance = Relevance::new(seeds, text);
    let seed_ids: Vec<EntityId> = seeds.iter().map(|e| e.id).collect();
    let walked = super::walk::walk(graph, scope, &seed_ids, depth, at, super::walk::SEARCH, |r| {
        relevance.of(r)
    })
    .await?;
    let mut scored: Vec<Ranked<Relation>> = walked
        .into_iter()
        .map(|w| Ranked {
            score: (BASE_RELEVANCE + relevance.of(&w.relation)) / f32::from(w.hops.max(1)),
            item: w.relation,
        })
        .collect();
    // Stable: equal scores keep the walk's order (hop, then the store's order).
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    scored.truncate(keep);
    Ok(Walked {
        seeds: seeds.to_vec(),
        relations: scored,
    })
}

/// The hits worth showing: at least [`MIN_SIMILARITY`] and [`RELATIVE_SIMILARITY`] of the
/// best one. Hits come best first.
fn relevant<T>(hits: Vec<Scored<T>>) -> Vec<Scored<T>> {
    let best = hits.first().map_or(0.0, |hit| hit.score);
    let floor = MIN_SIMILARITY.max(best * RELATIVE_SIMILARITY);
    hits.into_iter().filter(|hit| hit.score >= floor).collect()
}

/// The nearest relations visible at `at` by embedding of their fact. The vector payload
/// can lag the graph (a crash between the two writes), so each hit is loaded and checked
/// again; ids that no longer exist are skipped.
pub(crate) async fn triplets(
    graph: &dyn GraphRead,
    vectors: &dyn VectorRead,
    scope: &Scope,
    query: &[f32],
    k: usize,
    at: Visibility,
) -> Result<Vec<Ranked<Relation>>, StoreError> {
    let hits = relevant(vectors.search_relations(scope, query, k, at).await?);
    let mut loaded = Vec::with_capacity(hits.len());
    for group in hits.chunks(super::walk::CONCURRENCY) {
        let loads = group.iter().map(|hit| graph.relation(scope, hit.item));
        loaded.extend(super::join_all(loads.collect()).await);
    }
    let mut out = Vec::with_capacity(hits.len());
    for (hit, relation) in hits.into_iter().zip(loaded) {
        if let Some(relation) = relation?
            && crate::is_visible(&relation.times, &at)
        {
            out.push(Ranked {
                item: relation,
                score: hit.score,
            });
        }
    }
    Ok(out)
}

/// The nearest facts recorded by `known_at`.
pub(crate) async fn facts(
    vectors: &dyn VectorRead,
    scope: &Scope,
    query: &[f32],
    k: usize,
    known_at: Timestamp,
) -> Result<Vec<Ranked<Fact>>, StoreError> {
    Ok(relevant(vectors.search_facts(scope, query, k).await?)
        .into_iter()
        .filter(|hit| hit.item.created_at <= known_at)
        .map(|hit| Ranked {
            item: hit.item,
            score: hit.score,
        })
        .collect())
}
