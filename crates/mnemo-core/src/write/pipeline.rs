//! The add pipelines on [`Memory`]: journal, plan (LLM calls, no writes), apply, mirror,
//! finish; plus resuming pending episodes and reverting an episode.

use std::collections::HashSet;

use super::graph::{self, GraphPlan, NameVectors, TripletIn};
use super::{
    AddOutcome, AddRequest, FactChanges, Journal, Journaled, RelationChanges, RelationsRequest,
    extraction_input, facts, plain,
};
use crate::llm::LlmError;
use crate::ports::{EpisodeInsert, RelationVector, WriteOp};
use crate::{
    Episode, EpisodeId, EpisodeStatus, LlmUsage, Memory, MemoryError, Relation, RelationTimes,
    Scope,
};

/// How many pending episodes are loaded at a time when resuming.
const RESUME_BATCH: usize = 64;

/// The graph path and facts path outcomes of one episode before anything is written.
struct Plans {
    graph: GraphPlan,
    facts: Option<facts::FactsPlan>,
    /// The texts embedded on the way (names, and the extracted relations' facts), so the
    /// relation vectors need no model run under the lock.
    names: NameVectors,
}

/// What the LLM read from an episode's messages before the scope's write lock: triplets
/// (with the name embeddings computed on the way) and fact texts. None of it depends on
/// what the scope holds, only shown to the LLM as context, so it stays valid whatever
/// other writes happen meanwhile.
struct Extracted {
    triplets: Vec<TripletIn>,
    names: NameVectors,
    facts: Option<Vec<String>>,
    usage: LlmUsage,
}

impl Memory {
    /// `POST /v1/memories` with `wait=true`: journal the messages, then process them.
    pub async fn add(&self, request: AddRequest) -> Result<AddOutcome, MemoryError> {
        match self.journal(request).await? {
            Journaled::New(episode) => self.process_episode(episode).await,
            Journaled::Duplicate(episode) => Ok(AddOutcome::duplicate(&episode)),
        }
    }

    /// Validates and journals the messages as a `pending` episode, without processing it
    /// (`wait=false`: the caller runs [`Memory::process_episode`] in the background).
    pub async fn journal(&self, mut request: AddRequest) -> Result<Journaled, MemoryError> {
        request.validate()?;
        if request.infer && self.llm.is_none() {
            return Err(MemoryError::LlmNotConfigured);
        }
        let journal = Journal::Messages {
            messages: request.messages,
            infer: request.infer,
        };
        self.insert_episode(
            request.scope,
            journal,
            request.occurred_at,
            request.metadata,
            request.idempotency_key,
        )
        .await
    }

    /// `POST /v1/relations`: typed triplets, no extraction; resolution and conflict rules
    /// apply (the LLM only for conflicts the rules leave open, and only when configured).
    pub async fn add_relations(
        &self,
        mut request: RelationsRequest,
    ) -> Result<AddOutcome, MemoryError> {
        request.validate()?;
        let journal = Journal::Relations {
            relations: request.relations,
        };
        let journaled = self
            .insert_episode(
                request.scope,
                journal,
                request.occurred_at,
                request.metadata,
                request.idempotency_key,
            )
            .await?;
        match journaled {
            Journaled::New(episode) => self.process_episode(episode).await,
            Journaled::Duplicate(episode) => Ok(AddOutcome::duplicate(&episode)),
        }
    }

    async fn insert_episode(
        &self,
        scope: Scope,
        journal: Journal,
        occurred_at: Option<crate::Timestamp>,
        metadata: serde_json::Value,
        idempotency_key: Option<String>,
    ) -> Result<Journaled, MemoryError> {
        let now = self.now();
        let episode = Episode {
            id: EpisodeId::new(),
            scope,
            content: journal.write(),
            occurred_at: occurred_at.unwrap_or(now),
            ingested_at: now,
            status: EpisodeStatus::Pending,
            idempotency_key,
            metadata,
            llm_usage: LlmUsage::default(),
        };
        Ok(match self.graph.insert_episode(&episode).await? {
            EpisodeInsert::Inserted => Journaled::New(episode),
            EpisodeInsert::Duplicate(existing) => Journaled::Duplicate(*existing),
        })
    }

