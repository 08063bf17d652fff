//! A bounded pool of model sessions with back-pressure, so one heavy call cannot starve
//! short ones and a flood of calls is refused instead of queued without bound.
//!
//! Each ONNX Runtime batch checks a session out and gives it back, so with two sessions a
//! long call uses one at a time and short calls get the other. Calls beyond `max_waiting`
//! (running or waiting) are refused with [`EmbedError::Overloaded`].
//!
//! A write's batch ([`Priority::Write`]) goes before waiting queries': under a load of
//! searches the queries queue for the sessions, and an add would otherwise wait behind all
//! of them (seen: 8 searching clients made a one-message `infer: false` add take 0.4 to
//! 0.7 s).
//! Writes pass waiting queries at most [`MAX_BYPASS`] times in a row, so a stream of adds
//! cannot starve searches either (seen without the cap: 4 adding clients cut searches from
//! 69 to 4 per second).

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
    /// side.
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

    /// ONNX Runtime intra-op threads per session: every core. A lone call (a search on an
    /// idle server, an add) runs on all of them, and calls side by side share them: with
    /// spinning off, that costs nothing measurable. Measured on 2 cores against one core
    /// per session: adds through the whole write path 16% faster, searches per second
    /// under 8 clients the same.
    pub fn threads_per_session(&self) -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
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

/// Who waits for a session: writes are served before queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    /// The add path, imports, reindexing.
    Write,
    /// A search's query and phrases.
    Query,
}

/// Sessions handed to writes in a row while a query waited, before the next goes to a
/// query.
const MAX_BYPASS: usize = 2;

/// The sessions not in use, and who waits for one.
struct Idle<S> {
    sessions: Vec<S>,
    writes_waiting: usize,
    queries_waiting: usize,
    /// Sessions handed to writes while a query waited, since a query last got one.
    bypassed: usize,
}

impl<S> Idle<S> {
    /// Whether a caller of `priority` may take an idle session now: a write unless it
    /// has passed queries [`MAX_BYPASS`] times, a query unless a write waits and may go.
    fn may_take(&self, priority: Priority) -> bool {
        let writes_may_pass = self.bypassed < MAX_BYPASS;
        match priority {
            Priority::Write => self.queries_waiting == 0 || writes_may_pass,
            Priority::Query => self.writes_waiting == 0 || !writes_may_pass,
        }
    }
}

/// The sessions not in use, and the count of admitted calls. Generic over the session so
/// the hand-out order can be tested without a model.
pub(crate) struct SessionPool<S = TextEmbedding> {
    idle: Mutex<Idle<S>>,
    freed: Condvar,
    admitted: AtomicUsize,
    max_waiting: usize,
}

impl<S> SessionPool<S> {
    pub(crate) fn new(sessions: Vec<S>, max_waiting: usize) -> SessionPool<S> {
        SessionPool {
            idle: Mutex::new(Idle {
                sessions,
                writes_waiting: 0,
                queries_waiting: 0,
                bypassed: 0,
            }),
            freed: Condvar::new(),
            admitted: AtomicUsize::new(0),
            max_waiting,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle<S>> {
        // A session keeps no state from one run to the next, so a lock poisoned by a panic
        // in a run guards nothing broken and is still safe to use.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits one call, or refuses it when `max_waiting` are already in.
    pub(crate) fn admit(self: &std::sync::Arc<Self>) -> Result<Admitted<S>, EmbedError> {
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

    /// A free session, waiting for one (blocking) when all are in use or others go first
    /// (see the module doc); it goes back to the pool when the guard drops, also after a
    /// panic.
    pub(crate) fn session(&self, priority: Priority) -> Session<'_, S> {
        let mut idle = self.idle();
        match priority {
            Priority::Write => idle.writes_waiting += 1,
            Priority::Query => idle.queries_waiting += 1,
        }
        loop {
            if idle.may_take(priority)
                && let Some(model) = idle.sessions.pop()
            {
                match priority {
                    Priority::Write => {
                        idle.writes_waiting -= 1;
                        if idle.queries_waiting > 0 {
                            idle.bypassed += 1;
                        }
                    }
                    Priority::Query => {
                        idle.queries_waiting -= 1;
                        idle.bypassed = 0;
                    }
                }
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
pub(crate) struct Admitted<S>(std::sync::Arc<SessionPool<S>>);

impl<S> Drop for Admitted<S> {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A checked-out session.
pub(crate) struct Session<'a, S> {
    pool: &'a SessionPool<S>,
    model: Option<S>,
}

impl<S> std::ops::Deref for Session<'_, S> {
    type Target = S;

    fn deref(&self) -> &S {
        self.model
            .as_ref()
            .expect("a session holds its model until dropped")
    }
}

impl<S> std::ops::DerefMut for Session<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        self.model
            .as_mut()
            .expect("a session holds its model until dropped")
    }
}

impl<S> Drop for Session<'_, S> {
    fn drop(&mut self) {
        if let Some(model) = self.model.take() {
            self.pool.idle().sessions.push(model);
            // All: a waiter woken while another kind goes first would go back to sleep,
            // and the one that may go would not hear of the free session.
            self.pool.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Blocks until `n` callers wait in `session` (`writes` of them writes).
    fn wait_until_waiting(pool: &SessionPool<u32>, writes: usize) {
        for _ in 0..2_000 {
            if pool.idle().writes_waiting == writes {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("no write came to wait");
    }

    #[test]
    fn a_freed_session_goes_to_a_waiting_write_before_an_earlier_query() {
        let pool = Arc::new(SessionPool::new(vec![7u32], 8));
        let held = pool.session(Priority::Query);
        let (order, served) = mpsc::channel();
        let waiter = |priority: Priority| {
            let (pool, order) = (Arc::clone(&pool), order.clone());
            std::thread::spawn(move || {
                let session = pool.session(priority);
                order.send(priority).unwrap();
                drop(session);
            })
        };
        let query = waiter(Priority::Query);
        // The query is asleep on the condition variable before the write arrives.
        std::thread::sleep(Duration::from_millis(50));
        let write = waiter(Priority::Write);
        wait_until_waiting(&pool, 1);
        drop(held);
        write.join().unwrap();
        query.join().unwrap();
        let got: Vec<Priority> = served.try_iter().collect();
        assert_eq!(got, vec![Priority::Write, Priority::Query]);
    }

    #[test]
    fn writes_pass_a_waiting_query_at_most_max_bypass_times() {
        let mut idle = Idle {
            sessions: vec![0u32],
            writes_waiting: 1,
            queries_waiting: 1,
            bypassed: 0,
        };
        for _ in 0..MAX_BYPASS {
            assert!(idle.may_take(Priority::Write) && !idle.may_take(Priority::Query));
            idle.bypassed += 1;
        }
        assert!(!idle.may_take(Priority::Write) && idle.may_take(Priority::Query));
        // With only one kind waiting, it goes.
        idle.writes_waiting = 0;
        idle.bypassed = 0;
        assert!(idle.may_take(Priority::Query));
        idle.queries_waiting = 0;
        idle.writes_waiting = 1;
        idle.bypassed = MAX_BYPASS;
        assert!(idle.may_take(Priority::Write));
    }

    #[test]
    fn a_query_takes_an_idle_session_when_no_write_waits() {
        let pool = SessionPool::new(vec![1u32, 2], 8);
        let first = pool.session(Priority::Query);
        let second = pool.session(Priority::Query);
        assert_eq!(*first + *second, 3);
        drop(first);
        let write = pool.session(Priority::Write);
        assert_eq!(pool.idle().writes_waiting, 0);
        drop((second, write));
    }
}
