//! Writes: one transaction per batch (and memory untouched when it fails), name conflicts,
//! idempotent journaling, erasure down to the last row, and concurrent use.

use mnemo_core::ports::{
    EpisodeInsert, GraphRead, GraphWrite, Page, RelationQuery, VectorRead, VectorWrite, WriteOp,
};
use mnemo_core::{
    EntityId, EpisodeStatus, Fact, FactEvent, FactEventKind, FactId, ScopeSummary, StoreError,
    Visibility,
};
use mnemo_embedded::EmbeddedStore;

use mnemo_testkit::fixtures::walk;

use crate::support::{
    DIM, RandomData, axis, day, entity, episode, relation, relation_vector, scope, seeded,
};

#[tokio::test]
async fn a_failing_batch_writes_nothing_and_leaves_memory_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let alice = entity(&s, "Alice", &[], axis(0));
    let bob = entity(&s, "Bob", &[], axis(1));
    let knows = relation(&s, &alice, "KNOWS", &bob, "Alice knows Bob");
    store
        .apply(&s, vec![WriteOp::UpsertEntity(alice.clone())])
        .await
        .unwrap();
    let before = store.memory_dump().unwrap();

    let carol = entity(&s, "Carol", &[], axis(2));
    let ghost = entity(&s, "Ghost", &[], axis(3));
    let failing: Vec<(Vec<WriteOp>, &str)> = vec![
        (
            vec![
                WriteOp::UpsertEntity(bob.clone()),
                WriteOp::AddRelation(knows.clone()),
                WriteOp::UpsertEntity(carol.clone()),
                WriteOp::AddRelation(relation(&s, &carol, "KNOWS", &ghost, "to nobody")),
            ],
            "not found",
        ),
        (
            vec![
                WriteOp::UpsertEntity(bob.clone()),
                WriteOp::SetEpisodeStatus {
                    episode: mnemo_core::EpisodeId::new(),
                    status: EpisodeStatus::Done,
                    llm_usage: mnemo_core::LlmUsage::default(),
                },
            ],
            "not found",
        ),
        (
            vec![
                WriteOp::UpsertEntity(bob.clone()),
                WriteOp::UpsertEntity(entity(&s, "Robert", &["alice"], axis(4))),
            ],
            "conflict",
        ),
        (
            vec![
                WriteOp::UpsertEntity(bob.clone()),
                WriteOp::UpsertEntity(entity(&s, "Wrong Size", &[], vec![1.0; DIM - 1])),
            ],
            "dimensions",
        ),
        (
            vec![
                WriteOp::UpsertEntity(bob.clone()),
                WriteOp::UpsertEntity(entity(&scope("other"), "Elsewhere", &[], axis(5))),
            ],
            "not found",
        ),
    ];
    for (ops, expected) in failing {
        let err = store.apply(&s, ops).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert_eq!(store.memory_dump().unwrap(), before);
        assert!(store.entity(&s, bob.id).await.unwrap().is_none());
        assert!(store.entity_by_name(&s, "carol").await.unwrap().is_none());
        let found = store.search_entities_vector(&s, &axis(1), 5).await.unwrap();
        assert_eq!(found.len(), 1, "only Alice is in memory");
        assert!(
            store
                .search_entities_text(&s, "bob", 5)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert!(
        store
            .entity_by_name(&scope("other"), "elsewhere")
            .await
            .unwrap()
            .is_none()
    );

    // The same batch without the bad op goes through.
    store
        .apply(
            &s,
            vec![
                WriteOp::UpsertEntity(bob.clone()),
                WriteOp::AddRelation(knows.clone()),
            ],
        )
        .await
        .unwrap();
    let walked = walk(&store, &s, &[alice.id], 1, Visibility::now())
        .await
        .unwrap();
    assert_eq!(walked.relations.len(), 1);
}

#[tokio::test]
async fn names_and_aliases_resolve_to_one_entity() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let mut alice = entity(&s, "Alice Smith", &["ally"], axis(0));
    store
        .apply(&s, vec![WriteOp::UpsertEntity(alice.clone())])
        .await
        .unwrap();
    let cases: &[(&str, &[&str], bool)] = &[
        ("alice smith", &[], false),
        ("Ally", &[], false),
        ("Bob", &["ALLY"], false),
        ("Bob", &["alice smith"], false),
        ("Bob", &["robert", "bobby"], true),
        ("Alice Smith", &[], false),
    ];
    for (name, aliases, ok) in cases {
        let other = entity(&s, name, aliases, axis(1));
        let result = store.apply(&s, vec![WriteOp::UpsertEntity(other)]).await;
        match (ok, result) {
            (true, Ok(())) => {}
            (false, Err(StoreError::Conflict(_))) => {}
            (_, got) => panic!("{name:?} {aliases:?}: {got:?}"),
        }
    }
    // The same id may rename itself and drop an alias; the dropped alias is free again.
    alice.display_name = "Alice Jones".into();
    alice.name = "alice jones".into();
    alice.aliases = vec!["alice smith".into()];
    store
        .apply(&s, vec![WriteOp::UpsertEntity(alice.clone())])
        .await
        .unwrap();
    assert_eq!(
        store
            .entity_by_name(&s, "alice smith")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(store.entity_by_name(&s, "ally").await.unwrap().is_none());
    let hits = store.search_entities_text(&s, "ally", 5).await.unwrap();
    assert!(hits.is_empty(), "{hits:?}");
    let ally = entity(&s, "Ally", &[], axis(2));
    store
        .apply(&s, vec![WriteOp::UpsertEntity(ally)])
        .await
        .unwrap();
    // Another scope has its own names.
    let b = scope("bob");
    store
        .apply(
            &b,
            vec![WriteOp::UpsertEntity(entity(
                &b,
                "Alice Jones",
                &[],
                axis(0),
            ))],
        )
        .await
        .unwrap();
}

/// An entity written again with only its mention count and times changed keeps its names,
/// vector and indexes (they are not rewritten); any other change goes through whole.
#[tokio::test]
async fn an_entity_mentioned_again_keeps_its_names_vector_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let mut alice = entity(&s, "Alice Smith", &["ally"], axis(0));
    let upsert = |entity: &mnemo_core::Entity| vec![WriteOp::UpsertEntity(entity.clone())];
    store.apply(&s, upsert(&alice)).await.unwrap();
    let first = store.memory_dump().unwrap();

    alice.mentions = 2;
    alice.updated_at = day(2);
    store.apply(&s, upsert(&alice)).await.unwrap();
    assert_eq!(
        store.entity(&s, alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.memory_dump().unwrap(), first, "memory is untouched");
    let by_alias = store.entity_by_name(&s, "ALLY").await.unwrap();
    assert_eq!(by_alias.map(|e| e.mentions), Some(2));
    let text = store.search_entities_text(&s, "ally", 5).await.unwrap();
    assert_eq!(
        text.iter().map(|h| h.item.id).collect::<Vec<_>>(),
        [alice.id]
    );
    let near = store.search_entities_vector(&s, &axis(0), 1).await.unwrap();
    assert_eq!(near[0].item, alice);

    // A new vector, or a new type, with the same names: written whole.
    alice.embedding = axis(1);
    alice.mentions = 3;
    store.apply(&s, upsert(&alice)).await.unwrap();
    assert_ne!(
        store.memory_dump().unwrap(),
        first,
        "memory has the new vector"
    );
    let near = store.search_entities_vector(&s, &axis(1), 1).await.unwrap();
    assert_eq!((near[0].item.id, near[0].score), (alice.id, 1.0));
    alice.entity_type = mnemo_core::EntityType::parse("Organization").unwrap();
    store.apply(&s, upsert(&alice)).await.unwrap();
    assert_eq!(
        store.entity(&s, alice.id).await.unwrap(),
        Some(alice.clone())
    );

    let live = store.memory_dump().unwrap();
    drop(store);
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    assert_eq!(
        store.memory_dump().unwrap(),
        live,
        "the stored codes match memory"
    );
    assert_eq!(store.entity(&s, alice.id).await.unwrap(), Some(alice));
}

#[tokio::test]
async fn episodes_are_journaled_once_per_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let (a, b) = (scope("a"), scope("b"));
    let first = episode(&a, Some("k1"));
    assert_eq!(
        store.insert_episode(&first).await.unwrap(),
        EpisodeInsert::Inserted
    );
    match store
        .insert_episode(&episode(&a, Some("k1")))
        .await
        .unwrap()
    {
        EpisodeInsert::Duplicate(existing) => assert_eq!(*existing, first),
        other => panic!("{other:?}"),
    }
    // Same key in another scope, and no key at all, are new episodes.
    assert_eq!(
        store
            .insert_episode(&episode(&b, Some("k1")))
            .await
            .unwrap(),
        EpisodeInsert::Inserted
    );
    for _ in 0..2 {
        assert_eq!(
            store.insert_episode(&episode(&a, None)).await.unwrap(),
            EpisodeInsert::Inserted
        );
    }
    // Reusing an id is a conflict, not a silent overwrite.
    assert!(matches!(
        store
            .insert_episode(&first)
            .await
            .map_err(|e| e.to_string()),
        Ok(EpisodeInsert::Duplicate(_))
    ));
    let mut same_id = episode(&a, Some("k2"));
    same_id.id = first.id;
    assert!(matches!(
        store.insert_episode(&same_id).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(store.episode(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.pending_episodes(10).await.unwrap().len(), 4);
    let failed = EpisodeStatus::Failed {
        reason: "llm said no".into(),
    };
    store
        .apply(
            &a,
            vec![WriteOp::SetEpisodeStatus {
                episode: first.id,
                status: failed.clone(),
                llm_usage: mnemo_core::LlmUsage::default(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        store.episode(first.id).await.unwrap().unwrap().status,
        failed
    );
    assert_eq!(store.pending_episodes(10).await.unwrap().len(), 3);
    // An episode of scope a cannot be touched through scope b.
    let err = store
        .apply(&b, vec![WriteOp::DeleteEpisode { episode: first.id }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    store
        .apply(&a, vec![WriteOp::DeleteEpisode { episode: first.id }])
        .await
        .unwrap();
    assert!(store.episode(first.id).await.unwrap().is_none());
}

/// Rows of `scope_key` left in every table with a `scope` column (found in the schema, so
/// a new table is covered too), read with a raw connection beside the store.
fn rows_of_scope(dir: &std::path::Path, scope_key: &str) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(dir.join("mnemo.db")).unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT m.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c \
             WHERE m.type = 'table' AND c.name = 'scope' ORDER BY m.name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // A table without a scope column would escape this check: every such table must be
    // the store's meta table, part of a full-text index or a table of vector codes (whose
    // orphans are checked below).
    let unscoped: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN \
             (SELECT m.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c \
              WHERE m.type = 'table' AND c.name = 'scope') ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in &unscoped {
        let allowed = table == "meta"
            || table.starts_with("sqlite_")
            || table.starts_with("entity_fts")
            || table.starts_with("fact_fts")
            || table.ends_with("_codes");
        assert!(allowed, "table {table} has no scope column: {unscoped:?}");
    }
    for expected in [
        "relation_episodes",
        "scope_summaries",
        "entities",
        "fact_history",
    ] {
        assert!(tables.iter().any(|t| t == expected), "{tables:?}");
    }
    let mut out: Vec<(String, i64)> = tables
        .iter()
        .map(|t| {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {t} WHERE scope = ?1"),
                    [scope_key],
                    |r| r.get(0),
                )
                .unwrap();
            (t.to_string(), n)
        })
        .collect();
    // FTS rows carry no scope; none may outlive its entity or fact.
    for (fts, table) in [("entity_fts", "entities"), ("fact_fts", "facts")] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {fts} WHERE rowid NOT IN (SELECT pk FROM {table})"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        out.push((format!("orphan {fts}"), n));
    }
    // Nor any code its vector.
    for (codes, table, row) in [
        ("entity_codes", "entities", "pk"),
        ("relation_vector_codes", "relation_vectors", "rowid"),
        ("fact_codes", "facts", "pk"),
    ] {
        let n: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {codes} WHERE source_row NOT IN (SELECT {row} FROM {table})"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        out.push((format!("orphan {codes}"), n));
    }
    out
}

/// Deleting an entity (after its relation) leaves none of its rows: keys, FTS row,
/// mentions; memory drops its vector and node; a reopen agrees.
#[tokio::test]
async fn delete_entity_leaves_no_rows_behind() {
    let dir = tempfile::tempdir().unwrap();
    let s = scope("alice");
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let ep = episode(&s, None);
    store.insert_episode(&ep).await.unwrap();
    let alice = entity(&s, "Alice", &["ally", "al"], axis(0));
    let bob = entity(&s, "Bob", &[], axis(1));
    let knows = relation(&s, &alice, "KNOWS", &bob, "Alice knows Bob");
    let mut ops = vec![
        WriteOp::UpsertEntity(alice.clone()),
        WriteOp::UpsertEntity(bob.clone()),
        WriteOp::AddRelation(knows.clone()),
    ];
    for e in [&alice, &bob] {
        ops.push(WriteOp::Mention {
            episode: ep.id,
            entity: e.id,
        });
    }
    store.apply(&s, ops).await.unwrap();
    store
        .apply(
            &s,
            vec![
                WriteOp::DeleteRelation { relation: knows.id },
                WriteOp::DeleteEntity { entity: alice.id },
                WriteOp::DeleteEntity { entity: bob.id },
                WriteOp::DeleteEpisode { episode: ep.id },
            ],
        )
        .await
        .unwrap();
    let left: Vec<_> = rows_of_scope(dir.path(), &s.key())
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let dump = store.memory_dump().unwrap();
    assert!(!dump.contains(&alice.id.to_string()), "{dump}");
    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), DIM).unwrap();
    assert_eq!(reopened.memory_dump().unwrap(), dump);
}

#[tokio::test]
async fn erase_scope_removes_every_row_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let mut rng = seeded(5);
    for (i, s) in [scope("gone"), scope("kept")].iter().enumerate() {
        let ep = episode(s, Some("k"));
        store.insert_episode(&ep).await.unwrap();
        let a = entity(s, "Alice", &["ally"], rng.unit(DIM));
        let b = entity(s, "Bob", &[], rng.unit(DIM));
        let mut r = relation(s, &a, "KNOWS", &b, "Alice knows Bob");
        r.episodes = vec![ep.id];
        store
            .apply(
                s,
                vec![
                    WriteOp::UpsertEntity(a.clone()),
                    WriteOp::UpsertEntity(b),
                    WriteOp::AddRelation(r.clone()),
                    WriteOp::Mention {
                        episode: ep.id,
                        entity: a.id,
                    },
                    WriteOp::RecordAlias {
                        episode: ep.id,
                        entity: a.id,
                        alias: "ally".into(),
                    },
                ],
            )
            .await
            .unwrap();
        store
            .put_scope_summary(&ScopeSummary {
                scope: s.clone(),
                text: "Alice knows Bob.".into(),
                through_episode: ep.id,
                updated_at: day(1),
            })
            .await
            .unwrap();
        store
            .upsert_relation_vectors(&[relation_vector(&r, rng.unit(DIM))])
            .await
            .unwrap();
        let fact = Fact {
            id: FactId::new(),
            scope: s.clone(),
            text: format!("fact {i}"),
            metadata: serde_json::json!({}),
            created_at: day(1),
            updated_at: day(1),
            episodes: vec![ep.id],
        };
        let event = FactEvent {
            fact_id: fact.id,
            event: FactEventKind::Add,
            old_text: None,
            new_text: Some(fact.text.clone()),
            at: day(1),
            episode: Some(ep.id),
        };
        store.put_fact(&fact, &rng.unit(DIM), &event).await.unwrap();
    }
    let kept_before = rows_of_scope(dir.path(), &scope("kept").key());
    let stored = |rows: &[(String, i64)]| {
        rows.iter()
            .all(|(t, n)| (*n > 0) != t.starts_with("orphan"))
    };
    assert!(stored(&kept_before), "{kept_before:?}");

    VectorWrite::erase_scope(&store, &scope("gone"))
        .await
        .unwrap();
    let gone = rows_of_scope(dir.path(), &scope("gone").key());
    let kept = rows_of_scope(dir.path(), &scope("kept").key());
    assert!(gone.iter().all(|(_, n)| *n == 0), "{gone:?}");
    assert_eq!(kept, kept_before);
    assert!(!store.memory_dump().unwrap().contains("gone"));
    assert!(
        store
            .search_entities_vector(&scope("gone"), &rng.unit(DIM), 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .search_entities_text(&scope("kept"), "ally", 5)
            .await
            .unwrap()
            .len(),
        1
    );
    // Erasing again, or a scope that never existed, is fine.
    GraphWrite::erase_scope(&store, &scope("gone"))
        .await
        .unwrap();
    GraphWrite::erase_scope(&store, &scope("never"))
        .await
        .unwrap();
}

/// An entity's relations visible at a point are found however many rows before them are
/// not visible (they are read past the short read's row budget, on the blocking pool).
#[tokio::test]
async fn an_entitys_visible_relations_are_found_behind_many_invisible_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let alice = entity(&s, "Alice", &[], axis(0));
    let bob = entity(&s, "Bob", &[], axis(1));
    let mut ops = vec![
        WriteOp::UpsertEntity(alice.clone()),
        WriteOp::UpsertEntity(bob.clone()),
    ];
    let mut visible = Vec::new();
    for i in 0..300i64 {
        let mut r = relation(&s, &alice, "KNOWS", &bob, &format!("Alice knows Bob {i}"));
        r.times.recorded_at = day(2) + chrono::Duration::seconds(i);
        if i < 290 {
            r.times.retracted_at = Some(day(3));
        } else {
            visible.push(r.id);
        }
        ops.push(WriteOp::AddRelation(r));
    }
    store.apply(&s, ops).await.unwrap();
    for (limit, want) in [(40, &visible[..]), (5, &visible[..5])] {
        let q = RelationQuery {
            entity: Some(alice.id),
            outgoing_only: false,
            relation_type: None,
            visible_at: Some(Visibility::at(day(10))),
            limit,
        };
        let got: Vec<_> = store.relations(&s, &q).await.unwrap();
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), want, "{q:?}");
        let whole = RelationQuery {
            visible_at: None,
            ..q
        };
        assert_eq!(store.relations(&s, &whole).await.unwrap().len(), limit);
    }
}

