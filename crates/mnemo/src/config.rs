//! mnemo's configuration (DESIGN.md §9): every key as a typed struct with defaults, read
//! once from defaults, then a TOML file, then `MNEMO__SECTION__KEY` environment variables,
//! and validated as a whole so every problem is reported at once.
//!
//! This is the only code that reads mnemo's environment variables; the rest of the program
//! gets a validated [`Config`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mnemo_core::Scope;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use toml::{Table, Value};

#[cfg(test)]
mod tests;

/// Environment variables starting with this override configuration keys:
/// `MNEMO__LLM__TIMEOUT_S=30` sets `llm.timeout_s`.
pub const ENV_PREFIX: &str = "MNEMO__";

/// The smallest `server.max_body_bytes` accepted: any useful request is larger.
const MIN_BODY_BYTES: u64 = 1024;

/// What secrets print as.
const MASK: &str = "********";

/// The whole configuration. `Default` is the configuration with no file and no variables.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub neo4j: Neo4jConfig,
    pub qdrant: QdrantConfig,
    pub llm: LlmConfig,
    pub embed: EmbedConfig,
    pub auth: AuthConfig,
    pub ontology: OntologyConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address; port 0 picks a free port (the actual address is printed at start).
    pub addr: SocketAddr,
    /// Largest request body accepted; larger ones get 413 `payload_too_large`.
    pub max_body_bytes: u64,
    /// Seconds a client may take to send a request's headers, and its body (408).
    pub read_timeout_s: u64,
    /// Longest search query accepted, in characters (422 past it).
    pub max_query_chars: usize,
    /// Searches run at once; more wait their turn. Unset: one per core on the embedded
    /// store, four per core on Neo4j + Qdrant (see [`Config::max_concurrent_searches`]).
    pub max_concurrent_searches: Option<usize>,
}

/// Default of `server.max_body_bytes`: 2 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 2 * 1024 * 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8420)),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            read_timeout_s: 30,
            max_query_chars: mnemo_core::MemorySettings::DEFAULT_MAX_QUERY_CHARS,
            max_concurrent_searches: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: Backend,
    /// Folder of the embedded store.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Embedded,
            path: PathBuf::from("./mnemo-data"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// SQLite + in-memory graph and vectors in `store.path`.
    #[default]
    Embedded,
    /// Neo4j for the graph, Qdrant for vectors.
    Neo4j,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Neo4jConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QdrantConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// OpenAI-compatible endpoint; unset = no LLM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    pub output: LlmOutput,
    pub timeout_s: u64,
    pub max_retries: u32,
    /// A folder whose `<tool>.md` files replace the built-in prompts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts_dir: Option<PathBuf>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            base_url: None,
            model: None,
            api_key: None,
            output: LlmOutput::Auto,
            timeout_s: 60,
            max_retries: 2,
            prompts_dir: None,
        }
    }
}

/// How structured answers are requested from the LLM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmOutput {
    /// Function calling.
    Tools,
    /// `response_format: json_schema`.
    JsonSchema,
    /// Function calling until the endpoint first ignores a forced tool call, then
    /// `json_schema` for the rest of the process.
    #[default]
    Auto,
}

/// The embedding model and its offline files, as installed by `make setup` (or `make
/// setup-mpnet`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbedConfig {
    pub model: EmbedModel,
    /// The model's files; absent = where its setup command installs them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    pub ort_dylib_path: PathBuf,
    /// Model sessions run side by side (each may use every core).
    pub sessions: usize,
    /// Embedding calls admitted at once; more are refused with 503 until some finish.
    pub max_waiting: usize,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        EmbedConfig {
            model: EmbedModel::default(),
            model_dir: None,
            ort_dylib_path: PathBuf::from(mnemo_fastembed::EmbedConfig::DEFAULT_ORT_DYLIB_PATH),
            sessions: mnemo_fastembed::PoolConfig::DEFAULT_SESSIONS,
            max_waiting: mnemo_fastembed::PoolConfig::DEFAULT_MAX_WAITING,
        }
    }
}

