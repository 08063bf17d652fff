//! Visibility at (T, K): one relation per temporal situation (current, ended, retracted,
//! no start, recorded late, stored already ended), read at many points through the relation
//! query, the walk and the relation vector search; plus the vector search filter keeping `k`
//! visible hits when invisible ones are closer.

use std::collections::BTreeMap;

use mnemo_core::ports::{RelationQuery, Scored, WriteOp};
use mnemo_core::{EntityId, RelationId, RelationTimes, Scope, Timestamp, is_visible};

use super::{apply, by_entity, by_type, ok};
use crate::ContractStore;
use crate::fixtures::{
    at, axis, cosine, day, entity, later, relation, relation_vector, since, towards, user_scope,
    walk,
};

/// The relations of the table, named by situation.
fn situations() -> Vec<(&'static str, RelationTimes)> {
    let ended = RelationTimes {
        valid_from: Some(day(5)),
        valid_to: Some(day(15)),
        recorded_at: day(6),
        invalidated_at: Some(day(20)),
        retracted_at: None,
    };
    vec![
        ("current", since(5, 6)),
        ("ended", ended),
        (
            "retracted",
            RelationTimes {
                retracted_at: Some(day(10)),
                ..since(5, 6)
            },
        ),
        (
            "no_start",
            RelationTimes {
                valid_from: None,
                ..since(5, 6)
            },
        ),
        ("late", since(5, 22)),
        (
            "born_ended",
            RelationTimes {
                invalidated_at: None,
                ..ended
            },
        ),
    ]
}

/// Read points `(what, (T day, K day), visible situations)`.
const POINTS: &[(&str, (u32, u32), &[&str])] = &[
    ("now", (25, 25), &["current", "late", "no_start"]),
    (
        "as_of inside the ended interval",
        (10, 25),
        &["born_ended", "current", "ended", "late", "no_start"],
    ),
    (
        "as_of exactly at valid_from",
        (5, 25),
        &["born_ended", "current", "ended", "late", "no_start"],
    ),
    (
        "as_of exactly at valid_to (excluded)",
        (15, 25),
        &["current", "late", "no_start"],
    ),
    ("as_of before every valid_from", (1, 25), &["no_start"]),
    (
        "known_at before the invalidation: the old belief",
        (25, 19),
        &["current", "ended", "no_start"],
    ),
    (
        "known_at exactly at the invalidation",
        (25, 20),
        &["current", "no_start"],
    ),
    (
        "known_at before the retraction",
        (25, 9),
        &["current", "ended", "no_start", "retracted"],
    ),
    (
        "known_at exactly at the retraction",
        (25, 10),
        &["current", "ended", "no_start"],
    ),
    (
        "known_at exactly at recorded_at",
        (25, 6),
        &["current", "ended", "no_start", "retracted"],
    ),
    (
        "known_at before the late recording",
        (25, 21),
        &["current", "no_start"],
    ),
    ("known_at before anything was recorded", (25, 5), &[]),
];

/// The table's relations, stored from one seed entity "alice" to one target per situation
/// (named after it), with vectors all close to `axis(0)`.
struct Table {
    scope: Scope,
    alice: EntityId,
    names: BTreeMap<RelationId, &'static str>,
    /// Every relation as `(recorded_at, id, name)`, in the order `relations()` returns them.
    order: Vec<(Timestamp, RelationId, &'static str)>,
}

impl Table {
    fn names(&self, ids: impl IntoIterator<Item = RelationId>) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = ids
            .into_iter()
            .map(|id| self.names.get(&id).copied().unwrap_or("<unknown relation>"))
            .collect();
        out.sort_unstable();
        out
    }
}

