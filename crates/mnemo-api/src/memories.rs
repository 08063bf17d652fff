//! `/v1/memories`: the add request (conversation turns) and its background answer, the
//! fact listing, edit and history.

use chrono::{DateTime, Utc};
use mnemo_core::llm::ChatMessage;
use mnemo_core::write::AddRequest;
use mnemo_core::{Episode, FactEdit, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::types::{EpisodeStatusOut, FactEventOut, FactOut, status};

/// One message of the conversation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[schema(as = Message)]
pub struct MessageIn {
    /// `user`, `assistant`, … (free text, not empty).
    #[schema(example = "user")]
    pub role: String,
    #[schema(example = "I moved to Lisbon last month.")]
    pub content: String,
}

impl From<MessageIn> for ChatMessage {
    fn from(message: MessageIn) -> Self {
        ChatMessage {
            role: message.role,
            content: message.content,
        }
    }
}

impl From<ChatMessage> for MessageIn {
    fn from(message: ChatMessage) -> Self {
        MessageIn {
            role: message.role,
            content: message.content,
        }
    }
}

/// `POST /v1/memories`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    /// The new messages, oldest first (1 to 1000).
    pub messages: Vec<MessageIn>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// Reference time for relative dates ("last month"); default now.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A JSON object kept with the episode.
    pub metadata: Option<serde_json::Value>,
    /// `false`: no LLM; the messages become facts linked to known entities.
    #[schema(value_type = bool, default = true)]
    pub infer: Option<bool>,
    /// The same key twice in a scope adds nothing the second time.
    pub idempotency_key: Option<String>,
}

impl AddBody {
    /// The core request in `scope` (the caller checks it against the body's scope fields);
    /// `infer` defaults to `default_infer` (the API's default is `true`).
    pub fn into_request(self, scope: Scope, default_infer: bool) -> AddRequest {
        AddRequest {
            scope,
            messages: self.messages.into_iter().map(ChatMessage::from).collect(),
            occurred_at: self.occurred_at,
            metadata: crate::metadata_or_empty(self.metadata),
            infer: self.infer.unwrap_or(default_infer),
            idempotency_key: self.idempotency_key,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddQuery {
    /// `true` (default): answer with the result once processed. `false`: answer 202 at
    /// once and process in the background (`GET /v1/episodes/{id}` shows the status).
    pub wait: Option<bool>,
}

/// `POST /v1/memories?wait=false`: the episode is journaled and will be processed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    #[schema(value_type = String, format = "uuid")]
    pub episode_id: mnemo_core::EpisodeId,
    /// `pending`, or the earlier episode's status for a duplicate.
    pub status: EpisodeStatusOut,
    /// The idempotency key was used before; `episode_id` is the earlier episode.
    pub duplicate: bool,
}

impl Accepted {
    pub fn of(episode: &Episode, duplicate: bool) -> Accepted {
        Accepted {
            episode_id: episode.id,
            status: status(episode.status.clone()).0,
            duplicate,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Facts)]
pub struct FactsOut {
    /// Newest first.
    pub facts: Vec<FactOut>,
}

/// `PUT /v1/memories/{id}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactEditBody {
    /// The new text (re-embedded).
    pub text: String,
    /// A JSON object replacing the stored metadata; absent or null keeps it.
    pub metadata: Option<serde_json::Value>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

impl FactEditBody {
    /// The edit (the scope fields are the caller's to check).
    pub fn edit(self) -> FactEdit {
        FactEdit {
            text: self.text,
            metadata: self.metadata,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = History)]
pub struct HistoryOut {
    /// Oldest first.
    pub history: Vec<FactEventOut>,
}
