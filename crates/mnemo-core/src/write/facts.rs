//! The facts path (DESIGN §3.7, Mem0's base memory): `extract_facts`, then one
//! `update_memory` call against the existing facts most similar to the new ones, then
//! ADD / UPDATE / DELETE writes, each atomic with its history row; and the undo of an
//! episode's fact events when the episode is deleted.
//!
//! Choices:
//! - `NONE` writes nothing, not even a history row: `update_memory` may answer `NONE` for
//!   every fact it was shown, so such rows would grow with K on every add and say nothing
//!   about the fact. A history row always records a change.
//! - Reverting an `ADD` deletes the fact even when a later episode updated it: its origin
//!   is gone. Reverting an `UPDATE` puts the old text back only if no later episode changed
//!   the text again (a later change is newer information and stays). Reverting a `DELETE`
//!   re-adds the old text under the same id, unless the episode that added the fact was
//!   itself deleted. Reverting is idempotent: it compares with the facts as stored.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::engine::Reader;
use crate::llm::{MemoryEdit, MemoryUpdateInput};
use crate::write::FactChanges;
use crate::{
    EmbedError, Episode, EpisodeId, Fact, FactEvent, FactEventKind, FactId, LlmUsage, Memory,
    MemoryError, Scope, StoreError, Timestamp,
};

/// Everything the facts path will write for an episode, decided before any write.
#[derive(Debug, Default)]
pub(crate) struct FactsPlan {
    /// The facts `extract_facts` found, with their embeddings (reused when an edit keeps
    /// the text as extracted).
    extracted: Vec<(String, Vec<f32>)>,
    /// The existing facts shown to `update_memory`; index `i` was shown as id `"i"`.
    shown: Vec<Fact>,
    /// Validated edits: in range, at most one per shown fact, no empty or repeated ADD.
    edits: Vec<MemoryEdit>,
}

/// The episode's facts as the LLM states them (`extract_facts`), trimmed and de-duplicated.
/// Reads nothing of the scope, so it runs before the scope's write lock is taken.
pub(crate) async fn extract_facts(
    reader: Reader<'_>,
    input: &crate::llm::ExtractionInput,
) -> Result<(Vec<String>, LlmUsage), MemoryError> {
    let llm = reader.llm()?;
    let extracted = llm.extract_facts(input).await.map_err(MemoryError::Llm)?;
    let mut seen = HashSet::new();
    let texts: Vec<String> = extracted
        .value
        .into_iter()
        .map(|fact| fact.trim().to_owned())
        .filter(|fact| !fact.is_empty() && seen.insert(crate::text::same_text_key(fact)))
        .collect();
    Ok((texts, extracted.usage))
}

/// Asks `update_memory` what the extracted facts change among the `facts_top_k` most
/// similar facts of the scope. Reads the scope's facts, so it runs under its write lock;
/// writes nothing.
pub(crate) async fn plan_facts(
    reader: Reader<'_>,
    scope: &Scope,
    texts: Vec<String>,
) -> Result<(FactsPlan, LlmUsage), MemoryError> {
    let llm = reader.llm()?;
    let mut usage = LlmUsage::default();
    if texts.is_empty() {
        return Ok((FactsPlan::default(), usage));
    }

    let vectors = reader.embed(texts.clone()).await?;
    let shown = similar_facts(reader, scope, &vectors).await?;
    let answer = llm
        .update_memory(&MemoryUpdateInput {
            existing: shown.iter().map(|f| f.text.clone()).collect(),
            facts: texts.clone(),
        })
        .await
        .map_err(|err| MemoryError::Llm(err.with_extra_usage(usage)))?;
    usage += answer.usage;

    let edits = validate_edits(answer.value, &shown);
    let plan = FactsPlan {
        extracted: texts.into_iter().zip(vectors).collect(),
        shown,
        edits,
    };
    Ok((plan, usage))
}

/// The nearest existing facts of each new fact, taken rank by rank across the new facts
/// (every new fact's nearest first), de-duplicated, at most `facts_top_k` in all, so the
/// prompt stays small however many facts an episode states.
async fn similar_facts(
    reader: Reader<'_>,
    scope: &Scope,
    vectors: &[Vec<f32>],
) -> Result<Vec<Fact>, MemoryError> {
    let k = reader.settings.facts_top_k;
    if k == 0 {
        return Ok(Vec::new());
    }
    let mut per_fact = Vec::with_capacity(vectors.len());
    for vector in vectors {
        per_fact.push(reader.vectors.search_facts(scope, vector, k).await?);
    }
    let mut seen = HashSet::new();
    let mut shown = Vec::new();
    let deepest = per_fact.iter().map(Vec::len).max().unwrap_or(0);
    'ranks: for rank in 0..deepest {
        for hits in &per_fact {
            if let Some(hit) = hits.get(rank)
                && seen.insert(hit.item.id)
            {
                shown.push(hit.item.clone());
                if shown.len() == k {
                    break 'ranks;
                }
            }
        }
    }
    Ok(shown)
}

