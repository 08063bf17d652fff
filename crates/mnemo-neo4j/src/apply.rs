//! `GraphWrite::apply`: one transaction per batch. Consecutive ops of one kind form a run,
//! written by one `UNWIND` query after one check of what the run refers to (inside the
//! same transaction, so earlier runs' writes count). Any `NotFound` or `Conflict` rolls
//! the whole batch back.

use std::collections::{HashMap, HashSet};

use mnemo_core::ports::WriteOp;
use mnemo_core::{EntityId, EpisodeId, RelationId, Scope, StoreError, ValidationError};
use neo4rs::{BoltType, Graph, Row};

use crate::codec::{self, Props, ids, list};
use crate::db::{Tx, query, typed_query};
use crate::queries::{TypedStatement, *};
use crate::text;

/// The kind of an op: consecutive ops of one kind are written together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    UpsertEntity,
    AddRelation,
    AddProvenance,
    RemoveProvenance,
    EndRelation,
    RetractRelation,
    RestoreRelation,
    SetStatedEnd,
    DeleteRelation,
    DeleteEntity,
    Mention,
    RecordAlias,
    SetEpisodeStatus,
    DeleteEpisode,
    DropScopeSummary,
}

fn kind(op: &WriteOp) -> Kind {
    match op {
        WriteOp::UpsertEntity(_) => Kind::UpsertEntity,
        WriteOp::AddRelation(_) => Kind::AddRelation,
        WriteOp::AddProvenance { .. } => Kind::AddProvenance,
        WriteOp::RemoveProvenance { .. } => Kind::RemoveProvenance,
        WriteOp::EndRelation { .. } => Kind::EndRelation,
        WriteOp::RetractRelation { .. } => Kind::RetractRelation,
        WriteOp::RestoreRelation { .. } => Kind::RestoreRelation,
        WriteOp::SetStatedEnd { .. } => Kind::SetStatedEnd,
        WriteOp::DeleteRelation { .. } => Kind::DeleteRelation,
        WriteOp::DeleteEntity { .. } => Kind::DeleteEntity,
        WriteOp::Mention { .. } => Kind::Mention,
        WriteOp::RecordAlias { .. } => Kind::RecordAlias,
        WriteOp::SetEpisodeStatus { .. } => Kind::SetEpisodeStatus,
        WriteOp::DeleteEpisode { .. } => Kind::DeleteEpisode,
        WriteOp::DropScopeSummary => Kind::DropScopeSummary,
    }
}

/// Splits `ops` into runs of consecutive ops of one kind, in order.
fn runs(ops: Vec<WriteOp>) -> Vec<(Kind, Vec<WriteOp>)> {
    let mut out: Vec<(Kind, Vec<WriteOp>)> = Vec::new();
    for op in ops {
        let k = kind(&op);
        match out.last_mut() {
            Some((last, run)) if *last == k => run.push(op),
            _ => out.push((k, vec![op])),
        }
    }
    out
}

/// Refuses records carrying another scope or vectors of another length before any write.
fn validate(scope: &Scope, ops: &[WriteOp], dimension: usize) -> Result<(), StoreError> {
    for op in ops {
        match op {
            WriteOp::UpsertEntity(entity) => {
                if entity.scope != *scope {
                    return Err(not_found("entity", entity.id));
                }
                if entity.embedding.len() != dimension {
                    return Err(StoreError::Invalid(ValidationError::Request(format!(
                        "entity {} has a {}-dimensional embedding, the store holds {dimension}",
                        entity.id,
                        entity.embedding.len()
                    ))));
                }
                codec::entity_keys(entity)?;
            }
            WriteOp::AddRelation(relation) if relation.scope != *scope => {
                return Err(not_found("relation", relation.id));
            }
            _ => {}
        }
    }
    Ok(())
}

