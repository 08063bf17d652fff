//! Interval placement on single-valued timelines: the relations of one `one`-cardinality
//! type leaving one entity form a chain ordered by `valid_from`, and each one ends where
//! the next one starts.
//!
//! The chain is a pure function of its members, so it does not depend on the order the
//! members arrived in; every write that adds, deletes or retracts a member recomputes it
//! (under the scope's write lock) and emits ops only for the members whose end changed.
//!
//! Rules:
//! - order: `valid_from` (a member without one first), then the target's name, then the
//!   fact, then the id; a member without `valid_from` is never a successor;
//! - same `valid_from`, different target: the one later in that order holds; the others
//!   are stored ended at their own start (never visible at any event time);
//! - a member is cut by its successor (the next non-retracted member with a `valid_from`)
//!   when the successor starts before the member's own end: `valid_to` = the successor's
//!   `valid_from`, `invalidated_by` = the successor, `invalidated_at` = the successor's
//!   `recorded_at` when it was recorded later (else none: known ended when recorded),
//!   `invalidated_in` = the successor's first episode, likewise only when it came later;
//! - a member that is not cut keeps its own end (the one it was stated with, or a
//!   restatement gave it); a member that was cut and no longer is gets its own end back
//!   exactly (`Relation::stated_end`: `valid_to`, `invalidated_at` and the restatement's
//!   episode as `invalidated_in`), or is open again when it has none.

use std::collections::HashMap;

use crate::engine::Reader;
use crate::ports::{RelationQuery, WriteOp};
use crate::{
    EntityId, EpisodeId, MemoryError, Relation, RelationId, RelationTimes, RelationType, Scope,
    Timestamp,
};

/// A single-valued timeline: one entity, one relation type.
pub(crate) type TimelineKey = (EntityId, RelationType);

/// How a relation ends: what placement decides and compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    valid_to: Option<Timestamp>,
    invalidated_at: Option<Timestamp>,
    invalidated_by: Option<RelationId>,
    invalidated_in: Option<EpisodeId>,
}

impl End {
    fn of(relation: &Relation) -> End {
        End {
            valid_to: relation.times.valid_to,
            invalidated_at: relation.times.invalidated_at,
            invalidated_by: relation.invalidated_by,
            invalidated_in: relation.invalidated_in,
        }
    }

    /// The end the relation has on its own: its current end when no relation cut it,
    /// else the end it was stated with (open when it has none).
    fn own(relation: &Relation) -> End {
        if relation.invalidated_by.is_none() {
            return End::of(relation);
        }
        let stated = relation.stated_end;
        End {
            valid_to: stated.map(|s| s.valid_to),
            invalidated_at: stated.and_then(|s| s.invalidated_at),
            invalidated_by: None,
            invalidated_in: stated.and_then(|s| s.episode),
        }
    }
}

/// Every member of the timeline, ended or not, from the entity's adjacency.
pub(crate) async fn load(
    reader: Reader<'_>,
    scope: &Scope,
    (source, relation_type): &TimelineKey,
) -> Result<Vec<Relation>, MemoryError> {
    Ok(reader
        .graph
        .relations(
            scope,
            &RelationQuery {
                entity: Some(*source),
                outgoing_only: true,
                relation_type: Some(relation_type.clone()),
                visible_at: None,
                limit: usize::MAX,
            },
        )
        .await?)
}

/// Plays the ops of a batch on the members, as the store will apply them.
pub(crate) fn overlay(members: &mut Vec<Relation>, key: &TimelineKey, ops: &[WriteOp]) {
    for op in ops {
        match op {
            WriteOp::AddRelation(relation)
                if relation.source == key.0 && relation.relation_type == key.1 =>
            {
                members.retain(|m| m.id != relation.id);
                members.push(relation.clone());
            }
            WriteOp::DeleteRelation { relation } => members.retain(|m| m.id != *relation),
            other => {
                let Some(member) = members.iter_mut().find(|m| Some(m.id) == target(other)) else {
                    continue;
                };
                match other {
                    WriteOp::EndRelation {
                        valid_to,
                        invalidated_at,
                        invalidated_by,
                        episode,
                        ..
                    } => {
                        member.times.valid_to = Some(*valid_to);
                        member.times.invalidated_at = *invalidated_at;
                        member.invalidated_by = *invalidated_by;
                        member.invalidated_in = *episode;
                    }
                    WriteOp::RetractRelation {
                        retracted_at,
                        episode,
                        ..
                    } => {
                        member.times.retracted_at = Some(*retracted_at);
                        member.invalidated_in = *episode;
                    }
                    WriteOp::RestoreRelation { times, .. } => {
                        member.times = *times;
                        member.invalidated_by = None;
                        member.invalidated_in = None;
                    }
                    WriteOp::RemoveProvenance { episode, .. } => {
                        member.episodes.retain(|e| e != episode);
                    }
                    WriteOp::SetStatedEnd { stated_end, .. } => member.stated_end = *stated_end,
                    _ => {}
                }
            }
        }
    }
}