/// Keeps the edits that can be applied: an existing index in range for UPDATE / DELETE /
/// NONE (the first edit of a fact wins), non-empty text for ADD and UPDATE, no ADD of a
/// text already shown or already added, no UPDATE that keeps the text.
fn validate_edits(edits: Vec<MemoryEdit>, shown: &[Fact]) -> Vec<MemoryEdit> {
    let mut known: HashSet<String> = shown
        .iter()
        .map(|f| crate::text::same_text_key(&f.text))
        .collect();
    let mut touched = HashSet::new();
    let mut kept = Vec::new();
    for mut edit in edits {
        edit.text = edit.text.trim().to_owned();
        match edit.event {
            FactEventKind::Add => {
                if edit.text.is_empty() || !known.insert(crate::text::same_text_key(&edit.text)) {
                    continue;
                }
                edit.existing = None;
            }
            FactEventKind::Update | FactEventKind::Delete | FactEventKind::None => {
                let Some(i) = edit.existing.filter(|i| *i < shown.len()) else {
                    continue;
                };
                if !touched.insert(i) {
                    continue;
                }
                if edit.event == FactEventKind::Update
                    && (edit.text.is_empty() || edit.text == shown[i].text)
                {
                    continue;
                }
            }
        }
        kept.push(edit);
    }
    kept
}

