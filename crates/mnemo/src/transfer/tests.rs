//! Export → import → export on real embedded stores with the real embedder: the records
//! come back the same, searches answer the same, and a non-empty scope is refused.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use mnemo_core::llm::ChatMessage;
use mnemo_core::ports::WriteOp;
use mnemo_core::read::SearchRequest;
use mnemo_core::transfer::{ImportMode, Record};
use mnemo_core::write::{AddRequest, EntityInput, Journaled, RelationsRequest, TripletRequest};
use mnemo_core::{FactEdit, Memory, Ontology, Scope, ScopeSummary, Timestamp};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{EmbedConfig, FastEmbedder, TokenizerCounter};
use serde_json::json;

use super::*;
use crate::compose::{Embedding, Models, Stores};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One embedder per test process: loading ONNX Runtime is the slow part.
fn embedding() -> Embedding {
    static LOADED: LazyLock<(Arc<FastEmbedder>, Arc<TokenizerCounter>)> = LazyLock::new(|| {
        let config = EmbedConfig::repo_default(&repo_root());
        (
            Arc::new(FastEmbedder::load(&config).expect("the model files of `make setup`")),
            Arc::new(TokenizerCounter::load(&config).expect("the tokenizer of `make setup`")),
        )
    });
    Embedding {
        embedder: LOADED.0.clone(),
        tokens: LOADED.1.clone(),
    }
}

