//! Entity writes and reads: idempotent upserts that replace, name and alias conflicts,
//! paging, full-text search over names and aliases, and best-first vector searches (entities,
//! facts, relations).

use mnemo_core::ports::{Scored, WriteOp};
use mnemo_core::{Entity, EntityId, FactEventKind, RelationId, StoreError};

use super::{LISTING, apply, long_batch, ok, set};
use crate::ContractStore;
use crate::fixtures::{
    self, axis, cosine, day, entity, fact_event, later, relation, relation_vector, since, towards,
    unit, user_scope,
};
use mnemo_core::ports::Page;

/// The same entity upserted again (alone or twice in a batch) stays one entity; an upsert with
/// the same id replaces every field, including name, aliases and embedding.
pub async fn upsert_entity_twice_keeps_one_entity<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let alice = entity(&scope, "Alice", "Person", unit(1));
    for (what, ops) in [
        ("first upsert", vec![WriteOp::UpsertEntity(alice.clone())]),
        (
            "same upsert again",
            vec![WriteOp::UpsertEntity(alice.clone())],
        ),
        (
            "same upsert twice in one batch",
            vec![
                WriteOp::UpsertEntity(alice.clone()),
                WriteOp::UpsertEntity(alice.clone()),
            ],
        ),
    ] {
        apply(store, &scope, ops, what).await;
        assert_eq!(
            ok(store.entities(&scope, LISTING).await, "entities"),
            vec![alice.clone()],
            "after {what}: exactly one entity, stored unchanged"
        );
    }

    let replaced = Entity {
        display_name: "Alice S.".to_owned(),
        aliases: vec!["ally".to_owned()],
        embedding: unit(9),
        mentions: 3,
        updated_at: day(5),
        ..alice.clone()
    };
    apply(
        store,
        &scope,
        vec![WriteOp::UpsertEntity(replaced.clone())],
        "replace",
    )
    .await;
    assert_eq!(
        ok(store.entity(&scope, alice.id).await, "entity"),
        Some(replaced.clone()),
        "an upsert with the same id must replace the entity"
    );
    assert_eq!(
        ok(store.entity_by_name(&scope, "ally").await, "entity_by_name").map(|e| e.id),
        Some(alice.id),
        "a new alias must resolve to the entity"
    );
    let near = ok(
        store.search_entities_vector(&scope, &unit(9), 10).await,
        "search_entities_vector",
    );
    assert_eq!(
        near.iter().map(|h| h.item.id).collect::<Vec<_>>(),
        vec![alice.id],
        "after replacing its embedding, the entity must be one vector hit"
    );
    assert!(
        (near[0].score - 1.0).abs() < 1e-3,
        "the replaced embedding must be the one searched: score {}",
        near[0].score
    );

    let renamed = Entity {
        name: "alicia".to_owned(),
        display_name: "Alicia".to_owned(),
        aliases: Vec::new(),
        ..replaced
    };
    apply(
        store,
        &scope,
        vec![WriteOp::UpsertEntity(renamed.clone())],
        "rename",
    )
    .await;
    for (name, expected) in [("alice", None), ("ally", None), ("alicia", Some(alice.id))] {
        assert_eq!(
            ok(store.entity_by_name(&scope, name).await, "entity_by_name").map(|e| e.id),
            expected,
            "after renaming alice to alicia without aliases: entity_by_name({name:?})"
        );
    }
    for (query, expected) in [("ally", vec![]), ("alicia", vec![alice.id])] {
        let hits = ok(
            store.search_entities_text(&scope, query, 10).await,
            "search_entities_text",
        );
        assert_eq!(
            hits.iter().map(|h| h.item.id).collect::<Vec<_>>(),
            expected,
            "after the rename, the full-text index must follow: search_entities_text({query:?})"
        );
    }
}

