//! The scope's rolling summary (DESIGN §3.2), which the extractors see next to the recent
//! messages. Refreshed in the background by the server, never on the add path.

use chrono::Duration;

use crate::llm::SummaryInput;
use crate::write::episode_messages;
use crate::{Memory, MemoryError, Scope, ScopeSummary};

/// Most episodes read per refresh (the newest ones, when more arrived since the last).
const MAX_EPISODES: usize = 50;
/// Most messages sent per refresh (the newest ones).
const MAX_MESSAGES: usize = 100;

impl Memory {
    /// Folds the messages of the episodes ingested since the last summary into it with one
    /// `summarize_conversation` call. `Ok(None)` (and no LLM call) when no episode arrived
    /// since.
    pub async fn refresh_summary(
        &self,
        scope: &Scope,
    ) -> Result<Option<ScopeSummary>, MemoryError> {
        let llm = self.llm()?;
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
        let now = self.now();
        let episodes = self
            .graph
            .recent_episodes(scope, now + Duration::seconds(1), MAX_EPISODES)
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
