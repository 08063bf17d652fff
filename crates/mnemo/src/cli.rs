//! The client commands `mnemo add` and `mnemo search`: over HTTP to a running server, or
//! with `--local` on the configured store through the same `Memory` the server runs.
//! Also the pieces every client command shares: scope flags, time parsing, and the runtime
//! they run on. Requests are the API's own wire types (`mnemo_api`), on both paths.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
pub use mnemo_api::AddBody;
use mnemo_api::{MessageIn, SearchBody};
use mnemo_core::{EpisodeStatus, Memory, Scope, Timestamp, time};
use serde_json::Value;

use crate::config::Config;
use crate::remote::Remote;

/// Loads the configuration, starts a runtime and runs one client command on it.
pub fn run(
    file: Option<&Path>,
    command: impl AsyncFnOnce(Config) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    crate::serve::init_tracing("warn");
    let config = Config::load(file, std::env::vars_os())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(command(config))
}

/// `--user-id`, `--agent-id`, `--run-id`.
#[derive(Args, Clone, Debug, Default)]
pub struct ScopeArgs {
    /// The user the memory belongs to.
    #[arg(long, value_name = "ID")]
    pub user_id: Option<String>,
    /// The agent the memory belongs to.
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,
    /// The run (session) the memory belongs to.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

impl ScopeArgs {
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none() && self.agent_id.is_none() && self.run_id.is_none()
    }

    pub fn scope(&self) -> anyhow::Result<Scope> {
        Scope::new(
            self.user_id.clone(),
            self.agent_id.clone(),
            self.run_id.clone(),
        )
        .context("a scope is needed: give --user-id, --agent-id and/or --run-id")
    }

    /// `body` with these fields as its scope when it names none (the scope of
    /// `mnemo import`'s lines).
    pub fn fill_in(&self, mut body: AddBody) -> AddBody {
        if body.user_id.is_none() && body.agent_id.is_none() && body.run_id.is_none() {
            body.user_id.clone_from(&self.user_id);
            body.agent_id.clone_from(&self.agent_id);
            body.run_id.clone_from(&self.run_id);
        }
        body
    }

    /// Whether every field given here equals the scope's.
    pub fn matches(&self, scope: &Scope) -> bool {
        let same = |given: &Option<String>, actual: Option<&str>| {
            given.as_deref().is_none_or(|given| Some(given) == actual)
        };
        same(&self.user_id, scope.user_id())
            && same(&self.agent_id, scope.agent_id())
            && same(&self.run_id, scope.run_id())
    }
}

/// Where a client command sends its requests.
#[derive(Args, Clone, Debug)]
pub struct TargetArgs {
    /// Base URL of a running mnemo [default: http:// and server.addr of the configuration]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// API key for the server, sent as `Authorization: Bearer KEY`
    #[arg(
        long,
        env = "MNEMO_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Open the configured store directly instead of calling a server (the store is held
    /// by one process at a time: stop `mnemo serve` first)
    #[arg(long, conflicts_with = "url")]
    pub local: bool,
}

/// Either end a client command talks to.
pub enum Client {
    Remote(Remote),
    Local(Box<Memory>),
}

impl Client {
    pub async fn new(config: &Config, target: &TargetArgs) -> anyhow::Result<Client> {
        if target.local {
            let memory = crate::compose::open_memory(config).await?;
            return Ok(Client::Local(Box::new(memory)));
        }
        Ok(Client::Remote(Remote::new(
            config,
            target.url.as_deref(),
            target.api_key.clone(),
        )?))
    }

    /// One add; the result as the API returns it.
    pub async fn add(&self, body: AddBody, default_infer: bool) -> anyhow::Result<Value> {
        match self {
            Client::Remote(remote) => {
                let body = AddBody {
                    infer: Some(body.infer.unwrap_or(default_infer)),
                    ..body
                };
                remote.post("/v1/memories", &body).await
            }
            Client::Local(memory) => {
                let scope = ScopeArgs {
                    user_id: body.user_id.clone(),
                    agent_id: body.agent_id.clone(),
                    run_id: body.run_id.clone(),
                }
                .scope()?;
                let outcome = memory
                    .add(body.into_request(scope.clone(), default_infer))
                    .await?;
                // The server runs the summary policy after the answer; here it runs inline.
                if outcome.status == EpisodeStatus::Done {
                    memory.refresh_summary_if_due(&scope).await?;
                }
                Ok(crate::show::add_outcome_json(&outcome))
            }
        }
    }
}

