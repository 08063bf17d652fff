//! A synthetic memory for the benchmarks (`mnemo eval scale`, `bench_search`,
//! `bench_ingest`): people, organisations, cities and topics with realistic names (embedded
//! for real, so entity linking behaves as in production), relations of seven types whose
//! ends are drawn with a heavy skew (a few hubs with thousands of relations, most entities
//! with a handful), a fifth of them ended over time and a few retracted, plain facts, and the
//! text of the write-path benchmarks' adds ([`move_message`]).
//!
//! Relation and fact vectors are random unit vectors (embedding 100k sentences would take
//! long and changes no cost); queries still go through the real embedder.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use mnemo_core::ports::{Embedder, GraphWrite, RelationVector, VectorWrite, WriteOp};
use mnemo_core::{
    EmbedError, Entity, EntityId, EntityType, Fact, FactEvent, FactEventKind, FactId, Relation,
    RelationId, RelationTimes, RelationType, Scope, Timestamp, normalize_name,
};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::FastEmbedder;

use rand::RngCore as _;

use crate::{Rng, unit_vector};

const DIMENSION: usize = mnemo_fastembed::DIMENSION;
/// Records per store transaction while building.
const WRITE_BATCH: usize = 2_000;

/// The real embedder, remembering the span its calls covered since the last
/// [`Timed::reset`]: from the first call's start to the last call's end.
pub struct Timed {
    pub inner: FastEmbedder,
    span: Mutex<Option<(Instant, Instant)>>,
}

#[async_trait]
impl Embedder for Timed {
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn model_name(&self) -> &str {
        self.inner.model_name()
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let out = self.inner.embed(texts).await;
        self.record(started);
        out
    }
    async fn embed_query(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let out = self.inner.embed_query(texts).await;
        self.record(started);
        out
    }
}

impl Timed {
    fn record(&self, started: Instant) {
        let ended = Instant::now();
        let mut span = self.span.lock().unwrap_or_else(|e| e.into_inner());
        *span = Some(match *span {
            Some((first, last)) => (first.min(started), last.max(ended)),
            None => (started, ended),
        });
    }
}

/// Loads the embedder (wrapped to time its calls) and the tokenizer on the blocking pool.
pub async fn load_models(
    embed: &mnemo_fastembed::EmbedConfig,
) -> anyhow::Result<(
    std::sync::Arc<Timed>,
    std::sync::Arc<mnemo_fastembed::TokenizerCounter>,
)> {
    let embed_config = embed.clone();
    let (embedder, tokens) = tokio::task::spawn_blocking(move || {
        anyhow::Ok((
            mnemo_fastembed::FastEmbedder::load(&embed_config)?,
            mnemo_fastembed::TokenizerCounter::load(&embed_config)?,
        ))
    })
    .await??;
    Ok((
        std::sync::Arc::new(Timed::new(embedder)),
        std::sync::Arc::new(tokens),
    ))
}

impl Timed {
    pub fn new(inner: FastEmbedder) -> Timed {
        Timed {
            inner,
            span: Mutex::new(None),
        }
    }

