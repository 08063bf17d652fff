//! The two LLM calls of `eval locomo --llm` that are not part of mnemo: answering a question
//! from the retrieved context, and judging the answer against the gold one. Each is one
//! chat completion against an OpenAI-compatible endpoint with a `json_schema` response
//! format (the schema's name says which call it is), the system prompt read from
//! `eval/prompts/`, and a few retries on timeouts, 429 and 5xx.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use mnemo_core::LlmUsage;
use serde_json::{Value, json};

/// Where the answering and judging model is.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// e.g. `https://api.openai.com/v1`; requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub max_retries: u32,
}

/// A minimal structured-output chat client.
#[derive(Clone, Debug)]
pub struct Chat {
    http: reqwest::Client,
    url: String,
    config: ChatConfig,
}

/// A structured answer and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub value: Value,
    pub usage: LlmUsage,
}

impl Chat {
    pub fn new(config: ChatConfig) -> anyhow::Result<Chat> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .with_context(|| format!("invalid LLM base URL `{}`", config.base_url))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            other => bail!("LLM base URL scheme `{other}` is not http or https"),
        };
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(https)?)
            .timeout(config.timeout)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Chat {
            http,
            url: format!("{base}/chat/completions"),
            config,
        })
    }

    /// Sends `system` + `user` and asks for an object matching `schema`, under the schema
    /// name `name`; returns the parsed object.
    pub async fn structured(
        &self,
        name: &str,
        schema: Value,
        system: &str,
        user: &str,
    ) -> anyhow::Result<Answer> {
        let body = json!({
            "model": self.config.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": true},
            },
        });
        let mut usage = LlmUsage::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            usage.calls += 1;
            let failure = match self.send(&body).await {
                Ok(reply) => {
                    let spent = &reply["usage"];
                    usage.prompt_tokens += spent["prompt_tokens"].as_u64().unwrap_or(0);
                    usage.completion_tokens += spent["completion_tokens"].as_u64().unwrap_or(0);
                    let content = reply["choices"][0]["message"]["content"]
                        .as_str()
                        .unwrap_or_default();
                    match serde_json::from_str::<Value>(content) {
                        Ok(value) if value.is_object() => return Ok(Answer { value, usage }),
                        _ => Retry::Yes(format!(
                            "{name}: the answer is not a JSON object: {content}"
                        )),
                    }
                }
                Err(failure) => failure,
            };
            match failure {
                Retry::Yes(_) if attempt <= self.config.max_retries => {
                    tokio::time::sleep(Duration::from_millis(500 << attempt.min(6))).await;
                }
                Retry::Yes(reason) | Retry::No(reason) => bail!("{name}: {reason}"),
            }
        }
    }

    async fn send(&self, body: &Value) -> Result<Value, Retry> {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Retry::Yes(format!("request failed: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Retry::Yes(format!("cannot read the answer: {e}")))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| Retry::Yes(format!("the answer is not JSON: {e}")));
        }
        let reason = format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        );
        if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
            Err(Retry::Yes(reason))
        } else {
            Err(Retry::No(reason))
        }
    }
}

enum Retry {
    Yes(String),
    No(String),
}

fn tls_config(https: bool) -> anyhow::Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;

    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup")?;
    Ok(if https {
        builder
            .with_platform_verifier()
            .context("TLS setup")?
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    })
}
