//! The read path (DESIGN §4): search, and the temporal operations (subgraph, timeline,
//! changes).
//!
//! A search is a straight pipeline of named stages, each handing its output to the next:
//! - **retrieve** (`retrieve.rs`, with `link.rs`): the query's embedding (alone), entity
//!   linking (embedding only the noun phrases lexical linking left unexplained), and the
//!   three retrievers (walk from the linked entities,
//!   nearest relations, facts); the only stage that reads a store, and it loads everything
//!   shown (relations as views with their ends' names);
//! - **fuse** (`fuse.rs`): the one ranking place, reciprocal-rank fusion of the lists;
//! - **rerank**: the slot for a reranker over the fused candidates (none yet: the fused
//!   order stands);
//! - **cut** (`cut.rs`): at most `limit` results within `token_budget`;
//! - **render** (`render.rs`): `context` and the subgraph.
//!
//! Every store read goes through an index (adjacency, vectors, full text), and every walk
//! is bounded (see `walk`); no LLM is called unless the request asks for LLM entity
//! extraction.

mod cut;
mod dates;
mod fuse;
mod link;
mod query;
mod render;
mod resolve;
mod retrieve;
mod temporal;
pub mod walk;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::{
    Entity, EntityRef, Fact, Memory, MemoryError, RelationView, Scope, Timestamp, ValidationError,
    Visibility,
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
pub(crate) struct Plan {
    /// The read point (T, K), defaults filled in from the clock.
    pub at: Visibility,
    /// Whether relations or the subgraph are asked for (else the graph is not read).
    pub want_graph: bool,
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
    /// Answers a query from the graph and the facts of one scope (DESIGN §4): retrieve →
    /// fuse → rerank → cut → render (see the module doc).
    ///
    /// Embeds once; calls the LLM only with [`QueryEntities::Llm`]. At most
    /// `max_concurrent_searches` run at once; the others wait, in arrival order.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResult, MemoryError> {
        check_query(&request.query, self.settings.max_query_chars)?;
        let plan = Plan::new(&request, self.now())?;
        let text = query::QueryText::parse(&request.query);
        let reader = self.reader();
        // The names to link, from the LLM when asked: waited for before the turn, as it
        // takes no CPU here.
        let names = link::query_names(reader, &request, &text, plan.want_graph).await?;
        // A valid request waits here for its turn; writes never do (see
        // `MemorySettings::max_concurrent_searches`). The semaphore is never closed.
        let _turn = self.searches.acquire().await.ok();

        let retrieved = retrieve::run(reader, &request, &plan, &text, names).await?;
        let facts = fuse::facts(
            retrieved.facts.nearest,
            retrieved.facts.full_text,
            dates::cue(&request.query),
            &text,
            plan.at.known_at,
            request.limit,
        );
        let fused = fuse::reciprocal_rank([
            (Retriever::Entities, retrieved.walked),
            (Retriever::Triplets, retrieved.triplets),
            (
                Retriever::Facts,
                facts.into_iter().map(fuse::Candidate::Fact).collect(),
            ),
        ]);
        let reranked = rerank(fused);
        let cut = cut::cut(
            reranked,
            reader.tokens,
            cut::Limits {
                count: request.limit,
                tokens: request.token_budget,
                count_relations: request.include.relations,
            },
        );
        Ok(render_result(cut, &retrieved.seeds, request.include))
    }
}

/// The rerank stage: where a reranker (a cross-encoder over the query and each candidate's
/// text) re-orders the fused candidates. None yet, so the fused order stands.
fn rerank(fused: Vec<fuse::Fused>) -> Vec<fuse::Fused> {
    fused
}

/// The render stage: the kept results as the parts the request includes.
fn render_result(cut: cut::Cut, seeds: &[Entity], include: Include) -> SearchResult {
    let subgraph = if include.subgraph {
        render::subgraph(&cut.relations)
    } else {
        Subgraph::default()
    };
    let relations = if include.relations {
        cut.relations
    } else {
        Vec::new()
    };
    let context = render::context(
        relations.iter().map(|hit| &hit.view),
        cut.facts.iter().map(|hit| &hit.fact),
    );
    SearchResult {
        relations,
        facts: cut.facts,
        subgraph,
        context,
        linked_entities: seeds.iter().map(EntityRef::from).collect(),
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

#[cfg(test)]
mod tests {
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
        let out = super::join_all(futures, 3).await;
        assert_eq!(out, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most.get(), 3);
    }
}
