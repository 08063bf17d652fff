//! The scope's rolling summary (DESIGN §3.2), which the extractors see next to the recent
//! messages, and its refresh policy: due once [`SUMMARY_EVERY`] episodes with
//! `infer: true` are done since the summary read its last one. Callers run
//! [`Memory::refresh_summary_if_due`] after an add (the server on a background task, the
//! CLI's local add inline), never inside the add itself.

use chrono::Duration;

use crate::llm::SummaryInput;
use crate::write::{Journal, episode_messages};
use crate::{Episode, EpisodeStatus, Memory, MemoryError, Scope, ScopeSummary};

/// A scope's summary is due after this many `done` episodes with `infer: true` that it
/// has not read.
pub const SUMMARY_EVERY: usize = 5;

/// Most episodes read per refresh (the newest ones, when more arrived since the last).
const MAX_EPISODES: usize = 50;
/// Most messages sent per refresh (the newest ones).
const MAX_MESSAGES: usize = 100;

impl Memory {
    /// The refresh policy: refreshes the scope's summary when [`SUMMARY_EVERY`] inferred
    /// episodes are done that it has not read, one refresh per scope at a time in this
    /// process. `Ok(None)` (no LLM call) when not due, already refreshing, or no LLM.
    pub async fn refresh_summary_if_due(
        &self,
        scope: &Scope,
    ) -> Result<Option<ScopeSummary>, MemoryError> {
        if self.llm.is_none() {
            return Ok(None);
        }
        let Some(_refreshing) = self.start_summary_refresh(scope) else {
            return Ok(None);
        };
        let (_, unread) = self.unread_episodes(scope).await?;
        let inferred_done = unread
            .iter()
            .filter(|episode| {
                episode.status == EpisodeStatus::Done
                    && matches!(
                        Journal::read(episode),
                        Ok(Journal::Messages { infer: true, .. })
                    )
            })
            .count();
        if inferred_done < SUMMARY_EVERY {
            return Ok(None);
        }
        self.refresh_summary(scope).await
    }

    /// The previous summary and the episodes it has not read, newest first (at most
    /// [`MAX_EPISODES`]).
    async fn unread_episodes(
        &self,
        scope: &Scope,
    ) -> Result<(Option<ScopeSummary>, Vec<Episode>), MemoryError> {
        let previous = self.graph.scope_summary(scope).await?;
        // What the previous summary has read: its last episode, or (when that episode was
        // deleted since) everything ingested before the summary was written.
        let read_until = match &previous {
            None => None,
            Some(summary) => Some(match self.graph.episode(summary.through_episode).await? {
                Some(last) => (last.ingested_at, Some(last.id)),
                None => (summary.updated_at, None),
            }),
        };
        let episodes = self
            .graph
            .recent_episodes(scope, self.now() + Duration::seconds(1), MAX_EPISODES)
            .await?;
        let unread: Vec<_> = episodes
            .into_iter()
            .take_while(|episode| match read_until {
                None => true,
                // The store's order: ingested_at, then id.
                Some((at, Some(last))) => (episode.ingested_at, episode.id) > (at, last),
                Some((at, None)) => episode.ingested_at > at,
            })
            .collect();
        Ok((previous, unread))
    }

    /// Folds the messages of the episodes ingested since the last summary into it with one
    /// `summarize_conversation` call. `Ok(None)` (and no LLM call) when no episode arrived
    /// since.
    pub async fn refresh_summary(
        &self,
        scope: &Scope,
    ) -> Result<Option<ScopeSummary>, MemoryError> {
        let llm = self.llm()?;
        let now = self.now();
        let (previous, unread) = self.unread_episodes(scope).await?;
        let Some(newest) = unread.first().map(|episode| episode.id) else {
            return Ok(None);
        };

        // Oldest first, the newest MAX_MESSAGES.
        let mut messages = Vec::new();
        for episode in &unread {
            let mut batch = episode_messages(episode)?;
            while let Some(message) = batch.pop() {
                if messages.len() == MAX_MESSAGES {
                    break;
                }
                if !message.content.trim().is_empty() {
                    messages.push(message);
                }
            }
        }
        if messages.is_empty() {
            return Ok(None);
        }
        messages.reverse();

        let answer = llm
            .summarize_conversation(&SummaryInput {
                previous: previous.map(|s| s.text),
                messages,
            })
            .await?;
        let summary = ScopeSummary {
            scope: scope.clone(),
            text: answer.value,
            through_episode: newest,
            updated_at: now,
        };
        self.graph.put_scope_summary(&summary).await?;
        Ok(Some(summary))
    }
}
