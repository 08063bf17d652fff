//! `eval`: the `mnemo eval …` subcommands with the zero-latency scripted LLM built in, so
//! `eval scale` also measures the ingest rate (the `mnemo` binary ships no test code and
//! reports it as not measured). Model files where `make setup` installs them.
//!
//! `cargo run --release -p mnemo-eval --features scripted-llm --bin eval -- scale --out DIR`

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use mnemo_eval::EvalCommand;
use mnemo_fastembed::EmbedConfig;

#[derive(Parser)]
#[command(name = "eval", about = "mnemo's evaluations")]
struct Cli {
    #[command(subcommand)]
    command: EvalCommand,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ingest_llm = mnemo_testkit::zero_latency_llm::start().await;
    let embed = EmbedConfig::repo_default(&repo);
    match mnemo_eval::cli::execute(cli.command, &embed, Some(ingest_llm.base_url())).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
