//! The temporal reads: the subgraph around an entity at (T, K), the full timeline of an
//! entity or a relation type (ended and retracted relations included, with what ended
//! them), the changes of a transaction-time window, and entity listings.

use serde::{Deserialize, Serialize};

use super::resolve::{Names, as_known_at};
use super::walk::{self, SUBGRAPH};
use super::{MAX_DEPTH, Subgraph};
use crate::ports::{GraphRead, Page, RelationQuery};
use crate::{
    Entity, EntityId, EntityRef, Memory, MemoryError, Relation, RelationType, RelationView, Scope,
    Timestamp, ValidationError, Visibility, is_visible,
};

/// Relations a subgraph read returns at most, nearest hops first.
pub const MAX_SUBGRAPH_EDGES: usize = 500;
/// Relations a timeline read returns at most, oldest first.
pub const MAX_TIMELINE: usize = 1000;

/// Where a relation stands at the read point (T, K).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationStatus {
    /// Visible at (T, K).
    Valid,
    /// Starts after T.
    NotYetValid,
    /// Ended at or before T, as known at K.
    Ended,
    /// Known at K to have never been true.
    Retracted,
}

/// One relation of a timeline, as known at K.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The relation; its `times` hold the validity interval.
    pub relation: RelationView,
    pub status: RelationStatus,
    /// The relation whose arrival ended it, if one did (and still exists).
    pub ended_by: Option<RelationView>,
}

/// Relations added, ended and retracted in a transaction-time window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangesView {
    pub added: Vec<RelationView>,
    pub invalidated: Vec<RelationView>,
    pub retracted: Vec<RelationView>,
}

fn status(relation: &Relation, at: &Visibility) -> RelationStatus {
    let times = &relation.times;
    if times.retracted_at.is_some_and(|r| r <= at.known_at) {
        RelationStatus::Retracted
    } else if is_visible(times, at) {
        RelationStatus::Valid
    } else if times.valid_from.is_some_and(|from| from > at.as_of) {
        RelationStatus::NotYetValid
    } else {
        RelationStatus::Ended
    }
}

fn check_depth(depth: u8) -> Result<(), ValidationError> {
    if (1..=MAX_DEPTH).contains(&depth) {
        Ok(())
    } else {
        Err(ValidationError::Request(format!(
            "depth must be between 1 and {MAX_DEPTH}, got {depth}"
        )))
    }
}

async fn entity_named(
    graph: &dyn GraphRead,
    scope: &Scope,
    name: &str,
) -> Result<Entity, MemoryError> {
    graph
        .entity_by_name(scope, name)
        .await?
        .ok_or_else(|| MemoryError::NotFound {
            kind: "entity",
            id: name.to_owned(),
        })
}

impl Memory {
    /// The entity named `entity` (name or alias) and what surrounds it to `depth` hops
    /// (1 to 3) over relations visible at `at`, as known at `at.known_at`; at most
    /// [`MAX_SUBGRAPH_EDGES`] relations, nearest first.
    pub async fn subgraph(
        &self,
        scope: &Scope,
        entity: &str,
        depth: u8,
        at: Visibility,
    ) -> Result<Subgraph, MemoryError> {
        check_depth(depth)?;
        let at = at.checked()?;
        let graph: &dyn GraphRead = &*self.graph;
        let root = entity_named(graph, scope, entity).await?;
        let walked = walk::walk(graph, scope, &[root.id], depth, at, SUBGRAPH, |_| 0.0).await?;
        let relations: Vec<Relation> = walked
            .into_iter()
            .map(|w| as_known_at(w.relation, at.known_at))
            .collect();
        let mut names = Names::new(graph, scope);
        names.remember(std::slice::from_ref(&root));
        names
            .prefetch(relations.iter().flat_map(|r| [r.source, r.target]))
            .await?;
        let edges = names.views(relations).await?;
        let mut nodes = vec![EntityRef::from(&root)];
        for edge in &edges {
            for end in [&edge.source, &edge.target] {
                if !nodes.iter().any(|n| n.id == end.id) {
                    nodes.push(end.clone());
                }
            }
        }
        Ok(Subgraph { nodes, edges })
    }