#[tokio::test]
async fn relations_timeline_and_changes_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    let alice = entity(&s, "Alice", &[], axis(0));
    let boston = entity(&s, "Boston", &[], axis(1));
    let paris = entity(&s, "Paris", &[], axis(2));
    let mut lived = relation(&s, &alice, "LIVES_IN", &boston, "Alice lives in Boston");
    lived.times.recorded_at = day(2);
    let mut lives = relation(&s, &alice, "LIVES_IN", &paris, "Alice lives in Paris");
    lives.times.recorded_at = day(5);
    let mut likes = relation(&s, &paris, "LIKED_BY", &alice, "Paris is liked by Alice");
    likes.times.recorded_at = day(6);
    store
        .apply(
            &s,
            vec![
                WriteOp::UpsertEntity(alice.clone()),
                WriteOp::UpsertEntity(boston.clone()),
                WriteOp::UpsertEntity(paris.clone()),
                WriteOp::AddRelation(lived.clone()),
                WriteOp::AddRelation(lives.clone()),
                WriteOp::AddRelation(likes.clone()),
                WriteOp::EndRelation {
                    relation: lived.id,
                    valid_to: day(4),
                    invalidated_at: Some(day(5)),
                    invalidated_by: Some(lives.id),
                    episode: None,
                },
            ],
        )
        .await
        .unwrap();
    let query =
        |entity: Option<EntityId>, outgoing_only: bool, kind: Option<&str>, at: Option<u32>| {
            RelationQuery {
                entity,
                outgoing_only,
                relation_type: kind.map(|k| mnemo_core::RelationType::parse(k).unwrap()),
                visible_at: at.map(|d| Visibility {
                    as_of: day(d),
                    known_at: day(d),
                }),
                limit: 10,
            }
        };
    let cases: Vec<(RelationQuery, Vec<&str>)> = vec![
        (
            query(Some(alice.id), false, None, None),
            vec!["Boston", "Paris", "liked"],
        ),
        (
            query(Some(alice.id), true, None, None),
            vec!["Boston", "Paris"],
        ),
        (query(Some(alice.id), false, None, Some(3)), vec!["Boston"]),
        (
            query(Some(alice.id), false, None, Some(20)),
            vec!["Paris", "liked"],
        ),
        (
            query(Some(alice.id), false, Some("LIVES_IN"), None),
            vec!["Boston", "Paris"],
        ),
        (
            query(None, false, Some("LIVES_IN"), Some(20)),
            vec!["Paris"],
        ),
        (
            query(None, false, None, None),
            vec!["Boston", "Paris", "liked"],
        ),
        (query(Some(boston.id), false, None, Some(20)), vec![]),
        (
            RelationQuery {
                limit: 1,
                ..query(Some(alice.id), false, None, None)
            },
            vec!["Boston"],
        ),
    ];
    for (q, expected) in cases {
        let got = store.relations(&s, &q).await.unwrap();
        assert_eq!(got.len(), expected.len(), "{q:?}");
        for (r, word) in got.iter().zip(&expected) {
            assert!(r.fact.contains(word), "{q:?}: {} vs {word}", r.fact);
        }
    }
    let changes = store.changes(&s, day(5), day(6)).await.unwrap();
    assert_eq!(
        changes.added.iter().map(|r| r.id).collect::<Vec<_>>(),
        [lives.id]
    );
    assert_eq!(
        changes.invalidated.iter().map(|r| r.id).collect::<Vec<_>>(),
        [lived.id]
    );
    assert!(changes.retracted.is_empty());
    let ended = store.relation(&s, lived.id).await.unwrap().unwrap();
    assert_eq!(ended.invalidated_by, Some(lives.id));
    assert_eq!(ended.times.valid_to, Some(day(4)));
    assert!(
        store
            .changes(&scope("bob"), day(1), day(30))
            .await
            .unwrap()
            .added
            .is_empty()
    );
}

