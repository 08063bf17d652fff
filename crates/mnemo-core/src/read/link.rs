//! Entity linking: which entities of the scope the query names. Lexically by exact name or
//! alias and by full text, then by name embedding of the query's noun phrases; with the
//! LLM's `extract_entities` only when the request asks for it.

use std::collections::HashMap;

use super::SearchRequest;
use super::query::{self, QueryText};
use crate::engine::Reader;
use crate::llm::{ChatMessage, ExtractionInput, Speakers};
use crate::ports::GraphRead;
use crate::{Entity, EntityId, MemoryError, Scope, StoreError};

/// Full-text hits checked against the query words.
const TEXT_CANDIDATES: usize = 20;
/// Nearest entities per phrase.
const VECTOR_CANDIDATES: usize = 3;
/// Cosine similarity of a phrase and an entity name at or above which the phrase names it.
const LINK_SIMILARITY: f32 = 0.7;
/// Walk starting points kept, the surest first.
const MAX_SEEDS: usize = 8;

/// Link strength of an exact name or alias.
const EXACT: f32 = 1.0;
/// Link strength of a full-text hit whose whole name occurs in the query.
const TEXT: f32 = 0.95;

/// Entities found so far, each with its best link strength.
#[derive(Debug, Default)]
pub(crate) struct Links {
    found: HashMap<EntityId, (Entity, f32)>,
}

impl Links {
    fn add(&mut self, entity: Entity, strength: f32) {
        match self.found.get_mut(&entity.id) {
            Some((_, best)) => *best = best.max(strength),
            None => {
                self.found.insert(entity.id, (entity, strength));
            }
        }
    }

    /// Whether every word of `phrase` belongs to the name of an entity already linked, so
    /// matching it by embedding would find nothing new.
    fn covers(&self, phrase: &str) -> bool {
        let names: Vec<String> = self
            .found
            .values()
            .flat_map(|(e, _)| {
                query::words(&e.display_name)
                    .into_iter()
                    .chain(e.aliases.iter().flat_map(|a| query::words(a)))
            })
            .collect();
        query::words(phrase).iter().all(|w| names.contains(w))
    }

    /// The walk's starting points: surest first, then by name, at most [`MAX_SEEDS`].
    pub(crate) fn seeds(&self) -> Vec<Entity> {
        let mut all: Vec<&(Entity, f32)> = self.found.values().collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
        all.into_iter()
            .take(MAX_SEEDS)
            .map(|(e, _)| e.clone())
            .collect()
    }
}

/// Exact names/aliases of `exact`, and full-text hits whose name or an alias occurs in the
/// query as consecutive words.
pub(crate) async fn lexical(
    graph: &dyn GraphRead,
    scope: &Scope,
    text: &QueryText,
    query: &str,
    exact: &[String],
) -> Result<Links, StoreError> {
    let mut links = Links::default();
    let lookups = exact.iter().map(|name| graph.entity_by_name(scope, name));
    let text_hits = graph.search_entities_text(scope, query, TEXT_CANDIDATES);
    let (found, text_hits) = tokio::join!(
        super::join_all(lookups.collect(), super::CONCURRENCY),
        text_hits
    );
    for entity in found {
        if let Some(entity) = entity? {
            links.add(entity, EXACT);
        }
    }
    for hit in text_hits? {
        let named = text.mentions(&hit.item.display_name)
            || text.mentions(&hit.item.name)
            || hit.item.aliases.iter().any(|a| text.mentions(a));
        if named {
            links.add(hit.item, TEXT);
        }
    }
    Ok(links)
}

/// The phrases worth a name embedding: those not already explained by a lexical link.
/// Lexical matching already covers every phrase that is an entity's exact name, so only
/// name-like phrases are kept (every phrase when nothing matched lexically): each one
/// costs an embedding and a scan of the scope's entity vectors.
pub(crate) fn unexplained(phrases: Vec<(String, bool)>, links: &Links) -> Vec<(String, bool)> {
    let any_lexical = !links.found.is_empty();
    phrases
        .into_iter()
        .filter(|(text, name_like)| (*name_like || !any_lexical) && !links.covers(text))
        .collect()
}

/// Adds the entities whose name embedding is close to one of `phrase_vectors` (the
/// embeddings of the [`unexplained`] phrases).
pub(crate) async fn by_vector(
    graph: &dyn GraphRead,
    scope: &Scope,
    phrase_vectors: &[Vec<f32>],
    links: &mut Links,
) -> Result<(), StoreError> {
    let searches: Vec<_> = phrase_vectors
        .iter()
        .map(|vector| graph.search_entities_vector(scope, vector, VECTOR_CANDIDATES))
        .collect();
    for hits in super::join_all(searches, super::CONCURRENCY).await {
        for hit in hits? {
            if hit.score >= LINK_SIMILARITY {
                links.add(hit.item, hit.score);
            }
        }
    }
    Ok(())
}

/// Names to look up exactly, and phrases to embed, each marked when it looks like a name.
pub(crate) type QueryNames = (Vec<String>, Vec<(String, bool)>);

/// What the linkers look for: names to look up exactly (the query's capitalised spans, and
/// the LLM's names with [`QueryEntities::Llm`]), and phrases to match by name embedding,
/// each marked when it looks like a name. Nothing when the search needs no graph.
///
/// [`QueryEntities::Llm`]: super::QueryEntities::Llm
pub(crate) async fn query_names(
    reader: Reader<'_>,
    request: &SearchRequest,
    text: &QueryText,
    want_graph: bool,
) -> Result<QueryNames, MemoryError> {
    Ok(match request.query_entities {
        super::QueryEntities::Llm if want_graph => {
            let names = llm_names(reader, request).await?;
            let mut exact = names.clone();
            exact.extend(text.spans.iter().cloned());
            (exact, names.into_iter().map(|n| (n, true)).collect())
        }
        _ => (
            text.spans.clone(),
            text.chunks
                .iter()
                .map(|c| (c.text.clone(), c.capitalised))
                .collect(),
        ),
    })
}

/// The entity names the LLM finds in the query (tool `extract_entities`).
async fn llm_names(
    reader: Reader<'_>,
    request: &SearchRequest,
) -> Result<Vec<String>, MemoryError> {
    let llm = reader.llm()?;
    let input = ExtractionInput {
        speakers: Speakers {
            user: request.scope.user_id().map(str::to_owned),
            agent: request.scope.agent_id().map(str::to_owned),
            occurred_at: request.as_of.unwrap_or_else(|| reader.now()),
        },
        messages: vec![ChatMessage {
            role: "user".into(),
            content: request.query.clone(),
        }],
        recent: Vec::new(),
        summary: None,
        entity_types: reader.ontology.entity_types().to_vec(),
    };
    let answer = llm.extract_entities(&input).await?;
    tracing::debug!(
        entities = answer.value.len(),
        prompt_tokens = answer.usage.prompt_tokens,
        "query entities from the LLM"
    );
    let mut names: Vec<String> = Vec::new();
    for entity in answer.value {
        if !names.contains(&entity.name) {
            names.push(entity.name);
        }
    }
    Ok(names)
}
