//! `mnemo export` and `mnemo import`: an export imported into an empty store exports the
//! same file again; a full scope is refused unless `--merge`; add requests and a LOCOMO
//! file are imported locally and through a running server.

use std::path::Path;

use serde_json::Value;

use crate::{Server, mnemo, run};

/// Runs `mnemo ARGS` with the store in `store`; exit code, stdout, stderr.
fn cli(dir: &Path, store: &str, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let store = dir.join(store);
    let mut all = vec![("MNEMO__STORE__PATH", store.to_str().unwrap())];
    all.extend_from_slice(vars);
    let (status, stdout, stderr) = run(mnemo(args, dir, &all));
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[track_caller]
fn ok(dir: &Path, store: &str, args: &[&str]) -> (String, String) {
    let (code, stdout, stderr) = cli(dir, store, args, &[]);
    assert_eq!(code, 0, "mnemo {args:?}\nstderr:\n{stderr}");
    (stdout, stderr)
}

/// `kind` of every line of an export, counted.
fn kinds(text: &str) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        *counts
            .entry(record["kind"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

fn search_facts(dir: &Path, store: &str, user: &str, query: &str) -> Vec<String> {
    let (stdout, _) = ok(
        dir,
        store,
        &["search", "--local", "--user-id", user, "--json", query],
    );
    let result: Value = serde_json::from_str(&stdout).unwrap();
    result["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for (user, text) in [
        ("alice", "user:I moved to Lisbon in March."),
        ("alice", "user:Bob Marley lives next door."),
        ("bob", "user:I collect vinyl records."),
    ] {
        ok(
            dir,
            "a",
            &[
                "add",
                "--local",
                "--no-infer",
                "--user-id",
                user,
                "-m",
                text,
            ],
        );
    }
    let (_, stderr) = ok(dir, "a", &["export", "--out", "all.jsonl"]);
    assert!(stderr.contains("of 2 scopes"), "{stderr}");
    let all = std::fs::read_to_string(dir.join("all.jsonl")).unwrap();
    assert!(!dir.join("all.jsonl.partial").exists());
    assert_eq!(
        kinds(&all),
        [
            ("entity".to_owned(), 2),
            ("episode".to_owned(), 3),
            ("fact".to_owned(), 3),
            ("fact_event".to_owned(), 3),
            ("mention".to_owned(), 2),
        ]
    );

    // One user's scopes only; to stdout.
    let (bob, _) = ok(dir, "a", &["export", "--out", "-", "--user-id", "bob"]);
    assert_eq!(bob.lines().count(), 3, "{bob}");
    assert!(
        bob.lines()
            .all(|l| l.contains(r#""scope":{"user_id":"bob"}"#)),
        "{bob}"
    );

    // Into an empty store, and out again: the same file, byte for byte.
    let (_, stderr) = ok(dir, "b", &["import", "all.jsonl"]);
    assert!(
        stderr.contains(
            "imported 2 scopes: 3 episodes, 2 entities, 0 relations, 2 mentions, 3 facts"
        ),
        "{stderr}"
    );
    ok(dir, "b", &["export", "--out", "again.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("again.jsonl")).unwrap(),
        all
    );
    assert_eq!(
        search_facts(dir, "b", "alice", "Where did I move?")
            .first()
            .map(String::as_str),
        Some("I moved to Lisbon in March.")
    );

    // The store now holds those scopes: refused, then merged (nothing new).
    let (code, _, stderr) = cli(dir, "b", &["import", "all.jsonl"], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already holds data"), "{stderr}");
    let (_, stderr) = ok(dir, "b", &["import", "all.jsonl", "--merge"]);
    assert!(
        stderr.contains("records already stored were kept"),
        "{stderr}"
    );
    ok(dir, "b", &["export", "--out", "merged.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("merged.jsonl")).unwrap(),
        all
    );

    // A broken file is named by line, and nothing is imported.
    std::fs::write(
        dir.join("broken.jsonl"),
        format!("{all}{{\"kind\":\"planet\"}}\n"),
    )
    .unwrap();
    let (code, _, stderr) = cli(dir, "c", &["import", "broken.jsonl"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("broken.jsonl line {}", all.lines().count() + 1)),
        "{stderr}"
    );
}

const LOCOMO: &str = r#"[{
  "sample_id": "conv-1",
  "qa": [{"question": "Where did Caroline go?", "answer": "Lisbon", "evidence": ["D1:1"], "category": 4}],
  "conversation": {
    "speaker_a": "Caroline", "speaker_b": "Melanie",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
      {"speaker": "Caroline", "dia_id": "D1:1", "text": "I just got back from a trip to Lisbon!"},
      {"speaker": "Melanie", "dia_id": "D1:2", "text": "Lovely. I painted a sunrise last week."}
    ],
    "session_2_date_time": "10:37 am on 27 June, 2023",
    "session_2": [
      {"speaker": "Melanie", "dia_id": "D2:1", "text": "My daughter started violin lessons."}
    ]
  }
}]"#;

#[test]
fn import_add_requests_and_locomo() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("locomo.json"), LOCOMO).unwrap();
    let (_, stderr) = ok(dir, "s", &["import", "--format", "locomo", "locomo.json"]);
    assert!(
        stderr.contains("2 adds: 2 done, 0 failed, 0 pending, 0 already added"),
        "{stderr}"
    );
    // Sessions carry idempotency keys: a second import adds nothing.
    let (_, stderr) = ok(dir, "s", &["import", "--format", "locomo", "locomo.json"]);
    assert!(
        stderr.contains("2 adds: 0 done, 0 failed, 0 pending, 2 already added"),
        "{stderr}"
    );
    assert_eq!(
        search_facts(dir, "s", "conv-1", "violin")
            .first()
            .map(String::as_str),
        Some("My daughter started violin lessons.")
    );
    let (episodes, _) = ok(dir, "s", &["export", "--out", "-"]);
    let occurred: Vec<String> = episodes
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "episode")
        .map(|r| r["occurred_at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(occurred, ["2023-05-08T13:56:00Z", "2023-06-27T10:37:00Z"]);

    // Add requests; a line without scope takes the flags'.
    std::fs::write(
        dir.join("adds.jsonl"),
        concat!(
            r#"{"messages":[{"role":"user","content":"I am allergic to peanuts."}],"user_id":"dana"}"#,
            "\n\n",
            r#"{"messages":[{"role":"user","content":"I keep bees."}],"occurred_at":"2024-01-02T00:00:00Z"}"#,
            "\n",
        ),
    )
    .unwrap();
    let (_, stderr) = ok(
        dir,
        "s",
        &[
            "import",
            "--format",
            "messages",
            "adds.jsonl",
            "--user-id",
            "erin",
        ],
    );
    assert!(stderr.contains("2 adds: 2 done"), "{stderr}");
    assert_eq!(
        search_facts(dir, "s", "dana", "peanuts"),
        ["I am allergic to peanuts."]
    );
    assert_eq!(search_facts(dir, "s", "erin", "bees"), ["I keep bees."]);

    // Through a running server instead of the store.
    let server = Server::start(&[]);
    assert_eq!(server.wait_ready().status, 200);
    let url = format!("http://{}", server.addr);
    let (_, stderr) = ok(
        dir,
        "unused",
        &["import", "--format", "locomo", "locomo.json", "--url", &url],
    );
    assert!(stderr.contains("2 adds: 2 done"), "{stderr}");
    let (_, stderr) = ok(
        dir,
        "unused",
        &[
            "import",
            "--format",
            "messages",
            "adds.jsonl",
            "--url",
            &url,
            "--user-id",
            "erin",
        ],
    );
    assert!(stderr.contains("2 adds: 2 done"), "{stderr}");
    let (stdout, _) = ok(
        dir,
        "unused",
        &[
            "search",
            "--url",
            &url,
            "--user-id",
            "conv-1",
            "--json",
            "violin",
        ],
    );
    let found: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        found["facts"][0]["text"],
        "My daughter started violin lessons."
    );
    assert!(!dir.join("unused").exists(), "--url never opens a store");
    server.signal(rustix::process::Signal::TERM);
    let (status, log) = server.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("no API keys configured (auth.api_keys): the service is open"),
        "{log}"
    );

    // Flags that do not fit the format.
    for (args, expected) in [
        (
            &["import", "all.jsonl", "--url", "http://x"][..],
            "stop `mnemo serve`",
        ),
        (
            &["import", "--format", "locomo", "locomo.json", "--merge"][..],
            "--merge applies",
        ),
        (
            &[
                "import",
                "--format",
                "locomo",
                "locomo.json",
                "--user-id",
                "x",
            ][..],
            "names its scopes",
        ),
    ] {
        let (code, _, stderr) = cli(dir, "s", args, &[]);
        assert_eq!(code, 1, "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