/// Writes the plan: ADD → a new fact, UPDATE → the same id with the new text and the
/// episode added to its provenance, DELETE → the fact removed (its history stays), NONE →
/// nothing. New texts are embedded in one call; extracted texts reuse the plan's vectors.
pub(crate) async fn apply_facts(
    memory: &Memory,
    episode: &Episode,
    plan: FactsPlan,
) -> Result<FactChanges, MemoryError> {
    enum Write {
        Put { fact: Fact, event: FactEvent },
        Delete { id: FactId, event: FactEvent },
    }
    let now = memory.now();
    let event = |fact_id, event, old_text, new_text| FactEvent {
        fact_id,
        event,
        old_text,
        new_text,
        at: now,
        episode: Some(episode.id),
    };

    let mut writes = Vec::with_capacity(plan.edits.len());
    for edit in plan.edits {
        match (edit.event, edit.existing) {
            (FactEventKind::Add, _) => {
                let id = FactId::new();
                writes.push(Write::Put {
                    event: event(id, FactEventKind::Add, None, Some(edit.text.clone())),
                    fact: Fact {
                        id,
                        scope: episode.scope.clone(),
                        text: edit.text,
                        metadata: serde_json::Value::Object(base_metadata(episode)),
                        created_at: now,
                        updated_at: now,
                        episodes: vec![episode.id],
                    },
                });
            }
            (FactEventKind::Update, Some(i)) => {
                let mut fact = plan.shown[i].clone();
                let old = std::mem::replace(&mut fact.text, edit.text);
                fact.updated_at = now;
                if !fact.episodes.contains(&episode.id) {
                    fact.episodes.push(episode.id);
                }
                writes.push(Write::Put {
                    event: event(
                        fact.id,
                        FactEventKind::Update,
                        Some(old),
                        Some(fact.text.clone()),
                    ),
                    fact,
                });
            }
            (FactEventKind::Delete, Some(i)) => {
                let fact = &plan.shown[i];
                writes.push(Write::Delete {
                    id: fact.id,
                    event: event(
                        fact.id,
                        FactEventKind::Delete,
                        Some(fact.text.clone()),
                        None,
                    ),
                });
            }
            // NONE writes nothing (see the module doc); validation guarantees the rest.
            _ => {}
        }
    }

    let known: HashMap<&str, &Vec<f32>> = plan
        .extracted
        .iter()
        .map(|(text, vector)| (text.as_str(), vector))
        .collect();
    let mut missing: Vec<String> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Put { fact, .. } if !known.contains_key(fact.text.as_str()) => {
                Some(fact.text.clone())
            }
            _ => None,
        })
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let embedded: HashMap<String, Vec<f32>> = missing
        .iter()
        .cloned()
        .zip(memory.embed(missing.clone()).await?)
        .collect();

    let mut changes = FactChanges::default();
    for write in writes {
        match write {
            Write::Put { fact, event } => {
                let Some(vector) = known
                    .get(fact.text.as_str())
                    .copied()
                    .or_else(|| embedded.get(&fact.text))
                else {
                    return Err(
                        EmbedError::Inference(format!("no vector for fact {}", fact.id)).into(),
                    );
                };
                memory.vectors.put_fact(&fact, vector, &event).await?;
                match event.event {
                    FactEventKind::Add => changes.added.push(fact),
                    _ => changes.updated.push(fact),
                }
            }
            Write::Delete { id, event } => {
                match memory.vectors.delete_fact(&episode.scope, id, &event).await {
                    Ok(()) => changes.deleted.push(id),
                    // Already gone (a resumed episode): the outcome is the same.
                    Err(StoreError::NotFound { .. }) => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
    }
    Ok(changes)
}

/// Undoes what the episode did to the scope's facts, newest event first; every change
/// leaves its own history row (with no episode). See the module doc for the rules.
pub(crate) async fn revert_facts(
    memory: &Memory,
    scope: &Scope,
    episode: EpisodeId,
) -> Result<(), MemoryError> {
    let events = memory
        .vectors
        .fact_events_of_episode(scope, episode)
        .await?;
    if events.is_empty() {
        return Ok(());
    }

    // The facts as stored, then as they should be once the episode is undone.
    let mut order = Vec::new();
    let mut stored: HashMap<FactId, Option<Fact>> = HashMap::new();
    for event in &events {
        if let Entry::Vacant(slot) = stored.entry(event.fact_id) {
            slot.insert(memory.vectors.fact(scope, event.fact_id).await?);
            order.push(event.fact_id);
        }
    }
    let mut wanted = stored.clone();
    let now = memory.now();
    for event in events.iter().rev() {
        let slot = wanted.entry(event.fact_id).or_default();
        match event.event {
            FactEventKind::Add => *slot = None,
            FactEventKind::Update | FactEventKind::None => {
                if let Some(fact) = slot {
                    if event.event == FactEventKind::Update
                        && event.new_text.as_deref() == Some(fact.text.as_str())
                        && let Some(old) = &event.old_text
                    {
                        fact.text = old.clone();
                    }
                    fact.episodes.retain(|e| *e != episode);
                }
            }
            FactEventKind::Delete => {
                if slot.is_none()
                    && let Some(old) = &event.old_text
                {
                    *slot = restored_fact(memory, scope, event.fact_id, old, episode, now).await?;
                }
            }
        }
    }

    let revert_event = |fact_id, event, old_text, new_text| FactEvent {
        fact_id,
        event,
        old_text,
        new_text,
        at: now,
        episode: None,
    };
    let mut puts = Vec::new();
    for id in order {
        let before = stored.remove(&id).flatten();
        let after = wanted.remove(&id).flatten();
        match (before, after) {
            (Some(before), None) => {
                let event = revert_event(id, FactEventKind::Delete, Some(before.text), None);
                match memory.vectors.delete_fact(scope, id, &event).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            (None, Some(mut after)) => {
                after.updated_at = now;
                let event = revert_event(id, FactEventKind::Add, None, Some(after.text.clone()));
                puts.push((after, event));
            }
            (Some(before), Some(mut after)) if before != after => {
                after.updated_at = now;
                let event = revert_event(
                    id,
                    FactEventKind::Update,
                    Some(before.text),
                    Some(after.text.clone()),
                );
                puts.push((after, event));
            }
            _ => {}
        }
    }
    let vectors = memory
        .embed(puts.iter().map(|(fact, _)| fact.text.clone()).collect())
        .await?;
    for ((fact, event), vector) in puts.iter().zip(&vectors) {
        memory.vectors.put_fact(fact, vector, event).await?;
    }
    Ok(())
}

/// The fact a reverted DELETE removed, rebuilt from its history: created when it was first
/// added, with the metadata of the episode that added it. `None` when that episode was
/// deleted (the fact's origin is gone, so it stays deleted).
async fn restored_fact(
    memory: &Memory,
    scope: &Scope,
    id: FactId,
    text: &str,
    reverted: EpisodeId,
    now: Timestamp,
) -> Result<Option<Fact>, MemoryError> {
    let history = memory.vectors.fact_history(scope, id).await?;
    let origin = history.iter().find(|e| e.event == FactEventKind::Add);
    let mut metadata = serde_json::Value::Object(serde_json::Map::new());
    if let Some(adder) = origin.and_then(|e| e.episode) {
        match memory.graph.episode(adder).await? {
            Some(added_by) => metadata = serde_json::Value::Object(base_metadata(&added_by)),
            None => return Ok(None),
        }
    }
    let mut episodes = Vec::new();
    for event in &history {
        if let Some(e) = event.episode
            && e != reverted
            && matches!(event.event, FactEventKind::Add | FactEventKind::Update)
            && !episodes.contains(&e)
        {
            episodes.push(e);
        }
    }
    Ok(Some(Fact {
        id,
        scope: scope.clone(),
        text: text.to_owned(),
        metadata,
        created_at: origin.map_or(now, |e| e.at),
        updated_at: now,
        episodes,
    }))
}

/// The metadata a fact of the episode starts with: the episode's metadata object.
pub(crate) fn base_metadata(episode: &Episode) -> serde_json::Map<String, serde_json::Value> {
    match &episode.metadata {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    }
}
