//! The graph path: extraction (two LLM calls), entity resolution, conflict detection
//! (rules first, then one batched LLM call) and the episode's graph ops.
//!
//! Planning never writes; [`GraphPlan`] holds every op of the episode so it is applied
//! in one transaction.

use std::collections::{HashMap, HashSet};

use super::timeline::{self, TimelineKey};
use crate::engine::Reader;
use crate::llm::{
    ConflictDecision, ConflictVerdict, ConflictsInput, ExtractionInput, KnownEntity,
    RelationsInput, TripletText,
};
use crate::ontology::Cardinality;
use crate::ports::{RelationQuery, WriteOp};
use crate::{
    Entity, EntityId, EntityType, Episode, LlmUsage, MemoryError, Relation, RelationId,
    RelationTimes, RelationType, Scope, StatedEnd, Timestamp, Visibility, normalize_name,
};

/// Most conflict candidates looked at per new triplet (newest first); a hub entity must
/// not turn one add into a huge prompt.
const MAX_CANDIDATES_PER_TRIPLET: usize = 20;
/// How many nearest entities are compared with a new name.
const ENTITY_VECTOR_CANDIDATES: usize = 3;
/// First-person words the extractor should already have mapped to the user, and the
/// words small models write for the user despite being given the name.
const FIRST_PERSON: &[&str] = &["i", "me", "my", "myself", "mine", "user", "the user"];
/// The words small models write for the agent despite being given its name.
const AGENT_WORDS: &[&str] = &["assistant", "the assistant"];
/// Type given to an entity a relation names that the extractor did not list.
const FALLBACK_ENTITY_TYPE: &str = "Concept";

/// One end of a triplet as stated: a name and, when known, a type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NamedEntity {
    pub display: String,
    pub entity_type: Option<EntityType>,
}

/// A triplet to apply, from the relationship generator or from a request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TripletIn {
    pub source: NamedEntity,
    pub relation_type: RelationType,
    pub target: NamedEntity,
    pub fact: String,
    pub valid_from: Option<Timestamp>,
    pub valid_to: Option<Timestamp>,
}

/// Everything the episode will do to the graph, with what to report and mirror.
#[derive(Debug, Default)]
pub(crate) struct GraphPlan {
    pub ops: Vec<WriteOp>,
    pub added: Vec<RelationId>,
    pub updated: Vec<RelationId>,
    pub invalidated: Vec<RelationId>,
    pub retracted: Vec<RelationId>,
    pub skipped: Vec<super::SkippedTriplet>,
    pub usage: LlmUsage,
}

/// Steps 2-3 of §3: entities, then relations, by the LLM. Entities that are close to, but
/// not surely, a known one are shown to the relationship generator, which may reuse the
/// known name (the "LLM only when ambiguous" of entity resolution, without an extra call).
pub(crate) async fn extract_triplets(
    reader: Reader<'_>,
    episode: &Episode,
    input: &ExtractionInput,
    names: &mut NameVectors,
) -> Result<(Vec<TripletIn>, LlmUsage), MemoryError> {
    let llm = reader.llm()?;
    let mut usage = LlmUsage::default();
    let entities = match llm.extract_entities(input).await {
        Ok(answer) => {
            usage += answer.usage;
            answer.value
        }
        Err(err) => return Err(MemoryError::Llm(err.with_extra_usage(usage))),
    };
    if entities.is_empty() {
        return Ok((Vec::new(), usage));
    }

    let known_entities = ambiguous_candidates(reader, &episode.scope, &entities, names).await?;
    let relations_input = RelationsInput {
        speakers: input.speakers.clone(),
        messages: input.messages.clone(),
        entities: entities.clone(),
        known_entities: known_entities.clone(),
        relation_types: reader.ontology.relation_hints(),
    };
    let relations = match llm.establish_relations(&relations_input).await {
        Ok(answer) => {
            usage += answer.usage;
            answer.value
        }
        Err(err) => return Err(MemoryError::Llm(err.with_extra_usage(usage))),
    };
    // The verbs a model prefers (MOVED_TO, MOVED_FROM) in the ontology's timeless types.
    let relations = relations
        .into_iter()
        .map(|r| reader.ontology.normalize(r, episode.occurred_at));

    let type_of = |name: &str| -> Option<EntityType> {
        let key = normalize_name(name).ok()?;
        entities
            .iter()
            .map(|e| (&e.name, &e.entity_type))
            .chain(known_entities.iter().map(|e| (&e.name, &e.entity_type)))
            .find(|(n, _)| normalize_name(n).ok().as_deref() == Some(key.as_str()))
            .map(|(_, t)| t.clone())
    };
    let stored = |t: &Timestamp| crate::time::check_stored("valid_from", t).is_ok();
    let triplets = relations
        .map(|r| TripletIn {
            source: NamedEntity {
                entity_type: type_of(&r.source),
                display: r.source,
            },
            relation_type: r.relation_type,
            target: NamedEntity {
                entity_type: type_of(&r.target),
                display: r.target,
            },
            fact: r.fact,
            // The adapter refuses dates outside the supported range; one that got through
            // anyway is dropped (unknown) here, so it can never reach the store.
            valid_from: r.valid_from.filter(stored),
            valid_to: r.valid_to.filter(stored),
        })
        .collect();
    Ok((triplets, usage))
}

