//! `POST /v1/search`: the query with its read point and limits, and the fused, ranked
//! result.

use chrono::{DateTime, Utc};
use mnemo_core::Scope;
use mnemo_core::read::{
    DEFAULT_DEPTH, DEFAULT_LIMIT, FactHit, Include, QueryEntities, RelationHit, Retriever,
    SearchRequest, SearchResult,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::types::{EntityRefOut, FactOut, RelationOut, SubgraphOut};

/// A part of the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncludePart {
    Relations,
    Facts,
    Subgraph,
}

/// How the entities a query names are found.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[schema(as = QueryEntities)]
pub enum QueryEntitiesIn {
    /// Names, aliases, full text and name embeddings; no LLM call.
    Lexical,
    /// The LLM extracts the names first (one LLM call; needs an LLM).
    Llm,
}

/// `POST /v1/search`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    #[schema(example = "Where does Alice live?")]
    pub query: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// Results per kind, 1 to 100; default 10.
    #[schema(default = 10)]
    #[serde(default, deserialize_with = "crate::integer::optional")]
    pub limit: Option<usize>,
    /// Event time: what was true then; default now.
    pub as_of: Option<DateTime<Utc>>,
    /// Transaction time: what mnemo knew then; default now.
    pub known_at: Option<DateTime<Utc>>,
    /// Hops of the walk from the entities the query names, 1 to 3; default 2.
    #[schema(default = 2)]
    #[serde(default, deserialize_with = "crate::integer::optional")]
    pub depth: Option<u8>,
    /// The most tokens the results (and `context`) may take.
    #[serde(default, deserialize_with = "crate::integer::optional")]
    pub token_budget: Option<usize>,
    /// Parts to fill; default all three.
    pub include: Option<Vec<IncludePart>>,
    /// Default `lexical`.
    pub query_entities: Option<QueryEntitiesIn>,
}

impl SearchBody {
    /// The core request in `scope` (the caller checks it against the body's scope fields),
    /// with the API's defaults.
    pub fn into_request(self, scope: Scope) -> SearchRequest {
        let include = match self.include {
            None => Include::default(),
            Some(parts) => Include {
                relations: parts.contains(&IncludePart::Relations),
                facts: parts.contains(&IncludePart::Facts),
                subgraph: parts.contains(&IncludePart::Subgraph),
            },
        };
        SearchRequest {
            scope,
            query: self.query,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
            as_of: self.as_of,
            known_at: self.known_at,
            depth: self.depth.unwrap_or(DEFAULT_DEPTH),
            token_budget: self.token_budget,
            include,
            query_entities: match self.query_entities {
                None | Some(QueryEntitiesIn::Lexical) => QueryEntities::Lexical,
                Some(QueryEntitiesIn::Llm) => QueryEntities::Llm,
            },
        }
    }
}

/// Which retriever found a result.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = RelationHit)]
pub struct RelationHitOut {
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = FactHit)]
pub struct FactHitOut {
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = SearchResult)]
pub struct SearchOut {
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
