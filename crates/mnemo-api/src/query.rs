//! The query strings most `GET`s and `DELETE`s share: the scope, and the page of a
//! listing.

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// The scope of a `GET` or `DELETE`: at least one of the three.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    // The scope: one object parameter in the document (`rules::SCOPE_QUERY_SCHEMA`).
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

/// The scope and page of a listing (`GET /v1/memories`, `GET /v1/graph/entities`).
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    // The scope: one object parameter in the document (`rules::SCOPE_QUERY_SCHEMA`).
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// 1 to 1000; default 100.
    pub limit: Option<usize>,
    /// Default 0.
    pub offset: Option<usize>,
}
