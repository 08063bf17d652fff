//! The retrieve stage of a search, the only one that reads the stores: the one embedding
//! call, entity linking, and the three retrievers, each a ranked list drawn from one index
//! (the walk from the linked entities over the adjacency indexes, the nearest relations by
//! relation vectors, the facts by fact vectors and full text). Everything later stages
//! show is loaded here: relations as views with their ends' names, facts whole.
//!
//! The entity-centric retriever needs no vector to start: while the query embeds, it links
//! the entities the query names (exact names and aliases, full text) and walks from them,
//! and embeds only the noun phrases that lexical linking left unexplained; once those
//! vectors are there it adds the entities only name embeddings find, while the other two
//! retrievers run.

use std::collections::{HashMap, HashSet};

use super::fuse::{Candidate, Ranked};
use super::link::{self, Links};
use super::query::{self, QueryText};
use super::resolve::{Names, as_known_at};
use super::{Plan, SearchRequest};
use crate::engine::Reader;
use crate::ports::{GraphRead, Scored, VectorRead};
use crate::write::plain_fact_id;
use crate::{
    Entity, EntityId, EpisodeId, Fact, FactId, MemoryError, Relation, RelationId, Scope,
    StoreError, Visibility, is_visible,
};

/// Vector hits below this cosine similarity are unrelated to the query and dropped.
const MIN_SIMILARITY: f32 = 0.15;
/// Vector hits scoring less than this share of the best hit are dropped too: nearest
/// neighbours always exist, and the ones far behind the best are noise in a prompt.
const RELATIVE_SIMILARITY: f32 = 0.5;
/// Added to a walked relation's similarity, so hop distance still orders relations the
/// query says nothing about.
const BASE_RELEVANCE: f32 = 0.1;

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

/// Items each of the fact retriever's lists keeps before its fusion, at least: deeper than
/// the relation lists' pool (twice the limit, at least 20), since a fact list is cheap to
/// read and a message a few places down both lists, or lifted by a named period or
/// speaker, may still belong in the first ten. Chosen by leave-one-conversation-out
/// cross-validation on the LOCOMO dev split among 20, 50 and 100 for the default search
/// (limit 10): 100 in every fold, recall@10 held out 0.714 → 0.726, worst fold 0.651 →
/// 0.671, for about 3 ms more at the p95 (docs/EVAL.md).
const FACT_LIST_DEPTH: usize = 100;

/// Share of a message's full-text score credited to the next message of its episode (a
/// reply is about what it answers: "It taught me self-acceptance" answers "What did you
/// take away from Becoming Nicole?").
const CREDIT_TO_NEXT: f32 = 0.5;
/// Share credited to the previous message (a question is about what its answer says).
const CREDIT_TO_PREVIOUS: f32 = 0.25;

/// The fact retriever's two lists, each best first: the nearest facts by embedding (above
/// the similarity floors) and the best full-text matches of the query's content words
/// ([`in_context`]); `fuse::facts` ranks them together.
#[derive(Debug, Default)]
pub(crate) struct FactLists {
    pub nearest: Vec<Scored<Fact>>,
    pub full_text: Vec<Scored<Fact>>,
}

