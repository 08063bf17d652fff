//! Search through the public API: exact filtered top-k against a brute-force reference,
//! and full-text queries whose text is never FTS syntax.

use mnemo_core::ports::{GraphRead, GraphWrite, VectorRead, VectorWrite, WriteOp};
use mnemo_core::{Fact, FactEvent, FactEventKind, FactId, RelationTimes, Visibility, is_visible};
use mnemo_embedded::EmbeddedStore;

use crate::support::{
    DIM, RandomData, Rng, axis, day, entity, relation, relation_vector, scope, seeded,
};

/// Random relation times around January 2024: some ended, some retracted, some recorded late.
fn random_times(rng: &mut Rng) -> RelationTimes {
    let mut times = crate::support::current(day(1 + rng.below(20)));
    if rng.below(3) == 0 {
        times.valid_from = Some(day(1 + rng.below(10)));
    }
    if rng.below(3) == 0 {
        times.valid_to = Some(day(10 + rng.below(10)));
        times.invalidated_at = Some(day(15 + rng.below(10)));
    }
    if rng.below(6) == 0 {
        times.retracted_at = Some(day(15 + rng.below(10)));
    }
    times
}

#[tokio::test]
async fn relation_search_is_the_exact_visible_top_k() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let mut rng = seeded(11);
    let people: Vec<_> = (0..2)
        .map(|i| entity(&s, &format!("p{i}"), &[], rng.unit(DIM)))
        .collect();
    let mut reference = Vec::new();
    let mut vectors = Vec::new();
    for i in 0..3_000 {
        let mut r = relation(&s, &people[0], "KNOWS", &people[1], &format!("r{i}"));
        r.times = random_times(&mut rng);
        let v = rng.unit(DIM);
        reference.push((r.id, r.times, v.clone()));
        vectors.push(relation_vector(&r, v));
    }
    store.upsert_relation_vectors(&vectors).await.unwrap();
    // Another scope's vectors never show up.
    let other = scope("bob");
    let noise: Vec<_> = vectors
        .iter()
        .map(|v| mnemo_core::ports::RelationVector {
            id: mnemo_core::RelationId::new(),
            scope: other.clone(),
            ..v.clone()
        })
        .collect();
    store.upsert_relation_vectors(&noise).await.unwrap();

    for (t, k) in [(5, 5), (12, 25), (22, 18), (30, 30)] {
        for k_wanted in [1, 10, 100] {
            let at = Visibility {
                as_of: day(t),
                known_at: day(k),
            };
            let query = rng.unit(DIM);
            let hits = store
                .search_relations(&s, &query, k_wanted, at)
                .await
                .unwrap();
            let mut want: Vec<(f32, _)> = reference
                .iter()
                .filter(|(_, times, _)| is_visible(times, &at))
                .map(|(id, _, v)| (v.iter().zip(&query).map(|(a, b)| a * b).sum::<f32>(), *id))
                .collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0));
            want.truncate(k_wanted);
            assert_eq!(hits.len(), want.len(), "at {t}/{k}");
            for (hit, (score, _)) in hits.iter().zip(&want) {
                assert!((hit.score - score).abs() < 1e-5, "{} vs {score}", hit.score);
                let (_, times, _) = reference.iter().find(|r| r.0 == hit.item).unwrap();
                assert!(is_visible(times, &at));
            }
        }
    }

    // Re-timing a relation's vector changes what is visible.
    let (id, times, v) = reference[0].clone();
    let at = Visibility::now();
    let retracted = RelationTimes {
        retracted_at: Some(day(1)),
        recorded_at: day(1),
        ..times
    };
    store.set_relation_times(&s, id, retracted).await.unwrap();
    let hits = store.search_relations(&s, &v, 3_000, at).await.unwrap();
    assert!(hits.iter().all(|h| h.item != id));
    let restored = crate::support::current(day(1));
    store.set_relation_times(&s, id, restored).await.unwrap();
    let hits = store.search_relations(&s, &v, 1, at).await.unwrap();
    assert_eq!(hits[0].item, id);
    assert!((hits[0].score - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn wrong_query_length_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let err = store
        .search_relations(&s, &[1.0; 3], 5, Visibility::now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, mnemo_core::StoreError::Conflict(_)),
        "{err:?}"
    );
    assert!(store.search_facts(&s, &[1.0; DIM + 1], 5).await.is_err());
}

