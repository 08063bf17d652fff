//! One scope's graph in memory (petgraph), so walks never touch SQLite until the subgraph's
//! records are fetched by id.

use std::collections::{HashMap, HashSet};

use mnemo_core::{EntityId, RelationId, RelationTimes, Visibility, is_visible};
use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableGraph};
use petgraph::visit::EdgeRef;

/// A relation as the walk sees it: its id and the times visibility is decided on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Edge {
    pub id: RelationId,
    pub times: RelationTimes,
}

/// Entities are nodes, relations are directed edges; node and edge indexes by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Adjacency {
    graph: StableGraph<EntityId, Edge>,
    nodes: HashMap<EntityId, NodeIndex>,
    edges: HashMap<RelationId, EdgeIndex>,
}

/// What a walk reached: entities in discovery order (seeds first) and relations with the
/// hop at which they were reached, ordered by hop, then `recorded_at`, then id.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Reached {
    pub entities: Vec<EntityId>,
    pub relations: Vec<(RelationId, u8)>,
}

impl Adjacency {
    pub(crate) fn add_entity(&mut self, id: EntityId) -> NodeIndex {
        *self
            .nodes
            .entry(id)
            .or_insert_with(|| self.graph.add_node(id))
    }

    /// Adds the relation, replacing one with the same id.
    pub(crate) fn add_relation(
        &mut self,
        id: RelationId,
        source: EntityId,
        target: EntityId,
        times: RelationTimes,
    ) {
        self.remove_relation(&id);
        let (a, b) = (self.add_entity(source), self.add_entity(target));
        let edge = self.graph.add_edge(a, b, Edge { id, times });
        self.edges.insert(id, edge);
    }

    pub(crate) fn set_times(&mut self, id: &RelationId, times: RelationTimes) {
        if let Some(edge) = self
            .edges
            .get(id)
            .and_then(|e| self.graph.edge_weight_mut(*e))
        {
            edge.times = times;
        }
    }

    pub(crate) fn remove_relation(&mut self, id: &RelationId) {
        if let Some(edge) = self.edges.remove(id) {
            self.graph.remove_edge(edge);
        }
    }

    /// Removes the entity's node and any relation still attached to it.
    pub(crate) fn remove_entity(&mut self, id: &EntityId) {
        if let Some(node) = self.nodes.remove(id) {
            let attached: Vec<RelationId> = self
                .graph
                .edges_directed(node, Direction::Outgoing)
                .chain(self.graph.edges_directed(node, Direction::Incoming))
                .map(|e| e.weight().id)
                .collect();
            for relation in attached {
                self.edges.remove(&relation);
            }
            self.graph.remove_node(node);
        }
    }

    pub(crate) fn entity_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every relation as `(id, source, target, times)`, sorted by id.
    pub(crate) fn relations(&self) -> Vec<(RelationId, EntityId, EntityId, RelationTimes)> {
        let mut out: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (source, target) = self.graph.edge_endpoints(e)?;
                let edge = &self.graph[e];
                Some((edge.id, self.graph[source], self.graph[target], edge.times))
            })
            .collect();
        out.sort_by_key(|r| r.0);
        out
    }

    /// Breadth-first, both directions, over relations visible at `at`, up to `depth` hops.
    /// Seeds that are not entities of the scope are ignored.
    pub(crate) fn walk(&self, seeds: &[EntityId], depth: u8, at: &Visibility) -> Reached {
        let mut reached = Reached::default();
        let mut seen_nodes = HashSet::new();
        let mut frontier = Vec::new();
        for seed in seeds {
            if let Some(&node) = self.nodes.get(seed)
                && seen_nodes.insert(node)
            {
                reached.entities.push(*seed);
                frontier.push(node);
            }
        }
        let mut seen_edges = HashSet::new();
        let mut relations = Vec::new();
        for hop in 1..=depth {
            let mut next = Vec::new();
            for &node in &frontier {
                let mut edges: Vec<_> = self
                    .graph
                    .edges_directed(node, Direction::Outgoing)
                    .chain(self.graph.edges_directed(node, Direction::Incoming))
                    .filter(|e| is_visible(&e.weight().times, at))
                    .collect();
                edges.sort_by_key(|e| (e.weight().times.recorded_at, e.weight().id));
                for e in edges {
                    if !seen_edges.insert(e.id()) {
                        continue;
                    }
                    relations.push((hop, e.weight().times.recorded_at, e.weight().id));
                    let other = if e.source() == node {
                        e.target()
                    } else {
                        e.source()
                    };
                    if seen_nodes.insert(other) {
                        reached.entities.push(self.graph[other]);
                        next.push(other);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        relations.sort();
        reached.relations = relations
            .into_iter()
            .map(|(hop, _, id)| (id, hop))
            .collect();
        reached
    }
}
