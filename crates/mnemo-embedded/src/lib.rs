//! mnemo's default backend: SQLite (WAL) + in-memory exact vector search.
//!
//! One folder holds `mnemo.db` (SQLite in WAL mode, schema migrated on open) and
//! `mnemo.lock` (held while the store is open, so two processes never diverge). SQLite is
//! the source of truth; every write is one transaction. The in-memory state per scope —
//! entity, relation and fact vectors — is loaded on open and
//! changed only after a transaction commits.
//!
//! Timestamps are stored at nanosecond precision and round-trip exactly.

mod codec;
mod error;
mod fts;
mod graph;
mod memory;
mod schema;
mod vector_store;
mod vectors;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use mnemo_core::{SkippedRecords, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

pub use error::EmbeddedError;
pub use vectors::{SHORTLIST_MIN, VectorSearch};

use error::Result;
use memory::{Effect, ResidentVectors};

/// Idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;
/// Most keys a batched point read (entities by ids or names, relations by ids) looks up on
/// the caller's thread ([`EmbeddedStore::point_read`]); a longer batch goes to the blocking
/// pool. A lookup is one or two index descents, a few microseconds from the page cache.
const POINT_READ_MAX_KEYS: usize = 64;

/// The embedded store. Cheap to clone; clones share one database and one in-memory state.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.inner.db_path)
            .field("dimension", &self.inner.dimension)
            .finish_non_exhaustive()
    }
}

struct Inner {
    db_path: PathBuf,
    dimension: usize,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    memory: RwLock<ResidentVectors>,
    /// How vector searches scan ([`EmbeddedStore::set_vector_search`]).
    vector_search: RwLock<VectorSearch>,
    /// Undecodable rows of the graph tables met by reads (and by the load at open), skipped.
    skipped: SkippedRecords,
    /// The same for the vector tables (relation vectors, facts, fact history).
    skipped_vectors: SkippedRecords,
    /// Holds the advisory lock on `mnemo.lock` for the store's lifetime.
    _lock: StoreLock,
}

