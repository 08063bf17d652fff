//! The one walk (`mnemo_core::read::walk`) over each store's `relations()`: breadth-first
//! in both directions, a relation reached at hop `1 + (the smaller hop distance of its ends
//! from the seeds)` and returned iff that is at most `depth`; cycles and parallel edges
//! come back once; invisible relations are not crossed. Checked against `graph_to_text` snapshots.

use std::collections::BTreeMap;

use mnemo_core::ports::WriteOp;
use mnemo_core::{Entity, EntityId, RelationTimes, Scope, Visibility};

use super::{apply, ok};
use crate::ContractStore;
use crate::fixtures::{
    at, axis, day, entity, graph_to_text, later, relation, since, user_scope, walk,
};

/// Named entities of one scope, and the relations `(source, TYPE, target, times)` between them.
async fn seed_graph<S: ContractStore + ?Sized>(
    store: &S,
    names: &[&str],
    edges: &[(&str, &str, &str, RelationTimes)],
) -> (Scope, BTreeMap<String, EntityId>) {
    let scope = user_scope();
    let entities: Vec<Entity> = names
        .iter()
        .enumerate()
        .map(|(i, n)| entity(&scope, n, "Thing", axis(i)))
        .collect();
    let ids: BTreeMap<String, EntityId> = entities.iter().map(|e| (e.name.clone(), e.id)).collect();
    let mut ops: Vec<WriteOp> = entities.into_iter().map(WriteOp::UpsertEntity).collect();
    for (source, kind, target, times) in edges {
        ops.push(WriteOp::AddRelation(relation(
            &scope,
            ids[*source],
            kind,
            ids[*target],
            &format!("{source} {kind} {target}"),
            *times,
        )));
    }
    apply(store, &scope, ops, "seed the walk graph").await;
    (scope, ids)
}

/// Walks from `seeds` and compares the `graph_to_text` dump.
async fn check_walk<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    ids: &BTreeMap<String, EntityId>,
    seeds: &[&str],
    depth: u8,
    at: Visibility,
    expected: &str,
) {
    let seed_ids: Vec<EntityId> = seeds.iter().map(|s| ids[*s]).collect();
    let walk = ok(walk(store, scope, &seed_ids, depth, at).await, "walk");
    assert_eq!(
        graph_to_text(&walk),
        expected,
        "walk(seeds {seeds:?}, depth {depth}, at {at:?})"
    );
}

/// On the chain `a -> b <- c -> d`, depth 1, 2 and 3 reach one more hop each, from either
/// end, from the middle and from both ends.
pub async fn walk_depth_on_chain<S: ContractStore + ?Sized>(store: &S) {
    let edges = [
        ("a", "LINKS", "b", since(1, 1)),
        ("c", "LINKS", "b", since(1, 1)),
        ("c", "LINKS", "d", since(1, 1)),
    ];
    let (scope, ids) = seed_graph(store, &["a", "b", "c", "d"], &edges).await;
    let all = "entities: a, b, c, d\n\
               a -[LINKS]-> b (hop 1)\n\
               c -[LINKS]-> b (hop 2)\n\
               c -[LINKS]-> d (hop 3)\n";
    let cases: &[(&[&str], u8, &str)] = &[
        (&["a"], 1, "entities: a, b\na -[LINKS]-> b (hop 1)\n"),
        (
            &["a"],
            2,
            "entities: a, b, c\na -[LINKS]-> b (hop 1)\nc -[LINKS]-> b (hop 2)\n",
        ),
        (&["a"], 3, all),
        (&["d"], 1, "entities: c, d\nc -[LINKS]-> d (hop 1)\n"),
        (
            &["d"],
            2,
            "entities: b, c, d\nc -[LINKS]-> d (hop 1)\nc -[LINKS]-> b (hop 2)\n",
        ),
        (
            &["d"],
            3,
            "entities: a, b, c, d\n\
             c -[LINKS]-> d (hop 1)\n\
             c -[LINKS]-> b (hop 2)\n\
             a -[LINKS]-> b (hop 3)\n",
        ),
        (
            &["b"],
            1,
            "entities: a, b, c\na -[LINKS]-> b (hop 1)\nc -[LINKS]-> b (hop 1)\n",
        ),
        (
            &["b"],
            2,
            "entities: a, b, c, d\n\
             a -[LINKS]-> b (hop 1)\n\
             c -[LINKS]-> b (hop 1)\n\
             c -[LINKS]-> d (hop 2)\n",
        ),
        (
            &["a", "d"],
            1,
            "entities: a, b, c, d\na -[LINKS]-> b (hop 1)\nc -[LINKS]-> d (hop 1)\n",
        ),
        (
            &["a", "d"],
            2,
            "entities: a, b, c, d\n\
             a -[LINKS]-> b (hop 1)\n\
             c -[LINKS]-> d (hop 1)\n\
             c -[LINKS]-> b (hop 2)\n",
        ),
    ];
    for (seeds, depth, expected) in cases {
        check_walk(store, &scope, &ids, seeds, *depth, later(), expected).await;
    }
}

