//! Relation writes and reads: query filters and order, end/retract and restore round trips
//! (graph and vector payload), deletion, provenance counting, the changes window, atomic
//! batches and idempotent relation vectors.

use mnemo_core::ports::{EpisodeInsert, RelationQuery, WriteOp};
use mnemo_core::{
    Entity, EntityId, EpisodeId, EpisodeStatus, LlmUsage, Relation, RelationId, RelationTimes,
    RelationType, Scope, StatedEnd,
};

use super::{LISTING, apply, apply_not_found, by_entity, long_batch, ok, set};
use crate::ContractStore;
use crate::fixtures::{
    self, at, axis, day, entity, graph_to_text, later, relation, relation_vector, since, unit,
    user_scope, walk,
};

/// Alice, Boston and NYC stored in a fresh scope, with `alice -[LIVES_IN]-> boston` and its
/// vector (`axis(0)`).
struct Lives {
    scope: Scope,
    alice: Entity,
    nyc: Entity,
    lives: Relation,
}

impl Lives {
    /// Alice LIVES_IN NYC from day 10, recorded on day 11: the successor of `lives`.
    fn moved_to_nyc(&self) -> Relation {
        let fact = "Alice lives in NYC";
        relation(
            &self.scope,
            self.alice.id,
            "LIVES_IN",
            self.nyc.id,
            fact,
            since(10, 11),
        )
    }
}

async fn seed_lives<S: ContractStore + ?Sized>(store: &S) -> Lives {
    let scope = user_scope();
    let alice = entity(&scope, "Alice", "Person", unit(1));
    let boston = entity(&scope, "Boston", "City", unit(2));
    let nyc = entity(&scope, "NYC", "City", unit(3));
    let lives = relation(
        &scope,
        alice.id,
        "LIVES_IN",
        boston.id,
        "Alice lives in Boston",
        since(1, 2),
    );
    apply(
        store,
        &scope,
        vec![
            WriteOp::UpsertEntity(alice.clone()),
            WriteOp::UpsertEntity(boston),
            WriteOp::UpsertEntity(nyc.clone()),
            WriteOp::AddRelation(lives.clone()),
        ],
        "seed alice lives in boston",
    )
    .await;
    ok(
        store
            .upsert_relation_vectors(&[relation_vector(&lives, axis(0))])
            .await,
        "upsert_relation_vectors",
    );
    assert_eq!(
        ok(store.relation(&scope, lives.id).await, "relation"),
        Some(lives.clone()),
        "relation() must return the relation exactly as added"
    );
    Lives {
        scope,
        alice,
        nyc,
        lives,
    }
}

/// Whether `id` is among `search_relations(axis(0), k = 10, at)`.
async fn found_by_search<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    id: RelationId,
    at: mnemo_core::Visibility,
) -> bool {
    ok(
        store.search_relations(scope, &axis(0), 10, at).await,
        "search_relations",
    )
    .iter()
    .any(|h| h.item == id)
}

/// Whether `id` is among alice's relations visible at `at`.
async fn visible_in_graph<S: ContractStore + ?Sized>(
    store: &S,
    w: &Lives,
    id: RelationId,
    at: mnemo_core::Visibility,
) -> bool {
    ok(
        store
            .relations(&w.scope, &by_entity(w.alice.id, Some(at)))
            .await,
        "relations",
    )
    .iter()
    .any(|r| r.id == id)
}

