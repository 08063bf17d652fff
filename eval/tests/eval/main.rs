//! The evaluations run end to end on tiny inputs: a one-conversation LOCOMO slice offline
//! and with the scripted LLM (`--llm`), and a small scale run. Real embedder, real store,
//! real sockets; the numbers asserted are the ones a person can work out by hand.

mod cli;
mod extraction;
mod llm;
mod offline;
mod scale;
mod support;