async fn seed_table<S: ContractStore + ?Sized>(store: &S) -> Table {
    assert_table_matches_rule();
    let scope = user_scope();
    let alice = entity(&scope, "Alice", "Person", axis(0));
    let mut ops = vec![WriteOp::UpsertEntity(alice.clone())];
    let mut vectors = Vec::new();
    let mut names = BTreeMap::new();
    let mut order = Vec::new();
    for (i, (name, times)) in situations().into_iter().enumerate() {
        let place = entity(&scope, name, "Place", axis(i + 1));
        let r = relation(
            &scope,
            alice.id,
            "LIVED_IN",
            place.id,
            &format!("Alice lived in {name}"),
            times,
        );
        vectors.push(relation_vector(
            &r,
            towards(&axis(0), &axis(i + 1), 0.1 * (i + 1) as f32),
        ));
        names.insert(r.id, name);
        order.push((r.times.recorded_at, r.id, name));
        ops.push(WriteOp::UpsertEntity(place));
        ops.push(WriteOp::AddRelation(r));
    }
    apply(store, &scope, ops, "seed the visibility table").await;
    ok(
        store.upsert_relation_vectors(&vectors).await,
        "upsert_relation_vectors",
    );
    Table {
        scope,
        alice: alice.id,
        names,
        order: {
            order.sort_unstable();
            order
        },
    }
}

/// The table itself must agree with the rule in mnemo-core, or the suite is wrong.
fn assert_table_matches_rule() {
    for (point, (t, k), expected) in POINTS {
        let mut by_rule: Vec<&str> = situations()
            .into_iter()
            .filter(|(_, times)| is_visible(times, &at(*t, *k)))
            .map(|(name, _)| name)
            .collect();
        by_rule.sort_unstable();
        assert_eq!(
            by_rule, *expected,
            "test bug: the contract table disagrees with mnemo_core::is_visible at {point}"
        );
    }
}

/// `relations(visible_at = (T, K))`, by entity and by type, returns exactly the relations
/// visible at (T, K); `visible_at = None` returns the whole timeline.
pub async fn visibility_in_relations_query<S: ContractStore + ?Sized>(store: &S) {
    let table = seed_table(store).await;
    let all = ok(
        store
            .relations(&table.scope, &by_entity(table.alice, None))
            .await,
        "relations",
    );
    let mut every: Vec<&str> = situations().into_iter().map(|(n, _)| n).collect();
    every.sort_unstable();
    assert_eq!(
        table.names(all.iter().map(|r| r.id)),
        every,
        "relations(visible_at = None) must return the full timeline, ended and retracted included"
    );
    for (point, (t, k), expected) in POINTS {
        let p = at(*t, *k);
        let by_e = ok(
            store
                .relations(&table.scope, &by_entity(table.alice, Some(p)))
                .await,
            "relations",
        );
        assert_eq!(
            table.names(by_e.iter().map(|r| r.id)),
            *expected,
            "relations(entity = alice, visible_at = (day {t}, day {k})) — {point}"
        );
        // The limit applies to visible relations, in (recorded_at, id) order.
        let first_two: Vec<&str> = table
            .order
            .iter()
            .filter(|(_, _, name)| expected.contains(name))
            .map(|(_, _, name)| *name)
            .take(2)
            .collect();
        let limited = ok(
            store
                .relations(
                    &table.scope,
                    &RelationQuery {
                        limit: 2,
                        ..by_entity(table.alice, Some(p))
                    },
                )
                .await,
            "relations",
        );
        assert_eq!(
            limited
                .iter()
                .map(|r| table
                    .names
                    .get(&r.id)
                    .copied()
                    .unwrap_or("<unknown relation>"))
                .collect::<Vec<_>>(),
            first_two,
            "relations(entity = alice, visible_at = (day {t}, day {k}), limit 2) — {point}: \
             the first two visible relations by (recorded_at, id)"
        );
        let by_t = ok(
            store
                .relations(&table.scope, &by_type("LIVED_IN", Some(p)))
                .await,
            "relations",
        );
        assert_eq!(
            table.names(by_t.iter().map(|r| r.id)),
            *expected,
            "relations(type = LIVED_IN, visible_at = (day {t}, day {k})) — {point}"
        );
    }
}

