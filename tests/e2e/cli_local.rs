//! `mnemo add` and `mnemo search`: with `--local` on the store folder directly, and over
//! HTTP against a running `mnemo serve` (with an API key), printing the same results.

use std::path::Path;

use serde_json::Value;

use crate::{Server, mnemo, run};

/// Runs `mnemo ARGS` on the store in `dir/store`; exit code, stdout, stderr.
fn cli(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let store = dir.join("store");
    let mut all = vec![("MNEMO__STORE__PATH", store.to_str().unwrap())];
    all.extend_from_slice(vars);
    let (status, stdout, stderr) = run(mnemo(args, dir, &all));
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[track_caller]
fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli(dir, args, &[]);
    assert_eq!(code, 0, "mnemo {args:?}\nstderr:\n{stderr}");
    stdout
}

#[track_caller]
fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

/// The JSON's keys and value types, every array as its first element.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => Value::Null,
    }
}

fn fact_texts(result: &Value) -> Vec<&str> {
    result["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect()
}

#[test]
fn add_then_search_locally() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let added = ok(
        dir,
        &[
            "add",
            "--local",
            "--user-id",
            "alice",
            "--no-infer",
            "--json",
            "--occurred-at",
            "2024-03-05",
            "-m",
            "user:I moved to Lisbon in March.",
            "-m",
            "user:Bob Marley is my neighbour.",
        ],
    );
    let added = json(&added);
    assert_eq!(added["status"], "done", "{added}");
    assert_eq!(added["duplicate"], false);
    let texts: Vec<&str> = added["facts"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["I moved to Lisbon in March.", "Bob Marley is my neighbour."]
    );

    // A readable add, from a file holding a whole request.
    let file = dir.join("add.json");
    std::fs::write(
        &file,
        r#"{"messages":[{"role":"user","content":"I play chess on Sundays."}],"user_id":"alice","infer":false,"metadata":{"via":"file"}}"#,
    )
    .unwrap();
    let printed = ok(dir, &["add", "--local", "--file", file.to_str().unwrap()]);
    assert!(printed.starts_with("episode "), "{printed}");
    assert!(printed.contains(": done\n"), "{printed}");
    assert!(
        printed.contains("  + fact: I play chess on Sundays.\n"),
        "{printed}"
    );

    let found = json(&ok(
        dir,
        &[
            "search",
            "--local",
            "--user-id",
            "alice",
            "--json",
            "Where did I move?",
        ],
    ));
    let texts = fact_texts(&found);
    assert_eq!(
        texts.first(),
        Some(&"I moved to Lisbon in March."),
        "{found}"
    );
    for key in [
        "relations",
        "facts",
        "subgraph",
        "context",
        "linked_entities",
    ] {
        assert!(found.get(key).is_some(), "no {key} in {found}");
    }
    assert!(found["facts"][0]["score"].as_f64().unwrap() > 0.0);

    let printed = ok(
        dir,
        &[
            "search",
            "--local",
            "--user-id",
            "alice",
            "--limit",
            "1",
            "chess",
        ],
    );
    assert!(printed.starts_with("facts:\n"), "{printed}");
    assert!(printed.contains("I play chess on Sundays."), "{printed}");

    // Another scope sees nothing.
    let printed = ok(dir, &["search", "--local", "--user-id", "bob", "chess"]);
    assert_eq!(printed, "nothing found\n");
}

#[test]
fn local_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Usage errors (clap) exit 2, failures 1.
    let check = |args: &[&str], code: i32, expected: &str| {
        let (got, stdout, stderr) = cli(dir, args, &[]);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    };
    check(
        &["add", "--local", "--user-id", "alice", "-m", "user:hello"],
        1,
        "no LLM is configured",
    );
    check(
        &["add", "--local", "--no-infer", "-m", "user:hello"],
        1,
        "a scope is needed",
    );
    check(
        &["add", "--local", "--user-id", "a", "-m", "hello"],
        2,
        "is not ROLE:TEXT",
    );
    check(&["add", "--local", "--user-id", "a"], 2, "Usage");
    check(
        &[
            "search",
            "--local",
            "--user-id",
            "a",
            "--as-of",
            "soon",
            "x",
        ],
        2,
        "is not a time",
    );
    check(
        &["search", "--local", "--user-id", "a", "--depth", "7", "x"],
        1,
        "depth must be between 1 and 3",
    );
    check(
        &[
            "search",
            "--local",
            "--url",
            "http://127.0.0.1:1",
            "--user-id",
            "a",
            "x",
        ],
        2,
        "cannot be used with",
    );
    check(
        &[
            "search",
            "--user-id",
            "a",
            "--url",
            "http://127.0.0.1:1",
            "x",
        ],
        1,
        "cannot reach mnemo at http://127.0.0.1:1/",
    );
}

#[test]
fn add_and_search_through_a_server_with_an_api_key() {
    let server = Server::start(&[(
        "MNEMO__AUTH__API_KEYS",
        r#"[{ key = "k-alice", user_id = "alice" }]"#,
    )]);
    assert_eq!(server.wait_ready().status, 200);
    let url = format!("http://{}", server.addr);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let key = [("MNEMO_API_KEY", "k-alice")];

    let (code, stdout, stderr) = cli(
        dir,
        &[
            "add",
            "--url",
            &url,
            "--user-id",
            "alice",
            "--no-infer",
            "--json",
            "-m",
            "user:I moved to Lisbon in March.",
        ],
        &key,
    );
    assert_eq!(code, 0, "{stderr}");
    let added = json(&stdout);
    assert_eq!(added["status"], "done", "{added}");

    let (code, stdout, stderr) = cli(
        dir,
        &[
            "search",
            "--url",
            &url,
            "--user-id",
            "alice",
            "--json",
            "Where did I move?",
        ],
        &key,
    );
    assert_eq!(code, 0, "{stderr}");
    let remote_search = stdout.clone();
    assert_eq!(
        fact_texts(&json(&stdout)).first(),
        Some(&"I moved to Lisbon in March.")
    );

    // `--local` prints the API's shape: same keys, same types, at every level.
    let (_, local_add, _) = cli(
        dir,
        &[
            "add",
            "--local",
            "--user-id",
            "alice",
            "--no-infer",
            "--json",
            "-m",
            "user:I moved to Lisbon in March.",
        ],
        &[],
    );
    assert_eq!(shape(&json(&local_add)), shape(&added));
    let (_, local_search, _) = cli(
        dir,
        &[
            "search",
            "--local",
            "--user-id",
            "alice",
            "--json",
            "Where did I move?",
        ],
        &[],
    );
    assert_eq!(shape(&json(&local_search)), shape(&json(&remote_search)));

    // The server's errors come back as its code and message.
    let (code, _, stderr) = cli(
        dir,
        &["search", "--url", &url, "--user-id", "bob", "x"],
        &key,
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("error: 403 forbidden: "), "{stderr}");
    let (code, _, stderr) = cli(
        dir,
        &[
            "search",
            "--url",
            &url,
            "--user-id",
            "alice",
            "--api-key",
            "wrong",
            "x",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("error: 401 unauthorized: "), "{stderr}");
}
