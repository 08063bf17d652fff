//! The HTTP layer against real parts: the router driven in-process with `oneshot`, and
//! `serve` over a real socket, on a real embedded store in a temporary folder, the real
//! embedder and tokenizer from `.deps` (installed by `make setup`), and the real LLM client
//! against the scripted OpenAI-compatible server.

mod api_graph;
mod api_memories;
mod auth;
mod background;
mod edge;
mod errors;
mod health;
mod metrics;
mod openapi;
mod request_id;
mod serve;
mod timestamps;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use mnemo_core::llm::LanguageModel;
use mnemo_core::ports::{Embedder, GraphWrite, TokenCounter, VectorWrite};
use mnemo_core::{Memory, MemoryParts, MemorySettings, Ontology};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};
use mnemo_llm::{LlmConfig, OpenAiLlm};
use mnemo_server::{AppState, ServerSettings, router};
use mnemo_testkit::scripted_llm::ScriptedLlm;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt as _;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The embedder, loaded once per test binary (loading takes a while).
fn embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<FastEmbedder> = OnceLock::new();
    let embedder = EMBEDDER.get_or_init(|| {
        FastEmbedder::load(&EmbedConfig::repo_default(&repo_root()))
            .unwrap_or_else(|err| panic!("{err} (the tests need `make setup`)"))
    });
    Arc::new(embedder.clone())
}

fn token_counter() -> Arc<dyn TokenCounter> {
    static TOKENS: OnceLock<Arc<TokenizerCounter>> = OnceLock::new();
    TOKENS
        .get_or_init(|| {
            Arc::new(
                TokenizerCounter::load(&EmbedConfig::repo_default(&repo_root()))
                    .unwrap_or_else(|err| panic!("{err} (the tests need `make setup`)")),
            )
        })
        .clone()
}

/// A real embedded store in a fresh temporary folder (kept alive by the returned guard).
fn store() -> (TempDir, Arc<dyn GraphWrite>, Arc<dyn VectorWrite>) {
    let (dir, store) = embedded_store();
    (dir, Arc::new(store.clone()), Arc::new(store))
}

fn embedded_store() -> (TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = EmbeddedStore::open(dir.path(), mnemo_fastembed::DIMENSION).expect("store opens");
    (dir, store)
}

/// A state with the store and the embedder loaded (no memory pipelines).
fn ready_state() -> (TempDir, AppState) {
    let (dir, graph, vectors) = store();
    (dir, AppState::ready(graph, vectors, embedder()))
}

/// A whole service: state with store, embedder and `Memory`, and the scripted LLM when
/// one was asked for.
struct App {
    state: AppState,
    llm: Option<ScriptedLlm>,
    _dir: TempDir,
}

/// An open service without an LLM.
async fn app() -> App {
    app_with(ServerSettings::default(), false).await
}

/// An open service with the scripted LLM.
async fn app_with_llm() -> App {
    app_with(ServerSettings::default(), true).await
}

async fn app_with(settings: ServerSettings, with_llm: bool) -> App {
    let (dir, store) = embedded_store();
    let llm = if with_llm {
        Some(ScriptedLlm::start().await)
    } else {
        None
    };
    let model = llm.as_ref().map(|llm| {
        let mut config = LlmConfig::new(llm.base_url(), "scripted");
        config.max_retries = 1;
        config.retry_base_delay = Duration::from_millis(1);
        config.timeout = Duration::from_secs(10);
        Arc::new(OpenAiLlm::new(config).expect("LLM client")) as Arc<dyn LanguageModel>
    });
    let state = AppState::with_settings(settings);
    state.set_store(Arc::new(store.clone()), Arc::new(store.clone()));
    state.set_embedder(embedder());
    state.set_memory(Arc::new(Memory::new(MemoryParts {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store),
        embedder: embedder(),
        tokens: token_counter(),
        llm: model,
        ontology: Ontology::builtin(),
        settings: MemorySettings::default(),
    })));
    App {
        state,
        llm,
        _dir: dir,
    }
}

impl App {
    fn llm(&self) -> &ScriptedLlm {
        self.llm.as_ref().expect("an app with the scripted LLM")
    }

    async fn get(&self, uri: &str) -> Reply {
        send(&self.state, request("GET", uri)).await
    }

    async fn delete(&self, uri: &str) -> Reply {
        send(&self.state, request("DELETE", uri)).await
    }

    async fn post(&self, uri: &str, body: Value) -> Reply {
        send(&self.state, json_request("POST", uri, &body)).await
    }

    async fn put(&self, uri: &str, body: Value) -> Reply {
        send(&self.state, json_request("PUT", uri, &body)).await
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    body: Value,
    text: String,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

/// Sends one request through the router, in-process.
async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

fn request(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("valid request")
}

fn json_request(method: &str, uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid request")
}

/// The `{"error":{…}}` of a reply as (status, code).
fn error_of(reply: &Reply) -> (u16, &str) {
    (
        reply.status.as_u16(),
        reply.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>"),
    )
}

/// A fresh user id, so tests never see each other's data.
fn fresh_user(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::now_v7())
}
