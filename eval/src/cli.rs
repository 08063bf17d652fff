//! The `mnemo eval …` subcommands as a clap enum the `mnemo` binary embeds, and [`run`],
//! which executes one on its own Tokio runtime.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use mnemo_fastembed::EmbedConfig;
use serde_json::Value;

use crate::locomo::{self, LocomoOptions, Mode};
use crate::scale::{self, ScaleOptions};

/// `mnemo eval …`: measure retrieval quality and speed.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// LOCOMO benchmark: recall of evidence turns (offline) or LLM-judged answers (--llm).
    Locomo(LocomoArgs),
    /// Synthetic scale benchmark: search latency, store size, memory, and ingest throughput
    /// where the zero-latency scripted LLM is built in (see --adds).
    Scale(ScaleArgs),
    /// Extraction quality against a live LLM: the labelled cases of
    /// eval/data/extraction/cases.json through the full write pipeline, scored triplet by
    /// triplet (recall, precision, currency, dates, false beliefs, calls and seconds per add).
    Extraction(ExtractionArgs),
    /// Cross-validation over finished LOCOMO runs (one per configuration): for each
    /// conversation, the run best on the others, scored on it; writes folds.json/.md.
    Folds(FoldsArgs),
}

#[derive(Debug, Args)]
pub struct FoldsArgs {
    /// A finished run: NAME=DIR, DIR holding its questions.jsonl. The first is the default
    /// (chosen on a tie). Give at least one.
    #[arg(long = "run", value_name = "NAME=DIR", required = true, value_parser = crate::folds::parse_run)]
    pub runs: Vec<(String, PathBuf)>,
    /// Folder for folds.json and folds.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct LocomoArgs {
    /// LOCOMO JSON file (e.g. shared/eval/locomo/locomo_dev.json).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// What each session ingests: its raw turns or its observations.
    #[arg(long, value_enum, default_value = "turns")]
    pub mode: Mode,
    /// Folder for report.json, report.md, recall.png and questions.jsonl.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Full pipeline: ingest with the LLM (infer: true), answer and judge every question.
    #[arg(long, requires_all = ["base_url", "model"])]
    pub llm: bool,
    /// OpenAI-compatible endpoint of --llm, e.g. https://api.openai.com/v1.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Model of --llm (ingestion, answers and judgements).
    #[arg(long)]
    pub model: Option<String>,
    /// API key of --llm.
    #[arg(long, env = "MNEMO_EVAL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// How the ingestion calls ask for structured answers: tools, json_schema or auto.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub llm_output: mnemo_llm::OutputMode,
    /// Seconds one LLM call may take.
    #[arg(long, default_value_t = 120)]
    pub llm_timeout_s: u64,
    /// Keep the store in this folder instead of a temporary one. A later run on the same
    /// folder skips the sessions already there (its ingest time then means nothing).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Only these conversations, by sample_id (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub conversations: Vec<String>,
    /// Only the first N sessions of each conversation, and the questions whose evidence
    /// lies in them (a local LLM on a small CPU cannot ingest a whole conversation).
    #[arg(long, value_name = "N")]
    pub sessions: Option<usize>,
    /// With --llm: ingest through the full pipeline and measure retrieval only, without
    /// answering and judging every question.
    #[arg(long)]
    pub no_answers: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The LLM endpoint of a run that needs one.
#[derive(Debug, Args)]
pub struct LlmArgs {
    /// OpenAI-compatible endpoint, e.g. http://127.0.0.1:8431/v1 (`make llm`).
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// Model name sent to the endpoint.
    #[arg(long, default_value = "local")]
    pub model: String,
    /// API key for the endpoint.
    #[arg(long, env = "MNEMO_EVAL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// How the calls ask for structured answers: tools, json_schema or auto.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub llm_output: mnemo_llm::OutputMode,
    /// Seconds one LLM call may take.
    #[arg(long, default_value_t = 120)]
    pub llm_timeout_s: u64,
    /// A folder whose `<tool>.md` files replace the built-in prompts (as `llm.prompts_dir`).
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,
}

impl LlmArgs {
    pub fn config(&self) -> mnemo_llm::LlmConfig {
        mnemo_llm::LlmConfig {
            api_key: self.api_key.clone(),
            output: self.llm_output,
            timeout: Duration::from_secs(self.llm_timeout_s),
            max_retries: 3,
            prompts_dir: self.prompts_dir.clone(),
            ..mnemo_llm::LlmConfig::new(&self.base_url, &self.model)
        }
    }
}

#[derive(Debug, Args)]
pub struct ExtractionArgs {
    /// The case file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "eval/data/extraction/cases.json"
    )]
    pub data: PathBuf,
    /// Folder for report.json, report.md and cases.jsonl.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Only the cases with one of these ids or tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Every Nth case only (1: all): a quicker run that still spans every kind of case.
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// At most this many cases.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Run the facts path (extract_facts + update_memory) too: the real cost of an add, but
    /// nothing the scores read.
    #[arg(long)]
    pub facts: bool,
    /// Fail (exit 1) when the overall recall is below this.
    #[arg(long)]
    pub min_recall: Option<f64>,
    /// Fail (exit 1) when the overall precision is below this.
    #[arg(long)]
    pub min_precision: Option<f64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// The ontology to extract with; the `mnemo` binary sets the configured one
    /// (`ontology.file`), the built-in one otherwise.
    #[arg(skip)]
    pub ontology: Option<mnemo_core::Ontology>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Relations in the store, over all scopes.
    #[arg(long, default_value_t = 100_000)]
    pub relations: usize,
    /// Folder for report.json and report.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Searches measured per depth.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// Adds through the full pipeline (zero-latency scripted LLM) for the ingest rate. That
    /// LLM is test code, left out of the mnemo binary, so `mnemo eval scale` reports the
    /// ingest as not measured; for the number run `cargo run --release -p mnemo-eval
    /// --features scripted-llm --bin eval -- scale …` (or `--bin bench_ingest`).
    #[arg(long, default_value_t = 300)]
    pub adds: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl LocomoArgs {
    pub fn options(&self) -> LocomoOptions {
        let llm = match (self.llm, &self.base_url, &self.model) {
            (true, Some(base_url), Some(model)) => Some(
                LlmArgs {
                    base_url: base_url.clone(),
                    model: model.clone(),
                    api_key: self.api_key.clone(),
                    llm_output: self.llm_output,
                    llm_timeout_s: self.llm_timeout_s,
                    prompts_dir: None,
                }
                .config(),
            ),
            _ => None,
        };
        LocomoOptions {
            data: self.data.clone(),
            mode: self.mode,
            out: self.out.clone(),
            llm,
            store: self.store.clone(),
            conversations: self.conversations.clone(),
            sessions: self.sessions,
            answers: !self.no_answers,
            progress: !self.quiet,
        }
    }
}