/// Known entities an extracted name is close to without an exact match: shown to the
/// relationship generator so it can reuse the known name.
async fn ambiguous_candidates(
    reader: Reader<'_>,
    scope: &Scope,
    entities: &[crate::llm::ExtractedEntity],
    names: &mut NameVectors,
) -> Result<Vec<KnownEntity>, MemoryError> {
    let mut unmatched = Vec::new();
    for entity in entities {
        let Ok(key) = normalize_name(&entity.name) else {
            continue;
        };
        if reader.graph.entity_by_name(scope, &key).await?.is_none() {
            unmatched.push(entity.name.trim().to_owned());
        }
    }
    names.embed_missing(reader, &unmatched).await?;
    let mut known: Vec<KnownEntity> = Vec::new();
    for vector in unmatched.iter().filter_map(|name| names.get(name)) {
        let hits = reader
            .graph
            .search_entities_vector(scope, vector, ENTITY_VECTOR_CANDIDATES)
            .await?;
        for hit in hits {
            if hit.score >= reader.settings.entity_candidate_threshold
                && !known.iter().any(|k| k.name == hit.item.display_name)
            {
                known.push(KnownEntity {
                    name: hit.item.display_name,
                    entity_type: hit.item.entity_type,
                });
            }
        }
    }
    Ok(known)
}

/// Name embeddings (and, for `infer: false`, message texts) computed during one episode, so
/// each text is embedded once, and the texts of one step go to the embedder in one call.
#[derive(Debug, Default)]
pub(crate) struct NameVectors {
    by_display: HashMap<String, Vec<f32>>,
}

impl NameVectors {
    pub(crate) fn get(&self, display: &str) -> Option<&Vec<f32>> {
        self.by_display.get(display)
    }

    /// The vectors of `displays`, in order, embedding the ones not known yet.
    pub(crate) async fn of(
        &mut self,
        reader: Reader<'_>,
        displays: &[String],
    ) -> Result<Vec<Vec<f32>>, MemoryError> {
        self.embed_missing(reader, displays).await?;
        Ok(displays
            .iter()
            .map(|d| self.by_display.get(d).cloned().unwrap_or_default())
            .collect())
    }

    pub(crate) async fn embed_missing(
        &mut self,
        reader: Reader<'_>,
        displays: &[String],
    ) -> Result<(), MemoryError> {
        let mut missing: Vec<String> = displays
            .iter()
            .filter(|d| !self.by_display.contains_key(*d))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        let vectors = reader.embed(missing.clone()).await?;
        self.by_display.extend(missing.into_iter().zip(vectors));
        Ok(())
    }
}

