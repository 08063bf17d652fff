//! Running queries: auto-commit reads, explicit write transactions, and the mapping of
//! driver and server errors to `StoreError` (a uniqueness violation is a `Conflict`; the
//! rest is `Backend`, with a message for logs).

use mnemo_core::StoreError;
use neo4rs::{BoltType, Graph, Query, Row, Txn};

use crate::codec::Props;
use crate::queries::TypedStatement;

/// The server code of a uniqueness (or other constraint) violation.
const CONSTRAINT_VIOLATION: &str = "Neo.ClientError.Schema.ConstraintValidationFailed";

/// A query from a compiled-in file and its parameters.
pub(crate) fn query(text: &'static str, params: Props) -> Query {
    let BoltType::Map(map) = BoltType::from(params) else {
        unreachable!("Props is a map")
    };
    Query::new(text.to_owned()).with_params(map)
}

/// A template from a compiled-in file, rendered for one relation type, and its parameters.
pub(crate) fn typed_query(statement: TypedStatement, params: Props) -> Query {
    let BoltType::Map(map) = BoltType::from(params) else {
        unreachable!("Props is a map")
    };
    Query::new(statement.text).with_params(map)
}

/// The class of server errors worth retrying (deadlocks, leader switches, …).
const TRANSIENT: &str = "Neo.TransientError.";

/// Whether `err` is a server error a retry may not hit again.
pub(crate) fn is_transient(err: &StoreError) -> bool {
    matches!(err, StoreError::Backend(message) if message.starts_with(&format!("Neo4j error {TRANSIENT}")))
}

pub(crate) fn store_error(err: neo4rs::Error) -> StoreError {
    use neo4rs::Error as E;
    match err {
        E::Neo4j(e) if e.code() == CONSTRAINT_VIOLATION => {
            StoreError::Conflict(e.message().to_owned())
        }
        E::Neo4j(e) => StoreError::Backend(format!("Neo4j error {}: {}", e.code(), e.message())),
        E::DeserializationError(e) => StoreError::Corrupt(format!("Neo4j result: {e}")),
        E::IOError { detail } => StoreError::Backend(format!("cannot reach Neo4j: {detail}")),
        E::ConnectionTimedOut => {
            StoreError::Backend("cannot reach Neo4j: connection timed out".to_owned())
        }
        E::AuthenticationError(message) => {
            StoreError::Backend(format!("Neo4j refused the credentials: {message}"))
        }
        E::ProtocolMismatch(_) | E::UnsupportedVersion(..) => StoreError::Backend(format!(
            "the server at the Neo4j address does not speak Bolt 4.4 (Neo4j 5.26 or newer, \
             on its Bolt port, usually 7687): {err}"
        )),
        other => StoreError::Backend(format!("Neo4j driver error: {other}")),
    }
}

/// Runs a read (auto-commit) and collects every row.
pub(crate) async fn rows(graph: &Graph, q: Query) -> Result<Vec<Row>, StoreError> {
    let mut stream = graph.execute(q).await.map_err(store_error)?;
    let mut out = Vec::new();
    while let Some(row) = stream.next().await.map_err(store_error)? {
        out.push(row);
    }
    Ok(out)
}

/// Runs an auto-commit statement, discarding its result.
pub(crate) async fn run(graph: &Graph, q: Query) -> Result<(), StoreError> {
    graph.run(q).await.map(|_| ()).map_err(store_error)
}

/// An explicit transaction: every write of one `apply` goes through one, committed at the
/// end or rolled back on the first error.
pub(crate) struct Tx {
    txn: Txn,
}

impl Tx {
    pub(crate) async fn begin(graph: &Graph) -> Result<Tx, StoreError> {
        Ok(Tx {
            txn: graph.start_txn().await.map_err(store_error)?,
        })
    }

    /// Runs a query inside the transaction and collects every row (a stream must be
    /// consumed before the next query on the connection).
    pub(crate) async fn rows(&mut self, q: Query) -> Result<Vec<Row>, StoreError> {
        let mut stream = self.txn.execute(q).await.map_err(store_error)?;
        let mut out = Vec::new();
        while let Some(row) = stream.next(&mut self.txn).await.map_err(store_error)? {
            out.push(row);
        }
        Ok(out)
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await.map(|_| ()).map_err(store_error)
    }

    /// Rolls back; a failure to do so is logged (the server drops the transaction with the
    /// connection anyway).
    pub(crate) async fn rollback(self) {
        if let Err(err) = self.txn.rollback().await {
            tracing::debug!(error = %err, "Neo4j rollback failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_store_errors() {
        let io = neo4rs::Error::IOError {
            detail: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let cases: Vec<(neo4rs::Error, &str)> = vec![
            (
                io,
                "storage backend error: cannot reach Neo4j: connection refused",
            ),
            (
                neo4rs::Error::ConnectionTimedOut,
                "storage backend error: cannot reach Neo4j: connection timed out",
            ),
            (
                neo4rs::Error::ProtocolMismatch(0x4854_5450),
                "does not speak Bolt 4.4",
            ),
            (
                neo4rs::Error::AuthenticationError("bad".into()),
                "Neo4j refused the credentials: bad",
            ),
        ];
        for (err, expected) in cases {
            let got = store_error(err);
            assert!(!is_transient(&got), "{got}");
            let got = got.to_string();
            assert!(got.contains(expected), "{got}");
        }
        let deadlock = StoreError::Backend(
            "Neo4j error Neo.TransientError.Transaction.DeadlockDetected: lock".into(),
        );
        assert!(is_transient(&deadlock));
    }
}
