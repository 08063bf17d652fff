//! A writer process killed with SIGKILL mid-stream loses no committed batch and leaves no
//! partial one.
//!
//! The test re-executes its own binary filtered to itself, with `CHILD_DIR_ENV` set; in that
//! child it writes batches in a loop and prints `committed <n> <episode> <relation>` after
//! each `apply` returns. The parent reads some of those lines, kills the child, reopens the
//! store and checks every batch.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mnemo_core::ports::{GraphRead, GraphWrite, Page, RelationQuery, WriteOp};
use mnemo_core::{EpisodeId, EpisodeStatus, RelationId};
use mnemo_embedded::EmbeddedStore;

use crate::support::{DIM, Rng, entity, episode, relation, scope};

const CHILD_DIR_ENV: &str = "MNEMO_EMBEDDED_KILL9_CHILD_DIR";
const TEST_NAME: &str = "kill9::committed_batches_survive_sigkill";
const BATCHES_BEFORE_KILL: usize = 60;

#[test]
fn committed_batches_survive_sigkill() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        write_until_killed(std::path::Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;

    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut committed: Vec<(EpisodeId, RelationId)> = Vec::new();
    while committed.len() < BATCHES_BEFORE_KILL {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the child stopped reporting batches");
        if let Some((n, batch)) = parse_report(&line) {
            assert_eq!(n, committed.len());
            committed.push(batch);
        }
    }
    // `Child::kill` is SIGKILL on unix: no destructor, no rollback, no checkpoint.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    // Lines already in the pipe when the child died were committed too.
    reader.join().unwrap();
    for line in lines.try_iter() {
        if let Some((n, batch)) = parse_report(&line) {
            assert_eq!(n, committed.len());
            committed.push(batch);
        }
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(check_after_crash(dir.path(), &committed));
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `committed <n> <episode> <relation>`, possibly after libtest's own text on the line.
fn parse_report(line: &str) -> Option<(usize, (EpisodeId, RelationId))> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let at = parts.iter().position(|p| *p == "committed")?;
    match parts[at..] {
        ["committed", n, episode, relation] => Some((
            n.parse().unwrap(),
            (episode.parse().unwrap(), relation.parse().unwrap()),
        )),
        _ => panic!("malformed report {line:?}"),
    }
}

async fn check_after_crash(dir: &std::path::Path, committed: &[(EpisodeId, RelationId)]) {
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
    // and at most one batch committed after the last reported one.
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
    assert!(entities.iter().all(|e| endpoints.contains(&e.id)));
    assert!(
        (committed.len()..=committed.len() + 1).contains(&relations.len()),
        "{} reported, {} stored",
        committed.len(),
        relations.len()
    );
    for relation in &relations {
        let episode = store.episode(relation.episodes[0]).await.unwrap().unwrap();
        assert_eq!(episode.status, EpisodeStatus::Done);
    }
    // An episode journaled but not yet applied is still pending, to be resumed.
    let pending = store.pending_episodes(10).await.unwrap();
    assert!(pending.len() <= 1, "{pending:?}");

    // The in-memory adjacency was rebuilt from the committed rows.
    let last = relations.last().unwrap();
    let walk = store
        .walk(&s, &[last.source], 1, mnemo_core::Visibility::now())
        .await
        .unwrap();
    assert_eq!(walk.relations.len(), 1);
    assert_eq!(walk.relations[0].relation.id, last.id);

    // And the store takes writes again.
    write_batch(&store, 1_000_000, &mut Rng(1)).await;
}

/// The child: batches forever, reporting each one after it committed.
fn write_until_killed(dir: &std::path::Path) -> ! {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(dir, DIM).unwrap();
        let mut rng = Rng(42);
        for n in 0.. {
            let (episode, relation) = write_batch(&store, n, &mut rng).await;
            println!("committed {n} {episode} {relation}");
        }
    });
    unreachable!("the writer loops until it is killed")
}

/// Journals an episode, then applies one batch: two entities, a relation between them,
/// mentions and the episode's status.
async fn write_batch(store: &EmbeddedStore, n: usize, rng: &mut Rng) -> (EpisodeId, RelationId) {
    let s = scope("writer");
    let mut ep = episode(&s, Some(&format!("batch-{n}")));
    ep.content = "x".repeat(4_000);
    store.insert_episode(&ep).await.unwrap();
    let a = entity(&s, &format!("a{n}"), &[], rng.unit(DIM));
    let b = entity(&s, &format!("b{n}"), &[], rng.unit(DIM));
    let mut r = relation(&s, &a, "KNOWS", &b, &format!("a{n} knows b{n}"));
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
        },
    ];
    store.apply(&s, ops).await.unwrap();
    (ep.id, r.id)
}
