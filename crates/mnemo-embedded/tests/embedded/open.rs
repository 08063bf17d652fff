//! Opening: migrations are idempotent, the dimension is fixed at creation, one process at a
//! time, corruption is reported, and the in-memory state is rebuilt exactly.

use mnemo_core::ports::{GraphRead, GraphWrite, Scored, VectorRead, VectorWrite, WriteOp};
use mnemo_core::{
    EntityId, EpisodeId, Fact, FactEvent, FactEventKind, FactId, LlmUsage, RelationId, StoreError,
    Visibility,
};
use mnemo_embedded::EmbeddedStore;

use mnemo_testkit::fixtures::walk;

use crate::support::{DIM, RandomData, day, entity, relation, relation_vector, scope, seeded};

#[tokio::test]
async fn reopening_migrates_once_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = scope("alice");
    let alice = entity(&s, "Alice", &[], crate::support::axis(0));
    {
        let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
        store
            .apply(&s, vec![WriteOp::UpsertEntity(alice.clone())])
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
        assert_eq!(
            store.entity(&s, alice.id).await.unwrap(),
            Some(alice.clone())
        );
    }
    let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn open_creates_missing_folders() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    EmbeddedStore::open(&nested, DIM).unwrap();
    assert!(nested.join("mnemo.db").is_file());
}

#[test]
fn dimension_mismatch_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(dir.path(), 8).unwrap());
    match EmbeddedStore::open(dir.path(), 16) {
        Err(StoreError::Conflict(msg)) => {
            assert!(msg.contains("8") && msg.contains("16"), "{msg}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(EmbeddedStore::open(dir.path(), 8).unwrap().dimension(), 8);
}

#[test]
fn the_model_name_is_recorded_and_another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        EmbeddedStore::recorded_model(dir.path()).unwrap(),
        (None, None)
    );
    // A store opened by dimension only (as before names were recorded) takes the first
    // name it is opened with.
    drop(EmbeddedStore::open(dir.path(), 8).unwrap());
    assert_eq!(
        EmbeddedStore::recorded_model(dir.path()).unwrap(),
        (None, Some(8))
    );
    drop(EmbeddedStore::open_for_model(dir.path(), "model-a", 8).unwrap());
    assert_eq!(
        EmbeddedStore::recorded_model(dir.path()).unwrap(),
        (Some("model-a".to_owned()), Some(8))
    );
    match EmbeddedStore::open_for_model(dir.path(), "model-b", 8) {
        Err(StoreError::Conflict(msg)) => assert!(
            msg.contains("model-a") && msg.contains("model-b") && msg.contains("mnemo reindex"),
            "{msg}"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Nothing was changed by the refusal.
    drop(EmbeddedStore::open_for_model(dir.path(), "model-a", 8).unwrap());
    drop(EmbeddedStore::open(dir.path(), 8).unwrap());
}

#[test]
fn a_second_open_while_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let clone = first.clone();
    match EmbeddedStore::open(dir.path(), DIM) {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("in use"), "{msg}"),
        other => panic!("expected the store to be locked, got {other:?}"),
    }
    drop(first);
    assert!(
        EmbeddedStore::open(dir.path(), DIM).is_err(),
        "a clone still holds it"
    );
    drop(clone);
    EmbeddedStore::open(dir.path(), DIM).unwrap();
}

