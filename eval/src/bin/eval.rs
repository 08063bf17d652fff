//! `eval`: the `mnemo eval …` subcommands on their own, with the embedding model files where
//! `make setup` installs them, until the `mnemo` binary embeds [`mnemo_eval::EvalCommand`].
//!
//! `cargo run --release -p mnemo-eval --bin eval -- locomo --data FILE --out DIR`

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use mnemo_embed::EmbedConfig;
use mnemo_eval::EvalCommand;

#[derive(Parser)]
#[command(name = "eval", about = "mnemo's evaluations")]
struct Cli {
    #[command(subcommand)]
    command: EvalCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match mnemo_eval::run(cli.command, &EmbedConfig::repo_default(&repo)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
