//! `GET /openapi.json`: the document lists exactly the `/v1` operations the router serves,
//! each with its error responses and the API key schemes, and the wire schemas.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, header};
use mnemo_server::AppState;
use serde_json::Value;

use crate::{request, send};

/// Every `/v1` operation of DESIGN §6.
const OPERATIONS: [(&str, &str); 16] = [
    ("post", "/v1/memories"),
    ("get", "/v1/memories"),
    ("delete", "/v1/memories"),
    ("get", "/v1/memories/{id}"),
    ("put", "/v1/memories/{id}"),
    ("delete", "/v1/memories/{id}"),
    ("get", "/v1/memories/{id}/history"),
    ("post", "/v1/relations"),
    ("post", "/v1/search"),
    ("get", "/v1/graph/subgraph"),
    ("get", "/v1/graph/relations"),
    ("get", "/v1/graph/entities"),
    ("get", "/v1/graph/entities/{id}"),
    ("get", "/v1/graph/changes"),
    ("get", "/v1/episodes/{id}"),
    ("delete", "/v1/episodes/{id}"),
];

async fn document(state: &AppState) -> Value {
    let reply = send(state, request("GET", "/openapi.json")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.body.to_string().len() > 1000);
    reply.body
}

#[tokio::test]
async fn the_document_lists_every_v1_operation_with_its_errors() {
    let doc = document(&AppState::new()).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    for (method, path) in OPERATIONS {
        let operation = &doc["paths"][path][method];
        let responses = operation["responses"].as_object().unwrap();
        let success: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
        assert!(!success.is_empty(), "{method} {path}");
        for status in [
            "400", "401", "403", "404", "414", "422", "431", "500", "503",
        ] {
            assert_eq!(
                responses[status]["$ref"],
                format!("#/components/responses/Error{status}"),
                "{method} {path} {status}"
            );
        }
        let has_body = operation.get("requestBody").is_some();
        assert_eq!(
            has_body,
            ["post", "put"].contains(&method),
            "{method} {path}"
        );
        for status in ["408", "413", "415"] {
            assert_eq!(
                responses.contains_key(status),
                has_body,
                "{method} {path} {status}"
            );
        }
        assert_eq!(
            operation["security"],
            serde_json::json!([{"bearer": []}, {"api_key": []}, {}]),
            "{method} {path}"
        );
        assert!(
            operation["summary"].is_string(),
            "{method} {path} has a summary"
        );
    }
    let mut ids: Vec<&str> = OPERATIONS
        .iter()
        .map(|(method, path)| doc["paths"][path][method]["operationId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), OPERATIONS.len(), "operation ids are unique");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "x-api-key");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "AddBody",
        "AddResult",
        "Accepted",
        "RelationsBody",
        "SearchBody",
        "SearchResult",
        "Relation",
        "EntityRef",
        "Fact",
        "FactEvent",
        "Episode",
        "TimelineEntry",
        "Changes",
        "Subgraph",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
    let relation = &schemas["Relation"]["properties"];
    for field in [
        "id",
        "source",
        "relation",
        "target",
        "fact",
        "valid_from",
        "valid_to",
        "recorded_at",
        "invalidated_at",
        "invalidated_by",
        "retracted_at",
        "episodes",
        "mentions",
    ] {
        assert!(relation.get(field).is_some(), "Relation.{field}");
    }
    assert_eq!(relation["recorded_at"]["format"], "date-time");

    // Every reference points at something defined.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 100, "{}", refs.len());
    for reference in refs {
        let pointer = reference.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let state = AppState::new();
    let doc = document(&state).await;
    let id = "0190c1a2-7f00-7000-8000-000000000000";
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let uri = path.replace("{id}", id);
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let reply = send(&state, request).await;
            let code = reply.body["error"]["code"].as_str().unwrap_or_default();
            let message = reply.body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                code != "method_not_allowed" && !message.starts_with("no route"),
                "{method} {uri}: {reply:?}"
            );
        }
    }
}