/// `relations()` filters by entity (both directions or outgoing only), by type, by both,
/// honours `limit`, and orders by `recorded_at` then id.
pub async fn relations_query_filters_and_order<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let e = |name: &str, kind: &str, i| entity(&scope, name, kind, axis(i));
    let (alice, bob, carol) = (
        e("alice", "Person", 0),
        e("bob", "Person", 1),
        e("carol", "Person", 2),
    );
    let (boston, acme) = (e("boston", "City", 3), e("acme", "Organization", 4));
    let rel = |s: &Entity, kind, t: &Entity, recorded| {
        relation(
            &scope,
            s.id,
            kind,
            t.id,
            &format!("{} {kind} {}", s.name, t.name),
            since(1, recorded),
        )
    };
    let works = rel(&alice, "WORKS_AT", &acme, 1);
    let bob_knows = rel(&bob, "KNOWS", &alice, 2);
    let carol_knows = rel(&carol, "KNOWS", &alice, 2);
    let alice_lives = rel(&alice, "LIVES_IN", &boston, 3);
    let bob_lives = rel(&bob, "LIVES_IN", &boston, 4);
    let mut ops: Vec<WriteOp> = [&alice, &bob, &carol, &boston, &acme]
        .into_iter()
        .cloned()
        .map(WriteOp::UpsertEntity)
        .collect();
    // Added out of order, so insertion order cannot pass for the required order.
    for r in [&bob_lives, &carol_knows, &works, &alice_lives, &bob_knows] {
        ops.push(WriteOp::AddRelation(r.clone()));
    }
    apply(store, &scope, ops, "seed relations").await;

    let query = |entity: Option<&Entity>, outgoing_only, kind: Option<&str>, limit| RelationQuery {
        entity: entity.map(|e| e.id),
        outgoing_only,
        relation_type: kind.map(|k| RelationType::parse(k).expect("valid type")),
        visible_at: None,
        limit,
    };
    let cases: Vec<(&str, RelationQuery, Vec<&Relation>)> = vec![
        (
            "alice, both directions",
            query(Some(&alice), false, None, 100),
            vec![&works, &bob_knows, &carol_knows, &alice_lives],
        ),
        (
            "alice, outgoing only",
            query(Some(&alice), true, None, 100),
            vec![&works, &alice_lives],
        ),
        (
            "alice, limit 2",
            query(Some(&alice), false, None, 2),
            vec![&works, &bob_knows, &carol_knows, &alice_lives],
        ),
        (
            "type LIVES_IN",
            query(None, false, Some("LIVES_IN"), 100),
            vec![&alice_lives, &bob_lives],
        ),
        (
            "alice and type KNOWS",
            query(Some(&alice), false, Some("KNOWS"), 100),
            vec![&bob_knows, &carol_knows],
        ),
        (
            "alice outgoing and type KNOWS",
            query(Some(&alice), true, Some("KNOWS"), 100),
            vec![],
        ),
        (
            "boston, both directions",
            query(Some(&boston), false, None, 100),
            vec![&alice_lives, &bob_lives],
        ),
        (
            "boston, outgoing only",
            query(Some(&boston), true, None, 100),
            vec![],
        ),
        (
            "acme and type LIVES_IN",
            query(Some(&acme), false, Some("LIVES_IN"), 100),
            vec![],
        ),
        (
            "type MARRIED_TO (none stored)",
            query(None, false, Some("MARRIED_TO"), 100),
            vec![],
        ),
    ];
    for (what, q, members) in cases {
        let mut expected: Vec<&Relation> = members;
        expected.sort_by_key(|r| (r.times.recorded_at, r.id));
        expected.truncate(q.limit);
        let expected: Vec<&str> = expected.iter().map(|r| r.fact.as_str()).collect();
        let got = ok(store.relations(&scope, &q).await, "relations");
        let got: Vec<&str> = got.iter().map(|r| r.fact.as_str()).collect();
        assert_eq!(
            got, expected,
            "relations({what}): wrong relations or order (recorded_at, then id)"
        );
    }
}

/// Journals an episode of `scope` ingested on `day(ingested)`.
async fn journaled<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    text: &str,
    ingested: u32,
) -> EpisodeId {
    let episode = fixtures::episode(scope, text, ingested, None);
    assert_eq!(
        ok(store.insert_episode(&episode).await, "insert_episode"),
        EpisodeInsert::Inserted,
        "insert_episode({text:?})"
    );
    episode.id
}

