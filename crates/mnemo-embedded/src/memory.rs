//! The in-memory state of the store, per scope: entity, relation and fact vectors (their
//! 8-bit copies; the `f32` vectors stay in SQLite) for exact search (walks read SQLite's
//! indexes, see `mnemo_core::read::walk`). Loaded from SQLite on open; changed only after a
//! transaction commits, through [`Effect`]s, so it always mirrors committed data.

use std::collections::HashMap;
use std::fmt::Write as _;

use mnemo_core::{EntityId, FactId, RelationId, RelationTimes, SkippedRecords};
use rusqlite::Connection;

use crate::codec::{keep, parse_id, parse_vector, relation_times};
use crate::error::Result;
use crate::vectors::VectorSet;

/// Everything held in memory for one scope.
#[derive(Debug)]
pub(crate) struct ScopeVectors {
    pub entities: VectorSet<EntityId, ()>,
    /// Relation embeddings with their validity, for filtered search.
    pub relations: VectorSet<RelationId, RelationTimes>,
    pub facts: VectorSet<FactId, ()>,
}

impl ScopeVectors {
    fn new(dimension: usize) -> Self {
        ScopeVectors {
            entities: VectorSet::new(dimension),
            relations: VectorSet::new(dimension),
            facts: VectorSet::new(dimension),
        }
    }
}

/// A committed change to mirror in memory. `scope` is `Scope::key()`.
#[derive(Debug)]
pub(crate) enum Effect {
    Entity {
        scope: String,
        id: EntityId,
        vector: Vec<f32>,
    },
    RemoveEntity {
        scope: String,
        id: EntityId,
    },
    RelationVector {
        scope: String,
        id: RelationId,
        times: RelationTimes,
        vector: Vec<f32>,
    },
    RelationVectorTimes {
        scope: String,
        id: RelationId,
        times: RelationTimes,
    },
    RemoveRelationVector {
        scope: String,
        id: RelationId,
    },
    Fact {
        scope: String,
        id: FactId,
        vector: Vec<f32>,
    },
    RemoveFact {
        scope: String,
        id: FactId,
    },
    EraseScope {
        scope: String,
    },
}

/// All scopes' in-memory state, keyed by `Scope::key()`.
#[derive(Debug)]
pub(crate) struct ResidentVectors {
    dimension: usize,
    scopes: HashMap<String, ScopeVectors>,
}

impl ResidentVectors {
    pub(crate) fn scope(&self, key: &str) -> Option<&ScopeVectors> {
        self.scopes.get(key)
    }

    fn scope_mut(&mut self, key: String) -> &mut ScopeVectors {
        let dimension = self.dimension;
        self.scopes
            .entry(key)
            .or_insert_with(|| ScopeVectors::new(dimension))
    }