    /// The relations of an entity (by name or alias) and/or of a relation type, oldest
    /// start first. With `include_invalid`, the full timeline as known at `at.known_at`:
    /// ended and retracted relations too, each with its status at `at` and the relation
    /// that ended it. Without, only the relations visible at `at`. At most
    /// [`MAX_TIMELINE`] relations.
    pub async fn timeline(
        &self,
        scope: &Scope,
        entity: Option<&str>,
        relation_type: Option<RelationType>,
        include_invalid: bool,
        at: Visibility,
    ) -> Result<Vec<TimelineEntry>, MemoryError> {
        let at = at.checked()?;
        let graph: &dyn GraphRead = &*self.graph;
        let entity = match entity {
            Some(name) => Some(entity_named(graph, scope, name).await?.id),
            None => None,
        };
        let query = RelationQuery {
            entity,
            outgoing_only: false,
            relation_type,
            visible_at: (!include_invalid).then_some(at),
            limit: MAX_TIMELINE,
        };
        let mut relations: Vec<Relation> = graph
            .relations(scope, &query)
            .await?
            .into_iter()
            .filter(|r| r.times.recorded_at <= at.known_at)
            .map(|r| as_known_at(r, at.known_at))
            .collect();
        relations.sort_by_key(|r| {
            (
                r.times.valid_from.unwrap_or(r.times.recorded_at),
                r.times.recorded_at,
                r.id,
            )
        });

        let mut names = Names::new(graph, scope);
        let mut out = Vec::with_capacity(relations.len());
        for relation in relations {
            let ended_by = match relation.invalidated_by {
                Some(id) => match graph.relation(scope, id).await? {
                    Some(ender) => names.view(as_known_at(ender, at.known_at)).await?,
                    None => None,
                },
                None => None,
            };
            let status = status(&relation, &at);
            if let Some(view) = names.view(relation).await? {
                out.push(TimelineEntry {
                    relation: view,
                    status,
                    ended_by,
                });
            }
        }
        Ok(out)
    }

    /// Relations added (`recorded_at`), ended (`invalidated_at`) and retracted
    /// (`retracted_at`) in the transaction-time window `[since, until)`.
    pub async fn changes(
        &self,
        scope: &Scope,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<ChangesView, MemoryError> {
        let since = crate::time::check("since", since)?;
        let until = crate::time::check("until", until)?;
        if since > until {
            return Err(ValidationError::Request(format!(
                "since ({since}) must not be after until ({until})"
            ))
            .into());
        }
        let graph: &dyn GraphRead = &*self.graph;
        let changes = graph.changes(scope, since, until).await?;
        let mut names = Names::new(graph, scope);
        Ok(ChangesView {
            added: names.views(changes.added).await?,
            invalidated: names.views(changes.invalidated).await?,
            retracted: names.views(changes.retracted).await?,
        })
    }

    /// The scope's entities, by name.
    pub async fn entities(&self, scope: &Scope, page: Page) -> Result<Vec<Entity>, MemoryError> {
        Ok(self.graph.entities(scope, page).await?)
    }

    /// One entity of the scope; `NotFound` when it is not there.
    pub async fn entity(&self, scope: &Scope, id: EntityId) -> Result<Entity, MemoryError> {
        self.graph
            .entity(scope, id)
            .await?
            .ok_or_else(|| MemoryError::NotFound {
                kind: "entity",
                id: id.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::RelationTimes;

    fn day(d: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn status_at_the_read_point() {
        let times =
            |from: u32, to: Option<u32>, invalidated: Option<u32>, retracted: Option<u32>| {
                RelationTimes {
                    valid_from: Some(day(from)),
                    valid_to: to.map(day),
                    recorded_at: day(from),
                    invalidated_at: invalidated.map(day),
                    retracted_at: retracted.map(day),
                }
            };
        let cases = [
            (
                "current",
                times(5, None, None, None),
                (10, 10),
                RelationStatus::Valid,
            ),
            (
                "future",
                times(5, None, None, None),
                (4, 10),
                RelationStatus::NotYetValid,
            ),
            (
                "ended",
                times(5, Some(8), Some(9), None),
                (10, 10),
                RelationStatus::Ended,
            ),
            (
                "ended, before the end",
                times(5, Some(8), Some(9), None),
                (7, 10),
                RelationStatus::Valid,
            ),
            (
                "retracted",
                times(5, None, None, Some(9)),
                (10, 10),
                RelationStatus::Retracted,
            ),
            (
                "retracted later",
                times(5, None, None, Some(9)),
                (10, 8),
                RelationStatus::Valid,
            ),
        ];
        let scope = Scope::user("u").unwrap();
        for (name, times, (t, k), expected) in cases {
            let relation = Relation {
                id: crate::RelationId::new(),
                scope: scope.clone(),
                source: EntityId::new(),
                relation_type: RelationType::parse("LIVES_IN").unwrap(),
                target: EntityId::new(),
                fact: String::new(),
                times,
                invalidated_by: None,
                invalidated_in: None,
                episodes: Vec::new(),
                mentions: 1,
                stated_end: None,
            };
            let at = Visibility {
                as_of: day(t),
                known_at: day(k),
            };
            assert_eq!(status(&relation, &at), expected, "case {name}");
        }
    }
}