    /// Runs a journaled episode to `done` or `failed`. An LLM that cannot answer usably
    /// leaves the episode `failed` with the reason and nothing applied (`Ok` with that
    /// status); a store or embedder error leaves it `pending` for [`Memory::resume_pending`]
    /// and is returned.
    pub async fn process_episode(&self, episode: Episode) -> Result<AddOutcome, MemoryError> {
        let journal = match Journal::read(&episode) {
            Ok(journal) => journal,
            Err(err) => return self.fail_unreadable(&episode, err).await,
        };
        let infer = matches!(journal, Journal::Messages { infer: true, .. });
        if infer && self.llm.is_none() {
            return Err(MemoryError::LlmNotConfigured);
        }
        // The extraction calls (the slowest part of an add) run before the scope's write
        // lock, so concurrent adds to one scope overlap them; only the steps that read
        // what the scope holds (resolution, conflicts, fact updates) run under it. An
        // episode already done, or with its graph ops applied, needs no extraction.
        let extracted = if infer && self.needs_planning(&episode).await? {
            Some(self.extract_messages(&episode).await)
        } else {
            None
        };
        // `infer: false` embeds its texts before the lock for the same reason: under it,
        // an add only reads and writes.
        let embedded = match &journal {
            Journal::Messages {
                messages,
                infer: false,
            } => plain::embed_ahead(self, &episode.scope, messages).await?,
            _ => NameVectors::default(),
        };
        let _guard = self.lock_scope(&episode.scope).await;
        // Another worker may have finished it while we waited for the lock.
        let Some(current) = self.graph.episode(episode.id).await? else {
            return Err(MemoryError::NotFound {
                kind: "episode",
                id: episode.id.to_string(),
            });
        };
        if current.status != EpisodeStatus::Pending {
            return Ok(AddOutcome::unchanged(&current));
        }
        let footprint = self
            .graph
            .episode_footprint(&episode.scope, episode.id)
            .await?;
        if !footprint.stated.is_empty() || !footprint.ended.is_empty() {
            return self.reconcile(episode, footprint).await;
        }

        let plans = match journal {
            Journal::Messages {
                messages,
                infer: false,
            } => {
                // The facts in one write, then the links and `done` in one transaction.
                let (facts, links) = plain::add_plain(self, &episode, &messages, embedded).await?;
                let relations = Default::default();
                return self
                    .mark_done(&episode, links, relations, facts, LlmUsage::default())
                    .await;
            }
            Journal::Messages { infer: true, .. } => {
                // A crash after the fact writes but before the graph apply: undo those
                // writes so planning again does not apply them twice (one indexed read
                // when there are none).
                facts::revert_facts(self, &episode.scope, episode.id).await?;
                let extracted = match extracted {
                    Some(extracted) => extracted,
                    // Its footprint emptied while we waited (a revert): extract now.
                    None => self.extract_messages(&episode).await,
                };
                match extracted {
                    Ok(extracted) => self.plan_extracted(&episode, extracted).await,
                    Err(err) => Err(err),
                }
            }
            Journal::Relations { relations } => {
                let triplets = match relations
                    .into_iter()
                    .map(|r| r.into_triplet())
                    .collect::<Result<Vec<TripletIn>, _>>()
                {
                    Ok(triplets) => triplets,
                    // Journaled before a validation rule changed: it can never be applied.
                    Err(err) => return self.fail_unreadable(&episode, err.into()).await,
                };
                let mut names = NameVectors::default();
                graph::plan_triplets(self.reader(), &episode, triplets, &mut names)
                    .await
                    .map(|graph| Plans {
                        graph,
                        facts: None,
                        names,
                    })
            }
        };
        let plans = match plans {
            Ok(plans) => plans,
            Err(MemoryError::Llm(err)) => return self.fail(&episode, err).await,
            Err(other) => return Err(other),
        };
        let usage = plans.usage();
        let facts = match plans.facts {
            Some(plan) => facts::apply_facts(self, &episode, plan).await?,
            None => FactChanges::default(),
        };
        self.finish(&episode, plans.graph, facts, usage, plans.names)
            .await
    }

