//! The zero-latency model of the write-path benchmarks (`bench_ingest`, the ingest part
//! of `eval scale`): a [`ScriptedLlm`] that answers every extraction call at once, so an
//! ingest-rate measurement times the engine and the real client on a real socket, never a
//! model.
//!
//! It understands adds written like mnemo-eval's `synthetic::move_message`: "Person-p
//! moved to City-c and works at Org-o (#n)".

use serde_json::{Value, json};

use crate::scripted_llm::{Reply, ScriptedLlm, ScriptedRequest};

/// A scripted server on `127.0.0.1:0` answering with [`respond`].
pub async fn start() -> ScriptedLlm {
    let llm = ScriptedLlm::start().await;
    llm.respond_with(respond);
    llm
}

/// The zero-latency model of the write-path benchmarks, for adds that say "Person-p moved
/// to City-c and works at Org-o": entities and relations from the names in the new
/// messages (LIVES_IN supersedes by the ontology rule, WORKS_AT may go to
/// `resolve_conflicts`, answered `unrelated`).
pub fn respond(request: &ScriptedRequest) -> Reply {
    let after = |marker: &str| {
        request
            .input
            .rsplit_once(marker)
            .map_or("", |(_, rest)| rest)
            .to_owned()
    };
    let names = |text: &str, prefix: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    };
    match request.tool.as_str() {
        "extract_entities" => {
            let text = after("## New messages");
            let mut entities: Vec<Value> = Vec::new();
            for (prefix, kind) in [
                ("Person-", "Person"),
                ("City-", "City"),
                ("Org-", "Organization"),
            ] {
                for name in names(&text, prefix) {
                    entities.push(json!({"name": name, "type": kind}));
                }
            }
            Reply::json(json!({ "entities": entities }))
        }
        "establish_relations" => {
            let text = after("## Messages");
            let person = names(&text, "Person-")
                .into_iter()
                .next()
                .unwrap_or_default();
            let mut relations = Vec::new();
            for city in names(&text, "City-") {
                relations.push(json!({"source": person, "relation": "LIVES_IN", "target": city,
                    "fact": format!("{person} lives in {city}"), "valid_from": null, "valid_to": null}));
            }
            for org in names(&text, "Org-") {
                relations.push(json!({"source": person, "relation": "WORKS_AT", "target": org,
                    "fact": format!("{person} works at {org}"), "valid_from": null, "valid_to": null}));
            }
            Reply::json(json!({ "relations": relations }))
        }
        "resolve_conflicts" => {
            let count = |section: &str, next: Option<&str>| {
                let text = after(section);
                let text = next
                    .and_then(|n| text.split(n).next())
                    .unwrap_or(&text)
                    .to_owned();
                text.lines().filter(|l| l.starts_with('[')).count()
            };
            let existing = count("## Existing relations", Some("## New relations"));
            let new = count("## New relations", None);
            let decisions: Vec<Value> = (0..existing)
                .flat_map(|e| {
                    (0..new).map(move |n| json!({"existing": e, "new": n, "verdict": "unrelated"}))
                })
                .collect();
            Reply::json(json!({ "decisions": decisions }))
        }
        other => {
            eprintln!("zero-latency LLM: unexpected tool {other}");
            Reply::status(500)
        }
    }
}
