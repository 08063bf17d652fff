//! The `mnemo eval …` subcommands as a clap enum the `mnemo` binary embeds, and [`run`],
//! which executes one on its own Tokio runtime.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use mnemo_embed::EmbedConfig;

use crate::locomo::{self, LocomoOptions, Mode};
use crate::scale::{self, ScaleOptions};

/// `mnemo eval …`: measure retrieval quality and speed.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// LOCOMO benchmark: recall of evidence turns (offline) or LLM-judged answers (--llm).
    Locomo(LocomoArgs),
    /// Synthetic scale benchmark: search latency, ingest throughput, store size, memory.
    Scale(ScaleArgs),
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
    /// How the ingestion calls ask for structured answers: tools or json_schema.
    #[arg(long, default_value = "tools", value_name = "MODE")]
    pub llm_output: mnemo_llm::OutputMode,
    /// Seconds one LLM call may take.
    #[arg(long, default_value_t = 120)]
    pub llm_timeout_s: u64,
    /// Keep the store in this folder instead of a temporary one. A later run on the same
    /// folder skips the sessions already there (its ingest time then means nothing).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
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
    /// Adds through the full pipeline (zero-latency scripted LLM) for the ingest rate.
    #[arg(long, default_value_t = 300)]
    pub adds: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl LocomoArgs {
    pub fn options(&self) -> LocomoOptions {
        let llm = match (self.llm, &self.base_url, &self.model) {
            (true, Some(base_url), Some(model)) => Some(mnemo_llm::LlmConfig {
                api_key: self.api_key.clone(),
                output: self.llm_output,
                timeout: Duration::from_secs(self.llm_timeout_s),
                max_retries: 3,
                ..mnemo_llm::LlmConfig::new(base_url, model)
            }),
            _ => None,
        };
        LocomoOptions {
            data: self.data.clone(),
            mode: self.mode,
            out: self.out.clone(),
            llm,
            store: self.store.clone(),
            progress: !self.quiet,
        }
    }
}

impl ScaleArgs {
    pub fn options(&self) -> ScaleOptions {
        ScaleOptions {
            relations: self.relations,
            out: self.out.clone(),
            queries: self.queries,
            adds: self.adds,
            progress: !self.quiet,
        }
    }
}

/// Runs one `mnemo eval` subcommand to the end, printing where its report went and its
/// headline numbers.
pub fn run(command: EvalCommand, embed: &EmbedConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
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
            EvalCommand::Scale(args) => {
                let options = args.options();
                let report = scale::run(&options, embed).await?;
                println!(
                    "scale ({} relations): search p50 {} ms, p95 {} ms (depth 2), ingest {} \
                     relations/s, store {} MB, peak RSS {} MB",
                    options.relations,
                    report["search_p50_ms"],
                    report["search_p95_ms"],
                    report["ingest_relations_per_s"],
                    report["store_mb"],
                    report["rss_mb"],
                );
                println!("report: {}", options.out.join("report.md").display());
            }
        }
        Ok(())
    })
}
