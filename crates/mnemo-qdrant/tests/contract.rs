//! The store contract suite with Qdrant holding the vectors, when `MNEMO_TEST_QDRANT_URL`
//! names a Qdrant gRPC address (e.g. `http://localhost:6334`; `MNEMO_TEST_QDRANT_API_KEY`
//! if it needs one). The graph half is a temporary embedded store, so the suite checks
//! `QdrantStore` against exactly the contract the embedded vector store meets. Without the
//! variable every case prints one line saying it was skipped.
//!
//! Cases share the collections `mnemo_contract_*` (every case uses fresh random scopes).

use std::sync::Arc;

use mnemo_embedded::EmbeddedStore;
use mnemo_qdrant::{QdrantSettings, QdrantStore};
use mnemo_testkit::SplitStore;

/// `None` (every case skipped) unless `MNEMO_TEST_QDRANT_URL` is set; a set but unusable
/// address fails the case.
async fn qdrant_from_mnemo_test_qdrant_url() -> Option<(SplitStore, tempfile::TempDir)> {
    let url = std::env::var("MNEMO_TEST_QDRANT_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())?;
    let settings = QdrantSettings {
        api_key: std::env::var("MNEMO_TEST_QDRANT_API_KEY").ok(),
        collection_prefix: "mnemo_contract".to_owned(),
        ..QdrantSettings::new(url)
    };
    let vectors = QdrantStore::connect(settings, mnemo_testkit::CONTRACT_DIMENSION)
        .await
        .expect("MNEMO_TEST_QDRANT_URL is set but Qdrant is not usable");
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = EmbeddedStore::open(dir.path(), mnemo_testkit::CONTRACT_DIMENSION)
        .expect("open the embedded store");
    Some((SplitStore::new(Arc::new(graph), Arc::new(vectors)), dir))
}

mnemo_testkit::store_contract_tests!(qdrant_from_mnemo_test_qdrant_url);
