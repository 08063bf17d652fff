//! Data-driven tests of configuration loading: a file, some variables, and the effective
//! keys or the exact list of problems.

use std::collections::BTreeSet;
use std::ffi::OsString;

use toml::{Table, Value};

use super::*;

fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    vars.iter()
        .map(|(name, value)| (OsString::from(name), OsString::from(value)))
        .collect()
}

fn load(file: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = (!file.is_empty()).then_some(("mnemo.toml", file));
    Config::from_sources(file, env(vars))
}

/// `section.key = value` for every key of the effective (masked) configuration.
fn flatten(config: &Config) -> Vec<String> {
    let table: Table = config.to_toml().parse().expect("to_toml output parses");
    let mut lines = Vec::new();
    for (section, entries) in table {
        let Value::Table(entries) = entries else {
            panic!("top-level `{section}` is not a table")
        };
        for (key, value) in entries {
            lines.push(format!("{section}.{key} = {value}"));
        }
    }
    lines
}

/// Loads and expects success, with each of `expected` among the effective keys.
#[track_caller]
fn check_ok(file: &str, vars: &[(&str, &str)], expected: &[&str]) {
    let config = match load(file, vars) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid configuration, got: {err}"),
    };
    let actual = flatten(&config);
    for line in expected {
        assert!(
            actual.iter().any(|l| l == line),
            "missing `{line}` in the effective configuration:\n{}",
            actual.join("\n")
        );
    }
}

/// Loads and expects exactly these problems, in order.
#[track_caller]
fn check_err(file: &str, vars: &[(&str, &str)], expected: &[&str]) {
    match load(file, vars) {
        Ok(config) => panic!(
            "expected problems, got a valid configuration:\n{}",
            config.to_toml()
        ),
        Err(err) => assert_eq!(err.problems, expected, "\n{err}"),
    }
}

#[test]
fn defaults() {
    let config = load("", &[]).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(
        flatten(&config),
        [
            "auth.api_keys = []",
            "embed.max_waiting = 256",
            "embed.model = \"all-MiniLM-L6-v2\"",
            "embed.ort_dylib_path = \".deps/python/onnxruntime/capi/libonnxruntime.so.1.24.4\"",
            "embed.sessions = 2",
            "llm.max_retries = 2",
            "llm.output = \"auto\"",
            "llm.timeout_s = 60",
            "server.addr = \"127.0.0.1:8420\"",
            "server.max_body_bytes = 2097152",
            "server.max_query_chars = 4096",
            "server.read_timeout_s = 30",
            "store.backend = \"embedded\"",
            "store.path = \"./mnemo-data\"",
        ]
    );
}

#[test]
fn file_values() {
    check_ok(
        "[server]\naddr = \"0.0.0.0:0\"",
        &[],
        &["server.addr = \"0.0.0.0:0\""],
    );
    check_ok(
        "[llm]\nbase_url = \"http://localhost:9000/v1\"\nmodel = \"m\"\noutput = \"json_schema\"\ntimeout_s = 5\nmax_retries = 0",
        &[],
        &[
            "llm.base_url = \"http://localhost:9000/v1\"",
            "llm.model = \"m\"",
            "llm.output = \"json_schema\"",
            "llm.timeout_s = 5",
            "llm.max_retries = 0",
        ],
    );
    check_ok(
        "store.backend = \"neo4j\"\nneo4j.uri = \"bolt://db:7687\"\nneo4j.user = \"neo4j\"\nqdrant.url = \"http://q:6334\"",
        &[],
        &[
            "store.backend = \"neo4j\"",
            "neo4j.uri = \"bolt://db:7687\"",
            "neo4j.user = \"neo4j\"",
            "qdrant.url = \"http://q:6334\"",
        ],
    );
    check_ok(
        "[ontology]\nfile = \"onto.toml\"\n[embed]\nmodel_dir = \"/m\"",
        &[],
        &["ontology.file = \"onto.toml\"", "embed.model_dir = \"/m\""],
    );
}