/// A relation's own end (`stated_end`) round-trips: `AddRelation` stores it, a cut
/// (`EndRelation`) and `RestoreRelation` leave it alone, `SetStatedEnd` replaces it (with
/// the episode of a restatement, then with none) and changes nothing else, and every read
/// path (by id, by entity, the walk) returns it.
pub async fn stated_end_round_trip<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let restated = journaled(store, &w.scope, "alice lived in nyc until day 30", 12).await;
    let stated = StatedEnd {
        valid_to: day(20),
        invalidated_at: None,
        episode: None,
    };
    let nyc = Relation {
        times: RelationTimes {
            valid_to: Some(day(20)),
            ..since(10, 11)
        },
        stated_end: Some(stated),
        ..w.moved_to_nyc()
    };
    apply(
        store,
        &w.scope,
        vec![WriteOp::AddRelation(nyc.clone())],
        "add a relation stated with its own end",
    )
    .await;
    assert_eq!(
        stated_end_of(store, &w, nyc.id, "after AddRelation").await,
        Some(stated)
    );

    apply(
        store,
        &w.scope,
        vec![WriteOp::EndRelation {
            relation: nyc.id,
            valid_to: day(15),
            invalidated_at: Some(day(16)),
            invalidated_by: Some(w.lives.id),
            episode: None,
        }],
        "cut it",
    )
    .await;
    assert_eq!(
        stated_end_of(store, &w, nyc.id, "after EndRelation").await,
        Some(stated),
        "a cut must keep the relation's own end"
    );

    let from_restatement = StatedEnd {
        valid_to: day(30),
        invalidated_at: Some(day(12)),
        episode: Some(restated),
    };
    apply(
        store,
        &w.scope,
        vec![WriteOp::SetStatedEnd {
            relation: nyc.id,
            stated_end: Some(from_restatement),
        }],
        "set the own end a restatement gave",
    )
    .await;
    let stored = ok(store.relation(&w.scope, nyc.id).await, "relation").expect("stored");
    assert_eq!(
        stored,
        Relation {
            times: RelationTimes {
                valid_to: Some(day(15)),
                invalidated_at: Some(day(16)),
                ..nyc.times
            },
            invalidated_by: Some(w.lives.id),
            stated_end: Some(from_restatement),
            ..nyc.clone()
        },
        "SetStatedEnd must change the own end and nothing else"
    );
    let walked = ok(
        walk(store, &w.scope, &[w.alice.id], 1, at(12, 1000)).await,
        "walk",
    );
    assert_eq!(
        walked
            .relations
            .iter()
            .find(|r| r.relation.id == nyc.id)
            .map(|r| r.relation.stated_end),
        Some(Some(from_restatement)),
        "the walk must return the own end"
    );

    apply(
        store,
        &w.scope,
        vec![
            WriteOp::RestoreRelation {
                relation: nyc.id,
                times: nyc.times,
            },
            WriteOp::SetStatedEnd {
                relation: nyc.id,
                stated_end: None,
            },
        ],
        "restore and clear the own end",
    )
    .await;
    assert_eq!(
        ok(store.relation(&w.scope, nyc.id).await, "relation"),
        Some(Relation {
            stated_end: None,
            ..nyc.clone()
        }),
        "after RestoreRelation and SetStatedEnd(None)"
    );

    let missing = RelationId::new();
    apply_not_found(
        store,
        &w.scope,
        vec![WriteOp::SetStatedEnd {
            relation: missing,
            stated_end: Some(stated),
        }],
        "SetStatedEnd of an unknown relation",
    )
    .await;
}

/// The relation's own end, read by id and through Alice's adjacency (which must agree).
async fn stated_end_of<S: ContractStore + ?Sized>(
    store: &S,
    w: &Lives,
    id: RelationId,
    what: &str,
) -> Option<StatedEnd> {
    let by_id = ok(store.relation(&w.scope, id).await, "relation");
    let by_entity = ok(
        store
            .relations(&w.scope, &by_entity(w.alice.id, None))
            .await,
        "relations",
    )
    .into_iter()
    .find(|r| r.id == id);
    assert_eq!(by_id, by_entity, "{what}: relation and relations disagree");
    by_id.expect("stored").stated_end
}

