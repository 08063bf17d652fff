//! The episode journal: idempotency keys per scope, status transitions and LLM usage, the
//! pending queue, recent episodes, deletion, and the scope's rolling summary.

use mnemo_core::ports::{EpisodeInsert, WriteOp};
use mnemo_core::{Episode, EpisodeId, EpisodeStatus, LlmUsage, Scope, ScopeSummary};

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
                llm_usage: LlmUsage::default(),
            },
            vec![e1.id, e3.id, e4.id],
        ),
        (
            "e3 failed",
            WriteOp::SetEpisodeStatus {
                episode: e3.id,
                status: failed.clone(),
                llm_usage: LlmUsage::default(),
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
                llm_usage: LlmUsage::default(),
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

/// `recent_episodes(scope, before, limit)`: the scope's episodes ingested strictly before
/// `before`, newest first, at most `limit`; never another scope's (not even a sub-scope's).
pub async fn recent_episodes_newest_first_strictly_before<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let a = scope(Some(&user), None, None);
    let run = scope(Some(&user), None, Some("r1"));
    let b = user_scope();
    let ep = |s, day: u32| fixtures::episode(s, &format!("day {day}"), day, None);
    let ours: Vec<Episode> = [1, 2, 3, 4, 5].into_iter().map(|d| ep(&a, d)).collect();
    let theirs = [ep(&b, 2), ep(&b, 4), ep(&run, 3), ep(&run, 6)];
    // Journaled out of order, so insertion order cannot pass for age.
    for e in [
        &ours[3], &theirs[0], &ours[0], &ours[4], &theirs[2], &ours[2],
    ]
    .into_iter()
    .chain([&ours[1], &theirs[1], &theirs[3]])
    {
        insert(store, e, "seed").await;
    }
    let done = EpisodeStatus::Done;
    apply(
        store,
        &a,
        vec![WriteOp::SetEpisodeStatus {
            episode: ours[1].id,
            status: done.clone(),
            llm_usage: LlmUsage::default(),
        }],
        "day 2 done",
    )
    .await;
    // (before day, limit, ingestion days of `a`'s episodes expected)
    let cases: &[(u32, usize, &[u32])] = &[
        (100, 10, &[5, 4, 3, 2, 1]),
        (4, 10, &[3, 2, 1]),
        (4, 2, &[3, 2]),
        (5, 1, &[4]),
        (2, 10, &[1]),
        (1, 10, &[]),
        (0, 10, &[]),
        (100, 0, &[]),
    ];
    for (before, limit, days) in cases {
        let got = ok(
            store
                .recent_episodes(&a, fixtures::day(*before), *limit)
                .await,
            "recent_episodes",
        );
        let expected: Vec<Episode> = days
            .iter()
            .map(|d| {
                let mut e = ours[*d as usize - 1].clone();
                if *d == 2 {
                    e.status = done.clone();
                }
                e
            })
            .collect();
        assert_eq!(
            got, expected,
            "recent_episodes(before day {before}, limit {limit}): the scope's episodes, \
             newest first, as stored"
        );
    }
    let in_b = ok(
        store.recent_episodes(&b, fixtures::day(100), 10).await,
        "recent_episodes",
    );
    assert_eq!(
        in_b.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![theirs[1].id, theirs[0].id],
        "recent_episodes of another user: only its own"
    );
    let in_run = ok(
        store.recent_episodes(&run, fixtures::day(100), 10).await,
        "recent_episodes",
    );
    assert_eq!(
        in_run.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![theirs[3].id, theirs[2].id],
        "recent_episodes of the user's run: only the run's"
    );
}

/// `SetEpisodeStatus` stores the episode's total LLM usage (replacing, not adding); an
/// episode journaled with usage keeps it; every read returns it.
pub async fn llm_usage_round_trips_through_set_episode_status<S: ContractStore + ?Sized>(
    store: &S,
) {
    let a = user_scope();
    let usage = |calls, prompt_tokens, completion_tokens| LlmUsage {
        calls,
        prompt_tokens,
        completion_tokens,
    };
    let fresh = fixtures::episode(&a, "fresh", 1, None);
    let mut carried = fixtures::episode(&a, "carried", 2, None);
    carried.llm_usage = usage(1, 10, 2);
    for e in [&fresh, &carried] {
        insert(store, e, "seed").await;
        assert_eq!(
            ok(store.episode(e.id).await, "episode"),
            Some(e.clone()),
            "episode() must return the usage it was journaled with"
        );
    }
    let failed = EpisodeStatus::Failed {
        reason: "timeout".to_owned(),
    };
    let steps: Vec<(&str, EpisodeStatus, LlmUsage)> = vec![
        (
            "after one call",
            EpisodeStatus::Pending,
            usage(1, 1200, 345),
        ),
        (
            "done after three calls",
            EpisodeStatus::Done,
            usage(3, 4100, 900),
        ),
        (
            "failed, token counts beyond u32",
            failed,
            usage(7, 6_000_000_000, 5_000_000_001),
        ),
        ("reset to zero", EpisodeStatus::Done, LlmUsage::default()),
    ];
    for (what, status, llm_usage) in steps {
        apply(
            store,
            &a,
            vec![WriteOp::SetEpisodeStatus {
                episode: fresh.id,
                status: status.clone(),
                llm_usage,
            }],
            what,
        )
        .await;
        let expected = Episode {
            status,
            llm_usage,
            ..fresh.clone()
        };
        assert_eq!(
            ok(store.episode(fresh.id).await, "episode"),
            Some(expected.clone()),
            "{what}: episode() must carry the status and usage set"
        );
        let recent = ok(
            store.recent_episodes(&a, fixtures::day(100), 10).await,
            "recent_episodes",
        );
        assert_eq!(
            recent.iter().find(|e| e.id == fresh.id),
            Some(&expected),
            "{what}: recent_episodes() must carry the usage too"
        );
    }
    assert_eq!(
        ok(store.episode(carried.id).await, "episode").map(|e| e.llm_usage),
        Some(carried.llm_usage),
        "setting another episode's usage must not touch this one"
    );
}

/// `put_scope_summary` inserts, then replaces, the scope's one summary; other scopes (also
/// a sub-scope) have their own; erasing the scope removes it.
pub async fn scope_summary_put_replace_and_erase<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let a = scope(Some(&user), None, None);
    let run = scope(Some(&user), None, Some("r1"));
    let summary = |s: &Scope, text: &str, on: u32| ScopeSummary {
        scope: s.clone(),
        text: text.to_owned(),
        through_episode: EpisodeId::new(),
        updated_at: fixtures::day(on),
    };
    let get = |s: Scope| async move { ok(store.scope_summary(&s).await, "scope_summary") };
    assert_eq!(get(a.clone()).await, None, "a new scope has no summary");

    let first = summary(&a, "Alice moved to Boston.", 1);
    let second = summary(&a, "Alice moved to Boston, then to NYC.", 2);
    let in_run = summary(&run, "A run about tea.", 3);
    let steps: Vec<(
        &str,
        &ScopeSummary,
        Option<&ScopeSummary>,
        Option<&ScopeSummary>,
    )> = vec![
        ("put the first", &first, Some(&first), None),
        ("replace it", &second, Some(&second), None),
        ("put the run's", &in_run, Some(&second), Some(&in_run)),
    ];
    for (what, put, in_a, in_r) in steps {
        ok(store.put_scope_summary(put).await, "put_scope_summary");
        assert_eq!(get(a.clone()).await.as_ref(), in_a, "after {what}: {a}");
        assert_eq!(get(run.clone()).await.as_ref(), in_r, "after {what}: {run}");
    }
    assert_eq!(
        get(user_scope()).await,
        None,
        "another user's scope has no summary"
    );
    super::erase(store, &a).await;
    assert_eq!(
        get(a.clone()).await,
        None,
        "erasing {a} removes its summary"
    );
    assert_eq!(
        get(run.clone()).await,
        Some(in_run),
        "erasing {a} leaves {run}'s summary"
    );
}

