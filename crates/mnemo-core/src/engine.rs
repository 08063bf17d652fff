//! `Memory`: the composition of ports the write and read pipelines run on.
//!
//! The binary builds one `Memory` from its configuration; handlers and the CLI call its
//! methods (`add`, `search`, …), each of which is one pipeline.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, SystemClock};
use crate::llm::LanguageModel;
use crate::ontology::Ontology;
use crate::ports::{Embedder, GraphRead, GraphWrite, TokenCounter, VectorRead, VectorWrite};
use crate::{Entity, EntityId, EntityRef, MemoryError, Relation, RelationView, Scope};

/// Tunables of the pipelines (defaults follow DESIGN §3).
#[derive(Clone, Debug, PartialEq)]
pub struct MemorySettings {
    /// Messages of earlier episodes the extractor sees as context.
    pub recent_messages: usize,
    /// Cosine similarity of name embeddings at or above which an extracted entity is the
    /// known one without asking.
    pub entity_match_threshold: f32,
    /// Between this and `entity_match_threshold` a known entity is a candidate the
    /// relationship generator is shown, and may reuse.
    pub entity_candidate_threshold: f32,
    /// Run the facts path (`extract_facts` + `update_memory`) next to the graph path.
    pub facts_enabled: bool,
    /// How many similar facts `update_memory` is shown.
    pub facts_top_k: usize,
    /// Longest search query accepted, in characters (422 past it): a query is embedded
    /// and matched term by term, so its length is its cost.
    pub max_query_chars: usize,
    /// Searches run at once; more wait their turn (at least 1). A search on the embedded
    /// store is all CPU: past one per core, extra searches only slow each other and every
    /// write down (see [`MemorySettings::searches_per_core`]).
    pub max_concurrent_searches: usize,
}

impl MemorySettings {
    /// 4,096 characters: a long user message, far past what the embedder reads.
    pub const DEFAULT_MAX_QUERY_CHARS: usize = 4096;

    /// `per_core` searches for each core of this machine: 1 when the stores are local
    /// (a search is CPU work), more when they are remote (a search mostly waits for them).
    pub fn searches_per_core(per_core: usize) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.saturating_mul(per_core).max(1)
    }
}

impl Default for MemorySettings {
    fn default() -> Self {
        MemorySettings {
            recent_messages: 10,
            entity_match_threshold: 0.92,
            entity_candidate_threshold: 0.75,
            facts_enabled: true,
            facts_top_k: 10,
            max_query_chars: Self::DEFAULT_MAX_QUERY_CHARS,
            max_concurrent_searches: Self::searches_per_core(1),
        }
    }
}

/// The memory service, independent of transport and backend.
pub struct Memory {
    pub(crate) graph: Arc<dyn GraphWrite>,
    pub(crate) vectors: Arc<dyn VectorWrite>,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) tokens: Arc<dyn TokenCounter>,
    pub(crate) llm: Option<Arc<dyn LanguageModel>>,
    pub(crate) ontology: Arc<Ontology>,
    pub(crate) settings: MemorySettings,
    pub(crate) clock: Arc<dyn Clock>,
    /// One writer per scope at a time in this process, so two adds never race to create
    /// the same entity or end the same relation.
    scope_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Scopes whose summary is being refreshed, so two refreshes never run at once.
    summaries_refreshing: Arc<Mutex<HashSet<String>>>,
    /// Admits `settings.max_concurrent_searches` searches at once; never closed.
    pub(crate) searches: tokio::sync::Semaphore,
}

/// A scope's summary refresh in progress; dropping it lets the next one start.
pub(crate) struct SummaryRefresh {
    scopes: Arc<Mutex<HashSet<String>>>,
    scope: String,
}

impl Drop for SummaryRefresh {
    fn drop(&mut self) {
        self.scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.scope);
    }
}

/// The read capability of a [`Memory`]: the read ports, the embedder, the LLM, the
/// ontology, the settings and the clock, and no write port. Planners (extraction, entity
/// resolution, conflicts, timelines, fact updates) and the read path take a `Reader`, so
/// "planning never writes" is the compiler's to check; only the pipeline's applier holds
/// the `Memory` and writes.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub graph: &'a dyn GraphRead,
    pub vectors: &'a dyn VectorRead,
    embedder: &'a dyn Embedder,
    pub tokens: &'a dyn TokenCounter,
    llm: Option<&'a dyn LanguageModel>,
    pub ontology: &'a Ontology,
    pub settings: &'a MemorySettings,
    clock: &'a dyn Clock,
}

