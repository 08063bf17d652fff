//! An episode in flight when the process stops is never lost: after SIGTERM it is
//! finished before exit or left `pending` and resumed at the next start; after a crash
//! (SIGKILL) it is resumed at the next start. Both restart on the same store.

use std::time::{Duration, Instant};

use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm};
use reqwest::Method;
use rustix::process::Signal;
use serde_json::json;

use super::write::{city, lives_in, person};
use super::{Api, add_body, answer_the_rest, fresh_user, llm_vars};
use crate::PATIENCE;

/// Scripts a slow LLM for `say` (every call, so a resumed episode is answered again).
fn script_slow(llm: &ScriptedLlm, say: &str, place: &str, delay: Duration) {
    llm.on("extract_entities")
        .containing(say)
        .reply(Reply::json(json!({"entities": [person(), city(place)]})).after(delay));
    llm.on("establish_relations")
        .containing(say)
        .reply(Reply::json(json!({"relations": [
            lives_in(place, &format!("Alice lives in {place}"), None)
        ]})));
}

/// Posts `say` with `wait=false` and waits until the LLM has received its first call.
async fn start_in_flight(api: &Api, llm: &ScriptedLlm, user: &str, say: &str) -> String {
    let calls = llm.requests_to("extract_entities").len();
    let reply = api
        .call(
            Method::POST,
            "/v1/memories",
            &[("wait", "false")],
            Some(&add_body(user, say, json!({}))),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.body["episode_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + PATIENCE;
    while llm.requests_to("extract_entities").len() == calls {
        assert!(
            Instant::now() < deadline,
            "the episode never reached the LLM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    id
}

/// Restarts on the same store and waits for the episode to be `done` with its relation.
async fn check_done_after_restart(vars: &[(&str, String)], user: &str, id: &str, place: &str) {
    let api = Api::start(vars).await;
    let episode = api.episode_settled(id, user).await;
    assert_eq!(episode["status"], "done", "{episode}\n{}", api.stderr());
    assert_eq!(
        api.timeline(user, &[("entity", user)]).await,
        [format!("{user} LIVES_IN {place} [valid]")]
    );
    stop(api, Signal::TERM).await;
}

async fn stop(api: Api, signal: Signal) -> String {
    let Api { server, .. } = api;
    server.signal(signal);
    let (status, stderr) = tokio::task::block_in_place(|| server.wait());
    if signal == Signal::TERM {
        assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    }
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_in_flight_survives_sigterm_and_a_crash() {
    let llm = ScriptedLlm::start().await;
    answer_the_rest(&llm);
    let store = tempfile::tempdir().unwrap();
    let mut vars = llm_vars(&llm);
    vars.push((
        "MNEMO__STORE__PATH",
        store.path().to_str().unwrap().to_owned(),
    ));

    // SIGTERM while the LLM is still thinking: the server stops accepting, then finishes
    // the episode (or journals it pending); either way it is done after a restart.
    let user = fresh_user("alice");
    let say = "I moved to Oslo";
    script_slow(&llm, say, "Oslo", Duration::from_millis(1500));
    let api = Api::start(&vars).await;
    let id = start_in_flight(&api, &llm, &user, say).await;
    let stderr = stop(api, Signal::TERM).await;
    assert!(stderr.contains("shut down"), "{stderr}");
    check_done_after_restart(&vars, &user, &id, "Oslo").await;

    // A crash while the LLM is thinking: the journal keeps the episode pending, and the
    // next start resumes it, calling the LLM again.
    let user = fresh_user("alice");
    let say = "I moved to Rome";
    script_slow(&llm, say, "Rome", Duration::from_millis(800));
    let api = Api::start(&vars).await;
    let id = start_in_flight(&api, &llm, &user, say).await;
    stop(api, Signal::KILL).await;
    let asked = |llm: &ScriptedLlm| {
        llm.requests_to("extract_entities")
            .iter()
            .filter(|r| r.input.contains(say))
            .count()
    };
    assert_eq!(asked(&llm), 1);
    check_done_after_restart(&vars, &user, &id, "Rome").await;
    assert_eq!(asked(&llm), 2, "resumed by asking the LLM again");
}