fn not_found(kind: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

pub(crate) async fn apply(
    graph: &Graph,
    scope: &Scope,
    ops: Vec<WriteOp>,
    dimension: usize,
) -> Result<(), StoreError> {
    validate(scope, &ops, dimension)?;
    if ops.is_empty() {
        return Ok(());
    }
    let mut tx = Tx::begin(graph).await?;
    for (kind, run) in runs(ops) {
        if let Err(err) = write_run(&mut tx, scope, kind, run).await {
            tx.rollback().await;
            return Err(err);
        }
    }
    tx.commit().await
}

/// What a run refers to, checked to exist in the scope before it is written.
#[derive(Default)]
struct Refs {
    relations: Vec<RelationId>,
    entities: Vec<EntityId>,
    episodes: Vec<EpisodeId>,
}

/// `NotFound` for the first referenced record the scope does not hold.
async fn check(tx: &mut Tx, scope: &Scope, refs: Refs) -> Result<(), StoreError> {
    let params = Props::new()
        .set("scope_key", scope.key())
        .set("relations", ids(&refs.relations))
        .set("entities", ids(&refs.entities))
        .set("episodes", ids(&refs.episodes));
    for row in tx.rows(query(EXISTS, params)).await? {
        if matches!(codec::column(&row, "found")?, BoltType::Boolean(b) if b.value) {
            continue;
        }
        let id = string(&row, "id")?;
        return Err(match string(&row, "kind")?.as_str() {
            "relation" => not_found("relation", id),
            "entity" => not_found("entity", id),
            _ => not_found("episode", id),
        });
    }
    Ok(())
}

fn string(row: &Row, name: &str) -> Result<String, StoreError> {
    match codec::column(row, name)? {
        BoltType::String(s) => Ok(s.value),
        other => Err(StoreError::Corrupt(format!(
            "column `{name}`: expected a string, got {other:?}"
        ))),
    }
}

/// `NotFound` when a run deletes one record twice (the second delete finds nothing).
fn once<T: Copy + Eq + std::hash::Hash + ToString>(
    ids: &[T],
    kind: &'static str,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    match ids.iter().find(|id| !seen.insert(**id)) {
        Some(id) => Err(not_found(kind, id.to_string())),
        None => Ok(()),
    }
}

/// `NotFound` unless a delete query's `deleted` count is `expected` (an id was given twice).
fn check_deleted(rows: &[Row], expected: usize, kind: &'static str) -> Result<(), StoreError> {
    let deleted = match rows.first().map(|row| codec::column(row, "deleted")) {
        Some(Ok(BoltType::Integer(n))) => usize::try_from(n.value).unwrap_or(0),
        _ => 0,
    };
    if deleted == expected {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            kind,
            id: format!(
                "{} of the {expected} given (repeated)",
                expected - deleted.min(expected)
            ),
        })
    }
}

/// Writes one run: one function per kind of op (the four that set a relation's times
/// share one, each with its statement).
async fn write_run(
    tx: &mut Tx,
    scope: &Scope,
    kind: Kind,
    run: Vec<WriteOp>,
) -> Result<(), StoreError> {
    match kind {
        Kind::UpsertEntity => upsert_entities(tx, scope, run).await,
        Kind::AddRelation => add_relations(tx, scope, run).await,
        Kind::AddProvenance => add_provenance(tx, scope, run).await,
        Kind::RemoveProvenance => remove_provenance(tx, scope, run).await,
        Kind::EndRelation => set_relation_times(tx, scope, END_RELATIONS, run).await,
        Kind::RetractRelation => set_relation_times(tx, scope, RETRACT_RELATIONS, run).await,
        Kind::RestoreRelation => set_relation_times(tx, scope, RESTORE_RELATIONS, run).await,
        Kind::SetStatedEnd => set_relation_times(tx, scope, SET_STATED_END, run).await,
        Kind::DeleteRelation => delete_relations(tx, scope, run).await,
        Kind::DeleteEntity => delete_entities(tx, scope, run).await,
        Kind::Mention => mention(tx, scope, run).await,
        Kind::RecordAlias => record_aliases(tx, scope, run).await,
        Kind::DropScopeSummary => drop_scope_summary(tx, scope).await,
        Kind::SetEpisodeStatus => set_episode_status(tx, scope, run).await,
        Kind::DeleteEpisode => delete_episodes(tx, scope, run).await,
    }
}

/// The parameters every run's query starts from.
fn scoped(scope: &Scope) -> Props {
    Props::new().set("scope_key", scope.key())
}

