//! The one walk: a bounded breadth-first walk over visible relations, one
//! `GraphRead::relations` read (an adjacency index on every backend) per expanded entity.
//!
//! Search and subgraph both walk here, so every backend walks the same way: a store only
//! answers "the relations of this entity visible at (T, K)". An unbounded walk around a hub
//! is most of a large scope (on 100k relations: 40k relations, 200–350 ms at depth 3), so
//! this one reads at most `per_entity` relations per entity and expands at most `frontier`
//! entities per hop, the most promising first, and its cost is bounded whatever the graph
//! looks like.

use std::collections::{HashMap, HashSet};

use super::MAX_SUBGRAPH_EDGES;
use crate::ports::{GraphRead, RelationQuery};
use crate::{EntityId, Relation, RelationId, Scope, StoreError, Visibility};

/// A relation reached by a walk, with the hop at which it was reached (1 = it touches a
/// seed entity).
#[derive(Clone, Debug, PartialEq)]
pub struct WalkedRelation {
    pub relation: Relation,
    pub hops: u8,
}

/// How far a walk may spread.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Relations read per expanded entity (the store lists them oldest first).
    pub per_entity: usize,
    /// Entities expanded per hop after the seeds.
    pub frontier: usize,
    /// Relations collected in all.
    pub max_relations: usize,
}

/// A search's walk: about 20 index reads at depth 3.
pub const SEARCH: Bounds = Bounds {
    per_entity: 40,
    frontier: 8,
    max_relations: 1000,
};

/// A subgraph's walk: complete up to [`MAX_SUBGRAPH_EDGES`] relations (every entity
/// reached is expanded until then).
pub const SUBGRAPH: Bounds = Bounds {
    per_entity: MAX_SUBGRAPH_EDGES,
    frontier: MAX_SUBGRAPH_EDGES,
    max_relations: MAX_SUBGRAPH_EDGES,
};

/// Walks from `seeds` to `depth` hops over relations visible at `at`. Relations come in
/// hop order; within a hop, in the order the store lists each entity's relations. The
/// next hop expands the unvisited ends reached through the relations `priority` rates
/// highest (ties: first reached first).
pub async fn walk<G: GraphRead + ?Sized>(
    graph: &G,
    scope: &Scope,
    seeds: &[EntityId],
    depth: u8,
    at: Visibility,
    bounds: Bounds,
    priority: impl Fn(&Relation) -> f32,
) -> Result<Vec<WalkedRelation>, StoreError> {
    let mut visited: HashSet<EntityId> = HashSet::new();
    let mut frontier: Vec<EntityId> = seeds
        .iter()
        .copied()
        .filter(|e| visited.insert(*e))
        .collect();
    let mut seen: HashSet<RelationId> = HashSet::new();
    let mut out: Vec<WalkedRelation> = Vec::new();
    for hop in 1..=depth {
        if frontier.is_empty() {
            break;
        }
        let reads = frontier.iter().map(|&entity| {
            let query = RelationQuery {
                entity: Some(entity),
                outgoing_only: false,
                relation_type: None,
                visible_at: Some(at),
                limit: bounds.per_entity,
            };
            async move { graph.relations(scope, &query).await }
        });
        let lists = super::join_all(reads.collect(), super::CONCURRENCY).await;
        // Unvisited ends, each with the best priority it was reached with.
        let mut reached: Vec<(EntityId, f32)> = Vec::new();
        let mut reached_at: HashMap<EntityId, usize> = HashMap::new();
        'lists: for (&entity, list) in frontier.iter().zip(lists) {
            for relation in list? {
                if !seen.insert(relation.id) {
                    continue;
                }
                let other = if relation.source == entity {
                    relation.target
                } else {
                    relation.source
                };
                if !visited.contains(&other) {
                    let rating = priority(&relation);
                    match reached_at.get(&other) {
                        Some(&i) => reached[i].1 = reached[i].1.max(rating),
                        None => {
                            reached_at.insert(other, reached.len());
                            reached.push((other, rating));
                        }
                    }
                }
                out.push(WalkedRelation {
                    relation,
                    hops: hop,
                });
                if out.len() == bounds.max_relations {
                    break 'lists;
                }
            }
        }
        if out.len() == bounds.max_relations {
            break;
        }
        // Stable: equal ratings keep the order they were reached in.
        reached.sort_by(|a, b| b.1.total_cmp(&a.1));
        frontier = reached
            .into_iter()
            .take(bounds.frontier)
            .map(|(entity, _)| entity)
            .filter(|e| visited.insert(*e))
            .collect();
    }
    Ok(out)
}