/// A `Memory` without LLM on a fresh store in `dir`, built the way `mnemo` builds it.
async fn memory_in(dir: &Path) -> (Memory, Stores) {
    let mut config = Config::default();
    config.store.path = dir.to_owned();
    let embedding = embedding();
    let stores = crate::compose::stores(&config, mnemo_fastembed::Model::default())
        .await
        .unwrap();
    let models = Models {
        llm: None,
        ontology: Ontology::builtin(),
        settings: mnemo_core::MemorySettings::default(),
    };
    (crate::compose::memory(models, &embedding, &stores), stores)
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn triplet(source: &str, relation: &str, target: &str, from: Option<&str>) -> TripletRequest {
    let end = |name: &str, kind: &str| EntityInput {
        name: name.into(),
        entity_type: Some(kind.into()),
    };
    TripletRequest {
        source: end(source, "Person"),
        relation: relation.into(),
        target: end(
            target,
            if relation == "LIVES_IN" {
                "City"
            } else {
                "Organization"
            },
        ),
        fact: None,
        valid_from: from.map(at),
        valid_to: None,
    }
}

async fn relations(
    memory: &Memory,
    scope: &Scope,
    triplets: Vec<TripletRequest>,
    key: Option<&str>,
) {
    let outcome = memory
        .add_relations(RelationsRequest {
            scope: scope.clone(),
            occurred_at: Some(at("2024-03-05T00:00:00Z")),
            relations: triplets,
            metadata: json!({"source": "test"}),
            idempotency_key: key.map(Into::into),
        })
        .await
        .unwrap();
    assert_eq!(outcome.status.as_str(), "done");
}

fn messages(scope: &Scope, texts: &[&str]) -> AddRequest {
    AddRequest {
        scope: scope.clone(),
        messages: texts
            .iter()
            .map(|text| ChatMessage {
                role: "user".into(),
                content: (*text).into(),
            })
            .collect(),
        occurred_at: Some(at("2024-04-01T12:00:00Z")),
        metadata: json!({}),
        infer: false,
        idempotency_key: None,
    }
}

/// A store holding every kind of record: ended, restated and retracted relations,
/// mentions, facts edited and deleted, a reverted episode, a pending one, a summary, and
/// a second scope.
async fn populate(memory: &Memory, stores: &Stores) -> (Scope, Scope) {
    let alice = Scope::new(Some("alice".into()), None, Some("r1".into())).unwrap();
    let bob = Scope::user("bob").unwrap();
    relations(
        memory,
        &alice,
        vec![
            triplet("Alice", "LIVES_IN", "Boston", Some("2020-01-01T00:00:00Z")),
            triplet("Alice", "WORKS_AT", "Acme", None),
            triplet("Alice", "KNOWS", "Carol", None),
        ],
        Some("first"),
    )
    .await;
    // Ends Boston (LIVES_IN is single-valued) and restates Acme.
    relations(
        memory,
        &alice,
        vec![
            triplet("Alice", "LIVES_IN", "Lisbon", Some("2024-03-01T00:00:00Z")),
            triplet("Alice", "WORKS_AT", "Acme", None),
        ],
        None,
    )
    .await;
    // A retraction (the write path makes them only with an LLM): straight to the store.
    let knows = stores
        .graph
        .relations(
            &alice,
            &mnemo_core::ports::RelationQuery {
                entity: None,
                outgoing_only: false,
                relation_type: Some(mnemo_core::RelationType::parse("KNOWS").unwrap()),
                visible_at: None,
                limit: 10,
            },
        )
        .await
        .unwrap()
        .remove(0);
    let retracted_at = at("2024-03-10T00:00:00Z");
    stores
        .graph
        .apply(
            &alice,
            vec![WriteOp::RetractRelation {
                relation: knows.id,
                retracted_at,
                episode: knows.episodes.first().copied(),
            }],
        )
        .await
        .unwrap();
    let mut times = knows.times;
    times.retracted_at = Some(retracted_at);
    stores
        .vectors
        .set_relation_times(&alice, knows.id, times)
        .await
        .unwrap();

    let plain = memory
        .add(messages(
            &alice,
            &[
                "Alice is vegetarian.",
                "Alice met Dana Scully in Lisbon.",
                "Alice plays chess.",
            ],
        ))
        .await
        .unwrap();
    let facts = &plain.facts.added;
    assert_eq!(facts.len(), 3, "{plain:?}");
    memory
        .update_fact(
            &alice,
            facts[0].id,
            FactEdit {
                text: "Alice is vegan".into(),
                metadata: Some(json!({"edited": true})),
            },
        )
        .await
        .unwrap();
    memory.delete_fact(&alice, facts[2].id).await.unwrap();

    // An episode added and reverted: it leaves nothing but fact history.
    let reverted = memory
        .add(messages(&alice, &["Alice owns a boat named Nautilus."]))
        .await
        .unwrap();
    memory
        .delete_episode(&alice, reverted.episode_id)
        .await
        .unwrap();

    // Journaled, never processed: stays pending.
    let pending = memory
        .journal(messages(&alice, &["Alice likes jazz."]))
        .await
        .unwrap();
    assert!(matches!(pending, Journaled::New(_)));

    let last = memory
        .add(messages(&bob, &["Bob lives near Porto."]))
        .await
        .unwrap();
    stores
        .graph
        .put_scope_summary(&ScopeSummary {
            scope: bob.clone(),
            text: "Bob talks about Porto.".into(),
            through_episode: last.episode_id,
            updated_at: at("2024-04-02T00:00:00Z"),
        })
        .await
        .unwrap();
    (alice, bob)
}

async fn export_all(memory: &Memory) -> Vec<Record> {
    let mut records = Vec::new();
    for scope in memory.scopes().await.unwrap() {
        records.extend(memory.export_scope(&scope).await.unwrap());
    }
    records
}

/// Kinds and counts, to see at a glance that the fixture covers every kind.
fn kinds(records: &[Record]) -> Vec<(&'static str, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for record in records {
        *counts.entry(record.kind()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

async fn search(memory: &Memory, scope: &Scope, query: &str) -> serde_json::Value {
    let mut request = SearchRequest::new(scope.clone(), query);
    request.as_of = Some(at("2024-06-01T00:00:00Z"));
    crate::show::search_result_json(&memory.search(request).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_export_gives_the_same_records() {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let (source, source_stores) = memory_in(dirs[0].path()).await;
    let (alice, bob) = populate(&source, &source_stores).await;
    let exported = export_all(&source).await;
    assert_eq!(
        kinds(&exported),
        [
            ("entity", 7),
            ("episode", 5),
            ("fact", 3),
            ("fact_event", 6),
            ("mention", 11),
            ("relation", 4),
            ("summary", 1),
        ],
    );

    // Through a file, as `mnemo export` / `mnemo import` do.
    let file = dirs[2].path().join("export.jsonl");
    let mut out = Vec::new();
    for record in &exported {
        write_record(&mut out, record).unwrap();
    }
    std::fs::write(&file, out).unwrap();
    let read = read_records(&file).unwrap();
    assert_eq!(read, exported);

    let (target, _) = memory_in(dirs[1].path()).await;
    let report = import_records(&target, read, ImportMode::IntoEmpty)
        .await
        .unwrap();
    assert_eq!(
        describe(&report),
        "imported 2 scopes: 5 episodes, 7 entities, 4 relations, 11 mentions, 3 facts, \
         6 fact events, 1 summaries"
    );
    let again = export_all(&target).await;
    assert_eq!(again, exported);

    // Vectors were embedded again from the text: searches answer alike, scores included.
    for (scope, query) in [
        (&alice, "Where does Alice live?"),
        (&alice, "What does Alice eat?"),
        (&alice, "Dana Scully"),
        (&bob, "Porto"),
    ] {
        assert_eq!(
            search(&target, scope, query).await,
            search(&source, scope, query).await,
            "{query}"
        );
    }

    // A second import into the now full store is refused and writes nothing.
    let err = import_records(&target, exported.clone(), ImportMode::IntoEmpty)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("already holds data"), "{err:#}");
    assert_eq!(export_all(&target).await, exported);

    // Merging the same records keeps what is stored.
    let report = import_records(&target, exported.clone(), ImportMode::Merge)
        .await
        .unwrap();
    assert_eq!(
        report.skipped,
        exported.len() - 11,
        "mentions are re-linked, not skipped"
    );
    assert_eq!(
        (
            report.episodes,
            report.entities,
            report.relations,
            report.facts
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(export_all(&target).await, exported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_maps_entities_onto_stored_ones_of_the_same_name() {
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let (source, _) = memory_in(dirs[0].path()).await;
    let scope = Scope::user("alice").unwrap();
    relations(
        &source,
        &scope,
        vec![triplet("Alice", "WORKS_AT", "Acme", None)],
        None,
    )
    .await;
    let exported = export_all(&source).await;

    let (target, stores) = memory_in(dirs[1].path()).await;
    relations(
        &target,
        &scope,
        vec![triplet("Alice", "LIVES_IN", "Paris", None)],
        None,
    )
    .await;
    let stored_alice = stores
        .graph
        .entity_by_name(&scope, "alice")
        .await
        .unwrap()
        .unwrap();
    let report = import_records(&target, exported, ImportMode::Merge)
        .await
        .unwrap();
    assert_eq!(
        (report.entities, report.relations, report.skipped),
        (1, 1, 1)
    );

    let now = chrono::Utc::now();
    let at = mnemo_core::Visibility {
        as_of: now,
        known_at: now,
    };
    let timeline = target
        .timeline(&scope, Some("Alice"), None, true, at)
        .await
        .unwrap();
    let mut lines: Vec<String> = timeline
        .iter()
        .map(|entry| {
            assert!(entry.relation.source.id == stored_alice.id);
            entry.relation.triplet_text()
        })
        .collect();
    lines.sort();
    assert_eq!(lines, ["Alice LIVES_IN Paris", "Alice WORKS_AT Acme"]);
}

#[test]
fn bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "\n{\"kind\":\"galaxy\"}\n").unwrap();
    let err = format!("{:#}", read_records(&path).unwrap_err());
    assert!(
        err.contains("bad.jsonl line 2: unknown variant `galaxy`"),
        "{err}"
    );
}

/// Issue 20: an import file holding a timestamp outside the supported range (year -1, year
/// 10000, as chrono writes them) is refused naming the record and field, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_a_timestamp_out_of_range_writes_nothing() {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let (source, source_stores) = memory_in(dirs[0].path()).await;
    populate(&source, &source_stores).await;
    let exported = export_all(&source).await;
    let year = |y: i32| {
        chrono::NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap()
            .and_utc()
    };
    type Plant = fn(&mut Record, Timestamp) -> bool;
    let cases: [(&str, Plant, Timestamp); 2] = [
        (
            "relation",
            |record, t| match record {
                Record::Relation(r) => {
                    r.times.valid_from = Some(t);
                    true
                }
                _ => false,
            },
            year(-1),
        ),
        (
            "episode",
            |record, t| match record {
                Record::Episode(e) => {
                    e.occurred_at = t;
                    true
                }
                _ => false,
            },
            year(10_000),
        ),
    ];
    for (i, (kind, plant, at)) in cases.into_iter().enumerate() {
        let mut records = exported.clone();
        let planted = records.iter_mut().find_map(|r| plant(r, at).then_some(()));
        assert!(planted.is_some(), "{kind}");
        let file = dirs[2].path().join(format!("bad-{i}.jsonl"));
        let mut out = Vec::new();
        for record in &records {
            write_record(&mut out, record).unwrap();
        }
        std::fs::write(&file, out).unwrap();
        let read = read_records(&file).unwrap();
        let (target, _) = memory_in(dirs[1].path()).await;
        let err = import_records(&target, read, ImportMode::IntoEmpty)
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains(&format!("import: {kind} ")) && message.contains("supported range"),
            "{message}"
        );
        assert_eq!(export_all(&target).await, [], "{kind}: nothing written");
    }
}

/// An undecodable row inside a full page of a listing (planted with SQL) costs only that
/// row: the export, and so `mnemo check`, still reads the pages after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_row_does_not_end_an_export_early() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, stores) = memory_in(dir.path()).await;
    let scope = Scope::user("many").unwrap();
    let now = chrono::Utc::now();
    let mut embedding = vec![0.0; mnemo_fastembed::DIMENSION];
    embedding[0] = 1.0;
    let entities: Vec<mnemo_core::Entity> = (0..1_001)
        .map(|i| mnemo_core::Entity {
            id: mnemo_core::EntityId::new(),
            scope: scope.clone(),
            name: format!("person {i:04}"),
            display_name: format!("Person {i:04}"),
            entity_type: mnemo_core::EntityType::parse("Person").unwrap(),
            aliases: Vec::new(),
            embedding: embedding.clone(),
            mentions: 1,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let first = entities[0].id;
    stores
        .graph
        .apply(
            &scope,
            entities.into_iter().map(WriteOp::UpsertEntity).collect(),
        )
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("mnemo.db")).unwrap();
    let planted = conn
        .execute(
            "UPDATE entities SET created_at = '-0001-01-01T00:00:00.000000000Z' WHERE id = ?1",
            [first.to_string()],
        )
        .unwrap();
    assert_eq!(planted, 1);
    let exported = memory.export_scope(&scope).await.unwrap();
    assert_eq!(kinds(&exported), [("entity", 1_000)]);
}

/// The real model's vectors reversed: unit length, 384 long, and meaningless, recorded by
/// the store as another model's.
struct ReversedEmbedder(Arc<FastEmbedder>);

#[async_trait::async_trait]
impl mnemo_core::ports::Embedder for ReversedEmbedder {
    fn dimension(&self) -> usize {
        mnemo_fastembed::DIMENSION
    }

    fn model_name(&self) -> &str {
        "reversed-MiniLM"
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, mnemo_core::EmbedError> {
        let mut vectors = self.0.embed(texts).await?;
        for vector in &mut vectors {
            vector.reverse();
        }
        Ok(vectors)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_re_embeds_a_store_of_another_model_and_keeps_every_record() {
    use mnemo_core::ports::Embedder as _;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut config = Config::default();
    config.store.path = path.clone();
    config.embed.model_dir =
        Some(repo_root().join(mnemo_fastembed::Model::default().default_dir()));
    config.embed.ort_dylib_path = repo_root().join(EmbedConfig::DEFAULT_ORT_DYLIB_PATH);

    // Written by "another model" (same length, other meaning).
    let before = {
        let store = EmbeddedStore::open_for_model(&path, "reversed-MiniLM", 384).unwrap();
        let stores = Stores {
            graph: Arc::new(store.clone()),
            vectors: Arc::new(store),
        };
        let embedding = embedding();
        let memory = Memory::new(mnemo_core::MemoryParts {
            graph: stores.graph.clone(),
            vectors: stores.vectors.clone(),
            embedder: Arc::new(ReversedEmbedder(embedding.embedder.clone())),
            tokens: embedding.tokens.clone(),
            llm: None,
            ontology: Ontology::builtin(),
            settings: mnemo_core::MemorySettings::default(),
        });
        populate(&memory, &stores).await;
        export_all(&memory).await
    };

    // The configured model (MiniLM) refuses the store, naming the fix.
    let refused = crate::compose::stores(&config, mnemo_fastembed::Model::default())
        .await
        .err()
        .expect("a store of another model is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("reversed-MiniLM") && message.contains("mnemo reindex"),
        "{message}"
    );

    crate::reindex::run(
        config.clone(),
        crate::reindex::ReindexArgs { keep_old: false },
    )
    .await
    .unwrap();
    assert!(!dir.path().join("store.before-reindex").exists());
    assert!(!dir.path().join("store.reindexing").exists());
    assert_eq!(
        EmbeddedStore::recorded_model(&path).unwrap(),
        (Some("all-MiniLM-L6-v2".to_owned()), Some(384))
    );

    let (memory, _stores) = memory_in(&path).await;
    let after = export_all(&memory).await;
    assert_eq!(kinds(&after), kinds(&before));
    let real = embedding().embedder;
    let mut expected = before.clone();
    for record in &mut expected {
        if let Record::Entity(entity) = record {
            entity.embedding = real
                .embed(vec![entity.display_name.clone()])
                .await
                .unwrap()
                .remove(0);
        }
    }
    assert_eq!(after, expected, "every record kept, entities re-embedded");

    // Vectors now mean what the query's vector means: a paraphrase with no shared word
    // finds the fact by embedding alone.
    let alice = Scope::new(Some("alice".into()), None, Some("r1".into())).unwrap();
    let found = search(&memory, &alice, "plant-based diet").await;
    assert!(found.to_string().contains("Alice is vegan"), "{found:#}");

    // Run again: nothing to do.
    drop(memory);
    drop(_stores);
    crate::reindex::run(
        config.clone(),
        crate::reindex::ReindexArgs { keep_old: false },
    )
    .await
    .unwrap();

    // A store from before models were recorded (384-d, no name) is MiniLM's: reindex only
    // records the name.
    let legacy = dir.path().join("legacy");
    drop(EmbeddedStore::open(&legacy, 384).unwrap());
    config.store.path = legacy.clone();
    crate::reindex::run(config, crate::reindex::ReindexArgs { keep_old: false })
        .await
        .unwrap();
    assert_eq!(
        EmbeddedStore::recorded_model(&legacy).unwrap(),
        (Some("all-MiniLM-L6-v2".to_owned()), Some(384))
    );
}
