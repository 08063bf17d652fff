//! The read path (DESIGN §4): entity linking, the three retrievers, fusion, and the
//! temporal operations (subgraph, timeline, changes).
//!
//! A search embeds the query (and its noun phrases) in one call. The entity-centric
//! retriever needs no vector to start: while the embedding runs, it links the entities the
//! query names (exact names and aliases, full text) and walks from them; once the vectors
//! are there it adds the entities only name embeddings find, while the other two retrievers
//! run: nearest relations, and facts (nearest by embedding fused with full-text matches, a
//! message credited with its neighbours' matches; see `retrieve::facts`). The three ranked
//! lists are fused by reciprocal rank, de-duplicated and cut to `limit` and `token_budget`;
//! relations found by vector alone are loaded (and checked against the graph) only when they make the cut.
//! Every step goes through an index (adjacency, vectors, full text), and every walk is
//! bounded (see `walk`); no LLM is called unless the request asks for LLM entity
//! extraction.

mod fuse;
mod link;
mod query;
mod resolve;
mod retrieve;
mod temporal;
pub mod walk;

use std::collections::HashSet;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::ports::{GraphRead, VectorRead};
use crate::{
    Entity, EntityRef, Fact, Memory, MemoryError, RelationId, RelationView, Scope, StoreError,
    Timestamp, ValidationError, Visibility,
};

pub use temporal::{ChangesView, MAX_SUBGRAPH_EDGES, MAX_TIMELINE, RelationStatus, TimelineEntry};

/// Results when the request does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// The most results one search returns.
pub const MAX_LIMIT: usize = 100;
/// Store round trips a search keeps in flight at once.
const CONCURRENCY: usize = 4;

/// Walk depth when the request does not say.
pub const DEFAULT_DEPTH: u8 = 2;
/// The deepest walk allowed (depths are 1 to 3).
pub const MAX_DEPTH: u8 = 3;

/// Which parts of the result a search fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Include {
    pub relations: bool,
    pub facts: bool,
    pub subgraph: bool,
}

impl Default for Include {
    fn default() -> Self {
        Include {
            relations: true,
            facts: true,
            subgraph: true,
        }
    }
}

/// How the entities named in a query are found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryEntities {
    /// Names, aliases, full text and name embeddings; no LLM.
    #[default]
    Lexical,
    /// The LLM's `extract_entities` on the query, then the same matching.
    Llm,
}

/// `POST /v1/search`.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRequest {
    pub scope: Scope,
    pub query: String,
    /// 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// Event time T; default now.
    pub as_of: Option<Timestamp>,
    /// Transaction time K; default now.
    pub known_at: Option<Timestamp>,
    /// Hops of the entity-centric walk, 1 to [`MAX_DEPTH`].
    pub depth: u8,
    /// The most tokens `context` may hold (counted with the real tokenizer).
    pub token_budget: Option<usize>,
    pub include: Include,
    pub query_entities: QueryEntities,
}

impl SearchRequest {
    /// A request with every default (limit 10, now, depth 2, everything included, lexical).
    pub fn new(scope: Scope, query: impl Into<String>) -> SearchRequest {
        SearchRequest {
            scope,
            query: query.into(),
            limit: DEFAULT_LIMIT,
            as_of: None,
            known_at: None,
            depth: DEFAULT_DEPTH,
            token_budget: None,
            include: Include::default(),
            query_entities: QueryEntities::default(),
        }
    }
}

/// Which retriever found a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retriever {
    /// The walk from the entities the query names.
    Entities,
    /// The nearest relations by embedding.
    Triplets,
    /// The nearest facts by embedding.
    Facts,
}

/// A relation in a search result. Provenance is `view.relation.episodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelationHit {
    pub view: RelationView,
    /// Reciprocal-rank-fusion score; higher is better.
    pub score: f32,
    pub found_by: Vec<Retriever>,
}

