//! Work that outlives the request that started it: adds run on tracked tasks (a client
//! that hangs up cancels nothing, and shutdown waits for them), `wait=false` episodes are
//! processed in the background, and after an inferred episode the scope's rolling summary
//! is refreshed when core's policy says it is due (`Memory::refresh_summary_if_due`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mnemo_core::write::AddOutcome;
use mnemo_core::{Episode, EpisodeStatus, Memory, Scope};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::{ApiError, AppState};

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

    /// Books what an add spent, and after an inferred episode runs the summary policy on a
    /// tracked task (it refreshes only when due, one refresh per scope at a time).
    fn add_finished(&self, memory: &Arc<Memory>, scope: &Scope, infer: bool, outcome: &AddOutcome) {
        if outcome.duplicate {
            return;
        }
        self.metrics().llm_usage(outcome.llm_usage);
        if !infer || outcome.status != EpisodeStatus::Done {
            return;
        }
        let (memory, scope) = (Arc::clone(memory), scope.clone());
        self.background().spawn(async move {
            match memory.refresh_summary_if_due(&scope).await {
                Ok(Some(_)) => tracing::info!(%scope, "scope summary refreshed"),
                Ok(None) => {}
                Err(error) => tracing::warn!(%scope, %error, "scope summary refresh failed"),
            }
        });
    }
}
