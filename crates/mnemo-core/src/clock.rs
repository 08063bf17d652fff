//! The one source of "now" in core: every timestamp core stamps (recorded, ingested,
//! invalidated, fact events, the default read point) comes from the [`Memory`]'s clock, so
//! a test can fix time and core never reads the system clock anywhere else.
//!
//! [`Memory`]: crate::Memory

use crate::Timestamp;

/// Tells the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock (UTC); what a [`crate::Memory`] uses unless given another.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}
