//! The request rules the server enforces, written into the OpenAPI document from the same
//! constants the checks use (core's scope rule and limits), so a client generated from
//! the document sends what the server accepts, and the two cannot drift.
//!
//! utoipa's attributes take literals only, so the rules are applied to the generated
//! document as JSON, once, by [`apply`].

use mnemo_core::engine::MemorySettings;
use mnemo_core::manage::{MAX_FACT_CHARS, MAX_OFFSET, MAX_PAGE};
use mnemo_core::names::{MAX_NAME_CHARS, MAX_TYPE_INPUT_CHARS, TYPE_INPUT_PATTERN};
use mnemo_core::read::{MAX_DEPTH, MAX_LIMIT};
use mnemo_core::scope::{FIELD_PATTERN, MAX_FIELD_CHARS};
use mnemo_core::text::TEXT_PATTERN;
use mnemo_core::write::{MAX_IDEMPOTENCY_KEY_CHARS, MAX_ITEMS_PER_ADD};
use serde_json::{Map, Value, json};

/// The scope's fields; a request names at least one of them.
pub const SCOPE_FIELDS: [&str; 3] = ["user_id", "agent_id", "run_id"];

/// The schema of the query-string scope: one object parameter, exploded as form fields
/// (`?user_id=…&run_id=…`), since OpenAPI cannot require one of several parameters.
pub const SCOPE_QUERY_SCHEMA: &str = "ScopeQueryFields";

/// Numeric ranges, per schema (or `query` for every query parameter of that name):
/// (schema, field, minimum, maximum).
fn ranges() -> [(&'static str, &'static str, u64, Option<u64>); 6] {
    [
        ("SearchBody", "limit", 1, Some(MAX_LIMIT as u64)),
        ("SearchBody", "depth", 1, Some(u64::from(MAX_DEPTH))),
        ("SearchBody", "token_budget", 0, None),
        ("query", "limit", 1, Some(MAX_PAGE as u64)),
        ("query", "depth", 1, Some(u64::from(MAX_DEPTH))),
        ("query", "offset", 0, Some(MAX_OFFSET as u64)),
    ]
}

/// String and array lengths, per schema: (schema, field, min, max, keyword pair).
fn lengths() -> [(&'static str, &'static str, usize, usize, Length); 5] {
    [
        ("AddBody", "messages", 1, MAX_ITEMS_PER_ADD, Length::Items),
        (
            "AddBody",
            "idempotency_key",
            1,
            MAX_IDEMPOTENCY_KEY_CHARS,
            Length::Chars,
        ),
        (
            "RelationsBody",
            "relations",
            1,
            MAX_ITEMS_PER_ADD,
            Length::Items,
        ),
        ("FactEditBody", "text", 1, MAX_FACT_CHARS, Length::Chars),
        // The server's default; `memory.max_query_chars` can change it.
        (
            "SearchBody",
            "query",
            1,
            MemorySettings::DEFAULT_MAX_QUERY_CHARS,
            Length::Chars,
        ),
    ]
}

/// Free text fields that must hold a non-blank text without control characters
/// ([`TEXT_PATTERN`]): (schema, field).
const TEXTS: [(&str, &str); 4] = [
    ("Message", "role"),
    ("Message", "content"),
    ("SearchBody", "query"),
    ("FactEditBody", "text"),
];

/// Entity and relation types as clients write them: (schema or `query`, field).
const TYPES: [(&str, &str); 3] = [
    ("Triplet", "relation"),
    ("EntityInput", "type"),
    ("query", "relation"),
];

/// Entity names (non-blank, no control character, like a scope field): (schema or
/// `query`, field).
const NAMES: [(&str, &str); 2] = [("EntityInput", "name"), ("query", "entity")];

/// Fields that must be a JSON object when present: (schema, field).
const OBJECTS: [(&str, &str); 3] = [
    ("AddBody", "metadata"),
    ("RelationsBody", "metadata"),
    ("FactEditBody", "metadata"),
];

#[derive(Clone, Copy)]
enum Length {
    Chars,
    Items,
}