/// The fact retriever: at most `k` facts from each list.
pub(crate) async fn facts(
    vectors: &dyn VectorRead,
    scope: &Scope,
    query: &[f32],
    text: &QueryText,
    k: usize,
) -> Result<FactLists, StoreError> {
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
    let (nearest, full_text) = tokio::join!(vectors.search_facts(scope, query, k), lexical);
    Ok(FactLists {
        nearest: relevant(nearest?),
        full_text: full_text?,
    })
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

/// What the retrieve stage hands on: the linked entities and the three lists, loaded.
#[derive(Debug, Default)]
pub(crate) struct Retrieved {
    /// The linked entities the walk started from.
    pub seeds: Vec<Entity>,
    /// The walked relations, best first, at most the pool.
    pub walked: Vec<Candidate>,
    /// The nearest relations, best first.
    pub triplets: Vec<Candidate>,
    pub facts: FactLists,
}

/// A vector hit of the triplet retriever, before its relation becomes a candidate.
enum TripletHit {
    /// The walk already loaded it.
    Walked(RelationId),
    /// Loaded here; `None` when the graph no longer has it or it is not visible there.
    Loaded(Option<Box<Relation>>),
}

/// The ends of the first `n` relations.
fn ends(relations: &[Ranked<Relation>], n: usize) -> Vec<EntityId> {
    relations
        .iter()
        .take(n)
        .flat_map(|r| [r.item.source, r.item.target])
        .collect()
}

/// Loads the vector hits the walk did not (checked against the graph: the payload can lag
/// it after a crash), then their ends, each in one read.
async fn load_hits(
    hits: Vec<Ranked<RelationId>>,
    walked: &HashSet<RelationId>,
    names: &Names<'_>,
    at: Visibility,
) -> Result<(Vec<TripletHit>, Vec<(EntityId, Option<crate::EntityRef>)>), StoreError> {
    let wanted: Vec<RelationId> = hits
        .iter()
        .map(|hit| hit.item)
        .filter(|id| !walked.contains(id))
        .collect();
    let mut loaded = names.relations(&wanted).await?.into_iter();
    let mut out = Vec::with_capacity(hits.len());
    let mut missing_ends: Vec<EntityId> = Vec::new();
    for hit in hits {
        if walked.contains(&hit.item) {
            out.push(TripletHit::Walked(hit.item));
            continue;
        }
        let relation = match loaded.next().flatten() {
            Some(r) if is_visible(&r.times, &at) => r,
            _ => {
                out.push(TripletHit::Loaded(None));
                continue;
            }
        };
        for end in [relation.source, relation.target] {
            if !names.knows(end) && !missing_ends.contains(&end) {
                missing_ends.push(end);
            }
        }
        out.push(TripletHit::Loaded(Some(Box::new(relation))));
    }
    let ends = names.load_all(&missing_ends).await?;
    Ok((out, missing_ends.into_iter().zip(ends).collect()))
}

/// The retrieve stage (see the module doc), given the names to link
/// ([`link::query_names`]): the query's embedding (and the unexplained phrases', when there
/// are any), linking, the three retrievers, and the loads that make
/// every result showable.
pub(crate) async fn run(
    reader: Reader<'_>,
    request: &SearchRequest,
    plan: &Plan,
    text: &QueryText,
    (exact, phrases): link::QueryNames,
) -> Result<Retrieved, MemoryError> {
    let graph: &dyn GraphRead = reader.graph;
    let vectors: &dyn VectorRead = reader.vectors;
    let scope = &request.scope;
    let pool = (request.limit * 2).max(20);

    // The query is embedded alone (no padding to a longer batch-mate), at once. Meanwhile
    // the names are looked up, and then, side by side, the walk from the entities they
    // name runs and only the phrases lexical linking left unexplained are embedded: none
    // of that needs the query's vector.
    let early = async {
        let mut names = Names::new(graph, scope);
        if !plan.want_graph {
            return Ok((Links::default(), Walked::default(), names, Vec::new()));
        }
        let links = link::lexical(graph, scope, text, &request.query, &exact).await?;
        let unexplained: Vec<String> = link::unexplained(phrases, &links)
            .into_iter()
            .map(|(phrase, _)| phrase)
            .collect();
        let seeds = links.seeds();
        let walk_and_names = async {
            let walked = walk(graph, scope, &seeds, &seeds, request.depth, plan.at, text).await?;
            names.remember(&seeds);
            names.prefetch(ends(&walked.relations, pool)).await?;
            Ok::<_, MemoryError>(walked)
        };
        let (walked, phrase_vectors) =
            tokio::join!(walk_and_names, reader.embed_query(unexplained));
        Ok::<_, MemoryError>((links, walked?, names, phrase_vectors?))
    };
    let (query_vector, early) =
        tokio::join!(reader.embed_query(vec![request.query.clone()]), early);
    let query_vector = query_vector?.into_iter().next().unwrap_or_default();
    let (mut links, mut walked, mut names, phrase_vectors) = early?;
    let walked_early: HashSet<RelationId> = walked.relations.iter().map(|r| r.item.id).collect();
    let triplet_names = names.clone();

    // The entity-centric retriever finishes (entities only the name embeddings found are
    // walked now); the other two run meanwhile.
    let entity_centric = async {
        if plan.want_graph {
            link::by_vector(graph, scope, &phrase_vectors, &mut links).await?;
            let seeds = links.seeds();
            let new: Vec<Entity> = seeds
                .iter()
                .filter(|s| !walked.seeds.iter().any(|w| w.id == s.id))
                .cloned()
                .collect();
            if !new.is_empty() {
                let more = walk(graph, scope, &seeds, &new, request.depth, plan.at, text).await?;
                walked.merge(more);
                names.remember(&new);
            }
            walked.seeds = seeds;
        }
        walked.relations.truncate(pool);
        names.prefetch(ends(&walked.relations, pool)).await?;
        Ok::<_, StoreError>(walked)
    };
    let triplets = async {
        if !plan.want_graph {
            return Ok((Vec::new(), Vec::new()));
        }
        let hits = triplets(vectors, scope, &query_vector, pool, plan.at).await?;
        load_hits(hits, &walked_early, &triplet_names, plan.at).await
    };
    let facts = async {
        if !request.include.facts {
            return Ok(FactLists::default());
        }
        facts(
            vectors,
            scope,
            &query_vector,
            text,
            pool.max(FACT_LIST_DEPTH),
        )
        .await
    };
    let (walked, triplets, facts) = tokio::join!(entity_centric, triplets, facts);
    let (walked, (triplets, triplet_ends), facts) = (walked?, triplets?, facts?);
    for (id, entity) in triplet_ends {
        names.insert(id, entity);
    }

    // Everything shown is a view as known at `known_at`, with its ends' names.
    let known_at = plan.at.known_at;
    let mut shown: HashMap<RelationId, Candidate> = HashMap::new();
    let mut walked_list = Vec::with_capacity(walked.relations.len());
    for ranked in walked.relations {
        let id = ranked.item.id;
        let candidate = view(&mut names, ranked.item, known_at).await?;
        shown.insert(id, candidate.clone());
        walked_list.push(candidate);
    }
    let mut triplet_list = Vec::with_capacity(triplets.len());
    for hit in triplets {
        let candidate = match hit {
            TripletHit::Walked(id) => match shown.get(&id) {
                Some(candidate) => candidate.clone(),
                // Walked early but cut from the pool since: loaded now.
                None => match names.relation(id).await? {
                    Some(r) if is_visible(&r.times, &plan.at) => {
                        view(&mut names, r, known_at).await?
                    }
                    _ => Candidate::Gone,
                },
            },
            TripletHit::Loaded(Some(relation)) => view(&mut names, *relation, known_at).await?,
            TripletHit::Loaded(None) => Candidate::Gone,
        };
        triplet_list.push(candidate);
    }
    Ok(Retrieved {
        seeds: walked.seeds,
        walked: walked_list,
        triplets: triplet_list,
        facts,
    })
}

/// The relation as a candidate: its view as known at `known_at`, or gone when an end is.
async fn view(
    names: &mut Names<'_>,
    relation: Relation,
    known_at: crate::Timestamp,
) -> Result<Candidate, StoreError> {
    Ok(match names.view(as_known_at(relation, known_at)).await? {
        Some(view) => Candidate::Relation(Box::new(view)),
        None => Candidate::Gone,
    })
}
