//! The read path (DESIGN §4): entity linking, the three retrievers, fusion, and the
//! temporal operations (subgraph, timeline, changes).
//!
//! A search embeds the query (and its noun phrases) in one call, links the entities the
//! query names, then runs three retrievers concurrently: a walk from the linked entities,
//! the nearest relations by embedding, and the nearest facts. Their ranked lists are fused
//! by reciprocal rank, de-duplicated and cut to `limit` and `token_budget`. Every step
//! goes through an index (adjacency, vectors, full text); no LLM is called unless the
//! request asks for LLM entity extraction.

mod fuse;
mod link;
mod query;
mod resolve;
mod retrieve;
mod temporal;
mod walk;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use serde::{Deserialize, Serialize};

use crate::ports::{GraphRead, VectorRead};
use crate::{
    EntityRef, Fact, Memory, MemoryError, RelationView, Scope, Timestamp, ValidationError,
    Visibility,
};

pub use temporal::{ChangesView, MAX_SUBGRAPH_EDGES, MAX_TIMELINE, RelationStatus, TimelineEntry};

/// Results when the request does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// The most results one search returns.
pub const MAX_LIMIT: usize = 100;
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

/// A validated request.
struct Plan {
    at: Visibility,
    want_graph: bool,
}

impl Plan {
    fn new(request: &SearchRequest) -> Result<Plan, ValidationError> {
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
        let now = chrono::Utc::now();
        Ok(Plan {
            at: Visibility {
                as_of: request.as_of.unwrap_or(now),
                known_at: request.known_at.unwrap_or(now),
            },
            want_graph: request.include.relations || request.include.subgraph,
        })
    }
}

impl Memory {
    /// Answers a query from the graph and the facts of one scope (DESIGN §4).
    ///
    /// Embeds once; calls the LLM only with [`QueryEntities::Llm`].
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResult, MemoryError> {
        let plan = Plan::new(&request)?;
        let graph: &dyn GraphRead = &*self.graph;
        let vectors: &dyn VectorRead = &*self.vectors;
        let scope = &request.scope;
        let text = query::QueryText::parse(&request.query);
        let limit = request.limit;

        // Names to look up exactly, and phrases to match by name embedding.
        let (exact, phrases) = match request.query_entities {
            QueryEntities::Llm if plan.want_graph => {
                let names = link::llm_names(self, &request).await?;
                let mut exact = names.clone();
                exact.extend(text.spans.iter().cloned());
                (exact, names)
            }
            _ => (text.spans.clone(), text.chunks.clone()),
        };
        let mut texts = Vec::with_capacity(1 + phrases.len());
        texts.push(request.query.clone());
        if plan.want_graph {
            texts.extend(phrases.iter().cloned());
        }

        // The one embedding call, while the names are looked up.
        let lexical = async {
            if plan.want_graph {
                link::lexical(graph, scope, &text, &request.query, &exact).await
            } else {
                Ok(link::Links::default())
            }
        };
        let (embedded, lexical) = tokio::join!(self.embed(texts), lexical);
        let mut embedded = embedded?.into_iter();
        let query_vector = embedded.next().unwrap_or_default();
        let phrase_vectors: Vec<(String, Vec<f32>)> = phrases.into_iter().zip(embedded).collect();
        let mut links = lexical?;

        let pool = (limit * 2).max(20);
        let entity_centric = async {
            if !plan.want_graph {
                return Ok(retrieve::Walked::default());
            }
            link::by_vector(graph, scope, &phrase_vectors, &mut links).await?;
            let seeds = links.seeds();
            retrieve::walk(graph, scope, &seeds, request.depth, plan.at, &text, pool).await
        };
        let triplets = async {
            if !plan.want_graph {
                return Ok(Vec::new());
            }
            retrieve::triplets(graph, vectors, scope, &query_vector, pool, plan.at).await
        };
        let facts = async {
            if !request.include.facts {
                return Ok(Vec::new());
            }
            retrieve::facts(vectors, scope, &query_vector, pool, plan.at.known_at).await
        };
        let (walked, triplets, facts) = tokio::join!(entity_centric, triplets, facts);
        let (walked, triplets, facts) = (walked?, triplets?, facts?);

        let fused = fuse::reciprocal_rank(walked.relations, triplets, facts);
        let mut names = resolve::Names::new(graph, scope);
        names.remember(&walked.seeds);
        let cut = fuse::cut(
            fused,
            &mut names,
            &*self.tokens,
            limit,
            request.token_budget,
            request.include.relations,
            plan.at.known_at,
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

/// Polls every future until all are done and returns their outputs in order (a minimal
/// `join_all`, so the store's blocking calls overlap).
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