#[test]
fn garbage_database_file_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mnemo.db"), "not a database ".repeat(100)).unwrap();
    match EmbeddedStore::open(dir.path(), DIM) {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(dir.path(), DIM).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    match EmbeddedStore::open(dir.path(), DIM) {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("99"), "{msg}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

/// A database written by schema version 1 (relations with provenance, episodes) opens as
/// version 2: provenance is indexed by episode, usage reads as zero, nothing else changes.
#[tokio::test]
async fn version_1_data_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2, r1, r2) = (
        EpisodeId::new(),
        EpisodeId::new(),
        RelationId::new(),
        RelationId::new(),
    );
    let (x, y) = (EntityId::new(), EntityId::new());
    let s = scope("old");
    let other = scope("other");
    {
        let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
        conn.execute_batch(include_str!("../../migrations/0001_init.sql"))
            .unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = 1;
             INSERT INTO meta (key, value) VALUES ('dimension', '{DIM}');
             INSERT INTO episodes (scope, id, content, occurred_at, ingested_at, status, metadata)
               VALUES ('{s}', '{e1}', '[]', '{t}', '{t}', 'done', '{{}}');
             INSERT INTO relations (scope, id, source, relation_type, target, fact, recorded_at,
               episodes, mentions)
               VALUES ('{s}', '{r1}', '{x}', 'KNOWS', '{y}', 'one', '{t}', '[\"{e1}\",\"{e2}\"]', 2),
                      ('{s}', '{r2}', '{x}', 'KNOWS', '{y}', 'two', '{t}', '[\"{e2}\"]', 1),
                      ('{o}', '{r2}', '{x}', 'KNOWS', '{y}', 'two', '{t}', '[\"{e1}\"]', 1);",
            s = s.key(),
            o = other.key(),
            t = "2024-01-02T00:00:00.000000000Z",
        ))
        .unwrap();
    }
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let stated = |episode| {
        let (store, s) = (store.clone(), s.clone());
        async move {
            let mut ids: Vec<RelationId> = store
                .episode_footprint(&s, episode)
                .await
                .unwrap()
                .stated
                .iter()
                .map(|r| r.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(stated(e1).await, vec![r1]);
    let mut both = vec![r1, r2];
    both.sort();
    assert_eq!(stated(e2).await, both);
    let relation = store.relation(&s, r1).await.unwrap().unwrap();
    assert_eq!(
        (relation.episodes, relation.invalidated_in),
        (vec![e1, e2], None)
    );
    let episode = store.episode(e1).await.unwrap().unwrap();
    assert_eq!(episode.llm_usage, LlmUsage::default());
}

/// A database written by schema version 3 opens as version 4 with each relation's own end
/// presumed: a relation nothing cut ends on its own (with the episode that ended it, unless
/// a retraction overwrote that), a cut one and an open one have none.
#[tokio::test]
async fn version_3_relations_get_their_stated_end() {
    let dir = tempfile::tempdir().unwrap();
    let (stated, cut, restated, retracted, open) = (
        RelationId::new(),
        RelationId::new(),
        RelationId::new(),
        RelationId::new(),
        RelationId::new(),
    );
    let (x, y, e) = (EntityId::new(), EntityId::new(), EpisodeId::new());
    let s = scope("old");
    {
        let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
        for migration in [
            include_str!("../../migrations/0001_init.sql"),
            include_str!("../../migrations/0002_revert_and_usage.sql"),
            include_str!("../../migrations/0003_alias_provenance.sql"),
        ] {
            conn.execute_batch(migration).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = 3;
             INSERT INTO meta (key, value) VALUES ('dimension', '{DIM}');
             INSERT INTO relations (scope, id, source, relation_type, target, fact, recorded_at,
               valid_to, invalidated_at, invalidated_by, invalidated_in, retracted_at,
               episodes, mentions)
               VALUES ('{s}', '{stated}', '{x}', 'LIVES_IN', '{y}', 'a', '{t1}',
                       '{t3}', NULL, NULL, NULL, NULL, '[]', 1),
                      ('{s}', '{cut}', '{x}', 'LIVES_IN', '{y}', 'b', '{t1}',
                       '{t3}', '{t2}', '{open}', '{e}', NULL, '[]', 1),
                      ('{s}', '{restated}', '{x}', 'LIVES_IN', '{y}', 'c', '{t1}',
                       '{t3}', '{t2}', NULL, '{e}', NULL, '[]', 1),
                      ('{s}', '{retracted}', '{x}', 'LIVES_IN', '{y}', 'd', '{t1}',
                       '{t3}', NULL, NULL, '{e}', '{t2}', '[]', 1),
                      ('{s}', '{open}', '{x}', 'LIVES_IN', '{y}', 'e', '{t1}',
                       NULL, NULL, NULL, NULL, NULL, '[]', 1);",
            s = s.key(),
            t1 = "2024-01-01T00:00:00.000000000Z",
            t2 = "2024-01-02T00:00:00.000000000Z",
            t3 = "2024-06-01T00:00:00.000000000Z",
        ))
        .unwrap();
    }
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let t2 = "2024-01-02T00:00:00Z".parse().unwrap();
    let t3 = "2024-06-01T00:00:00Z".parse().unwrap();
    let end = |invalidated_at, episode| {
        Some(mnemo_core::StatedEnd {
            valid_to: t3,
            invalidated_at,
            episode,
        })
    };
    for (id, expected) in [
        (stated, end(None, None)),
        (cut, None),
        (restated, end(Some(t2), Some(e))),
        (retracted, end(None, None)),
        (open, None),
    ] {
        let relation = store.relation(&s, id).await.unwrap().unwrap();
        assert_eq!(
            relation.stated_end, expected,
            "relation {:?}",
            relation.fact
        );
    }
}

/// A database written by schema version 4 (fact text indexed word for word) opens as
/// version 5 with the same facts found by their stems too, in their own scope only.
#[tokio::test]
async fn version_4_fact_text_is_indexed_by_stem() {
    let dir = tempfile::tempdir().unwrap();
    let (s, other) = (scope("old"), scope("other"));
    let walks = mnemo_testkit::fixtures::fact(&s, "Alice walks her dogs at dawn", 1);
    let chess = mnemo_testkit::fixtures::fact(&other, "Bob walked to the chess club", 1);
    {
        let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
        for (i, fact) in [&walks, &chess].into_iter().enumerate() {
            let event = mnemo_testkit::fixtures::fact_event(fact, FactEventKind::Add, None, 1);
            store
                .put_fact(fact, &crate::support::axis(i), &event)
                .await
                .unwrap();
        }
    }
    // Back to version 4: the index as 0001 made it, holding the same rows.
    {
        let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE fact_fts_v4 USING fts5(text, scope_tag, \
               tokenize = 'unicode61 remove_diacritics 2');
             INSERT INTO fact_fts_v4 (rowid, text, scope_tag)
               SELECT rowid, text, scope_tag FROM fact_fts;
             DROP TABLE fact_fts;
             ALTER TABLE fact_fts_v4 RENAME TO fact_fts;
             DROP TABLE entity_codes; DROP TABLE relation_vector_codes; DROP TABLE fact_codes;
             DROP TRIGGER entity_codes_deleted; DROP TRIGGER relation_vector_codes_deleted;
             DROP TRIGGER fact_codes_deleted;
             PRAGMA user_version = 4;",
        )
        .unwrap();
        let stemmed: i64 = conn
            .query_row(
                "SELECT count(*) FROM fact_fts WHERE fact_fts MATCH 'walking'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stemmed, 0, "version 4 matched words as written");
    }
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let found = |scope: mnemo_core::Scope, query: &'static str| {
        let store = store.clone();
        async move {
            store
                .search_facts_text(&scope, query, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|hit| hit.item.text)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found(s.clone(), "walking dog").await, [walks.text.as_str()]);
    assert_eq!(found(s.clone(), "dawn").await, [walks.text.as_str()]);
    assert_eq!(found(other.clone(), "walking").await, [chess.text.as_str()]);
    assert!(found(s, "chess").await.is_empty());
}

/// Builds a state that exercises every in-memory structure — entities, relations that were
/// added, ended, retracted and deleted, relation vectors upserted, re-timed and deleted,
/// facts put and deleted, an erased scope — then checks a reopen rebuilds exactly that.
#[tokio::test]
async fn memory_is_rebuilt_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = seeded(3);
    let (a, b, erased) = (scope("a"), scope("b"), scope("erased"));
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();

    let mut seeds = Vec::new();
    for s in [&a, &b, &erased] {
        let people: Vec<_> = (0..6)
            .map(|i| entity(s, &format!("person {i}"), &[], rng.unit(DIM)))
            .collect();
        let mut ops: Vec<WriteOp> = people.iter().cloned().map(WriteOp::UpsertEntity).collect();
        let mut relations = Vec::new();
        for i in 0..5 {
            let r = relation(
                s,
                &people[i],
                "KNOWS",
                &people[i + 1],
                &format!("{i} knows"),
            );
            ops.push(WriteOp::AddRelation(r.clone()));
            relations.push(r);
        }
        ops.push(WriteOp::EndRelation {
            relation: relations[0].id,
            valid_to: day(10),
            invalidated_at: Some(day(11)),
            invalidated_by: Some(relations[1].id),
            episode: None,
        });
        ops.push(WriteOp::RetractRelation {
            relation: relations[2].id,
            retracted_at: day(12),
            episode: None,
        });
        ops.push(WriteOp::DeleteRelation {
            relation: relations[4].id,
        });
        // Its last relation gone, person 5 can go too (node and vector).
        ops.push(WriteOp::DeleteEntity {
            entity: people[5].id,
        });
        store.apply(s, ops).await.unwrap();
        let vectors: Vec<_> = relations
            .iter()
            .map(|r| relation_vector(r, rng.unit(DIM)))
            .collect();
        store.upsert_relation_vectors(&vectors).await.unwrap();
        let mut ended = relations[0].times;
        ended.valid_to = Some(day(10));
        store
            .set_relation_times(s, relations[0].id, ended)
            .await
            .unwrap();
        store
            .delete_relation_vectors(s, &[relations[4].id])
            .await
            .unwrap();
        let facts: Vec<Fact> = (0..3)
            .map(|i| Fact {
                id: FactId::new(),
                scope: s.clone(),
                text: format!("fact {i}"),
                metadata: serde_json::json!({}),
                created_at: day(4),
                updated_at: day(4),
                episodes: Vec::new(),
            })
            .collect();
        for f in &facts {
            store
                .put_fact(f, &rng.unit(DIM), &add_event(f.id))
                .await
                .unwrap();
        }
        store
            .delete_fact(
                s,
                facts[1].id,
                &FactEvent {
                    event: FactEventKind::Delete,
                    ..add_event(facts[1].id)
                },
            )
            .await
            .unwrap();
        seeds.push((s.clone(), people[0].id));
    }
    GraphWrite::erase_scope(&store, &erased).await.unwrap();

    let query = rng.unit(DIM);
    let observe = |store: EmbeddedStore| {
        let seeds = seeds.clone();
        let query = query.clone();
        async move {
            let mut seen = vec![store.memory_dump().unwrap()];
            for (s, seed) in &seeds {
                let walked = walk(&store, s, &[*seed], 3, Visibility::now())
                    .await
                    .unwrap();
                seen.push(format!("{walked:?}"));
                let hits = store
                    .search_relations(s, &query, 10, Visibility::now())
                    .await
                    .unwrap();
                seen.push(format!("{hits:?}"));
                let hits: Vec<Scored<_>> = store
                    .search_entities_vector(s, &query, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|h| Scored {
                        item: h.item.id,
                        score: h.score,
                    })
                    .collect();
                seen.push(format!("{hits:?}"));
                let hits: Vec<_> = store
                    .search_facts(s, &query, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|h| (h.item.id, h.score))
                    .collect();
                seen.push(format!("{hits:?}"));
            }
            seen
        }
    };
    let before = observe(store.clone()).await;
    assert!(before[0].contains("scope a|"), "{}", before[0]);
    assert!(!before[0].contains("erased"), "{}", before[0]);
    drop(store);
    let after = observe(EmbeddedStore::open(dir.path(), DIM).unwrap()).await;
    assert_eq!(before, after);

    // Every vector has its code, and a deleted vector's code went with it.
    let db = dir.path().join("mnemo.db");
    let codes_match_rows = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for (table, codes) in [
            ("entities", "entity_codes"),
            ("relation_vectors", "relation_vector_codes"),
            ("facts", "fact_codes"),
        ] {
            let count = |t: &str| -> i64 {
                conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                    .unwrap()
            };
            assert!(count(table) > 0, "{table}");
            assert_eq!(count(codes), count(table), "{codes}");
        }
    };
    codes_match_rows();

    // Open reads each vector's stored code. A code of another format, or one whose id is
    // not its row's (here: every fact's row holding another fact's code, as after rowids
    // were renumbered), is computed again from the vector (taken as they are, these would
    // change the dump and the search).
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "UPDATE relation_vector_codes \
               SET code = CAST(x'02' || zeroblob(length(code) - 1) AS BLOB); \
             UPDATE fact_codes SET (id, code) = (SELECT o.id, o.code FROM fact_codes o \
               WHERE o.source_row != fact_codes.source_row ORDER BY o.source_row LIMIT 1);",
        )
        .unwrap();
    let after = observe(EmbeddedStore::open(dir.path(), DIM).unwrap()).await;
    assert_eq!(before, after);

    // A store from before codes were stored (version 5): the migration adds the tables,
    // the first open computes every code and stores it, and the next open reads them.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DROP TABLE entity_codes; DROP TABLE relation_vector_codes; DROP TABLE fact_codes; \
             DROP TRIGGER entity_codes_deleted; DROP TRIGGER relation_vector_codes_deleted; \
             DROP TRIGGER fact_codes_deleted; PRAGMA user_version = 5;",
        )
        .unwrap();
    let after = observe(EmbeddedStore::open(dir.path(), DIM).unwrap()).await;
    assert_eq!(before, after);
    codes_match_rows();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE relation_vectors SET vector = zeroblob(length(vector)); \
         UPDATE entities SET embedding = zeroblob(length(embedding)); \
         UPDATE facts SET vector = zeroblob(length(vector))",
    )
    .unwrap();
    drop(conn);
    let reopened = EmbeddedStore::open(dir.path(), DIM).unwrap();
    assert_eq!(
        reopened.memory_dump().unwrap(),
        before[0],
        "the memory comes from the stored codes, not the vectors"
    );
}