/// Entities named in `names`, in scope "alice", plus an "Alice" in scope "bob".
async fn text_fixture(store: &EmbeddedStore) {
    let s = scope("alice");
    let names: &[(&str, &[&str])] = &[
        ("Alice Smith", &["ally"]),
        ("Bob Jones", &[]),
        ("O'Brien", &[]),
        ("AND Corp", &[]),
        ("Zoë", &[]),
        ("New York City", &["nyc", "big apple"]),
    ];
    let ops = names
        .iter()
        .enumerate()
        .map(|(i, (name, aliases))| WriteOp::UpsertEntity(entity(&s, name, aliases, axis(i))))
        .collect();
    store.apply(&s, ops).await.unwrap();
    let b = scope("bob");
    store
        .apply(
            &b,
            vec![WriteOp::UpsertEntity(entity(
                &b,
                "Alice Smith",
                &[],
                axis(0),
            ))],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn entity_text_search_escapes_user_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    text_fixture(&store).await;
    let s = scope("alice");
    let check = |query: &'static str, expected: &'static [&'static str]| {
        let store = store.clone();
        let s = s.clone();
        async move {
            let hits = store.search_entities_text(&s, query, 10).await;
            let hits = hits.unwrap_or_else(|e| panic!("query {query:?} failed: {e}"));
            let mut names: Vec<&str> = hits.iter().map(|h| h.item.display_name.as_str()).collect();
            names.sort();
            assert_eq!(names, expected, "query {query:?}");
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
            assert!(hits.iter().all(|h| h.score > 0.0), "{query:?}");
        }
    };
    check("alice", &["Alice Smith"]).await;
    check("ALICE", &["Alice Smith"]).await;
    check("ally", &["Alice Smith"]).await;
    check("where does alice live?", &["Alice Smith"]).await;
    check("\"alice\"", &["Alice Smith"]).await;
    check("alice\"", &["Alice Smith"]).await;
    check("alice AND bob", &["AND Corp", "Alice Smith", "Bob Jones"]).await;
    check("and", &["AND Corp"]).await;
    check("NOT alice", &["Alice Smith"]).await;
    // "NEAR(alice" is the phrase "near alice", not the NEAR operator.
    check("NEAR(alice bob)", &["Bob Jones"]).await;
    check("ali*", &[]).await;
    check("*", &[]).await;
    check("-bob", &["Bob Jones"]).await;
    check("name:alice", &[]).await;
    check("o'brien", &["O'Brien"]).await;
    check("zoe", &["Zoë"]).await;
    check("big apple", &["New York City"]).await;
    check("'); DROP TABLE entities; --", &[]).await;
    check("", &[]).await;
    check("   ", &[]).await;
    // Still there after the injection attempt.
    check("bob", &["Bob Jones"]).await;
}

#[tokio::test]
async fn entity_lookup_by_name_and_alias() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    text_fixture(&store).await;
    let s = scope("alice");
    let cases: &[(&str, Option<&str>)] = &[
        ("alice smith", Some("Alice Smith")),
        ("  Alice   SMITH ", Some("Alice Smith")),
        ("ally", Some("Alice Smith")),
        ("NYC", Some("New York City")),
        ("alice", None),
        ("", None),
    ];
    for (name, expected) in cases {
        let got = store.entity_by_name(&s, name).await.unwrap();
        assert_eq!(
            got.as_ref().map(|e| e.display_name.as_str()),
            *expected,
            "{name:?}"
        );
    }
    let bob = store
        .entity_by_name(&scope("bob"), "alice smith")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.scope, scope("bob"));
    assert!(
        store
            .entity_by_name(&scope("bob"), "ally")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn entity_vector_search_ranks_by_cosine() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    text_fixture(&store).await;
    let s = scope("alice");
    let mut q = axis(1);
    q[2] = 0.5;
    let hits = store.search_entities_vector(&s, &q, 2).await.unwrap();
    let names: Vec<_> = hits.iter().map(|h| h.item.display_name.as_str()).collect();
    assert_eq!(names, ["Bob Jones", "O'Brien"]);
    assert_eq!(hits[0].score, 1.0);
    assert_eq!(hits[1].score, 0.5);
    assert!(
        store
            .search_entities_vector(&scope("nobody"), &q, 2)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn fact_search_by_vector_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let texts = [
        "Alice is vegetarian",
        "Alice likes \"quoted\" jazz",
        "Bob plays chess",
    ];
    let mut ids = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let fact = Fact {
            id: FactId::new(),
            scope: s.clone(),
            text: (*text).to_owned(),
            metadata: serde_json::json!({"i": i}),
            created_at: day(1 + i as u32),
            updated_at: day(1 + i as u32),
            episodes: Vec::new(),
        };
        let event = FactEvent {
            fact_id: fact.id,
            event: FactEventKind::Add,
            old_text: None,
            new_text: Some(fact.text.clone()),
            at: fact.created_at,
            episode: None,
        };
        store.put_fact(&fact, &axis(i), &event).await.unwrap();
        ids.push(fact.id);
    }
    let hits = store.search_facts(&s, &axis(2), 1).await.unwrap();
    assert_eq!(hits[0].item.text, "Bob plays chess");

    let cases: &[(&str, &[&str])] = &[
        ("vegetarian", &["Alice is vegetarian"]),
        (
            "alice",
            &["Alice is vegetarian", "Alice likes \"quoted\" jazz"],
        ),
        ("\"quoted\"", &["Alice likes \"quoted\" jazz"]),
        ("chess OR", &["Bob plays chess"]),
        ("text:chess", &[]),
        ("^", &[]),
    ];
    for (query, expected) in cases {
        let hits = store.search_facts_text(&s, query, 10).await.unwrap();
        let mut got: Vec<&str> = hits.iter().map(|h| h.item.text.as_str()).collect();
        got.sort();
        assert_eq!(got, *expected, "query {query:?}");
    }
    assert!(
        store
            .search_facts_text(&scope("bob"), "alice", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting a fact removes it from both indexes and keeps its history.
    let event = FactEvent {
        fact_id: ids[0],
        event: FactEventKind::Delete,
        old_text: Some(texts[0].to_owned()),
        new_text: None,
        at: day(9),
        episode: None,
    };
    store.delete_fact(&s, ids[0], &event).await.unwrap();
    assert!(
        store
            .search_facts_text(&s, "vegetarian", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let hits = store.search_facts(&s, &axis(0), 3).await.unwrap();
    assert!(hits.iter().all(|h| h.item.id != ids[0]));
    let history = store.fact_history(&s, ids[0]).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.event).collect();
    assert_eq!(kinds, [FactEventKind::Add, FactEventKind::Delete]);
    assert!(
        store
            .fact_history(&scope("bob"), ids[0])
            .await
            .unwrap()
            .is_empty()
    );
}

/// Re-scoring reads a row's `f32` vector by the rowid memory learned for it, and only when
/// that row still holds the same scope and id; otherwise by scope and id. Here the rows of
/// two facts (and of two relation vectors) trade rowids behind the store's back: each must
/// still be scored with its own vector (exactly 1 against itself), not with the other's
/// (the rowid alone) and not dropped (no fallback).
#[tokio::test]
async fn rescoring_reads_each_rows_own_vector_whatever_its_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let mut facts = Vec::new();
    for i in 0..2 {
        let fact = mnemo_testkit::fixtures::fact(&s, &format!("fact {i}"), 1);
        let event = mnemo_testkit::fixtures::fact_event(&fact, FactEventKind::Add, None, 1);
        store.put_fact(&fact, &axis(i), &event).await.unwrap();
        facts.push(fact.id);
    }
    let people = [
        entity(&s, "ann", &[], axis(5)),
        entity(&s, "bo", &[], axis(6)),
    ];
    let mut ops: Vec<WriteOp> = people.iter().cloned().map(WriteOp::UpsertEntity).collect();
    let relations: Vec<_> = (0..2)
        .map(|i| relation(&s, &people[0], "KNOWS", &people[1], &format!("knows {i}")))
        .collect();
    ops.extend(relations.iter().cloned().map(WriteOp::AddRelation));
    store.apply(&s, ops).await.unwrap();
    let vectors: Vec<_> = relations
        .iter()
        .enumerate()
        .map(|(i, r)| relation_vector(r, axis(2 + i)))
        .collect();
    store.upsert_relation_vectors(&vectors).await.unwrap();

    let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
    conn.execute_batch(
        "UPDATE facts SET pk = -pk; UPDATE facts SET pk = 3 + pk; \
         UPDATE relation_vectors SET rowid = -rowid; UPDATE relation_vectors SET rowid = 3 + rowid;",
    )
    .unwrap();
    let rows = |sql: &str| -> Vec<i64> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(rows("SELECT pk FROM facts ORDER BY pk"), [1, 2], "swapped");
    assert_eq!(
        rows("SELECT rowid FROM relation_vectors ORDER BY rowid"),
        [1, 2]
    );

    for (i, id) in facts.iter().enumerate() {
        let hits = store.search_facts(&s, &axis(i), 2).await.unwrap();
        let got: Vec<(FactId, f32)> = hits.iter().map(|h| (h.item.id, h.score)).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], (*id, 1.0), "{got:?}");
        assert_eq!(got[1].1, 0.0, "{got:?}");
    }
    for (i, r) in relations.iter().enumerate() {
        let hits = store
            .search_relations(&s, &axis(2 + i), 2, Visibility::now())
            .await
            .unwrap();
        let got: Vec<_> = hits.iter().map(|h| (h.item, h.score)).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], (r.id, 1.0), "{got:?}");
        assert_eq!(got[1].1, 0.0, "{got:?}");
    }
}
