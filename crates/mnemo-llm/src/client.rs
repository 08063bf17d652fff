//! [`OpenAiLlm`]: the `LanguageModel` port over an OpenAI-compatible chat-completions
//! endpoint through `async-openai`. One tool call is one chat completion; this module owns
//! the request shape, the per-attempt timeout, the retry policy and usage accounting.
//!
//! async-openai's own retry layer is replaced by a plain transport (see [`send`]) so that
//! every attempt is counted here, and so that HTTP failures keep their status and
//! `retry-after` headers instead of becoming opaque errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionNamedToolChoice, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CreateChatCompletionRequest, FunctionName,
    FunctionObject, ResponseFormat, ResponseFormatJsonSchema,
};
use async_trait::async_trait;
use mnemo_core::LlmUsage;
use mnemo_core::llm::{
    Answer, ConflictDecision, ConflictsInput, ExtractedEntity, ExtractedRelation, ExtractionInput,
    LanguageModel, LlmError, MemoryEdit, MemoryUpdateInput, RelationsInput, SummaryInput,
};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use crate::config::{LlmConfig, LlmSetupError, OutputMode};
use crate::prompts::Prompts;
use crate::tools::Tool;
use crate::{parse, render};

/// Longest wait between attempts, and the longest `retry-after` that is honoured (a
/// longer one falls back to the exponential backoff).
const MAX_DELAY: Duration = Duration::from_secs(30);

/// How much of an error body goes into an error's reason.
const MAX_REASON_BODY: usize = 500;

/// The LLM adapter; cheap to share behind an `Arc`.
pub struct OpenAiLlm {
    client: Client<Endpoint>,
    config: LlmConfig,
    prompts: Prompts,
    /// Under [`OutputMode::Auto`]: set once the endpoint has failed to honour a forced
    /// tool call, after which every call asks in `json_schema` mode.
    tools_not_honoured: AtomicBool,
}

impl std::fmt::Debug for OpenAiLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiLlm")
            .field("base_url", &self.config.base_url)
            .field("model", &self.config.model)
            .field("output", &self.config.output)
            .finish_non_exhaustive()
    }
}

/// A structured call outside the extraction contract; see [`OpenAiLlm::call_json_schema`].
#[derive(Clone, Debug, PartialEq)]
pub struct JsonSchemaCall {
    /// The schema's name, which also names the call in errors and logs.
    pub name: &'static str,
    /// The JSON schema of the answer object.
    pub schema: Value,
    pub system: String,
    pub user: String,
}

