//! The six tools of the extraction contract (DESIGN §3): their wire names, JSON schemas
//! and built-in prompts. The schemas are written for strict structured output: every
//! property required, no extra properties, optional values as `null`.

use serde_json::{Value, json};

/// One tool of the contract; each call of the port is one chat completion for one tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    ExtractEntities,
    EstablishRelations,
    ResolveConflicts,
    ExtractFacts,
    UpdateMemory,
    SummarizeConversation,
}

impl Tool {
    pub(crate) const ALL: [Tool; 6] = [
        Tool::ExtractEntities,
        Tool::EstablishRelations,
        Tool::ResolveConflicts,
        Tool::ExtractFacts,
        Tool::UpdateMemory,
        Tool::SummarizeConversation,
    ];

    /// The function / schema name on the wire, and the prompt file's stem.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::ExtractEntities => "extract_entities",
            Tool::EstablishRelations => "establish_relations",
            Tool::ResolveConflicts => "resolve_conflicts",
            Tool::ExtractFacts => "extract_facts",
            Tool::UpdateMemory => "update_memory",
            Tool::SummarizeConversation => "summarize_conversation",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            Tool::ExtractEntities => "Record the entities named in the new messages.",
            Tool::EstablishRelations => {
                "Record the relations between entities stated in the messages, as typed triplets."
            }
            Tool::ResolveConflicts => {
                "Label how each new relation bears on each existing relation shown."
            }
            Tool::ExtractFacts => "Record the facts about the user stated in the new messages.",
            Tool::UpdateMemory => "Decide how the new facts change the stored memories.",
            Tool::SummarizeConversation => "Record the updated summary of the conversation.",
        }
    }

    /// The built-in system prompt (`prompts/<name>.md`).
    pub(crate) fn builtin_prompt(self) -> &'static str {
        match self {
            Tool::ExtractEntities => include_str!("../prompts/extract_entities.md"),
            Tool::EstablishRelations => include_str!("../prompts/establish_relations.md"),
            Tool::ResolveConflicts => include_str!("../prompts/resolve_conflicts.md"),
            Tool::ExtractFacts => include_str!("../prompts/extract_facts.md"),
            Tool::UpdateMemory => include_str!("../prompts/update_memory.md"),
            Tool::SummarizeConversation => include_str!("../prompts/summarize_conversation.md"),
        }
    }

    /// The JSON schema of the answer (the function's parameters).
    pub(crate) fn schema(self) -> Value {
        match self {
            Tool::ExtractEntities => object(json!({
                "entities": array_of(object(json!({
                    "name": text("The entity's name as written; the user's name for I/me/my."),
                    "type": text("A PascalCase type such as Person, City, Organization."),
                }))),
            })),
            Tool::EstablishRelations => object(json!({
                "relations": array_of(object(json!({
                    "source": text("Name of the subject entity."),
                    "relation": text("A general, timeless UPPER_SNAKE_CASE relation type such as LIVES_IN."),
                    "target": text("Name of the object entity."),
                    "fact": text("One short sentence stating the relation."),
                    "valid_from": nullable_date("When the relation started to hold, if stated."),
                    "valid_to": nullable_date("When the relation stopped holding, if stated."),
                }))),
            })),
            Tool::ResolveConflicts => object(json!({
                "decisions": array_of(object(json!({
                    "existing": {"type": "integer", "description": "Id of the existing relation."},
                    "new": {"type": "integer", "description": "Id of the new relation."},
                    "verdict": {
                        "type": "string",
                        "enum": ["duplicate", "superseded", "retracted", "unrelated"],
                    },
                }))),
            })),
            Tool::ExtractFacts => object(json!({
                "facts": array_of(text("One self-contained fact.")),
            })),
            Tool::UpdateMemory => object(json!({
                "memory": array_of(object(json!({
                    "id": text("The id of the existing memory; any new id for ADD."),
                    "text": text("The memory's text after this event."),
                    "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
                }))),
            })),
            Tool::SummarizeConversation => object(json!({
                "summary": text("The updated summary."),
            })),
        }
    }
}

/// A closed object whose every property is required.
fn object(properties: Value) -> Value {
    let required: Vec<Value> = properties
        .as_object()
        .map(|props| props.keys().map(|k| Value::String(k.clone())).collect())
        .unwrap_or_default();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn array_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn text(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn nullable_date(description: &str) -> Value {
    json!({
        "type": ["string", "null"],
        "description": format!(
            "{description} RFC 3339 date-time (2024-03-01T00:00:00Z) or date (2024-03-01); null when not stated."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strict structured output rejects schemas with an optional or undeclared property.
    #[test]
    fn every_object_in_every_schema_is_closed_and_fully_required() {
        fn walk(tool: &str, path: &str, schema: &Value) {
            if schema["type"] == "object" {
                let props = schema["properties"].as_object().expect("properties");
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .expect("required")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
                keys.sort_unstable();
                let mut required_sorted = required.clone();
                required_sorted.sort_unstable();
                assert_eq!(keys, required_sorted, "{tool} {path}");
                assert_eq!(schema["additionalProperties"], false, "{tool} {path}");
                for (key, value) in props {
                    walk(tool, &format!("{path}.{key}"), value);
                }
            }
            if let Some(items) = schema.get("items") {
                walk(tool, &format!("{path}[]"), items);
            }
        }
        for tool in Tool::ALL {
            walk(tool.name(), "", &tool.schema());
        }
    }
}
