//! `mnemo mcp`: mnemo's MCP tools (mnemo-mcp) over stdio, against the configured store
//! opened in this process, for desktop clients that start their servers as commands. The
//! caller is the local user, so every scope is open; `--user-id` and friends set the
//! default scope of calls that name none. stdout carries only the protocol; logs go to
//! stderr. A running `mnemo serve` serves the same tools at `/mcp`.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use rmcp::ServiceExt as _;

use crate::cli::ScopeArgs;
use crate::config::Config;

#[derive(Args, Debug)]
pub struct McpArgs {
    /// The default scope of tool calls that name none.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

pub async fn run(config: Config, args: McpArgs) -> anyhow::Result<()> {
    let default_scope = if args.scope.is_empty() {
        None
    } else {
        Some(args.scope.scope()?)
    };
    let memory = Arc::new(crate::compose::open_memory(&config).await?);
    let service = mnemo_mcp::MemoryTools::new(memory, default_scope)
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP client did not complete the handshake")?;
    service
        .waiting()
        .await
        .context("the MCP connection failed")?;
    Ok(())
}