/// An RFC 3339 time (`2024-03-01T09:30:00Z`, any offset) or a date (`2024-03-01`,
/// midnight UTC), within the supported range (`mnemo_core::time::check`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let time = match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(time) => time.to_utc(),
        Err(_) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|time| time.and_utc())
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a time such as 2024-03-01T09:30:00Z or a date such as \
                     2024-03-01"
                )
            })?,
    };
    time::check("time", time)
        .map_err(|_| format!("`{text}` is outside the supported range {}", time::RANGE))
}

/// `ROLE:TEXT`.
fn parse_message(text: &str) -> Result<MessageIn, String> {
    match text.split_once(':') {
        Some((role, content)) if !role.trim().is_empty() && !content.trim().is_empty() => {
            Ok(MessageIn {
                role: role.trim().to_owned(),
                content: content.trim().to_owned(),
            })
        }
        _ => Err(format!(
            "`{text}` is not ROLE:TEXT, e.g. \"user:I moved to Lisbon\""
        )),
    }
}

#[derive(Args)]
pub struct AddArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// A message as ROLE:TEXT, e.g. "user:I moved to Lisbon"; repeat for a conversation
    #[arg(
        long = "message",
        short = 'm',
        value_name = "ROLE:TEXT",
        value_parser = parse_message,
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    messages: Vec<MessageIn>,
    /// A JSON file: a list of {"role","content"} messages, or a whole add request
    /// ({"messages", "user_id", …, "occurred_at", "metadata", "idempotency_key"})
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Store the messages as facts without the LLM (infer: false)
    #[arg(long)]
    no_infer: bool,
    /// When the conversation happened; relative dates ("last month") count from it
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    occurred_at: Option<Timestamp>,
    /// Print the result as JSON, as the API returns it
    #[arg(long)]
    json: bool,
}

impl AddArgs {
    /// The request: the file's (if any), then the flags on top.
    fn body(&self) -> anyhow::Result<AddBody> {
        let mut body = match &self.file {
            None => AddBody {
                messages: self.messages.clone(),
                ..AddBody::default()
            },
            Some(path) => read_add_file(path)?,
        };
        if !self.scope.is_empty() {
            body.user_id.clone_from(&self.scope.user_id);
            body.agent_id.clone_from(&self.scope.agent_id);
            body.run_id.clone_from(&self.scope.run_id);
        }
        if self.no_infer {
            body.infer = Some(false);
        }
        if self.occurred_at.is_some() {
            body.occurred_at = self.occurred_at;
        }
        Ok(body)
    }
}

fn read_add_file(path: &Path) -> anyhow::Result<AddBody> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let body = if value.is_array() {
        serde_json::from_value(value).map(|messages| AddBody {
            messages,
            ..AddBody::default()
        })
    } else {
        serde_json::from_value(value)
    };
    body.with_context(|| {
        format!(
            "{} is neither a list of {{\"role\", \"content\"}} messages nor an add request",
            path.display()
        )
    })
}

pub async fn add(config: Config, args: AddArgs) -> anyhow::Result<()> {
    let body = args.body()?;
    if body.user_id.is_none() && body.agent_id.is_none() && body.run_id.is_none() {
        bail!("a scope is needed: give --user-id, --agent-id and/or --run-id");
    }
    let client = Client::new(&config, &args.target).await?;
    let result = client.add(body, true).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", crate::show::add_result(&result));
    }
    Ok(())
}

#[derive(Args)]
pub struct SearchArgs {
    /// What to look for, e.g. "where does Alice live?"
    query: String,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// How many relations and facts at most
    #[arg(long, default_value_t = mnemo_core::read::DEFAULT_LIMIT)]
    limit: usize,
    /// Event time: what was true then [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    as_of: Option<Timestamp>,
    /// Transaction time: what mnemo knew then [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    known_at: Option<Timestamp>,
    /// Hops walked from the entities the query names (1 to 3)
    #[arg(long, default_value_t = mnemo_core::read::DEFAULT_DEPTH)]
    depth: u8,
    /// The most tokens the context may hold
    #[arg(long, value_name = "TOKENS")]
    token_budget: Option<usize>,
    /// Print the result as JSON, as the API returns it
    #[arg(long)]
    json: bool,
}

