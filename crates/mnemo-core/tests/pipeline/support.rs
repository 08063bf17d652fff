//! The harness: a real `Memory` on a temp embedded store, with the real embedder, the
//! real token counter and (optionally) the real LLM client against the scripted server.
//! With `MNEMO_TEST_NEO4J_URI` (graph) and/or `MNEMO_TEST_QDRANT_URL` (vectors) set, the
//! same scenarios run with those servers in place of the embedded halves.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;

use mnemo_core::llm::ChatMessage;
use mnemo_core::ports::{Embedder, GraphRead, RelationQuery};
use mnemo_core::ports::{GraphWrite, VectorWrite};
use mnemo_core::write::AddRequest;
use mnemo_core::{
    EmbedError, Entity, Memory, MemoryParts, MemorySettings, Ontology, Relation, Scope, Timestamp,
    normalize_name,
};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};
use mnemo_llm::{LlmConfig, OpenAiLlm};
use mnemo_neo4j::{Neo4jSettings, Neo4jStore};
use mnemo_qdrant::{QdrantSettings, QdrantStore};
use mnemo_testkit::SplitStore;
use mnemo_testkit::scripted_llm::ScriptedLlm;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One embedder per test process: loading ONNX Runtime is the slow part.
pub fn embedder() -> Arc<FastEmbedder> {
    static EMBEDDER: LazyLock<Arc<FastEmbedder>> = LazyLock::new(|| {
        let config = EmbedConfig::repo_default(&repo_root());
        Arc::new(FastEmbedder::load(&config).expect("the model files of `make setup`"))
    });
    EMBEDDER.clone()
}

pub fn token_counter() -> Arc<TokenizerCounter> {
    static TOKENS: LazyLock<Arc<TokenizerCounter>> = LazyLock::new(|| {
        let config = EmbedConfig::repo_default(&repo_root());
        Arc::new(TokenizerCounter::load(&config).expect("the tokenizer of `make setup`"))
    });
    TOKENS.clone()
}

/// What a test drives: the memory, the store underneath (for direct reads) and the
/// scripted LLM (for scripting and counting calls).
pub struct Harness {
    pub memory: Memory,
    pub store: SplitStore,
    pub llm: Option<ScriptedLlm>,
    /// Removes the folder at the end when the harness made it.
    _dir: Option<tempfile::TempDir>,
}

/// Fast retries, so malformed-answer cases do not wait; forced tools (the scripted server
/// honours them), so a malformed answer is retried as such rather than probed by `auto`.
pub fn llm_config(llm: &ScriptedLlm) -> LlmConfig {
    let mut config = LlmConfig::new(llm.base_url(), "scripted");
    config.output = mnemo_llm::OutputMode::Tools;
    config.max_retries = 2;
    config.retry_base_delay = Duration::from_millis(1);
    config.timeout = Duration::from_secs(5);
    config
}

pub async fn harness() -> Harness {
    harness_with(MemorySettings::default(), true).await
}

pub async fn harness_without_llm() -> Harness {
    harness_with(MemorySettings::default(), false).await
}

pub async fn harness_with(settings: MemorySettings, with_llm: bool) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let llm = if with_llm {
        Some(ScriptedLlm::start().await)
    } else {
        None
    };
    open(dir.path().to_owned(), Some(dir), llm, settings).await
}

/// Opens (or reopens) the store in `path` and builds a `Memory` on it.
pub async fn open(
    path: PathBuf,
    dir: Option<tempfile::TempDir>,
    llm: Option<ScriptedLlm>,
    settings: MemorySettings,
) -> Harness {
    let memory_store = store_in(&path).await;
    let model = llm.as_ref().map(|llm| {
        Arc::new(OpenAiLlm::new(llm_config(llm)).expect("LLM client"))
            as Arc<dyn mnemo_core::llm::LanguageModel>
    });
    let memory = Memory::new(MemoryParts {
        graph: memory_store.graph.clone(),
        vectors: memory_store.vectors.clone(),
        embedder: embedder(),
        tokens: token_counter(),
        llm: model,
        ontology: Ontology::builtin(),
        settings,
    });
    Harness {
        memory,
        store: memory_store,
        llm,
        _dir: dir,
    }
}

/// The store of a harness: the embedded store in `dir`, with its graph half replaced by
/// Neo4j and its vector half by Qdrant when the test variables name them.
pub async fn store_in(dir: &Path) -> SplitStore {
    let dir = dir.to_owned();
    let embedded =
        tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir, mnemo_fastembed::DIMENSION))
            .await
            .expect("open task")
            .expect("open the embedded store");
    let graph: Arc<dyn GraphWrite> = match test_var("MNEMO_TEST_NEO4J_URI") {
        Some(uri) => {
            let settings = Neo4jSettings {
                uri,
                user: test_var("MNEMO_TEST_NEO4J_USER").unwrap_or_else(|| "neo4j".to_owned()),
                password: test_var("MNEMO_TEST_NEO4J_PASSWORD").unwrap_or_default(),
                database: None,
            };
            Arc::new(
                Neo4jStore::connect(settings, mnemo_fastembed::DIMENSION)
                    .await
                    .expect("MNEMO_TEST_NEO4J_URI is set, so Neo4j must be reachable"),
            )
        }
        None => Arc::new(embedded.clone()),
    };
    let vectors: Arc<dyn VectorWrite> = match test_var("MNEMO_TEST_QDRANT_URL") {
        Some(url) => {
            let settings = QdrantSettings {
                api_key: test_var("MNEMO_TEST_QDRANT_API_KEY"),
                collection_prefix: "mnemo_pipeline".to_owned(),
                ..QdrantSettings::new(url)
            };
            Arc::new(
                QdrantStore::connect(settings, mnemo_fastembed::DIMENSION)
                    .await
                    .expect("MNEMO_TEST_QDRANT_URL is set, so Qdrant must be reachable"),
            )
        }
        None => Arc::new(embedded),
    };
    SplitStore::new(graph, vectors)
}

