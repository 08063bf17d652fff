//! The store contract: one `pub async fn` per case, each taking any [`ContractStore`] and
//! panicking with a readable message when the backend breaks the contract of the ports.
//!
//! Cases only use the trait methods, create fresh random scopes, and never depend on data
//! written by another case, so they can run concurrently against one shared backend.

mod entities;
mod episodes;
mod facts;
mod isolation;
mod relations;
mod revert;
mod visibility;
mod walk;

pub use entities::*;
pub use episodes::*;
pub use facts::*;
pub use isolation::*;
pub use relations::*;
pub use revert::*;
pub use visibility::*;
pub use walk::*;

use std::collections::BTreeSet;
use std::fmt::Debug;

use mnemo_core::ports::{
    GraphRead, GraphWrite, Page, RelationQuery, VectorRead, VectorWrite, WriteOp,
};
use mnemo_core::{EntityId, RelationType, Scope, StoreError, Visibility};

use crate::ContractStore;

/// `GraphRead::ping` and `VectorRead::ping` both succeed.
pub async fn ping_succeeds<S: ContractStore + ?Sized>(store: &S) {
    GraphRead::ping(store)
        .await
        .expect("GraphRead::ping failed");
    VectorRead::ping(store)
        .await
        .expect("VectorRead::ping failed");
}

/// Applies `ops`, panicking with `what` and the error on failure.
async fn apply<S: ContractStore + ?Sized>(store: &S, scope: &Scope, ops: Vec<WriteOp>, what: &str) {
    if let Err(err) = store.apply(scope, ops).await {
        panic!("{what}: apply failed: {err:?}");
    }
}

/// Applies `ops` expecting `NotFound`.
async fn apply_not_found<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    ops: Vec<WriteOp>,
    what: &str,
) {
    match store.apply(scope, ops).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected Err(NotFound), got {other:?}"),
    }
}

/// Unwraps a store result with context.
fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{what}: store error {err:?}"),
    }
}

/// A batch of `keys` repeated fifty times, and the answers to it if each key is answered
/// as in `answers` (the batch of `keys` once): a backend may read short and long batches
/// differently, and both must answer alike.
fn long_batch<K: Clone, T: Clone>(keys: &[K], answers: &[T]) -> (Vec<K>, Vec<T>) {
    let repeat = |n: usize| n * 50;
    (
        keys.iter()
            .cloned()
            .cycle()
            .take(repeat(keys.len()))
            .collect(),
        answers
            .iter()
            .cloned()
            .cycle()
            .take(repeat(answers.len()))
            .collect(),
    )
}

/// A read addressed at a record of another scope must return nothing: `Ok` with no items,
/// or `NotFound`. Anything else (items, or another error) fails.
fn nothing_or_not_found<T: Debug>(result: Result<Vec<T>, StoreError>, what: &str) {
    match result {
        Ok(items) if items.is_empty() => {}
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected nothing (or NotFound), got {other:?}"),
    }
}

/// A listing addressed at a record that may be gone: `NotFound` counts as empty.
fn or_empty<T>(result: Result<Vec<T>, StoreError>, what: &str) -> Vec<T> {
    match result {
        Ok(items) => items,
        Err(StoreError::NotFound { .. }) => Vec::new(),
        Err(err) => panic!("{what}: store error {err:?}"),
    }
}

const LISTING: Page = Page {
    limit: 1000,
    offset: 0,
};

/// A relation query over the whole timeline (or at `visible_at`), by entity.
fn by_entity(entity: EntityId, visible_at: Option<Visibility>) -> RelationQuery {
    RelationQuery {
        entity: Some(entity),
        outgoing_only: false,
        relation_type: None,
        visible_at,
        limit: 1000,
    }
}

/// A relation query by type alone.
fn by_type(relation_type: &str, visible_at: Option<Visibility>) -> RelationQuery {
    RelationQuery {
        entity: None,
        outgoing_only: false,
        relation_type: Some(RelationType::parse(relation_type).expect("valid relation type")),
        visible_at,
        limit: 1000,
    }
}

fn set<T: Ord + Clone>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    items.into_iter().collect()
}

/// Both erase ports: the graph and the vectors of `scope`.
async fn erase<S: ContractStore + ?Sized>(store: &S, scope: &Scope) {
    ok(
        GraphWrite::erase_scope(store, scope).await,
        "GraphWrite::erase_scope",
    );
    ok(
        VectorWrite::erase_scope(store, scope).await,
        "VectorWrite::erase_scope",
    );
}