/// `EndRelation` sets `valid_to`, `invalidated_at`, `invalidated_by` and `invalidated_in`
/// (its episode) and nothing else; `RestoreRelation` with the old times brings back the
/// relation exactly (both cleared); the vector payload follows `set_relation_times`.
pub async fn end_then_restore_round_trip<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let episode = journaled(store, &w.scope, "alice moved to nyc", 11).await;
    let moved = w.moved_to_nyc();
    apply(
        store,
        &w.scope,
        vec![
            WriteOp::AddRelation(moved.clone()),
            WriteOp::EndRelation {
                relation: w.lives.id,
                valid_to: day(10),
                invalidated_at: Some(day(11)),
                invalidated_by: Some(moved.id),
                episode: Some(episode),
            },
        ],
        "add the move and end the old relation",
    )
    .await;
    let ended = Relation {
        times: RelationTimes {
            valid_to: Some(day(10)),
            invalidated_at: Some(day(11)),
            ..w.lives.times
        },
        invalidated_by: Some(moved.id),
        invalidated_in: Some(episode),
        ..w.lives.clone()
    };
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        Some(ended.clone()),
        "after EndRelation: only valid_to, invalidated_at, invalidated_by and invalidated_in \
         change"
    );
    assert!(
        !visible_in_graph(store, &w, w.lives.id, later()).await,
        "an ended relation must not be visible now"
    );
    assert!(
        visible_in_graph(store, &w, w.lives.id, at(5, 25)).await,
        "an ended relation must be visible as of a day inside its interval"
    );
    assert!(
        visible_in_graph(store, &w, w.lives.id, at(25, 10)).await,
        "an ended relation must be visible as known before its invalidation"
    );
    ok(
        store
            .set_relation_times(&w.scope, w.lives.id, ended.times)
            .await,
        "set_relation_times",
    );
    assert!(
        !found_by_search(store, &w.scope, w.lives.id, later()).await,
        "after set_relation_times(ended), search_relations must not return it now"
    );
    assert!(
        found_by_search(store, &w.scope, w.lives.id, at(5, 25)).await,
        "after set_relation_times(ended), search_relations must return it as of day 5"
    );

    apply(
        store,
        &w.scope,
        vec![WriteOp::RestoreRelation {
            relation: w.lives.id,
            times: w.lives.times,
        }],
        "restore",
    )
    .await;
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        Some(w.lives.clone()),
        "after RestoreRelation: the relation must equal the original (invalidated_by and \
         invalidated_in cleared)"
    );
    assert!(
        visible_in_graph(store, &w, w.lives.id, later()).await,
        "a restored relation must be visible now"
    );
    ok(
        store
            .set_relation_times(&w.scope, w.lives.id, w.lives.times)
            .await,
        "set_relation_times",
    );
    assert!(
        found_by_search(store, &w.scope, w.lives.id, later()).await,
        "after set_relation_times(restored), search_relations must return it now"
    );
}

/// `RetractRelation` sets `retracted_at` and `invalidated_in` (its episode) only;
/// `RestoreRelation` undoes it exactly; the vector payload follows `set_relation_times`.
/// Naming an episode the scope does not hold is `NotFound`.
pub async fn retract_then_restore_round_trip<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let episode = journaled(store, &w.scope, "alice never lived in boston", 12).await;
    let elsewhere = journaled(store, &user_scope(), "another user's episode", 12).await;
    for (what, missing) in [
        ("an unknown episode", EpisodeId::new()),
        ("an episode of another scope", elsewhere),
    ] {
        apply_not_found(
            store,
            &w.scope,
            vec![WriteOp::RetractRelation {
                relation: w.lives.id,
                retracted_at: day(12),
                episode: Some(missing),
            }],
            &format!("RetractRelation naming {what}"),
        )
        .await;
        apply_not_found(
            store,
            &w.scope,
            vec![WriteOp::EndRelation {
                relation: w.lives.id,
                valid_to: day(12),
                invalidated_at: Some(day(12)),
                invalidated_by: None,
                episode: Some(missing),
            }],
            &format!("EndRelation naming {what}"),
        )
        .await;
    }
    apply(
        store,
        &w.scope,
        vec![WriteOp::RetractRelation {
            relation: w.lives.id,
            retracted_at: day(12),
            episode: Some(episode),
        }],
        "retract",
    )
    .await;
    let retracted = Relation {
        times: RelationTimes {
            retracted_at: Some(day(12)),
            ..w.lives.times
        },
        invalidated_in: Some(episode),
        ..w.lives.clone()
    };
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        Some(retracted.clone()),
        "after RetractRelation: only retracted_at and invalidated_in change"
    );
    for (what, point, expected) in [
        ("now", later(), false),
        ("as of day 5 (retraction hides every T)", at(5, 25), false),
        ("as known on day 11", at(25, 11), true),
    ] {
        assert_eq!(
            visible_in_graph(store, &w, w.lives.id, point).await,
            expected,
            "retracted relation, visible {what}?"
        );
    }
    ok(
        store
            .set_relation_times(&w.scope, w.lives.id, retracted.times)
            .await,
        "set_relation_times",
    );
    assert!(
        !found_by_search(store, &w.scope, w.lives.id, later()).await,
        "after set_relation_times(retracted), search_relations must not return it"
    );
    assert!(
        found_by_search(store, &w.scope, w.lives.id, at(25, 11)).await,
        "after set_relation_times(retracted), search_relations must return it as known on day 11"
    );

    apply(
        store,
        &w.scope,
        vec![WriteOp::RestoreRelation {
            relation: w.lives.id,
            times: w.lives.times,
        }],
        "restore",
    )
    .await;
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        Some(w.lives.clone()),
        "after RestoreRelation: the relation must equal the original"
    );
    ok(
        store
            .set_relation_times(&w.scope, w.lives.id, w.lives.times)
            .await,
        "set_relation_times",
    );
    assert!(
        found_by_search(store, &w.scope, w.lives.id, later()).await,
        "after set_relation_times(restored), search_relations must return it now"
    );
}