#[test]
fn max_body_bytes() {
    check_ok(
        "[server]\nmax_body_bytes = 65536",
        &[],
        &["server.max_body_bytes = 65536"],
    );
    check_ok(
        "[server]\nmax_body_bytes = 65536",
        &[("MNEMO__SERVER__MAX_BODY_BYTES", "1024")],
        &["server.max_body_bytes = 1024"],
    );
    check_err(
        "[server]\nmax_body_bytes = 1023",
        &[],
        &["server.max_body_bytes = 1023 is too small; at least 1024 bytes"],
    );
    check_err(
        "",
        &[("MNEMO__SERVER__MAX_BODY_BYTES", "2MiB")],
        &[
            "server.max_body_bytes = \"2MiB\" (from MNEMO__SERVER__MAX_BODY_BYTES): expected a whole number of bytes",
        ],
    );
    check_err(
        "[server]\nmax_body_bytes = -1",
        &[],
        &["server.max_body_bytes = -1 (in mnemo.toml): expected a whole number of bytes"],
    );
}

#[test]
fn env_overrides_file_and_defaults() {
    check_ok(
        "[server]\naddr = \"0.0.0.0:1\"",
        &[("MNEMO__SERVER__ADDR", "127.0.0.1:0")],
        &["server.addr = \"127.0.0.1:0\""],
    );
    // Section and key are case-insensitive; numbers are parsed.
    check_ok(
        "",
        &[
            ("MNEMO__llm__Timeout_S", "30"),
            ("MNEMO__LLM__MAX_RETRIES", "5"),
        ],
        &["llm.timeout_s = 30", "llm.max_retries = 5"],
    );
    // Strings are taken verbatim, even when they look like numbers.
    check_ok(
        "",
        &[
            ("MNEMO__STORE__PATH", "123"),
            ("MNEMO__NEO4J__DATABASE", "true"),
        ],
        &["store.path = \"123\"", "neo4j.database = \"true\""],
    );
    // An empty variable counts as unset.
    check_ok(
        "[llm]\ntimeout_s = 7",
        &[("MNEMO__LLM__TIMEOUT_S", ""), ("MNEMO__LLM__API_KEY", "")],
        &["llm.timeout_s = 7"],
    );
    // Other variables are none of our business.
    check_ok(
        "",
        &[
            ("MNEMO_CONFIG", "x.toml"),
            ("PATH", "/bin"),
            ("MNEMO_X", "1"),
        ],
        &["server.addr = \"127.0.0.1:8420\""],
    );
    check_ok(
        "",
        &[(
            "MNEMO__AUTH__API_KEYS",
            "[{ key = \"k1\", user_id = \"alice\" }, { key = \"k2\", agent_id = \"bot\", run_id = \"r\" }]",
        )],
        &[
            "auth.api_keys = [{ key = \"********\", user_id = \"alice\" }, { agent_id = \"bot\", key = \"********\", run_id = \"r\" }]",
        ],
    );
}

#[test]
fn secrets_are_masked() {
    let config = load(
        "[llm]\nbase_url = \"https://x/v1\"\nmodel = \"m\"\napi_key = \"sk-llm\"\n\
         [neo4j]\npassword = \"pw-neo\"\n[qdrant]\napi_key = \"qd-key\"\n\
         [[auth.api_keys]]\nkey = \"auth-key\"\nuser_id = \"u\"",
        &[],
    )
    .unwrap();
    assert_eq!(config.llm.api_key.as_ref().unwrap().expose(), "sk-llm");
    assert_eq!(config.auth.api_keys[0].key.expose(), "auth-key");
    let shown = format!("{}\n{config:?}", config.to_toml());
    for secret in ["sk-llm", "pw-neo", "qd-key", "auth-key"] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    check_ok(
        "[neo4j]\npassword = \"pw\"\n[qdrant]\napi_key = \"q\"",
        &[
            ("MNEMO__LLM__API_KEY", "sk"),
            ("MNEMO__LLM__BASE_URL", "http://l"),
            ("MNEMO__LLM__MODEL", "m"),
        ],
        &[
            "neo4j.password = \"********\"",
            "qdrant.api_key = \"********\"",
            "llm.api_key = \"********\"",
        ],
    );
}

