//! Runs the shared store contract suite (`mnemo_testkit::contract`) against the embedded
//! store, one fresh store in a temporary folder per case.

use mnemo_embedded::EmbeddedStore;
use tempfile::TempDir;

async fn open_store() -> Option<(EmbeddedStore, TempDir)> {
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let store = EmbeddedStore::open(dir.path(), mnemo_testkit::CONTRACT_DIMENSION)
        .expect("open the embedded store");
    Some((store, dir))
}

mnemo_testkit::store_contract_tests!(open_store);