/// A new id with a taken name, or an alias equal to another entity's name, is a `Conflict`
/// (also between two entities of one batch) and nothing of the batch is written; the same
/// name in another scope is fine.
pub async fn name_and_alias_conflicts<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let mut alice = entity(&scope, "Alice", "Person", unit(1));
    alice.aliases = vec!["ally".to_owned()];
    apply(
        store,
        &scope,
        vec![WriteOp::UpsertEntity(alice.clone())],
        "upsert alice",
    )
    .await;
    let carol = entity(&scope, "Carol", "Person", unit(3));
    let mut bob_alias_alice = entity(&scope, "Bob", "Person", unit(2));
    bob_alias_alice.aliases = vec!["alice".to_owned()];
    let dave = entity(&scope, "Dave", "Person", unit(4));
    let cases: Vec<(&str, Vec<Entity>)> = vec![
        (
            "same name as alice, another id",
            vec![entity(&scope, "ALICE", "Person", unit(5))],
        ),
        ("alias equal to alice's name", vec![bob_alias_alice]),
        (
            "a valid entity, then one with alice's name",
            vec![carol.clone(), entity(&scope, "Alice", "Robot", unit(6))],
        ),
        (
            "two new entities with one name in one batch",
            vec![dave.clone(), entity(&scope, "Dave", "Person", unit(7))],
        ),
    ];
    for (what, entities) in cases {
        let ops = entities.into_iter().map(WriteOp::UpsertEntity).collect();
        match store.apply(&scope, ops).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("upsert with {what}: expected Err(Conflict), got {other:?}"),
        }
        assert_eq!(
            ok(store.entities(&scope, LISTING).await, "entities"),
            vec![alice.clone()],
            "after the refused upsert ({what}): only alice, unchanged"
        );
    }

    let other_scope = user_scope();
    let other_alice = entity(&other_scope, "Alice", "Person", unit(1));
    apply(
        store,
        &other_scope,
        vec![WriteOp::UpsertEntity(other_alice.clone())],
        "the same name in another scope is no conflict",
    )
    .await;
    assert_eq!(
        ok(
            store.entity_by_name(&scope, "alice").await,
            "entity_by_name"
        )
        .map(|e| e.id),
        Some(alice.id),
        "the first scope's alice is unchanged"
    );
}

/// `entities()` pages through all entities without overlap.
pub async fn entities_listing_pages<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let all: Vec<Entity> = (0..7)
        .map(|i| entity(&scope, &format!("thing {i}"), "Thing", unit(i)))
        .collect();
    apply(
        store,
        &scope,
        all.iter().cloned().map(WriteOp::UpsertEntity).collect(),
        "seed 7 entities",
    )
    .await;
    let mut seen: Vec<EntityId> = Vec::new();
    for (offset, size) in [(0, 3), (3, 3), (6, 1), (7, 0), (100, 0)] {
        let page = ok(
            store.entities(&scope, Page { limit: 3, offset }).await,
            "entities",
        );
        assert_eq!(
            page.len(),
            size,
            "entities(limit 3, offset {offset}) of 7 must hold {size}"
        );
        seen.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(seen.len(), 7, "pages must not overlap: {seen:?}");
    assert_eq!(
        set(seen),
        set(all.iter().map(|e| e.id)),
        "pages together must list every entity"
    );
}

/// Full-text search over names and aliases: case-insensitive, word-based, best first; query
/// syntax characters are plain text, a blank query finds nothing.
pub async fn entity_text_search_matches_names_and_aliases<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let mut alice = entity(&scope, "Alice Smith", "Person", unit(1));
    alice.aliases = vec!["ally".to_owned()];
    let bob = entity(&scope, "Bob Jones", "Person", unit(2));
    let boston = entity(&scope, "Boston", "City", unit(3));
    apply(
        store,
        &scope,
        vec![
            WriteOp::UpsertEntity(alice.clone()),
            WriteOp::UpsertEntity(bob.clone()),
            WriteOp::UpsertEntity(boston.clone()),
        ],
        "seed entities",
    )
    .await;
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("smith", Some(&["alice smith"])),
        ("SMITH", Some(&["alice smith"])),
        ("alice smith", Some(&["alice smith"])),
        ("ally", Some(&["alice smith"])),
        ("jones", Some(&["bob jones"])),
        ("boston", Some(&["boston"])),
        ("nobody", Some(&[])),
        ("smith)", Some(&["alice smith"])),
        ("bob*", Some(&["bob jones"])),
        ("   ", Some(&[])),
        ("", Some(&[])),
        // Query syntax of FTS5 and Lucene: must not error, results unspecified.
        ("\"alice\" OR (", None),
        ("name:alice AND [", None),
        ("-bob NEAR(x y)", None),
    ];
    for (query, expected) in cases {
        let hits = match store.search_entities_text(&scope, query, 10).await {
            Ok(hits) => hits,
            Err(err) => panic!("search_entities_text({query:?}) must not fail: {err:?}"),
        };
        if let Some(expected) = expected {
            assert_eq!(
                sorted_names(&hits),
                *expected,
                "search_entities_text({query:?})"
            );
        }
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "search_entities_text({query:?}) must be best first: {hits:?}"
        );
    }
    let limited = ok(
        store
            .search_entities_text(&scope, "alice smith bob jones boston", 2)
            .await,
        "search_entities_text",
    );
    assert!(
        limited.len() <= 2,
        "search_entities_text(limit 2) returned {} hits",
        limited.len()
    );
}

