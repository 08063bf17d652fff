//! mnemo's scale-out vector store: relation embeddings, facts and fact history in Qdrant,
//! implementing `VectorRead` and `VectorWrite` (the graph half lives in Neo4j).
//!
//! Three collections per prefix (`schema.rs`), points keyed by our own UUIDs, payloads that
//! mirror scope and validity (`payload.rs`), and every read filtered inside Qdrant by the
//! scope and, for relations, by the visibility rule (`filter.rs`) — no read filters or scans
//! a scope client-side. Several mnemo processes can share one Qdrant: connecting creates
//! what is missing and checks what exists, and races between processes are harmless.
//!
//! Written for Qdrant 1.16 or newer, over gRPC (port 6334 by default).

mod error;
mod filter;
mod payload;
mod schema;
mod store;

use std::time::{Duration, Instant};

use mnemo_core::StoreError;
use qdrant_client::Qdrant;

use error::{QdrantStoreError, Result};
use schema::Collections;

/// Where and how to reach Qdrant.
#[derive(Clone, PartialEq, Eq)]
pub struct QdrantSettings {
    /// Qdrant's gRPC address, e.g. `http://localhost:6334`.
    pub url: String,
    /// Sent as the `api-key` header when set.
    pub api_key: Option<String>,
    /// Collections are `<prefix>_relations`, `<prefix>_facts`, `<prefix>_fact_history`.
    pub collection_prefix: String,
    /// Limit for connecting and for each request.
    pub timeout: Duration,
}