/// A fact in a search result. Provenance is `fact.episodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactHit {
    pub fact: Fact,
    /// Reciprocal-rank-fusion score, comparable with the relations' scores.
    pub score: f32,
}

/// Entities and the relations between them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subgraph {
    pub nodes: Vec<EntityRef>,
    pub edges: Vec<RelationView>,
}

/// What a search returns; relations and facts each in fused order, best first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub relations: Vec<RelationHit>,
    pub facts: Vec<FactHit>,
    /// The returned relations as a graph.
    pub subgraph: Subgraph,
    /// The returned relations and facts as compact lines with their dates, ready for a
    /// prompt; within `token_budget` when one was given.
    pub context: String,
    /// The entities the query was linked to (the walk's starting points).
    pub linked_entities: Vec<EntityRef>,
}

/// The query's length and characters; the rest of the request is [`Plan::new`]'s.
fn check_query(query: &str, max_chars: usize) -> Result<(), ValidationError> {
    let chars = query.chars().count();
    if chars > max_chars {
        return Err(ValidationError::Request(format!(
            "query must be at most {max_chars} characters, got {chars}"
        )));
    }
    crate::text::check_text("query", query)
}

/// A validated request.
struct Plan {
    at: Visibility,
    want_graph: bool,
}

impl Plan {
    fn new(request: &SearchRequest, now: Timestamp) -> Result<Plan, ValidationError> {
        let bad = |message: String| Err(ValidationError::Request(message));
        if request.query.trim().is_empty() {
            return bad("query must not be empty".into());
        }
        if !(1..=MAX_LIMIT).contains(&request.limit) {
            return bad(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {}",
                request.limit
            ));
        }
        if !(1..=MAX_DEPTH).contains(&request.depth) {
            return bad(format!(
                "depth must be between 1 and {MAX_DEPTH}, got {}",
                request.depth
            ));
        }
        let at = Visibility {
            as_of: request.as_of.unwrap_or(now),
            known_at: request.known_at.unwrap_or(now),
        };
        Ok(Plan {
            at: at.checked()?,
            want_graph: request.include.relations || request.include.subgraph,
        })
    }
}

