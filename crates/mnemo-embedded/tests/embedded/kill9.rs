//! A writer process killed with SIGKILL mid-stream loses no committed batch and leaves no
//! partial one.
//!
//! The test re-executes its own binary filtered to itself, with `CHILD_DIR_ENV` set; in that
//! child it writes batches in a loop and prints `committed <episode> <relation>` after each
//! `apply` returns. The parent reads some of those lines, waits a little (a different delay
//! each round, so the kill lands at different points of a batch), kills the child, reopens
//! the store and checks every batch. Several rounds run on the same folder, so recovery
//! from a crash is itself crashed into.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mnemo_core::ports::{GraphRead, GraphWrite, Page, RelationQuery, WriteOp};
use mnemo_core::{EpisodeId, EpisodeStatus, RelationId, Visibility};
use mnemo_embedded::EmbeddedStore;

use mnemo_testkit::fixtures::walk;

use crate::support::{DIM, RandomData, Rng, entity, episode, relation, scope, seeded};

const CHILD_DIR_ENV: &str = "MNEMO_EMBEDDED_KILL9_CHILD_DIR";
const TEST_NAME: &str = "kill9::committed_batches_survive_sigkill";
const BATCHES_PER_ROUND: usize = 20;
/// How long after the last awaited report each round's kill comes.
const KILL_DELAYS_US: [u64; 6] = [0, 150, 400, 700, 1_100, 1_700];

type Batch = (EpisodeId, RelationId);

#[test]
fn committed_batches_survive_sigkill() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        write_until_killed(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut committed: Vec<Batch> = Vec::new();
    for (round, delay) in KILL_DELAYS_US.iter().enumerate() {
        committed.extend(run_and_kill(dir.path(), Duration::from_micros(*delay)));
        // Each round may have committed one batch it did not get to report.
        let unreported = round + 1;
        committed.push(rt.block_on(check_after_crash(dir.path(), &committed, unreported)));
    }
}

/// Runs a writer child until it reported `BATCHES_PER_ROUND` batches, kills it after
/// `delay`, and returns every batch it reported.
fn run_and_kill(dir: &Path, delay: Duration) -> Vec<Batch> {
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut reported = Vec::new();
    while reported.len() < BATCHES_PER_ROUND {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the child stopped reporting batches");
        reported.extend(parse_report(&line));
    }
    std::thread::sleep(delay);
    // `Child::kill` is SIGKILL on unix: no destructor, no rollback, no checkpoint.
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    // Lines still in the pipe when the child died were committed too.
    reader.join().unwrap();
    reported.extend(lines.try_iter().filter_map(|line| parse_report(&line)));
    reported
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `committed <episode> <relation>`, possibly after libtest's own text on the line.
fn parse_report(line: &str) -> Option<Batch> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let at = parts.iter().position(|p| *p == "committed")?;
    match parts[at..] {
        ["committed", episode, relation] => {
            Some((episode.parse().unwrap(), relation.parse().unwrap()))
        }
        _ => panic!("malformed report {line:?}"),
    }
}

/// Reopens the store after a crash, checks it, and writes one more batch (returned).
async fn check_after_crash(dir: &Path, committed: &[Batch], max_unreported: usize) -> Batch {
    let store = EmbeddedStore::open(dir, DIM).unwrap();
    let s = scope("writer");

    // Every reported batch is complete.
    for (episode_id, relation_id) in committed {
        let episode = store.episode(*episode_id).await.unwrap().unwrap();
        assert_eq!(episode.status, EpisodeStatus::Done);
        let relation = store.relation(&s, *relation_id).await.unwrap().unwrap();
        assert_eq!(relation.episodes, vec![*episode_id]);
        assert!(store.entity(&s, relation.source).await.unwrap().is_some());
        assert!(store.entity(&s, relation.target).await.unwrap().is_some());
    }

    // No batch is partial: every entity belongs to exactly one relation, two per relation,
    // every relation's episode is done, and no more batches than were reported (plus at
    // most one per crash) are stored.
    let entities = store
        .entities(
            &s,
            Page {
                limit: 1_000_000,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let relations = store
        .relations(
            &s,
            &RelationQuery {
                entity: None,
                outgoing_only: false,
                relation_type: None,
                visible_at: None,
                limit: usize::MAX,
            },
        )
        .await
        .unwrap();
    assert_eq!(entities.len(), 2 * relations.len());
    let endpoints: HashSet<_> = relations
        .iter()
        .flat_map(|r| [r.source, r.target])
        .collect();
    assert_eq!(endpoints.len(), entities.len());
    assert!(entities.iter().all(|e| endpoints.contains(&e.id)));
    assert!(
        (committed.len()..=committed.len() + max_unreported).contains(&relations.len()),
        "{} reported, {} stored",
        committed.len(),
        relations.len()
    );
    for relation in &relations {
        let episode = store.episode(relation.episodes[0]).await.unwrap().unwrap();
        assert_eq!(episode.status, EpisodeStatus::Done);
    }
    // An episode journaled but not yet applied is still pending, to be resumed.
    let pending = store.pending_episodes(100).await.unwrap();
    assert!(pending.len() <= max_unreported, "{pending:?}");

    // The committed relations are walked.
    for relation in relations.iter().rev().take(5) {
        let walked = walk(&store, &s, &[relation.source], 1, Visibility::now())
            .await
            .unwrap();
        assert_eq!(walked.relations.len(), 1);
        assert_eq!(walked.relations[0].relation.id, relation.id);
    }

    // And the store takes writes again.
    write_batch(&store, &mut seeded(7)).await
}

/// The child: batches forever, reporting each one after it committed.
fn write_until_killed(dir: &Path) -> ! {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(dir, DIM).unwrap();
        let mut rng = seeded(42);
        loop {
            let (episode, relation) = write_batch(&store, &mut rng).await;
            println!("committed {episode} {relation}");
        }
    })
}

/// Journals an episode, then applies one batch: two entities, a relation between them,
/// mentions and the episode's status.
async fn write_batch(store: &EmbeddedStore, rng: &mut Rng) -> Batch {
    let s = scope("writer");
    let mut ep = episode(&s, None);
    ep.idempotency_key = Some(ep.id.to_string());
    ep.content = "x".repeat(4_000);
    store.insert_episode(&ep).await.unwrap();
    let a = entity(&s, &format!("a {}", ep.id), &[], rng.unit(DIM));
    let b = entity(&s, &format!("b {}", ep.id), &[], rng.unit(DIM));
    let mut r = relation(&s, &a, "KNOWS", &b, "a knows b");
    r.episodes = vec![ep.id];
    let ops = vec![
        WriteOp::UpsertEntity(a.clone()),
        WriteOp::UpsertEntity(b.clone()),
        WriteOp::AddRelation(r.clone()),
        WriteOp::Mention {
            episode: ep.id,
            entity: a.id,
        },
        WriteOp::Mention {
            episode: ep.id,
            entity: b.id,
        },
        WriteOp::SetEpisodeStatus {
            episode: ep.id,
            status: EpisodeStatus::Done,
            llm_usage: mnemo_core::LlmUsage::default(),
        },
    ];
    store.apply(&s, ops).await.unwrap();
    (ep.id, r.id)
}