impl QdrantSettings {
    /// Prefix `mnemo`, no API key, a 10 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        QdrantSettings {
            url: url.into(),
            api_key: None,
            collection_prefix: "mnemo".to_owned(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for QdrantSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantSettings")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "********"))
            .field("collection_prefix", &self.collection_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Qdrant vector store. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct QdrantStore {
    client: Qdrant,
    url: String,
    timeout: Duration,
    collections: Collections,
    dimension: usize,
    /// Points whose payload did not decode, skipped by reads.
    skipped: std::sync::Arc<mnemo_core::SkippedRecords>,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("url", &self.url)
            .field("collections", &self.collections)
            .field("dimension", &self.dimension)
            .finish_non_exhaustive()
    }
}

impl QdrantStore {
    /// Connects, checks the server answers within `settings.timeout` (an unreachable server
    /// fails here, with its address in the message), then creates the collections and
    /// payload indexes that are missing and checks the ones that exist (a collection holding
    /// vectors of another `dimension` is a `Conflict`).
    pub async fn connect(
        settings: QdrantSettings,
        dimension: usize,
    ) -> Result<QdrantStore, StoreError> {
        Ok(Self::connect_inner(settings, dimension).await?)
    }

    async fn connect_inner(settings: QdrantSettings, dimension: usize) -> Result<QdrantStore> {
        schema::check_prefix(&settings.collection_prefix)?;
        if dimension == 0 {
            return Err(QdrantStoreError::Settings(
                "the embedding dimension must be positive".to_owned(),
            ));
        }
        if !(settings.url.starts_with("http://") || settings.url.starts_with("https://")) {
            return Err(QdrantStoreError::Settings(format!(
                "qdrant url {:?} is not an http:// or https:// URL such as http://localhost:6334",
                settings.url
            )));
        }
        let started = Instant::now();
        let client = Qdrant::from_url(&settings.url)
            .api_key(settings.api_key.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .skip_compatibility_check()
            .build()
            .map_err(|e| {
                QdrantStoreError::Settings(format!("qdrant url {:?}: {e}", settings.url))
            })?;
        let store = QdrantStore {
            client,
            url: settings.url,
            timeout: settings.timeout,
            collections: Collections::new(&settings.collection_prefix),
            dimension,
            skipped: Default::default(),
        };
        let version = store.health().await?;
        match schema::major_minor(&version) {
            Some(v) if v < schema::MIN_VERSION => tracing::warn!(
                url = %store.url,
                version = %version,
                "Qdrant is older than 1.16: writes are not guarded against ids of another scope"
            ),
            Some(_) => {}
            None => {
                tracing::warn!(url = %store.url, version = %version, "unrecognised Qdrant version")
            }
        }
        schema::ensure(&store.client, &store.collections, dimension).await?;
        tracing::info!(
            url = %store.url,
            version = %version,
            prefix = %settings.collection_prefix,
            dimension,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "qdrant store connected"
        );
        Ok(store)
    }

    /// The server's version, or `Unreachable` after at most the timeout.
    async fn health(&self) -> Result<String> {
        let unreachable = |detail: String| QdrantStoreError::Unreachable {
            url: self.url.clone(),
            detail,
        };
        match tokio::time::timeout(self.timeout, self.client.health_check()).await {
            Ok(Ok(reply)) => Ok(reply.version),
            Ok(Err(err)) => Err(unreachable(describe(&err))),
            Err(_) => Err(unreachable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The payload indexes a connect would create or rebuild now, as `collection.field`
    /// (a diagnostic; empty right after a connect on a server that reports its indexes).
    pub async fn pending_indexes(&self) -> Result<Vec<String>, StoreError> {
        Ok(schema::pending(&self.client, &self.collections, self.dimension).await?)
    }

    /// Length of the vectors this store holds.
    pub fn dimension(&self) -> usize {
        self.dimension
    }
}

/// A client error with its causes (tonic's transport errors say little at the top level).
fn describe(err: &qdrant_client::QdrantError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    //! Connecting fails fast and says why, against real sockets that are not Qdrant.

    use std::time::Duration;

    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    fn settings(url: String) -> QdrantSettings {
        QdrantSettings {
            timeout: Duration::from_millis(500),
            ..QdrantSettings::new(url)
        }
    }

    async fn connect_error(settings: QdrantSettings) -> (StoreError, Duration) {
        let started = Instant::now();
        let err = QdrantStore::connect(settings, 8)
            .await
            .expect_err("connecting must fail");
        (err, started.elapsed())
    }

    /// A bound port nobody listens on any more.
    fn closed_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    /// A server on a thread of its own handling each connection with `handle`; the thread
    /// ends with the test process.
    fn serve(handle: fn(std::net::TcpStream, &mut Vec<std::net::TcpStream>)) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for socket in listener.incoming().flatten() {
                handle(socket, &mut held);
            }
        });
        url
    }

    #[tokio::test]
    async fn unreachable_server_fails_fast_naming_the_url() {
        let port = closed_port();
        let url = format!("http://127.0.0.1:{port}");
        let (err, elapsed) = connect_error(settings(url.clone())).await;
        let StoreError::Backend(msg) = &err else {
            panic!("expected Backend, got {err:?}");
        };
        assert!(msg.contains(&url) && msg.contains("unreachable"), "{msg}");
        assert!(
            msg.contains("6334"),
            "the message names the gRPC port: {msg}"
        );
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        // Accepts connections and never answers.
        let url = serve(|socket, held| held.push(socket));
        let (err, elapsed) = connect_error(settings(url.clone())).await;
        assert!(
            matches!(&err, StoreError::Backend(m) if m.contains(&url)),
            "{err:?}"
        );
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }

    #[tokio::test]
    async fn http1_server_is_not_qdrant_grpc() {
        // Answers like Qdrant's REST port would to an HTTP/2 preface: an HTTP/1.1 error.
        let url = serve(|mut socket, _| {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        });
        let (err, elapsed) = connect_error(settings(url.clone())).await;
        assert!(
            matches!(&err, StoreError::Backend(m) if m.contains(&url) && m.contains("6333")),
            "{err:?}"
        );
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }

    #[tokio::test]
    async fn bad_settings_are_refused_before_connecting() {
        let cases: Vec<(QdrantSettings, usize, &str)> = vec![
            (
                settings("localhost:6334".into()),
                8,
                "not an http:// or https:// URL",
            ),
            (settings("http://exa mple:6334".into()), 8, "qdrant url"),
            (
                QdrantSettings {
                    collection_prefix: "my collection".into(),
                    ..settings("http://localhost:6334".into())
                },
                8,
                "collection prefix",
            ),
            (settings("http://localhost:6334".into()), 0, "dimension"),
        ];
        for (settings, dimension, expected) in cases {
            let what = format!("{settings:?}, dimension {dimension}");
            match QdrantStore::connect(settings, dimension).await {
                Err(StoreError::Invalid(e)) => {
                    assert!(e.to_string().contains(expected), "{what}: {e}");
                }
                other => panic!("{what}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn debug_hides_the_api_key() {
        let s = QdrantSettings {
            api_key: Some("secret-key".into()),
            ..QdrantSettings::new("http://q:6334")
        };
        let text = format!("{s:?}");
        assert!(
            !text.contains("secret-key") && text.contains("********"),
            "{text}"
        );
    }
}
