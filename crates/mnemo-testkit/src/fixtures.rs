//! Builders for the records tests store (entities, relations, episodes, facts), synthetic
//! unit vectors, fixed timestamps, fresh scopes, and a readable dump of a walk.
//!
//! Everything is deterministic except scopes and ids, which are fresh per call so tests can
//! share one backend without seeing each other's data.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Duration, TimeZone, Utc};
use mnemo_core::ports::{GraphRead, RelationVector};
use mnemo_core::read::walk::{SUBGRAPH, WalkedRelation};
use mnemo_core::{
    Entity, EntityId, EntityType, Episode, EpisodeId, EpisodeStatus, Fact, FactEvent,
    FactEventKind, FactId, LlmUsage, Relation, RelationId, RelationTimes, RelationType, Scope,
    StoreError, Timestamp, Visibility, normalize_name,
};

use crate::CONTRACT_DIMENSION;

/// Midnight UTC, `n` days after 2024-01-01 (`day(0)` is 2024-01-01). Whole seconds only, so
/// every backend stores it exactly.
pub fn day(n: u32) -> Timestamp {
    let base = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("2024-01-01 is a valid date");
    base + Duration::days(i64::from(n))
}

/// Instants across the whole supported range, for round-trip tests of every store codec:
/// both edges, the epoch, every year's first instant (0001 to 9999), and a prime stride
/// of seconds with changing nanoseconds; sorted.
pub fn timestamp_sweep() -> Vec<Timestamp> {
    use mnemo_core::time::{MAX, MIN};
    let mut times = vec![MIN, MAX, chrono::DateTime::UNIX_EPOCH];
    let (mut secs, mut nanos) = (MIN.timestamp(), 0_u32);
    while secs <= MAX.timestamp() {
        times.extend(chrono::DateTime::from_timestamp(secs, nanos));
        secs += 7_919 * 86_400 + 3_607;
        nanos = (nanos + 123_456_791) % 1_000_000_000;
    }
    for year in 1..=9999 {
        times.extend(Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single());
    }
    times.sort();
    times
}

/// The read point (T = `as_of` day, K = `known_at` day).
pub fn at(as_of: u32, known_at: u32) -> Visibility {
    Visibility {
        as_of: day(as_of),
        known_at: day(known_at),
    }
}

/// A read point far after every fixture date: "now" for the suite, independent of the clock.
pub fn later() -> Visibility {
    at(1000, 1000)
}

/// A unique suffix for scope fields, so concurrent tests never share a scope.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A fresh `{user}` scope.
pub fn user_scope() -> Scope {
    Scope::user(unique("contract-user")).expect("a fresh user id is a valid scope")
}

/// Builds a scope from its parts; panics on an invalid one (a test bug).
pub fn scope(user: Option<&str>, agent: Option<&str>, run: Option<&str>) -> Scope {
    Scope::new(
        user.map(str::to_owned),
        agent.map(str::to_owned),
        run.map(str::to_owned),
    )
    .expect("test scope is valid")
}

/// `v` scaled to unit length.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(norm > 0.0, "cannot normalise a zero vector");
    for x in &mut v {
        *x /= norm;
    }
    v
}

/// The unit vector along axis `i` (modulo [`CONTRACT_DIMENSION`]).
pub fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; CONTRACT_DIMENSION];
    v[i % CONTRACT_DIMENSION] = 1.0;
    v
}

/// `from + weight * to`, normalised: the larger `weight`, the further from `from`
/// (for orthogonal unit vectors the cosine to `from` is `1 / sqrt(1 + weight²)`).
pub fn towards(from: &[f32], to: &[f32], weight: f32) -> Vec<f32> {
    normalized(from.iter().zip(to).map(|(a, b)| a + weight * b).collect())
}

/// A deterministic pseudo-random unit vector of [`CONTRACT_DIMENSION`], drawn from `seed`.
pub fn unit(seed: u64) -> Vec<f32> {
    seeded(seed).unit(CONTRACT_DIMENSION)
}

/// The tests' random source: `rand`'s small generator, from a fixed seed ([`seeded`]).
pub type Rng = rand::rngs::SmallRng;

/// The same draws for the same seed, every run.
pub fn seeded(seed: u64) -> Rng {
    rand::SeedableRng::seed_from_u64(seed)
}

/// Random test data from any generator.
pub trait RandomData {
    /// A unit vector of `dimension` components drawn uniformly from [-1, 1), normalised.
    fn unit(&mut self, dimension: usize) -> Vec<f32>;
    /// Uniform in `0..n`.
    fn below(&mut self, n: u32) -> u32;
}