/// Steps 4-6 of §3 for a list of triplets: resolve entities, find conflict candidates,
/// decide (rules, then one LLM call when an LLM is configured) and plan the ops.
pub(crate) async fn plan_triplets(
    reader: Reader<'_>,
    episode: &Episode,
    triplets: Vec<TripletIn>,
    names: &mut NameVectors,
) -> Result<GraphPlan, MemoryError> {
    let scope = &episode.scope;
    let now = reader.now();
    let mut plan = GraphPlan::default();
    if triplets.is_empty() {
        return Ok(plan);
    }

    let mut resolver = EntityResolver::new(reader, episode, now, names);
    resolver.prepare(&triplets).await?;
    let mut new_relations: Vec<Relation> = Vec::new();
    for triplet in triplets {
        let source = resolver.resolve(&triplet.source).await?;
        let target = resolver.resolve(&triplet.target).await?;
        if source == target {
            // "Alice KNOWS Alice": a self-loop is an extraction slip, not knowledge.
            plan.skipped.push(super::SkippedTriplet {
                source: triplet.source.display.clone(),
                relation: triplet.relation_type.as_str().to_owned(),
                target: triplet.target.display.clone(),
                reason: "source and target are the same entity".to_owned(),
            });
            continue;
        }
        // No start stated: it holds from the conversation on, unless it is stated to have
        // ended by then ("I lived in Paris until 2020"), when its start is unknown.
        let valid_from = triplet.valid_from.or(match triplet.valid_to {
            Some(to) if to <= episode.occurred_at => None,
            _ => Some(episode.occurred_at),
        });
        let valid_to = triplet
            .valid_to
            .filter(|to| valid_from.is_none_or(|f| f < *to));
        let relation = Relation {
            id: RelationId::new(),
            scope: scope.clone(),
            source,
            relation_type: triplet.relation_type,
            target,
            fact: triplet.fact,
            times: RelationTimes {
                valid_from,
                valid_to,
                recorded_at: now,
                invalidated_at: None,
                retracted_at: None,
            },
            invalidated_by: None,
            invalidated_in: None,
            episodes: vec![episode.id],
            mentions: 1,
            // Known ended when recorded; a cut below (`timeline.rs`, or a `superseded`
            // verdict on an older fact) changes `valid_to`, never this.
            stated_end: valid_to.map(|valid_to| StatedEnd {
                valid_to,
                invalidated_at: None,
                episode: None,
            }),
        };
        // The same triplet twice in one episode is one statement.
        if !new_relations.iter().any(|r| same_statement(r, &relation)) {
            new_relations.push(relation);
        }
    }

    let candidates = conflict_candidates(reader, scope, &new_relations).await?;
    resolver
        .learn_names(candidates.iter().flat_map(|r| [r.source, r.target]))
        .await?;
    let mut decisions = Decisions::default();
    let mut for_llm: Vec<(usize, usize)> = Vec::new();
    for (new_index, new) in new_relations.iter().enumerate() {
        for (existing_index, existing) in candidates.iter().enumerate() {
            if existing.source != new.source {
                continue;
            }
            let same_pair = existing.target == new.target;
            let same_type = existing.relation_type == new.relation_type;
            if !(same_pair || same_type) {
                continue;
            }
            match rule_verdict(reader, existing, new) {
                Some(verdict) => decisions.record(existing_index, new_index, verdict),
                None => for_llm.push((existing_index, new_index)),
            }
        }
    }

    if !for_llm.is_empty()
        && let Ok(llm) = reader.llm()
    {
        let (input, existing_ids, new_ids) =
            conflicts_input(episode, &candidates, &new_relations, &for_llm, &resolver);
        let asked: HashSet<(usize, usize)> = for_llm.iter().copied().collect();
        match llm.resolve_conflicts(&input).await {
            Ok(answer) => {
                plan.usage += answer.usage;
                for ConflictDecision {
                    existing,
                    new,
                    verdict,
                } in answer.value
                {
                    let pair = (existing_ids[existing], new_ids[new]);
                    // Only pairs we asked about count: the model cannot pair a relation
                    // with one of another entity.
                    if asked.contains(&pair) {
                        // On a single-valued type the timeline decides what ends.
                        let verdict = match verdict {
                            ConflictVerdict::Superseded
                                if reader
                                    .ontology
                                    .cardinality(&new_relations[pair.1].relation_type)
                                    == Cardinality::One =>
                            {
                                ConflictVerdict::Unrelated
                            }
                            other => other,
                        };
                        decisions.record(pair.0, pair.1, verdict);
                    }
                }
            }
            Err(err) => return Err(MemoryError::Llm(err.with_extra_usage(plan.usage))),
        }
    }

    // Entities first: relations refer to them.
    plan.ops.extend(resolver.into_ops());
    apply_decisions(
        &mut plan,
        episode,
        now,
        &candidates,
        new_relations,
        &decisions,
    );
    place_timelines(reader, scope, &candidates, &mut plan).await?;
    Ok(plan)
}

