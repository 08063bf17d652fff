//! `infer: false` (DESIGN §3.8): no LLM at all. Each message becomes a fact, and the
//! entities the messages name are linked to the episode by `MENTIONS`, so the entity
//! retriever still reaches the episode.
//!
//! Linking looks up word n-grams (up to [`MAX_SPAN_WORDS`] words, within one clause) by
//! exact normalised name or alias, never by scanning the scope; the longest match wins.
//! A proper-noun span (a capitalised run not at a sentence start, or a capitalised run of
//! two or more words) that names no known entity becomes a new `Concept` entity, so the
//! episode can still be found by that name. First-person words in a user's message link
//! the scope's user entity when it exists.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::llm::ChatMessage;
use crate::ports::{FactPut, WriteOp};
use crate::write::FactChanges;
use crate::write::facts::base_metadata;
use crate::write::graph::NameVectors;
use crate::{
    Entity, EntityId, EntityType, Episode, Fact, FactEvent, FactEventKind, FactId, Memory,
    MemoryError, normalize_name,
};

/// The metadata key of a message fact's event time (its episode's `occurred_at`).
pub const SAID_AT: &str = "said_at";
/// Longest span (in words) looked up as a name.
const MAX_SPAN_WORDS: usize = 4;
/// Most distinct spans looked up per episode; each is one indexed read.
const MAX_LOOKUPS: usize = 2000;
/// Type of an entity created for an unknown proper noun.
const PROPER_NOUN_TYPE: &str = "Concept";
/// First-person words (lower case) that refer to the speaking user.
const FIRST_PERSON: &[&str] = &[
    "i", "i'm", "i've", "i'll", "i'd", "me", "my", "mine", "myself",
];
/// Words that neither start nor end a name, and do not make a proper noun by being
/// capitalised at the start of a sentence.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "actually",
    "after",
    "all",
    "also",
    "an",
    "and",
    "anyway",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "finally",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "hello",
    "her",
    "here",
    "hers",
    "hey",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "last",
    "later",
    "let",
    "maybe",
    "me",
    "mine",
    "my",
    "next",
    "no",
    "not",
    "now",
    "of",
    "ok",
    "okay",
    "on",
    "or",
    "our",
    "ours",
    "please",
    "recently",
    "she",
    "so",
    "some",
    "soon",
    "still",
    "sure",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "today",
    "tomorrow",
    "tonight",
    "too",
    "us",
    "was",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yes",
    "yesterday",
    "you",
    "your",
    "yours",
];
/// Capitalised in English but not names worth an entity on their own (with the months).
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Weekday and month names (see [`WEEKDAYS`]).
fn is_calendar_word(lower: &str) -> bool {
    WEEKDAYS.contains(&lower) || crate::identity::MONTH_NAMES.contains(&lower)
}

/// The vectors `infer: false` needs, computed before the scope's write lock in one call:
/// every message's text and every proper noun the messages name that the scope does not
/// know yet (looked up in one read: a known name needs no vector, and in a conversation
/// most names are known). None of it depends on what the scope holds; a name that becomes
/// unknown before the lock is embedded under it, so the lookup only saves work. The lock is
/// then held only for reads and one write of each kind.
pub(crate) async fn embed_ahead(
    memory: &Memory,
    scope: &crate::Scope,
    messages: &[ChatMessage],
) -> Result<NameVectors, MemoryError> {
    let mut texts: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for message in messages {
        texts.push(message.content.trim().to_owned());
        names.extend(
            analyse(&message.content)
                .proper_nouns
                .into_iter()
                .map(|span| span.text),
        );
    }
    if !names.is_empty() {
        let spans: Vec<&str> = names.iter().map(String::as_str).collect();
        let lookups = Lookups::read(memory, scope, Lookups::keys(&spans)).await?;
        texts.extend(names.into_iter().filter(|name| lookups.get(name).is_none()));
    }
    texts.retain(|t| !t.is_empty());
    let mut vectors = NameVectors::default();
    vectors.embed_missing(memory.reader(), &texts).await?;
    Ok(vectors)
}