/// `walk` from alice at (T, K) follows exactly the visible relations, and always returns the
/// seed itself.
pub async fn visibility_in_walk<S: ContractStore + ?Sized>(store: &S) {
    let table = seed_table(store).await;
    for (point, (t, k), expected) in POINTS {
        let walk = ok(
            walk(store, &table.scope, &[table.alice], 1, at(*t, *k)).await,
            "walk",
        );
        assert_eq!(
            table.names(walk.relations.iter().map(|w| w.relation.id)),
            *expected,
            "walk(alice, depth 1, at (day {t}, day {k})) — {point}: wrong relations"
        );
        let mut entities: Vec<&str> = walk.entities.iter().map(|e| e.name.as_str()).collect();
        entities.sort_unstable();
        let mut want: Vec<&str> = expected.iter().map(|n| n.to_owned()).collect();
        want.push("alice");
        want.sort_unstable();
        assert_eq!(
            entities, want,
            "walk(alice, depth 1, at (day {t}, day {k})) — {point}: wrong entities (the seed plus the visible relations' ends)"
        );
    }
}

/// `search_relations` at (T, K) returns exactly the visible relations (all six are near the
/// query and `k` is larger than the table).
pub async fn visibility_in_relation_search<S: ContractStore + ?Sized>(store: &S) {
    let table = seed_table(store).await;
    for (point, (t, k), expected) in POINTS {
        let hits = ok(
            store
                .search_relations(&table.scope, &axis(0), 20, at(*t, *k))
                .await,
            "search_relations",
        );
        assert_eq!(
            table.names(hits.iter().map(|h| h.item)),
            *expected,
            "search_relations(k = 20, at (day {t}, day {k})) — {point}"
        );
    }
}

/// With 40 invisible (retracted) vectors closer to the query than 5 visible ones,
/// `search_relations(k = 3)` still returns 3 hits: the best visible ones, best first.
pub async fn relation_search_filter_still_returns_k_visible_hits<S: ContractStore + ?Sized>(
    store: &S,
) {
    let scope = user_scope();
    let query = axis(0);
    let hidden_times = RelationTimes {
        retracted_at: Some(day(2)),
        ..since(1, 1)
    };
    let dummy = EntityId::new();
    let mut items = Vec::new();
    let mut hidden = Vec::new();
    for j in 0..40 {
        let r = relation(&scope, dummy, "NEAR", dummy, "hidden", hidden_times);
        let v = towards(&query, &axis(1 + j % 7), 0.01 * (j + 1) as f32);
        hidden.push((r.id, cosine(&query, &v)));
        items.push(relation_vector(&r, v));
    }
    let mut visible = Vec::new();
    for i in 0..5 {
        let r = relation(&scope, dummy, "NEAR", dummy, "visible", since(1, 1));
        let v = towards(&query, &axis(1 + i % 7), 0.5 + 0.2 * i as f32);
        visible.push(r.id);
        items.push(relation_vector(&r, v));
    }
    ok(
        store.upsert_relation_vectors(&items).await,
        "upsert_relation_vectors",
    );
    let got = |hits: Vec<Scored<RelationId>>| hits.into_iter().map(|h| h.item).collect::<Vec<_>>();

    let top3 = ok(
        store.search_relations(&scope, &query, 3, later()).await,
        "search_relations",
    );
    assert_eq!(
        got(top3),
        visible[..3].to_vec(),
        "search_relations(k = 3) with 40 closer invisible vectors must return the 3 best visible ones, best first"
    );
    let all = ok(
        store.search_relations(&scope, &query, 10, later()).await,
        "search_relations",
    );
    assert_eq!(
        got(all),
        visible,
        "search_relations(k = 10) must return the 5 visible vectors (only 5 are visible), best first"
    );
    // Known before the retraction, the hidden ones are visible again and closest.
    hidden.sort_by(|a, b| b.1.total_cmp(&a.1));
    let before = ok(
        store.search_relations(&scope, &query, 3, at(25, 1)).await,
        "search_relations",
    );
    let before: Vec<RelationId> = got(before);
    let hidden_ids: Vec<RelationId> = hidden.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        before,
        hidden_ids[..3].to_vec(),
        "search_relations(k = 3, known_at before the retraction) must return the 3 closest vectors, then still visible"
    );
}