/// `DeleteRelation` removes it from every graph read; `delete_relation_vectors` from the
/// search; deleting it again is `NotFound`.
pub async fn delete_relation_and_its_vector<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let acme = entity(&w.scope, "Acme", "Organization", unit(4));
    let works = relation(
        &w.scope,
        w.alice.id,
        "WORKS_AT",
        acme.id,
        "Alice works at Acme",
        since(1, 2),
    );
    apply(
        store,
        &w.scope,
        vec![
            WriteOp::UpsertEntity(acme.clone()),
            WriteOp::AddRelation(works.clone()),
        ],
        "add works",
    )
    .await;
    ok(
        store
            .upsert_relation_vectors(&[relation_vector(&works, axis(1))])
            .await,
        "upsert_relation_vectors",
    );
    apply(
        store,
        &w.scope,
        vec![WriteOp::DeleteRelation {
            relation: w.lives.id,
        }],
        "delete lives",
    )
    .await;
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        None,
        "a deleted relation must be gone from relation()"
    );
    assert_eq!(
        ok(
            store
                .relations(&w.scope, &by_entity(w.alice.id, None))
                .await,
            "relations"
        ),
        vec![works.clone()],
        "a deleted relation must be gone from relations(), even the full timeline"
    );
    let walk = ok(
        walk(store, &w.scope, &[w.alice.id], 2, later()).await,
        "walk",
    );
    assert_eq!(
        graph_to_text(&walk),
        "entities: acme, alice\nalice -[WORKS_AT]-> acme (hop 1)\n",
        "a deleted relation must be gone from walk()"
    );
    let changes = ok(store.changes(&w.scope, day(0), day(100)).await, "changes");
    assert_eq!(
        set(changes.added.iter().map(|r| r.id)),
        set([works.id]),
        "a deleted relation must be gone from changes()"
    );
    ok(
        store.delete_relation_vectors(&w.scope, &[w.lives.id]).await,
        "delete_relation_vectors",
    );
    let hits = ok(
        store
            .search_relations(&w.scope, &axis(0), 10, later())
            .await,
        "search_relations",
    );
    assert_eq!(
        hits.iter().map(|h| h.item).collect::<Vec<_>>(),
        vec![works.id],
        "after delete_relation_vectors, search_relations must return only the other vector"
    );
    apply_not_found(
        store,
        &w.scope,
        vec![WriteOp::DeleteRelation {
            relation: w.lives.id,
        }],
        "DeleteRelation of an already deleted relation",
    )
    .await;
}

