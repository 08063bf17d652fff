//! The state every handler sees: the settings, the store, the embedder and the memory
//! pipelines (each filled in once it has loaded, so the listener can answer `/healthz` and
//! a truthful `/readyz` during start-up), the background tasks and the metrics.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mnemo_core::Memory;
use mnemo_core::ports::{Embedder, GraphWrite, VectorWrite};

use crate::background::Background;
use crate::metrics::Metrics;
use crate::{ApiError, ServerSettings};

/// Shared, cheaply cloned handle to the service's components. Starts empty
/// ([`AppState::new`] or [`AppState::with_settings`]); the composition root fills each
/// slot once with [`AppState::set_store`], [`AppState::set_embedder`] and
/// [`AppState::set_memory`].
#[derive(Clone)]
pub struct AppState {
    slots: Arc<Slots>,
}

struct Slots {
    settings: ServerSettings,
    store: OnceLock<Store>,
    embedder: OnceLock<Arc<dyn Embedder>>,
    memory: OnceLock<Arc<Memory>>,
    background: Background,
    metrics: Metrics,
}

/// The graph and vector halves of the storage backend (one object on the embedded backend).
pub(crate) struct Store {
    pub(crate) graph: Arc<dyn GraphWrite>,
    pub(crate) vectors: Arc<dyn VectorWrite>,
}

/// Everything a request handler needs, available once the service is ready.
#[derive(Clone)]
pub struct Services {
    pub graph: Arc<dyn GraphWrite>,
    pub vectors: Arc<dyn VectorWrite>,
    pub embedder: Arc<dyn Embedder>,
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

impl AppState {
    /// An open service (no API keys) with a 2 MiB body limit and nothing loaded yet:
    /// `/readyz` answers 503 until the store and the embedder are set.
    pub fn new() -> Self {
        Self::with_settings(ServerSettings::default())
    }

    /// A state with these settings and nothing loaded yet.
    pub fn with_settings(settings: ServerSettings) -> Self {
        AppState {
            slots: Arc::new(Slots {
                settings,
                store: OnceLock::new(),
                embedder: OnceLock::new(),
                memory: OnceLock::new(),
                background: Background::default(),
                metrics: Metrics::default(),
            }),
        }
    }

    /// A state with the store and the embedder in place (the memory pipelines are set
    /// apart, with [`AppState::set_memory`]).
    pub fn ready(
        graph: Arc<dyn GraphWrite>,
        vectors: Arc<dyn VectorWrite>,
        embedder: Arc<dyn Embedder>,
    ) -> Self {
        let state = Self::new();
        state.set_store(graph, vectors);
        state.set_embedder(embedder);
        state
    }

    pub fn settings(&self) -> &ServerSettings {
        &self.slots.settings
    }

    /// Installs the opened store. Only the first call has an effect (returns `false` after).
    pub fn set_store(&self, graph: Arc<dyn GraphWrite>, vectors: Arc<dyn VectorWrite>) -> bool {
        self.slots.store.set(Store { graph, vectors }).is_ok()
    }

    /// Installs the loaded embedder. Only the first call has an effect (returns `false` after).
    pub fn set_embedder(&self, embedder: Arc<dyn Embedder>) -> bool {
        self.slots.embedder.set(embedder).is_ok()
    }

    /// Installs the memory pipelines built on the store and embedder. Only the first call
    /// has an effect (returns `false` after).
    pub fn set_memory(&self, memory: Arc<Memory>) -> bool {
        self.slots.memory.set(memory).is_ok()
    }

    /// The memory pipelines, or [`ApiError::NotReady`] until they are built.
    pub fn memory(&self) -> Result<Arc<Memory>, ApiError> {
        self.slots.memory.get().cloned().ok_or(ApiError::NotReady)
    }

    /// The components for a request handler, or [`ApiError::NotReady`] while loading.
    pub fn services(&self) -> Result<Services, ApiError> {
        match (self.store(), self.embedder()) {
            (Some(store), Some(embedder)) => Ok(Services {
                graph: Arc::clone(&store.graph),
                vectors: Arc::clone(&store.vectors),
                embedder: Arc::clone(embedder),
            }),
            _ => Err(ApiError::NotReady),
        }
    }

    /// Background tasks running now (episodes of `wait=false` adds, adds whose client
    /// hung up, summary refreshes).
    pub fn background_tasks(&self) -> usize {
        self.slots.background.running()
    }

    /// Waits until every background task has ended, at most `timeout`; returns how many
    /// still run. Episodes still running then stay `pending` in the journal and are
    /// resumed at the next start.
    pub async fn wait_for_background(&self, timeout: Duration) -> usize {
        self.slots.background.wait(timeout).await
    }

    pub(crate) fn store(&self) -> Option<&Store> {
        self.slots.store.get()
    }

    pub(crate) fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.slots.embedder.get()
    }

    pub(crate) fn background(&self) -> &Background {
        &self.slots.background
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.slots.metrics
    }
}