/// Stores the episode's messages as facts (ids derived from the episode and the message
/// index, so running it again replaces instead of duplicating, all in one write) and
/// returns the graph ops that link the entities they name, for the caller's one graph
/// transaction. Does not set the episode's status.
pub(crate) async fn add_plain(
    memory: &Memory,
    episode: &Episode,
    messages: &[ChatMessage],
    mut embedded: NameVectors,
) -> Result<(FactChanges, Vec<WriteOp>), MemoryError> {
    let facts = store_facts(memory, episode, messages, &mut embedded).await?;
    let ops = link_entities(memory, episode, messages, &mut embedded).await?;
    let changes = FactChanges {
        added: facts,
        ..FactChanges::default()
    };
    Ok((changes, ops))
}

async fn store_facts(
    memory: &Memory,
    episode: &Episode,
    messages: &[ChatMessage],
    embedded: &mut NameVectors,
) -> Result<Vec<Fact>, MemoryError> {
    let scope = &episode.scope;
    let now = memory.now();
    let mut facts = Vec::with_capacity(messages.len());
    let mut missing = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let text = message.content.trim();
        if text.is_empty() {
            continue;
        }
        let id = plain_fact_id(episode.id, index);
        match memory.vectors.fact(scope, id).await? {
            // Written by an earlier run of this episode.
            Some(fact) if fact.text == text => facts.push(fact),
            _ => {
                let mut metadata = base_metadata(episode);
                metadata.insert("role".into(), message.role.clone().into());
                metadata.insert("message_index".into(), index.into());
                // When it was said (the episode's event time), for `context`'s lines.
                metadata.insert(
                    SAID_AT.into(),
                    episode
                        .occurred_at
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                        .into(),
                );
                missing.push(facts.len());
                facts.push(Fact {
                    id,
                    scope: scope.clone(),
                    text: text.to_owned(),
                    metadata: serde_json::Value::Object(metadata),
                    created_at: now,
                    updated_at: now,
                    episodes: vec![episode.id],
                });
            }
        }
    }
    let texts: Vec<String> = missing.iter().map(|&i| facts[i].text.clone()).collect();
    let vectors = embedded.of(memory.reader(), &texts).await?;
    let puts: Vec<FactPut> = missing
        .iter()
        .zip(vectors)
        .map(|(&i, vector)| {
            let fact = facts[i].clone();
            let event = FactEvent {
                fact_id: fact.id,
                event: FactEventKind::Add,
                old_text: None,
                new_text: Some(fact.text.clone()),
                at: now,
                episode: Some(episode.id),
            };
            FactPut {
                fact,
                vector,
                event,
            }
        })
        .collect();
    if !puts.is_empty() {
        memory.vectors.put_facts(&puts).await?;
    }
    Ok(facts)
}

