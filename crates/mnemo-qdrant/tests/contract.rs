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

/// The store on the contract collections, or `None` unless `MNEMO_TEST_QDRANT_URL` is
/// set; a set but unusable address fails the case.
async fn connect_from_env() -> Option<QdrantStore> {
    let url = std::env::var("MNEMO_TEST_QDRANT_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())?;
    let settings = QdrantSettings {
        api_key: std::env::var("MNEMO_TEST_QDRANT_API_KEY").ok(),
        collection_prefix: "mnemo_contract".to_owned(),
        ..QdrantSettings::new(url)
    };
    Some(
        QdrantStore::connect(settings, mnemo_testkit::CONTRACT_DIMENSION)
            .await
            .expect("MNEMO_TEST_QDRANT_URL is set but Qdrant is not usable"),
    )
}

/// `None` (every case skipped) unless `MNEMO_TEST_QDRANT_URL` is set.
async fn qdrant_from_mnemo_test_qdrant_url() -> Option<(SplitStore, tempfile::TempDir)> {
    let vectors = connect_from_env().await?;
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = EmbeddedStore::open(dir.path(), mnemo_testkit::CONTRACT_DIMENSION)
        .expect("open the embedded store");
    Some((SplitStore::new(Arc::new(graph), Arc::new(vectors)), dir))
}

mnemo_testkit::store_contract_tests!(qdrant_from_mnemo_test_qdrant_url);

/// After a connect every payload index is current: the server reports back the parameters
/// it was asked for (the text index's stemmer among them), so the next connect rebuilds
/// nothing.
#[tokio::test]
async fn a_connect_leaves_no_index_to_build() {
    let Some(store) = connect_from_env().await else {
        eprintln!("skipped: MNEMO_TEST_QDRANT_URL is not set");
        return;
    };
    assert_eq!(store.pending_indexes().await.unwrap(), Vec::<String>::new());
}
