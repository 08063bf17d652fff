//! The Qdrant backend's own error enum, converted into the core `StoreError` at the port.

use mnemo_core::{StoreError, ValidationError};

/// What can go wrong talking to Qdrant.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QdrantStoreError {
    #[error("invalid Qdrant settings: {0}")]
    Settings(String),
    /// The server could not be reached or did not answer the health check in time.
    #[error(
        "Qdrant at {url} is unreachable: {detail} (qdrant.url must be Qdrant's gRPC address, \
         port 6334 by default, not the REST port 6333)"
    )]
    Unreachable { url: String, detail: String },
    /// A request reached the server (or tried to) and failed.
    #[error("Qdrant {action} failed: {source}")]
    Request {
        action: &'static str,
        #[source]
        source: qdrant_client::QdrantError,
    },
    /// Qdrant answered a write without applying it (a wait timeout, a rejected update).
    #[error("Qdrant {action}: the update was not applied ({status})")]
    NotApplied {
        action: &'static str,
        status: String,
    },
    /// An existing collection or payload index does not have the shape this build needs.
    #[error("Qdrant collection `{collection}`: {detail}")]
    Schema { collection: String, detail: String },
    #[error("vector has {got} dimensions, the store holds {expected}")]
    VectorLength { expected: usize, got: usize },
    #[error("undecodable {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value the store would not read back (a timestamp outside the range): not written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

impl QdrantStoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        QdrantStoreError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        QdrantStoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// A closure for `map_err` naming the request that failed.
    pub(crate) fn request(action: &'static str) -> impl FnOnce(qdrant_client::QdrantError) -> Self {
        move |source| QdrantStoreError::Request { action, source }
    }
}

impl From<QdrantStoreError> for StoreError {
    fn from(err: QdrantStoreError) -> Self {
        match err {
            QdrantStoreError::Settings(msg) => StoreError::Invalid(ValidationError::Request(msg)),
            e @ (QdrantStoreError::Unreachable { .. }
            | QdrantStoreError::Request { .. }
            | QdrantStoreError::NotApplied { .. }) => StoreError::Backend(e.to_string()),
            e @ (QdrantStoreError::Schema { .. } | QdrantStoreError::VectorLength { .. }) => {
                StoreError::Conflict(e.to_string())
            }
            QdrantStoreError::Corrupt { what, detail } => {
                StoreError::Corrupt(format!("{what}: {detail}"))
            }
            QdrantStoreError::NotFound { kind, id } => StoreError::NotFound { kind, id },
            QdrantStoreError::Conflict(msg) => StoreError::Conflict(msg),
            QdrantStoreError::Invalid(e) => StoreError::Invalid(e),
        }
    }
}

pub(crate) type Result<T, E = QdrantStoreError> = std::result::Result<T, E>;
