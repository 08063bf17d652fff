//! `mnemo serve` starts on port 0, answers `/healthz` and `/readyz`, and exits 0 on
//! SIGTERM or SIGINT (ctrl-c).

use rustix::process::Signal;
use serde_json::json;

use crate::Server;

fn serve_and_stop_with(signal: Signal, name: &str) {
    let server = Server::start(&[]);

    let health = server.get("/healthz");
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    assert!(
        health.headers.contains("\r\nx-request-id: "),
        "{}",
        health.headers
    );

    let ready = server.wait_ready();
    assert_eq!(
        (ready.status, ready.json()),
        (
            200,
            json!({
                "status": "ready",
                "checks": {"graph_store": "ok", "vector_store": "ok", "embedder": "ok"}
            })
        )
    );

    let missing = server.get("/v1/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");

    assert!(
        server.dir.path().join("store").is_dir(),
        "the store folder is created"
    );

    server.signal(signal);
    let (status, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    for expected in ["listening", "ready addr=", name, "shut down"] {
        assert!(
            stderr.contains(expected),
            "no {expected:?} in stderr:\n{stderr}"
        );
    }
}

#[test]
fn sigterm_stops_cleanly() {
    serve_and_stop_with(Signal::TERM, "SIGTERM");
}

#[test]
fn ctrl_c_stops_cleanly() {
    serve_and_stop_with(Signal::INT, "SIGINT");
}

/// A signal right after the address is announced (usually while the model still loads)
/// is a clean shutdown too, not a crash.
#[test]
fn sigterm_during_start_up_stops_cleanly() {
    let server = Server::start(&[]);
    server.signal(Signal::TERM);
    let (status, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    assert!(stderr.contains("shut down"), "stderr:\n{stderr}");
}