/// Checks what a run refers to, then writes its `items` with `text`.
async fn write_items(
    tx: &mut Tx,
    scope: &Scope,
    refs: Refs,
    text: &'static str,
    items: Vec<Props>,
) -> Result<(), StoreError> {
    check(tx, scope, refs).await?;
    tx.rows(query(text, scoped(scope).set("items", list(items))))
        .await?;
    Ok(())
}

/// `NotFound` unless what a run of deletes refers to is in the scope, each id once.
async fn check_once<T: Copy + Eq + std::hash::Hash + ToString>(
    tx: &mut Tx,
    scope: &Scope,
    refs: Refs,
    targets: &[T],
    kind: &'static str,
) -> Result<(), StoreError> {
    check(tx, scope, refs).await?;
    once(targets, kind)
}

/// Deletes `targets` with `text`; `NotFound` unless every one was deleted.
async fn delete_ids<T: std::fmt::Display>(
    tx: &mut Tx,
    scope: &Scope,
    text: &'static str,
    targets: &[T],
    kind: &'static str,
) -> Result<(), StoreError> {
    let rows = tx
        .rows(query(text, scoped(scope).set("ids", ids(targets))))
        .await?;
    check_deleted(&rows, targets.len(), kind)
}

fn provenance_item(relation: RelationId, episode: EpisodeId) -> Props {
    Props::new()
        .set("relation", relation.to_string())
        .set("episode", episode.to_string())
}

/// A run of provenance ops: what it refers to (its episodes only when `adding`), one item
/// per op, and each (relation, episode) pair once, in order.
fn provenance_run(
    run: Vec<WriteOp>,
    adding: bool,
) -> (Refs, Vec<Props>, Vec<(RelationId, EpisodeId)>) {
    let mut refs = Refs::default();
    let mut items = Vec::new();
    let mut pairs: Vec<(RelationId, EpisodeId)> = Vec::new();
    for op in run {
        if let WriteOp::AddProvenance { relation, episode }
        | WriteOp::RemoveProvenance { relation, episode } = op
        {
            if !pairs.contains(&(relation, episode)) {
                pairs.push((relation, episode));
            }
            refs.relations.push(relation);
            if adding {
                refs.episodes.push(episode);
            }
            items.push(provenance_item(relation, episode));
        }
    }
    (refs, items, pairs)
}

async fn add_provenance(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let (refs, items, _) = provenance_run(run, true);
    write_items(tx, scope, refs, ADD_PROVENANCE, items).await
}

/// One mention less per op, then each (relation, episode) pair's provenance link removed.
async fn remove_provenance(
    tx: &mut Tx,
    scope: &Scope,
    run: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let (refs, items, pairs) = provenance_run(run, false);
    write_items(tx, scope, refs, REMOVE_PROVENANCE, items).await?;
    let unlink = pairs
        .into_iter()
        .map(|(relation, episode)| provenance_item(relation, episode));
    tx.rows(query(
        UNLINK_PROVENANCE,
        Props::new().set("items", list(unlink)),
    ))
    .await?;
    Ok(())
}

/// An op that sets a relation's times: the relation, the episode it names, and its item
/// (without the relation).
fn relation_times_item(op: WriteOp) -> Option<(RelationId, Option<EpisodeId>, Props)> {
    Some(match op {
        WriteOp::EndRelation {
            relation,
            valid_to,
            invalidated_at,
            invalidated_by,
            episode,
        } => (
            relation,
            episode,
            Props::new()
                .set("valid_to", valid_to)
                .set("invalidated_at", invalidated_at)
                .set("invalidated_by", invalidated_by.map(|r| r.to_string()))
                .set("episode", episode.map(|e| e.to_string())),
        ),
        WriteOp::RetractRelation {
            relation,
            retracted_at,
            episode,
        } => (
            relation,
            episode,
            Props::new()
                .set("retracted_at", retracted_at)
                .set("episode", episode.map(|e| e.to_string())),
        ),
        WriteOp::RestoreRelation { relation, times } => (
            relation,
            None,
            Props::new()
                .set("valid_from", times.valid_from)
                .set("valid_to", times.valid_to)
                .set("recorded_at", times.recorded_at)
                .set("invalidated_at", times.invalidated_at)
                .set("retracted_at", times.retracted_at)
                .set("status", codec::relation_status(&times)),
        ),
        WriteOp::SetStatedEnd {
            relation,
            stated_end,
        } => (
            relation,
            stated_end.and_then(|s| s.episode),
            Props::new().stated_end(stated_end),
        ),
        _ => return None,
    })
}

