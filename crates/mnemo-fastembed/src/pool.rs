//! A bounded pool of model sessions with back-pressure, so one heavy call cannot starve
//! short ones and a flood of calls is refused instead of queued without bound.
//!
//! Each ONNX Runtime batch checks a session out and gives it back, so with two sessions a
//! long call uses one at a time and short calls get the other. Calls beyond `max_waiting`
//! (running or waiting) are refused with [`EmbedError::Overloaded`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use fastembed::TextEmbedding;
use mnemo_core::EmbedError;

/// How many model sessions run at once and how many calls may wait for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Model sessions (each holds the model, about 25 MB); at least 1.
    pub sessions: usize,
    /// Calls admitted at once (running or waiting for a session); more are refused.
    pub max_waiting: usize,
}

impl PoolConfig {
    /// Sessions when not configured: two, so a large call and a short one run side by
    /// side, each on half of a two-core machine.
    pub const DEFAULT_SESSIONS: usize = 2;
    /// Calls admitted when not configured: far above what two cores serve in a second (a
    /// single text embeds in a few milliseconds), so only a flood is refused.
    pub const DEFAULT_MAX_WAITING: usize = 256;

    pub(crate) fn checked(self) -> Result<PoolConfig, EmbedError> {
        if self.sessions == 0 || self.max_waiting == 0 {
            return Err(EmbedError::Setup(format!(
                "the embedder needs at least one session and one admitted call, got {self:?}"
            )));
        }
        Ok(self)
    }

    /// ONNX Runtime intra-op threads per session: the cores shared out, at least one.
    pub(crate) fn threads_per_session(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (cores / self.sessions).max(1)
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            sessions: Self::DEFAULT_SESSIONS,
            max_waiting: Self::DEFAULT_MAX_WAITING,
        }
    }
}

/// The sessions not in use, and the count of admitted calls.
pub(crate) struct SessionPool {
    idle: Mutex<Vec<TextEmbedding>>,
    freed: Condvar,
    admitted: AtomicUsize,
    max_waiting: usize,
}

impl SessionPool {
    pub(crate) fn new(sessions: Vec<TextEmbedding>, max_waiting: usize) -> SessionPool {
        SessionPool {
            idle: Mutex::new(sessions),
            freed: Condvar::new(),
            admitted: AtomicUsize::new(0),
            max_waiting,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<TextEmbedding>> {
        // A session keeps no state from one run to the next, so a lock poisoned by a panic
        // in a run guards nothing broken and is still safe to use.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits one call, or refuses it when `max_waiting` are already in.
    pub(crate) fn admit(self: &std::sync::Arc<Self>) -> Result<Admitted, EmbedError> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admitted = Admitted(std::sync::Arc::clone(self));
        if before >= self.max_waiting {
            return Err(EmbedError::Overloaded(format!(
                "{} embedding calls are already running or waiting; try again shortly",
                self.max_waiting
            )));
        }
        Ok(admitted)
    }

    /// A free session, waiting for one (blocking) when all are in use; it goes back to the
    /// pool when the guard drops, also after a panic.
    pub(crate) fn session(&self) -> Session<'_> {
        let mut idle = self.idle();
        loop {
            if let Some(model) = idle.pop() {
                return Session {
                    pool: self,
                    model: Some(model),
                };
            }
            idle = self
                .freed
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One admitted call; dropping it makes room for another.
pub(crate) struct Admitted(std::sync::Arc<SessionPool>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A checked-out session.
pub(crate) struct Session<'a> {
    pool: &'a SessionPool,
    model: Option<TextEmbedding>,
}

impl std::ops::Deref for Session<'_> {
    type Target = TextEmbedding;

    fn deref(&self) -> &TextEmbedding {
        self.model
            .as_ref()
            .expect("a session holds its model until dropped")
    }
}

impl std::ops::DerefMut for Session<'_> {
    fn deref_mut(&mut self) -> &mut TextEmbedding {
        self.model
            .as_mut()
            .expect("a session holds its model until dropped")
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(model) = self.model.take() {
            self.pool.idle().push(model);
            self.pool.freed.notify_one();
        }
    }
}
