//! The in-memory state of the store, per scope: entity, relation and fact vectors (their
//! 8-bit copies; the `f32` vectors stay in SQLite) for exact search (walks read SQLite's
//! indexes, see `mnemo_core::read::walk`). Loaded from SQLite on open; changed only after a
//! transaction commits, through [`Effect`]s, so it always mirrors committed data.

use std::collections::HashMap;
use std::fmt::Write as _;

use mnemo_core::{EntityId, FactId, RelationId, RelationTimes, SkippedRecords};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, Rows, Statement, params};

use crate::codec::{keep, parse_id, parse_vector, relation_times};
use crate::error::Result;
use crate::vectors::{VectorCode, VectorSet};

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
        code: VectorCode,
        rowid: i64,
    },
    RemoveEntity {
        scope: String,
        id: EntityId,
    },
    RelationVector {
        scope: String,
        id: RelationId,
        times: RelationTimes,
        code: VectorCode,
        rowid: i64,
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
        code: VectorCode,
        rowid: i64,
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

    /// Reads every vector's code from the database; undecodable rows are skipped and counted
    /// in `skipped` (graph tables) or `skipped_vectors`. Also returns the rows whose code
    /// had to be computed from their vector (for [`ResidentVectors::store_missing_codes`]).
    pub(crate) fn load(
        conn: &Connection,
        dimension: usize,
        skipped: &SkippedRecords,
        skipped_vectors: &SkippedRecords,
    ) -> Result<(ResidentVectors, MissingCodes)> {
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

        let mut missing = memory.load_table(
            conn,
            CodeTable::Entities,
            "SELECT scope, id, pk, embedding FROM entities ORDER BY pk",
            skipped,
            |row| Ok((parse_id(row.get_ref(1)?.as_str()?)?, ())),
            |scope| &mut scope.entities,
        )?;
        missing.extend(memory.load_table(
            conn,
            CodeTable::RelationVectors,
            "SELECT scope, id, rowid, vector, valid_from, valid_to, recorded_at, \
             invalidated_at, retracted_at FROM relation_vectors ORDER BY rowid",
            skipped_vectors,
            |row| {
                Ok((
                    parse_id(row.get_ref(1)?.as_str()?)?,
                    relation_times(row, 4)?,
                ))
            },
            |scope| &mut scope.relations,
        )?);
        missing.extend(memory.load_table(
            conn,
            CodeTable::Facts,
            "SELECT scope, id, pk, vector FROM facts ORDER BY pk",
            skipped_vectors,
            |row| Ok((parse_id(row.get_ref(1)?.as_str()?)?, ())),
            |scope| &mut scope.facts,
        )?);
        Ok((memory, missing))
    }

    /// Loads one vector table beside its codes (both in rowid order; see
    /// 0006_vector_codes.sql). `sql` selects scope, id, rowid and vector, then whatever
    /// `decode` reads besides the id. A row that does not decode is logged, counted in
    /// `skipped` and left out (`keep`): the store opens whatever one row says, and reads
    /// skip that row too. Returns the rows whose code had to be computed.
    fn load_table<Id: Copy + Eq + std::hash::Hash + Ord + Send + Sync, P: Sync>(
        &mut self,
        conn: &Connection,
        table: CodeTable,
        sql: &str,
        skipped: &SkippedRecords,
        decode: impl Fn(&Row<'_>) -> Result<(Id, P)>,
        set: impl Fn(&mut ScopeVectors) -> &mut VectorSet<Id, P>,
    ) -> Result<MissingCodes> {
        let mut missing = MissingCodes::new();
        let kind = table.source();
        let mut code_stmt = table.select(conn)?;
        let mut codes = CodeReader::new(code_stmt.query([])?);
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let Some((id, payload)) = keep(skipped, kind, row, 1, decode(row))? else {
                continue;
            };
            let Some(code) = keep(skipped, kind, row, 1, codes.code(row, self.dimension))? else {
                continue;
            };
            set(self.scope_mut(row.get(0)?)).upsert_code(id, payload, code.bytes(), row.get(2)?);
            code.note_missing(table, row, &mut missing)?;
        }
        Ok(missing)
    }

    /// Writes the codes [`ResidentVectors::load`] had to compute, a few thousand per
    /// transaction (the first open of a large store from before 0006 writes one per vector,
    /// and one transaction would grow the WAL by all of them). A code is only a copy of
    /// what its vector gives: one not written is computed again at the next open.
    pub(crate) fn store_missing_codes(conn: &mut Connection, missing: MissingCodes) -> Result<()> {
        const PER_TRANSACTION: usize = 10_000;
        if missing.is_empty() {
            return Ok(());
        }
        let count = missing.len();
        let mut missing = missing.into_iter().peekable();
        while missing.peek().is_some() {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (table, source_row, id, code) in missing.by_ref().take(PER_TRANSACTION) {
                store_code(&tx, table, source_row, &id, &code)?;
            }
            tx.commit()?;
        }
        tracing::info!(count, "stored the codes of vectors that had none");
        Ok(())
    }

    pub(crate) fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Entity {
                    scope,
                    id,
                    code,
                    rowid,
                } => {
                    self.scope_mut(scope)
                        .entities
                        .upsert_code(id, (), code.as_bytes(), rowid);
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
                    code,
                    rowid,
                } => self
                    .scope_mut(scope)
                    .relations
                    .upsert_code(id, times, code.as_bytes(), rowid),
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
                Effect::Fact {
                    scope,
                    id,
                    code,
                    rowid,
                } => {
                    self.scope_mut(scope)
                        .facts
                        .upsert_code(id, (), code.as_bytes(), rowid);
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

/// A table of vectors, whose codes are kept in a table of their own (0006_vector_codes.sql).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeTable {
    Entities,
    RelationVectors,
    Facts,
}

impl CodeTable {
    /// The table of the vectors.
    fn source(self) -> &'static str {
        match self {
            CodeTable::Entities => "entities",
            CodeTable::RelationVectors => "relation_vectors",
            CodeTable::Facts => "facts",
        }
    }

    /// Every stored code of the table, in source-row order.
    fn select(self, conn: &Connection) -> Result<Statement<'_>> {
        let table = match self {
            CodeTable::Entities => "entity_codes",
            CodeTable::RelationVectors => "relation_vector_codes",
            CodeTable::Facts => "fact_codes",
        };
        Ok(conn.prepare(&format!(
            "SELECT source_row, id, code FROM {table} ORDER BY source_row"
        ))?)
    }
}

