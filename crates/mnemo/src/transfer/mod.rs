//! `mnemo export` and `mnemo import`: the files around `mnemo_core::transfer`.
//!
//! The export format is JSON lines, one record per line, tagged by `kind` (`episode`,
//! `entity`, `relation`, `mention`, `fact`, `fact_event`, `summary`), every record with
//! its `scope`: the domain's serde (`mnemo_core::transfer::Record`), not the HTTP wire
//! format of `mnemo_api`. Import also reads add requests: JSON lines of `POST
//! /v1/memories` bodies (`mnemo_api::AddBody`, `--format messages`) or a LOCOMO file
//! (`--format locomo`), added locally or through a running server (`--url`).

mod locomo;

use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mnemo_core::transfer::{ImportMode, ImportReport, Record};
use serde_json::Value;

use crate::cli::{AddBody, Client, ScopeArgs, TargetArgs};
use crate::config::Config;

#[derive(Args)]
pub struct ExportArgs {
    /// The file to write ("-" for standard output); written whole or not at all
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Only the scopes whose ids equal the ones given (e.g. `--user-id alice`: every
    /// scope of alice) [default: every scope]
    #[command(
        flatten,
        next_help_heading = "Only the scopes with these ids [default: every scope]"
    )]
    scope: ScopeArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Records written by `mnemo export`
    Mnemo,
    /// JSON lines of add requests: {"messages", "user_id"?, …, "occurred_at"?}
    Messages,
    /// The LOCOMO benchmark's JSON: each conversation into scope user_id = sample_id,
    /// each session one add at its date
    Locomo,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The file to read
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Mnemo)]
    format: Format,
    /// (mnemo) Add to scopes that already hold data; records already stored are kept
    /// [default: refuse a scope that is not empty]
    #[arg(long)]
    merge: bool,
    /// (messages, locomo) Extract with the LLM (infer: true) when a line does not say
    /// [default: store messages as facts, infer: false]
    #[arg(long)]
    infer: bool,
    /// (messages, locomo) Send the adds to a running mnemo at this base URL instead of
    /// opening the store
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// (with --url) API key for the server
    #[arg(
        long,
        env = "MNEMO_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    api_key: Option<String>,
    /// (messages) The scope of lines that name none
    #[command(
        flatten,
        next_help_heading = "Scope of the lines that name none (messages)"
    )]
    scope: ScopeArgs,
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress(len: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub async fn export(config: Config, args: ExportArgs) -> anyhow::Result<()> {
    let memory = crate::compose::open_memory(&config).await?;
    let scopes: Vec<_> = memory
        .scopes()
        .await?
        .into_iter()
        .filter(|scope| args.scope.matches(scope))
        .collect();
    let mut out = Output::create(&args.out)?;
    let bar = progress(scopes.len(), "scopes");
    let mut records = 0;
    for scope in &scopes {
        bar.set_message(scope.to_string());
        for record in memory.export_scope(scope).await? {
            write_record(&mut out.writer, &record)?;
            records += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.finish()?;
    eprintln!("exported {records} records of {} scopes", scopes.len());
    Ok(())
}

/// One record as one line.
pub fn write_record(out: &mut impl std::io::Write, record: &Record) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, record).context("cannot encode a record")?;
    out.write_all(b"\n").context("cannot write the export")?;
    Ok(())
}

/// The export's destination: a file written under a temporary name and renamed when
/// complete, or standard output.
struct Output {
    writer: Box<dyn std::io::Write>,
    /// (temporary, final) names of a file output.
    rename: Option<(PathBuf, PathBuf)>,
}

impl Output {
    fn create(path: &Path) -> anyhow::Result<Output> {
        if path == Path::new("-") {
            return Ok(Output {
                writer: Box::new(BufWriter::new(std::io::stdout())),
                rename: None,
            });
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(Output {
            writer: Box::new(BufWriter::new(file)),
            rename: Some((partial, path.to_owned())),
        })
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.writer.flush().context("cannot write the export")?;
        drop(self.writer);
        if let Some((partial, path)) = self.rename {
            std::fs::rename(&partial, &path).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), path.display())
            })?;
        }
        Ok(())
    }
}

/// Every record of a JSON-lines export; a bad line is named by its number.
pub fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    read_lines(path, |line| {
        serde_json::from_str::<Record>(line).map_err(anyhow::Error::from)
    })
}

fn read_lines<T>(path: &Path, parse: impl Fn(&str) -> anyhow::Result<T>) -> anyhow::Result<Vec<T>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut items = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let item = parse(&line).with_context(|| format!("{} line {}", path.display(), i + 1))?;
        items.push(item);
    }
    Ok(items)
}