    /// Whether the episode may still need planning: still `pending` and none of its graph
    /// ops applied. A hint read without the lock (saves the extraction calls for an
    /// episode another worker finished); the lock holder checks again.
    async fn needs_planning(&self, episode: &Episode) -> Result<bool, MemoryError> {
        let pending = self
            .graph
            .episode(episode.id)
            .await?
            .is_some_and(|e| e.status == EpisodeStatus::Pending);
        if !pending {
            return Ok(false);
        }
        let footprint = self
            .graph
            .episode_footprint(&episode.scope, episode.id)
            .await?;
        Ok(footprint.stated.is_empty() && footprint.ended.is_empty())
    }

    /// The extraction half of an add (no lock, no write): the graph path's entities and
    /// relations and the facts path's fact texts, concurrently.
    async fn extract_messages(&self, episode: &Episode) -> Result<Extracted, MemoryError> {
        let input = extraction_input(self.reader(), episode).await?;
        let graph_path = async {
            let mut names = NameVectors::default();
            let (triplets, usage) =
                graph::extract_triplets(self.reader(), episode, &input, &mut names).await?;
            // The facts of the relations it may add, embedded now rather than under the
            // lock, where every model run holds up the scope's other adds.
            let facts: Vec<String> = triplets.iter().map(|t| t.fact.clone()).collect();
            names.embed_missing(self.reader(), &facts).await?;
            Ok::<_, MemoryError>((triplets, names, usage))
        };
        let facts_path = async {
            if self.settings.facts_enabled {
                facts::extract_facts(self.reader(), &input).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (graph, facts) = tokio::join!(graph_path, facts_path);
        match (graph, facts) {
            (Ok((triplets, names, mut usage)), Ok(facts)) => {
                let facts = facts.map(|(texts, facts_usage)| {
                    usage += facts_usage;
                    texts
                });
                Ok(Extracted {
                    triplets,
                    names,
                    facts,
                    usage,
                })
            }
            // Whichever failed, the other's spending counts too.
            (Err(err), Ok(facts)) => Err(add_usage(
                err,
                facts.map(|(_, usage)| usage).unwrap_or_default(),
            )),
            (Ok((_, _, usage)), Err(err)) => Err(add_usage(err, usage)),
            (Err(err), Err(_)) => Err(err),
        }
    }

    /// The planning half of an add, under the scope's write lock (it reads what the scope
    /// holds): entity resolution and conflicts for the triplets, fact updates for the fact
    /// texts, concurrently; no writes.
    async fn plan_extracted(
        &self,
        episode: &Episode,
        extracted: Extracted,
    ) -> Result<Plans, MemoryError> {
        let Extracted {
            triplets,
            mut names,
            facts,
            usage,
        } = extracted;
        let graph_path = graph::plan_triplets(self.reader(), episode, triplets, &mut names);
        let facts_path = async {
            match facts {
                Some(texts) => facts::plan_facts(self.reader(), &episode.scope, texts)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let (graph, facts) = tokio::join!(graph_path, facts_path);
        let with_extraction = |err| add_usage(err, usage);
        match (graph, facts) {
            (Ok(mut graph), Ok(facts)) => {
                let (facts, facts_usage) = match facts {
                    Some((plan, usage)) => (Some(plan), usage),
                    None => (None, LlmUsage::default()),
                };
                graph.usage += usage;
                graph.usage += facts_usage;
                Ok(Plans {
                    graph,
                    facts,
                    names,
                })
            }
            (Err(err), Ok(facts)) => Err(with_extraction(add_usage(
                err,
                facts.map(|(_, usage)| usage).unwrap_or_default(),
            ))),
            (Ok(graph), Err(err)) => Err(with_extraction(add_usage(err, graph.usage))),
            (Err(err), Err(_)) => Err(with_extraction(err)),
        }
    }

    /// Applies the graph plan in one transaction, mirrors relation vectors, marks `done`.
    async fn finish(
        &self,
        episode: &Episode,
        plan: GraphPlan,
        facts: FactChanges,
        usage: LlmUsage,
        mut texts: NameVectors,
    ) -> Result<AddOutcome, MemoryError> {
        let scope = &episode.scope;
        let skipped = plan.skipped;
        if !plan.ops.is_empty() {
            self.graph.apply(scope, plan.ops).await?;
        }
        let load = |ids: Vec<crate::RelationId>| async move {
            let found = if ids.is_empty() {
                Vec::new()
            } else {
                self.graph.relations_by_ids(scope, &ids).await?
            };
            Ok::<_, MemoryError>(found.into_iter().flatten().collect::<Vec<_>>())
        };
        let added = load(plan.added).await?;
        let updated = load(plan.updated).await?;
        let invalidated = load(plan.invalidated).await?;
        let retracted = load(plan.retracted).await?;
        self.mirror_relations(
            scope,
            &added,
            invalidated.iter().chain(&retracted),
            &mut texts,
        )
        .await?;
        let relations = [added, updated, invalidated, retracted];
        let mut outcome = self
            .mark_done(episode, Vec::new(), relations, facts, usage)
            .await?;
        outcome.relations.skipped = skipped;
        Ok(outcome)
    }

    /// Applies `ops` and sets the episode `done` with its usage, in one transaction, and
    /// reports the relations it changed (`[added, updated, invalidated, retracted]`).
    async fn mark_done(
        &self,
        episode: &Episode,
        mut ops: Vec<WriteOp>,
        [added, updated, invalidated, retracted]: [Vec<Relation>; 4],
        facts: FactChanges,
        usage: LlmUsage,
    ) -> Result<AddOutcome, MemoryError> {
        let scope = &episode.scope;
        ops.push(WriteOp::SetEpisodeStatus {
            episode: episode.id,
            status: EpisodeStatus::Done,
            llm_usage: usage,
        });
        self.graph.apply(scope, ops).await?;
        Ok(AddOutcome {
            episode_id: episode.id,
            status: EpisodeStatus::Done,
            relations: RelationChanges {
                added: self.relation_views(scope, added).await?,
                updated: self.relation_views(scope, updated).await?,
                invalidated: self.relation_views(scope, invalidated).await?,
                retracted: self.relation_views(scope, retracted).await?,
                skipped: Vec::new(),
            },
            facts,
            llm_usage: usage,
            duplicate: false,
        })
    }

    /// Puts new relations' embeddings (of their fact sentence, from `texts` when embedded
    /// already) into the vector store and mirrors changed validity into the payload of
    /// existing ones.
    async fn mirror_relations<'r>(
        &self,
        scope: &Scope,
        added: &[Relation],
        changed: impl Iterator<Item = &'r Relation>,
        texts: &mut NameVectors,
    ) -> Result<(), MemoryError> {
        let facts: Vec<String> = added.iter().map(|r| r.fact.clone()).collect();
        let vectors = texts.of(self.reader(), &facts).await?;
        let items: Vec<RelationVector> = added
            .iter()
            .zip(vectors)
            .map(|(relation, vector)| RelationVector {
                id: relation.id,
                scope: scope.clone(),
                times: relation.times,
                vector,
            })
            .collect();
        if !items.is_empty() {
            self.vectors.upsert_relation_vectors(&items).await?;
        }
        for relation in changed {
            self.vectors
                .set_relation_times(scope, relation.id, relation.times)
                .await?;
        }
        Ok(())
    }

    /// An episode whose graph ops were applied before a crash: mirror what it stated and
    /// ended into the vector store again (both writes are idempotent) and mark it done.
    async fn reconcile(
        &self,
        episode: Episode,
        footprint: crate::ports::Footprint,
    ) -> Result<AddOutcome, MemoryError> {
        let scope = &episode.scope;
        let (added, updated): (Vec<Relation>, Vec<Relation>) = footprint
            .stated
            .into_iter()
            .partition(|r| r.episodes.first() == Some(&episode.id));
        let mut texts = NameVectors::default();
        self.mirror_relations(scope, &added, footprint.ended.iter(), &mut texts)
            .await?;
        let (retracted, invalidated): (Vec<Relation>, Vec<Relation>) = footprint
            .ended
            .into_iter()
            .partition(|r| r.times.retracted_at.is_some());
        let usage = episode.llm_usage;
        let relations = [added, updated, invalidated, retracted];
        self.mark_done(
            &episode,
            Vec::new(),
            relations,
            FactChanges::default(),
            usage,
        )
        .await
    }

    /// Marks the episode failed with the LLM's reason; nothing else was written.
    async fn fail(&self, episode: &Episode, err: LlmError) -> Result<AddOutcome, MemoryError> {
        tracing::warn!(episode = %episode.id, reason = %err, "episode failed");
        self.mark_failed(episode, err.to_string(), err.usage())
            .await
    }

    /// Marks an episode failed whose journal entry cannot be read (or can no longer be
    /// validated), so it can never be processed; nothing else is written, and resuming
    /// goes on with the other episodes.
    async fn fail_unreadable(
        &self,
        episode: &Episode,
        err: MemoryError,
    ) -> Result<AddOutcome, MemoryError> {
        tracing::error!(
            episode = %episode.id,
            scope = %episode.scope.key(),
            reason = %err,
            "episode journal is unreadable; marked failed"
        );
        let reason = format!("unreadable journal entry: {err}");
        self.mark_failed(episode, reason, episode.llm_usage).await
    }

    async fn mark_failed(
        &self,
        episode: &Episode,
        reason: String,
        usage: LlmUsage,
    ) -> Result<AddOutcome, MemoryError> {
        let status = EpisodeStatus::Failed { reason };
        self.graph
            .apply(
                &episode.scope,
                vec![WriteOp::SetEpisodeStatus {
                    episode: episode.id,
                    status: status.clone(),
                    llm_usage: usage,
                }],
            )
            .await?;
        Ok(AddOutcome {
            episode_id: episode.id,
            status,
            relations: RelationChanges::default(),
            facts: FactChanges::default(),
            llm_usage: usage,
            duplicate: false,
        })
    }

    /// Processes every `pending` episode (run at start, before serving). Episodes that
    /// need an LLM while none is configured stay pending; they are counted, not failed.
    pub async fn resume_pending(&self) -> Result<ResumeReport, MemoryError> {
        let mut report = ResumeReport::default();
        let mut seen: HashSet<EpisodeId> = HashSet::new();
        loop {
            let batch = self.graph.pending_episodes(RESUME_BATCH).await?;
            let fresh: Vec<Episode> = batch.into_iter().filter(|e| seen.insert(e.id)).collect();
            if fresh.is_empty() {
                return Ok(report);
            }
            for episode in fresh {
                match self.process_episode(episode).await {
                    Ok(outcome) if outcome.status == EpisodeStatus::Done => report.done += 1,
                    Ok(_) => report.failed += 1,
                    Err(MemoryError::LlmNotConfigured) => report.waiting_for_llm += 1,
                    Err(err) => return Err(err),
                }
            }
        }
    }

    /// An episode of `scope` by id; an episode of another scope is not found, exactly
    /// like one that does not exist (ids are never confirmed across scopes).
    pub async fn episode(&self, scope: &Scope, id: EpisodeId) -> Result<Episode, MemoryError> {
        self.graph
            .episode(id)
            .await?
            .filter(|episode| episode.scope == *scope)
            .ok_or_else(|| MemoryError::NotFound {
                kind: "episode",
                id: id.to_string(),
            })
    }

    /// Reverts an episode: relations only it stated are deleted, its restatements lose
    /// its provenance, relations it ended or retracted are restored, entities only it
    /// mentioned (and left without relations) are deleted, its fact events are undone.
    /// An episode of another scope is not found.
    pub async fn delete_episode(
        &self,
        scope: &Scope,
        id: EpisodeId,
    ) -> Result<Episode, MemoryError> {
        let episode = self.episode(scope, id).await?;
        let _guard = self.lock_scope(scope).await;
        let footprint = self.graph.episode_footprint(scope, id).await?;

        let mut ops = Vec::new();
        let mut deleted = HashSet::new();
        // Relations already put back on their own end (without this episode's).
        let mut put_back = HashSet::new();
        let single = |r: &Relation| {
            self.ontology.cardinality(&r.relation_type) == crate::ontology::Cardinality::One
        };
        for relation in &footprint.ended {
            if single(relation)
                && relation.invalidated_by.is_some()
                && relation.times.retracted_at.is_none()
            {
                // Cut by a member of its timeline: placement below puts it back.
                continue;
            }
            ops.extend(own_end_without(relation, id, None));
            put_back.insert(relation.id);
        }
        for relation in &footprint.stated {
            let gave_own_end = relation.stated_end.is_some_and(|s| s.episode == Some(id));
            if gave_own_end && !put_back.contains(&relation.id) {
                // A restatement's end under a later cut: the cut stays, the end goes.
                ops.push(WriteOp::SetStatedEnd {
                    relation: relation.id,
                    stated_end: None,
                });
            }
            if relation.episodes.iter().all(|e| *e == id) {
                ops.push(WriteOp::DeleteRelation {
                    relation: relation.id,
                });
                deleted.insert(relation.id);
            } else {
                ops.push(WriteOp::RemoveProvenance {
                    relation: relation.id,
                    episode: id,
                });
            }
        }
        for entity_id in &footprint.mentioned {
            let Some(mut entity) = self.graph.entity(scope, *entity_id).await? else {
                continue;
            };
            let remaining = self
                .graph
                .relations(
                    scope,
                    &crate::ports::RelationQuery {
                        entity: Some(*entity_id),
                        outgoing_only: false,
                        relation_type: None,
                        visible_at: None,
                        limit: deleted.len() + 1,
                    },
                )
                .await?;
            let keeps_relations = remaining.iter().any(|r| !deleted.contains(&r.id));
            // The spellings this episode taught the entity go with it.
            let before = entity.aliases.len();
            entity.aliases.retain(|alias| {
                !footprint
                    .aliases
                    .iter()
                    .any(|(of, added)| of == entity_id && added == alias)
            });
            let forgot_aliases = entity.aliases.len() != before;
            if entity.mentions <= 1 && !keeps_relations {
                ops.push(WriteOp::DeleteEntity { entity: *entity_id });
            } else if entity.mentions > 1 {
                entity.mentions -= 1;
                ops.push(WriteOp::UpsertEntity(entity));
            } else if forgot_aliases {
                ops.push(WriteOp::UpsertEntity(entity));
            }
        }
        // A relation stored already ended by one the episode stated alone (a `superseded`
        // verdict on a many-valued type, older fact arriving late) holds again.
        for relation in footprint.stated.iter().filter(|r| deleted.contains(&r.id)) {
            if single(relation) {
                continue;
            }
            for cut in self.cut_by(scope, relation).await? {
                if !deleted.contains(&cut.id) && cut.invalidated_in != Some(id) {
                    ops.extend(own_end_without(&cut, id, cut.times.retracted_at));
                }
            }
        }
        // Every single-valued timeline the episode touched, placed again without it.
        let mut keys: Vec<super::timeline::TimelineKey> = Vec::new();
        for relation in footprint.stated.iter().chain(&footprint.ended) {
            let key = (relation.source, relation.relation_type.clone());
            if single(relation) && !keys.contains(&key) {
                keys.push(key);
            }
        }
        for key in keys {
            let mut members = super::timeline::load(self.reader(), scope, &key).await?;
            super::timeline::overlay(&mut members, &key, &ops);
            let placed = super::timeline::place(self.reader(), scope, &members, &mut []).await?;
            ops.extend(placed);
        }
        let mut restored: Vec<crate::RelationId> = Vec::new();
        for op in &ops {
            if let WriteOp::EndRelation { relation, .. } | WriteOp::RestoreRelation { relation, .. } =
                op
                && !restored.contains(relation)
                && !deleted.contains(relation)
            {
                restored.push(*relation);
            }
        }
        ops.push(WriteOp::DeleteEpisode { episode: id });
        // A summary that read the episode would keep serving what it said: drop it, in
        // the same transaction; the next refresh rebuilds it from what remains.
        if let Some(summary) = self.graph.scope_summary(scope).await?
            && (summary.through_episode == id || episode.ingested_at <= summary.updated_at)
        {
            ops.push(WriteOp::DropScopeSummary);
        }
        // Facts first: if we crash after them, deleting again finds the episode and
        // finishes the graph part (reverting facts twice is a no-op).
        facts::revert_facts(self, scope, id).await?;
        self.graph.apply(scope, ops).await?;
        let deleted: Vec<_> = deleted.into_iter().collect();
        if !deleted.is_empty() {
            self.vectors
                .delete_relation_vectors(scope, &deleted)
                .await?;
        }
        for relation in restored {
            if let Some(relation) = self.graph.relation(scope, relation).await? {
                self.vectors
                    .set_relation_times(scope, relation.id, relation.times)
                    .await?;
            }
        }
        Ok(episode)
    }
}

impl Memory {
    /// Relations `invalidated_by` the given one: conflict pairs share its source and its
    /// type or target, so both adjacency reads (never a scan) find them all.
    async fn cut_by(&self, scope: &Scope, by: &Relation) -> Result<Vec<Relation>, MemoryError> {
        let query = |entity, outgoing_only, relation_type| crate::ports::RelationQuery {
            entity: Some(entity),
            outgoing_only,
            relation_type,
            visible_at: None,
            limit: usize::MAX,
        };
        let mut found = self
            .graph
            .relations(
                scope,
                &query(by.source, true, Some(by.relation_type.clone())),
            )
            .await?;
        found.extend(
            self.graph
                .relations(scope, &query(by.target, false, None))
                .await?
                .into_iter()
                .filter(|r| r.source == by.source),
        );
        found.retain(|r| r.invalidated_by == Some(by.id));
        found.sort_by_key(|r| r.id);
        found.dedup_by_key(|r| r.id);
        Ok(found)
    }
}

/// The ops that put a relation back on its own end as if episode `deleted` never arrived:
/// the end it was stated with (unless `deleted` gave it), else open; `invalidated_by`
/// cleared and `retracted_at` set to `retracted_at`. An own end from a restatement keeps
/// that episode as `invalidated_in`, which only `EndRelation` sets.
fn own_end_without(
    relation: &Relation,
    deleted: EpisodeId,
    retracted_at: Option<crate::Timestamp>,
) -> Vec<WriteOp> {
    let own = relation.stated_end.filter(|s| s.episode != Some(deleted));
    let mut ops = vec![WriteOp::RestoreRelation {
        relation: relation.id,
        times: RelationTimes {
            valid_to: own.map(|s| s.valid_to),
            invalidated_at: own.and_then(|s| s.invalidated_at),
            retracted_at,
            ..relation.times
        },
    }];
    if let Some(own) = own.filter(|s| s.episode.is_some()) {
        ops.push(WriteOp::EndRelation {
            relation: relation.id,
            valid_to: own.valid_to,
            invalidated_at: own.invalidated_at,
            invalidated_by: None,
            episode: own.episode,
        });
    }
    if own != relation.stated_end {
        ops.push(WriteOp::SetStatedEnd {
            relation: relation.id,
            stated_end: own,
        });
    }
    ops
}

/// What [`Memory::resume_pending`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResumeReport {
    pub done: usize,
    pub failed: usize,
    /// Episodes with `infer: true` left pending because no LLM is configured.
    pub waiting_for_llm: usize,
}

impl Plans {
    fn usage(&self) -> LlmUsage {
        self.graph.usage
    }
}

/// Adds spending to an LLM error (a failed path's error carries only its own calls).
fn add_usage(err: MemoryError, extra: LlmUsage) -> MemoryError {
    match err {
        MemoryError::Llm(llm) => MemoryError::Llm(llm.with_extra_usage(extra)),
        other => other,
    }
}

impl AddOutcome {
    fn duplicate(episode: &Episode) -> AddOutcome {
        AddOutcome {
            duplicate: true,
            ..AddOutcome::unchanged(episode)
        }
    }

    fn unchanged(episode: &Episode) -> AddOutcome {
        AddOutcome {
            episode_id: episode.id,
            status: episode.status.clone(),
            relations: RelationChanges::default(),
            facts: FactChanges::default(),
            llm_usage: episode.llm_usage,
            duplicate: false,
        }
    }
}