/// `embed.model`: the names of [`mnemo_fastembed::Model`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmbedModel {
    #[default]
    #[serde(rename = "all-MiniLM-L6-v2")]
    MiniLmL6V2,
    #[serde(rename = "all-mpnet-base-v2")]
    MpnetBaseV2,
}

impl EmbedModel {
    pub fn model(self) -> mnemo_fastembed::Model {
        match self {
            EmbedModel::MiniLmL6V2 => mnemo_fastembed::Model::MiniLmL6V2,
            EmbedModel::MpnetBaseV2 => mnemo_fastembed::Model::MpnetBaseV2,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Empty = no authentication.
    pub api_keys: Vec<ApiKey>,
}

/// An API key bound to a scope: a request with it may only touch that scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub key: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OntologyConfig {
    /// Unset = the built-in ontology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// A password or key. Prints and serialises as `********`; [`Secret::expose`] is the only
/// way to the value, so it cannot leak through `Debug`, logs or `mnemo config check`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

/// Everything wrong with the configuration, one line per problem.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// How an environment variable's text becomes a TOML value.
#[derive(Clone, Copy)]
enum EnvText {
    /// Taken verbatim as a string (addresses, paths, names, secrets).
    Verbatim,
    /// Parsed as a TOML value (numbers, arrays); text that does not parse stays a string
    /// and is then reported as the wrong type.
    Toml,
}

/// One configuration key: its dotted path, how its variable is read, and what fits it.
struct Key {
    path: &'static str,
    env: EnvText,
    /// Whether a value deserialises as the field's type.
    fits: fn(&Value) -> bool,
    expected: &'static str,
    /// Values are never echoed in messages.
    secret: bool,
}

fn fits<T: DeserializeOwned>(value: &Value) -> bool {
    value.clone().try_into::<T>().is_ok()
}

const fn key(
    path: &'static str,
    env: EnvText,
    fits: fn(&Value) -> bool,
    expected: &'static str,
) -> Key {
    Key {
        path,
        env,
        fits,
        expected,
        secret: false,
    }
}

const fn secret(path: &'static str, fits: fn(&Value) -> bool, expected: &'static str) -> Key {
    Key {
        path,
        env: EnvText::Verbatim,
        fits,
        expected,
        secret: true,
    }
}

const STRING: &str = "a string";
const PATH: &str = "a path";

/// Every key of [`Config`]; a test checks this list against the struct.
const KEYS: &[Key] = {
    use EnvText::{Toml, Verbatim};
    &[
        key(
            "server.addr",
            Verbatim,
            fits::<SocketAddr>,
            "an IP address and port such as 127.0.0.1:8420",
        ),
        key(
            "server.max_body_bytes",
            Toml,
            fits::<u64>,
            "a whole number of bytes",
        ),
        key(
            "server.max_concurrent_searches",
            Toml,
            fits::<usize>,
            "a whole number of searches",
        ),
        key(
            "server.max_query_chars",
            Toml,
            fits::<usize>,
            "a whole number of characters",
        ),
        key(
            "server.read_timeout_s",
            Toml,
            fits::<u64>,
            "a whole number of seconds",
        ),
        key(
            "store.backend",
            Verbatim,
            fits::<Backend>,
            "one of \"embedded\", \"neo4j\"",
        ),
        key("store.path", Verbatim, fits::<PathBuf>, PATH),
        key("neo4j.uri", Verbatim, fits::<String>, STRING),
        key("neo4j.user", Verbatim, fits::<String>, STRING),
        secret("neo4j.password", fits::<String>, STRING),
        key("neo4j.database", Verbatim, fits::<String>, STRING),
        key("qdrant.url", Verbatim, fits::<String>, STRING),
        secret("qdrant.api_key", fits::<String>, STRING),
        key("llm.base_url", Verbatim, fits::<String>, STRING),
        key("llm.model", Verbatim, fits::<String>, STRING),
        secret("llm.api_key", fits::<String>, STRING),
        key(
            "llm.output",
            Verbatim,
            fits::<LlmOutput>,
            "one of \"tools\", \"json_schema\", \"auto\"",
        ),
        key(
            "llm.timeout_s",
            Toml,
            fits::<u64>,
            "a whole number of seconds",
        ),
        key(
            "llm.max_retries",
            Toml,
            fits::<u32>,
            "a whole number, 0 or more",
        ),
        key("llm.prompts_dir", Verbatim, fits::<PathBuf>, PATH),
        key(
            "embed.model",
            Verbatim,
            fits::<EmbedModel>,
            "one of \"all-MiniLM-L6-v2\", \"all-mpnet-base-v2\"",
        ),
        key("embed.model_dir", Verbatim, fits::<PathBuf>, PATH),
        key("embed.ort_dylib_path", Verbatim, fits::<PathBuf>, PATH),
        key(
            "embed.sessions",
            Toml,
            fits::<usize>,
            "a whole number of sessions, 1 or more",
        ),
        key(
            "embed.max_waiting",
            Toml,
            fits::<usize>,
            "a whole number of calls, 1 or more",
        ),
        Key {
            path: "auth.api_keys",
            env: Toml,
            fits: fits::<Vec<ApiKey>>,
            expected: "an array of tables like [{ key = \"…\", user_id = \"…\" }] \
                       with the fields key, user_id, agent_id, run_id",
            secret: true,
        },
        key("ontology.file", Verbatim, fits::<PathBuf>, PATH),
    ]
};

fn find_key(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.path == path)
}

/// `known keys: …` for a section, or the list of sections when `section` is not one.
fn known_keys_hint(section: &str) -> String {
    let in_section: Vec<&str> = KEYS
        .iter()
        .filter_map(|key| key.path.strip_prefix(section)?.strip_prefix('.'))
        .collect();
    if in_section.is_empty() {
        let mut sections: Vec<&str> = KEYS
            .iter()
            .filter_map(|key| key.path.split_once('.').map(|(section, _)| section))
            .collect();
        sections.dedup();
        format!("sections are {}", sections.join(", "))
    } else {
        format!("keys of [{section}] are {}", in_section.join(", "))
    }
}

/// Where a value came from, for messages.
#[derive(Clone)]
enum Origin {
    File(String),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(name) => write!(f, "in {name}"),
            Origin::Env(var) => write!(f, "from {var}"),
        }
    }
}

