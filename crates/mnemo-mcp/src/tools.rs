//! The tools: each resolves the scope (the call's, else the connection's default), checks
//! it against the caller's binding, calls one `Memory` method and maps the result to the
//! wire types. Errors a model can act on (bad input, not found, no LLM, refused) are tool
//! errors with a code; failures of the service are logged and told without internals.

use std::sync::Arc;

use chrono::Utc;
use mnemo_api::{
    AddBody, AddResult, ChangesOut, Deleted, EpisodeOut, FactOut, FactsOut, MessageIn,
    RelationsBody, SearchBody, SearchOut, SubgraphOut, TimelineEntryOut, TimelineOut,
};
use mnemo_core::ports::Page;
use mnemo_core::{
    EpisodeId, FactId, Memory, MemoryError, RelationType, Scope, ValidationError, Visibility,
};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;

use crate::args::{
    AddMemoryArgs, ChangesArgs, EraseArgs, IdArgs, ListFactsArgs, SubgraphArgs, TimelineArgs,
};

/// The scope fields an HTTP caller's API key is bound to (all `None`: every scope); the
/// server's auth layer inserts it into each `/mcp` request's extensions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub run_id: Option<String>,
}

impl Binding {
    /// `Err` with the refusal when `scope` is outside the binding: a bound field must equal
    /// the scope's (the rule of `/v1` too).
    pub fn admits(&self, scope: &Scope) -> Result<(), String> {
        let fields = [
            ("user_id", &self.user_id, scope.user_id()),
            ("agent_id", &self.agent_id, scope.agent_id()),
            ("run_id", &self.run_id, scope.run_id()),
        ];
        for (field, bound, asked) in fields {
            if let Some(bound) = bound
                && asked != Some(bound.as_str())
            {
                return Err(format!("this API key is bound to another {field}"));
            }
        }
        Ok(())
    }
}

/// The MCP server of one memory; cheap to clone, one per connection.
#[derive(Clone)]
pub struct MemoryTools {
    memory: Arc<Memory>,
    /// Used when a call names no scope field.
    default_scope: Option<Scope>,
}

impl std::fmt::Debug for MemoryTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTools")
            .field("default_scope", &self.default_scope)
            .finish_non_exhaustive()
    }
}

/// What a tool answers: the result, or an error the model is shown.
type Answer = Result<CallToolResult, ErrorData>;

impl MemoryTools {
    pub fn new(memory: Arc<Memory>, default_scope: Option<Scope>) -> MemoryTools {
        MemoryTools {
            memory,
            default_scope,
        }
    }

    /// The call's scope (else the default), admitted for the caller. Over HTTP a request
    /// without a binding (the auth layer did not run) is refused: closed by default.
    fn scope(
        &self,
        context: &RequestContext<RoleServer>,
        user_id: Option<String>,
        agent_id: Option<String>,
        run_id: Option<String>,
    ) -> Result<Scope, CallToolResult> {
        let scope = if user_id.is_none() && agent_id.is_none() && run_id.is_none() {
            match &self.default_scope {
                Some(scope) => scope.clone(),
                None => return Err(refusal("invalid_scope", &ValidationError::EmptyScope)),
            }
        } else {
            Scope::new(user_id, agent_id, run_id).map_err(|e| refusal("invalid_scope", &e))?
        };
        if let Some(parts) = context.extensions.get::<http::request::Parts>() {
            let Some(binding) = parts.extensions.get::<Binding>() else {
                return Err(refusal("unauthorized", &"no API key was checked"));
            };
            binding
                .admits(&scope)
                .map_err(|message| refusal("forbidden", &message))?;
        }
        Ok(scope)
    }
}

/// A tool error: `code: message`, as the HTTP API's error codes.
fn refusal(code: &str, message: &dyn std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!("{code}: {message}"))])
}

