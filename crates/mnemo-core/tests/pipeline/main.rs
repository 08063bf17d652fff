//! Pipeline tests of mnemo-core on real parts: the embedded store, the real embedding
//! model and tokenizer, and the real LLM client against the scripted OpenAI-compatible
//! server.

mod clock;
mod facts;
mod plain;
mod read_fixture;
mod read_search;
mod read_temporal;
mod summary;
mod support;
mod write_crash;
mod write_lock;
mod write_scenarios;
mod write_timeline;
