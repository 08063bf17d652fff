//! Runs the shared store contract suite (`mnemo_testkit::contract`) against Neo4j when
//! `MNEMO_TEST_NEO4J_URI` is set (with `MNEMO_TEST_NEO4J_USER`, default `neo4j`, and
//! `MNEMO_TEST_NEO4J_PASSWORD`); otherwise every case prints one line saying it was skipped.
//!
//! The suite needs one value implementing all four store ports: the graph ports go to the
//! `Neo4jStore`, the vector ports to an embedded store in a temporary folder (this crate
//! has no vector half; on the scale-out backend that is Qdrant's).

use std::sync::Arc;

use mnemo_embedded::EmbeddedStore;
use mnemo_neo4j::{Neo4jSettings, Neo4jStore};
use mnemo_testkit::SplitStore;
use tempfile::TempDir;

/// Neo4j for the graph, an embedded store for vectors and facts.
async fn open_store() -> Option<(SplitStore, TempDir)> {
    let Some(uri) = std::env::var("MNEMO_TEST_NEO4J_URI")
        .ok()
        .filter(|uri| !uri.is_empty())
    else {
        static WHY: std::sync::Once = std::sync::Once::new();
        WHY.call_once(|| {
            eprintln!(
                "MNEMO_TEST_NEO4J_URI is not set: the Neo4j store contract cases are skipped \
                 (set it, with MNEMO_TEST_NEO4J_USER and MNEMO_TEST_NEO4J_PASSWORD, to run them)"
            );
        });
        return None;
    };
    let settings = Neo4jSettings {
        uri,
        user: std::env::var("MNEMO_TEST_NEO4J_USER").unwrap_or_else(|_| "neo4j".to_owned()),
        password: std::env::var("MNEMO_TEST_NEO4J_PASSWORD").unwrap_or_default(),
        database: None,
    };
    let graph = Neo4jStore::connect(settings, mnemo_testkit::CONTRACT_DIMENSION)
        .await
        .expect("MNEMO_TEST_NEO4J_URI is set, so Neo4j must be reachable");
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let vectors = EmbeddedStore::open(dir.path(), mnemo_testkit::CONTRACT_DIMENSION)
        .expect("open the embedded vector store");
    Some((SplitStore::new(Arc::new(graph), Arc::new(vectors)), dir))
}

mnemo_testkit::store_contract_tests!(open_store);
