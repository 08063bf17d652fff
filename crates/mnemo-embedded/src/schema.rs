//! Opening connections and migrating the schema: numbered SQL files under `migrations/`,
//! applied in order, each in its own transaction together with `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::error::{EmbeddedError, Result};

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_revert_and_usage.sql"),
    include_str!("../migrations/0003_alias_provenance.sql"),
    include_str!("../migrations/0004_stated_end.sql"),
    include_str!("../migrations/0005_fact_stems.sql"),
    include_str!("../migrations/0006_vector_codes.sql"),
];

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each connection keeps. The store's code prepares about 70 distinct
/// statements, and an add runs some 30 of them; rusqlite keeps 16 by default, so a write
/// prepared most of its statements again every time.
const STATEMENT_CACHE: usize = 128;

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The single writer connection: WAL, and `synchronous = FULL` so a committed transaction
/// survives a power loss, not only a process crash.
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(EmbeddedError::corrupt(
            "journal mode",
            format!("WAL requested, SQLite kept {mode}"),
        ));
    }
    // The WAL file is truncated back to this size after a checkpoint (a large batch can grow
    // it far beyond).
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; \
         PRAGMA journal_size_limit = 67108864;",
    )?;
    Ok(conn)
}

/// A reader connection; WAL lets readers run beside the writer.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Applies every migration newer than the database's `user_version`.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest_version() {
        return Err(EmbeddedError::SchemaTooNew {
            found,
            supported: latest_version(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
        tracing::info!(version = version + 1, "applied schema migration");
    }
    Ok(())
}

/// Stores the embedding model's name on first open with one; afterwards it must match. A
/// store that recorded no name (written before names were recorded, or opened by
/// dimension only) takes the first name it is opened with: its dimension already matched.
pub(crate) fn check_model(conn: &Connection, path: &Path, requested: &str) -> Result<()> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'embedding_model'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match stored {
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('embedding_model', ?1)",
                [requested],
            )?;
            Ok(())
        }
        Some(stored) if stored == requested => Ok(()),
        Some(stored) => Err(EmbeddedError::ModelMismatch {
            path: path.to_owned(),
            stored,
            requested: requested.to_owned(),
        }),
    }
}

/// The embedding model's name and dimension recorded in the store at `db_path`, read
/// without opening it for writing (`mnemo reindex` reads them before choosing a model).
pub(crate) fn recorded_model(conn: &Connection) -> Result<(Option<String>, Option<usize>)> {
    let value = |key: &str| -> Result<Option<String>> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    };
    let dimension = match value("dimension")? {
        Some(d) => Some(
            d.parse()
                .map_err(|_| EmbeddedError::corrupt("stored dimension", &d))?,
        ),
        None => None,
    };
    Ok((value("embedding_model")?, dimension))
}

/// Stores the embedding dimension on first open; afterwards it must match.
pub(crate) fn check_dimension(conn: &Connection, path: &Path, requested: usize) -> Result<()> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'dimension'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match stored {
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('dimension', ?1)",
                [requested.to_string()],
            )?;
            Ok(())
        }
        Some(stored) => {
            let stored: usize = stored
                .parse()
                .map_err(|_| EmbeddedError::corrupt("stored dimension", &stored))?;
            if stored == requested {
                Ok(())
            } else {
                Err(EmbeddedError::DimensionMismatch {
                    path: path.to_owned(),
                    stored,
                    requested,
                })
            }
        }
    }
}