impl<R: rand::Rng + ?Sized> RandomData for R {
    fn unit(&mut self, dimension: usize) -> Vec<f32> {
        normalized(
            (0..dimension)
                .map(|_| self.random_range(-1.0..1.0))
                .collect(),
        )
    }

    fn below(&mut self, n: u32) -> u32 {
        self.random_range(0..n)
    }
}

/// Cosine similarity of two vectors of equal length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// An entity named `name` (normalised into the key, kept as the display name), no aliases,
/// one mention, created and updated on `day(0)`.
pub fn entity(scope: &Scope, name: &str, entity_type: &str, vector: Vec<f32>) -> Entity {
    Entity {
        id: EntityId::new(),
        scope: scope.clone(),
        name: normalize_name(name).expect("fixture name is valid"),
        display_name: name.to_owned(),
        entity_type: EntityType::parse(entity_type).expect("fixture entity type is valid"),
        aliases: Vec::new(),
        embedding: vector,
        mentions: 1,
        created_at: day(0),
        updated_at: day(0),
    }
}

/// A relation `source -[relation_type]-> target` with no provenance and one mention.
pub fn relation(
    scope: &Scope,
    source: EntityId,
    relation_type: &str,
    target: EntityId,
    fact: &str,
    times: RelationTimes,
) -> Relation {
    Relation {
        id: RelationId::new(),
        scope: scope.clone(),
        source,
        relation_type: RelationType::parse(relation_type).expect("fixture relation type is valid"),
        target,
        fact: fact.to_owned(),
        times,
        invalidated_by: None,
        invalidated_in: None,
        episodes: Vec::new(),
        mentions: 1,
        stated_end: None,
    }
}

/// Open-ended validity: holds from `day(valid_from)`, recorded on `day(recorded)`.
pub fn since(valid_from: u32, recorded: u32) -> RelationTimes {
    RelationTimes {
        valid_from: Some(day(valid_from)),
        valid_to: None,
        recorded_at: day(recorded),
        invalidated_at: None,
        retracted_at: None,
    }
}

/// The vector-store entry of `relation`, carrying its scope and times.
pub fn relation_vector(relation: &Relation, vector: Vec<f32>) -> RelationVector {
    RelationVector {
        id: relation.id,
        scope: relation.scope.clone(),
        times: relation.times,
        vector,
    }
}

/// A `pending` episode with one user message, occurred and ingested on `day(ingested)`.
pub fn episode(scope: &Scope, text: &str, ingested: u32, idempotency_key: Option<&str>) -> Episode {
    Episode {
        id: EpisodeId::new(),
        scope: scope.clone(),
        content: serde_json::json!([{ "role": "user", "content": text }]).to_string(),
        occurred_at: day(ingested),
        ingested_at: day(ingested),
        status: EpisodeStatus::Pending,
        idempotency_key: idempotency_key.map(str::to_owned),
        metadata: serde_json::json!({ "source": "contract" }),
        llm_usage: LlmUsage::default(),
    }
}

/// A fact created and updated on `day(created)`.
pub fn fact(scope: &Scope, text: &str, created: u32) -> Fact {
    Fact {
        id: FactId::new(),
        scope: scope.clone(),
        text: text.to_owned(),
        metadata: serde_json::json!({ "source": "contract" }),
        created_at: day(created),
        updated_at: day(created),
        episodes: Vec::new(),
    }
}

/// The history row for `fact` reaching its current text by `kind` (`new_text` is the fact's
/// text, except for deletions).
pub fn fact_event(fact: &Fact, kind: FactEventKind, old_text: Option<&str>, on: u32) -> FactEvent {
    FactEvent {
        fact_id: fact.id,
        event: kind,
        old_text: old_text.map(str::to_owned),
        new_text: (kind != FactEventKind::Delete).then(|| fact.text.clone()),
        at: day(on),
        episode: None,
    }
}

/// A clock that says what it is told: tests give it to `Memory::with_clock` so every
/// timestamp core stamps is known in advance.
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<Timestamp>);

impl FixedClock {
    pub fn new(now: Timestamp) -> FixedClock {
        FixedClock(std::sync::Mutex::new(now))
    }