pub async fn import(config: Config, args: ImportArgs) -> anyhow::Result<()> {
    match args.format {
        Format::Mnemo => {
            if args.url.is_some() {
                bail!(
                    "records are imported into the store directly: stop `mnemo serve` and run without --url"
                );
            }
            if args.infer || !args.scope.is_empty() {
                bail!("--infer and scope flags apply to --format messages and locomo only");
            }
            let mode = if args.merge {
                ImportMode::Merge
            } else {
                ImportMode::IntoEmpty
            };
            let records = read_records(&args.file)?;
            let memory = crate::compose::open_memory(&config).await?;
            let report = import_records(&memory, records, mode).await?;
            eprintln!("{}", describe(&report));
            Ok(())
        }
        Format::Messages | Format::Locomo => {
            if args.merge {
                bail!("--merge applies to --format mnemo only (adds are always added)");
            }
            let adds = match args.format {
                Format::Locomo => {
                    if !args.scope.is_empty() {
                        bail!("a LOCOMO file names its scopes (user_id = sample_id)");
                    }
                    let text = std::fs::read_to_string(&args.file)
                        .with_context(|| format!("cannot read {}", args.file.display()))?;
                    let data: Value = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", args.file.display()))?;
                    locomo::adds(&data, args.infer)
                        .with_context(|| format!("{} is not a LOCOMO file", args.file.display()))?
                }
                _ => read_lines(&args.file, |line| {
                    let body: AddBody = serde_json::from_str(line)?;
                    Ok(args.scope.fill_in(body))
                })?,
            };
            let target = TargetArgs {
                local: args.url.is_none(),
                url: args.url,
                api_key: args.api_key,
            };
            let client = Client::new(&config, &target).await?;
            let tally = add_all(&client, adds, args.infer).await?;
            eprintln!("{tally}");
            Ok(())
        }
    }
}

/// Imports scope by scope with a progress bar.
pub async fn import_records(
    memory: &mnemo_core::Memory,
    records: Vec<Record>,
    mode: ImportMode,
) -> anyhow::Result<ImportReport> {
    let scopes = records
        .iter()
        .map(Record::scope)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let bar = progress(scopes, "scopes");
    let mut started = false;
    let mut on_scope = |scope: &mnemo_core::Scope| {
        if std::mem::replace(&mut started, true) {
            bar.inc(1);
        }
        bar.set_message(scope.to_string());
    };
    let report = memory.import(records, mode, &mut on_scope).await;
    bar.finish_and_clear();
    Ok(report?)
}

fn describe(report: &ImportReport) -> String {
    let mut text = format!(
        "imported {} scopes: {} episodes, {} entities, {} relations, {} mentions, {} facts, \
         {} fact events, {} summaries",
        report.scopes,
        report.episodes,
        report.entities,
        report.relations,
        report.mentions,
        report.facts,
        report.fact_events,
        report.summaries
    );
    if report.skipped > 0 {
        text.push_str(&format!(
            "; {} records already stored were kept",
            report.skipped
        ));
    }
    text
}

/// How the adds of an import went.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub done: usize,
    pub failed: usize,
    pub pending: usize,
    pub duplicates: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} adds: {} done, {} failed, {} pending, {} already added",
            self.done + self.failed + self.pending + self.duplicates,
            self.done,
            self.failed,
            self.pending,
            self.duplicates
        )
    }
}

/// Adds one after another (order matters within a scope). An episode that fails (the
/// LLM could not answer) is counted and the import goes on; an error stops it.
async fn add_all(client: &Client, adds: Vec<AddBody>, infer: bool) -> anyhow::Result<Tally> {
    let bar = progress(adds.len(), "adds");
    let mut tally = Tally::default();
    for (i, add) in adds.into_iter().enumerate() {
        let result = client
            .add(add, infer)
            .await
            .with_context(|| format!("add {} of the file", i + 1))?;
        if result.get("duplicate").and_then(Value::as_bool) == Some(true) {
            tally.duplicates += 1;
        } else {
            match result.get("status").and_then(Value::as_str) {
                Some("done") => tally.done += 1,
                Some("failed") => {
                    tally.failed += 1;
                    let reason = result.get("reason").and_then(Value::as_str).unwrap_or("");
                    bar.suspend(|| eprintln!("add {} failed: {reason}", i + 1));
                }
                _ => tally.pending += 1,
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(tally)
}

#[cfg(test)]
mod tests;