/// The locked `mnemo.lock`, unlocked explicitly when dropped: a child process forked in
/// the meantime shares the open file until it execs, and closing our descriptor alone
/// would leave the lock held through the child's copy for that moment.
struct StoreLock(File);

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl EmbeddedStore {
    /// Opens or creates `dir/mnemo.db` (creating `dir`), migrates, loads vectors.
    /// `dimension` = embedding length; stored on first open, a mismatch later is an error.
    ///
    /// Blocking (about half a second at 100k relations with their vectors); call it from
    /// `spawn_blocking` inside an async runtime. A second open of the same folder while this
    /// store (or a clone) is alive fails, in this process or another.
    pub fn open(dir: &Path, dimension: usize) -> Result<EmbeddedStore, StoreError> {
        Ok(Self::open_inner(dir, None, dimension)?)
    }

    /// [`EmbeddedStore::open`] for the vectors of the embedding model named `model`: the
    /// name is recorded on first open too, and a store embedded with another model is
    /// refused (`StoreError::Conflict`, naming both models and `mnemo reindex`).
    pub fn open_for_model(
        dir: &Path,
        model: &str,
        dimension: usize,
    ) -> Result<EmbeddedStore, StoreError> {
        Ok(Self::open_inner(dir, Some(model), dimension)?)
    }

    /// The embedding model's name and dimension the store in `dir` records, without
    /// opening it (`None` for a folder without a store, or a value never recorded).
    pub fn recorded_model(dir: &Path) -> Result<(Option<String>, Option<usize>), StoreError> {
        let db_path = dir.join("mnemo.db");
        if !db_path.is_file() {
            return Ok((None, None));
        }
        let conn = rusqlite::Connection::open_with_flags(
            &db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(EmbeddedError::from)?;
        Ok(schema::recorded_model(&conn)?)
    }

    fn open_inner(dir: &Path, model: Option<&str>, dimension: usize) -> Result<EmbeddedStore> {
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| EmbeddedError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let lock_path = dir.join("mnemo.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening", &lock_path))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => EmbeddedError::Locked {
                path: dir.to_owned(),
            },
            std::fs::TryLockError::Error(source) => EmbeddedError::Io {
                action: "locking",
                path: lock_path.clone(),
                source,
            },
        })?;

        let db_path = dir.join("mnemo.db");
        let started = std::time::Instant::now();
        let mut writer = schema::open_writer(&db_path)?;
        schema::migrate(&mut writer)?;
        schema::check_dimension(&writer, &db_path, dimension)?;
        if let Some(model) = model {
            schema::check_model(&writer, &db_path, model)?;
        }
        let (skipped, skipped_vectors) = (SkippedRecords::default(), SkippedRecords::default());
        let (memory, missing_codes) =
            ResidentVectors::load(&writer, dimension, &skipped, &skipped_vectors)?;
        ResidentVectors::store_missing_codes(&mut writer, missing_codes)?;
        tracing::info!(
            path = %db_path.display(),
            dimension,
            elapsed_ms = started.elapsed().as_millis() as u64,
            corrupt_skipped = skipped.count() + skipped_vectors.count(),
            "embedded store opened"
        );
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                db_path,
                dimension,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                memory: RwLock::new(memory),
                vector_search: RwLock::new(VectorSearch::default()),
                skipped,
                skipped_vectors,
                _lock: StoreLock(lock),
            }),
        })
    }

    /// How vector searches of a scope's entities, relations or facts scan: sets up to
    /// `exact_max_rows` rows whole (the exact nearest), larger ones through a shortlist by
    /// one sign bit per dimension (see `vectors.rs`): far faster, and nearly always the same
    /// result. [`VectorSearch::EXACT`] makes every search exact.
    pub fn set_vector_search(&self, search: VectorSearch) {
        match self.inner.vector_search.write() {
            Ok(mut current) => *current = search,
            Err(poisoned) => *poisoned.into_inner() = search,
        }
    }

    /// The embedding length this store holds.
    pub fn dimension(&self) -> usize {
        self.inner.dimension
    }

    /// A deterministic text rendering of the in-memory state (vectors hashed), for
    /// diagnostics: after a reopen it equals what it was before.
    pub fn memory_dump(&self) -> Result<String, StoreError> {
        Ok(self.inner.memory()?.dump())
    }

    /// Runs a read of at most `keys` rows found through an index (an entity, an episode,
    /// the relations of one entity up to a limit) on the caller's thread when `keys` is at
    /// most [`POINT_READ_MAX_KEYS`], else as [`EmbeddedStore::blocking`] work.
    ///
    /// Why: such a read takes microseconds, while handing it to the blocking pool and back
    /// costs two thread wake-ups, which on busy cores wait for a time slice each. An add
    /// makes a dozen such reads under its scope's lock, so every wait there held up the
    /// scope's other adds (on 2 cores, 4 adds in flight: 173 → 207 relations/s).
    /// Scans, vector searches and writes (a commit waits for the disk) stay on the pool.
    async fn point_read<T, F>(&self, keys: usize, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        if keys > POINT_READ_MAX_KEYS {
            return self.blocking(work).await;
        }
        // As on the pool, a panic in the work is this call's error, not the caller's panic.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&self.inner)))
            .map_err(|_| EmbeddedError::Join("a store read panicked".into()))?
            .map_err(StoreError::from)
    }

    /// Runs blocking SQLite or search work off the async runtime.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| EmbeddedError::Join(e.to_string()))?
            .map_err(StoreError::from)
    }
}

