//! The embedded backend's own error enum, converted into the core `StoreError` at the port.

use std::path::PathBuf;

use mnemo_core::{StoreError, ValidationError};

/// What can go wrong inside the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("undecodable column: {0}")]
    Column(#[from] rusqlite::types::FromSqlError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the store at {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error(
        "the store at {path} holds {stored}-dimensional embeddings, the embedder produces {requested}; \
         configure the store's model (embed.model) or re-embed the store with `mnemo reindex`"
    )]
    DimensionMismatch {
        path: PathBuf,
        stored: usize,
        requested: usize,
    },
    #[error(
        "the store at {path} was embedded with {stored}, the embedder is {requested}; \
         configure embed.model = \"{stored}\" or re-embed the store with `mnemo reindex`"
    )]
    ModelMismatch {
        path: PathBuf,
        stored: String,
        requested: String,
    },
    #[error("vector has {got} dimensions, the store holds {expected}")]
    VectorLength { expected: usize, got: usize },
    #[error("database schema version {found} is newer than this build understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("undecodable {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("an internal lock was poisoned by a panic")]
    Poisoned,
    #[error("blocking task failed: {0}")]
    Join(String),
}

impl EmbeddedError {
    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        EmbeddedError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        EmbeddedError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<EmbeddedError> for StoreError {
    fn from(err: EmbeddedError) -> Self {
        match err {
            EmbeddedError::Sqlite(e) if is_corruption(&e) => StoreError::Corrupt(e.to_string()),
            e @ (EmbeddedError::Sqlite(_)
            | EmbeddedError::Io { .. }
            | EmbeddedError::Locked { .. }
            | EmbeddedError::Poisoned
            | EmbeddedError::Join(_)) => StoreError::Backend(e.to_string()),
            e @ (EmbeddedError::SchemaTooNew { .. }
            | EmbeddedError::Corrupt { .. }
            | EmbeddedError::Column(_)) => StoreError::Corrupt(e.to_string()),
            e @ (EmbeddedError::DimensionMismatch { .. }
            | EmbeddedError::ModelMismatch { .. }
            | EmbeddedError::VectorLength { .. }) => StoreError::Conflict(e.to_string()),
            EmbeddedError::NotFound { kind, id } => StoreError::NotFound { kind, id },
            EmbeddedError::Conflict(msg) => StoreError::Conflict(msg),
            EmbeddedError::Invalid(e) => StoreError::Invalid(e),
        }
    }
}

fn is_corruption(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

pub(crate) type Result<T, E = EmbeddedError> = std::result::Result<T, E>;
