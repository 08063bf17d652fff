//! The three retrievers of a search, each a ranked list drawn from one index: the walk
//! from the linked entities (adjacency), the nearest relations (relation vectors) and the
//! nearest facts (fact vectors).

use std::collections::{HashMap, HashSet};

use super::query::{self, QueryText};
use crate::ports::{GraphRead, Scored, VectorRead};
use crate::write::plain_fact_id;
use crate::{
    Entity, EntityId, EpisodeId, Fact, FactId, Relation, RelationId, Scope, StoreError, Timestamp,
    Visibility,
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

/// Share of a message's full-text score credited to the next message of its episode (a
/// reply is about what it answers: "It taught me self-acceptance" answers "What did you
/// take away from Becoming Nicole?").
const CREDIT_TO_NEXT: f32 = 0.5;
/// Share credited to the previous message (a question is about what its answer says).
const CREDIT_TO_PREVIOUS: f32 = 0.25;

/// The facts recorded by `known_at` that match the query best: the nearest by embedding
/// (above the similarity floors) and the best full-text matches of its content words
/// ([`in_context`]), fused by reciprocal rank, so a fact both find comes first and a rare
/// word the embedding misses (a name, "LGBTQ") still finds its fact. Best first, at most
/// `k`.
pub(crate) async fn facts(
    vectors: &dyn VectorRead,
    scope: &Scope,
    query: &[f32],
    text: &QueryText,
    k: usize,
    known_at: Timestamp,
) -> Result<Vec<Ranked<Fact>>, StoreError> {
    let content_words = text.content_words();
    let lexical = async {
        if content_words.is_empty() {
            return Ok::<_, StoreError>(Vec::new());
        }
        let hits = vectors
            .search_facts_text(scope, &content_words.join(" "), k)
            .await?;
        in_context(vectors, scope, hits, k).await
    };
    let (nearest, lexical) = tokio::join!(vectors.search_facts(scope, query, k), lexical);
    let known = |hit: &Scored<Fact>| hit.item.created_at <= known_at;
    let mut fused: Vec<Ranked<Fact>> = Vec::new();
    let mut at: HashMap<FactId, usize> = HashMap::new();
    for list in [relevant(nearest?), lexical?] {
        for (rank, hit) in list.into_iter().filter(known).enumerate() {
            let score = 1.0 / (super::fuse::RRF_K + rank as f32 + 1.0);
            match at.get(&hit.item.id) {
                Some(&i) => fused[i].score += score,
                None => {
                    at.insert(hit.item.id, fused.len());
                    fused.push(Ranked {
                        item: hit.item,
                        score,
                    });
                }
            }
        }
    }
    // Stable: equal scores keep the embedding's order.
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused.truncate(k);
    Ok(fused)
}

/// The place of a message fact (`infer: false`) in its episode.
fn message_place(fact: &Fact) -> Option<(EpisodeId, usize)> {
    let index = fact.metadata.get("message_index")?.as_u64()?;
    Some((*fact.episodes.first()?, usize::try_from(index).ok()?))
}

/// Full-text hits re-scored in their conversation: a message fact scores its own match
/// plus [`CREDIT_TO_NEXT`] of the previous message's and [`CREDIT_TO_PREVIOUS`] of the
/// next one's, so the reply that answers a matching message is found although it repeats
/// none of the query's words. Neighbours that did not match are loaded by id (an
/// `infer: false` fact's id derives from its episode and index). Best first, at most `k`.
async fn in_context(
    vectors: &dyn VectorRead,
    scope: &Scope,
    hits: Vec<Scored<Fact>>,
    k: usize,
) -> Result<Vec<Scored<Fact>>, StoreError> {
    let mut scores: HashMap<FactId, f32> = HashMap::new();
    let mut facts: HashMap<FactId, Fact> = HashMap::new();
    let mut order: Vec<FactId> = Vec::new();
    let mut credit: Vec<(FactId, f32)> = Vec::new();
    for hit in hits {
        if let Some((episode, index)) = message_place(&hit.item) {
            if let Some(next) = index.checked_add(1) {
                credit.push((plain_fact_id(episode, next), CREDIT_TO_NEXT * hit.score));
            }
            if let Some(previous) = index.checked_sub(1) {
                credit.push((
                    plain_fact_id(episode, previous),
                    CREDIT_TO_PREVIOUS * hit.score,
                ));
            }
        }
        *scores.entry(hit.item.id).or_default() += hit.score;
        order.push(hit.item.id);
        facts.insert(hit.item.id, hit.item);
    }
    for (id, score) in credit {
        *scores.entry(id).or_default() += score;
    }
    // A neighbour that did not match makes the best `k` only by beating the `k`-th of the
    // matches (it ranks after them on a tie), so only those are loaded.
    let mut matched: Vec<f32> = facts.keys().map(|id| scores[id]).collect();
    matched.sort_by(|a, b| b.total_cmp(a));
    let bar = matched
        .get(k.saturating_sub(1))
        .copied()
        .unwrap_or(f32::MIN);
    let mut missing: Vec<FactId> = scores
        .iter()
        .filter(|(id, score)| !facts.contains_key(id) && **score > bar)
        .map(|(id, _)| *id)
        .collect();
    missing.sort_by(|a, b| scores[b].total_cmp(&scores[a]).then(a.cmp(b)));
    order.extend(&missing);
    let loads = missing.iter().map(|&id| vectors.fact(scope, id));
    for (id, loaded) in missing
        .iter()
        .zip(super::join_all(loads.collect(), super::CONCURRENCY).await)
    {
        if let Some(fact) = loaded? {
            facts.insert(*id, fact);
        }
    }
    let mut out: Vec<Scored<Fact>> = order
        .into_iter()
        .filter_map(|id| {
            let item = facts.remove(&id)?;
            Some(Scored {
                score: scores[&id],
                item,
            })
        })
        .collect();
    // Stable: equal scores keep the full-text order.
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(k);
    Ok(out)
}