impl Inner {
    fn memory(&self) -> Result<RwLockReadGuard<'_, ResidentVectors>> {
        self.memory.read().map_err(|_| EmbeddedError::Poisoned)
    }

    /// How a vector search scans a set now.
    fn search(&self) -> VectorSearch {
        match self.vector_search.read() {
            Ok(search) => *search,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn check_vector(&self, v: &[f32]) -> Result<()> {
        if v.len() != self.dimension {
            return Err(EmbeddedError::VectorLength {
                expected: self.dimension,
                got: v.len(),
            });
        }
        Ok(())
    }

    /// Runs `work` on a reader connection inside one read transaction (one snapshot).
    fn read<T>(&self, work: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| EmbeddedError::Poisoned)?
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.db_path)?,
        };
        let result = conn
            .unchecked_transaction()
            .map_err(EmbeddedError::from)
            .and_then(|tx| {
                let out = work(&tx)?;
                tx.finish()?;
                Ok(out)
            });
        let mut idle = self.readers.lock().map_err(|_| EmbeddedError::Poisoned)?;
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Runs `work` in one write transaction; on success commits, then mirrors the returned
    /// effects in memory. On error nothing is written and memory is untouched.
    fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<(T, Vec<Effect>)>,
    ) -> Result<T> {
        let mut conn = self.writer()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (out, effects) = work(&tx)?;
        tx.commit()?;
        if !effects.is_empty() {
            self.memory
                .write()
                .map_err(|_| EmbeddedError::Poisoned)?
                .apply(effects);
        }
        Ok(out)
    }

    fn writer(&self) -> Result<MutexGuard<'_, Connection>> {
        // A panic inside a transaction leaves the connection usable: the transaction was
        // rolled back when it was dropped, and memory is only touched after a commit.
        Ok(self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// How re-scoring reads a row's `f32` vector (`exact_vectors`): by the rowid memory holds
/// for it (one b-tree descent) when that row still has the scope and id, else by scope and
/// id through their index.
struct ExactVectorSql {
    by_rowid: &'static str,
    by_id: &'static str,
}

const EXACT_ENTITY_VECTOR: ExactVectorSql = ExactVectorSql {
    by_rowid: "SELECT scope, id, embedding FROM entities WHERE pk = ?1",
    by_id: "SELECT embedding FROM entities WHERE scope = ?1 AND id = ?2",
};
const EXACT_RELATION_VECTOR: ExactVectorSql = ExactVectorSql {
    by_rowid: "SELECT scope, id, vector FROM relation_vectors WHERE rowid = ?1",
    by_id: "SELECT vector FROM relation_vectors WHERE scope = ?1 AND id = ?2",
};
const EXACT_FACT_VECTOR: ExactVectorSql = ExactVectorSql {
    by_rowid: "SELECT scope, id, vector FROM facts WHERE pk = ?1",
    by_id: "SELECT vector FROM facts WHERE scope = ?1 AND id = ?2",
};

/// Reads rows' `f32` vectors by rowid or id with `sql` (one of the `EXACT_*` queries), for
/// the re-scoring step of `VectorSet::search`: memory holds only the 8-bit copies. A row
/// gone from the table (its removal committed, not yet applied in memory) or not decoding
/// (the load at open already left such rows out) is `None`.
fn exact_vectors<'a, Id: std::fmt::Display>(
    tx: &'a Transaction<'_>,
    inner: &'a Inner,
    sql: ExactVectorSql,
    scope_key: &'a str,
) -> impl FnMut(&Id, i64) -> Result<Option<Vec<f32>>> + 'a {
    use rusqlite::types::ValueRef;
    let dimension = inner.dimension;
    // Parsed straight from SQLite's buffer; a blob that does not decode is `None`.
    let vector = move |blob: ValueRef<'_>| {
        blob.as_blob()
            .ok()
            .and_then(|b| codec::parse_vector(b, dimension).ok())
    };
    move |id, rowid| {
        let id = id.to_string();
        let by_rowid: Option<Option<Vec<f32>>> = tx
            .prepare_cached(sql.by_rowid)?
            .query_row([rowid], |r| {
                let same = r.get_ref(0)? == ValueRef::Text(scope_key.as_bytes())
                    && r.get_ref(1)? == ValueRef::Text(id.as_bytes());
                Ok(same.then(|| r.get_ref(2).ok().and_then(vector)))
            })
            .optional()?
            .flatten();
        Ok(match by_rowid {
            Some(found) => found,
            None => tx
                .prepare_cached(sql.by_id)?
                .query_row(rusqlite::params![scope_key, id], |r| {
                    Ok(r.get_ref(0).ok().and_then(vector))
                })
                .optional()?
                .flatten(),
        })
    }
}

/// Turns vector hits into scored records, in hit order; a hit whose row is gone is skipped.
fn with_records<Id, T>(
    hits: Vec<(Id, f32)>,
    mut get: impl FnMut(Id) -> Result<Option<T>>,
) -> Result<Vec<mnemo_core::ports::Scored<T>>> {
    let mut out = Vec::with_capacity(hits.len());
    for (id, score) in hits {
        if let Some(item) = get(id)? {
            out.push(mnemo_core::ports::Scored { item, score });
        }
    }
    Ok(out)
}

/// The single `count(*)` a query answers.
fn count_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> error::Result<u64> {
    let n: i64 = conn
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// `usize` to an SQLite integer (saturating; limits above `i64::MAX` mean "all").
fn sql_int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
