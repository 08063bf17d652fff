//! Error enums of the core layer; adapters convert their own errors into these.

/// A value from a request or an LLM that does not satisfy the data model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("scope needs at least one of user_id, agent_id, run_id")]
    EmptyScope,
    #[error(
        "scope field `{field}` must be 1 to 256 characters, not only white space, and free of control characters"
    )]
    BadScopeField { field: &'static str },
    #[error(
        "invalid entity type `{0}`: expected a PascalCase name: words of ASCII letters and digits separated by spaces, `-` or `_`, the first starting with a letter, at most 64 characters"
    )]
    EntityType(String),
    #[error(
        "invalid relation type `{0}`: expected an UPPER_SNAKE_CASE name: words of ASCII letters and digits separated by spaces, `-` or `_`, the first starting with a letter, at most 64 characters"
    )]
    RelationType(String),
    #[error("invalid name: {0}")]
    Name(String),
    #[error("invalid id `{0}`")]
    Id(String),
    /// A timestamp outside [`crate::time::RANGE`]; `field` is where it came from.
    #[error(
        "{field}: timestamp {value} is outside the supported range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z (UTC)"
    )]
    Timestamp { field: String, value: String },
    /// Any other unusable request value; the message says which and why.
    #[error("{0}")]
    Request(String),
}

/// A storage backend failed or refused an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The referenced record does not exist in the given scope.
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    /// The operation conflicts with stored state (e.g. an entity name taken by another id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input was rejected before touching the store.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The backend is unreachable or failed; the message is for logs, not for clients.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// Stored data could not be decoded (corruption or an incompatible schema).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// The embedder could not be loaded or failed to embed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Model files or the ONNX Runtime library are missing or unusable; the message names the fix.
    #[error("embedder setup: {0}")]
    Setup(String),
    /// Inference failed for a batch.
    #[error("embedding failed: {0}")]
    Inference(String),
    /// Too many calls are running or waiting; the caller may retry shortly.
    #[error("embedder overloaded: {0}")]
    Overloaded(String),
}

/// Why a [`crate::Memory`] operation failed; the server maps each variant to a status.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The request itself is wrong (a bad value, an empty message list, …).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    /// `infer: true` (or LLM query entities) without an LLM configured.
    #[error("no LLM is configured; use infer: false or configure llm.base_url and llm.model")]
    LlmNotConfigured,
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

impl From<StoreError> for MemoryError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, id } => MemoryError::NotFound { kind, id },
            StoreError::Invalid(invalid) => MemoryError::Invalid(invalid),
            other => MemoryError::Store(other),
        }
    }
}
