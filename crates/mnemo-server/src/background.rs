//! Work that outlives the request that started it: adds run on tracked tasks (a client
//! that hangs up cancels nothing, and shutdown waits for them), `wait=false` episodes are
//! processed in the background, and every fifth inferred episode of a scope refreshes the
//! scope's rolling summary.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mnemo_core::write::AddOutcome;
use mnemo_core::{Episode, EpisodeStatus, Memory, Scope};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::{ApiError, AppState};

/// A scope's summary is refreshed after every this many `done` episodes with `infer: true`.
pub const SUMMARY_EVERY: u64 = 5;

/// Tracks the tasks it spawned until each ends (also by panicking).
#[derive(Clone, Default)]
pub(crate) struct Background {
    tasks: TaskTracker,
}

impl Background {
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // In the span of the request that started it, so its logs carry the request id.
        self.tasks.spawn(task.instrument(tracing::Span::current()))
    }

    pub(crate) fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Waits until no task runs or `timeout` passes; how many still run. Tasks spawned
    /// afterwards are tracked as before (closing only lets `wait` finish when none runs).
    pub(crate) async fn wait(&self, timeout: Duration) -> usize {
        self.tasks.close();
        let _ = tokio::time::timeout(timeout, self.tasks.wait()).await;
        self.running()
    }
}

/// Per scope: inferred episodes done so far, and whether a refresh runs now.
#[derive(Default)]
pub(crate) struct SummaryCounters {
    scopes: Mutex<HashMap<String, Counter>>,
}

#[derive(Default)]
struct Counter {
    done: u64,
    refreshing: bool,
}

impl SummaryCounters {
    /// Counts one episode; `true` when a refresh is due and none runs (it is then marked
    /// running until [`SummaryCounters::finished`]).
    fn count(&self, scope: &Scope) -> bool {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let counter = scopes.entry(scope.key()).or_default();
        counter.done += 1;
        if counter.done.is_multiple_of(SUMMARY_EVERY) && !counter.refreshing {
            counter.refreshing = true;
            true
        } else {
            false
        }
    }

    fn finished(&self, scope: &Scope) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(counter) = scopes.get_mut(&scope.key()) {
            counter.refreshing = false;
        }
    }
}

impl AppState {
    /// Runs an add on a tracked task and waits for its outcome. The task goes on if the
    /// client hangs up, so an episode is never left half-processed by a dropped request.
    pub(crate) async fn run_add<F>(
        &self,
        scope: Scope,
        infer: bool,
        memory: Arc<Memory>,
        add: F,
    ) -> Result<AddOutcome, ApiError>
    where
        F: Future<Output = Result<AddOutcome, mnemo_core::MemoryError>> + Send + 'static,
    {
        let state = self.clone();
        let task = self.background().spawn(async move {
            let outcome = add.await?;
            state.add_finished(&memory, &scope, infer, &outcome);
            Ok::<_, ApiError>(outcome)
        });
        task.await
            .map_err(|err| ApiError::Internal(format!("the add task failed: {err}")))?
    }

    /// `wait=false`: processes a journaled episode on a tracked task. A failure leaves it
    /// `pending` in the journal, resumed at the next start.
    pub(crate) fn process_in_background(&self, memory: Arc<Memory>, episode: Episode, infer: bool) {
        let state = self.clone();
        self.background().spawn(async move {
            let (id, scope) = (episode.id, episode.scope.clone());
            match memory.process_episode(episode).await {
                Ok(outcome) => {
                    tracing::info!(
                        episode_id = %id,
                        status = outcome.status.as_str(),
                        "background episode processed"
                    );
                    state.add_finished(&memory, &scope, infer, &outcome);
                }
                Err(error) => tracing::warn!(
                    episode_id = %id,
                    %error,
                    "background episode not processed; it stays pending"
                ),
            }
        });
    }

    /// Books what an add spent, and starts a summary refresh when one is due.
    fn add_finished(&self, memory: &Arc<Memory>, scope: &Scope, infer: bool, outcome: &AddOutcome) {
        if outcome.duplicate {
            return;
        }
        self.metrics().llm_usage(outcome.llm_usage);
        if !infer || outcome.status != EpisodeStatus::Done || !self.summaries().count(scope) {
            return;
        }
        let (state, memory, scope) = (self.clone(), Arc::clone(memory), scope.clone());
        self.background().spawn(async move {
            match memory.refresh_summary(&scope).await {
                Ok(Some(_)) => tracing::info!(%scope, "scope summary refreshed"),
                Ok(None) => {}
                Err(error) => tracing::warn!(%scope, %error, "scope summary refresh failed"),
            }
            state.summaries().finished(&scope);
        });
    }
}