#[tokio::test]
async fn walk_reports_hops_and_respects_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let s = scope("alice");
    // a - b - c - d, plus a retracted shortcut a - d.
    let people: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, n)| entity(&s, n, &[], axis(i)))
        .collect();
    let chain: Vec<_> = (0..3)
        .map(|i| relation(&s, &people[i], "KNOWS", &people[i + 1], "knows"))
        .collect();
    let shortcut = relation(&s, &people[0], "KNOWS", &people[3], "shortcut");
    let mut ops: Vec<WriteOp> = people.iter().cloned().map(WriteOp::UpsertEntity).collect();
    ops.extend(chain.iter().cloned().map(WriteOp::AddRelation));
    ops.push(WriteOp::AddRelation(shortcut.clone()));
    ops.push(WriteOp::RetractRelation {
        relation: shortcut.id,
        retracted_at: day(3),
        episode: None,
    });
    store.apply(&s, ops).await.unwrap();

    let now = Visibility::now();
    let before_retraction = Visibility {
        as_of: day(2),
        known_at: day(2),
    };
    let names = |walked: &mnemo_testkit::fixtures::Walk| {
        walked
            .entities
            .iter()
            .map(|e| e.display_name.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let cases = [
        (0, now, "a", vec![]),
        (1, now, "a,b", vec![1]),
        (2, now, "a,b,c", vec![1, 2]),
        (3, now, "a,b,c,d", vec![1, 2, 3]),
        (9, now, "a,b,c,d", vec![1, 2, 3]),
        (1, before_retraction, "a,b,d", vec![1, 1]),
    ];
    for (depth, at, entities, hops) in cases {
        let walked = walk(&store, &s, &[people[0].id], depth, at).await.unwrap();
        assert_eq!(names(&walked), entities, "depth {depth}");
        let got: Vec<u8> = walked.relations.iter().map(|r| r.hops).collect();
        assert_eq!(got, hops, "depth {depth}");
    }
    // Unknown seeds and other scopes give nothing.
    let walked = walk(&store, &s, &[EntityId::new()], 2, now).await.unwrap();
    assert!(walked.entities.is_empty());
    let walked = walk(&store, &scope("bob"), &[people[0].id], 2, now)
        .await
        .unwrap();
    assert!(walked.entities.is_empty());
    // A deleted relation is gone from walks too.
    store
        .apply(
            &s,
            vec![WriteOp::DeleteRelation {
                relation: chain[1].id,
            }],
        )
        .await
        .unwrap();
    let walked = walk(&store, &s, &[people[0].id], 3, now).await.unwrap();
    assert_eq!(names(&walked), "a,b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let s = scope(&format!("user{}", w % 2));
            let mut rng = seeded(100 + w);
            for i in 0..25 {
                let a = entity(&s, &format!("w{w} a{i}"), &[], rng.unit(DIM));
                let b = entity(&s, &format!("w{w} b{i}"), &[], rng.unit(DIM));
                let r = relation(&s, &a, "KNOWS", &b, "knows");
                store
                    .apply(
                        &s,
                        vec![
                            WriteOp::UpsertEntity(a),
                            WriteOp::UpsertEntity(b),
                            WriteOp::AddRelation(r.clone()),
                        ],
                    )
                    .await
                    .unwrap();
                store
                    .upsert_relation_vectors(&[relation_vector(&r, rng.unit(DIM))])
                    .await
                    .unwrap();
                let hits = store
                    .search_relations(&s, &rng.unit(DIM), 5, Visibility::now())
                    .await
                    .unwrap();
                assert!(!hits.is_empty());
                store
                    .entities(
                        &s,
                        Page {
                            limit: 5,
                            offset: 0,
                        },
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for u in 0..2 {
        let s = scope(&format!("user{u}"));
        let all = store
            .entities(
                &s,
                Page {
                    limit: 1_000,
                    offset: 0,
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 100);
        let hits = store
            .search_relations(&s, &axis(0), 1_000, Visibility::now())
            .await
            .unwrap();
        assert_eq!(hits.len(), 50);
    }
}
