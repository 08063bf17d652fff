//! The MCP tools through rmcp's own client over an in-process byte pipe, on a real
//! embedded store and the real embedder: the tool list with schemas, typed relations and a
//! search at two event times, the connection's default scope, and errors a model can act on.

use std::path::Path;
use std::sync::Arc;

use mnemo_core::{Memory, MemoryParts, MemorySettings, Ontology, Scope};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};
use mnemo_mcp::MemoryTools;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

struct Connected {
    client: RunningService<RoleClient, ()>,
    _dir: tempfile::TempDir,
}

/// A memory on a fresh store, served to a client with `default_scope`.
async fn connect(default_scope: Option<Scope>) -> Connected {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = EmbedConfig::repo_default(&root);
    let embedder = FastEmbedder::load(&config).expect("model files (run `make setup`)");
    let tokens = TokenizerCounter::load(&config).expect("tokenizer");
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), mnemo_fastembed::DIMENSION).unwrap();
    let memory = Memory::new(MemoryParts {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store),
        embedder: Arc::new(embedder),
        tokens: Arc::new(tokens),
        llm: None,
        ontology: Ontology::builtin(),
        settings: MemorySettings::default(),
    });
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    let tools = MemoryTools::new(Arc::new(memory), default_scope);
    tokio::spawn(async move {
        let running = tools.serve(server_end).await.expect("server handshake");
        let _ = running.waiting().await;
    });
    let client = ().serve(client_end).await.expect("client handshake");
    Connected { client, _dir: dir }
}

async fn call(connected: &Connected, tool: &'static str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    connected
        .client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await
        .expect("the call is answered")
}

fn ok(result: CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{:?}", result.content);
    result.structured_content.expect("structured content")
}

fn error_text(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "an error: {result:?}");
    result.content[0].as_text().expect("text").text.clone()
}

fn lives_in(city: &str, since: &str) -> Value {
    json!({"source": {"name": "Alice", "type": "Person"}, "relation": "LIVES_IN",
           "target": {"name": city, "type": "City"}, "valid_from": since})
}

#[tokio::test]
async fn the_tools_answer_with_both_time_axes_in_the_default_scope() {
    let connected = connect(Some(Scope::user("alice").unwrap())).await;
    let tools = connected.client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "add_memory",
            "add_relations",
            "delete_episode",
            "delete_fact",
            "erase_scope",
            "get_changes",
            "get_episode",
            "get_subgraph",
            "get_timeline",
            "list_facts",
            "search_memory",
        ]
    );
    let search = tools.iter().find(|t| t.name == "search_memory").unwrap();
    let properties = search.input_schema.get("properties").expect("a schema");
    for field in [
        "query",
        "as_of",
        "known_at",
        "limit",
        "depth",
        "token_budget",
        "user_id",
    ] {
        assert!(
            properties.get(field).is_some(),
            "search_memory takes {field}"
        );
    }

    for (city, since) in [
        ("Boston", "2020-01-01T00:00:00Z"),
        ("Lisbon", "2024-03-01T00:00:00Z"),
    ] {
        let added = ok(call(
            &connected,
            "add_relations",
            json!({"relations": [lives_in(city, since)]}),
        )
        .await);
        assert_eq!(added["status"], "done", "{added}");
    }
    let then = ok(call(
        &connected,
        "search_memory",
        json!({"query": "Where does Alice live?", "as_of": "2022-06-01T00:00:00Z"}),
    )
    .await);
    let context = then["context"].as_str().unwrap();
    assert!(
        context.contains("Boston") && !context.contains("Lisbon"),
        "{context}"
    );
    let timeline = ok(call(&connected, "get_timeline", json!({"entity": "Alice"})).await);
    let statuses: Vec<(&str, &str)> = timeline["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"]["name"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("Boston", "ended"), ("Lisbon", "valid")],
        "{timeline}"
    );
    // Another scope named explicitly sees nothing of alice's.
    let bob = ok(call(&connected, "list_facts", json!({"user_id": "bob"})).await);
    assert_eq!(bob["facts"], json!([]));
}

#[tokio::test]
async fn bad_calls_are_tool_errors_with_a_code() {
    let connected = connect(None).await;
    let cases = [
        ("list_facts", json!({}), "invalid_scope"),
        (
            "get_episode",
            json!({"user_id": "a", "id": "nope"}),
            "invalid_request",
        ),
        (
            "get_episode",
            json!({"user_id": "a", "id": uuid_v7()}),
            "not_found",
        ),
        (
            "add_memory",
            json!({"user_id": "a", "text": "hi"}),
            "llm_not_configured",
        ),
        ("add_memory", json!({"user_id": "a"}), "invalid_request"),
        (
            "erase_scope",
            json!({"user_id": "a", "confirm": false}),
            "invalid_request",
        ),
    ];
    for (tool, arguments, code) in cases {
        let text = error_text(&call(&connected, tool, arguments.clone()).await);
        assert!(text.starts_with(code), "{tool} {arguments}: {text}");
    }
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}
