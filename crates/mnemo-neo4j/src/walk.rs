//! The breadth-first walk of `GraphRead::walk`, hop by hop: the database returns the
//! visible relations touching the frontier (`walk_hop.cypher`), this decides which are new,
//! at which hop, and which entities form the next frontier — the same order and hops as the
//! embedded store's in-memory walk.

use std::collections::HashSet;

use mnemo_core::ports::WalkedRelation;
use mnemo_core::{EntityId, Relation, RelationId};

#[derive(Debug, Default)]
pub(crate) struct Bfs {
    seen_entities: HashSet<EntityId>,
    seen_relations: HashSet<RelationId>,
    /// Entities in discovery order, seeds first.
    pub(crate) entities: Vec<EntityId>,
    /// The entities the next hop expands.
    pub(crate) frontier: Vec<EntityId>,
    relations: Vec<WalkedRelation>,
}

impl Bfs {
    /// Starts from the seeds that exist (in order, each once).
    pub(crate) fn new(seeds: impl IntoIterator<Item = EntityId>) -> Bfs {
        let mut bfs = Bfs::default();
        for seed in seeds {
            if bfs.seen_entities.insert(seed) {
                bfs.entities.push(seed);
                bfs.frontier.push(seed);
            }
        }
        bfs
    }

    /// Takes the relations reached from the frontier at `hop` as `(frontier entity,
    /// relation)` rows, in any order; returns whether there is a next frontier.
    pub(crate) fn step(&mut self, hop: u8, mut rows: Vec<(EntityId, Relation)>) -> bool {
        // Each frontier entity's relations by (recorded_at, id), entities in frontier order.
        let position = |e: &EntityId| self.frontier.iter().position(|f| f == e);
        rows.sort_by_key(|(from, r)| (position(from), r.times.recorded_at, r.id));
        let mut next = Vec::new();
        for (from, relation) in rows {
            if !self.seen_relations.insert(relation.id) {
                continue;
            }
            let other = if relation.source == from {
                relation.target
            } else {
                relation.source
            };
            if self.seen_entities.insert(other) {
                self.entities.push(other);
                next.push(other);
            }
            self.relations.push(WalkedRelation {
                relation,
                hops: hop,
            });
        }
        self.frontier = next;
        !self.frontier.is_empty()
    }

    /// The relations reached, by hop, then recorded_at, then id.
    pub(crate) fn into_relations(mut self) -> Vec<WalkedRelation> {
        self.relations
            .sort_by_key(|w| (w.hops, w.relation.times.recorded_at, w.relation.id));
        self.relations
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    use chrono::{TimeZone, Utc};
    use mnemo_core::{RelationTimes, RelationType, Scope};

    use super::*;

    /// A graph as the database would serve it to `walk_hop.cypher`: every relation
    /// touching a frontier entity, from that entity, in no particular order.
    struct Graph {
        ids: BTreeMap<&'static str, EntityId>,
        relations: Vec<Relation>,
    }

    impl Graph {
        fn new(edges: &[(&'static str, &'static str, u32)]) -> Graph {
            let mut ids = BTreeMap::new();
            let scope = Scope::user("u").unwrap();
            let mut relations = Vec::new();
            for (s, t, recorded) in edges {
                let s_id = *ids.entry(*s).or_insert_with(EntityId::new);
                let t_id = *ids.entry(*t).or_insert_with(EntityId::new);
                relations.push(Relation {
                    id: RelationId::new(),
                    scope: scope.clone(),
                    source: s_id,
                    relation_type: RelationType::parse("LINKS").unwrap(),
                    target: t_id,
                    fact: format!("{s}->{t}"),
                    times: RelationTimes {
                        valid_from: None,
                        valid_to: None,
                        recorded_at: Utc.with_ymd_and_hms(2024, 1, *recorded, 0, 0, 0).unwrap(),
                        invalidated_at: None,
                        retracted_at: None,
                    },
                    invalidated_by: None,
                    invalidated_in: None,
                    episodes: Vec::new(),
                    mentions: 1,
                    stated_end: None,
                });
            }
            Graph { ids, relations }
        }

        fn hop_rows(&self, frontier: &[EntityId]) -> Vec<(EntityId, Relation)> {
            let mut rows = Vec::new();
            // Reversed, so the walk cannot rely on the order rows arrive in.
            for r in self.relations.iter().rev() {
                for from in frontier {
                    if r.source == *from || r.target == *from {
                        rows.push((*from, r.clone()));
                    }
                }
            }
            rows
        }

        fn walk(&self, seeds: &[&str], depth: u8) -> String {
            let mut bfs = Bfs::new(seeds.iter().map(|s| self.ids[s]));
            for hop in 1..=depth {
                let rows = self.hop_rows(&bfs.frontier);
                if !bfs.step(hop, rows) {
                    break;
                }
            }
            let name = |id: EntityId| *self.ids.iter().find(|(_, v)| **v == id).unwrap().0;
            let mut entities: Vec<&str> = bfs.entities.iter().map(|e| name(*e)).collect();
            entities.sort_unstable();
            let mut out = format!("{}:", entities.join(","));
            for w in bfs.into_relations() {
                let _ = write!(out, " {}@{}", w.relation.fact, w.hops);
            }
            out
        }
    }

    #[test]
    fn hops_follow_the_embedded_walk() {
        // The chain of the contract suite: a -> b <- c -> d.
        let chain = Graph::new(&[("a", "b", 1), ("c", "b", 1), ("c", "d", 1)]);
        // The triangle x -> y -> z -> x with a parallel x -> y recorded later.
        let cycle = Graph::new(&[("x", "y", 1), ("y", "z", 1), ("z", "x", 1), ("x", "y", 2)]);
        let cases: &[(&Graph, &[&str], u8, &str)] = &[
            (&chain, &["a"], 1, "a,b: a->b@1"),
            (&chain, &["a"], 2, "a,b,c: a->b@1 c->b@2"),
            (&chain, &["a"], 3, "a,b,c,d: a->b@1 c->b@2 c->d@3"),
            (&chain, &["b"], 1, "a,b,c: a->b@1 c->b@1"),
            (&chain, &["a", "d"], 2, "a,b,c,d: a->b@1 c->d@1 c->b@2"),
            (&chain, &["a", "a"], 1, "a,b: a->b@1"),
            (&chain, &["d"], 0, "d:"),
            (&cycle, &["x"], 1, "x,y,z: x->y@1 z->x@1 x->y@1"),
            (&cycle, &["x"], 3, "x,y,z: x->y@1 z->x@1 x->y@1 y->z@2"),
            (&cycle, &["y", "z"], 3, "x,y,z: x->y@1 y->z@1 z->x@1 x->y@1"),
        ];
        for (graph, seeds, depth, expected) in cases {
            assert_eq!(
                graph.walk(seeds, *depth),
                *expected,
                "seeds {seeds:?} depth {depth}"
            );
        }
    }
}
