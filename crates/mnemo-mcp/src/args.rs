//! The tools' inputs, with the JSON Schemas (and descriptions) a model chooses by. Where a
//! tool takes what an HTTP request takes, the input is that wire type (`RelationsBody`,
//! `SearchBody`); the rest are small structs here. Every scope field may be left out when
//! the connection has a default scope.

use chrono::{DateTime, Utc};
use mnemo_api::MessageIn;
use schemars::JsonSchema;
use serde::Deserialize;

/// The scope of a call: any of the three; left out, the connection's default scope.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeArgs {
    /// The user whose memory this is.
    pub user_id: Option<String>,
    /// The agent whose memory this is.
    pub agent_id: Option<String>,
    /// The run (session) whose memory this is.
    pub run_id: Option<String>,
}

/// `add_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemoryArgs {
    /// Conversation turns, oldest first (`role` is `user`, `assistant` or a speaker's
    /// name). Give these or `text`.
    pub messages: Option<Vec<MessageIn>>,
    /// One thing the user said, as a single user message. Give this or `messages`.
    pub text: Option<String>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
    /// When it was said (RFC 3339); relative dates ("last month") are read against it.
    /// Default now.
    pub occurred_at: Option<DateTime<Utc>>,
    /// `true` (default): an LLM extracts entities, relations and facts, and ends what the
    /// new facts supersede. `false`: no LLM; each message is kept as a fact.
    pub infer: Option<bool>,
}

/// `get_timeline`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineArgs {
    /// The entity's name (or id); left out, every entity's relations of `relation_type`.
    pub entity: Option<String>,
    /// Only relations of this type, e.g. `LIVES_IN`.
    pub relation_type: Option<String>,
    /// `true` (default): the full history, ended and superseded relations included, each
    /// with its status and what ended it. `false`: only what holds at `as_of`.
    pub include_ended: Option<bool>,
    /// Event time: what was true then (RFC 3339); default now.
    pub as_of: Option<DateTime<Utc>>,
    /// Transaction time: what mnemo knew then (RFC 3339); default now.
    pub known_at: Option<DateTime<Utc>>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

/// `get_subgraph`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubgraphArgs {
    /// The entity's name (or id).
    pub entity: String,
    /// Hops from the entity, 1 to 3; default 2.
    pub depth: Option<u8>,
    /// Event time: what was true then (RFC 3339); default now.
    pub as_of: Option<DateTime<Utc>>,
    /// Transaction time: what mnemo knew then (RFC 3339); default now.
    pub known_at: Option<DateTime<Utc>>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

/// `get_changes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangesArgs {
    /// Start of the window in transaction time (when mnemo learned it), RFC 3339.
    pub since: DateTime<Utc>,
    /// End of the window (exclusive), RFC 3339; default now.
    pub until: Option<DateTime<Utc>>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

/// `list_facts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFactsArgs {
    /// 1 to 1000; default 100.
    pub limit: Option<usize>,
    /// Default 0.
    pub offset: Option<usize>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

/// A record by id: `delete_fact`, `get_episode`, `delete_episode`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// The record's id (a UUID).
    pub id: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

/// `erase_scope`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseArgs {
    /// Must be `true`: erasing cannot be undone.
    pub confirm: bool,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}