impl OpenAiLlm {
    /// Checks the configuration, reads the prompt overrides and builds the HTTP client.
    /// Nothing is sent until the first call.
    pub fn new(config: LlmConfig) -> Result<OpenAiLlm, LlmSetupError> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| LlmSetupError::BaseUrl {
            url: config.base_url.clone(),
            reason: e.to_string(),
        })?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(LlmSetupError::BaseUrl {
                    url: config.base_url.clone(),
                    reason: format!("scheme `{other}` is not http or https"),
                });
            }
        };
        if config.model.trim().is_empty() {
            return Err(LlmSetupError::Model);
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| LlmSetupError::ApiKey)?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let prompts = Prompts::load(config.prompts_dir.as_deref())?;

        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::client_config(https)?)
            .build()
            .map_err(|e| LlmSetupError::Http(e.to_string()))?;
        let transport = {
            let http = http.clone();
            tower::service_fn(move |factory: HttpRequestFactory| send(http.clone(), factory))
        };
        let endpoint = Endpoint {
            base,
            headers,
            key: SecretString::from(config.api_key.clone().unwrap_or_default()),
        };
        let client = Client::build(http, endpoint).with_http_service(transport);
        Ok(OpenAiLlm {
            client,
            config,
            prompts,
            tools_not_honoured: AtomicBool::new(false),
        })
    }

    /// A structured call outside the extraction contract, such as the answer and judge
    /// calls of `mnemo eval locomo --llm`: `call.system` and `call.user` as the two
    /// messages, at temperature 0, the answer forced into `call.schema` through
    /// `response_format: json_schema` (strict) whatever [`LlmConfig::output`] says, with
    /// the timeout, retries and usage accounting of the tools. The answer is the JSON
    /// object the model returned; anything else is malformed (and retried).
    pub async fn call_json_schema(&self, call: &JsonSchemaCall) -> Result<Answer<Value>, LlmError> {
        let mut request = CreateChatCompletionRequest {
            model: self.config.model.clone(),
            messages: messages(call.system.clone(), call.user.clone()),
            temperature: Some(0.0),
            ..Default::default()
        };
        request.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: None,
                name: call.name.to_owned(),
                schema: call.schema.clone(),
                strict: Some(true),
            },
        });
        self.attempts(
            call.name,
            Some(OutputMode::JsonSchema),
            |_| request.clone(),
            |text| match serde_json::from_str::<Value>(text) {
                Ok(value) if value.is_object() => Ok(value),
                Ok(_) => Err("the answer is not a JSON object".to_owned()),
                Err(err) => Err(format!("the answer is not JSON: {err}")),
            },
        )
        .await
    }

    /// One tool call: builds the request once, then attempts it (see [`Self::attempts`]).
    async fn call<T>(
        &self,
        tool: Tool,
        input: String,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync,
    ) -> Result<Answer<T>, LlmError> {
        self.attempts(
            tool.name(),
            None,
            |mode| self.request(tool, &input, mode),
            parse,
        )
        .await
    }

    /// How the next tool call asks for its answer: [`Tools`](OutputMode::Tools) or
    /// [`JsonSchema`](OutputMode::JsonSchema), never `Auto`.
    fn output_mode(&self) -> OutputMode {
        match self.config.output {
            OutputMode::Auto if self.tools_not_honoured.load(Ordering::Relaxed) => {
                OutputMode::JsonSchema
            }
            OutputMode::Auto => OutputMode::Tools,
            fixed => fixed,
        }
    }

    /// Under `auto`, whether this failure of a tools-mode attempt means the endpoint does
    /// not honour forced tool calls; if so, switches to `json_schema` (logged once).
    fn fall_back_to_json_schema(&self, name: &str, failure: &Failure) -> bool {
        let reason = match failure {
            Failure::NotHonoured(reason) | Failure::Rejected(reason) => reason,
            Failure::Malformed(_) | Failure::Unavailable { .. } => return false,
        };
        if self.config.output != OutputMode::Auto {
            return false;
        }
        if !self.tools_not_honoured.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                tool = name,
                base_url = %self.config.base_url,
                %reason,
                "the LLM endpoint does not honour a forced tool call; using json_schema output \
                 from now on (set llm.output = \"json_schema\" to skip this probe)"
            );
        }
        true
    }

    /// Attempts the call `name` until it yields a valid answer, a non-retryable refusal,
    /// or `max_retries` retries are spent. Each attempt asks in mode `fixed`, or else in
    /// [`Self::output_mode`], with the request `build` makes for that mode. Under `auto`, the
    /// attempt that shows forced tools are not honoured does not count as a retry: the call
    /// goes on at once in `json_schema` mode.
    async fn attempts<T>(
        &self,
        name: &'static str,
        fixed: Option<OutputMode>,
        build: impl Fn(OutputMode) -> CreateChatCompletionRequest + Send + Sync,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync,
    ) -> Result<Answer<T>, LlmError> {
        let mut usage = LlmUsage::default();
        let mut attempts = 0;
        loop {
            attempts += 1;
            usage.calls += 1;
            let output = fixed.unwrap_or_else(|| self.output_mode());
            let (spent, text) = self.attempt(name, output, &build(output)).await;
            usage += spent;
            let parsed = text.and_then(|text| {
                parse(&text).map_err(|reason| {
                    let reason = format!("{reason}; the answer was: {}", truncate(&text));
                    // Arguments that are not even JSON: the server let the model write
                    // free text into the call (llama.cpp with `tool_choice: required`).
                    let not_json = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err();
                    if output == OutputMode::Tools && not_json {
                        Failure::NotHonoured(reason)
                    } else {
                        Failure::Malformed(reason)
                    }
                })
            });
            let failure = match parsed {
                Ok(value) => return Ok(Answer { value, usage }),
                Err(failure) => failure,
            };
            if output == OutputMode::Tools
                && fixed.is_none()
                && self.fall_back_to_json_schema(name, &failure)
            {
                attempts -= 1;
                continue;
            }
            let retry_after = match failure {
                Failure::Rejected(reason) => return Err(LlmError::Rejected { reason, usage }),
                _ if attempts > self.config.max_retries => {
                    return Err(failure.into_error(name, attempts, usage));
                }
                Failure::Malformed(ref reason) | Failure::NotHonoured(ref reason) => {
                    tracing::warn!(
                        tool = name,
                        attempt = attempts,
                        %reason,
                        "malformed LLM answer; retrying"
                    );
                    None
                }
                Failure::Unavailable {
                    ref reason,
                    retry_after,
                } => {
                    tracing::warn!(
                        tool = name,
                        attempt = attempts,
                        %reason,
                        "LLM call failed; retrying"
                    );
                    retry_after
                }
            };
            let delay = retry_after
                .filter(|d| *d <= MAX_DELAY)
                .unwrap_or_else(|| backoff(self.config.retry_base_delay, attempts));
            tokio::time::sleep(delay).await;
        }
    }

    /// One HTTP round trip within the timeout: the tokens it reported (a 200 with an
    /// unusable answer still cost them) and the answer's JSON text.
    async fn attempt(
        &self,
        name: &str,
        output: OutputMode,
        request: &CreateChatCompletionRequest,
    ) -> (LlmUsage, Result<String, Failure>) {
        let chat = self.client.chat();
        let call = chat.create_byot::<_, WireCompletion>(request);
        let completion = match tokio::time::timeout(self.config.timeout, call).await {
            Err(_) => {
                let failure = Failure::Unavailable {
                    reason: format!("no answer within {:?}", self.config.timeout),
                    retry_after: None,
                };
                return (LlmUsage::default(), Err(failure));
            }
            Ok(Err(err)) => return (LlmUsage::default(), Err(classify(err))),
            Ok(Ok(completion)) => completion,
        };
        let usage = completion
            .usage
            .as_ref()
            .map_or_else(LlmUsage::default, |u| LlmUsage {
                calls: 0,
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            });
        let text = answer_text(name, output, completion);
        (usage, text)
    }

    /// The request of one tool call in mode `output` (`Tools` or `JsonSchema`).
    fn request(&self, tool: Tool, input: &str, output: OutputMode) -> CreateChatCompletionRequest {
        let mut request = CreateChatCompletionRequest {
            model: self.config.model.clone(),
            messages: messages(self.prompts.get(tool).to_owned(), input.to_owned()),
            ..Default::default()
        };
        match output {
            OutputMode::Tools => {
                request.tools = Some(vec![ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: tool.name().to_owned(),
                        description: Some(tool.description().to_owned()),
                        parameters: Some(tool.schema()),
                        strict: Some(true),
                    },
                })]);
                request.tool_choice = Some(ChatCompletionToolChoiceOption::Function(
                    ChatCompletionNamedToolChoice {
                        function: FunctionName {
                            name: tool.name().to_owned(),
                        },
                    },
                ));
            }
            OutputMode::JsonSchema | OutputMode::Auto => {
                request.response_format = Some(ResponseFormat::JsonSchema {
                    json_schema: ResponseFormatJsonSchema {
                        description: Some(tool.description().to_owned()),
                        name: tool.name().to_owned(),
                        schema: tool.schema(),
                        strict: Some(true),
                    },
                });
            }
        }
        request
    }
}

