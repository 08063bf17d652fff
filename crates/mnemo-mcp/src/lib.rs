//! mnemo as an MCP server: the memory as tools an agent calls (add, search with both time
//! axes, timeline, subgraph, changes, facts, episodes, erasure), served over stdio
//! (`mnemo mcp`) and over streamable HTTP at `/mcp` (mnemo-server). Each tool is a thin
//! call into the same core function as the HTTP handler and answers with the same wire
//! types (`mnemo_api`), as structured content plus their JSON as text (and, for a search,
//! the ready `context`).
//!
//! Access: over HTTP the server's auth layer puts the caller's [`Binding`] into the
//! request's extensions, and a tool call outside it is refused like a 403; over stdio the
//! caller is the local user and every scope is open. A connection may carry a default
//! scope, used when a call names none.

mod args;
mod tools;

pub use args::{
    AddMemoryArgs, ChangesArgs, EraseArgs, IdArgs, ListFactsArgs, ScopeArgs, SubgraphArgs,
    TimelineArgs,
};
pub use tools::{Binding, MemoryTools};
