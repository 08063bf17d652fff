//! The three retrievers of a search, each a ranked list drawn from one index: the walk
//! from the linked entities (adjacency), the nearest relations (relation vectors) and the
//! nearest facts (fact vectors).

use std::collections::{HashMap, HashSet};

use super::query::{self, QueryText};
use crate::ports::{GraphRead, Scored, VectorRead};
use crate::{
    Entity, EntityId, Fact, Relation, RelationId, Scope, StoreError, Timestamp, Visibility,
};

/// Vector hits below this cosine similarity are unrelated to the query and dropped.
const MIN_SIMILARITY: f32 = 0.15;
/// Vector hits scoring less than this share of the best hit are dropped too: nearest
/// neighbours always exist, and the ones far behind the best are noise in a prompt.
const RELATIVE_SIMILARITY: f32 = 0.5;
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

/// A bounded breadth-first walk from `start` to `depth` hops over relations visible at
/// `at` (see [`super::walk`]), expanding first the entities reached through the most
/// relevant relations. `seeds` are all the linked entities (a relation between two of them
/// is what the query asks about). A relation scores `(BASE_RELEVANCE + relevance) / hops`;
/// best first.
pub(crate) async fn walk(
    graph: &dyn GraphRead,
    scope: &Scope,
    seeds: &[Entity],
    start: &[Entity],
    depth: u8,
    at: Visibility,
    text: &QueryText,
) -> Result<Walked, StoreError> {
    if start.is_empty() {
        return Ok(Walked {
            seeds: seeds.to_vec(),
            relations: Vec::new(),
        });
    }
    let relevance = Relevance::new(seeds, text);
    let start_ids: Vec<EntityId> = start.iter().map(|e| e.id).collect();
    let walked = super::walk::walk(
        graph,
        scope,
        &start_ids,
        depth,
        at,
        super::walk::SEARCH,
        |r| relevance.of(r),
    )
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
    Ok(Walked {
        seeds: seeds.to_vec(),
        relations: scored,
    })
}

impl Walked {
    /// Adds another walk's relations (a relation reached by both keeps its best score).
    pub(crate) fn merge(&mut self, other: Walked) {
        if other.relations.is_empty() {
            return;
        }
        let mut at: HashMap<RelationId, usize> = self
            .relations
            .iter()
            .enumerate()
            .map(|(i, r)| (r.item.id, i))
            .collect();
        for ranked in other.relations {
            match at.get(&ranked.item.id) {
                Some(&i) => {
                    let best = self.relations[i].score.max(ranked.score);
                    self.relations[i].score = best;
                }
                None => {
                    at.insert(ranked.item.id, self.relations.len());
                    self.relations.push(ranked);
                }
            }
        }
        self.relations.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
}

/// The hits worth showing: at least [`MIN_SIMILARITY`] and [`RELATIVE_SIMILARITY`] of the
/// best one. Hits come best first.
fn relevant<T>(hits: Vec<Scored<T>>) -> Vec<Scored<T>> {
    let best = hits.first().map_or(0.0, |hit| hit.score);
    let floor = MIN_SIMILARITY.max(best * RELATIVE_SIMILARITY);
    hits.into_iter().filter(|hit| hit.score >= floor).collect()
}

/// The nearest relations visible at `at` by embedding of their fact, as ids: they are
/// loaded (and checked against the graph) only if they make the cut.
pub(crate) async fn triplets(
    vectors: &dyn VectorRead,
    scope: &Scope,
    query: &[f32],
    k: usize,
    at: Visibility,
) -> Result<Vec<Ranked<RelationId>>, StoreError> {
    Ok(
        relevant(vectors.search_relations(scope, query, k, at).await?)
            .into_iter()
            .map(|hit| Ranked {
                item: hit.item,
                score: hit.score,
            })
            .collect(),
    )
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