impl Reader<'_> {
    pub(crate) fn llm(&self) -> Result<&dyn LanguageModel, MemoryError> {
        self.llm.ok_or(MemoryError::LlmNotConfigured)
    }

    pub(crate) fn now(&self) -> crate::Timestamp {
        self.clock.now()
    }

    /// Embeds texts, checking the embedder kept its promise of one vector per text.
    pub(crate) async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, MemoryError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let expected = texts.len();
        one_per_text(expected, self.embedder.embed(texts).await?)
    }

    /// [`Reader::embed`] for a search ([`Embedder::embed_query`]).
    ///
    /// [`Embedder::embed_query`]: crate::ports::Embedder::embed_query
    pub(crate) async fn embed_query(
        &self,
        texts: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, MemoryError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let expected = texts.len();
        one_per_text(expected, self.embedder.embed_query(texts).await?)
    }
}

/// `vectors`, checked to be one per text.
fn one_per_text(expected: usize, vectors: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>, MemoryError> {
    if vectors.len() != expected {
        return Err(MemoryError::Embed(crate::EmbedError::Inference(format!(
            "embedder returned {} vectors for {expected} texts",
            vectors.len()
        ))));
    }
    Ok(vectors)
}

/// The parts a [`Memory`] is built from.
pub struct MemoryParts {
    pub graph: Arc<dyn GraphWrite>,
    pub vectors: Arc<dyn VectorWrite>,
    pub embedder: Arc<dyn Embedder>,
    pub tokens: Arc<dyn TokenCounter>,
    /// `None`: no LLM configured; `infer: true` is refused, everything else works.
    pub llm: Option<Arc<dyn LanguageModel>>,
    pub ontology: Ontology,
    pub settings: MemorySettings,
}

impl Memory {
    pub fn new(parts: MemoryParts) -> Memory {
        Memory {
            graph: parts.graph,
            vectors: parts.vectors,
            embedder: parts.embedder,
            tokens: parts.tokens,
            llm: parts.llm,
            ontology: Arc::new(parts.ontology),
            searches: tokio::sync::Semaphore::new(parts.settings.max_concurrent_searches.max(1)),
            settings: parts.settings,
            clock: Arc::new(SystemClock),
            scope_locks: Mutex::new(HashMap::new()),
            summaries_refreshing: Arc::default(),
        }
    }

    /// The same service telling time by `clock` (tests fix it; the default is
    /// [`SystemClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Memory {
        self.clock = clock;
        self
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> crate::Timestamp {
        self.clock.now()
    }

    pub fn settings(&self) -> &MemorySettings {
        &self.settings
    }

    pub fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    pub(crate) fn llm(&self) -> Result<&dyn LanguageModel, MemoryError> {
        self.llm.as_deref().ok_or(MemoryError::LlmNotConfigured)
    }

    /// What planners may use: everything but the write ports.
    pub(crate) fn reader(&self) -> Reader<'_> {
        Reader {
            graph: &*self.graph,
            vectors: &*self.vectors,
            embedder: &*self.embedder,
            tokens: &*self.tokens,
            llm: self.llm.as_deref(),
            ontology: &self.ontology,
            settings: &self.settings,
            clock: &*self.clock,
        }
    }

    /// Marks a summary refresh of `scope` running, or `None` when one already runs.
    pub(crate) fn start_summary_refresh(&self, scope: &Scope) -> Option<SummaryRefresh> {
        let key = scope.key();
        let inserted = self
            .summaries_refreshing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone());
        inserted.then(|| SummaryRefresh {
            scopes: Arc::clone(&self.summaries_refreshing),
            scope: key,
        })
    }

    /// Holds the scope's write lock until the guard is dropped.
    pub(crate) async fn lock_scope(&self, scope: &Scope) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.scope_locks.lock().unwrap_or_else(|e| e.into_inner());
            // Drop locks nobody holds, so the map does not grow with every scope ever seen.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(scope.key()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Embeds texts, checking the embedder kept its promise of one vector per text.
    pub(crate) async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, MemoryError> {
        self.reader().embed(texts).await
    }

    /// Resolves the two ends of each relation (each entity loaded once). A relation whose
    /// entity is gone is dropped: it cannot be shown.
    pub async fn relation_views(
        &self,
        scope: &Scope,
        relations: Vec<Relation>,
    ) -> Result<Vec<RelationView>, MemoryError> {
        let mut entities: HashMap<EntityId, Option<Entity>> = HashMap::new();
        for relation in &relations {
            for id in [relation.source, relation.target] {
                if let std::collections::hash_map::Entry::Vacant(slot) = entities.entry(id) {
                    slot.insert(self.graph.entity(scope, id).await?);
                }
            }
        }
        Ok(relations
            .into_iter()
            .filter_map(|relation| {
                let source = entities.get(&relation.source)?.as_ref()?;
                let target = entities.get(&relation.target)?.as_ref()?;
                Some(RelationView {
                    source: EntityRef::from(source),
                    target: EntityRef::from(target),
                    relation,
                })
            })
            .collect())
    }
}