/// End, retract, restore or set the stated end of relations, with `text`.
async fn set_relation_times(
    tx: &mut Tx,
    scope: &Scope,
    text: &'static str,
    run: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let mut refs = Refs::default();
    let mut items = Vec::new();
    for (relation, episode, item) in run.into_iter().filter_map(relation_times_item) {
        refs.relations.push(relation);
        refs.episodes.extend(episode);
        items.push(item.set("relation", relation.to_string()));
    }
    write_items(tx, scope, refs, text, items).await
}

/// What a run of deletes names (a run holds one kind of delete).
fn deleted(run: &[WriteOp]) -> Refs {
    let mut refs = Refs::default();
    for op in run {
        match op {
            WriteOp::DeleteRelation { relation } => refs.relations.push(*relation),
            WriteOp::DeleteEntity { entity } => refs.entities.push(*entity),
            WriteOp::DeleteEpisode { episode } => refs.episodes.push(*episode),
            _ => {}
        }
    }
    refs
}

async fn delete_relations(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let refs = deleted(&run);
    let relations = refs.relations.clone();
    check_once(tx, scope, refs, &relations, "relation").await?;
    delete_ids(tx, scope, DELETE_RELATIONS, &relations, "relation").await
}

/// A `Conflict` while a relation still touches one of the entities.
async fn delete_entities(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let refs = deleted(&run);
    let entities = refs.entities.clone();
    check_once(tx, scope, refs, &entities, "entity").await?;
    let touched = tx
        .rows(query(
            ENTITIES_TOUCHED,
            scoped(scope).set("ids", ids(&entities)),
        ))
        .await?;
    if let Some(row) = touched.first() {
        return Err(StoreError::Conflict(format!(
            "entity {} is still touched by relation {}",
            string(row, "id")?,
            string(row, "relation")?
        )));
    }
    delete_ids(tx, scope, DELETE_ENTITIES, &entities, "entity").await
}

async fn mention(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let mut refs = Refs::default();
    let mut items = Vec::new();
    for op in run {
        if let WriteOp::Mention { episode, entity } = op {
            refs.episodes.push(episode);
            refs.entities.push(entity);
            items.push(
                Props::new()
                    .set("episode", episode.to_string())
                    .set("entity", entity.to_string()),
            );
        }
    }
    write_items(tx, scope, refs, MENTION, items).await
}

/// An alias is recorded on the episode's mention of the entity: none, `NotFound`.
async fn record_aliases(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let items: Vec<Props> = run
        .into_iter()
        .filter_map(|op| match op {
            WriteOp::RecordAlias {
                episode,
                entity,
                alias,
            } => Some(
                Props::new()
                    .set("episode", episode.to_string())
                    .set("entity", entity.to_string())
                    .set("alias", alias),
            ),
            _ => None,
        })
        .collect();
    let expected = items.len();
    let rows = tx
        .rows(query(
            RECORD_ALIASES,
            scoped(scope).set("items", list(items)),
        ))
        .await?;
    check_deleted(&rows, expected, "mention")
}

async fn drop_scope_summary(tx: &mut Tx, scope: &Scope) -> Result<(), StoreError> {
    tx.rows(query(DROP_SCOPE_SUMMARY, scoped(scope))).await?;
    Ok(())
}

async fn set_episode_status(
    tx: &mut Tx,
    scope: &Scope,
    run: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let mut refs = Refs::default();
    let mut items = Vec::new();
    for op in run {
        if let WriteOp::SetEpisodeStatus {
            episode,
            status,
            llm_usage,
        } = op
        {
            refs.episodes.push(episode);
            let (status, reason) = codec::status_fields(&status);
            let (calls, prompt, completion) = codec::usage_fields(&llm_usage);
            items.push(
                Props::new()
                    .set("episode", episode.to_string())
                    .set("status", status)
                    .set("reason", reason)
                    .set("llm_calls", calls)
                    .set("llm_prompt_tokens", prompt)
                    .set("llm_completion_tokens", completion),
            );
        }
    }
    write_items(tx, scope, refs, SET_EPISODE_STATUS, items).await
}

