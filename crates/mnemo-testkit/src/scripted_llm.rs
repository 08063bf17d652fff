//! A scripted OpenAI-compatible chat-completions server on a real socket, so LLM tests run
//! the real client end to end against canned, per-tool answers instead of a live model.
//!
//! ```text
//! let llm = ScriptedLlm::start().await;
//! llm.on("extract_entities")
//!     .containing("Lisbon")
//!     .reply(Reply::json(json!({"entities": [{"name": "Lisbon", "type": "City"}]})));
//! llm.on("extract_entities").once().reply(Reply::raw("{not json"));  // first call only
//! llm.respond_with(|req| Reply::json(generated_answer(&req.tool)));  // anything else
//! // … point the client at llm.base_url() …
//! assert_eq!(llm.calls("extract_entities"), 2);
//! ```
//!
//! Each request names its tool either by `tool_choice.function.name` (function calling) or
//! by `response_format.json_schema.name` (structured output); the answer comes back in the
//! matching shape: a `tool_calls` entry whose `function.arguments` is the JSON text, or
//! `message.content` holding the JSON text. Every answer carries a `usage` block counting
//! whitespace-separated words ([`count_words`]) of the prompt and of the answer text.
//!
//! A request nobody scripted is answered `500` with a body naming the tool and the input,
//! and the same text is printed to stderr, so a test fails loudly rather than quietly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mnemo_core::LlmUsage;
use serde_json::{Value, json};

/// How a request asked for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptedMode {
    /// Function calling: `tools` + `tool_choice` naming the function.
    Tools,
    /// Structured output: `response_format: {type: "json_schema", json_schema: {name, …}}`.
    JsonSchema,
}

/// One request the server received, as rules, responders and assertions see it.
#[derive(Clone, Debug)]
pub struct ScriptedRequest {
    /// The tool (function or schema name) the request asked for.
    pub tool: String,
    pub mode: ScriptedMode,
    /// Text of the system message(s): the tool's prompt.
    pub system: String,
    /// Text of every other message, joined by newlines: the rendered input. Rules match here.
    pub input: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The full JSON body as sent.
    pub body: Value,
}

/// What the server answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A well-formed answer carrying this JSON, serialised to text.
    Json(Value),
    /// This exact text where the JSON answer goes (malformed JSON, a wrong shape, …).
    Raw(String),
    /// A plain assistant message with this content and no tool call. In
    /// [`ScriptedMode::JsonSchema`] that is the same as [`Reply::Raw`].
    Content(String),
    /// An HTTP error with this status; `retry_after` is sent both as `retry-after`
    /// (whole seconds, rounded up) and `retry-after-ms`.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Wait this long, then answer with the inner reply (a slow model).
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    pub fn json(value: Value) -> Reply {
        Reply::Json(value)
    }

    pub fn raw(text: impl Into<String>) -> Reply {
        Reply::Raw(text.into())
    }

    pub fn content(text: impl Into<String>) -> Reply {
        Reply::Content(text.into())
    }

    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            retry_after: None,
        }
    }

    /// `429 Too Many Requests` asking the client to wait `retry_after`.
    pub fn rate_limited(retry_after: Duration) -> Reply {
        Reply::Status {
            status: 429,
            retry_after: Some(retry_after),
        }
    }

    /// This reply, sent only after `delay`.
    pub fn after(self, delay: Duration) -> Reply {
        Reply::Delayed(delay, Box::new(self))
    }
}

/// A closure answering any request no rule matched.
type Responder = dyn Fn(&ScriptedRequest) -> Reply + Send + Sync;

struct Rule {
    tool: String,
    containing: Vec<String>,
    once: bool,
    used: bool,
    reply: Reply,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    responder: Mutex<Option<Arc<Responder>>>,
    requests: Mutex<Vec<ScriptedRequest>>,
    usage: Mutex<LlmUsage>,
}

/// The running server; stops when dropped.
pub struct ScriptedLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ScriptedLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedLlm")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ScriptedLlm {
    /// Binds `127.0.0.1:0` and serves `POST /v1/chat/completions` on the current runtime.
    /// With no rules and no responder every call is answered `500`.
    pub async fn start() -> ScriptedLlm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the scripted LLM server to 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("local address of the scripted LLM server");
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("scripted LLM server stopped: {err}");
            }
        });
        ScriptedLlm {
            addr,
            shared,
            server,
        }
    }

    /// The OpenAI-style base URL, `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Starts a rule for `tool`; it takes effect when [`When::reply`] is called. Rules are
    /// checked in the order they were added and the first match wins.
    pub fn on(&self, tool: &str) -> When<'_> {
        When {
            llm: self,
            tool: tool.to_owned(),
            containing: Vec::new(),
            once: false,
        }
    }

    /// Answers every request no rule matches (replacing any earlier responder).
    pub fn respond_with(
        &self,
        responder: impl Fn(&ScriptedRequest) -> Reply + Send + Sync + 'static,
    ) {
        *lock(&self.shared.responder) = Some(Arc::new(responder));
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<ScriptedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The requests for one tool, oldest first.
    pub fn requests_to(&self, tool: &str) -> Vec<ScriptedRequest> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.tool == tool)
            .cloned()
            .collect()
    }

    /// How many requests asked for `tool`.
    pub fn calls(&self, tool: &str) -> usize {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.tool == tool)
            .count()
    }

    /// `calls`: every request received (errors included); tokens: the sum of the `usage`
    /// blocks of every answer sent. A client that gave up on a slow answer never saw its
    /// tokens, so compare tokens only where no answer was abandoned.
    pub fn usage(&self) -> LlmUsage {
        *lock(&self.shared.usage)
    }
}

