//! Fixtures: scopes, records and random unit vectors.

use chrono::{TimeZone, Utc};
use mnemo_core::ports::RelationVector;
use mnemo_core::{
    Entity, EntityId, EntityType, Episode, EpisodeId, EpisodeStatus, Relation, RelationId,
    RelationTimes, RelationType, Scope, Timestamp, normalize_name,
};

pub const DIM: usize = 16;

pub fn scope(user: &str) -> Scope {
    Scope::user(user).unwrap()
}

/// 2024-01-`d`.
pub fn day(d: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap()
}

pub use mnemo_testkit::fixtures::{RandomData, Rng, seeded};

/// A unit vector that is mostly axis `i` (so tests can aim queries at it).
pub fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i % DIM] = 1.0;
    v
}

pub fn entity(scope: &Scope, display_name: &str, aliases: &[&str], embedding: Vec<f32>) -> Entity {
    Entity {
        id: EntityId::new(),
        scope: scope.clone(),
        name: normalize_name(display_name).unwrap(),
        display_name: display_name.to_owned(),
        entity_type: EntityType::parse("Person").unwrap(),
        aliases: aliases.iter().map(|a| normalize_name(a).unwrap()).collect(),
        embedding,
        mentions: 1,
        created_at: day(1),
        updated_at: day(1),
    }
}

pub fn current(recorded: Timestamp) -> RelationTimes {
    RelationTimes {
        valid_from: None,
        valid_to: None,
        recorded_at: recorded,
        invalidated_at: None,
        retracted_at: None,
    }
}

pub fn relation(
    scope: &Scope,
    source: &Entity,
    kind: &str,
    target: &Entity,
    fact: &str,
) -> Relation {
    Relation {
        id: RelationId::new(),
        scope: scope.clone(),
        source: source.id,
        relation_type: RelationType::parse(kind).unwrap(),
        target: target.id,
        fact: fact.to_owned(),
        times: current(day(2)),
        invalidated_by: None,
        invalidated_in: None,
        episodes: Vec::new(),
        mentions: 1,
        stated_end: None,
    }
}

pub fn relation_vector(relation: &Relation, vector: Vec<f32>) -> RelationVector {
    RelationVector {
        id: relation.id,
        scope: relation.scope.clone(),
        times: relation.times,
        vector,
    }
}

pub fn episode(scope: &Scope, key: Option<&str>) -> Episode {
    Episode {
        id: EpisodeId::new(),
        scope: scope.clone(),
        content: r#"[{"role":"user","content":"hi"}]"#.to_owned(),
        occurred_at: day(3),
        ingested_at: Utc::now(),
        status: EpisodeStatus::Pending,
        idempotency_key: key.map(str::to_owned),
        metadata: serde_json::json!({"source": "test"}),
        llm_usage: Default::default(),
    }
}