async fn delete_episodes(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let refs = deleted(&run);
    let episodes = refs.episodes.clone();
    check_once(tx, scope, refs, &episodes, "episode").await?;
    delete_ids(tx, scope, DELETE_EPISODES, &episodes, "episode").await
}

/// Entities are written, then the names they dropped released, then their names claimed
/// in order; a name owned by another entity is a `Conflict`.
async fn upsert_entities(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let entities: Vec<mnemo_core::Entity> = run
        .into_iter()
        .filter_map(|op| match op {
            WriteOp::UpsertEntity(entity) => Some(entity),
            _ => None,
        })
        .collect();
    let scope_key = scope.key();
    let elsewhere = tx
        .rows(query(
            ENTITY_IDS_ELSEWHERE,
            Props::new()
                .set("scope_key", scope_key.clone())
                .set("ids", ids(entities.iter().map(|e| e.id))),
        ))
        .await?;
    if let Some(row) = elsewhere.first() {
        return Err(not_found("entity", string(row, "id")?));
    }
    tx.rows(query(
        UPSERT_ENTITIES,
        Props::new()
            .scope(scope)
            .set("scope_tag", text::scope_tag(&scope_key))
            .set("entities", list(entities.iter().map(codec::entity_row))),
    ))
    .await?;

    // The names of the last version of each entity in the run, in order of first mention.
    let mut last: HashMap<EntityId, &mnemo_core::Entity> = HashMap::new();
    let mut order = Vec::new();
    for e in &entities {
        if last.insert(e.id, e).is_none() {
            order.push(e.id);
        }
    }
    let mut releases = Vec::new();
    let mut claims = Vec::new();
    let mut claimed = HashSet::new();
    for id in order {
        let entity = last[&id];
        let keys = codec::entity_keys(entity)?;
        let uids: Vec<String> = keys.iter().map(|k| text::uid(&scope_key, k)).collect();
        for (key, uid) in keys.iter().zip(&uids) {
            if claimed.insert((uid.clone(), id)) {
                claims.push(
                    Props::new()
                        .set("uid", uid.clone())
                        .set("key", key.clone())
                        .set("entity_id", id.to_string()),
                );
            }
        }
        releases.push(
            Props::new()
                .set("id", id.to_string())
                .set("uids", list(uids)),
        );
    }
    tx.rows(query(
        RELEASE_ENTITY_KEYS,
        Props::new().set("entities", list(releases)),
    ))
    .await?;
    let conflicts = tx
        .rows(query(
            CLAIM_ENTITY_KEYS,
            Props::new()
                .set("scope_key", scope_key)
                .set("keys", list(claims)),
        ))
        .await?;
    if let Some(row) = conflicts.first() {
        return Err(StoreError::Conflict(format!(
            "name `{}` already belongs to entity {}",
            string(row, "key")?,
            string(row, "owner")?
        )));
    }
    Ok(())
}

/// Both ends must be entities of the scope; a relation id may be used once.
async fn add_relations(tx: &mut Tx, scope: &Scope, run: Vec<WriteOp>) -> Result<(), StoreError> {
    let relations: Vec<mnemo_core::Relation> = run
        .into_iter()
        .filter_map(|op| match op {
            WriteOp::AddRelation(relation) => Some(relation),
            _ => None,
        })
        .collect();
    let mut seen = HashSet::new();
    for r in &relations {
        if !seen.insert(r.id) {
            return Err(StoreError::Conflict(format!(
                "relation {} added twice",
                r.id
            )));
        }
    }
    check(
        tx,
        scope,
        Refs {
            entities: relations
                .iter()
                .flat_map(|r| [r.source, r.target])
                .collect(),
            ..Refs::default()
        },
    )
    .await?;
    let taken = tx
        .rows(query(
            RELATION_IDS_TAKEN,
            Props::new().set("ids", ids(relations.iter().map(|r| r.id))),
        ))
        .await?;
    if let Some(row) = taken.first() {
        return Err(StoreError::Conflict(format!(
            "relation {} already exists",
            string(row, "id")?
        )));
    }
    let scope_key = scope.key();
    for (statement, rows) in add_relation_statements(&relations) {
        tx.rows(typed_query(
            statement,
            Props::new()
                .set("scope_key", scope_key.clone())
                .set("relations", list(rows.into_iter().map(codec::relation_row))),
        ))
        .await?;
    }
    Ok(())
}