/// A rule under construction; see [`ScriptedLlm::on`].
#[must_use = "a rule takes effect only when `.reply(…)` is called"]
pub struct When<'a> {
    llm: &'a ScriptedLlm,
    tool: String,
    containing: Vec<String>,
    once: bool,
}

impl When<'_> {
    /// Match only requests whose input (non-system messages) contains `text`; repeat to
    /// require several substrings.
    pub fn containing(mut self, text: impl Into<String>) -> Self {
        self.containing.push(text.into());
        self
    }

    /// Match one request only; later requests fall through to the next rules.
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Adds the rule, answering `reply`.
    pub fn reply(self, reply: Reply) {
        lock(&self.llm.shared.rules).push(Rule {
            tool: self.tool,
            containing: self.containing,
            once: self.once,
            used: false,
            reply,
        });
    }
}

/// The token count the server reports for a text: its whitespace-separated words.
pub fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the log from the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(err) => return error(StatusCode::BAD_REQUEST, &format!("body is not JSON: {err}")),
    };
    let Some((tool, mode)) = tool_of(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "scripted LLM: cannot tell the tool: neither `tool_choice.function.name` nor \
             `response_format.json_schema.name` is set",
        );
    };
    let (system, input) = message_texts(&body);
    let request = ScriptedRequest {
        tool,
        mode,
        system,
        input,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    };
    lock(&shared.requests).push(request.clone());
    lock(&shared.usage).calls += 1;

    let mut reply = match pick_reply(&shared, &request) {
        Some(reply) => reply,
        None => {
            let message = format!(
                "scripted LLM: unscripted call to tool `{}`; no rule matched and no responder \
                 is set. Input:\n{}",
                request.tool, request.input
            );
            eprintln!("{message}");
            return error(StatusCode::INTERNAL_SERVER_ERROR, &message);
        }
    };
    while let Reply::Delayed(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    answer(&shared, &request, reply)
}

fn pick_reply(shared: &Shared, request: &ScriptedRequest) -> Option<Reply> {
    {
        let mut rules = lock(&shared.rules);
        let matched = rules.iter_mut().find(|rule| {
            rule.tool == request.tool
                && !(rule.once && rule.used)
                && rule
                    .containing
                    .iter()
                    .all(|text| request.input.contains(text.as_str()))
        });
        if let Some(rule) = matched {
            rule.used = true;
            return Some(rule.reply.clone());
        }
    }
    let responder = lock(&shared.responder).clone();
    responder.map(|responder| responder(request))
}

fn tool_of(body: &Value) -> Option<(String, ScriptedMode)> {
    if let Some(name) = body["tool_choice"]["function"]["name"].as_str() {
        return Some((name.to_owned(), ScriptedMode::Tools));
    }
    body["response_format"]["json_schema"]["name"]
        .as_str()
        .map(|name| (name.to_owned(), ScriptedMode::JsonSchema))
}

/// (system text, other text) of the request's messages; content may be a string or an
/// array of `{type: "text", text}` parts.
fn message_texts(body: &Value) -> (String, String) {
    let mut system = Vec::new();
    let mut other = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let text = match &message["content"] {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|part| part["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        match message["role"].as_str() {
            Some("system" | "developer") => system.push(text),
            _ => other.push(text),
        }
    }
    (system.join("\n"), other.join("\n"))
}

fn answer(shared: &Shared, request: &ScriptedRequest, reply: Reply) -> Response {
    let (text, as_tool_call) = match reply {
        Reply::Json(value) => (value.to_string(), request.mode == ScriptedMode::Tools),
        Reply::Raw(text) => (text, request.mode == ScriptedMode::Tools),
        Reply::Content(text) => (text, false),
        Reply::Status {
            status,
            retry_after,
        } => return status_reply(status, retry_after),
        Reply::Delayed(..) => unreachable!("delays are unwrapped before answering"),
    };
    let prompt_tokens = count_words(&request.system) + count_words(&request.input);
    let completion_tokens = count_words(&text);
    let id = {
        let mut usage = lock(&shared.usage);
        usage.prompt_tokens += prompt_tokens;
        usage.completion_tokens += completion_tokens;
        usage.calls
    };
    let (message, finish_reason) = if as_tool_call {
        (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": format!("call_{id}"),
                    "type": "function",
                    "function": {"name": request.tool, "arguments": text},
                }],
            }),
            "tool_calls",
        )
    } else {
        (json!({"role": "assistant", "content": text}), "stop")
    };
    let body = json!({
        "id": format!("chatcmpl-scripted-{id}"),
        "object": "chat.completion",
        "created": 1_700_000_000u32,
        "model": request.body["model"],
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason,
            "logprobs": null,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn status_reply(status: u16, retry_after: Option<Duration>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error(code, &format!("scripted status {status}"));
    if let Some(delay) = retry_after {
        let headers = response.headers_mut();
        let secs = delay.as_millis().div_ceil(1000);
        headers.insert("retry-after", HeaderValue::from(secs as u64));
        headers.insert(
            "retry-after-ms",
            HeaderValue::from(delay.as_millis() as u64),
        );
    }
    response
}

/// An OpenAI-shaped error body.
fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "error": {"message": message, "type": "scripted_error", "param": null, "code": null},
    });
    (status, axum::Json(body)).into_response()
}