    /// Reads every vector from the database; undecodable rows are
    /// skipped and counted in `skipped` (graph tables) or `skipped_vectors`.
    pub(crate) fn load(
        conn: &Connection,
        dimension: usize,
        skipped: &SkippedRecords,
        skipped_vectors: &SkippedRecords,
    ) -> Result<ResidentVectors> {
        let mut memory = ResidentVectors {
            dimension,
            scopes: HashMap::new(),
        };
        // Sizes first, so the contiguous vector buffers are allocated once.
        for (table, kind) in [("entities", 0), ("relation_vectors", 1), ("facts", 2)] {
            let mut stmt = conn.prepare(&format!(
                "SELECT scope, count(*) FROM {table} GROUP BY scope"
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let n = usize::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                let scope = memory.scope_mut(row.get(0)?);
                match kind {
                    0 => scope.entities.reserve(n),
                    1 => scope.relations.reserve(n),
                    _ => scope.facts.reserve(n),
                }
            }
        }

        // A row that does not decode is logged, counted and left out (`keep`): the store
        // opens whatever one row says, and reads skip that row too.
        let mut stmt = conn.prepare("SELECT scope, id, embedding FROM entities")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let decoded = (|| {
                let id: EntityId = parse_id(row.get_ref(1)?.as_str()?)?;
                Ok((id, parse_vector(row.get_ref(2)?.as_blob()?, dimension)?))
            })();
            if let Some((id, vector)) = keep(skipped, "entities", row, 1, decoded)? {
                let scope = memory.scope_mut(row.get(0)?);
                scope.entities.upsert(id, (), &vector);
            }
        }

        let mut stmt = conn.prepare(
            "SELECT scope, id, valid_from, valid_to, recorded_at, invalidated_at, retracted_at, \
             vector FROM relation_vectors",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let decoded = (|| {
                let id = parse_id(row.get_ref(1)?.as_str()?)?;
                let times = relation_times(row, 2)?;
                Ok((
                    id,
                    times,
                    parse_vector(row.get_ref(7)?.as_blob()?, dimension)?,
                ))
            })();
            if let Some((id, times, vector)) =
                keep(skipped_vectors, "relation_vectors", row, 1, decoded)?
            {
                memory
                    .scope_mut(row.get(0)?)
                    .relations
                    .upsert(id, times, &vector);
            }
        }

        let mut stmt = conn.prepare("SELECT scope, id, vector FROM facts")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let decoded = (|| {
                let id: FactId = parse_id(row.get_ref(1)?.as_str()?)?;
                Ok((id, parse_vector(row.get_ref(2)?.as_blob()?, dimension)?))
            })();
            if let Some((id, vector)) = keep(skipped_vectors, "facts", row, 1, decoded)? {
                memory.scope_mut(row.get(0)?).facts.upsert(id, (), &vector);
            }
        }
        Ok(memory)
    }

    pub(crate) fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Entity { scope, id, vector } => {
                    self.scope_mut(scope).entities.upsert(id, (), &vector);
                }
                Effect::RemoveEntity { scope, id } => {
                    if let Some(s) = self.scopes.get_mut(&scope) {
                        s.entities.remove(&id);
                    }
                }
                Effect::RelationVector {
                    scope,
                    id,
                    times,
                    vector,
                } => self.scope_mut(scope).relations.upsert(id, times, &vector),
                Effect::RelationVectorTimes { scope, id, times } => {
                    if let Some(t) = self
                        .scopes
                        .get_mut(&scope)
                        .and_then(|s| s.relations.payload_mut(&id))
                    {
                        *t = times;
                    }
                }
                Effect::RemoveRelationVector { scope, id } => {
                    if let Some(s) = self.scopes.get_mut(&scope) {
                        s.relations.remove(&id);
                    }
                }
                Effect::Fact { scope, id, vector } => {
                    self.scope_mut(scope).facts.upsert(id, (), &vector);
                }
                Effect::RemoveFact { scope, id } => {
                    if let Some(s) = self.scopes.get_mut(&scope) {
                        s.facts.remove(&id);
                    }
                }
                Effect::EraseScope { scope } => {
                    self.scopes.remove(&scope);
                }
            }
        }
    }

    /// A deterministic text rendering of everything in memory (vectors as a hash of their
    /// codes), for diagnostics and for checking that a reopen rebuilds the same state.
    pub(crate) fn dump(&self) -> String {
        let mut out = String::new();
        let mut keys: Vec<&String> = self.scopes.keys().collect();
        keys.sort();
        for key in keys {
            let scope = &self.scopes[key];
            if scope.entities.is_empty() && scope.relations.is_empty() && scope.facts.is_empty() {
                // An emptied scope is not reloaded on open.
                continue;
            }
            let shown = key.replace('\u{1f}', "|");
            let _ = writeln!(
                out,
                "scope {shown}: {} entities, {} relation vectors, {} facts",
                scope.entities.len(),
                scope.relations.len(),
                scope.facts.len()
            );
            let mut ids = scope.entities.ids().to_vec();
            ids.sort();
            for id in ids {
                if let Some((codes, scale, ())) = scope.entities.get(&id) {
                    let _ = writeln!(out, "  entity {id} vector {:016x}", hash(codes, scale));
                }
            }
            let mut ids = scope.relations.ids().to_vec();
            ids.sort();
            for id in ids {
                if let Some((codes, scale, times)) = scope.relations.get(&id) {
                    let hash = hash(codes, scale);
                    let _ = writeln!(out, "  relation vector {id} {hash:016x} {times:?}");
                }
            }
            let mut ids = scope.facts.ids().to_vec();
            ids.sort();
            for id in ids {
                if let Some((codes, scale, ())) = scope.facts.get(&id) {
                    let _ = writeln!(out, "  fact {id} vector {:016x}", hash(codes, scale));
                }
            }
        }
        out
    }
}

/// FNV-1a over the bits of a vector's 8-bit codes and scale (what memory holds of it).
fn hash(codes: &[i8], scale: f32) -> u64 {
    codes
        .iter()
        .flat_map(|c| c.to_le_bytes())
        .chain(scale.to_bits().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}