fn target(op: &WriteOp) -> Option<RelationId> {
    match op {
        WriteOp::EndRelation { relation, .. }
        | WriteOp::RetractRelation { relation, .. }
        | WriteOp::RestoreRelation { relation, .. }
        | WriteOp::RemoveProvenance { relation, .. }
        | WriteOp::SetStatedEnd { relation, .. } => Some(*relation),
        _ => None,
    }
}

/// The ops that bring every member to its place in the chain. Members added by the batch
/// (`fresh`) are rewritten in place instead: their `AddRelation` carries the end.
pub(crate) async fn place(
    reader: Reader<'_>,
    scope: &Scope,
    members: &[Relation],
    fresh: &mut [WriteOp],
) -> Result<Vec<WriteOp>, MemoryError> {
    let names = tie_names(reader, scope, members, fresh).await?;
    let mut order: Vec<&Relation> = members.iter().collect();
    order.sort_by(|a, b| {
        let name = |r: &Relation| names.get(&r.target).cloned().unwrap_or_default();
        (
            a.times.valid_from,
            name(a),
            crate::text::same_text_key(&a.fact),
            a.id,
        )
            .cmp(&(
                b.times.valid_from,
                name(b),
                crate::text::same_text_key(&b.fact),
                b.id,
            ))
    });
    let mut ops = Vec::new();
    for (i, member) in order.iter().enumerate() {
        let successor = order[i + 1..]
            .iter()
            .find(|s| s.times.valid_from.is_some() && s.times.retracted_at.is_none());
        let own = End::own(member);
        let wanted = match successor {
            Some(next)
                if own
                    .valid_to
                    .is_none_or(|to| next.times.valid_from.is_some_and(|from| from < to)) =>
            {
                let learned_later = next.times.recorded_at > member.times.recorded_at;
                End {
                    valid_to: next.times.valid_from,
                    // Recorded after its successor: known ended when recorded.
                    invalidated_at: learned_later.then_some(next.times.recorded_at),
                    invalidated_by: Some(next.id),
                    invalidated_in: next.episodes.first().copied().filter(|_| learned_later),
                }
            }
            _ => own,
        };
        if wanted == End::of(member) {
            continue;
        }
        if let Some(WriteOp::AddRelation(added)) = fresh
            .iter_mut()
            .find(|op| matches!(op, WriteOp::AddRelation(r) if r.id == member.id))
        {
            added.times.valid_to = wanted.valid_to;
            added.times.invalidated_at = wanted.invalidated_at;
            added.invalidated_by = wanted.invalidated_by;
            added.invalidated_in = wanted.invalidated_in;
            continue;
        }
        ops.push(end_op(member, wanted));
    }
    Ok(ops)
}

/// The op that gives an existing relation the wanted end. Its own end with a `valid_to`
/// is an `EndRelation` naming no successor, so the episode that gave it (a restatement)
/// is kept as `invalidated_in`, which `RestoreRelation` would clear.
fn end_op(member: &Relation, wanted: End) -> WriteOp {
    match wanted.valid_to {
        Some(valid_to) => WriteOp::EndRelation {
            relation: member.id,
            valid_to,
            invalidated_at: wanted.invalidated_at,
            invalidated_by: wanted.invalidated_by,
            episode: wanted.invalidated_in,
        },
        _ => WriteOp::RestoreRelation {
            relation: member.id,
            times: RelationTimes {
                valid_to: wanted.valid_to,
                invalidated_at: wanted.invalidated_at,
                ..member.times
            },
        },
    }
}

/// Target names, loaded only for members that share a `valid_from` (the tie-break);
/// entities the batch creates are named by its upserts.
async fn tie_names(
    reader: Reader<'_>,
    scope: &Scope,
    members: &[Relation],
    batch: &[WriteOp],
) -> Result<HashMap<EntityId, String>, MemoryError> {
    let mut starts: HashMap<Option<Timestamp>, usize> = HashMap::new();
    for member in members {
        *starts.entry(member.times.valid_from).or_default() += 1;
    }
    let mut names: HashMap<EntityId, String> = batch
        .iter()
        .filter_map(|op| match op {
            WriteOp::UpsertEntity(entity) => Some((entity.id, entity.name.clone())),
            _ => None,
        })
        .collect();
    for member in members {
        if starts[&member.times.valid_from] > 1 && !names.contains_key(&member.target) {
            let name = reader
                .graph
                .entity(scope, member.target)
                .await?
                .map(|e| e.name)
                .unwrap_or_default();
            names.insert(member.target, name);
        }
    }
    Ok(names)
}