#[async_trait]
impl LanguageModel for OpenAiLlm {
    fn model_name(&self) -> &str {
        &self.config.model
    }

    async fn extract_entities(
        &self,
        input: &ExtractionInput,
    ) -> Result<Answer<Vec<ExtractedEntity>>, LlmError> {
        self.call(
            Tool::ExtractEntities,
            render::extraction(input),
            parse::entities,
        )
        .await
    }

    async fn establish_relations(
        &self,
        input: &RelationsInput,
    ) -> Result<Answer<Vec<ExtractedRelation>>, LlmError> {
        self.call(
            Tool::EstablishRelations,
            render::relations(input),
            parse::relations,
        )
        .await
    }

    async fn resolve_conflicts(
        &self,
        input: &ConflictsInput,
    ) -> Result<Answer<Vec<ConflictDecision>>, LlmError> {
        self.call(Tool::ResolveConflicts, render::conflicts(input), |text| {
            parse::conflicts(text, input)
        })
        .await
    }

    async fn extract_facts(
        &self,
        input: &ExtractionInput,
    ) -> Result<Answer<Vec<String>>, LlmError> {
        self.call(Tool::ExtractFacts, render::extraction(input), parse::facts)
            .await
    }

    async fn update_memory(
        &self,
        input: &MemoryUpdateInput,
    ) -> Result<Answer<Vec<MemoryEdit>>, LlmError> {
        self.call(Tool::UpdateMemory, render::memory_update(input), |text| {
            parse::memory_edits(text, input)
        })
        .await
    }