/// `AddProvenance` adds one mention per op (also within one batch) and each episode once.
pub async fn add_provenance_counts_every_call_adds_episode_once<S: ContractStore + ?Sized>(
    store: &S,
) {
    let w = seed_lives(store).await;
    let e1 = fixtures::episode(&w.scope, "first", 1, None);
    let e2 = fixtures::episode(&w.scope, "second", 2, None);
    for e in [&e1, &e2] {
        assert_eq!(
            ok(store.insert_episode(e).await, "insert_episode"),
            EpisodeInsert::Inserted
        );
    }
    let add = |episode| WriteOp::AddProvenance {
        relation: w.lives.id,
        episode,
    };
    let steps: Vec<(&str, Vec<WriteOp>, u32, Vec<EpisodeId>)> = vec![
        ("first AddProvenance(e1)", vec![add(e1.id)], 2, vec![e1.id]),
        ("AddProvenance(e2)", vec![add(e2.id)], 3, vec![e1.id, e2.id]),
        (
            "AddProvenance(e2) again",
            vec![add(e2.id)],
            4,
            vec![e1.id, e2.id],
        ),
        (
            "AddProvenance(e1) twice in one batch",
            vec![add(e1.id), add(e1.id)],
            6,
            vec![e1.id, e2.id],
        ),
    ];
    for (what, ops, mentions, episodes) in steps {
        apply(store, &w.scope, ops, what).await;
        let expected = Relation {
            mentions,
            episodes,
            ..w.lives.clone()
        };
        assert_eq!(
            ok(store.relation(&w.scope, w.lives.id).await, "relation"),
            Some(expected),
            "after {what}: mentions count every op, episodes hold each episode once, oldest first"
        );
    }
    apply_not_found(
        store,
        &w.scope,
        vec![WriteOp::AddProvenance {
            relation: RelationId::new(),
            episode: e1.id,
        }],
        "AddProvenance to a missing relation",
    )
    .await;
    apply_not_found(
        store,
        &w.scope,
        vec![WriteOp::AddProvenance {
            relation: w.lives.id,
            episode: EpisodeId::new(),
        }],
        "AddProvenance of a missing episode",
    )
    .await;
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation").map(|r| r.mentions),
        Some(6),
        "refused AddProvenance ops must not count mentions"
    );
}

/// `changes(since, until)` reports events with `since <= t < until`.
pub async fn changes_window_is_half_open<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let (x, y) = (
        entity(&scope, "x", "Thing", axis(0)),
        entity(&scope, "y", "Thing", axis(1)),
    );
    let r = |name: &str, recorded| relation(&scope, x.id, "LINKS", y.id, name, since(1, recorded));
    let (ra, rb, rc) = (r("a", 5), r("b", 10), r("c", 15));
    apply(
        store,
        &scope,
        vec![
            WriteOp::UpsertEntity(x.clone()),
            WriteOp::UpsertEntity(y.clone()),
            WriteOp::AddRelation(ra.clone()),
            WriteOp::AddRelation(rb.clone()),
            WriteOp::AddRelation(rc.clone()),
            WriteOp::EndRelation {
                relation: ra.id,
                valid_to: day(9),
                invalidated_at: Some(day(10)),
                invalidated_by: None,
                episode: None,
            },
            WriteOp::RetractRelation {
                relation: rb.id,
                retracted_at: day(15),
                episode: None,
            },
        ],
        "seed changes",
    )
    .await;
    // (since, until, added | invalidated | retracted)
    let cases: &[(u32, u32, &str)] = &[
        (0, 5, " |  | "),
        (5, 10, "a |  | "),
        (5, 15, "a b | a | "),
        (10, 15, "b | a | "),
        (15, 16, "c |  | b"),
        (10, 10, " |  | "),
        (0, 100, "a b c | a | b"),
        (16, 100, " |  | "),
    ];
    for (since_day, until_day, expected) in cases {
        let c = ok(
            store
                .changes(&scope, day(*since_day), day(*until_day))
                .await,
            "changes",
        );
        let names = |rs: &[Relation]| {
            let mut n: Vec<&str> = rs.iter().map(|r| r.fact.as_str()).collect();
            n.sort_unstable();
            n.join(" ")
        };
        let got = format!(
            "{} | {} | {}",
            names(&c.added),
            names(&c.invalidated),
            names(&c.retracted)
        );
        assert_eq!(
            got, *expected,
            "changes(day {since_day}, day {until_day}) as added | invalidated | retracted"
        );
    }
}