/// A core error as a tool error; the service's own failures are logged, not detailed.
fn failed(error: MemoryError) -> CallToolResult {
    match &error {
        MemoryError::Invalid(e) => refusal("invalid_request", e),
        MemoryError::NotFound { .. } => refusal("not_found", &error),
        MemoryError::LlmNotConfigured => refusal("llm_not_configured", &error),
        _ => {
            tracing::warn!(%error, "MCP tool call failed");
            refusal(
                "unavailable",
                &"the memory service could not answer; try again later",
            )
        }
    }
}

/// The wire value as structured content (and its JSON as text).
fn answer(value: impl Serialize) -> Answer {
    let value = serde_json::to_value(value)
        .map_err(|e| ErrorData::internal_error(format!("serializing the answer: {e}"), None))?;
    Ok(CallToolResult::structured(value))
}

/// `?` for a tool body: an early tool error is still an `Ok` answer.
macro_rules! attempt {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(refused) => return Ok(refused),
        }
    };
}

fn parse_id<T: std::str::FromStr>(id: &str) -> Result<T, CallToolResult> {
    id.parse()
        .map_err(|_| refusal("invalid_request", &format!("`{id}` is not an id (a UUID)")))
}

#[tool_router]
impl MemoryTools {
    #[tool(
        description = "Remember conversation turns (or one `text` the user said). With infer \
            (default true) an LLM extracts entities, typed relations and facts, and relations the \
            new ones supersede are ended, not deleted, so history stays queryable. With infer \
            false nothing is extracted; each message is kept as a fact. Returns the episode id \
            (for delete_episode) and what changed."
    )]
    async fn add_memory(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<AddMemoryArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let messages = match (args.messages, args.text) {
            (Some(messages), None) => messages,
            (None, Some(text)) => vec![MessageIn {
                role: "user".into(),
                content: text,
            }],
            _ => {
                return Ok(refusal(
                    "invalid_request",
                    &"give either `messages` or `text`",
                ));
            }
        };
        let body = AddBody {
            messages,
            occurred_at: args.occurred_at,
            infer: args.infer,
            ..AddBody::default()
        };
        let outcome = attempt!(
            self.memory
                .add(body.into_request(scope, true))
                .await
                .map_err(failed)
        );
        answer(AddResult::from(outcome))
    }

    #[tool(
        description = "Add typed relations directly, without an LLM: source and target entities \
            (name, optional PascalCase type) and an UPPER_SNAKE_CASE relation such as LIVES_IN, \
            with optional valid_from/valid_to. Entity resolution and the conflict rules apply: a \
            new LIVES_IN ends the previous one."
    )]
    async fn add_relations(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(body): Parameters<RelationsBody>,
    ) -> Answer {
        let scope = attempt!(self.scope(
            &context,
            body.user_id.clone(),
            body.agent_id.clone(),
            body.run_id.clone()
        ));
        let outcome = attempt!(
            self.memory
                .add_relations(body.into_request(scope))
                .await
                .map_err(failed)
        );
        answer(AddResult::from(outcome))
    }

    #[tool(
        description = "Search the memory: relations and facts relevant to the query, fused and \
            ranked, with a ready-to-use `context` text. as_of (event time) asks what was true \
            then; known_at (transaction time) asks what mnemo knew then. Both default to now."
    )]
    async fn search_memory(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(body): Parameters<SearchBody>,
    ) -> Answer {
        let scope = attempt!(self.scope(
            &context,
            body.user_id.clone(),
            body.agent_id.clone(),
            body.run_id.clone()
        ));
        let result = attempt!(
            self.memory
                .search(body.into_request(scope))
                .await
                .map_err(failed)
        );
        let out = SearchOut::from(result);
        let text = out.context.clone();
        let mut answered = answer(out)?;
        // The context first: what a model reads.
        answered.content.insert(0, ContentBlock::text(text));
        Ok(answered)
    }

    #[tool(
        description = "The timeline of an entity's relations (optionally one relation type): \
            every relation with when it held (valid_from → valid_to), its status (valid, ended, \
            superseded, retracted) and what ended it. Use it for 'where did X live before', \
            'since when'."
    )]
    async fn get_timeline(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<TimelineArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let relation_type = attempt!(
            args.relation_type
                .as_deref()
                .map(RelationType::parse)
                .transpose()
                .map_err(|e| refusal("invalid_request", &e))
        );
        let entries = attempt!(
            self.memory
                .timeline(
                    &scope,
                    args.entity.as_deref(),
                    relation_type,
                    args.include_ended.unwrap_or(true),
                    Visibility::or_now(args.as_of, args.known_at),
                )
                .await
                .map_err(failed)
        );
        answer(TimelineOut {
            relations: entries.into_iter().map(TimelineEntryOut::from).collect(),
        })
    }

    #[tool(
        description = "The entity and what surrounds it up to `depth` hops, over the relations \
            true at as_of as known at known_at."
    )]
    async fn get_subgraph(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<SubgraphArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let subgraph = attempt!(
            self.memory
                .subgraph(
                    &scope,
                    &args.entity,
                    args.depth.unwrap_or(mnemo_core::read::DEFAULT_DEPTH),
                    Visibility::or_now(args.as_of, args.known_at),
                )
                .await
                .map_err(failed)
        );
        answer(SubgraphOut::from(subgraph))
    }

    #[tool(
        description = "What mnemo learned in a window of transaction time: relations added, \
            ended and retracted between since and until."
    )]
    async fn get_changes(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<ChangesArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let until = args.until.unwrap_or_else(Utc::now);
        let changes = attempt!(
            self.memory
                .changes(&scope, args.since, until)
                .await
                .map_err(failed)
        );
        answer(ChangesOut::from(changes))
    }

    #[tool(description = "The scope's plain facts, newest first, a page at a time.")]
    async fn list_facts(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<ListFactsArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let page = Page {
            limit: args.limit.unwrap_or(mnemo_core::manage::DEFAULT_PAGE),
            offset: args.offset.unwrap_or(0),
        };
        let facts = attempt!(self.memory.facts(&scope, page).await.map_err(failed));
        answer(FactsOut {
            facts: facts.into_iter().map(FactOut::from).collect(),
        })
    }

    #[tool(description = "Delete one plain fact by id; its history is kept.")]
    async fn delete_fact(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<IdArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let id: FactId = attempt!(parse_id(&args.id));
        attempt!(self.memory.delete_fact(&scope, id).await.map_err(failed));
        answer(Deleted {
            id: Some(id.as_uuid()),
            deleted: true,
        })
    }

    #[tool(description = "One ingested episode by id: its messages, status and what it cost.")]
    async fn get_episode(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<IdArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let id: EpisodeId = attempt!(parse_id(&args.id));
        let episode = attempt!(self.memory.episode(&scope, id).await.map_err(failed));
        answer(EpisodeOut::from(episode))
    }

    #[tool(
        description = "Delete an episode and revert what it did: relations only it stated are \
            deleted, relations it ended are restored, its fact changes are undone."
    )]
    async fn delete_episode(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<IdArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        let id: EpisodeId = attempt!(parse_id(&args.id));
        attempt!(self.memory.delete_episode(&scope, id).await.map_err(failed));
        answer(Deleted {
            id: Some(id.as_uuid()),
            deleted: true,
        })
    }

    #[tool(
        description = "Erase everything of the scope for good (graph, episodes, facts, history). \
            Needs confirm: true. Only for an explicit erasure request."
    )]
    async fn erase_scope(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<EraseArgs>,
    ) -> Answer {
        let scope = attempt!(self.scope(&context, args.user_id, args.agent_id, args.run_id));
        if !args.confirm {
            return Ok(refusal(
                "invalid_request",
                &"erasing cannot be undone: call again with confirm: true",
            ));
        }
        attempt!(self.memory.erase_scope(&scope).await.map_err(failed));
        answer(Deleted {
            id: None,
            deleted: true,
        })
    }
}

#[tool_handler]
impl ServerHandler for MemoryTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mnemo", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Long-term memory with time: add_memory after a conversation, search_memory \
                 before answering (as_of for what was true then), get_timeline for how a fact \
                 changed.",
            )
    }
}