    async fn summarize_conversation(
        &self,
        input: &SummaryInput,
    ) -> Result<Answer<String>, LlmError> {
        self.call(
            Tool::SummarizeConversation,
            render::summary(input),
            parse::summary,
        )
        .await
    }
}

/// The system prompt and the user message of one call.
fn messages(system: String, user: String) -> Vec<ChatCompletionRequestMessage> {
    vec![
        ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
            content: system.into(),
            name: None,
        }),
        ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: user.into(),
            name: None,
        }),
    ]
}

/// Why one attempt gave nothing usable.
enum Failure {
    /// The answer does not fit the tool (retried).
    Malformed(String),
    /// A tools-mode answer that ignored the forced tool: text instead of a call, another
    /// tool, arguments that are not JSON. Under `auto` it switches the client to
    /// `json_schema`; otherwise it is retried like [`Failure::Malformed`].
    NotHonoured(String),
    /// Timeout, connection error, 408, 429, 5xx (retried).
    Unavailable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Any other 4xx: retrying cannot help.
    Rejected(String),
}

impl Failure {
    fn into_error(self, name: &'static str, attempts: u32, usage: LlmUsage) -> LlmError {
        match self {
            Failure::Malformed(reason) | Failure::NotHonoured(reason) => LlmError::Malformed {
                tool: name,
                attempts,
                reason,
                usage,
            },
            Failure::Unavailable { reason, .. } => LlmError::Unavailable {
                attempts,
                reason,
                usage,
            },
            Failure::Rejected(reason) => LlmError::Rejected { reason, usage },
        }
    }
}

/// Wait before retry number `retry` (1-based): `base`, `2·base`, `4·base`, … up to 30 s.
fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_DELAY)
}