impl Config {
    /// `server.max_concurrent_searches`, or its default for the backend: a search on the
    /// embedded store is CPU work (one per core keeps every core busy, and more only slow
    /// each other and the writes down), while on Neo4j + Qdrant it mostly waits for them.
    pub fn max_concurrent_searches(&self) -> usize {
        self.server.max_concurrent_searches.unwrap_or_else(|| {
            mnemo_core::MemorySettings::searches_per_core(match self.store.backend {
                Backend::Embedded => 1,
                Backend::Neo4j => 4,
            })
        })
    }

    /// Reads the configuration: defaults, then `file` (if any), then the `MNEMO__…`
    /// variables among `env` (pass `std::env::vars_os()`), then validates it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Config, ConfigError> {
        let text = match file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
                    problems: vec![format!("cannot read config file {}: {err}", path.display())],
                })?;
                Some((path.display().to_string(), text))
            }
        };
        Config::from_sources(
            text.as_ref()
                .map(|(name, text)| (name.as_str(), text.as_str())),
            env,
        )
    }

    /// [`Config::load`] with the file's `(name, contents)` already read.
    pub fn from_sources(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut merged = Table::new();
        let mut file_parsed = true;
        if let Some((name, text)) = file {
            match text.parse::<Table>() {
                Ok(table) => overlay_file(&mut merged, table, name, &mut problems),
                Err(err) => {
                    file_parsed = false;
                    problems.push(format!(
                        "cannot parse {name}: {}",
                        err.to_string().trim_end()
                    ));
                }
            }
        }
        overlay_env(&mut merged, env, &mut problems);
        // `merged` holds only keys that exist with values of the right type (the others are
        // in `problems`), so this only fails on a bug in `KEYS`.
        let config: Config = match Value::Table(merged).try_into() {
            Ok(config) => config,
            Err(err) => {
                problems.push(err.to_string().trim_end().to_owned());
                return Err(ConfigError { problems });
            }
        };
        // Without the file, its combinations cannot be judged.
        if file_parsed {
            problems.extend(config.validate());
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Problems with values that are well-typed but wrong, alone or together.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |text: String| problems.push(text);

        let non_empty_strings = [
            ("neo4j.uri", &self.neo4j.uri),
            ("neo4j.user", &self.neo4j.user),
            ("neo4j.database", &self.neo4j.database),
            ("qdrant.url", &self.qdrant.url),
            ("llm.base_url", &self.llm.base_url),
            ("llm.model", &self.llm.model),
        ];
        for (key, value) in non_empty_strings {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                problem(format!("{key} is empty; remove it or give it a value"));
            }
        }
        let secrets = [
            ("neo4j.password", &self.neo4j.password),
            ("qdrant.api_key", &self.qdrant.api_key),
            ("llm.api_key", &self.llm.api_key),
        ];
        for (key, value) in secrets {
            if value.as_ref().is_some_and(|v| v.expose().trim().is_empty()) {
                problem(format!("{key} is empty; remove it or give it a value"));
            }
        }
        let paths = [
            ("store.path", Some(&self.store.path)),
            ("embed.model_dir", self.embed.model_dir.as_ref()),
            ("embed.ort_dylib_path", Some(&self.embed.ort_dylib_path)),
            ("ontology.file", self.ontology.file.as_ref()),
            ("llm.prompts_dir", self.llm.prompts_dir.as_ref()),
        ];
        for (key, path) in paths {
            if path.is_some_and(|p| p.as_os_str().is_empty()) {
                problem(format!("{key} is empty"));
            }
        }

        if self.store.backend == Backend::Neo4j {
            if self.neo4j.uri.is_none() {
                problem("neo4j.uri is required when store.backend = \"neo4j\"".into());
            }
            if self.qdrant.url.is_none() {
                problem("qdrant.url is required when store.backend = \"neo4j\"".into());
            }
        }
        if let Some(uri) = non_blank(&self.neo4j.uri) {
            const SCHEMES: [&str; 6] = [
                "bolt",
                "bolt+s",
                "bolt+ssc",
                "neo4j",
                "neo4j+s",
                "neo4j+ssc",
            ];
            let ok = uri
                .split_once("://")
                .is_some_and(|(scheme, rest)| SCHEMES.contains(&scheme) && !rest.is_empty());
            if !ok {
                problem(format!(
                    "neo4j.uri = {uri:?} is not a Bolt URI such as bolt://localhost:7687 \
                     (schemes: {})",
                    SCHEMES.join(", ")
                ));
            }
        }
        if let Some(url) = non_blank(&self.qdrant.url)
            && !is_http_url(url)
        {
            problem(format!(
                "qdrant.url = {url:?} is not an http:// or https:// URL such as http://localhost:6334"
            ));
        }

        if let Some(url) = non_blank(&self.llm.base_url) {
            if !is_http_url(url) {
                problem(format!(
                    "llm.base_url = {url:?} is not an http:// or https:// URL such as https://api.openai.com/v1"
                ));
            }
            if self.llm.model.is_none() {
                problem("llm.model is required when llm.base_url is set".into());
            }
        } else if self.llm.base_url.is_none() {
            for (key, set) in [
                ("llm.model", self.llm.model.is_some()),
                ("llm.api_key", self.llm.api_key.is_some()),
            ] {
                if set {
                    problem(format!("{key} is set but llm.base_url is not"));
                }
            }
        }
        if self.server.max_body_bytes < MIN_BODY_BYTES {
            problem(format!(
                "server.max_body_bytes = {} is too small; at least {MIN_BODY_BYTES} bytes",
                self.server.max_body_bytes
            ));
        }
        if self.llm.timeout_s == 0 {
            problem("llm.timeout_s must be at least 1".into());
        }
        if self.embed.sessions == 0 {
            problem("embed.sessions must be at least 1".into());
        }
        if self.embed.max_waiting == 0 {
            problem("embed.max_waiting must be at least 1".into());
        }
        if self.server.max_concurrent_searches == Some(0) {
            problem("server.max_concurrent_searches must be at least 1".into());
        }
        if self.server.max_query_chars == 0 {
            problem("server.max_query_chars must be at least 1".into());
        }
        if self.server.read_timeout_s == 0 {
            problem("server.read_timeout_s must be at least 1".into());
        }

        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, api_key) in self.auth.api_keys.iter().enumerate() {
            let at = format!("auth.api_keys[{i}]");
            let key = api_key.key.expose();
            if key.trim().is_empty() {
                problem(format!("{at}.key is empty"));
            } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                problem(format!(
                    "{at}.key contains whitespace or control characters"
                ));
            } else if let Some(first) = seen.get(key) {
                problem(format!(
                    "{at}.key is the same as auth.api_keys[{first}].key"
                ));
            } else {
                seen.insert(key, i);
            }
            // A key bound to no field is an admin key: it may use every scope.
            let bound = [&api_key.user_id, &api_key.agent_id, &api_key.run_id];
            if bound.iter().any(|field| field.is_some()) {
                let scope = Scope::new(
                    api_key.user_id.clone(),
                    api_key.agent_id.clone(),
                    api_key.run_id.clone(),
                );
                if let Err(err) = scope {
                    problem(format!("{at}: {err}"));
                }
            }
        }
        problems
    }

    /// The configuration as TOML, secrets masked; unset optional keys are left out.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the configuration is representable as TOML")
    }
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    })
}