/// The id of the fact made of message `index` of the episode: the episode id's bytes
/// (so it keeps the episode's time prefix) with the index mixed into the last four bytes,
/// stamped as a UUIDv8. Distinct indexes give distinct ids; ids of different episodes
/// differ in the episode's random bits.
pub(crate) fn plain_fact_id(episode: crate::EpisodeId, index: usize) -> FactId {
    let mut bytes = *episode.as_uuid().as_bytes();
    let mix = u32::try_from(index).unwrap_or(u32::MAX).wrapping_add(1);
    for (byte, m) in bytes[12..].iter_mut().zip(mix.to_be_bytes()) {
        *byte ^= m;
    }
    FactId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The graph ops that link the entities the messages name to the episode (new `Concept`
/// entities for unknown proper nouns). Every name is looked up in one read.
async fn link_entities(
    memory: &Memory,
    episode: &Episode,
    messages: &[ChatMessage],
    embedded: &mut NameVectors,
) -> Result<Vec<WriteOp>, MemoryError> {
    let scope = &episode.scope;
    let analysed: Vec<(&ChatMessage, Spans)> =
        messages.iter().map(|m| (m, analyse(&m.content))).collect();
    let user = scope.user_id();
    let mut spans_in_order: Vec<&str> = Vec::new();
    for (message, spans) in &analysed {
        if message.role.eq_ignore_ascii_case("user") && spans.first_person {
            spans_in_order.extend(user);
        }
        spans_in_order.extend(spans.ngrams.iter().map(|s| s.text.as_str()));
        spans_in_order.extend(spans.proper_nouns.iter().map(|s| s.text.as_str()));
    }
    let lookups = Lookups::read(memory, scope, Lookups::keys(&spans_in_order)).await?;
    let mut linked: Vec<EntityId> = Vec::new();
    let mut known: HashMap<EntityId, Entity> = HashMap::new();
    // Normalised name → display name of unknown proper nouns, first-seen order.
    let mut unknown: Vec<(String, String)> = Vec::new();

    for (message, spans) in &analysed {
        if message.role.eq_ignore_ascii_case("user")
            && spans.first_person
            && let Some(user) = user
            && let Some(entity) = lookups.get(user)
        {
            link(&mut linked, &mut known, entity);
        }

        // Longest known names first; a word belongs to at most one match.
        let mut covered: HashSet<(usize, usize)> = HashSet::new();
        for span in &spans.ngrams {
            if (span.start..span.end).any(|w| covered.contains(&(span.clause, w))) {
                continue;
            }
            if let Some(entity) = lookups.get(&span.text) {
                covered.extend((span.start..span.end).map(|w| (span.clause, w)));
                link(&mut linked, &mut known, entity);
            }
        }
        for span in &spans.proper_nouns {
            if (span.start..span.end).any(|w| covered.contains(&(span.clause, w))) {
                continue;
            }
            if let Some(entity) = lookups.get(&span.text) {
                link(&mut linked, &mut known, entity);
                continue;
            }
            let key = normalize_name(&span.text)?;
            if !unknown.iter().any(|(k, _)| *k == key) {
                unknown.push((key, span.text.clone()));
            }
        }
    }
    if linked.is_empty() && unknown.is_empty() {
        return Ok(Vec::new());
    }

    // A known entity counts one more mention per episode, also when this runs again.
    let already = memory.graph.episode_footprint(scope, episode.id).await?;
    let now = memory.now();
    let mut ops = Vec::with_capacity(2 * (linked.len() + unknown.len()));
    for id in linked {
        if let Some(mut entity) = known.remove(&id) {
            if !already.mentioned.contains(&id) {
                entity.mentions = entity.mentions.saturating_add(1);
                entity.updated_at = now;
                ops.push(WriteOp::UpsertEntity(entity));
            }
            ops.push(WriteOp::Mention {
                episode: episode.id,
                entity: id,
            });
        }
    }
    let entity_type = EntityType::parse(PROPER_NOUN_TYPE)?;
    let displays: Vec<String> = unknown.iter().map(|(_, display)| display.clone()).collect();
    let vectors = embedded.of(memory.reader(), &displays).await?;
    for ((name, display_name), embedding) in unknown.into_iter().zip(vectors) {
        let id = EntityId::new();
        ops.push(WriteOp::UpsertEntity(Entity {
            id,
            scope: scope.clone(),
            name,
            display_name,
            entity_type: entity_type.clone(),
            aliases: Vec::new(),
            embedding,
            mentions: 1,
            created_at: now,
            updated_at: now,
        }));
        ops.push(WriteOp::Mention {
            episode: episode.id,
            entity: id,
        });
    }
    Ok(ops)
}

fn link(linked: &mut Vec<EntityId>, known: &mut HashMap<EntityId, Entity>, entity: Entity) {
    if let Entry::Vacant(slot) = known.entry(entity.id) {
        linked.push(entity.id);
        slot.insert(entity);
    }
}

/// The name lookups of one episode: each distinct key read once, at most
/// [`MAX_LOOKUPS`] (in the order the spans come), all in one read.
struct Lookups {
    found: HashMap<String, Option<Entity>>,
}

impl Lookups {
    /// The distinct keys of `spans`, first seen first, at most [`MAX_LOOKUPS`].
    fn keys(spans: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for key in spans.iter().filter_map(|span| normalize_name(span).ok()) {
            if keys.len() >= MAX_LOOKUPS {
                break;
            }
            if seen.insert(key.clone()) {
                keys.push(key);
            }
        }
        keys
    }

    async fn read(
        memory: &Memory,
        scope: &crate::Scope,
        keys: Vec<String>,
    ) -> Result<Lookups, MemoryError> {
        let entities = memory.graph.entities_by_names(scope, &keys).await?;
        Ok(Lookups {
            found: keys.into_iter().zip(entities).collect(),
        })
    }

    /// The entity `span` names, if it was looked up and found.
    fn get(&self, span: &str) -> Option<Entity> {
        let key = normalize_name(span).ok()?;
        self.found.get(&key)?.clone()
    }
}

/// Words `start..end` of clause `clause`, joined by single spaces.
#[derive(Clone, Debug, PartialEq)]
struct Span {
    clause: usize,
    start: usize,
    end: usize,
    text: String,
}

/// The spans of one message that may name an entity.
#[derive(Debug, Default, PartialEq)]
struct Spans {
    /// Word n-grams that neither start nor end with a stopword, longest first.
    ngrams: Vec<Span>,
    /// Capitalised runs that look like names.
    proper_nouns: Vec<Span>,
    /// The message speaks in the first person.
    first_person: bool,
}

/// One word of a clause, punctuation stripped.
struct Word<'a> {
    text: &'a str,
    lower: String,
    capitalised: bool,
    sentence_start: bool,
}

/// Splits a message into clauses (punctuation ends one) of words.
fn clauses(text: &str) -> Vec<Vec<Word<'_>>> {
    let mut clauses = Vec::new();
    for line in text.lines() {
        let mut clause: Vec<Word<'_>> = Vec::new();
        let mut sentence_start = true;
        for raw in line.split_whitespace() {
            let trimmed_front = raw.trim_start_matches(|c: char| !c.is_alphanumeric());
            if trimmed_front.len() != raw.len() && !clause.is_empty() {
                clauses.push(std::mem::take(&mut clause));
            }
            let word = trimmed_front.trim_end_matches(|c: char| !c.is_alphanumeric());
            let tail = &trimmed_front[word.len()..];
            let word = word
                .strip_suffix("'s")
                .or_else(|| word.strip_suffix("’s"))
                .unwrap_or(word);
            if !word.is_empty() {
                clause.push(Word {
                    text: word,
                    lower: word.to_lowercase(),
                    capitalised: word.chars().next().is_some_and(char::is_uppercase),
                    sentence_start,
                });
                sentence_start = false;
            }
            if !tail.is_empty() || word.is_empty() {
                if !clause.is_empty() {
                    clauses.push(std::mem::take(&mut clause));
                }
                if tail.contains(['.', '!', '?']) {
                    sentence_start = true;
                }
            }
        }
        if !clause.is_empty() {
            clauses.push(clause);
        }
    }
    clauses
}