impl Memory {
    /// Answers a query from the graph and the facts of one scope (DESIGN §4).
    ///
    /// Embeds once; calls the LLM only with [`QueryEntities::Llm`].
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResult, MemoryError> {
        check_query(&request.query, self.settings.max_query_chars)?;
        let plan = Plan::new(&request, self.now())?;
        let graph: &dyn GraphRead = &*self.graph;
        let vectors: &dyn VectorRead = &*self.vectors;
        let scope = &request.scope;
        let text = query::QueryText::parse(&request.query);
        let limit = request.limit;

        // Names to look up exactly, and phrases to match by name embedding.
        let (exact, phrases): (Vec<String>, Vec<(String, bool)>) = match request.query_entities {
            QueryEntities::Llm if plan.want_graph => {
                let names = link::llm_names(self, &request).await?;
                let mut exact = names.clone();
                exact.extend(text.spans.iter().cloned());
                (exact, names.into_iter().map(|n| (n, true)).collect())
            }
            _ => (
                text.spans.clone(),
                text.chunks
                    .iter()
                    .map(|c| (c.text.clone(), c.capitalised))
                    .collect(),
            ),
        };
        let mut texts = Vec::with_capacity(1 + phrases.len());
        texts.push(request.query.clone());
        if plan.want_graph {
            texts.extend(phrases.iter().map(|(p, _)| p.clone()));
        }

        // The one embedding call. Meanwhile the names are looked up and the walk from the
        // entities they name runs: neither needs a vector.
        let pool = (limit * 2).max(20);
        let early = async {
            let mut names = resolve::Names::new(graph, scope);
            if !plan.want_graph {
                return Ok((link::Links::default(), retrieve::Walked::default(), names));
            }
            let links = link::lexical(graph, scope, &text, &request.query, &exact).await?;
            let seeds = links.seeds();
            let walked =
                retrieve::walk(graph, scope, &seeds, &seeds, request.depth, plan.at, &text).await?;
            names.remember(&seeds);
            names.prefetch(fuse::ends(&walked.relations, limit)).await?;
            Ok::<_, StoreError>((links, walked, names))
        };
        let (embedded, early) = tokio::join!(self.embed(texts), early);
        let mut embedded = embedded?.into_iter();
        let query_vector = embedded.next().unwrap_or_default();
        let phrases: Vec<link::Phrase> = phrases
            .into_iter()
            .zip(embedded)
            .map(|((text, name_like), vector)| link::Phrase {
                text,
                name_like,
                vector,
            })
            .collect();
        let (mut links, mut walked, mut names) = early?;
        let walked_ids: HashSet<RelationId> = walked.relations.iter().map(|r| r.item.id).collect();
        let mut triplet_names = names.clone();

        // The three retrievers: the entity-centric one finishes (entities only the name
        // embeddings found are walked now), the other two start.
        let entity_centric = async {
            if plan.want_graph {
                link::by_vector(graph, scope, &phrases, &mut links).await?;
                let seeds = links.seeds();
                let new: Vec<Entity> = seeds
                    .iter()
                    .filter(|s| !walked.seeds.iter().any(|w| w.id == s.id))
                    .cloned()
                    .collect();
                if !new.is_empty() {
                    let more =
                        retrieve::walk(graph, scope, &seeds, &new, request.depth, plan.at, &text)
                            .await?;
                    walked.merge(more);
                    names.remember(&new);
                    names.prefetch(fuse::ends(&walked.relations, limit)).await?;
                }
                walked.seeds = seeds;
            }
            walked.relations.truncate(pool);
            Ok::<_, StoreError>(walked)
        };
        let triplets = async {
            if !plan.want_graph {
                return Ok(Vec::new());
            }
            let hits = retrieve::triplets(vectors, scope, &query_vector, pool, plan.at).await?;
            fuse::load_hits(hits, &walked_ids, limit, &mut triplet_names, plan.at).await
        };
        let facts = async {
            if !request.include.facts {
                return Ok(Vec::new());
            }
            let mut found =
                retrieve::facts(vectors, scope, &query_vector, &text, pool, plan.at.known_at)
                    .await?;
            found.truncate(limit);
            Ok::<_, StoreError>(found)
        };
        let (walked, triplets, facts) = tokio::join!(entity_centric, triplets, facts);
        let (walked, triplets, facts) = (walked?, triplets?, facts?);

        let fused = fuse::reciprocal_rank(walked.relations, triplets, facts);
        names.absorb(triplet_names);
        let cut = fuse::cut(
            fused,
            &mut names,
            &*self.tokens,
            fuse::Limits {
                count: limit,
                tokens: request.token_budget,
                count_relations: request.include.relations,
            },
            plan.at,
        )
        .await?;

        let subgraph = if request.include.subgraph {
            fuse::subgraph(&cut.relations)
        } else {
            Subgraph::default()
        };
        let relations = if request.include.relations {
            cut.relations
        } else {
            Vec::new()
        };
        let context = fuse::context(
            relations.iter().map(|hit| &hit.view),
            cut.facts.iter().map(|hit| &hit.fact),
        );
        Ok(SearchResult {
            relations,
            facts: cut.facts,
            subgraph,
            context,
            linked_entities: walked.seeds.iter().map(EntityRef::from).collect(),
        })
    }
}

/// Runs `futures` with at most `limit` in flight (the next starts when one finishes) and
/// returns their outputs in order: a few store round trips overlap without flooding the
/// store's connection pool.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    use futures_util::StreamExt;
    futures_util::stream::iter(futures)
        .buffered(limit.max(1))
        .collect()
        .await
}