    /// Forgets the calls so far.
    pub fn reset(&self) {
        *self.span.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// From the start of the first call since [`Timed::reset`] to the end of the last one
    /// (calls that overlap count once).
    pub fn span(&self) -> Duration {
        self.span
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(Duration::ZERO, |(first, last)| last - first)
    }
}

/// Results per search in the benchmarks.
pub const SEARCH_LIMIT: usize = 10;
/// The benchmarks' `token_budget`.
pub const SEARCH_TOKEN_BUDGET: usize = 400;

/// How long one search took, and how much of it the embedding calls spanned.
pub struct SearchTiming {
    pub total: Duration,
    pub embedding: Duration,
    /// The rest: linking, the store reads, fusion, the cut.
    pub engine: Duration,
}

/// One benchmark search (limit [`SEARCH_LIMIT`], budget [`SEARCH_TOKEN_BUDGET`]) through
/// `memory`, whose embedder is `embedder`; the result and its timing.
pub async fn timed_search(
    memory: &mnemo_core::Memory,
    embedder: &Timed,
    scope: Scope,
    query: String,
    depth: u8,
) -> Result<(mnemo_core::read::SearchResult, SearchTiming), mnemo_core::MemoryError> {
    let mut request = mnemo_core::read::SearchRequest::new(scope, query);
    request.limit = SEARCH_LIMIT;
    request.depth = depth;
    request.token_budget = Some(SEARCH_TOKEN_BUDGET);
    embedder.reset();
    let started = Instant::now();
    let result = memory.search(request).await?;
    let total = started.elapsed();
    let embedding = embedder.span();
    let timing = SearchTiming {
        total,
        embedding,
        engine: total.saturating_sub(embedding),
    };
    Ok((result, timing))
}

/// An inferred add of one user message, as the write-path benchmarks send it.
pub fn user_says(scope: &Scope, text: String) -> mnemo_core::write::AddRequest {
    mnemo_core::write::AddRequest {
        scope: scope.clone(),
        messages: vec![mnemo_core::llm::ChatMessage {
            role: "user".into(),
            content: text,
        }],
        occurred_at: None,
        metadata: serde_json::json!({}),
        infer: true,
        idempotency_key: None,
    }
}

pub const FIRST_NAMES: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kara",
    "Liam", "Maya", "Nikolai", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoe", "Anna", "Ben", "Chloe", "Diego", "Elena", "Felix", "Hannah",
    "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nora", "Omar", "Priya", "Rafael", "Sofia", "Tomas",
    "Uma", "Victor", "Wanda", "Yara",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ven", "tor", "sa", "bel", "dor", "an", "el", "is", "mar", "ton", "vi",
    "ne", "qu", "ber", "ly", "fen", "gal", "hol", "ri", "sto", "wen", "zar", "po", "lin",
];
const ORG_SUFFIXES: &[&str] = &[
    "Labs", "Systems", "Foods", "Bank", "Motors", "Media", "Health", "Energy", "Studio", "Group",
];
pub const TOPICS: &[&str] = &[
    "jazz",
    "tennis",
    "sailing",
    "chess",
    "sushi",
    "hiking",
    "opera",
    "poetry",
    "cycling",
    "baking",
    "astronomy",
    "gardening",
    "photography",
    "surfing",
    "pottery",
    "climbing",
    "yoga",
    "football",
    "painting",
    "knitting",
];

/// A capitalised made-up word of 2 or 3 syllables.
pub fn word(rng: &mut Rng) -> String {
    let syllables = 2 + (rng.next_u64() % 2) as usize;
    let mut w = String::new();
    for _ in 0..syllables {
        w.push_str(SYLLABLES[(rng.next_u64() % SYLLABLES.len() as u64) as usize]);
    }
    let mut chars = w.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[(rng.next_u64() % items.len() as u64) as usize]
}

/// An index into `len` items, heavily skewed to the first ones (density ∝ x^(-2/3)): the
/// first item gets a few percent of all picks, most get a handful.
pub fn skewed(rng: &mut Rng, len: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((u.powi(3) * len as f64) as usize).min(len - 1)
}