/// Writes every rule into `document` (the OpenAPI document as JSON).
pub fn apply(document: &mut Value) {
    let bodies = request_bodies(document);
    let schemas = &mut document["components"]["schemas"];
    for name in &bodies {
        if let Some(schema) = schemas.get_mut(name) {
            scope_in_body(schema);
        }
    }
    for (schema, field, min, max) in ranges() {
        if let Some(property) = property(schemas, schema, field) {
            set_range(property, min, max);
        }
    }
    for (schema, field, min, max, kind) in lengths() {
        if let Some(property) = property(schemas, schema, field) {
            let (low, high) = match kind {
                Length::Chars => ("minLength", "maxLength"),
                Length::Items => ("minItems", "maxItems"),
            };
            property[low] = json!(min);
            property[high] = json!(max);
        }
    }
    for (schema, field) in TEXTS {
        if let Some(property) = property(schemas, schema, field) {
            property["pattern"] = json!(TEXT_PATTERN);
        }
    }
    for (schema, field) in TYPES {
        if let Some(property) = property(schemas, schema, field) {
            string_rule(property, TYPE_INPUT_PATTERN, MAX_TYPE_INPUT_CHARS);
        }
    }
    for (schema, field) in NAMES {
        if let Some(property) = property(schemas, schema, field) {
            string_rule(property, FIELD_PATTERN, MAX_NAME_CHARS);
        }
    }
    for (schema, field) in OBJECTS {
        if let Some(property) = property(schemas, schema, field) {
            let mut object = json!({"type": ["object", "null"]});
            if let Some(description) = property.get("description") {
                object["description"] = description.clone();
            }
            *property = object;
        }
    }
    schemas[SCOPE_QUERY_SCHEMA] = scope_query_schema();
    for operation in operations(document) {
        if let Some(Value::Array(parameters)) = operation.get_mut("parameters") {
            scope_in_query(parameters);
            for parameter in parameters.iter_mut() {
                let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                let schema = &mut parameter["schema"];
                for (at, field, min, max) in ranges() {
                    if at == "query" && name == field {
                        set_range(schema, min, max);
                    }
                }
                if TYPES.contains(&("query", name.as_str())) {
                    string_rule(schema, TYPE_INPUT_PATTERN, MAX_TYPE_INPUT_CHARS);
                }
                if NAMES.contains(&("query", name.as_str())) {
                    string_rule(schema, FIELD_PATTERN, MAX_NAME_CHARS);
                }
            }
        }
    }
}

/// A property of a component schema.
fn property<'a>(schemas: &'a mut Value, schema: &str, field: &str) -> Option<&'a mut Value> {
    schemas
        .get_mut(schema)
        .and_then(|s| s.get_mut("properties"))
        .and_then(|p| p.get_mut(field))
}

/// One scope field's schema: a string of 1 to [`MAX_FIELD_CHARS`] characters matching
/// [`FIELD_PATTERN`].
fn scope_field(nullable: bool, description: Option<&Value>) -> Value {
    let mut field = json!({
        "type": if nullable { json!(["string", "null"]) } else { json!("string") },
        "minLength": 1,
        "maxLength": MAX_FIELD_CHARS,
        "pattern": FIELD_PATTERN,
    });
    if let Some(description) = description {
        field["description"] = description.clone();
    }
    field
}

/// A body's scope fields constrained, and at least one of them required to be a string.
fn scope_in_body(schema: &mut Value) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    let mut present = Vec::new();
    for name in SCOPE_FIELDS {
        if let Some(property) = properties.get_mut(name) {
            *property = scope_field(true, property.get("description"));
            present.push(name);
        }
    }
    if present.is_empty() {
        return;
    }
    let one_of_them: Vec<Value> = present
        .iter()
        .map(|name| json!({"required": [name], "properties": {*name: {"type": "string"}}}))
        .collect();
    schema["anyOf"] = Value::Array(one_of_them);
}

fn scope_query_schema() -> Value {
    let descriptions = [
        "Scope: the user.",
        "Scope: the agent.",
        "Scope: the run (session).",
    ];
    let properties: Map<String, Value> = SCOPE_FIELDS
        .iter()
        .zip(descriptions)
        .map(|(name, description)| {
            (
                (*name).to_owned(),
                scope_field(false, Some(&json!(description))),
            )
        })
        .collect();
    json!({
        "type": "object",
        "description": "The scope: at least one of user_id, agent_id, run_id, sent as \
            query fields of their own (`?user_id=alice&run_id=r1`).",
        "properties": properties,
        "minProperties": 1,
        "additionalProperties": false,
    })
}

/// Replaces the three optional scope parameters by one required object parameter.
fn scope_in_query(parameters: &mut Vec<Value>) {
    let is_scope =
        |p: &Value| p["in"] == "query" && SCOPE_FIELDS.iter().any(|name| p["name"] == *name);
    let Some(at) = parameters.iter().position(is_scope) else {
        return;
    };
    parameters.retain(|p| !is_scope(p));
    parameters.insert(
        at.min(parameters.len()),
        json!({
            "name": "scope",
            "in": "query",
            "required": true,
            "style": "form",
            "explode": true,
            "schema": {"$ref": format!("#/components/schemas/{SCOPE_QUERY_SCHEMA}")},
        }),
    );
}

fn string_rule(schema: &mut Value, pattern: &str, max_chars: usize) {
    schema["minLength"] = json!(1);
    schema["maxLength"] = json!(max_chars);
    schema["pattern"] = json!(pattern);
}

fn set_range(schema: &mut Value, min: u64, max: Option<u64>) {
    schema["minimum"] = json!(min);
    match max {
        Some(max) => schema["maximum"] = json!(max),
        None => {
            if let Some(object) = schema.as_object_mut() {
                object.remove("maximum");
            }
        }
    }
}

/// The schema names of the JSON request bodies.
fn request_bodies(document: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in document["paths"]
        .as_object()
        .into_iter()
        .flat_map(Map::values)
    {
        for operation in item.as_object().into_iter().flat_map(Map::values) {
            let reference =
                &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            if let Some(name) = reference.as_str().and_then(|r| r.rsplit('/').next()) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

fn operations(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter(|operation| operation.is_object())
}
