//! An add killed with SIGKILL while its LLM call is in flight: on restart the pending
//! episode is resumed and applied exactly once.
//!
//! The test re-executes its own binary filtered to itself with `CHILD_ENV` set; the child
//! journals an episode, prints `journaled <id>`, and hangs in a slow LLM call until the
//! parent kills it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mnemo_core::{EpisodeId, EpisodeStatus, MemorySettings};
use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm};
use serde_json::json;

use crate::support::{add_request, date, open};

const CHILD_ENV: &str = "MNEMO_PIPELINE_CRASH_CHILD";
const TEST_NAME: &str = "write_crash::an_add_killed_mid_episode_resumes_on_restart";
const SCOPE_USER: &str = "crash-test-user";
const SAY: &str = "I live in Boston";

fn settings() -> MemorySettings {
    MemorySettings {
        facts_enabled: false,
        ..MemorySettings::default()
    }
}

fn script(llm: &ScriptedLlm, entities_delay: Duration) {
    llm.on("extract_entities").reply(
        Reply::json(json!({"entities": [
            {"name": "I", "type": "Person"}, {"name": "Boston", "type": "City"}
        ]}))
        .after(entities_delay),
    );
    llm.on("establish_relations")
        .reply(Reply::json(json!({"relations": [{
            "source": "I", "relation": "LIVES_IN", "target": "Boston",
            "fact": "The user lives in Boston", "valid_from": null, "valid_to": null
        }]})));
}

#[test]
fn an_add_killed_mid_episode_resumes_on_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        runtime.block_on(child(PathBuf::from(path)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let episode: EpisodeId = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split_once("journaled ")
                .map(|(_, id)| id.trim().parse().unwrap())
        })
        .expect("the child journals an episode");
    // Let the child get into its LLM call, then kill it there.
    std::thread::sleep(Duration::from_millis(300));
    child.0.kill().unwrap();
    assert!(!child.0.wait().unwrap().success(), "killed, not finished");

    runtime.block_on(async {
        let llm = ScriptedLlm::start().await;
        script(&llm, Duration::ZERO);
        let h = open(dir.path().to_owned(), None, Some(llm), settings()).await;
        let scope = mnemo_core::Scope::user(SCOPE_USER).unwrap();
        assert_eq!(
            h.memory.episode(&scope, episode).await.unwrap().status,
            EpisodeStatus::Pending
        );
        let report = h.memory.resume_pending().await.unwrap();
        assert_eq!(report.done, 1, "{report:?}");
        assert_eq!(
            h.memory.episode(&scope, episode).await.unwrap().status,
            EpisodeStatus::Done
        );
        assert_eq!(
            h.timeline(&scope, SCOPE_USER).await,
            vec![format!("{SCOPE_USER} LIVES_IN Boston [current]")]
        );
        // Resuming again finds nothing to do and changes nothing.
        assert_eq!(h.memory.resume_pending().await.unwrap().done, 0);
        assert_eq!(h.timeline(&scope, SCOPE_USER).await.len(), 1);
    });
}