#[test]
fn unknown_keys_are_named() {
    check_err(
        "verbose = true\n[llm]\nmodle = \"m\"\n[server]\nport = 1\n[cache]\nsize = 1",
        &[],
        &[
            "unknown key `cache.size` in mnemo.toml; sections are server, store, neo4j, qdrant, llm, embed, auth, ontology",
            "unknown key `llm.modle` in mnemo.toml; keys of [llm] are base_url, model, api_key, output, timeout_s, max_retries, prompts_dir",
            "unknown key `server.port` in mnemo.toml; keys of [server] are addr, max_body_bytes, max_concurrent_searches, max_query_chars, read_timeout_s",
            "unknown key `verbose` in mnemo.toml; sections are server, store, neo4j, qdrant, llm, embed, auth, ontology",
        ],
    );
    check_err(
        "",
        &[
            ("MNEMO__LLM__MODLE", "m"),
            ("MNEMO__SERVER", "x"),
            ("MNEMO__SERVER__ADDR__PORT", "1"),
        ],
        &[
            "MNEMO__LLM__MODLE: no configuration key `llm.modle`; keys of [llm] are base_url, model, api_key, output, timeout_s, max_retries, prompts_dir",
            "MNEMO__SERVER: no configuration key `server`; keys of [server] are addr, max_body_bytes, max_concurrent_searches, max_query_chars, read_timeout_s",
            "MNEMO__SERVER__ADDR__PORT: no configuration key `server.addr.port`; keys of [server] are addr, max_body_bytes, max_concurrent_searches, max_query_chars, read_timeout_s",
        ],
    );
    check_err(
        "",
        &[("MNEMO__LLM__MODEL", "a"), ("MNEMO__llm__model", "b")],
        &[
            "MNEMO__llm__model and MNEMO__LLM__MODEL both set llm.model",
            // Well-typed values are still checked together.
            "llm.model is set but llm.base_url is not",
        ],
    );
}

#[test]
fn values_of_the_wrong_type() {
    check_err(
        "[server]\naddr = \"localhost\"\n[llm]\ntimeout_s = \"60\"\noutput = \"xml\"\n[store]\nbackend = \"mysql\"\npath = 5",
        &[("MNEMO__LLM__MAX_RETRIES", "-1")],
        &[
            "llm.output = \"xml\" (in mnemo.toml): expected one of \"tools\", \"json_schema\", \"auto\"",
            "llm.timeout_s = \"60\" (in mnemo.toml): expected a whole number of seconds",
            "server.addr = \"localhost\" (in mnemo.toml): expected an IP address and port such as 127.0.0.1:8420",
            "store.backend = \"mysql\" (in mnemo.toml): expected one of \"embedded\", \"neo4j\"",
            "store.path = 5 (in mnemo.toml): expected a path",
            "llm.max_retries = -1 (from MNEMO__LLM__MAX_RETRIES): expected a whole number, 0 or more",
        ],
    );
    check_err(
        "",
        &[
            ("MNEMO__LLM__TIMEOUT_S", "soon"),
            ("MNEMO__SERVER__ADDR", "1.2.3.4"),
        ],
        &[
            "llm.timeout_s = \"soon\" (from MNEMO__LLM__TIMEOUT_S): expected a whole number of seconds",
            "server.addr = \"1.2.3.4\" (from MNEMO__SERVER__ADDR): expected an IP address and port such as 127.0.0.1:8420",
        ],
    );
    // Secret values are never echoed.
    check_err(
        "[neo4j]\npassword = 1234\n[auth]\napi_keys = [\"sk-plain\"]",
        &[],
        &[
            "auth.api_keys (in mnemo.toml): expected an array of tables like [{ key = \"…\", user_id = \"…\" }] with the fields key, user_id, agent_id, run_id",
            "neo4j.password (in mnemo.toml): expected a string",
        ],
    );
    check_err(
        "[[auth.api_keys]]\nkey = \"k\"\nuser = \"alice\"",
        &[],
        &[
            "auth.api_keys (in mnemo.toml): expected an array of tables like [{ key = \"…\", user_id = \"…\" }] with the fields key, user_id, agent_id, run_id",
        ],
    );
}

