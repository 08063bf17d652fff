//! Graph fixtures for the read path, written straight through the ports (no LLM, no write
//! pipeline): entities and relations with chosen times, relation vectors and facts with
//! real embeddings, one provenance episode.

use std::collections::HashMap;

use mnemo_core::ports::{EpisodeInsert, GraphWrite, RelationVector, VectorWrite, WriteOp};
use mnemo_core::{
    Entity, EntityId, EntityType, Episode, EpisodeId, EpisodeStatus, Fact, FactEvent,
    FactEventKind, FactId, Relation, RelationId, RelationTimes, RelationType, Scope, Timestamp,
    normalize_name,
};

use crate::support::{Harness, date, embedder};

/// The default recording time of a fixture relation.
pub fn recorded() -> Timestamp {
    date(2024, 1, 10)
}

/// One relation: `"Alice:Person WORKS_AT Acme:Organization"` and its fact sentence.
#[derive(Clone, Debug)]
pub struct Rel {
    pub triplet: String,
    pub fact: String,
    pub times: RelationTimes,
    /// The triplet (`"Alice LIVES_IN Lisbon"`) of the relation that ended this one.
    pub ended_by: Option<&'static str>,
}

pub fn rel(triplet: impl Into<String>, fact: impl Into<String>) -> Rel {
    Rel {
        triplet: triplet.into(),
        fact: fact.into(),
        times: RelationTimes {
            valid_from: None,
            valid_to: None,
            recorded_at: recorded(),
            invalidated_at: None,
            retracted_at: None,
        },
        ended_by: None,
    }
}

impl Rel {
    pub fn valid_from(mut self, from: Timestamp) -> Rel {
        self.times.valid_from = Some(from);
        self
    }

    pub fn recorded(mut self, at: Timestamp) -> Rel {
        self.times.recorded_at = at;
        self
    }

    /// Ended at `valid_to`, which mnemo learned at `learned` when `by` arrived.
    pub fn ended(mut self, valid_to: Timestamp, learned: Timestamp, by: &'static str) -> Rel {
        self.times.valid_to = Some(valid_to);
        self.times.invalidated_at = Some(learned);
        self.ended_by = Some(by);
        self
    }

    pub fn retracted(mut self, at: Timestamp) -> Rel {
        self.times.retracted_at = Some(at);
        self
    }
}

/// `"Alice:Person"` → ("Alice", Person).
fn end(spec: &str) -> (&str, EntityType) {
    let (name, kind) = spec.rsplit_once(':').unwrap_or((spec, "Thing"));
    (name, EntityType::parse(kind).expect("fixture entity type"))
}

/// `"Alice:Person WORKS_AT Acme:Organization"` → source, type, target.
fn parse(triplet: &str) -> ((&str, EntityType), RelationType, (&str, EntityType)) {
    let parts: Vec<&str> = triplet.splitn(3, ' ').collect();
    let [source, kind, target] = parts[..] else {
        panic!("fixture triplet {triplet:?} is not `Source:Type REL Target:Type`")
    };
    (
        end(source),
        RelationType::parse(kind).expect("fixture relation type"),
        end(target),
    )
}

/// A graph to load into a scope.
#[derive(Clone, Debug, Default)]
pub struct Fixture {
    pub relations: Vec<Rel>,
    pub facts: Vec<&'static str>,
    /// (display name, alias).
    pub aliases: Vec<(&'static str, &'static str)>,
}

/// What a fixture became in the store.
#[derive(Debug)]
pub struct Loaded {
    pub scope: Scope,
    pub episode: EpisodeId,
    /// By display name.
    pub entities: HashMap<String, EntityId>,
    /// By "Source TYPE Target".
    pub relations: HashMap<String, RelationId>,
}

/// "Alice:Person LIVES_IN Lisbon:City" → "Alice LIVES_IN Lisbon".
pub fn short(triplet: &str) -> String {
    let ((source, _), kind, (target, _)) = parse(triplet);
    format!("{source} {kind} {target}")
}