impl ScaleArgs {
    /// The run's options; `ingest_llm_url` is the zero-latency model's endpoint, if the
    /// caller started one (see [`ScaleOptions::ingest_llm_url`]).
    pub fn options(&self, ingest_llm_url: Option<String>) -> ScaleOptions {
        ScaleOptions {
            relations: self.relations,
            out: self.out.clone(),
            queries: self.queries,
            adds: self.adds,
            ingest_llm_url,
            progress: !self.quiet,
        }
    }
}

/// Runs one `mnemo eval` subcommand to the end on its own Tokio runtime, printing where its
/// report went and its headline numbers. `eval scale` measures no ingest here: see
/// [`execute`].
pub fn run(command: EvalCommand, embed: &EmbedConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(execute(command, embed, None))
}

/// [`run`] on the caller's runtime; `eval scale` measures the ingest rate against the
/// zero-latency model at `ingest_llm_url` when there is one.
pub async fn execute(
    command: EvalCommand,
    embed: &EmbedConfig,
    ingest_llm_url: Option<String>,
) -> anyhow::Result<()> {
    match command {
        EvalCommand::Locomo(args) => {
            let options = args.options();
            let report = locomo::run(&options, embed).await?;
            let overall = &report["overall_1_4"];
            println!(
                "LOCOMO {} (categories 1-4, {} questions): recall@10 {} (BM25 {}, vector {}), \
                     full@1000 {}, MRR {}, search p95 {} ms",
                options.mode.as_str(),
                overall["questions"],
                overall["recall@10"],
                report["baselines"]["bm25"]["overall_1_4"]["recall@10"],
                report["baselines"]["vector"]["overall_1_4"]["recall@10"],
                overall["full@1000"],
                overall["mrr"],
                report["latency_ms"]["search_p95"],
            );
            if let Some(answers) = report.get("answers") {
                println!(
                    "answers (categories 1-4): J {}, F1 {}, BLEU-1 {}",
                    answers["overall_1_4"]["j"],
                    answers["overall_1_4"]["f1"],
                    answers["overall_1_4"]["bleu1"]
                );
            }
            println!("report: {}", options.out.join("report.md").display());
        }
        EvalCommand::Extraction(args) => {
            let options = crate::extraction::ExtractionOptions {
                data: args.data.clone(),
                out: args.out.clone(),
                llm: args.llm.config(),
                only: args.only.clone(),
                stride: args.stride,
                limit: args.limit,
                ontology: args.ontology.clone(),
                facts: args.facts,
                progress: !args.quiet,
            };
            let report = crate::extraction::run(&options, embed).await?;
            print!("{}", crate::extraction::markdown(&report));
            println!("report: {}", options.out.join("report.md").display());
            let overall = &report["overall"];
            for (name, floor) in [
                ("recall", args.min_recall),
                ("precision", args.min_precision),
            ] {
                let value = overall[name].as_f64().unwrap_or(0.0);
                if let Some(floor) = floor {
                    anyhow::ensure!(value >= floor, "{name} {value} is below the floor {floor}");
                }
            }
        }
        EvalCommand::Folds(args) => {
            let folds = crate::folds::run(&args.runs, &args.out)?;
            print!("{}", folds.markdown());
            println!("report: {}", args.out.join("folds.md").display());
        }
        EvalCommand::Scale(args) => {
            let options = args.options(ingest_llm_url);
            let report = scale::run(&options, embed).await?;
            let ingest = match &report["ingest_relations_per_s"] {
                Value::Null => "ingest not measured".to_owned(),
                rate => format!("ingest {rate} relations/s"),
            };
            println!(
                "scale ({} relations): search p50 {} ms, p95 {} ms (depth 2), {ingest}, \
                     store {} MB, peak RSS {} MB",
                options.relations,
                report["search_p50_ms"],
                report["search_p95_ms"],
                report["store_mb"],
                report["rss_mb"],
            );
            if let Some(reason) = report["ingest"]["not_measured"].as_str() {
                eprintln!("{reason}");
            }
            println!("report: {}", options.out.join("report.md").display());
        }
    }
    Ok(())
}