/// A non-empty test variable; says once per process which scale-out halves are skipped.
fn test_var(name: &str) -> Option<String> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        for (var, what) in [
            ("MNEMO_TEST_NEO4J_URI", "Neo4j"),
            ("MNEMO_TEST_QDRANT_URL", "Qdrant"),
        ] {
            if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
                eprintln!("pipeline scenarios run with {what} ({var} is set)");
            } else {
                eprintln!(
                    "pipeline scenarios on {what} skipped: {var} is not set (they run on the embedded store)"
                );
            }
        }
    });
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Harness {
    /// The same harness with its `Memory` telling time by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn mnemo_core::Clock>) -> Harness {
        self.memory = self.memory.with_clock(clock);
        self
    }

    pub fn llm(&self) -> &ScriptedLlm {
        self.llm.as_ref().expect("a harness with a scripted LLM")
    }

    pub async fn entity(&self, scope: &Scope, name: &str) -> Option<Entity> {
        self.store
            .entity_by_name(scope, &normalize_name(name).unwrap())
            .await
            .unwrap()
    }

    /// Every relation of the scope that touches `entity`, whole timeline, as
    /// "SOURCE TYPE TARGET [state]" lines, sorted, so asserts read like the scenario.
    pub async fn timeline(&self, scope: &Scope, entity: &str) -> Vec<String> {
        let Some(entity) = self.entity(scope, entity).await else {
            return Vec::new();
        };
        let relations = self
            .store
            .relations(
                scope,
                &RelationQuery {
                    entity: Some(entity.id),
                    outgoing_only: false,
                    relation_type: None,
                    visible_at: None,
                    limit: 1000,
                },
            )
            .await
            .unwrap();
        let mut lines = Vec::new();
        for relation in relations {
            lines.push(self.describe(scope, &relation).await);
        }
        lines.sort();
        lines
    }

    /// "Alice LIVES_IN Lisbon [current]", "[ended]", "[retracted]".
    pub async fn describe(&self, scope: &Scope, relation: &Relation) -> String {
        let name = |id| async move {
            self.store
                .entity(scope, id)
                .await
                .unwrap()
                .map(|e| e.display_name)
                .unwrap_or_else(|| "?".into())
        };
        let state = if relation.times.retracted_at.is_some() {
            "retracted"
        } else if relation.times.valid_to.is_some() {
            "ended"
        } else {
            "current"
        };
        format!(
            "{} {} {} [{state}]",
            name(relation.source).await,
            relation.relation_type,
            name(relation.target).await
        )
    }
}

pub fn messages(texts: &[&str]) -> Vec<ChatMessage> {
    texts
        .iter()
        .map(|text| ChatMessage {
            role: "user".into(),
            content: text.to_string(),
        })
        .collect()
}

pub fn add_request(scope: &Scope, text: &str, occurred_at: Timestamp) -> AddRequest {
    AddRequest {
        scope: scope.clone(),
        messages: messages(&[text]),
        occurred_at: Some(occurred_at),
        metadata: serde_json::json!({}),
        infer: true,
        idempotency_key: None,
    }
}

/// A fresh user scope per test, so tests never see each other's data.
pub fn fresh_scope(name: &str) -> Scope {
    Scope::user(format!("{name}-{}", uuid::Uuid::now_v7())).unwrap()
}

/// A date at midnight UTC.
pub fn date(y: i32, m: u32, d: u32) -> Timestamp {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// The real embedder, recording each call's texts and the most calls it had in flight at
/// once; each call is held `hold` first, long enough for concurrent searches to overlap.
pub struct Watching {
    hold: std::time::Duration,
    calls: std::sync::Mutex<Vec<Vec<String>>>,
    in_flight: AtomicUsize,
    pub most: AtomicUsize,
}

impl Watching {
    pub fn new(hold: std::time::Duration) -> Arc<Watching> {
        Arc::new(Watching {
            hold,
            calls: Default::default(),
            in_flight: Default::default(),
            most: Default::default(),
        })
    }

    pub fn take(&self) -> Vec<Vec<String>> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// A memory over `h`'s stores that embeds through this embedder.
    pub fn memory(self: &Arc<Self>, h: &Harness, settings: MemorySettings) -> Memory {
        Memory::new(MemoryParts {
            graph: h.store.graph.clone(),
            vectors: h.store.vectors.clone(),
            embedder: self.clone(),
            tokens: token_counter(),
            llm: None,
            ontology: Ontology::builtin(),
            settings,
        })
    }
}

#[async_trait]
impl Embedder for Watching {
    fn dimension(&self) -> usize {
        embedder().dimension()
    }
    fn model_name(&self) -> &str {
        "watching"
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.calls.lock().unwrap().push(texts.clone());
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(self.hold).await;
        let out = embedder().embed(texts).await;
        self.in_flight.fetch_sub(1, SeqCst);
        out
    }
}