/// Loads `fixture` into `scope`: one episode, entities (name embeddings), relations with
/// their vectors (fact embeddings, payload = the relation's times), facts.
pub async fn load(h: &Harness, scope: &Scope, fixture: &Fixture) -> Loaded {
    let episode = Episode {
        id: EpisodeId::new(),
        scope: scope.clone(),
        content: serde_json::json!([{"role": "user", "content": "fixture"}]).to_string(),
        occurred_at: recorded(),
        ingested_at: recorded(),
        status: EpisodeStatus::Done,
        idempotency_key: None,
        metadata: serde_json::json!({}),
        llm_usage: Default::default(),
    };
    assert_eq!(
        h.store.insert_episode(&episode).await.unwrap(),
        EpisodeInsert::Inserted
    );

    let mut entity_types: Vec<(String, EntityType)> = Vec::new();
    for r in &fixture.relations {
        let ((source, source_type), _, (target, target_type)) = parse(&r.triplet);
        for (name, kind) in [(source, source_type), (target, target_type)] {
            if !entity_types.iter().any(|(n, _)| n == name) {
                entity_types.push((name.to_owned(), kind));
            }
        }
    }
    // Every text in one embedding call.
    let mut texts: Vec<String> = entity_types.iter().map(|(n, _)| n.clone()).collect();
    texts.extend(fixture.relations.iter().map(|r| r.fact.clone()));
    texts.extend(fixture.facts.iter().map(|f| f.to_string()));
    let mut vectors = mnemo_core::ports::Embedder::embed(embedder().as_ref(), texts)
        .await
        .unwrap()
        .into_iter();

    let mut ops = Vec::new();
    let mut entities = HashMap::new();
    for (name, kind) in &entity_types {
        let entity = Entity {
            id: EntityId::new(),
            scope: scope.clone(),
            name: normalize_name(name).unwrap(),
            display_name: name.clone(),
            entity_type: kind.clone(),
            aliases: fixture
                .aliases
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, a)| normalize_name(a).unwrap())
                .collect(),
            embedding: vectors.next().unwrap(),
            mentions: 1,
            created_at: recorded(),
            updated_at: recorded(),
        };
        entities.insert(name.clone(), entity.id);
        ops.push(WriteOp::UpsertEntity(entity));
    }

    let ids: HashMap<String, RelationId> = fixture
        .relations
        .iter()
        .map(|r| (short(&r.triplet), RelationId::new()))
        .collect();
    let mut relation_vectors = Vec::new();
    for r in &fixture.relations {
        let ((source, _), relation_type, (target, _)) = parse(&r.triplet);
        let relation = Relation {
            id: ids[&short(&r.triplet)],
            scope: scope.clone(),
            source: entities[source],
            relation_type,
            target: entities[target],
            fact: r.fact.clone(),
            times: r.times,
            invalidated_by: r.ended_by.map(|by| ids[by]),
            invalidated_in: None,
            episodes: vec![episode.id],
            mentions: 1,
            stated_end: None,
        };
        relation_vectors.push(RelationVector {
            id: relation.id,
            scope: scope.clone(),
            times: relation.times,
            vector: vectors.next().unwrap(),
        });
        ops.push(WriteOp::AddRelation(relation));
    }
    h.store.apply(scope, ops).await.unwrap();
    h.store
        .upsert_relation_vectors(&relation_vectors)
        .await
        .unwrap();

    for text in &fixture.facts {
        let fact = Fact {
            id: FactId::new(),
            scope: scope.clone(),
            text: text.to_string(),
            metadata: serde_json::json!({}),
            created_at: recorded(),
            updated_at: recorded(),
            episodes: vec![episode.id],
        };
        let event = FactEvent {
            fact_id: fact.id,
            event: FactEventKind::Add,
            old_text: None,
            new_text: Some(fact.text.clone()),
            at: recorded(),
            episode: Some(episode.id),
        };
        h.store
            .put_fact(&fact, &vectors.next().unwrap(), &event)
            .await
            .unwrap();
    }
    Loaded {
        scope: scope.clone(),
        episode: episode.id,
        entities,
        relations: ids,
    }
}

/// Alice's world: a job whose employer has a headquarters (two hops), a move from Boston
/// to Lisbon learned on 2024-03-05, a taste retracted on 2024-02-01, a friend with a job
/// of his own, and unrelated people around.
pub fn alice() -> Fixture {
    let lisbon = "Alice LIVES_IN Lisbon";
    Fixture {
        relations: vec![
            rel(
                "Alice:Person WORKS_AT Acme:Organization",
                "Alice works at Acme",
            )
            .valid_from(date(2021, 5, 1)),
            rel(
                "Acme:Organization HEADQUARTERED_IN Berlin:City",
                "Acme is headquartered in Berlin",
            ),
            rel("Alice:Person LIVES_IN Boston:City", "Alice lives in Boston")
                .valid_from(date(2019, 1, 1))
                .ended(date(2024, 3, 1), date(2024, 3, 5), lisbon),
            rel("Alice:Person LIVES_IN Lisbon:City", "Alice lives in Lisbon")
                .valid_from(date(2024, 3, 1))
                .recorded(date(2024, 3, 5)),
            rel("Alice:Person LIKES Jazz:Genre", "Alice likes jazz music")
                .retracted(date(2024, 2, 1)),
            rel("Bob:Person KNOWS Alice:Person", "Bob knows Alice").valid_from(date(2015, 1, 1)),
            rel(
                "Bob:Person WORKS_AT Initech:Organization",
                "Bob works at Initech",
            ),
            rel(
                "Initech:Organization HEADQUARTERED_IN Austin:City",
                "Initech is headquartered in Austin",
            ),
            rel("Carol:Person PLAYS Tennis:Sport", "Carol plays tennis"),
            rel("Dave:Person OWNS Tesla:Product", "Dave owns a Tesla"),
            rel(
                "Erin:Person STUDIES Physics:Concept",
                "Erin studies physics",
            ),
            rel(
                "Frank:Person COOKS Paella:Food",
                "Frank cooks paella on Sundays",
            ),
        ],
        facts: vec![
            "Alice is vegetarian",
            "Bob plays the violin",
            "The office coffee machine is broken",
        ],
        aliases: vec![("Alice", "Ally")],
    }
}