/// Stores the code of the vector in row `source_row` of `table` (its id `id`), in the
/// transaction that writes the vector.
pub(crate) fn store_code(
    tx: &Connection,
    table: CodeTable,
    source_row: i64,
    id: &str,
    code: &VectorCode,
) -> Result<()> {
    let sql = match table {
        CodeTable::Entities => {
            "INSERT OR REPLACE INTO entity_codes (source_row, id, code) VALUES (?1, ?2, ?3)"
        }
        CodeTable::RelationVectors => {
            "INSERT OR REPLACE INTO relation_vector_codes (source_row, id, code) VALUES (?1, ?2, ?3)"
        }
        CodeTable::Facts => {
            "INSERT OR REPLACE INTO fact_codes (source_row, id, code) VALUES (?1, ?2, ?3)"
        }
    };
    tx.prepare_cached(sql)?
        .execute(params![source_row, id, code.as_bytes()])?;
    Ok(())
}

/// Rows whose code was computed on open: table, source row, id and the code to store.
pub(crate) type MissingCodes = Vec<(CodeTable, i64, String, VectorCode)>;

/// The stored codes of one table, read in source-row order beside the table's own rows.
struct CodeReader<'s> {
    rows: Rows<'s>,
    /// The current code row (`i64::MIN` before the first, `i64::MAX` after the last), its
    /// id and code (both empty when that row does not decode: its vector is quantised).
    row: i64,
    id: Vec<u8>,
    code: Vec<u8>,
}

impl<'s> CodeReader<'s> {
    fn new(rows: Rows<'s>) -> CodeReader<'s> {
        CodeReader {
            rows,
            row: i64::MIN,
            id: Vec::new(),
            code: Vec::new(),
        }
    }

    /// The code of the vector `row` holds (columns: scope, id, source row, vector, …), read
    /// in source-row order: as stored when its code row has the same row and id and this
    /// format, else computed from the vector.
    fn code(&mut self, row: &Row<'_>, dimension: usize) -> Result<StoredCode<'_>> {
        let source_row: i64 = row.get(2)?;
        while self.row < source_row {
            self.advance()?;
        }
        if self.row == source_row
            && self.id == row.get_ref(1)?.as_bytes()?
            && VectorCode::fits(&self.code, dimension)
        {
            return Ok(StoredCode::Stored(&self.code));
        }
        let vector = parse_vector(row.get_ref(3)?.as_blob()?, dimension)?;
        Ok(StoredCode::Computed(VectorCode::of(&vector)))
    }

    fn advance(&mut self) -> Result<()> {
        self.id.clear();
        self.code.clear();
        let Some(next) = self.rows.next()? else {
            self.row = i64::MAX;
            return Ok(());
        };
        self.row = next.get(0)?;
        if let (Ok(ValueRef::Text(id)), Ok(ValueRef::Blob(code))) =
            (next.get_ref(1), next.get_ref(2))
        {
            self.id.extend_from_slice(id);
            self.code.extend_from_slice(code);
        }
        Ok(())
    }
}

/// A row's code: as stored, or computed from its vector.
enum StoredCode<'a> {
    Stored(&'a [u8]),
    Computed(VectorCode),
}

impl StoredCode<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            StoredCode::Stored(bytes) => bytes,
            StoredCode::Computed(code) => code.as_bytes(),
        }
    }

    /// Notes a computed code for storing (columns of `row`: scope, id, source row, …).
    fn note_missing(
        self,
        table: CodeTable,
        row: &Row<'_>,
        missing: &mut MissingCodes,
    ) -> Result<()> {
        if let StoredCode::Computed(code) = self {
            missing.push((table, row.get(2)?, row.get(1)?, code));
        }
        Ok(())
    }
}
