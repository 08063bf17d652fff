//! The `mnemo` binary: the command line, configuration loading and the composition root
//! that wires the store, the embedder and the HTTP server together.

mod compose;
mod config;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

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
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it as TOML, secrets masked.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve::run(cli.config.as_deref()),
        Command::Config(ConfigCommand::Check) => config_check(cli.config.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_check(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = Config::load(file, std::env::vars_os())?;
    // The ontology file and prompt overrides are read here too, so their errors show now.
    compose::ontology(&config)?;
    compose::llm(&config)?;
    print!("{}", config.to_toml());
    Ok(())
}
