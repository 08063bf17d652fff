//! Integration tests of the embedded store's own behaviour (the shared store contract suite
//! lives in mnemo-testkit): crash safety, exact vector search, FTS escaping, migrations and
//! the in-memory state rebuilt on open.

mod support;

mod contract;
mod kill9;
mod open;
mod search;
mod writes;