/// Recomputes every single-valued timeline the plan adds to or retracts from, with the
/// plan's ops played on it, and appends the ops that put each member in its place.
async fn place_timelines(
    reader: Reader<'_>,
    scope: &Scope,
    candidates: &[Relation],
    plan: &mut GraphPlan,
) -> Result<(), MemoryError> {
    let single = |r: &Relation| reader.ontology.cardinality(&r.relation_type) == Cardinality::One;
    let mut keys: Vec<TimelineKey> = Vec::new();
    for op in &plan.ops {
        let relation = match op {
            WriteOp::AddRelation(r) => Some(r),
            WriteOp::RetractRelation { relation, .. } => {
                candidates.iter().find(|c| c.id == *relation)
            }
            _ => None,
        };
        if let Some(r) = relation.filter(|r| single(r)) {
            let key = (r.source, r.relation_type.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    for key in keys {
        let mut members = timeline::load(reader, scope, &key).await?;
        timeline::overlay(&mut members, &key, &plan.ops);
        let ops = timeline::place(reader, scope, &members, &mut plan.ops).await?;
        for op in ops {
            if let WriteOp::EndRelation { relation, .. } | WriteOp::RestoreRelation { relation, .. } =
                &op
                && !plan.invalidated.contains(relation)
            {
                plan.invalidated.push(*relation);
            }
            plan.ops.push(op);
        }
    }
    Ok(())
}

/// Same source, type, target and fact.
fn same_statement(a: &Relation, b: &Relation) -> bool {
    a.source == b.source
        && a.relation_type == b.relation_type
        && a.target == b.target
        && crate::text::same_text_key(&a.fact) == crate::text::same_text_key(&b.fact)
}

/// The verdicts decided without an LLM; `None` = ask the LLM.
fn rule_verdict(
    reader: Reader<'_>,
    existing: &Relation,
    new: &Relation,
) -> Option<ConflictVerdict> {
    let same_triplet = existing.relation_type == new.relation_type && existing.target == new.target;
    let single = reader.ontology.cardinality(&new.relation_type) == Cardinality::One;
    if same_triplet && single && new.times.valid_from < existing.times.valid_from {
        // An earlier stint at the same target: a member of its own in the timeline.
        return Some(ConflictVerdict::Unrelated);
    }
    if same_triplet {
        if crate::text::same_text_key(&existing.fact) == crate::text::same_text_key(&new.fact) {
            return Some(ConflictVerdict::Duplicate);
        }
        // Same triplet in other words: a restatement or a denial; the LLM tells which.
        return None;
    }
    if existing.relation_type == new.relation_type
        && reader.ontology.cardinality(&new.relation_type) == Cardinality::One
    {
        // Interval placement (`timeline.rs`) orders the single-valued timeline.
        return Some(ConflictVerdict::Unrelated);
    }
    None
}

/// The verdict per (existing, new) pair; the strongest wins when several apply.
#[derive(Default)]
struct Decisions {
    by_pair: HashMap<(usize, usize), ConflictVerdict>,
}

impl Decisions {
    fn record(&mut self, existing: usize, new: usize, verdict: ConflictVerdict) {
        let rank = |v: ConflictVerdict| match v {
            ConflictVerdict::Retracted => 3,
            ConflictVerdict::Superseded => 2,
            ConflictVerdict::Duplicate => 1,
            ConflictVerdict::Unrelated => 0,
        };
        let slot = self.by_pair.entry((existing, new)).or_insert(verdict);
        if rank(verdict) > rank(*slot) {
            *slot = verdict;
        }
    }

    fn for_new(&self, new: usize) -> Vec<(usize, ConflictVerdict)> {
        let mut pairs: Vec<_> = self
            .by_pair
            .iter()
            .filter(|((_, n), _)| *n == new)
            .map(|((e, _), v)| (*e, *v))
            .collect();
        pairs.sort_by_key(|(e, _)| *e);
        pairs
    }
}

/// Visible relations (now) leaving each new relation's source entity: the only relations
/// a new one can conflict with. Uses the adjacency index, never a scan of the scope.
async fn conflict_candidates(
    reader: Reader<'_>,
    scope: &Scope,
    new_relations: &[Relation],
) -> Result<Vec<Relation>, MemoryError> {
    let now = Visibility::at(reader.now());
    let mut seen: HashSet<RelationId> = HashSet::new();
    let mut candidates = Vec::new();
    let mut queried: HashSet<(EntityId, RelationType)> = HashSet::new();
    for new in new_relations {
        // Same source and type (e.g. the old LIVES_IN), newest capped.
        let mut found = Vec::new();
        if queried.insert((new.source, new.relation_type.clone())) {
            found = reader
                .graph
                .relations(
                    scope,
                    &RelationQuery {
                        entity: Some(new.source),
                        outgoing_only: true,
                        relation_type: Some(new.relation_type.clone()),
                        visible_at: Some(now),
                        limit: MAX_CANDIDATES_PER_TRIPLET,
                    },
                )
                .await?;
        }
        // Same source and target, any type: read from the target's side, because the
        // source is usually the scope's hub (the user) and the target is not.
        let mut same_pair = reader
            .graph
            .relations(
                scope,
                &RelationQuery {
                    entity: Some(new.target),
                    outgoing_only: false,
                    relation_type: None,
                    visible_at: Some(now),
                    limit: usize::MAX,
                },
            )
            .await?;
        same_pair.retain(|r| r.source == new.source && r.target == new.target);
        same_pair.truncate(MAX_CANDIDATES_PER_TRIPLET);
        for relation in found.into_iter().chain(same_pair) {
            if seen.insert(relation.id) {
                candidates.push(relation);
            }
        }
    }
    Ok(candidates)
}

/// The `resolve_conflicts` input for the pairs the rules left open, with the maps from
/// the small ids the model sees back to candidate / new-relation indexes.
fn conflicts_input(
    episode: &Episode,
    candidates: &[Relation],
    new_relations: &[Relation],
    pairs: &[(usize, usize)],
    resolver: &EntityResolver<'_>,
) -> (ConflictsInput, Vec<usize>, Vec<usize>) {
    let mut existing_ids: Vec<usize> = pairs.iter().map(|(e, _)| *e).collect();
    existing_ids.sort_unstable();
    existing_ids.dedup();
    let mut new_ids: Vec<usize> = pairs.iter().map(|(_, n)| *n).collect();
    new_ids.sort_unstable();
    new_ids.dedup();
    let text = |r: &Relation| TripletText {
        source: resolver.display_name(r.source),
        relation_type: r.relation_type.clone(),
        target: resolver.display_name(r.target),
        fact: r.fact.clone(),
        valid_from: r.times.valid_from,
        valid_to: r.times.valid_to,
    };
    let input = ConflictsInput {
        occurred_at: episode.occurred_at,
        existing: existing_ids.iter().map(|&i| text(&candidates[i])).collect(),
        new: new_ids.iter().map(|&i| text(&new_relations[i])).collect(),
    };
    (input, existing_ids, new_ids)
}

/// Step 6: turn verdicts into ops. Per new relation:
/// - `retracted` ends nothing but marks the existing never-true; a new relation that is
///   the same triplet as what it retracts is the denial itself and is not added;
/// - `duplicate` adds provenance to the existing one instead of adding the new one; a
///   restatement that carries an end date closes the existing one instead;
/// - `superseded` ends the existing one at the new one's start, unless the new one
///   started earlier (a late-arriving older fact): then the new one is stored already
///   ended at the existing one's start and the existing one is untouched.
fn apply_decisions(
    plan: &mut GraphPlan,
    episode: &Episode,
    now: Timestamp,
    candidates: &[Relation],
    new_relations: Vec<Relation>,
    decisions: &Decisions,
) {
    let mut touched: HashSet<RelationId> = HashSet::new();
    for (new_index, mut new) in new_relations.into_iter().enumerate() {
        let mut add_new = true;
        for (existing_index, verdict) in decisions.for_new(new_index) {
            let existing = &candidates[existing_index];
            let same_triplet =
                existing.relation_type == new.relation_type && existing.target == new.target;
            match verdict {
                ConflictVerdict::Unrelated => {}
                ConflictVerdict::Retracted => {
                    if same_triplet {
                        add_new = false;
                    }
                    if touched.insert(existing.id) {
                        plan.ops.push(WriteOp::RetractRelation {
                            relation: existing.id,
                            retracted_at: now,
                            episode: Some(episode.id),
                        });
                        plan.retracted.push(existing.id);
                    }
                }
                ConflictVerdict::Duplicate => {
                    add_new = false;
                    if !touched.insert(existing.id) {
                        continue;
                    }
                    plan.ops.push(WriteOp::AddProvenance {
                        relation: existing.id,
                        episode: episode.id,
                    });
                    match new.times.valid_to {
                        // "I lived in Boston until 2024" about the current Boston: its
                        // own end from now on, kept if a successor later cuts it.
                        Some(valid_to) if existing.times.valid_to.is_none() => {
                            plan.ops.push(WriteOp::EndRelation {
                                relation: existing.id,
                                valid_to,
                                invalidated_at: Some(now),
                                invalidated_by: None,
                                episode: Some(episode.id),
                            });
                            plan.ops.push(WriteOp::SetStatedEnd {
                                relation: existing.id,
                                stated_end: Some(StatedEnd {
                                    valid_to,
                                    invalidated_at: Some(now),
                                    episode: Some(episode.id),
                                }),
                            });
                            plan.invalidated.push(existing.id);
                        }
                        _ => plan.updated.push(existing.id),
                    }
                }
                ConflictVerdict::Superseded => {
                    let new_start = new.times.valid_from.unwrap_or(episode.occurred_at);
                    let existing_start = existing.times.valid_from;
                    if existing_start.is_some_and(|start| new_start < start) {
                        // Late-arriving older fact: it ended when the existing one began.
                        let end = existing_start.expect("checked");
                        if new.times.valid_to.is_none_or(|to| to > end) {
                            new.times.valid_to = Some(end);
                            new.invalidated_by = Some(existing.id);
                        }
                    } else if touched.insert(existing.id) {
                        plan.ops.push(WriteOp::EndRelation {
                            relation: existing.id,
                            valid_to: new_start,
                            invalidated_at: Some(now),
                            invalidated_by: Some(new.id),
                            episode: Some(episode.id),
                        });
                        plan.invalidated.push(existing.id);
                    }
                }
            }
        }
        if add_new {
            plan.added.push(new.id);
            plan.ops.push(WriteOp::AddRelation(new));
        }
    }
}

/// Maps names to entities of the scope: exact name or alias, then the nearest entity of
/// the same type above the match threshold, else a new entity. Remembers what it
/// created or changed, so the ops carry each entity once.
struct EntityResolver<'a> {
    reader: Reader<'a>,
    episode: &'a Episode,
    now: Timestamp,
    vectors: &'a mut NameVectors,
    /// Normalised name → entity id, for names seen in this episode.
    by_key: HashMap<String, EntityId>,
    /// Entities to upsert (new ones, and known ones with more mentions or an alias).
    changed: HashMap<EntityId, Entity>,
    /// Display names of every entity met, for conflict prompts.
    names: HashMap<EntityId, String>,
    order: Vec<EntityId>,
    /// Aliases this episode gave known entities (kept if the entity still has them).
    added_aliases: Vec<(EntityId, String)>,
}

impl<'a> EntityResolver<'a> {
    fn new(
        reader: Reader<'a>,
        episode: &'a Episode,
        now: Timestamp,
        vectors: &'a mut NameVectors,
    ) -> Self {
        EntityResolver {
            reader,
            episode,
            now,
            vectors,
            by_key: HashMap::new(),
            changed: HashMap::new(),
            names: HashMap::new(),
            order: Vec::new(),
            added_aliases: Vec::new(),
        }
    }

    /// The display form of a stated name ("I", "user" → the user; "assistant" → the agent).
    fn display_of(&self, named: &NamedEntity) -> String {
        let display = named.display.trim();
        let lower = display.to_lowercase();
        if FIRST_PERSON.contains(&lower.as_str())
            && let Some(user) = self.episode.scope.user_id()
        {
            return user.to_owned();
        }
        if AGENT_WORDS.contains(&lower.as_str())
            && let Some(agent) = self.episode.scope.agent_id()
        {
            return agent.to_owned();
        }
        display.to_owned()
    }

    /// Embeds, in one call, every name of the triplets that has no exact match.
    async fn prepare(&mut self, triplets: &[TripletIn]) -> Result<(), MemoryError> {
        let mut unknown = Vec::new();
        for named in triplets.iter().flat_map(|t| [&t.source, &t.target]) {
            let display = self.display_of(named);
            let key = normalize_name(&display)?;
            if self
                .reader
                .graph
                .entity_by_name(&self.episode.scope, &key)
                .await?
                .is_none()
            {
                unknown.push(display);
            }
        }
        self.vectors.embed_missing(self.reader, &unknown).await
    }

    /// Loads display names of entities met through conflict candidates.
    async fn learn_names(
        &mut self,
        ids: impl Iterator<Item = EntityId>,
    ) -> Result<(), MemoryError> {
        for id in ids {
            if self.names.contains_key(&id) {
                continue;
            }
            if let Some(entity) = self.reader.graph.entity(&self.episode.scope, id).await? {
                self.names.insert(id, entity.display_name);
            }
        }
        Ok(())
    }

    fn display_name(&self, id: EntityId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    async fn resolve(&mut self, named: &NamedEntity) -> Result<EntityId, MemoryError> {
        let scope = &self.episode.scope;
        let display = self.display_of(named);
        let key = normalize_name(&display)?;
        if let Some(id) = self.by_key.get(&key) {
            return Ok(*id);
        }
        let mut found = self.reader.graph.entity_by_name(scope, &key).await?;
        let mut vector = None;
        if found.is_none() {
            self.vectors
                .embed_missing(self.reader, std::slice::from_ref(&display))
                .await?;
            let v = self.vectors.get(&display).cloned().unwrap_or_default();
            let hits = self
                .reader
                .graph
                .search_entities_vector(scope, &v, ENTITY_VECTOR_CANDIDATES)
                .await?;
            let settings = self.reader.settings;
            found = hits
                .into_iter()
                .filter(|hit| {
                    let known = &hit.item.display_name;
                    // An embedding says nothing about "Room 101" versus "Room 102"; and
                    // one name written two ways ("Dr. Ana Silva") is the same entity on a
                    // weaker match than a look-alike needs.
                    (hit.score >= settings.entity_match_threshold
                        && crate::identity::may_merge(&display, known))
                        || (hit.score >= settings.entity_candidate_threshold
                            && crate::identity::same_name(&display, known))
                })
                .find(|hit| {
                    named
                        .entity_type
                        .as_ref()
                        .is_none_or(|t| *t == hit.item.entity_type)
                })
                .map(|hit| hit.item);
            if let Some(entity) = &mut found {
                // Next time this spelling resolves exactly.
                if !entity.aliases.contains(&key) && entity.name != key {
                    entity.aliases.push(key.clone());
                    self.added_aliases.push((entity.id, key.clone()));
                }
            }
            vector = Some(v);
        }
        let entity = match found {
            Some(mut entity) => {
                if let Some(seen) = self.changed.get(&entity.id) {
                    entity = seen.clone();
                } else {
                    entity.mentions = entity.mentions.saturating_add(1);
                    entity.updated_at = self.now;
                }
                entity
            }
            None => {
                let entity_type = match &named.entity_type {
                    Some(t) => t.clone(),
                    None => EntityType::parse(FALLBACK_ENTITY_TYPE)?,
                };
                Entity {
                    id: EntityId::new(),
                    scope: scope.clone(),
                    name: key.clone(),
                    display_name: display.clone(),
                    entity_type,
                    aliases: Vec::new(),
                    embedding: vector.unwrap_or_default(),
                    mentions: 1,
                    created_at: self.now,
                    updated_at: self.now,
                }
            }
        };
        let id = entity.id;
        self.by_key.insert(key, id);
        self.names.insert(id, entity.display_name.clone());
        if !self.changed.contains_key(&id) {
            self.order.push(id);
        }
        self.changed.insert(id, entity);
        Ok(id)
    }

    /// Upserts and mentions, in first-seen order.
    fn into_ops(mut self) -> Vec<WriteOp> {
        let episode = self.episode.id;
        let mut ops = Vec::with_capacity(self.order.len() * 2);
        for id in &self.order {
            if let Some(entity) = self.changed.remove(id) {
                let aliases: Vec<String> = self
                    .added_aliases
                    .iter()
                    .filter(|(of, alias)| of == id && entity.aliases.contains(alias))
                    .map(|(_, alias)| alias.clone())
                    .collect();
                ops.push(WriteOp::UpsertEntity(entity));
                ops.push(WriteOp::Mention {
                    episode,
                    entity: *id,
                });
                for alias in aliases {
                    ops.push(WriteOp::RecordAlias {
                        episode,
                        entity: *id,
                        alias,
                    });
                }
            }
        }
        ops
    }
}
