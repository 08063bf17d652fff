//! `mnemo serve` refuses to start, with a non-zero exit and a message saying what to fix,
//! on a bad configuration, missing model files, an unbuilt backend or a taken address.

use std::net::TcpListener;

use crate::{mnemo, run};

#[track_caller]
fn check_fails(vars: &[(&str, &str)], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut all = vec![("MNEMO__STORE__PATH", store.to_str().unwrap())];
    all.extend_from_slice(vars);
    let (status, _stdout, stderr) = run(mnemo(&["serve"], dir.path(), &all));
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    for text in expected {
        assert!(stderr.contains(text), "no {text:?} in stderr:\n{stderr}");
    }
}

#[test]
fn bad_configuration_lists_every_problem() {
    check_fails(
        &[
            ("MNEMO__SERVER__ADDR", "localhost"),
            ("MNEMO__LLM__TIMEOUT_S", "0"),
            ("MNEMO__LLM__MODLE", "x"),
        ],
        &[
            "error: invalid configuration (3 problems):",
            "MNEMO__LLM__MODLE: no configuration key `llm.modle`",
            "server.addr = \"localhost\" (from MNEMO__SERVER__ADDR): expected an IP address and port",
            "llm.timeout_s must be at least 1",
        ],
    );
}

#[test]
fn bad_configuration_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mnemo.toml");
    std::fs::write(&file, "[store]\nbackend = \"sqlite\"\n").unwrap();
    let (status, _stdout, stderr) = run(mnemo(
        &["serve", "--config", file.to_str().unwrap()],
        dir.path(),
        &[],
    ));
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "store.backend = \"sqlite\" (in {}): expected one of \"embedded\", \"neo4j\"",
            file.display()
        )),
        "{stderr}"
    );
}

#[test]
fn missing_onnx_runtime_names_the_setup_command() {
    check_fails(
        &[
            ("MNEMO__SERVER__ADDR", "127.0.0.1:0"),
            (
                "MNEMO__EMBED__ORT_DYLIB_PATH",
                "/nonexistent/libonnxruntime.so.1.24.4",
            ),
        ],
        &[
            "cannot load the embedder",
            "/nonexistent/libonnxruntime.so.1.24.4",
            "make setup",
        ],
    );
}

#[test]
fn missing_model_names_the_setup_command() {
    check_fails(
        &[
            ("MNEMO__SERVER__ADDR", "127.0.0.1:0"),
            ("MNEMO__EMBED__MODEL_DIR", "/nonexistent/model"),
        ],
        &[
            "cannot load the embedder",
            "/nonexistent/model",
            "make setup",
        ],
    );
}

#[test]
fn unreachable_neo4j_fails_fast_and_names_it() {
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("bolt://127.0.0.1:{port}");
    check_fails(
        &[
            ("MNEMO__STORE__BACKEND", "neo4j"),
            ("MNEMO__NEO4J__URI", &uri),
            ("MNEMO__QDRANT__URL", &format!("http://127.0.0.1:{port}")),
        ],
        &[&format!("cannot use Neo4j at {uri} (neo4j.uri)")],
    );
}

#[test]
fn address_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    check_fails(
        &[("MNEMO__SERVER__ADDR", &addr)],
        &[&format!("cannot listen on {addr} (server.addr)")],
    );
}
