//! `POST /v1/search`: the read path. The relevant relations, facts and subgraph for a
//! query, fused and ranked, at any point of event time and transaction time, with a
//! ready-to-inject `context` text.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use mnemo_core::read::{
    DEFAULT_DEPTH, DEFAULT_LIMIT, FactHit, Include, QueryEntities, RelationHit, Retriever,
    SearchRequest, SearchResult,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{EntityRefOut, FactOut, RelationOut, SubgraphOut};
use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// A part of the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IncludePart {
    Relations,
    Facts,
    Subgraph,
}

/// How the entities a query names are found.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = QueryEntities)]
pub(crate) enum QueryEntitiesIn {
    /// Names, aliases, full text and name embeddings; no LLM call.
    Lexical,
    /// The LLM extracts the names first (one LLM call; needs an LLM).
    Llm,
}

/// `POST /v1/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBody {
    #[schema(example = "Where does Alice live?")]
    pub query: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// Results per kind, 1 to 100; default 10.
    #[schema(default = 10)]
    pub limit: Option<usize>,
    /// Event time: what was true then; default now.
    pub as_of: Option<DateTime<Utc>>,
    /// Transaction time: what mnemo knew then; default now.
    pub known_at: Option<DateTime<Utc>>,
    /// Hops of the walk from the entities the query names, 1 to 3; default 2.
    #[schema(default = 2)]
    pub depth: Option<u8>,
    /// The most tokens the results (and `context`) may take.
    pub token_budget: Option<usize>,
    /// Parts to fill; default all three.
    pub include: Option<Vec<IncludePart>>,
    /// Default `lexical`.
    pub query_entities: Option<QueryEntitiesIn>,
}

/// Which retriever found a result.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FoundBy {
    /// The walk from the entities the query names.
    Entities,
    /// The nearest relations by embedding.
    Triplets,
    /// The nearest facts by embedding.
    Facts,
}

impl From<Retriever> for FoundBy {
    fn from(retriever: Retriever) -> Self {
        match retriever {
            Retriever::Entities => FoundBy::Entities,
            Retriever::Triplets => FoundBy::Triplets,
            Retriever::Facts => FoundBy::Facts,
        }
    }
}

/// A relation found, with its fused score.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RelationHit)]
pub(crate) struct RelationHitOut {
    #[serde(flatten)]
    pub relation: RelationOut,
    /// Reciprocal-rank-fusion score; higher is better.
    pub score: f32,
    pub found_by: Vec<FoundBy>,
}

impl From<RelationHit> for RelationHitOut {
    fn from(hit: RelationHit) -> Self {
        RelationHitOut {
            relation: hit.view.into(),
            score: hit.score,
            found_by: hit.found_by.into_iter().map(FoundBy::from).collect(),
        }
    }
}

/// A fact found, with its fused score.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FactHit)]
pub(crate) struct FactHitOut {
    #[serde(flatten)]
    pub fact: FactOut,
    /// Reciprocal-rank-fusion score, comparable with the relations' scores.
    pub score: f32,
}

impl From<FactHit> for FactHitOut {
    fn from(hit: FactHit) -> Self {
        FactHitOut {
            fact: hit.fact.into(),
            score: hit.score,
        }
    }
}

/// What a search returns; relations and facts each best first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SearchResult)]
pub(crate) struct SearchOut {
    pub relations: Vec<RelationHitOut>,
    pub facts: Vec<FactHitOut>,
    /// The returned relations as a graph.
    pub subgraph: SubgraphOut,
    /// The results as compact lines with their dates, ready for a prompt.
    pub context: String,
    /// The entities the query was linked to (the walk's starting points).
    pub linked_entities: Vec<EntityRefOut>,
}

impl From<SearchResult> for SearchOut {
    fn from(result: SearchResult) -> Self {
        SearchOut {
            relations: result.relations.into_iter().map(Into::into).collect(),
            facts: result.facts.into_iter().map(Into::into).collect(),
            subgraph: result.subgraph.into(),
            context: result.context,
            linked_entities: result.linked_entities.into_iter().map(Into::into).collect(),
        }
    }
}

/// Search the scope's memory.
///
/// Embeds the query once and runs three retrievers (the walk from the entities it names,
/// the nearest relations, the nearest facts), fused by reciprocal rank and cut to `limit`
/// and `token_budget`. No LLM call unless `query_entities` is `llm`.
#[utoipa::path(
    post,
    path = "/v1/search",
    operation_id = "search",
    tag = "search",
    request_body = SearchBody,
    responses((status = 200, description = "The results", body = SearchOut))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<SearchBody>,
) -> Result<Json<SearchOut>, ApiError> {
    let scope = caller.scope(body.user_id, body.agent_id, body.run_id)?;
    let include = match body.include {
        None => Include::default(),
        Some(parts) => Include {
            relations: parts.contains(&IncludePart::Relations),
            facts: parts.contains(&IncludePart::Facts),
            subgraph: parts.contains(&IncludePart::Subgraph),
        },
    };
    let request = SearchRequest {
        scope,
        query: body.query,
        limit: body.limit.unwrap_or(DEFAULT_LIMIT),
        as_of: body.as_of,
        known_at: body.known_at,
        depth: body.depth.unwrap_or(DEFAULT_DEPTH),
        token_budget: body.token_budget,
        include,
        query_entities: match body.query_entities {
            None | Some(QueryEntitiesIn::Lexical) => QueryEntities::Lexical,
            Some(QueryEntitiesIn::Llm) => QueryEntities::Llm,
        },
    };
    let result = state.memory()?.search(request).await?;
    Ok(Json(result.into()))
}