/// The JSON text of the answer: the forced tool call's arguments, or the message content
/// in `json_schema` mode.
fn answer_text(
    name: &str,
    output: OutputMode,
    completion: WireCompletion,
) -> Result<String, Failure> {
    let Some(message) = completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message)
    else {
        return Err(Failure::Malformed(
            "the completion has no message".to_owned(),
        ));
    };
    if let Some(refusal) = message.refusal.filter(|r| !r.trim().is_empty()) {
        return Err(Failure::Malformed(format!("the model refused: {refusal}")));
    }
    match output {
        OutputMode::Tools => {
            let calls = message.tool_calls.unwrap_or_default();
            let Some(first) = calls.into_iter().find_map(|c| c.function) else {
                return Err(Failure::NotHonoured(
                    match message.content.filter(|c| !c.trim().is_empty()) {
                        Some(content) => format!(
                            "no tool call; the model answered with text: {}",
                            truncate(&content)
                        ),
                        None => "no tool call in the answer".to_owned(),
                    },
                ));
            };
            match first.name.as_deref() {
                Some(called) if called != name => Err(Failure::NotHonoured(format!(
                    "called `{called}` instead of `{name}`"
                ))),
                _ => first.arguments.ok_or_else(|| {
                    Failure::NotHonoured("the tool call has no arguments".to_owned())
                }),
            }
        }
        OutputMode::JsonSchema | OutputMode::Auto => message
            .content
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| Failure::Malformed("the answer has no content".to_owned())),
    }
}

/// Maps a client error to how the attempt failed.
fn classify(err: OpenAIError) -> Failure {
    match err {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(http) => http.classify(),
            Err(other) => Failure::Unavailable {
                reason: other.to_string(),
                retry_after: None,
            },
        },
        OpenAIError::Reqwest(err) => Failure::Unavailable {
            reason: error_chain(&err),
            retry_after: None,
        },
        OpenAIError::JSONDeserialize(err, body) => Failure::Malformed(format!(
            "the response is not a chat completion ({err}): {}",
            truncate(&body)
        )),
        // The request could not even be built: trying again builds the same one.
        OpenAIError::InvalidArgument(reason) => Failure::Rejected(reason),
        other => Failure::Unavailable {
            reason: other.to_string(),
            retry_after: None,
        },
    }
}

/// A non-2xx response, kept whole by [`send`] so the retry policy can read it.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {body}")]
struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

impl HttpFailure {
    fn classify(self) -> Failure {
        let reason = format!("HTTP {}: {}", self.status, truncate(&self.body));
        // OpenAI answers 429 also for an exhausted quota, which no wait will fix.
        let out_of_quota = self.body.contains("insufficient_quota");
        match self.status {
            429 if out_of_quota => Failure::Rejected(reason),
            408 | 429 | 500..=599 => Failure::Unavailable {
                reason,
                retry_after: self.retry_after,
            },
            400..=499 => Failure::Rejected(reason),
            _ => Failure::Unavailable {
                reason,
                retry_after: None,
            },
        }
    }
}

/// The transport: sends the request as built by async-openai, and turns every non-2xx
/// response into an [`HttpFailure`] carrying status, `retry-after` and body.
async fn send(
    http: reqwest::Client,
    factory: HttpRequestFactory,
) -> Result<reqwest::Response, OpenAIError> {
    let request = factory.build().await?;
    let response = http.execute(request).await?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    Err(OpenAIError::Boxed(Box::new(HttpFailure {
        status: status.as_u16(),
        retry_after,
        body,
    })))
}

/// `retry-after-ms` (OpenAI, Azure) or `retry-after` in seconds; an HTTP date is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_REASON_BODY) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Where requests go and which headers they carry; unlike async-openai's `OpenAIConfig`
/// it reads no environment variables and sends no `Authorization` without a key.
struct Endpoint {
    base: String,
    headers: HeaderMap,
    key: SecretString,
}

impl Config for Endpoint {
    fn headers(&self) -> HeaderMap {
        self.headers.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    fn api_base(&self) -> &str {
        &self.base
    }

    fn api_key(&self) -> &SecretString {
        &self.key
    }
}

/// The parts of a chat completion we read, all optional so that servers which leave out
/// fields (`created`, `object`, …) still work.
#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}