/// A batch whose last op fails (`NotFound`) applies none of its earlier ops; the same
/// batch without that op then succeeds.
pub async fn apply_is_atomic<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let ep = fixtures::episode(&w.scope, "bob works at acme", 3, None);
    assert_eq!(
        ok(store.insert_episode(&ep).await, "insert_episode"),
        EpisodeInsert::Inserted
    );
    let bob = entity(&w.scope, "Bob", "Person", unit(7));
    let acme = entity(&w.scope, "Acme", "Organization", unit(8));
    let works = relation(
        &w.scope,
        bob.id,
        "WORKS_AT",
        acme.id,
        "Bob works at Acme",
        since(3, 3),
    );
    let valid_ops = vec![
        WriteOp::UpsertEntity(bob.clone()),
        WriteOp::UpsertEntity(acme.clone()),
        WriteOp::AddRelation(works.clone()),
        WriteOp::Mention {
            episode: ep.id,
            entity: bob.id,
        },
        WriteOp::EndRelation {
            relation: w.lives.id,
            valid_to: day(3),
            invalidated_at: Some(day(3)),
            invalidated_by: Some(works.id),
            episode: None,
        },
        WriteOp::AddProvenance {
            relation: w.lives.id,
            episode: ep.id,
        },
        WriteOp::SetEpisodeStatus {
            episode: ep.id,
            status: EpisodeStatus::Done,
            llm_usage: LlmUsage::default(),
        },
    ];
    let mut failing = valid_ops.clone();
    failing.push(WriteOp::AddProvenance {
        relation: RelationId::new(),
        episode: ep.id,
    });
    apply_not_found(
        store,
        &w.scope,
        failing,
        "a batch whose last op names a missing relation",
    )
    .await;

    let what = "after the failed batch";
    assert_eq!(
        ok(store.entity(&w.scope, bob.id).await, "entity"),
        None,
        "{what}: its new entity must not exist"
    );
    assert_eq!(
        ok(
            store.entity_by_name(&w.scope, "bob").await,
            "entity_by_name"
        ),
        None,
        "{what}: its new entity must not be found by name"
    );
    assert_eq!(
        ok(store.entities(&w.scope, LISTING).await, "entities").len(),
        3,
        "{what}: the scope must still hold exactly its three entities"
    );
    assert_eq!(
        ok(store.relation(&w.scope, works.id).await, "relation"),
        None,
        "{what}: its new relation must not exist"
    );
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        Some(w.lives.clone()),
        "{what}: the existing relation must be neither ended nor given provenance"
    );
    assert_eq!(
        ok(store.episode(ep.id).await, "episode").map(|e| e.status),
        Some(EpisodeStatus::Pending),
        "{what}: the episode must still be pending"
    );
    let changes = ok(store.changes(&w.scope, day(0), day(100)).await, "changes");
    assert_eq!(
        (changes.added.len(), changes.invalidated.len()),
        (1, 0),
        "{what}: changes() must show only the seeded relation"
    );

    apply(
        store,
        &w.scope,
        valid_ops,
        "the same batch without the failing op",
    )
    .await;
    assert_eq!(
        ok(store.relation(&w.scope, works.id).await, "relation"),
        Some(works),
        "the valid batch must add its relation"
    );
    let lives =
        ok(store.relation(&w.scope, w.lives.id).await, "relation").expect("lives still exists");
    assert_eq!(
        (lives.times.valid_to, lives.mentions, lives.episodes),
        (Some(day(3)), 2, vec![ep.id]),
        "the valid batch must end the old relation and add provenance"
    );
}

/// Upserting a relation vector twice (same id, new vector) leaves one entry, with the new
/// vector.
pub async fn upsert_relation_vector_twice_gives_one_hit<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let dummy = mnemo_core::EntityId::new();
    let r = relation(&scope, dummy, "NEAR", dummy, "twice", since(1, 1));
    let first = relation_vector(&r, axis(1));
    let second = relation_vector(&r, axis(2));
    for (what, item) in [
        ("first", &first),
        ("same again", &first),
        ("new vector", &second),
    ] {
        ok(
            store
                .upsert_relation_vectors(std::slice::from_ref(item))
                .await,
            what,
        );
    }
    for (query, expected_score) in [(axis(2), 1.0), (axis(1), 0.0)] {
        let hits = ok(
            store.search_relations(&scope, &query, 10, later()).await,
            "search_relations",
        );
        assert_eq!(
            hits.iter().map(|h| h.item).collect::<Vec<_>>(),
            vec![r.id],
            "after upserting one id three times, search_relations must return it once"
        );
        assert!(
            (hits[0].score - expected_score).abs() < 1e-3,
            "the upsert must replace the vector: cosine to {query:?} should be {expected_score}, got {}",
            hits[0].score
        );
    }
}