/// Checks one value against its key and puts it into `merged` as `section.key`.
fn set(merged: &mut Table, key: &Key, value: Value, origin: &Origin, problems: &mut Vec<String>) {
    if !(key.fits)(&value) {
        let shown = if key.secret {
            String::new()
        } else {
            format!(" = {value}")
        };
        problems.push(format!(
            "{}{shown} ({origin}): expected {}",
            key.path, key.expected
        ));
        return;
    }
    let (section, name) = key.path.split_once('.').expect("keys are section.key");
    let section = merged
        .entry(section)
        .or_insert_with(|| Value::Table(Table::new()));
    if let Value::Table(section) = section {
        section.insert(name.to_owned(), value);
    }
}

fn overlay_file(merged: &mut Table, file: Table, name: &str, problems: &mut Vec<String>) {
    let origin = Origin::File(name.to_owned());
    for (section, value) in file {
        let Value::Table(entries) = value else {
            problems.push(format!(
                "unknown key `{section}` in {name}; {}",
                known_keys_hint(&section)
            ));
            continue;
        };
        for (entry, value) in entries {
            let path = format!("{section}.{entry}");
            match find_key(&path) {
                Some(key) => set(merged, key, value, &origin, problems),
                None => problems.push(format!(
                    "unknown key `{path}` in {name}; {}",
                    known_keys_hint(&section)
                )),
            }
        }
    }
}

