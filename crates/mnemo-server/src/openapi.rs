//! `GET /openapi.json`: the OpenAPI 3 document, generated from the handlers and wire types
//! (utoipa), so it cannot drift from the code. The error responses every `/v1` operation
//! shares, and the two ways to present an API key, are added here once.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::security::{Http, SecurityRequirement};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use mnemo_api::ErrorBody;

use crate::api::{episodes, graph, memories, relations, search};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mnemo",
        description = "Long-term memory for AI agents: a temporal knowledge graph (entities, \
            bi-temporal relations, episodes) and plain facts, split by scope (user_id, \
            agent_id, run_id). Errors are `{\"error\":{\"code\",\"message\"}}`."
    ),
    paths(
        memories::add,
        memories::list,
        memories::erase,
        memories::get,
        memories::update,
        memories::delete,
        memories::history,
        relations::add,
        search::search,
        graph::subgraph,
        graph::relations_of,
        graph::entities,
        graph::entity,
        graph::changes,
        episodes::get,
        episodes::delete,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
    tags(
        (name = "memories", description = "Adding conversation turns; plain facts; erasing a scope"),
        (name = "graph", description = "Direct triplets and the temporal reads of the graph"),
        (name = "search", description = "The read path"),
        (name = "episodes", description = "Ingested episodes; reverting one"),
    )
)]
struct ApiDoc;

/// Adds what every `/v1` operation shares: the API key schemes and the error responses.
struct Conventions;

/// Error responses and when they apply: (status, description, only with a body).
const ERRORS: [(&str, &str, bool); 13] = [
    (
        "400",
        "`malformed_json`: the body is not a JSON object; `malformed_query`: the query \
         string is not valid percent-encoded UTF-8",
        false,
    ),
    (
        "408",
        "`request_timeout`: the body did not arrive within `server.read_timeout_s`",
        true,
    ),
    (
        "414",
        "`uri_too_long`: the request target is over 8 KiB",
        false,
    ),
    (
        "431",
        "`headers_too_large`: the header section is over 32 KiB or 100 fields",
        false,
    ),
    ("401", "`unauthorized`: missing or unknown API key", false),
    (
        "403",
        "`forbidden`: the API key is bound to another scope",
        false,
    ),
    (
        "404",
        "`not_found`: no such record in this scope (or no such entity name)",
        false,
    ),
    (
        "409",
        "`conflict`: the change conflicts with stored state; `llm_not_configured`: the \
         request needs an LLM (`infer: true`, `query_entities: \"llm\"`) and this deployment \
         has none (lasting, not worth retrying)",
        false,
    ),
    (
        "413",
        "`payload_too_large`: the body is over the configured limit",
        true,
    ),
    (
        "415",
        "`unsupported_media_type`: the body is not `application/json`",
        true,
    ),
    (
        "422",
        "`invalid_request` (unknown field, wrong type, bad value) or `invalid_scope`",
        false,
    ),
    ("500", "`internal`", false),
    (
        "503",
        "`not_ready` (still loading) or `unavailable` (the store, embedder or LLM is down, \
         or the embedder is overloaded): worth retrying",
        false,
    ),
];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        for (status, description, _) in ERRORS {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                )
                .build();
            components
                .responses
                .insert(error_name(status), RefOr::T(response));
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let has_body = operation.request_body.is_some();
                for (status, _, needs_body) in ERRORS {
                    if needs_body && !has_body {
                        continue;
                    }
                    operation.responses.responses.insert(
                        status.to_owned(),
                        RefOr::Ref(Ref::from_response_name(error_name(status))),
                    );
                }
                // Either scheme; with no key configured the service is open.
                operation.security = Some(vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("api_key", Vec::<String>::new()),
                    SecurityRequirement::default(),
                ]);
            }
        }
    }
}

fn error_name(status: &str) -> String {
    format!("Error{status}")
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as JSON text, built once.
pub fn openapi_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
        mnemo_api::rules::apply(&mut document);
        serde_json::to_string_pretty(&document).expect("the OpenAPI document serializes")
    })
}

/// `GET /openapi.json`.
pub(crate) async fn serve_openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}
