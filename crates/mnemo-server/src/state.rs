//! The state every handler sees: the store and the embedder, each filled in once it has
//! loaded, so the listener can answer `/healthz` (and a truthful `/readyz`) during start-up.

use std::sync::{Arc, OnceLock};

use mnemo_core::Memory;
use mnemo_core::ports::{Embedder, GraphWrite, VectorWrite};

use crate::ApiError;

/// Shared, cheaply cloned handle to the service's components. Starts empty
/// ([`AppState::new`]); the composition root fills each slot once with
/// [`AppState::set_store`] and [`AppState::set_embedder`].
#[derive(Clone, Default)]
pub struct AppState {
    slots: Arc<Slots>,
}

#[derive(Default)]
struct Slots {
    store: OnceLock<Store>,
    embedder: OnceLock<Arc<dyn Embedder>>,
    memory: OnceLock<Arc<Memory>>,
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

impl AppState {
    /// A state with nothing loaded yet: `/readyz` answers 503 until both slots are set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state with every component in place.
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

    /// The memory pipelines, once built.
    pub fn memory(&self) -> Option<Arc<Memory>> {
        self.slots.memory.get().cloned()
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

    pub(crate) fn store(&self) -> Option<&Store> {
        self.slots.store.get()
    }

    pub(crate) fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.slots.embedder.get()
    }
}