fn analyse(text: &str) -> Spans {
    let mut spans = Spans::default();
    let is_stop = |w: &Word<'_>| {
        STOPWORDS.contains(&w.lower.as_str()) || FIRST_PERSON.contains(&w.lower.as_str())
    };
    let join = |words: &[Word<'_>]| words.iter().map(|w| w.text).collect::<Vec<_>>().join(" ");
    for (c, words) in clauses(text).iter().enumerate() {
        spans.first_person |= words
            .iter()
            .any(|w| FIRST_PERSON.contains(&w.lower.as_str()));
        for len in (1..=MAX_SPAN_WORDS).rev() {
            for start in 0..words.len().saturating_sub(len - 1) {
                let end = start + len;
                if is_stop(&words[start]) || is_stop(&words[end - 1]) {
                    continue;
                }
                spans.ngrams.push(Span {
                    clause: c,
                    start,
                    end,
                    text: join(&words[start..end]),
                });
            }
        }

        let mut start = 0;
        while start < words.len() {
            if !words[start].capitalised || FIRST_PERSON.contains(&words[start].lower.as_str()) {
                start += 1;
                continue;
            }
            let mut end = start + 1;
            while end < words.len()
                && words[end].capitalised
                && !FIRST_PERSON.contains(&words[end].lower.as_str())
            {
                end += 1;
            }
            let (run_start, run_end) = (start, end);
            start = end;
            // "Then Alice": a sentence-starting stopword is not part of the name.
            let mut first = run_start;
            while first < run_end && is_stop(&words[first]) {
                first += 1;
            }
            let len = run_end - first;
            let alone_at_start = len == 1 && words[first].sentence_start;
            if len == 0
                || len > MAX_SPAN_WORDS
                || alone_at_start
                || (len == 1 && is_calendar_word(&words[first].lower))
            {
                continue;
            }
            spans.proper_nouns.push(Span {
                clause: c,
                start: first,
                end: run_end,
                text: join(&words[first..run_end]),
            });
        }
    }
    // Longest first, so a longer known name covers the shorter ones inside it.
    spans
        .ngrams
        .sort_by_key(|s| std::cmp::Reverse(s.end - s.start));
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn check(text: &str, ngrams: &[&str], proper_nouns: &[&str], first_person: bool) {
        let spans = analyse(text);
        let mut got: Vec<&str> = spans.ngrams.iter().map(|s| s.text.as_str()).collect();
        got.sort_unstable();
        let mut want = ngrams.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "n-grams of {text:?}");
        let got: Vec<&str> = spans.proper_nouns.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(got, proper_nouns, "proper nouns of {text:?}");
        assert_eq!(spans.first_person, first_person, "first person in {text:?}");
    }

    #[test]
    fn spans_of_messages() {
        check(
            "I moved to Lisbon.",
            &["moved", "moved to Lisbon", "Lisbon"],
            &["Lisbon"],
            true,
        );
        check(
            "Lisbon is lovely",
            &["Lisbon", "lovely", "Lisbon is lovely"],
            &[],
            false,
        );
        check(
            "We met Bob Smith at Acme",
            &[
                "Bob Smith at Acme",
                "met Bob Smith",
                "Smith at Acme",
                "met Bob",
                "Bob Smith",
                "met",
                "Bob",
                "Smith",
                "Acme",
            ],
            &["Bob Smith", "Acme"],
            false,
        );
        check(
            "New York is big.",
            &[
                "New York is big",
                "York is big",
                "New York",
                "New",
                "York",
                "big",
            ],
            &["New York"],
            false,
        );
        check(
            "Then Alice called.",
            &["Alice", "Alice called", "called"],
            &["Alice"],
            false,
        );
        check(
            "Alice, Bob and Carol",
            &["Alice", "Bob", "Bob and Carol", "Carol"],
            &["Bob", "Carol"],
            false,
        );
        check(
            "see you on Monday",
            &["see", "Monday", "see you on Monday"],
            &[],
            false,
        );
        check("Alice's cat", &["Alice", "Alice cat", "cat"], &[], false);
        check("wonderful. Paris", &["wonderful", "Paris"], &[], false);
        check(
            "Later Carla called",
            &["Carla", "Carla called", "called"],
            &["Carla"],
            false,
        );
        check(
            "my sister (Anna) visited",
            &["sister", "Anna", "visited"],
            &["Anna"],
            true,
        );
        check("I'm off", &["off"], &[], true);
        check("", &[], &[], false);
    }

    #[test]
    fn plain_fact_ids_are_deterministic_and_distinct() {
        let a = crate::EpisodeId::new();
        let b = crate::EpisodeId::new();
        let ids: Vec<FactId> = (0..100).map(|i| plain_fact_id(a, i)).collect();
        let distinct: HashSet<FactId> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), 100);
        assert_eq!(plain_fact_id(a, 7), plain_fact_id(a, 7));
        assert_ne!(plain_fact_id(a, 0), plain_fact_id(b, 0));
        assert_ne!(plain_fact_id(a, 0).as_uuid(), a.as_uuid());
        let uuid: Uuid = plain_fact_id(a, 3).as_uuid();
        assert_eq!(uuid.get_version_num(), 8);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        // The episode's time prefix is kept, so facts sort with their episode.
        assert_eq!(uuid.as_bytes()[..6], a.as_uuid().as_bytes()[..6]);
    }
}
