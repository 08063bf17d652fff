//! mnemo's scale-out graph backend: `GraphRead` and `GraphWrite` on Neo4j 5.26 or newer,
//! over Bolt 4.4 with `neo4rs`. Relation vectors and facts live in the vector store
//! (Qdrant on this backend), not here.
//!
//! The graph as Neo4j holds it (docs/NEO4J.md has the picture):
//! - `(:Entity:<Type>)` nodes with the entity's fields, its scope (`scope_key` plus
//!   `user_id`/`agent_id`/`run_id`) and two search properties (`names`, `scope_tag`);
//! - relations as real typed relationships between entities, with every field of the
//!   relation; each has a `(:RelationKey)` node with the same id holding what relations are
//!   looked up by (Neo4j indexes relationship properties per type only, and types come
//!   from the LLM);
//! - `(:EntityKey)` nodes, one per name or alias, unique per scope: the lock that keeps two
//!   processes from creating one name twice;
//! - `(:Episode)` nodes, `(:Episode)-[:MENTIONS]->(:Entity)` and
//!   `(:Episode)-[:STATED]->(:RelationKey)` (provenance, indexed for footprints);
//! - `(:ScopeSummary)` nodes.
//!
//! Every query is a file under `cypher/` (see `queries`), with parameters only. One
//! `apply` is one transaction; consecutive ops of one kind go in one `UNWIND` query.

mod apply;
mod codec;
mod db;
mod graph;
mod queries;
mod text;

use std::fmt;
use std::time::Duration;

use mnemo_core::StoreError;
use neo4rs::{ConfigBuilder, Graph};

use crate::codec::Props;

/// How long `connect` waits for the server (connection, handshake, schema) before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `ping` waits.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 16;

/// Where the Neo4j server is and how to log in (the `neo4j.*` configuration keys).
#[derive(Clone)]
pub struct Neo4jSettings {
    /// A Bolt URI: `bolt://host:7687`, `neo4j://…`, or with TLS `bolt+s://…`, `neo4j+s://…`.
    pub uri: String,
    pub user: String,
    pub password: String,
    /// `None`: the server's default database.
    pub database: Option<String>,
}

impl fmt::Debug for Neo4jSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jSettings")
            .field("uri", &self.uri)
            .field("user", &self.user)
            .field("password", &"***")
            .field("database", &self.database)
            .finish()
    }
}

/// The Neo4j graph store. Cheap to clone (clones share one connection pool); several
/// mnemo processes may share one database.
#[derive(Clone)]
pub struct Neo4jStore {
    graph: Graph,
    dimension: usize,
    /// Whether the vector index serves `dimension`-long vectors (else searches are exact).
    vector_index: bool,
    /// Undecodable records reads have skipped.
    skipped: std::sync::Arc<mnemo_core::SkippedRecords>,
}

impl fmt::Debug for Neo4jStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jStore")
            .field("dimension", &self.dimension)
            .field("vector_index", &self.vector_index)
            .finish_non_exhaustive()
    }
}

impl Neo4jStore {
    /// Connects, checks the server answers, and applies `cypher/schema.cypher` (idempotent)
    /// with a vector index of `dimension` on `Entity.embedding`. Fails within about 15
    /// seconds, with a message naming the URI, when the server is unreachable, is not
    /// Neo4j 5.26+, or refuses the credentials.
    pub async fn connect(
        settings: Neo4jSettings,
        dimension: usize,
    ) -> Result<Neo4jStore, StoreError> {
        Self::connect_within(settings, dimension, CONNECT_TIMEOUT).await
    }

    async fn connect_within(
        settings: Neo4jSettings,
        dimension: usize,
        timeout: Duration,
    ) -> Result<Neo4jStore, StoreError> {
        let uri = settings.uri.clone();
        let context = |err: StoreError| match err {
            StoreError::Backend(message) => {
                StoreError::Backend(format!("Neo4j at {uri}: {message}"))
            }
            other => other,
        };
        match tokio::time::timeout(timeout, Self::connect_inner(settings, dimension)).await {
            Ok(result) => result.map_err(context),
            Err(_) => Err(context(StoreError::Backend(format!(
                "no answer within {} s (is the server running, and is this its Bolt port?)",
                timeout.as_secs_f32()
            )))),
        }
    }