/// One [`ADD_RELATIONS`] statement per relation type in `relations` (in order of first
/// appearance), each with the relations of its type: the type is a literal in the text,
/// never a per-row parameter (see [`crate::queries::add_relations`]).
fn add_relation_statements(
    relations: &[mnemo_core::Relation],
) -> Vec<(TypedStatement, Vec<&mnemo_core::Relation>)> {
    let mut groups: Vec<(TypedStatement, Vec<&mnemo_core::Relation>)> = Vec::new();
    for relation in relations {
        match groups
            .iter_mut()
            .find(|(statement, _)| statement.relation_type == relation.relation_type)
        {
            Some((_, rows)) => rows.push(relation),
            None => groups.push((
                crate::queries::add_relations(&relation.relation_type),
                vec![relation],
            )),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use mnemo_core::{EntityType, EpisodeStatus, LlmUsage};

    use super::*;

    #[test]
    fn consecutive_ops_of_one_kind_form_a_run() {
        let e = EpisodeId::new();
        let r = RelationId::new();
        let x = EntityId::new();
        let ops = vec![
            WriteOp::Mention {
                episode: e,
                entity: x,
            },
            WriteOp::Mention {
                episode: e,
                entity: x,
            },
            WriteOp::DeleteRelation { relation: r },
            WriteOp::DeleteEntity { entity: x },
            WriteOp::DeleteRelation { relation: r },
            WriteOp::SetEpisodeStatus {
                episode: e,
                status: EpisodeStatus::Done,
                llm_usage: LlmUsage::default(),
            },
        ];
        let got: Vec<(Kind, usize)> = runs(ops).iter().map(|(k, run)| (*k, run.len())).collect();
        assert_eq!(
            got,
            vec![
                (Kind::Mention, 2),
                (Kind::DeleteRelation, 1),
                (Kind::DeleteEntity, 1),
                (Kind::DeleteRelation, 1),
                (Kind::SetEpisodeStatus, 1),
            ]
        );
        assert!(runs(Vec::new()).is_empty());
    }

    fn relation_of_type(scope: &Scope, relation_type: &str) -> mnemo_core::Relation {
        use mnemo_testkit::fixtures;
        let (source, target) = (EntityId::new(), EntityId::new());
        let times = fixtures::since(1, 1);
        fixtures::relation(scope, source, relation_type, target, "a fact", times)
    }

    /// The relationship types of the patterns a statement writes: `[:TYPE` or
    /// `` [:`TYPE` ``, and any dynamic `[:$(` form as `$(`.
    fn written_types(text: &str) -> Vec<String> {
        let code = crate::queries::code_lines(text);
        code.match_indices("[:")
            .map(|(at, _)| {
                let rest = &code[at + 2..];
                if rest.starts_with("$(") {
                    return "$(".to_owned();
                }
                rest.trim_start_matches('`')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect()
    }

    #[test]
    fn each_add_relations_statement_carries_exactly_one_literal_type() {
        let scope = Scope::user("a").unwrap();
        let types = [
            "LIVES_IN", "WORKS_AT", "LIVES_IN", "KNOWS", "WORKS_AT", "KNOWS",
        ];
        let relations: Vec<_> = types.iter().map(|t| relation_of_type(&scope, t)).collect();
        let statements = add_relation_statements(&relations);

        let got: Vec<(&str, Vec<RelationId>)> = statements
            .iter()
            .map(|(s, rows)| {
                (
                    s.relation_type.as_str(),
                    rows.iter().map(|r| r.id).collect(),
                )
            })
            .collect();
        let ids = |at: &[usize]| at.iter().map(|&i| relations[i].id).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                ("LIVES_IN", ids(&[0, 2])),
                ("WORKS_AT", ids(&[1, 4])),
                ("KNOWS", ids(&[3, 5])),
            ]
        );
        for (statement, _) in &statements {
            let ty = statement.relation_type.as_str();
            let text = &statement.text;
            // The relation's type, and the fixed provenance edge.
            assert_eq!(written_types(text), [ty, "STATED"], "{text}");
            assert_eq!(text.matches(&format!("`{ty}`")).count(), 1, "{text}");
            assert!(
                !text.contains(crate::queries::RELATION_TYPE_PLACEHOLDER),
                "{text}"
            );
            assert!(!text.contains("$("), "{text}");
        }
        assert!(add_relation_statements(&[]).is_empty());
    }

    /// No query the store runs writes a relationship whose type is dynamic (`$(…)`) or
    /// taken from a row: neo4j/neo4j#13597.
    #[test]
    fn no_query_writes_a_dynamic_relationship_type() {
        for (path, text) in crate::queries::ALL {
            for ty in written_types(text) {
                assert_ne!(ty, "$(", "{path} writes a dynamic relationship type");
            }
        }
    }

    /// Only a `RelationType` can be rendered, and only `RelationType::parse` (or its serde
    /// form, which calls it) builds one: whatever it is given, it fails or yields
    /// `^[A-Z][A-Z0-9_]{0,127}$`, so nothing can leave the backticks.
    #[test]
    fn a_type_that_is_not_a_relation_type_cannot_be_rendered() {
        let refused = [
            "LIVES_IN`]->(t) DETACH DELETE t //",
            "LIVES_IN`",
            "LIVES_IN]->(x)",
            "LIVES_IN {id: 1}",
            "LIVES_IN\nMATCH",
            "",
            "   ",
            "ÄRGER",
            "1LIVES_IN",
        ];
        for input in refused {
            assert!(mnemo_core::RelationType::parse(input).is_err(), "{input:?}");
            let json = serde_json::Value::String(input.to_owned());
            assert!(
                serde_json::from_value::<mnemo_core::RelationType>(json).is_err(),
                "{input:?} deserializes"
            );
        }
        assert!(mnemo_core::RelationType::parse(&"A".repeat(65)).is_err());
        // Lenient spellings normalise to a plain literal, never to the placeholder.
        for (input, literal) in [
            ("lives in", "LIVES_IN"),
            ("livesIn", "LIVES_IN"),
            ("__RELATION_TYPE__", "RELATION_TYPE"),
        ] {
            let ty = mnemo_core::RelationType::parse(input).unwrap();
            let text = crate::queries::add_relations(&ty).text;
            assert_eq!(written_types(&text), [literal, "STATED"], "{input:?}");
            assert!(text.contains(&format!("[:`{literal}` {{")), "{input:?}");
            assert!(!text.contains(crate::queries::RELATION_TYPE_PLACEHOLDER));
        }
    }

    #[test]
    fn records_of_another_scope_or_dimension_are_refused_before_writing() {
        let scope = Scope::user("a").unwrap();
        let other = Scope::user("b").unwrap();
        let entity = |s: &Scope, dims: usize| mnemo_core::Entity {
            id: EntityId::new(),
            scope: s.clone(),
            name: "x".into(),
            display_name: "X".into(),
            entity_type: EntityType::parse("Thing").unwrap(),
            aliases: Vec::new(),
            embedding: vec![0.5; dims],
            mentions: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let ok = WriteOp::UpsertEntity(entity(&scope, 4));
        assert!(validate(&scope, std::slice::from_ref(&ok), 4).is_ok());
        let cases = [
            (WriteOp::UpsertEntity(entity(&other, 4)), "NotFound"),
            (WriteOp::UpsertEntity(entity(&scope, 3)), "Invalid"),
            (
                WriteOp::UpsertEntity(mnemo_core::Entity {
                    aliases: vec!["   ".into()],
                    ..entity(&scope, 4)
                }),
                "Invalid",
            ),
        ];
        for (op, expected) in cases {
            let err = validate(&scope, &[ok.clone(), op], 4).unwrap_err();
            assert!(format!("{err:?}").starts_with(expected), "{err:?}");
        }
    }
}