fn overlay_env(
    merged: &mut Table,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    problems: &mut Vec<String>,
) {
    // Sorted, so messages come out in a stable order.
    let mut vars: Vec<(String, OsString)> = env
        .into_iter()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    let mut set_by: BTreeMap<&'static str, String> = BTreeMap::new();
    for (var, value) in vars {
        let path = var[ENV_PREFIX.len()..]
            .to_ascii_lowercase()
            .replace("__", ".");
        let Some(key) = find_key(&path) else {
            let section = path.split('.').next().unwrap_or_default();
            problems.push(format!(
                "{var}: no configuration key `{path}`; {}",
                known_keys_hint(section)
            ));
            continue;
        };
        if let Some(first) = set_by.insert(key.path, var.clone()) {
            problems.push(format!("{var} and {first} both set {}", key.path));
            continue;
        }
        let Ok(text) = value.into_string() else {
            problems.push(format!("{var}: value is not valid UTF-8"));
            continue;
        };
        // An empty variable counts as unset (`MNEMO__LLM__API_KEY=${KEY:-}` in compose files).
        if text.is_empty() {
            continue;
        }
        let value = match key.env {
            EnvText::Verbatim => Value::String(text),
            EnvText::Toml => text.parse::<Value>().unwrap_or(Value::String(text)),
        };
        set(merged, key, value, &Origin::Env(var), problems);
    }
}