#[test]
fn syntax_errors_name_the_file() {
    let err = load("[server\naddr = 1", &[]).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(
        err.problems[0].starts_with("cannot parse mnemo.toml: "),
        "{err}"
    );
    // Variables are still checked, and all problems are reported together.
    let err = load("[server\n", &[("MNEMO__NOPE", "1")]).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
}

#[test]
fn an_embedder_without_sessions_or_room_is_refused() {
    check_err(
        "[embed]\nsessions = 0\nmax_waiting = 0",
        &[],
        &[
            "embed.sessions must be at least 1",
            "embed.max_waiting must be at least 1",
        ],
    );
}

#[test]
fn search_admission_is_set_or_follows_the_backend() {
    check_err(
        "[server]\nmax_concurrent_searches = 0",
        &[],
        &["server.max_concurrent_searches must be at least 1"],
    );
    let set = load("[server]\nmax_concurrent_searches = 3", &[]).unwrap();
    assert_eq!(set.max_concurrent_searches(), 3);
    // Unset: per core, four times as many on the remote stores, where a search mostly
    // waits for them.
    let embedded = load("", &[]).unwrap().max_concurrent_searches();
    let remote = load(
        "store.backend = \"neo4j\"\nneo4j.uri = \"bolt://db:7687\"\nqdrant.url = \"http://q:6334\"",
        &[],
    )
    .unwrap()
    .max_concurrent_searches();
    assert!(embedded >= 1);
    assert_eq!(remote, 4 * embedded);
}

#[test]
fn invalid_combinations_are_all_reported() {
    check_err(
        "store.backend = \"neo4j\"\nllm.timeout_s = 0\nllm.base_url = \"localhost:8000\"",
        &[],
        &[
            "neo4j.uri is required when store.backend = \"neo4j\"",
            "qdrant.url is required when store.backend = \"neo4j\"",
            "llm.base_url = \"localhost:8000\" is not an http:// or https:// URL such as https://api.openai.com/v1",
            "llm.model is required when llm.base_url is set",
            "llm.timeout_s must be at least 1",
        ],
    );
    check_err(
        "llm.model = \"gpt\"\nllm.api_key = \"k\"",
        &[],
        &[
            "llm.model is set but llm.base_url is not",
            "llm.api_key is set but llm.base_url is not",
        ],
    );
    check_err(
        "neo4j.uri = \"http://db:7474\"\nqdrant.url = \"q:6334\"",
        &[],
        &[
            "neo4j.uri = \"http://db:7474\" is not a Bolt URI such as bolt://localhost:7687 (schemes: bolt, bolt+s, bolt+ssc, neo4j, neo4j+s, neo4j+ssc)",
            "qdrant.url = \"q:6334\" is not an http:// or https:// URL such as http://localhost:6334",
        ],
    );
    check_err(
        "neo4j.user = \"\"\nllm.api_key = \" \"\nstore.path = \"\"\nontology.file = \"\"",
        &[],
        &[
            "neo4j.user is empty; remove it or give it a value",
            "llm.api_key is empty; remove it or give it a value",
            "store.path is empty",
            "ontology.file is empty",
            "llm.api_key is set but llm.base_url is not",
        ],
    );
}

#[test]
fn api_keys_need_a_key_and_may_be_bound_to_nothing() {
    check_ok(
        "[[auth.api_keys]]\nkey = \"a\"\nuser_id = \"alice\"\n[[auth.api_keys]]\nkey = \"b\"\nrun_id = \"r1\"\n[[auth.api_keys]]\nkey = \"admin\"",
        &[],
        &[
            "auth.api_keys = [{ key = \"********\", user_id = \"alice\" }, { key = \"********\", run_id = \"r1\" }, { key = \"********\" }]",
        ],
    );
    check_err(
        "[[auth.api_keys]]\nkey = \"\"\nuser_id = \"alice\"\n\
         [[auth.api_keys]]\nkey = \"k1\"\n\
         [[auth.api_keys]]\nkey = \"k1\"\nagent_id = \"\"\n\
         [[auth.api_keys]]\nkey = \"k 2\"\nuser_id = \"bob\"",
        &[],
        &[
            "auth.api_keys[0].key is empty",
            "auth.api_keys[2].key is the same as auth.api_keys[1].key",
            "auth.api_keys[2]: scope field `agent_id` must be 1 to 256 characters, not only white space, and free of control characters",
            "auth.api_keys[3].key contains whitespace or control characters",
        ],
    );
}