pub fn unit_interval(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// What the queries are drawn from.
pub struct World {
    pub persons: Vec<String>,
    pub person_ids: Vec<EntityId>,
    pub orgs: Vec<String>,
    /// The source of every person-sourced relation, so a pick from it is proportional to
    /// degree (hubs are asked about as often as they are talked about).
    pub sources: Vec<usize>,
    pub entity_count: usize,
    pub max_degree: usize,
}

impl World {
    /// A question about the world, like a user would ask it.
    pub fn query(&self, rng: &mut Rng) -> String {
        let person = if rng.next_u64().is_multiple_of(2) {
            &self.persons[*pick(rng, &self.sources)]
        } else {
            pick(rng, &self.persons)
        };
        let org = &self.orgs[skewed(rng, self.orgs.len())];
        match rng.next_u64() % 6 {
            0 => format!("Where does {person} live?"),
            1 => format!("Who does {person} know?"),
            2 => format!("Where does {person} work and where is that company based?"),
            3 => format!("What does {person} like to do on weekends?"),
            4 => format!("Where is {org} headquartered?"),
            _ => format!("tell me about {}", person.to_lowercase()),
        }
    }
}

/// Names for `entities` entities, unique by normalised name: people (60%), organisations,
/// cities and topics.
fn entity_names(rng: &mut Rng, entities: usize) -> [Vec<String>; 4] {
    let mut taken: HashSet<String> = HashSet::new();
    let unique = |name: String, taken: &mut HashSet<String>| -> Option<String> {
        taken.insert(normalize_name(&name).ok()?).then_some(name)
    };
    let (mut persons, mut orgs, mut cities, mut topics) = (vec![], vec![], vec![], vec![]);
    while persons.len() < entities * 60 / 100 {
        let name = format!("{} {}", pick(rng, FIRST_NAMES), word(rng));
        persons.extend(unique(name, &mut taken));
    }
    while orgs.len() < entities * 15 / 100 {
        let name = format!("{} {}", word(rng), pick(rng, ORG_SUFFIXES));
        orgs.extend(unique(name, &mut taken));
    }
    while cities.len() < entities * 10 / 100 {
        cities.extend(unique(word(rng), &mut taken));
    }
    for topic in TOPICS {
        topics.extend(unique(topic.to_string(), &mut taken));
    }
    while topics.len() < entities * 15 / 100 {
        let name = format!("{} {}", word(rng), pick(rng, TOPICS));
        topics.extend(unique(name, &mut taken));
    }

    [persons, orgs, cities, topics]
}

/// `n` relation facts as [`build_scope`] writes them ("Mia Orlen works at Tavik Labs"),
/// over `n / 5` entities, with no store: real text to embed for a benchmark of vector
/// search.
pub fn relation_facts(rng: &mut Rng, n: usize) -> Vec<String> {
    let names = entity_names(rng, (n / 5).max(20));
    (0..n)
        .map(|_| {
            let (_, template, from, to, _) = pick_type(rng);
            let s = skewed(rng, names[from].len());
            let t = skewed(rng, names[to].len());
            template
                .replace("{s}", &names[from][s])
                .replace("{t}", &names[to][t])
        })
        .collect()
}

/// Relation types: (type, fact template, source kind, target kind, share in percent), kinds
/// indexing [`entity_names`]' lists.
const RELATION_TYPES: [(&str, &str, usize, usize, u64); 7] = [
    ("KNOWS", "{s} knows {t}", 0, 0, 30),
    ("LIKES", "{s} likes {t}", 0, 3, 20),
    ("WORKS_AT", "{s} works at {t}", 0, 1, 15),
    ("LIVES_IN", "{s} lives in {t}", 0, 2, 10),
    ("VISITED", "{s} visited {t}", 0, 2, 10),
    ("STUDIED_AT", "{s} studied at {t}", 0, 1, 10),
    ("HEADQUARTERED_IN", "{s} is headquartered in {t}", 1, 2, 5),
];

/// A relation type drawn by its share.
fn pick_type(rng: &mut Rng) -> (&'static str, &'static str, usize, usize, u64) {
    let roll = rng.next_u64() % 100;
    let mut acc = 0;
    *RELATION_TYPES
        .iter()
        .find(|t| {
            acc += t.4;
            roll < acc
        })
        .unwrap_or(&RELATION_TYPES[0])
}

/// Entities with real name embeddings, `n` relations with random vectors, `n / 10` facts.
pub async fn build_scope(
    store: &EmbeddedStore,
    scope: &Scope,
    n: usize,
    embedder: &FastEmbedder,
    rng: &mut Rng,
) -> anyhow::Result<World> {
    let [persons, orgs, cities, topics] = entity_names(rng, n / 5);
    let now = Utc::now();
    let kinds = [
        ("Person", &persons),
        ("Organization", &orgs),
        ("City", &cities),
        ("Concept", &topics),
    ];
    let mut ids: Vec<Vec<EntityId>> = Vec::new();
    for (kind, names) in kinds {
        let entity_type = EntityType::parse(kind)?;
        let mut kind_ids = Vec::with_capacity(names.len());
        for chunk in names.chunks(WRITE_BATCH) {
            let vectors = embedder.embed(chunk.to_vec()).await?;
            let mut ops = Vec::with_capacity(chunk.len());
            for (name, embedding) in chunk.iter().zip(vectors) {
                let entity = Entity {
                    id: EntityId::new(),
                    scope: scope.clone(),
                    name: normalize_name(name)?,
                    display_name: name.clone(),
                    entity_type: entity_type.clone(),
                    aliases: Vec::new(),
                    embedding,
                    mentions: 1,
                    created_at: now,
                    updated_at: now,
                };
                kind_ids.push(entity.id);
                ops.push(WriteOp::UpsertEntity(entity));
            }
            store.apply(scope, ops).await?;
        }
        ids.push(kind_ids);
    }
    let [person_ids, org_ids, city_ids, topic_ids] = &ids[..] else {
        anyhow::bail!("four entity kinds")
    };

    let names: [&Vec<String>; 4] = [&persons, &orgs, &cities, &topics];
    let kind_ids: [&Vec<EntityId>; 4] = [person_ids, org_ids, city_ids, topic_ids];
    let mut degree: HashMap<EntityId, usize> = HashMap::new();
    let mut sources = Vec::new();
    let span = chrono::Duration::days(730);
    let mut ops = Vec::with_capacity(WRITE_BATCH);
    let mut vectors = Vec::with_capacity(WRITE_BATCH);
    for i in 0..n {
        let (kind, template, from, to, _) = pick_type(rng);
        let s = skewed(rng, kind_ids[from].len());
        let mut t = skewed(rng, kind_ids[to].len());
        if from == to && s == t {
            t = (t + 1) % kind_ids[to].len();
        }
        if from == 0 {
            sources.push(s);
        }
        *degree.entry(kind_ids[from][s]).or_default() += 1;
        *degree.entry(kind_ids[to][t]).or_default() += 1;
        let recorded_at: Timestamp =
            now - span + chrono::Duration::seconds((span.num_seconds() * i as i64) / n as i64);
        let valid_from = (rng.next_u64() % 10 < 7)
            .then(|| recorded_at - chrono::Duration::days((rng.next_u64() % 400) as i64));
        let mut times = RelationTimes {
            valid_from,
            valid_to: None,
            recorded_at,
            invalidated_at: None,
            retracted_at: None,
        };
        let fate = unit_interval(rng);
        if fate < 0.2 {
            let end = recorded_at + chrono::Duration::days(1 + (rng.next_u64() % 300) as i64);
            if end < now {
                times.valid_to = Some(end);
                times.invalidated_at = Some(end);
            }
        } else if fate < 0.22 {
            let at = recorded_at + chrono::Duration::days(10);
            if at < now {
                times.retracted_at = Some(at);
            }
        }
        let fact = template
            .replace("{s}", &names[from][s])
            .replace("{t}", &names[to][t]);
        let relation = Relation {
            id: RelationId::new(),
            scope: scope.clone(),
            source: kind_ids[from][s],
            relation_type: RelationType::parse(kind)?,
            target: kind_ids[to][t],
            fact,
            times,
            invalidated_by: None,
            invalidated_in: None,
            episodes: Vec::new(),
            mentions: 1,
            stated_end: None,
        };
        vectors.push(RelationVector {
            id: relation.id,
            scope: scope.clone(),
            times,
            vector: unit_vector(rng, DIMENSION),
        });
        ops.push(WriteOp::AddRelation(relation));
        if ops.len() == WRITE_BATCH || i + 1 == n {
            store.apply(scope, std::mem::take(&mut ops)).await?;
            store.upsert_relation_vectors(&vectors).await?;
            vectors.clear();
        }
    }

    for i in 0..n / 10 {
        let person = &persons[skewed(rng, persons.len())];
        let topic = pick(rng, TOPICS);
        let fact = Fact {
            id: FactId::new(),
            scope: scope.clone(),
            text: format!("{person} mentioned {topic} (note {i})"),
            metadata: serde_json::json!({}),
            created_at: now,
            updated_at: now,
            episodes: Vec::new(),
        };
        let event = FactEvent {
            fact_id: fact.id,
            event: FactEventKind::Add,
            old_text: None,
            new_text: Some(fact.text.clone()),
            at: now,
            episode: None,
        };
        store
            .put_fact(&fact, &unit_vector(rng, DIMENSION), &event)
            .await?;
    }

    Ok(World {
        person_ids: person_ids.clone(),
        entity_count: persons.len() + orgs.len() + cities.len() + topics.len(),
        persons,
        orgs,
        sources,
        max_degree: degree.values().copied().max().unwrap_or(0),
    })
}

/// The text of one add of the write-path benchmarks: two relations, LIVES_IN (superseding
/// by the ontology rule) and WORKS_AT (possibly sent to `resolve_conflicts`). The
/// zero-latency model (`mnemo_testkit::zero_latency_llm`) reads these names back.
pub fn move_message(person: u64, city: u64, org: u64, n: usize) -> String {
    format!("Person-{person} moved to City-{city} and works at Org-{org} (#{n})")
}