/// On the triangle `x -> y -> z -> x` with a parallel `x -[LIKES]-> y`, every relation and
/// entity comes back exactly once whatever the depth; `y -> z`, whose ends are both one hop
/// from `x`, is reached at hop 2.
pub async fn walk_does_not_loop_on_cycles<S: ContractStore + ?Sized>(store: &S) {
    let edges = [
        ("x", "LINKS", "y", since(1, 1)),
        ("y", "LINKS", "z", since(1, 1)),
        ("z", "LINKS", "x", since(1, 1)),
        ("x", "LIKES", "y", since(1, 1)),
    ];
    let (scope, ids) = seed_graph(store, &["x", "y", "z"], &edges).await;
    let from_x_depth_1 = "entities: x, y, z\n\
                          x -[LIKES]-> y (hop 1)\n\
                          x -[LINKS]-> y (hop 1)\n\
                          z -[LINKS]-> x (hop 1)\n";
    let from_x = "entities: x, y, z\n\
                  x -[LIKES]-> y (hop 1)\n\
                  x -[LINKS]-> y (hop 1)\n\
                  z -[LINKS]-> x (hop 1)\n\
                  y -[LINKS]-> z (hop 2)\n";
    let from_y_z = "entities: x, y, z\n\
                    x -[LIKES]-> y (hop 1)\n\
                    x -[LINKS]-> y (hop 1)\n\
                    y -[LINKS]-> z (hop 1)\n\
                    z -[LINKS]-> x (hop 1)\n";
    let cases: &[(&[&str], u8, &str)] = &[
        (&["x"], 1, from_x_depth_1),
        (&["x"], 2, from_x),
        (&["x"], 3, from_x),
        (&["y", "z"], 1, from_y_z),
        (&["y", "z"], 3, from_y_z),
        (&["x", "x"], 3, from_x),
    ];
    for (seeds, depth, expected) in cases {
        check_walk(store, &scope, &ids, seeds, *depth, later(), expected).await;
    }
}

/// On `a -> b -> c -> d` where `b -> c` ended on day 15 (learned day 20), a walk stops at
/// `b` now, but crosses it as of day 10, or as known on day 19.
pub async fn walk_stops_at_invisible_relations<S: ContractStore + ?Sized>(store: &S) {
    let ended = RelationTimes {
        valid_to: Some(day(15)),
        invalidated_at: Some(day(20)),
        ..since(1, 1)
    };
    let edges = [
        ("a", "LINKS", "b", since(1, 1)),
        ("b", "LINKS", "c", ended),
        ("c", "LINKS", "d", since(1, 1)),
    ];
    let (scope, ids) = seed_graph(store, &["a", "b", "c", "d"], &edges).await;
    let all = "entities: a, b, c, d\n\
               a -[LINKS]-> b (hop 1)\n\
               b -[LINKS]-> c (hop 2)\n\
               c -[LINKS]-> d (hop 3)\n";
    let cases: &[(&str, Visibility, &str)] = &[
        ("now", later(), "entities: a, b\na -[LINKS]-> b (hop 1)\n"),
        ("as of day 10", at(10, 25), all),
        ("as known on day 19", at(25, 19), all),
        ("before anything was recorded", at(25, 0), "entities: a\n"),
    ];
    for (what, point, expected) in cases {
        let walk = ok(walk(store, &scope, &[ids["a"]], 3, *point).await, "walk");
        assert_eq!(graph_to_text(&walk), *expected, "walk(a, depth 3) {what}");
    }
}