/// `EndRelation` with `invalidated_at: None` (interval placement of a relation recorded
/// after its successor): the end is known from the start, so the relation is invisible
/// after `valid_to` at any `known_at`, and visible inside its interval.
pub async fn end_known_when_recorded<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let moved = w.moved_to_nyc();
    apply(
        store,
        &w.scope,
        vec![
            WriteOp::AddRelation(moved.clone()),
            WriteOp::EndRelation {
                relation: w.lives.id,
                valid_to: day(10),
                invalidated_at: None,
                invalidated_by: Some(moved.id),
                episode: None,
            },
        ],
        "end the old relation, known when recorded",
    )
    .await;
    let ended = Relation {
        times: RelationTimes {
            valid_to: Some(day(10)),
            invalidated_at: None,
            ..w.lives.times
        },
        invalidated_by: Some(moved.id),
        invalidated_in: None,
        ..w.lives.clone()
    };
    assert_eq!(
        ok(store.relation(&w.scope, w.lives.id).await, "relation"),
        Some(ended),
        "after EndRelation without invalidated_at: invalidated_at stays empty"
    );
    assert!(
        !visible_in_graph(store, &w, w.lives.id, at(25, 10)).await,
        "an end known when recorded hides the relation after valid_to at every known_at"
    );
    assert!(
        visible_in_graph(store, &w, w.lives.id, at(5, 25)).await,
        "inside its interval the relation stays visible"
    );
}

/// `relations_by_ids` and `entities_by_ids` answer each id as `relation` and `entity` would,
/// in order: unknown ids and ids of another scope as `None`, repeats repeated.
pub async fn reads_by_ids_answer_each_id_in_order<S: ContractStore + ?Sized>(store: &S) {
    let w = seed_lives(store).await;
    let moved = w.moved_to_nyc();
    apply(
        store,
        &w.scope,
        vec![WriteOp::AddRelation(moved.clone())],
        "add moved",
    )
    .await;
    let unknown = RelationId::new();
    let ids = [moved.id, unknown, w.lives.id, moved.id];
    let found = ok(
        store.relations_by_ids(&w.scope, &ids).await,
        "relations_by_ids",
    );
    assert_eq!(
        found,
        vec![
            Some(moved.clone()),
            None,
            Some(w.lives.clone()),
            Some(moved.clone())
        ],
        "relations_by_ids({ids:?})"
    );
    assert_eq!(
        ok(
            store.relations_by_ids(&w.scope, &[]).await,
            "relations_by_ids"
        ),
        Vec::<Option<Relation>>::new()
    );
    let other = user_scope();
    assert_eq!(
        ok(
            store.relations_by_ids(&other, &ids).await,
            "relations_by_ids"
        ),
        vec![None; ids.len()],
        "another scope sees none of them"
    );
    let (long, answers) = long_batch(&ids, &found);
    let found_long = store.relations_by_ids(&w.scope, &long).await;
    assert_eq!(
        ok(found_long, "relations_by_ids"),
        answers,
        "{} ids",
        long.len()
    );

    let entity_ids = [w.nyc.id, EntityId::new(), w.alice.id, w.nyc.id];
    let found = ok(
        store.entities_by_ids(&w.scope, &entity_ids).await,
        "entities_by_ids",
    );
    assert_eq!(
        found,
        vec![
            Some(w.nyc.clone()),
            None,
            Some(w.alice.clone()),
            Some(w.nyc.clone())
        ],
        "entities_by_ids({entity_ids:?})"
    );
    assert_eq!(
        ok(
            store.entities_by_ids(&other, &entity_ids).await,
            "entities_by_ids"
        ),
        vec![None; entity_ids.len()],
        "another scope sees none of them"
    );
    let (long, answers) = long_batch(&entity_ids, &found);
    let found_long = store.entities_by_ids(&w.scope, &long).await;
    assert_eq!(
        ok(found_long, "entities_by_ids"),
        answers,
        "{} ids",
        long.len()
    );
}
