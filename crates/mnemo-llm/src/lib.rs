//! mnemo's LLM adapter: the six tools of the extraction contract (DESIGN §3) as chat
//! completions against any OpenAI-compatible endpoint, through `async-openai`.
//!
//! [`OpenAiLlm`] implements `mnemo_core::llm::LanguageModel`. Each call renders its typed
//! input into a user message under the tool's system prompt (`prompts/<tool>.md`, or an
//! override from [`LlmConfig::prompts_dir`]), forces the answer into the tool's JSON schema
//! (a function call, or `response_format: json_schema`), validates it into the port's
//! types, and retries timeouts, 408/429/5xx and malformed answers with exponential backoff.

mod client;
mod config;
mod parse;
mod prompts;
mod render;
pub mod tls;
mod tools;

pub use client::{JsonSchemaCall, OpenAiLlm};
pub use config::{LlmConfig, LlmSetupError, OutputMode};