async fn child(path: PathBuf) {
    let llm = ScriptedLlm::start().await;
    script(&llm, Duration::from_secs(600));
    let h = open(path, None, Some(llm), settings()).await;
    let scope = mnemo_core::Scope::user(SCOPE_USER).unwrap();
    let journaled = h
        .memory
        .journal(add_request(&scope, SAY, date(2023, 1, 1)))
        .await
        .unwrap();
    let mnemo_core::write::Journaled::New(episode) = journaled else {
        panic!("a fresh store has no duplicate");
    };
    println!("journaled {}", episode.id);
    h.memory.process_episode(episode).await.unwrap();
    unreachable!("the parent kills this process during the slow LLM call");
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The other crash point: the graph transaction committed, the process died before the
/// relation vectors were mirrored. Resuming mirrors them, marks the episode done, and asks
/// the LLM nothing.
#[tokio::test]
async fn an_episode_applied_but_not_mirrored_is_reconciled_without_the_llm() {
    use mnemo_core::ports::{Embedder, GraphWrite, VectorRead, WriteOp};
    use mnemo_core::{EpisodeStatus, Visibility};
    use mnemo_testkit::fixtures;

    let h = crate::support::harness_with(settings(), true).await;
    let scope = crate::support::fresh_scope("alice");
    // The state the crash leaves: a pending episode (direct triplets, so its content is a
    // journal entry) whose relation is in the graph but not in the vector store.
    let mut episode = fixtures::episode(&scope, "unused", 1, None);
    episode.content = json!({"kind": "relations", "relations": []}).to_string();
    h.store.insert_episode(&episode).await.unwrap();
    let names = crate::support::embedder()
        .embed(vec!["Alice".into(), "Boston".into()])
        .await
        .unwrap();
    let alice = fixtures::entity(&scope, "Alice", "Person", names[0].clone());
    let boston = fixtures::entity(&scope, "Boston", "City", names[1].clone());
    let mut lives = fixtures::relation(
        &scope,
        alice.id,
        "LIVES_IN",
        boston.id,
        "Alice lives in Boston",
        fixtures::since(1, 1),
    );
    lives.episodes = vec![episode.id];
    h.store
        .apply(
            &scope,
            vec![
                WriteOp::UpsertEntity(alice),
                WriteOp::UpsertEntity(boston),
                WriteOp::AddRelation(lives.clone()),
            ],
        )
        .await
        .unwrap();
    let query = crate::support::embedder()
        .embed(vec!["Where does Alice live?".into()])
        .await
        .unwrap()
        .remove(0);
    let found = || async {
        h.store
            .search_relations(&scope, &query, 5, Visibility::now())
            .await
            .unwrap()
            .into_iter()
            .map(|hit| hit.item)
            .collect::<Vec<_>>()
    };
    assert!(found().await.is_empty(), "not mirrored yet");

    let report = h.memory.resume_pending().await.unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    assert_eq!(found().await, vec![lives.id]);
    assert_eq!(
        h.memory.episode(&scope, episode.id).await.unwrap().status,
        EpisodeStatus::Done
    );
    assert!(h.llm().requests().is_empty(), "reconciling calls no LLM");
}

/// A pending episode whose content is not a journal entry (a foreign or damaged row) is
/// marked failed with the reason; resuming goes on with the others instead of stopping.
#[tokio::test]
async fn an_unreadable_pending_episode_is_failed_and_resuming_goes_on() {
    use mnemo_core::EpisodeStatus;
    use mnemo_core::ports::{GraphWrite, Page, VectorRead};
    use mnemo_testkit::fixtures;

    let h = crate::support::harness_with(settings(), false).await;
    let scope = crate::support::fresh_scope("alice");
    let mut unreadable = fixtures::episode(&scope, "not a journal entry", 1, None);
    unreadable.content = "{\"kind\": \"telegram\"}".to_owned();
    let mut stale = fixtures::episode(&scope, "unused", 2, None);
    // Direct triplets journaled under rules they no longer pass (an empty entity name).
    stale.content = json!({"kind": "relations", "relations": [{
        "source": {"name": " ", "type": "Person"}, "relation": "LIVES_IN",
        "target": {"name": "Boston", "type": "City"}
    }]})
    .to_string();
    let mut readable = fixtures::episode(&scope, "unused", 3, None);
    readable.content = json!({"kind": "messages", "infer": false, "messages": [
        {"role": "user", "content": "I play the cello"}
    ]})
    .to_string();
    for episode in [&unreadable, &stale, &readable] {
        h.store.insert_episode(episode).await.unwrap();
    }

    let report = h.memory.resume_pending().await.unwrap();
    assert!(report.failed >= 2 && report.done >= 1, "{report:?}");
    for episode in [&unreadable, &stale] {
        match h.memory.episode(&scope, episode.id).await.unwrap().status {
            EpisodeStatus::Failed { reason } => {
                assert!(reason.starts_with("unreadable journal entry"), "{reason}")
            }
            other => panic!("{}: {other:?}", episode.content),
        }
    }
    assert_eq!(
        h.memory.episode(&scope, readable.id).await.unwrap().status,
        EpisodeStatus::Done
    );
    let page = Page {
        limit: 10,
        offset: 0,
    };
    let facts = h.store.facts(&scope, page).await.unwrap();
    assert_eq!(
        facts.iter().map(|f| f.text.as_str()).collect::<Vec<_>>(),
        ["I play the cello"]
    );
    // Resuming again finds nothing left of these.
    h.memory.resume_pending().await.unwrap();
    assert!(matches!(
        h.memory
            .episode(&scope, unreadable.id)
            .await
            .unwrap()
            .status,
        EpisodeStatus::Failed { .. }
    ));
}