/// Vector searches over entities, facts and relations return the nearest first, cut to `k`,
/// scored by cosine similarity.
pub async fn vector_searches_are_best_first<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let query = axis(0);
    // i = 1 is nearest; the weight grows with i.
    let vector = |i: usize| towards(&query, &axis(i), 0.3 * i as f32);
    let entities: Vec<Entity> = (1..=5)
        .map(|i| entity(&scope, &format!("e{i}"), "Thing", vector(i)))
        .collect();
    apply(
        store,
        &scope,
        entities
            .iter()
            .cloned()
            .map(WriteOp::UpsertEntity)
            .collect(),
        "seed entities",
    )
    .await;
    let mut facts = Vec::new();
    let mut relations = Vec::new();
    for i in 1..=5 {
        let f = fixtures::fact(&scope, &format!("fact number {i}"), 1);
        ok(
            store
                .put_fact(&f, &vector(i), &fact_event(&f, FactEventKind::Add, None, 1))
                .await,
            "put_fact",
        );
        facts.push(f.id);
        let r = relation(
            &scope,
            entities[0].id,
            "NEAR",
            entities[i - 1].id,
            "near",
            since(1, 1),
        );
        relations.push(r.id);
        ok(
            store
                .upsert_relation_vectors(&[relation_vector(&r, vector(i))])
                .await,
            "upsert_relation_vectors",
        );
    }
    let expected_scores: Vec<f32> = (1..=5).map(|i| cosine(&query, &vector(i))).collect();
    let entity_ids: Vec<EntityId> = entities.iter().map(|e| e.id).collect();

    for k in [3, 10] {
        let n = k.min(5);
        let check = |what: &str, got: Vec<(String, f32)>, want: Vec<String>| {
            assert_eq!(
                got.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
                want[..n].to_vec(),
                "{what}(k = {k}): the {n} nearest, best first"
            );
            for (i, (_, score)) in got.iter().enumerate() {
                assert!(
                    (score - expected_scores[i]).abs() < 1e-3,
                    "{what}(k = {k}): hit {i} must score its cosine {}, got {score}",
                    expected_scores[i]
                );
            }
        };
        let hits = ok(
            store.search_entities_vector(&scope, &query, k).await,
            "search_entities_vector",
        );
        check(
            "search_entities_vector",
            hits.iter()
                .map(|h| (h.item.id.to_string(), h.score))
                .collect(),
            entity_ids.iter().map(ToString::to_string).collect(),
        );
        let hits = ok(store.search_facts(&scope, &query, k).await, "search_facts");
        check(
            "search_facts",
            hits.iter()
                .map(|h| (h.item.id.to_string(), h.score))
                .collect(),
            facts.iter().map(ToString::to_string).collect(),
        );
        let hits = ok(
            store.search_relations(&scope, &query, k, later()).await,
            "search_relations",
        );
        check(
            "search_relations",
            hits.iter().map(|h| (h.item.to_string(), h.score)).collect(),
            relations
                .iter()
                .map(|r: &RelationId| r.to_string())
                .collect(),
        );
    }
}

fn sorted_names(hits: &[Scored<Entity>]) -> Vec<&str> {
    let mut n: Vec<&str> = hits.iter().map(|h| h.item.name.as_str()).collect();
    n.sort_unstable();
    n
}

/// `entities_by_names` answers each name as `entity_by_name` would, in order: names and
/// aliases in any case, unknown and unnormalisable names as `None`, repeats repeated.
pub async fn entities_by_names_answers_each_name_in_order<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let alice = Entity {
        aliases: vec!["ally".to_owned()],
        ..entity(&scope, "Alice", "Person", unit(1))
    };
    let bob = entity(&scope, "Bob", "Person", unit(2));
    apply(
        store,
        &scope,
        vec![
            WriteOp::UpsertEntity(alice.clone()),
            WriteOp::UpsertEntity(bob.clone()),
        ],
        "seed",
    )
    .await;
    let names: Vec<String> = ["BOB", "nobody", "Ally", "", "alice", "bob"]
        .map(str::to_owned)
        .to_vec();
    let found = ok(
        store.entities_by_names(&scope, &names).await,
        "entities_by_names",
    );
    assert_eq!(
        found
            .iter()
            .map(|e| e.as_ref().map(|e| e.id))
            .collect::<Vec<_>>(),
        vec![
            Some(bob.id),
            None,
            Some(alice.id),
            None,
            Some(alice.id),
            Some(bob.id)
        ],
        "entities_by_names({names:?})"
    );
    assert_eq!(found[2].as_ref(), Some(&alice), "the entity whole");
    assert_eq!(
        ok(
            store.entities_by_names(&scope, &[]).await,
            "entities_by_names"
        ),
        Vec::<Option<Entity>>::new()
    );
    let other = fixtures::user_scope();
    assert_eq!(
        ok(
            store.entities_by_names(&other, &names).await,
            "entities_by_names"
        )
        .iter()
        .filter(|e| e.is_some())
        .count(),
        0,
        "another scope sees none of them"
    );
    let (long, answers) = long_batch(&names, &found);
    let found_long = store.entities_by_names(&scope, &long).await;
    assert_eq!(
        ok(found_long, "entities_by_names"),
        answers,
        "{} names",
        long.len()
    );
}
