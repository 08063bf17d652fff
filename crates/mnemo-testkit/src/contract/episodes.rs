//! The episode journal: idempotency keys per scope, status transitions, the pending queue
//! and deletion.

use mnemo_core::ports::{EpisodeInsert, WriteOp};
use mnemo_core::{Episode, EpisodeId, EpisodeStatus};

use super::{apply, apply_not_found, ok};
use crate::ContractStore;
use crate::fixtures::{self, entity, scope, unique, unit, user_scope};

async fn insert<S: ContractStore + ?Sized>(store: &S, episode: &Episode, what: &str) {
    assert_eq!(
        ok(store.insert_episode(episode).await, "insert_episode"),
        EpisodeInsert::Inserted,
        "{what}: insert_episode must insert"
    );
}

/// The same idempotency key twice in one scope returns the first episode and writes
/// nothing; in another scope (also a sub-scope) it inserts; no key never deduplicates.
pub async fn insert_episode_is_idempotent_per_scope<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let a = scope(Some(&user), None, None);
    let key = unique("key");
    let first = fixtures::episode(&a, "first", 1, Some(&key));
    insert(store, &first, "first episode with a key").await;
    assert_eq!(
        ok(store.episode(first.id).await, "episode"),
        Some(first.clone()),
        "episode() must return the journaled episode unchanged"
    );

    let second = fixtures::episode(&a, "second", 2, Some(&key));
    match store.insert_episode(&second).await {
        Ok(EpisodeInsert::Duplicate(existing)) => assert_eq!(
            *existing, first,
            "Duplicate must carry the episode stored first"
        ),
        other => panic!("the same key again in the same scope: expected Duplicate, got {other:?}"),
    }
    assert_eq!(
        ok(store.episode(second.id).await, "episode"),
        None,
        "a duplicate episode must not be stored"
    );

    for (what, other_scope) in [
        ("another user", user_scope()),
        (
            "the same user with a run",
            scope(Some(&user), None, Some("r1")),
        ),
        (
            "an agent with the user's id",
            scope(None, Some(&user), None),
        ),
    ] {
        let e = fixtures::episode(&other_scope, "first", 1, Some(&key));
        insert(store, &e, &format!("the same key in {what}")).await;
    }

    let no_key_1 = fixtures::episode(&a, "same text", 3, None);
    let no_key_2 = fixtures::episode(&a, "same text", 3, None);
    insert(store, &no_key_1, "an episode without key").await;
    insert(store, &no_key_2, "a second episode without key").await;
}

/// Our episodes among `pending_episodes` (other tests may share the backend), in order.
async fn our_pending<S: ContractStore + ?Sized>(store: &S, ours: &[EpisodeId]) -> Vec<EpisodeId> {
    ok(store.pending_episodes(100_000).await, "pending_episodes")
        .into_iter()
        .map(|e| e.id)
        .filter(|id| ours.contains(id))
        .collect()
}

/// `SetEpisodeStatus` moves episodes out of `pending_episodes` (oldest first, across
/// scopes), keeps a failure's reason, and `DeleteEpisode` removes the episode.
pub async fn episode_status_transitions_and_pending<S: ContractStore + ?Sized>(store: &S) {
    let a = user_scope();
    let b = user_scope();
    let e1 = fixtures::episode(&a, "one", 1, None);
    let e2 = fixtures::episode(&a, "two", 2, None);
    let e3 = fixtures::episode(&a, "three", 3, None);
    let e4 = fixtures::episode(&b, "four", 4, None);
    // Journaled out of order: pending_episodes orders by age, not insertion.
    for e in [&e3, &e1, &e4, &e2] {
        insert(store, e, "seed").await;
    }
    let ours = [e1.id, e2.id, e3.id, e4.id];
    assert_eq!(
        our_pending(store, &ours).await,
        ours.to_vec(),
        "pending_episodes must list every pending episode of every scope, oldest first"
    );
    assert_eq!(
        ok(store.pending_episodes(1).await, "pending_episodes").len(),
        1,
        "pending_episodes(1) must honour the limit"
    );

    let failed = EpisodeStatus::Failed {
        reason: "llm answer did not match the schema: missing `relations`".to_owned(),
    };
    let steps: Vec<(&str, WriteOp, Vec<EpisodeId>)> = vec![
        (
            "e2 done",
            WriteOp::SetEpisodeStatus {
                episode: e2.id,
                status: EpisodeStatus::Done,
            },
            vec![e1.id, e3.id, e4.id],
        ),
        (
            "e3 failed",
            WriteOp::SetEpisodeStatus {
                episode: e3.id,
                status: failed.clone(),
            },
            vec![e1.id, e4.id],
        ),
        (
            "e1 deleted",
            WriteOp::DeleteEpisode { episode: e1.id },
            vec![e4.id],
        ),
    ];
    for (what, op, pending) in steps {
        apply(store, &a, vec![op], what).await;
        assert_eq!(
            our_pending(store, &ours).await,
            pending,
            "after {what}: pending_episodes"
        );
    }
    for (e, status) in [(&e2, EpisodeStatus::Done), (&e3, failed)] {
        assert_eq!(
            ok(store.episode(e.id).await, "episode"),
            Some(Episode {
                status: status.clone(),
                ..e.clone()
            }),
            "after setting {:?} on it, the episode must carry that status and be otherwise unchanged",
            status
        );
    }
    assert_eq!(
        ok(store.episode(e1.id).await, "episode"),
        None,
        "a deleted episode must be gone"
    );
    assert_eq!(
        ok(store.episode(e4.id).await, "episode"),
        Some(e4.clone()),
        "episode() reads any scope's episode"
    );

    let alice = entity(&a, "Alice", "Person", unit(1));
    apply(
        store,
        &a,
        vec![WriteOp::UpsertEntity(alice.clone())],
        "upsert alice",
    )
    .await;
    let missing: Vec<(&str, WriteOp)> = vec![
        (
            "SetEpisodeStatus of a deleted episode",
            WriteOp::SetEpisodeStatus {
                episode: e1.id,
                status: EpisodeStatus::Done,
            },
        ),
        (
            "Mention by a deleted episode",
            WriteOp::Mention {
                episode: e1.id,
                entity: alice.id,
            },
        ),
        (
            "Mention of a missing entity",
            WriteOp::Mention {
                episode: e2.id,
                entity: mnemo_core::EntityId::new(),
            },
        ),
        (
            "DeleteEpisode of a deleted episode",
            WriteOp::DeleteEpisode { episode: e1.id },
        ),
    ];
    for (what, op) in missing {
        apply_not_found(store, &a, vec![op], what).await;
    }
    apply(
        store,
        &a,
        vec![WriteOp::Mention {
            episode: e2.id,
            entity: alice.id,
        }],
        "Mention of an existing entity by an existing episode",
    )
    .await;
}
