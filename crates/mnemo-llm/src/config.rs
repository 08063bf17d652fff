//! What the adapter needs to reach a model (DESIGN §9 `llm.*` keys, already validated by
//! the caller) and the errors of setting it up.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the model is asked for its structured answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// A forced function call: `tools` + `tool_choice` naming the tool.
    Tools,
    /// `response_format: json_schema` (strict), for servers that do not enforce a named
    /// `tool_choice` (llama.cpp's server).
    JsonSchema,
    /// The default: forced tool calls until the endpoint first fails to honour one
    /// (answers with text, calls another tool, sends arguments that are not JSON, or
    /// refuses the `tools` request); from then on `json_schema` for the client's life.
    #[default]
    Auto,
}

impl FromStr for OutputMode {
    type Err = String;

    /// `tools`, `json_schema` or `auto`, as in the `llm.output` key.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tools" => Ok(OutputMode::Tools),
            "json_schema" => Ok(OutputMode::JsonSchema),
            "auto" => Ok(OutputMode::Auto),
            other => Err(format!(
                "unknown LLM output mode `{other}`; expected `tools`, `json_schema` or `auto`"
            )),
        }
    }
}

/// Everything the adapter needs; build it with [`LlmConfig::new`] and adjust the fields.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmConfig {
    /// OpenAI-style base URL including the version, e.g. `https://api.openai.com/v1`;
    /// requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set; nothing is sent otherwise.
    pub api_key: Option<String>,
    pub output: OutputMode,
    /// Limit for one attempt (request sent to answer read).
    pub timeout: Duration,
    /// Retries after the first attempt, so at most `max_retries + 1` attempts per call.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one (capped at 30 s). A
    /// server's `retry-after` of at most 30 s takes precedence.
    pub retry_base_delay: Duration,
    /// A folder whose `<tool>.md` files replace the built-in prompts of those tools.
    pub prompts_dir: Option<PathBuf>,
}

impl LlmConfig {
    /// The defaults of DESIGN §9 (but `auto` output: function calling where the server
    /// honours it, `json_schema` otherwise), 60 s timeout, 2 retries (0.5 s, 1 s),
    /// no API key, built-in prompts.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> LlmConfig {
        LlmConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            output: OutputMode::Auto,
            timeout: Duration::from_secs(60),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(500),
            prompts_dir: None,
        }
    }
}

/// The adapter could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum LlmSetupError {
    #[error("invalid LLM base URL `{url}`: {reason}")]
    BaseUrl { url: String, reason: String },
    #[error("the LLM model name is empty")]
    Model,
    #[error("the LLM API key cannot be sent as an HTTP header (it contains control characters)")]
    ApiKey,
    #[error("LLM prompts folder {path}: {source}")]
    PromptsDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read LLM prompt override {path}: {source}")]
    Prompt {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "LLM prompt override {path} names no tool; expected extract_entities.md, establish_relations.md, resolve_conflicts.md, extract_facts.md, update_memory.md or summarize_conversation.md"
    )]
    UnknownPrompt { path: PathBuf },
    #[error("LLM prompt override {path} is empty")]
    EmptyPrompt { path: PathBuf },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("cannot build the HTTP client: {0}")]
    Tls(#[from] crate::tls::TlsSetupError),
}
