//! `mnemo config check` prints the effective configuration as TOML with secrets masked,
//! reading the file from `--config` or `MNEMO_CONFIG`.

use crate::{mnemo, run};

const FILE: &str = r#"
[server]
addr = "0.0.0.0:9000"

[llm]
base_url = "https://llm.example/v1"
model = "small"
api_key = "sk-file-secret"

[neo4j]
password = "neo-secret"

[[auth.api_keys]]
key = "auth-secret"
user_id = "alice"
"#;

#[test]
fn prints_the_effective_configuration_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mnemo.toml");
    std::fs::write(&file, FILE).unwrap();
    let file = file.to_str().unwrap();
    let env_secret = [
        ("MNEMO__QDRANT__API_KEY", "qdrant-secret"),
        ("MNEMO__LLM__TIMEOUT_S", "15"),
    ];

    let by_flag = mnemo(
        &["config", "check", "--config", file],
        dir.path(),
        &env_secret,
    );
    let by_env = {
        let mut vars = env_secret.to_vec();
        vars.push(("MNEMO_CONFIG", file));
        mnemo(&["config", "check"], dir.path(), &vars)
    };
    for command in [by_flag, by_env] {
        let (status, stdout, stderr) = run(command);
        assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
        let printed: toml::Table = stdout.parse().expect("the output is TOML");
        assert_eq!(printed["server"]["addr"].as_str(), Some("0.0.0.0:9000"));
        assert_eq!(printed["llm"]["model"].as_str(), Some("small"));
        assert_eq!(printed["llm"]["timeout_s"].as_integer(), Some(15));
        assert_eq!(printed["llm"]["max_retries"].as_integer(), Some(2));
        assert_eq!(printed["store"]["backend"].as_str(), Some("embedded"));
        assert_eq!(printed["llm"]["api_key"].as_str(), Some("********"));
        assert_eq!(printed["qdrant"]["api_key"].as_str(), Some("********"));
        assert_eq!(printed["neo4j"]["password"].as_str(), Some("********"));
        assert_eq!(
            printed["auth"]["api_keys"][0]["key"].as_str(),
            Some("********")
        );
        for secret in [
            "sk-file-secret",
            "neo-secret",
            "auth-secret",
            "qdrant-secret",
        ] {
            assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
        }
    }
}

#[test]
fn reports_problems_without_printing() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stdout, stderr) = run(mnemo(
        &["config", "check"],
        dir.path(),
        &[("MNEMO__LLM__BASE_URL", "ftp://x")],
    ));
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("invalid configuration (2 problems):"),
        "{stderr}"
    );
    assert!(
        stderr.contains("llm.base_url = \"ftp://x\" is not an http:// or https:// URL"),
        "{stderr}"
    );
    assert!(
        stderr.contains("llm.model is required when llm.base_url is set"),
        "{stderr}"
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _stdout, stderr) = run(mnemo(
        &["config", "check", "--config", "nope.toml"],
        dir.path(),
        &[],
    ));
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("cannot read config file nope.toml"),
        "{stderr}"
    );
}
