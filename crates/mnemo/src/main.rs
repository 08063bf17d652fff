//! The `mnemo` binary: the command line, configuration loading and the composition root
//! that wires the store, the embedder and the HTTP server together.

mod check;
mod cli;
mod compose;
mod config;
mod mcp;
mod reindex;
mod remote;
mod serve;
mod show;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli::{AddArgs, SearchArgs};
use crate::config::Config;
use crate::transfer::{ExportArgs, ImportArgs};

/// mnemo: long-term memory for AI agents, as a temporal knowledge graph.
#[derive(Parser)]
#[command(name = "mnemo", version)]
struct Cli {
    /// TOML configuration file; every key can also be set with MNEMO__SECTION__KEY.
    #[arg(long, global = true, env = "MNEMO_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service until SIGTERM or ctrl-c.
    Serve,
    /// Add messages to memory (POST /v1/memories), and print what changed.
    Add(AddArgs),
    /// Search memory (POST /v1/search), and print the relations, facts and context found.
    Search(SearchArgs),
    /// Write every record of the store (or of some scopes) to a JSON-lines file. Opens the
    /// store directly: stop `mnemo serve` first.
    Export(ExportArgs),
    /// Read records written by `mnemo export` into the store, or add conversations from a
    /// JSON-lines file of add requests or a LOCOMO file.
    Import(ImportArgs),
    /// Read every record of every scope and report, per scope, the undecodable ones that
    /// reads skip. Opens the store directly: stop `mnemo serve` first.
    Check,
    /// Re-embed the embedded store with the configured model (embed.model), after changing
    /// models. Opens the store directly: stop `mnemo serve` first.
    Reindex(reindex::ReindexArgs),
    /// Serve the memory as MCP tools over stdio (for MCP clients that start a command),
    /// on the configured store opened here; `mnemo serve` serves them at /mcp.
    Mcp(mcp::McpArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Measure retrieval quality (LOCOMO) and speed at scale; writes report.json/.md.
    #[command(subcommand)]
    Eval(mnemo_eval::EvalCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it as TOML, secrets masked.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = cli.config.as_deref();
    let result = match cli.command {
        Command::Serve => serve::run(file),
        Command::Add(args) => cli::run(file, |config| cli::add(config, args)),
        Command::Search(args) => cli::run(file, |config| cli::search(config, args)),
        Command::Export(args) => cli::run(file, |config| transfer::export(config, args)),
        Command::Import(args) => cli::run(file, |config| transfer::import(config, args)),
        Command::Check => cli::run(file, check::check),
        Command::Reindex(args) => cli::run(file, |config| reindex::run(config, args)),
        Command::Mcp(args) => cli::run(file, |config| mcp::run(config, args)),
        Command::Config(ConfigCommand::Check) => config_check(file),
        Command::Eval(command) => eval(file, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `mnemo eval …` with the configured model files (`embed.*`);
/// `eval extraction` also extracts with the configured ontology and prompt overrides.
fn eval(
    file: Option<&std::path::Path>,
    mut command: mnemo_eval::EvalCommand,
) -> anyhow::Result<()> {
    let config = Config::load(file, std::env::vars_os())?;
    if let mnemo_eval::EvalCommand::Extraction(args) = &mut command {
        args.ontology = Some(compose::ontology(&config)?);
        if args.llm.prompts_dir.is_none() {
            args.llm.prompts_dir = config.llm.prompts_dir.clone();
        }
    }
    mnemo_eval::run(command, &compose::embed_config(&config))
}

fn config_check(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = Config::load(file, std::env::vars_os())?;
    // The ontology file and prompt overrides are read here too, so their errors show now.
    compose::ontology(&config)?;
    compose::llm(&config)?;
    print!("{}", config.to_toml());
    Ok(())
}