    pub fn set(&self, now: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

impl mnemo_core::Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a walk reached: the entities touched (the seeds that exist, then the relations'
/// ends) and the relations with their hops.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    pub entities: Vec<Entity>,
    pub relations: Vec<WalkedRelation>,
}

/// Walks from `seeds` through the one walk (`mnemo_core::read::walk`, complete up to the
/// subgraph bound) over `store`'s `relations()`, and loads the entities it touched.
pub async fn walk<G: GraphRead + ?Sized>(
    store: &G,
    scope: &Scope,
    seeds: &[EntityId],
    depth: u8,
    at: Visibility,
) -> Result<Walk, StoreError> {
    let relations =
        mnemo_core::read::walk::walk(store, scope, seeds, depth, at, SUBGRAPH, |_| 0.0).await?;
    let mut touched: Vec<EntityId> = seeds.to_vec();
    touched.extend(
        relations
            .iter()
            .flat_map(|w| [w.relation.source, w.relation.target]),
    );
    let mut seen = std::collections::HashSet::new();
    let mut entities = Vec::new();
    for id in touched {
        if seen.insert(id)
            && let Some(entity) = store.entity(scope, id).await?
        {
            entities.push(entity);
        }
    }
    Ok(Walk {
        entities,
        relations,
    })
}

/// A stable, readable dump of a walk for snapshot asserts: one line listing the entity names
/// (sorted), then one line per relation `source -[TYPE]-> target (hop n)`, sorted by hop then
/// text. Endpoints missing from the walk's entities print as `?<id>`.
pub fn graph_to_text(walk: &Walk) -> String {
    let names: BTreeMap<EntityId, &str> = walk
        .entities
        .iter()
        .map(|e| (e.id, e.name.as_str()))
        .collect();
    let mut entities: Vec<&str> = walk.entities.iter().map(|e| e.name.as_str()).collect();
    entities.sort_unstable();
    let mut lines: Vec<(u8, String)> = walk
        .relations
        .iter()
        .map(|w| {
            let r = &w.relation;
            let name = |id: EntityId| {
                names
                    .get(&id)
                    .map_or_else(|| format!("?{id}"), |n| (*n).to_owned())
            };
            (
                w.hops,
                format!(
                    "{} -[{}]-> {} (hop {})",
                    name(r.source),
                    r.relation_type,
                    name(r.target),
                    w.hops
                ),
            )
        })
        .collect();
    lines.sort();
    let mut out = format!("entities: {}\n", entities.join(", "));
    for (_, line) in lines {
        let _ = writeln!(out, "{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        for seed in 0..20 {
            let v = unit(seed);
            assert_eq!(v.len(), CONTRACT_DIMENSION);
            assert!((cosine(&v, &v) - 1.0).abs() < 1e-5, "seed {seed}");
            assert_eq!(v, unit(seed), "seed {seed} is not deterministic");
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "seed {seed}: norm {norm}");
        }
        assert_ne!(unit(1), unit(2));
    }

    #[test]
    fn towards_moves_away_by_weight() {
        let cases: &[(f32, f32)] = &[
            (0.0, 1.0),
            (1.0, std::f32::consts::FRAC_1_SQRT_2),
            (0.5, 0.8944),
            (2.0, 0.4472),
        ];
        for (weight, expected) in cases {
            let got = cosine(&axis(0), &towards(&axis(0), &axis(3), *weight));
            assert!((got - expected).abs() < 1e-3, "weight {weight}: got {got}");
        }
    }

    #[test]
    fn days_count_from_new_year_2024() {
        assert_eq!(day(0).to_rfc3339(), "2024-01-01T00:00:00+00:00");
        assert_eq!(day(31).to_rfc3339(), "2024-02-01T00:00:00+00:00");
        assert_eq!(at(3, 4).known_at, day(4));
    }

    #[test]
    fn graph_to_text_is_sorted_and_names_unknown_endpoints() {
        let s = user_scope();
        let a = entity(&s, "A", "Thing", axis(0));
        let b = entity(&s, "B", "Thing", axis(1));
        let outside = EntityId::new();
        let walked = |r: Relation, hops| WalkedRelation { relation: r, hops };
        let walk = Walk {
            entities: vec![b.clone(), a.clone()],
            relations: vec![
                walked(relation(&s, b.id, "NEXT", outside, "", since(0, 0)), 2),
                walked(relation(&s, a.id, "NEXT", b.id, "", since(0, 0)), 1),
            ],
        };
        assert_eq!(
            graph_to_text(&walk),
            format!("entities: a, b\na -[NEXT]-> b (hop 1)\nb -[NEXT]-> ?{outside} (hop 2)\n")
        );
    }
}
