//! Direct management of stored memory: plain facts by id (list, read, edit, delete,
//! history) and the hard erasure of a whole scope, for the `/v1/memories` endpoints.

use crate::ports::Page;
use crate::{Fact, FactEvent, FactEventKind, FactId, Memory, MemoryError, Scope, ValidationError};

/// Longest fact text accepted from a client, in characters.
pub const MAX_FACT_CHARS: usize = 10_000;

/// Listing size when the request does not say.
pub const DEFAULT_PAGE: usize = 100;
/// Most facts one listing returns.
pub const MAX_PAGE: usize = 1_000;

/// The largest listing offset: what a signed 64-bit integer holds, so every client's
/// integer type can send it.
pub const MAX_OFFSET: usize = i64::MAX as usize;

/// A client's edit of one fact (`PUT /v1/memories/{id}`).
#[derive(Clone, Debug, PartialEq)]
pub struct FactEdit {
    pub text: String,
    /// `None` keeps the stored metadata; `Some` must be a JSON object and replaces it.
    pub metadata: Option<serde_json::Value>,
}

impl Memory {
    /// The scope's facts, newest first.
    pub async fn facts(&self, scope: &Scope, page: Page) -> Result<Vec<Fact>, MemoryError> {
        if page.limit == 0 || page.limit > MAX_PAGE {
            return Err(ValidationError::Request(format!(
                "limit must be between 1 and {MAX_PAGE}"
            ))
            .into());
        }
        Ok(self.vectors.facts(scope, page).await?)
    }

    pub async fn fact(&self, scope: &Scope, id: FactId) -> Result<Fact, MemoryError> {
        self.vectors
            .fact(scope, id)
            .await?
            .ok_or_else(|| fact_not_found(id))
    }

    /// Replaces the fact's text (re-embedded) and optionally its metadata; records an
    /// `UPDATE` event with no episode.
    pub async fn update_fact(
        &self,
        scope: &Scope,
        id: FactId,
        edit: FactEdit,
    ) -> Result<Fact, MemoryError> {
        let text = edit.text.trim();
        if text.is_empty() || text.chars().count() > MAX_FACT_CHARS {
            return Err(ValidationError::Request(format!(
                "text must be non-empty and at most {MAX_FACT_CHARS} characters"
            ))
            .into());
        }
        crate::text::check_text("text", text)?;
        if let Some(metadata) = &edit.metadata
            && !metadata.is_object()
        {
            return Err(ValidationError::Request("metadata must be a JSON object".into()).into());
        }
        let _guard = self.lock_scope(scope).await;
        let mut fact = self.fact(scope, id).await?;
        let vector = self
            .embed(vec![text.to_owned()])
            .await?
            .pop()
            .unwrap_or_default();
        let now = self.now();
        let event = FactEvent {
            fact_id: id,
            event: FactEventKind::Update,
            old_text: Some(fact.text.clone()),
            new_text: Some(text.to_owned()),
            at: now,
            episode: None,
        };
        fact.text = text.to_owned();
        if let Some(metadata) = edit.metadata {
            fact.metadata = metadata;
        }
        fact.updated_at = now;
        self.vectors.put_fact(&fact, &vector, &event).await?;
        Ok(fact)
    }

    /// Deletes the fact; its history stays, ending with a `DELETE` event.
    pub async fn delete_fact(&self, scope: &Scope, id: FactId) -> Result<(), MemoryError> {
        let _guard = self.lock_scope(scope).await;
        let fact = self.fact(scope, id).await?;
        let event = FactEvent {
            fact_id: id,
            event: FactEventKind::Delete,
            old_text: Some(fact.text),
            new_text: None,
            at: self.now(),
            episode: None,
        };
        Ok(self.vectors.delete_fact(scope, id, &event).await?)
    }

    /// The fact's events, oldest first; also after it was deleted. `NotFound` when the
    /// scope never had such a fact.
    pub async fn fact_history(
        &self,
        scope: &Scope,
        id: FactId,
    ) -> Result<Vec<FactEvent>, MemoryError> {
        let history = self.vectors.fact_history(scope, id).await?;
        if history.is_empty() {
            return Err(fact_not_found(id));
        }
        Ok(history)
    }

    /// Hard-deletes everything of the scope (an erasure request): the graph, the journal,
    /// the vectors, the facts and their history. Other scopes are untouched.
    pub async fn erase_scope(&self, scope: &Scope) -> Result<(), MemoryError> {
        let _guard = self.lock_scope(scope).await;
        // Vectors first: a crash in between leaves graph records without vectors (found
        // again by an erase retry), never vectors pointing at nothing searchable.
        self.vectors.erase_scope(scope).await?;
        self.graph.erase_scope(scope).await?;
        Ok(())
    }
}

fn fact_not_found(id: FactId) -> MemoryError {
    MemoryError::NotFound {
        kind: "fact",
        id: id.to_string(),
    }
}
