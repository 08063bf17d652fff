//! Stored records a read could not decode. A backend that meets one logs it with its
//! kind and id, skips it and counts it here, so one bad row never takes a scope down and
//! a store opens whatever one row says; the count reaches `/metrics` through the ports'
//! `counts`, and `mnemo check` reports the records per scope.

use std::sync::atomic::{AtomicU64, Ordering};

/// The undecodable records one store has skipped since it was opened.
#[derive(Debug, Default)]
pub struct SkippedRecords {
    count: AtomicU64,
}

impl SkippedRecords {
    /// Logs and counts one skipped record: `kind` (a table or label), its `id` and why.
    pub fn skip(&self, kind: &'static str, id: &str, error: &dyn std::fmt::Display) {
        self.count.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(kind, id, %error, "skipping an undecodable stored record");
    }

    /// How many have been skipped (each time a read met one).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