    async fn connect_inner(
        settings: Neo4jSettings,
        dimension: usize,
    ) -> Result<Neo4jStore, StoreError> {
        if dimension == 0 {
            return Err(StoreError::Backend(
                "the embedding dimension must be positive".to_owned(),
            ));
        }
        let mut config = ConfigBuilder::default()
            .uri(settings.uri)
            .user(settings.user)
            .password(settings.password)
            .max_connections(MAX_CONNECTIONS)
            .connection_timeout(Duration::from_secs(5));
        if let Some(database) = settings.database {
            config = config.db(database);
        }
        let config = config
            .build()
            .map_err(|err| StoreError::Backend(format!("invalid settings: {err}")))?;
        let graph = Graph::connect(config).map_err(db::store_error)?;
        db::rows(&graph, db::query(queries::PING, Props::new())).await?;
        for statement in queries::schema_statements() {
            apply_schema_statement(&graph, statement, dimension).await?;
        }
        let vector_index = graph::vector_index_dimension(&graph).await? == Some(dimension);
        if !vector_index {
            tracing::warn!(
                dimension,
                "the Neo4j vector index `entity_embedding` has another dimension; entity \
                 vector searches scan the scope instead"
            );
        }
        Ok(Neo4jStore {
            graph,
            dimension,
            vector_index,
            skipped: Default::default(),
        })
    }
}

/// Runs one statement of the schema; another process creating the same index at the same
/// moment is fine, a transient error (schema locks) is retried.
async fn apply_schema_statement(
    graph: &Graph,
    statement: String,
    dimension: usize,
) -> Result<(), StoreError> {
    let mut attempt = 1;
    loop {
        let q = neo4rs::Query::new(statement.clone()).param("dimension", codec::int(dimension));
        match graph.run(q).await {
            Ok(_) => return Ok(()),
            Err(neo4rs::Error::Neo4j(e)) if e.code().contains("AlreadyExists") => return Ok(()),
            Err(err) => {
                let err = db::store_error(err);
                if db::is_transient(&err) && attempt < 3 {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                return Err(StoreError::Backend(format!(
                    "applying cypher/schema.cypher: {err}"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn settings(uri: String) -> Neo4jSettings {
        Neo4jSettings {
            uri,
            user: "neo4j".into(),
            password: "secret-password".into(),
            database: None,
        }
    }

    async fn connect_error(uri: String) -> String {
        let started = Instant::now();
        let err = Neo4jStore::connect(settings(uri), 8)
            .await
            .expect_err("nothing to connect to");
        assert!(
            started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(2),
            "connect took {:?}",
            started.elapsed()
        );
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        err.to_string()
    }

    #[tokio::test]
    async fn connect_fails_fast_when_nothing_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let uri = format!("bolt://127.0.0.1:{port}");
        let message = connect_error(uri.clone()).await;
        assert!(
            message.contains(&format!("Neo4j at {uri}: cannot reach Neo4j")),
            "{message}"
        );
        assert!(!message.contains("secret-password"), "{message}");
    }

    /// An HTTP server (say, Neo4j's port 7474 given by mistake) answers the Bolt handshake
    /// with text.
    #[tokio::test]
    async fn connect_names_a_server_that_is_not_bolt() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut handshake = [0u8; 20];
            let _ = socket.read_exact(&mut handshake).await;
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let message = connect_error(format!("bolt://127.0.0.1:{port}")).await;
        assert!(message.contains("does not speak Bolt 4.4"), "{message}");
        server.abort();
    }

    /// A server that accepts connections and never answers hits the timeout.
    #[tokio::test]
    async fn connect_gives_up_on_a_silent_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let uri = format!("bolt://127.0.0.1:{port}");
        let started = Instant::now();
        let err = Neo4jStore::connect_within(settings(uri), 8, Duration::from_millis(500))
            .await
            .expect_err("silent server");
        assert!(err.to_string().contains("no answer within 0.5 s"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        server.abort();
    }

    #[tokio::test]
    async fn connect_rejects_a_bad_uri_and_a_zero_dimension() {
        let err = Neo4jStore::connect(settings("not a uri".into()), 8)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Neo4j at not a uri"), "{err}");
        let err = Neo4jStore::connect(settings("bolt://127.0.0.1:1".into()), 0)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("dimension must be positive"),
            "{err}"
        );
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let shown = format!("{:?}", settings("bolt://x:7687".into()));
        assert!(
            !shown.contains("secret-password") && shown.contains("***"),
            "{shown}"
        );
    }
}