fn add_event(fact_id: FactId) -> FactEvent {
    FactEvent {
        fact_id,
        event: FactEventKind::Add,
        old_text: None,
        new_text: Some("text".into()),
        at: day(4),
        episode: None,
    }
}

/// Issue 20/21: a row holding a timestamp that does not decode (year -1, year 10000,
/// written before the range check) never stops the store from opening or a read from
/// answering: it is skipped and counted, and the rest of the scope reads as before.
#[tokio::test]
async fn undecodable_rows_are_skipped_and_counted_at_open_and_on_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = scope("alice");
    let alice = entity(&s, "Alice", &[], crate::support::axis(0));
    let boston = entity(&s, "Boston", &[], crate::support::axis(1));
    let relations: Vec<_> = ["before year 1", "after year 9999", "fine"]
        .iter()
        .map(|fact| relation(&s, &alice, "LIVES_IN", &boston, fact))
        .collect();
    let (bad_from, bad_to, good) = (relations[0].id, relations[1].id, relations[2].id);
    let (pending, bad_episode) = (
        crate::support::episode(&s, None),
        crate::support::episode(&s, None),
    );
    {
        let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
        let mut ops = vec![
            WriteOp::UpsertEntity(alice.clone()),
            WriteOp::UpsertEntity(boston.clone()),
        ];
        ops.extend(relations.iter().cloned().map(WriteOp::AddRelation));
        store.apply(&s, ops).await.unwrap();
        let vectors: Vec<_> = relations
            .iter()
            .map(|r| relation_vector(r, crate::support::axis(2)))
            .collect();
        store.upsert_relation_vectors(&vectors).await.unwrap();
        for episode in [&pending, &bad_episode] {
            store.insert_episode(episode).await.unwrap();
        }
    }
    let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
    for (sql, id) in [
        (
            "UPDATE relations SET valid_from = '-0001-01-01T00:00:00.000000000Z' WHERE id = ?1",
            bad_from.to_string(),
        ),
        (
            "UPDATE relation_vectors SET valid_from = '-0001-01-01T00:00:00.000000000Z' \
             WHERE id = ?1",
            bad_from.to_string(),
        ),
        (
            "UPDATE relations SET valid_to = '+10000-01-01T00:00:00.000000000Z' WHERE id = ?1",
            bad_to.to_string(),
        ),
        (
            "UPDATE episodes SET occurred_at = '-0001-01-01T00:00:00.000000000Z' WHERE id = ?1",
            bad_episode.id.to_string(),
        ),
    ] {
        assert_eq!(conn.execute(sql, [id]).unwrap(), 1, "{sql}");
    }
    drop(conn);

    let store = EmbeddedStore::open(dir.path(), DIM).expect("the store opens anyway");
    let skipped = |counts: (u64, u64)| counts.0 + counts.1;
    let counts = async || {
        (
            GraphRead::counts(&store).await.unwrap().corrupt_skipped,
            VectorRead::counts(&store).await.unwrap().corrupt_skipped,
        )
    };
    // The open loads vectors only (relations stay in SQLite until read), so it meets the
    // bad vector; the bad relations are counted by the reads below.
    assert_eq!(counts().await, (0, 1), "one vector at open");

    let timeline = store
        .relations(
            &s,
            &mnemo_core::ports::RelationQuery {
                entity: Some(alice.id),
                outgoing_only: false,
                relation_type: None,
                visible_at: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    let ids: Vec<RelationId> = timeline.iter().map(|r| r.id).collect();
    assert_eq!(ids, [good]);
    assert_eq!(store.relation(&s, bad_from).await.unwrap(), None);
    let walked = walk(&store, &s, &[alice.id], 1, Visibility::now())
        .await
        .unwrap();
    assert_eq!(walked.relations.len(), 1);
    let changes = store.changes(&s, day(1), chrono::Utc::now()).await.unwrap();
    assert_eq!(changes.added.len(), 1);
    let hits: Vec<RelationId> = store
        .search_relations(&s, &crate::support::axis(2), 10, Visibility::now())
        .await
        .unwrap()
        .into_iter()
        .map(|Scored { item, .. }| item)
        .collect();
    assert!(
        hits.contains(&good) && !hits.contains(&bad_from),
        "{hits:?}"
    );
    let resumable: Vec<EpisodeId> = store
        .pending_episodes(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(resumable, [pending.id]);
    assert_eq!(store.episode(bad_episode.id).await.unwrap(), None);
    let before = skipped(counts().await);
    assert!(before > 3, "reads count what they skip: {before}");

    // And nothing new that would not read back can be written.
    let mut negative = relation(&s, &alice, "LIVES_IN", &boston, "year -1 again");
    negative.times.valid_from = Some(chrono::DateTime::from_timestamp(-62_198_755_200, 0).unwrap());
    match store.apply(&s, vec![WriteOp::AddRelation(negative)]).await {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("expected the write to be refused, got {other:?}"),
    }
    let mut far = crate::support::episode(&s, None);
    far.occurred_at = mnemo_core::time::MAX + chrono::Duration::nanoseconds(1);
    assert!(matches!(
        store.insert_episode(&far).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(GraphRead::counts(&store).await.unwrap().relations, 3);
}