pub async fn search(config: Config, args: SearchArgs) -> anyhow::Result<()> {
    let scope = args.scope.scope()?;
    let client = Client::new(&config, &args.target).await?;
    let body = SearchBody {
        query: args.query,
        user_id: scope.user_id().map(str::to_owned),
        agent_id: scope.agent_id().map(str::to_owned),
        run_id: scope.run_id().map(str::to_owned),
        limit: Some(args.limit),
        as_of: args.as_of,
        known_at: args.known_at,
        depth: Some(args.depth),
        token_budget: args.token_budget,
        include: None,
        query_entities: None,
    };
    let result = match &client {
        Client::Remote(remote) => remote.post("/v1/search", &body).await?,
        Client::Local(memory) => {
            crate::show::search_result_json(&memory.search(body.into_request(scope)).await?)
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", crate::show::search_result(&result));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let check = |text: &str, expected: Result<&str, ()>| {
            let got = parse_time(text).map(|t| t.to_rfc3339()).map_err(|_| ());
            assert_eq!(got.as_deref().map_err(|_| ()), expected, "{text}");
        };
        check("2024-03-01T09:30:00Z", Ok("2024-03-01T09:30:00+00:00"));
        check("2024-03-01T09:30:00+02:00", Ok("2024-03-01T07:30:00+00:00"));
        check("2024-03-01", Ok("2024-03-01T00:00:00+00:00"));
        check("0001-01-01", Ok("0001-01-01T00:00:00+00:00"));
        check("9999-12-31T23:59:59Z", Ok("9999-12-31T23:59:59+00:00"));
        check("2024-02-30", Err(()));
        check("-0001-01-01T00:00:00Z", Err(()));
        check("-0001-01-01", Err(()));
        check("0000-12-31", Err(()));
        check("+10000-01-01T00:00:00Z", Err(()));
        check("0001-01-01T00:00:00+01:00", Err(()));
        check("yesterday", Err(()));
        check("", Err(()));
    }

    #[test]
    fn messages() {
        let check = |text: &str, expected: Option<(&str, &str)>| {
            let got = parse_message(text).ok();
            let got = got.as_ref().map(|m| (m.role.as_str(), m.content.as_str()));
            assert_eq!(got, expected, "{text}");
        };
        check(
            "user:I moved to Lisbon",
            Some(("user", "I moved to Lisbon")),
        );
        check(
            "assistant: noted: Lisbon ",
            Some(("assistant", "noted: Lisbon")),
        );
        check("no role", None);
        check(":text", None);
        check("user:", None);
    }

    #[test]
    fn scope_filters() {
        let scope = |u: Option<&str>, r: Option<&str>| {
            Scope::new(u.map(Into::into), None, r.map(Into::into)).unwrap()
        };
        let args = |u: Option<&str>, r: Option<&str>| ScopeArgs {
            user_id: u.map(Into::into),
            agent_id: None,
            run_id: r.map(Into::into),
        };
        let cases = [
            (args(Some("alice"), None), scope(Some("alice"), None), true),
            (
                args(Some("alice"), None),
                scope(Some("alice"), Some("r")),
                true,
            ),
            (args(Some("alice"), None), scope(Some("bob"), None), false),
            (
                args(Some("alice"), Some("r")),
                scope(Some("alice"), None),
                false,
            ),
            (args(None, Some("r")), scope(None, Some("r")), true),
            (args(None, None), scope(Some("bob"), None), true),
        ];
        for (args, scope, expected) in cases {
            assert_eq!(args.matches(&scope), expected, "{args:?} {scope}");
        }
    }

    #[test]
    fn add_files() {
        let dir = tempfile::tempdir().unwrap();
        let check = |text: &str, expected: Result<AddBody, &str>| {
            let path = dir.path().join("add.json");
            std::fs::write(&path, text).unwrap();
            match (read_add_file(&path), expected) {
                (Ok(body), Ok(want)) => assert_eq!(body, want, "{text}"),
                (Err(err), Err(want)) => {
                    assert!(format!("{err:#}").contains(want), "{text}: {err:#}")
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        };
        let hi = || MessageIn {
            role: "user".into(),
            content: "hi".into(),
        };
        check(
            r#"[{"role":"user","content":"hi"}]"#,
            Ok(AddBody {
                messages: vec![hi()],
                ..AddBody::default()
            }),
        );
        check(
            r#"{"messages":[{"role":"user","content":"hi"}],"user_id":"alice","infer":false,"occurred_at":"2024-03-01T00:00:00Z"}"#,
            Ok(AddBody {
                messages: vec![hi()],
                user_id: Some("alice".into()),
                infer: Some(false),
                occurred_at: Some(parse_time("2024-03-01").unwrap()),
                ..AddBody::default()
            }),
        );
        check(r#"{"messages":[],"user":"alice"}"#, Err("neither a list"));
        check("not json", Err("is not JSON"));
    }
}