/// `DropScopeSummary` removes the scope's summary and no other (not a sub-scope's), and is
/// a no-op when there is none.
pub async fn drop_scope_summary_removes_only_the_scopes_own<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let a = scope(Some(&user), None, None);
    let run = scope(Some(&user), None, Some("r1"));
    for s in [&a, &run] {
        let summary = ScopeSummary {
            scope: s.clone(),
            text: format!("summary of {s}"),
            through_episode: EpisodeId::new(),
            updated_at: fixtures::day(1),
        };
        ok(store.put_scope_summary(&summary).await, "put_scope_summary");
    }
    apply(
        store,
        &a,
        vec![WriteOp::DropScopeSummary],
        "drop the summary",
    )
    .await;
    assert_eq!(ok(store.scope_summary(&a).await, "scope_summary"), None);
    assert!(
        ok(store.scope_summary(&run).await, "scope_summary").is_some(),
        "the run's summary stays"
    );
    apply(store, &a, vec![WriteOp::DropScopeSummary], "drop again").await;
}

/// `RecordAlias` notes on an episode's mention which aliases it added; the episode's
/// footprint lists them (sorted, once each), another episode's does not, and an alias
/// without the mention it belongs to is `NotFound`.
pub async fn record_alias_is_in_the_episodes_footprint<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let a = scope(Some(&user), None, None);
    let e1 = fixtures::episode(&a, "first", 1, None);
    let e2 = fixtures::episode(&a, "second", 2, None);
    insert(store, &e1, "first episode").await;
    insert(store, &e2, "second episode").await;
    let nyc = entity(&a, "New York City", "City", unit(1));
    let record = |episode: EpisodeId, alias: &str| WriteOp::RecordAlias {
        episode,
        entity: nyc.id,
        alias: alias.to_owned(),
    };
    apply(
        store,
        &a,
        vec![
            WriteOp::UpsertEntity(nyc.clone()),
            WriteOp::Mention {
                episode: e1.id,
                entity: nyc.id,
            },
            record(e1.id, "nyc"),
            record(e1.id, "big apple"),
            record(e1.id, "nyc"),
            WriteOp::Mention {
                episode: e2.id,
                entity: nyc.id,
            },
        ],
        "mention New York City and record two aliases",
    )
    .await;
    let a = &a;
    let footprint = |episode: EpisodeId| async move {
        ok(
            store.episode_footprint(a, episode).await,
            "episode_footprint",
        )
    };
    assert_eq!(
        footprint(e1.id).await.aliases,
        vec![(nyc.id, "big apple".to_owned()), (nyc.id, "nyc".to_owned())],
        "the first episode added both aliases, each once"
    );
    assert_eq!(footprint(e2.id).await.aliases, Vec::new());
    assert_eq!(footprint(e2.id).await.mentioned, vec![nyc.id]);
    let e3 = fixtures::episode(a, "third", 3, None);
    insert(store, &e3, "third episode").await;
    apply_not_found(
        store,
        a,
        vec![record(e3.id, "gotham")],
        "RecordAlias without the episode's mention",
    )
    .await;
    assert_eq!(footprint(e3.id).await.aliases, Vec::new());
}