/// Every field of [`Config`] is in [`KEYS`] and vice versa, so every key can be set from
/// the environment and is checked before deserialising.
#[test]
fn keys_table_matches_the_struct() {
    let full = Config {
        neo4j: Neo4jConfig {
            uri: Some("bolt://x".into()),
            user: Some("u".into()),
            password: Some(Secret("p".into())),
            database: Some("d".into()),
        },
        qdrant: QdrantConfig {
            url: Some("http://q".into()),
            api_key: Some(Secret("k".into())),
        },
        llm: LlmConfig {
            base_url: Some("http://l".into()),
            model: Some("m".into()),
            api_key: Some(Secret("k".into())),
            prompts_dir: Some("prompts".into()),
            ..LlmConfig::default()
        },
        ontology: OntologyConfig {
            file: Some("o.toml".into()),
        },
        embed: EmbedConfig {
            model_dir: Some("models".into()),
            ..EmbedConfig::default()
        },
        server: ServerConfig {
            max_concurrent_searches: Some(3),
            ..ServerConfig::default()
        },
        ..Config::default()
    };
    let from_struct: BTreeSet<String> = flatten(&full)
        .into_iter()
        .map(|line| line.split(" = ").next().unwrap().to_owned())
        .collect();
    let from_table: BTreeSet<String> = KEYS.iter().map(|key| key.path.to_owned()).collect();
    assert_eq!(from_struct, from_table);
    // And every key can be set through its variable.
    let vars: Vec<(String, String)> = KEYS
        .iter()
        .filter(|key| key.path != "auth.api_keys")
        .map(|key| {
            let var = format!("MNEMO__{}", key.path.replace('.', "__").to_uppercase());
            let value = full_value(&full, key.path);
            (var, value)
        })
        .collect();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let loaded = load("", &vars).unwrap();
    assert_eq!(flatten(&loaded), flatten(&full));
}

/// The text of `path`'s value in `config`, as an environment variable would carry it.
fn full_value(config: &Config, path: &str) -> String {
    let table: Table = toml::to_string(config).unwrap().parse().unwrap();
    let (section, key) = path.split_once('.').unwrap();
    match &table[section][key] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[test]
fn error_display_lists_every_problem() {
    let one = ConfigError {
        problems: vec!["a".into()],
    };
    assert_eq!(one.to_string(), "invalid configuration: a");
    let two = ConfigError {
        problems: vec!["a".into(), "b".into()],
    };
    assert_eq!(
        two.to_string(),
        "invalid configuration (2 problems):\n  - a\n  - b"
    );
}

#[test]
fn the_embedding_model_is_named_and_its_files_default_to_its_setup_folder() {
    check_ok(
        "",
        &[("MNEMO__EMBED__MODEL", "all-mpnet-base-v2")],
        &["embed.model = \"all-mpnet-base-v2\""],
    );
    let config = load("[embed]\nmodel = \"all-mpnet-base-v2\"", &[]).unwrap();
    let embed = crate::compose::embed_config(&config);
    assert_eq!(embed.model, mnemo_fastembed::Model::MpnetBaseV2);
    assert_eq!(
        embed.model_dir,
        std::path::Path::new(".deps/models/all-mpnet-base-v2")
    );
    let config = load(
        "[embed]\nmodel = \"all-mpnet-base-v2\"\nmodel_dir = \"/m\"",
        &[],
    )
    .unwrap();
    assert_eq!(
        crate::compose::embed_config(&config).model_dir,
        std::path::Path::new("/m")
    );
    check_err(
        "",
        &[("MNEMO__EMBED__MODEL", "bge-small")],
        &[
            "embed.model = \"bge-small\" (from MNEMO__EMBED__MODEL): expected one of \"all-MiniLM-L6-v2\", \"all-mpnet-base-v2\"",
        ],
    );
}
