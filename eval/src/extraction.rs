//! `mnemo eval extraction`: the labelled extraction cases (`eval/data/extraction/`) through
//! the real write pipeline against a live LLM, scored triplet by triplet: what a good memory
//! should hold afterwards (and when), and what it must not believe.
//!
//! Each case gets a fresh embedded store; its earlier episodes and then its message are
//! added with `infer: true`, and the relations held afterwards (the full timeline, ended
//! and retracted ones too) are compared with the labels:
//! - a held relation *matches* a label when its type is the label's (or one of its `also`
//!   types) and both names match (case, punctuation and articles aside, or one name's
//!   words contained in the other's: "Lisbon" matches "Lisbon, Portugal"); symmetric types
//!   (MARRIED_TO, FRIEND_OF, RELATED_TO, SIBLING_OF) match in either direction;
//! - *recall*: labels matched by some held relation; *precision*: held relations (not
//!   retracted) that match some label;
//! - *current*: of the matched labels, those whose best match is visible now exactly when
//!   the label says `current`;
//! - *temporal*: of the matched labels' non-null `valid_from` / `valid_to`, those the best
//!   match has at the label's precision (year, month or day);
//! - *false beliefs*: `absent` triplets visible now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use mnemo_core::llm::ChatMessage;
use mnemo_core::read::{RelationStatus, TimelineEntry};
use mnemo_core::write::AddRequest;
use mnemo_core::{
    EpisodeStatus, LlmUsage, Memory, MemoryParts, MemorySettings, Ontology, Scope, Timestamp,
    Visibility,
};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::EmbedConfig;
use serde::Deserialize;
use serde_json::{Value, json};

/// Relation types whose two ends may be given in either order.
const SYMMETRIC: &[&str] = &["MARRIED_TO", "FRIEND_OF", "RELATED_TO", "SIBLING_OF"];

/// What `mnemo eval extraction` runs.
#[derive(Clone, Debug)]
pub struct ExtractionOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    pub llm: mnemo_llm::LlmConfig,
    /// Only the cases with one of these ids or tags (all when empty).
    pub only: Vec<String>,
    /// Every `stride`-th case only (after `only`; 1: all), for a quicker run that still
    /// spans every kind of case.
    pub stride: usize,
    /// At most this many cases (after `only` and `stride`).
    pub limit: Option<usize>,
    /// The ontology the pipeline extracts with (the built-in one when `None`).
    pub ontology: Option<Ontology>,
    /// Run the facts path (`extract_facts` + `update_memory`) too; off, the adds make only
    /// the graph path's calls, which is all the scores read.
    pub facts: bool,
    pub progress: bool,
}

/// The case file.
#[derive(Debug, Deserialize)]
struct CaseFile {
    /// The user's name: the scope's `user_id`, so "I" resolves to it.
    user: String,
    agent: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    tags: Vec<String>,
    #[serde(default)]
    before: Vec<EpisodeIn>,
    occurred_at: Timestamp,
    messages: Vec<ChatMessage>,
    expect: Vec<Expected>,
    #[serde(default)]
    absent: Vec<Triplet>,
}

#[derive(Debug, Deserialize)]
struct EpisodeIn {
    occurred_at: Timestamp,
    messages: Vec<ChatMessage>,
}

#[derive(Clone, Debug, Deserialize)]
struct Triplet {
    source: String,
    relation: String,
    target: String,
}

#[derive(Debug, Deserialize)]
struct Expected {
    #[serde(flatten)]
    triplet: Triplet,
    /// Other relation types that state the same thing just as well.
    #[serde(default)]
    also: Vec<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; `null`: not scored.
    valid_from: Option<String>,
    valid_to: Option<String>,
    current: bool,
}

impl Expected {
    /// The relation types that state the label: its own, then its `also` types.
    fn types(&self) -> Vec<&str> {
        std::iter::once(self.triplet.relation.as_str())
            .chain(self.also.iter().map(String::as_str))
            .collect()
    }
}

/// One relation the memory holds after a case, as scored.
#[derive(Clone, Debug)]
struct Held {
    source: String,
    relation: String,
    target: String,
    valid_from: Option<Timestamp>,
    valid_to: Option<Timestamp>,
    status: RelationStatus,
}

impl Held {
    fn from_entry(entry: &TimelineEntry) -> Held {
        let relation = &entry.relation;
        Held {
            source: relation.source.name.clone(),
            relation: relation.relation.relation_type.as_str().to_owned(),
            target: relation.target.name.clone(),
            valid_from: relation.relation.times.valid_from,
            valid_to: relation.relation.times.valid_to,
            status: entry.status,
        }
    }

    fn visible(&self) -> bool {
        self.status == RelationStatus::Valid
    }

    fn to_json(&self) -> Value {
        json!({
            "triplet": format!("{} {} {}", self.source, self.relation, self.target),
            "valid_from": self.valid_from.map(|t| t.date_naive().to_string()),
            "valid_to": self.valid_to.map(|t| t.date_naive().to_string()),
            "status": format!("{:?}", self.status),
        })
    }
}

/// The tallies of one case, summed over cases.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    expected: usize,
    matched: usize,
    /// Matched with the right currency and every labelled date right.
    exact: usize,
    current_right: usize,
    dates_labelled: usize,
    dates_right: usize,
    held: usize,
    held_matching: usize,
    absent: usize,
    false_beliefs: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.expected += o.expected;
        self.matched += o.matched;
        self.exact += o.exact;
        self.current_right += o.current_right;
        self.dates_labelled += o.dates_labelled;
        self.dates_right += o.dates_right;
        self.held += o.held;
        self.held_matching += o.held_matching;
        self.absent += o.absent;
        self.false_beliefs += o.false_beliefs;
    }
}

impl Tally {
    fn to_json(self) -> Value {
        let ratio =
            |n: usize, d: usize| (d > 0).then(|| (n as f64 / d as f64 * 1000.0).round() / 1000.0);
        let recall = ratio(self.matched, self.expected);
        let precision = ratio(self.held_matching, self.held);
        let f1 = match (recall, precision) {
            (Some(r), Some(p)) if r + p > 0.0 => {
                Some((2.0 * r * p / (r + p) * 1000.0).round() / 1000.0)
            }
            _ => None,
        };
        json!({
            "expected": self.expected,
            "held": self.held,
            "recall": recall,
            "precision": precision,
            "f1": f1,
            "exact_recall": ratio(self.exact, self.expected),
            "current_accuracy": ratio(self.current_right, self.matched),
            "temporal_accuracy": ratio(self.dates_right, self.dates_labelled),
            "dates_labelled": self.dates_labelled,
            "absent": self.absent,
            "false_beliefs": self.false_beliefs,
        })
    }
}

/// Runs every selected case and writes `report.json`, `report.md` and `cases.jsonl` into
/// `options.out`; returns the report.
pub async fn run(options: &ExtractionOptions, embed: &EmbedConfig) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(&options.data)
        .with_context(|| format!("cannot read {}", options.data.display()))?;
    let file: CaseFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an extraction case file", options.data.display()))?;
    let cases: Vec<&Case> = file
        .cases
        .iter()
        .filter(|c| {
            options.only.is_empty()
                || options
                    .only
                    .iter()
                    .any(|o| *o == c.id || c.tags.contains(o))
        })
        .step_by(options.stride.max(1))
        .take(options.limit.unwrap_or(usize::MAX))
        .collect();
    anyhow::ensure!(!cases.is_empty(), "no case selected");
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;

    let (embedder, tokens) = crate::synthetic::load_models(embed).await?;
    let llm = Arc::new(mnemo_llm::OpenAiLlm::new(options.llm.clone())?);
    let scope = Scope::new(Some(file.user.clone()), Some(file.agent.clone()), None)?;
    let bar = crate::locomo::progress_bar(options.progress, cases.len() as u64);

    let mut total = Tally::default();
    let mut by_tag: BTreeMap<String, Tally> = BTreeMap::new();
    let mut usage = LlmUsage::default();
    let mut add_times: Vec<Duration> = Vec::new();
    let mut failed = Vec::new();
    // Written case by case, so an interrupted run still shows what it saw.
    let cases_path = options.out.join("cases.jsonl");
    let mut lines = std::fs::File::create(&cases_path)
        .with_context(|| format!("cannot write {}", cases_path.display()))?;
    let started = Instant::now();
    for case in &cases {
        bar.set_message(case.id.clone());
        let store_dir = tempfile::tempdir()?;
        let store = EmbeddedStore::open_for_model(
            store_dir.path(),
            embed.model.name(),
            embed.model.dimension(),
        )?;
        let memory = Memory::new(MemoryParts {
            graph: Arc::new(store.clone()),
            vectors: Arc::new(store.clone()),
            embedder: embedder.clone(),
            tokens: tokens.clone(),
            llm: Some(llm.clone() as Arc<dyn mnemo_core::llm::LanguageModel>),
            ontology: options.ontology.clone().unwrap_or_else(Ontology::builtin),
            settings: MemorySettings {
                facts_enabled: options.facts,
                ..MemorySettings::default()
            },
        });
        let episodes = case
            .before
            .iter()
            .map(|e| (e.occurred_at, &e.messages))
            .chain([(case.occurred_at, &case.messages)]);
        let mut case_usage = LlmUsage::default();
        let mut case_failures = Vec::new();
        for (occurred_at, messages) in episodes {
            let add_started = Instant::now();
            let outcome = memory
                .add(AddRequest {
                    scope: scope.clone(),
                    messages: messages.clone(),
                    occurred_at: Some(occurred_at),
                    metadata: json!({"case": case.id}),
                    infer: true,
                    idempotency_key: None,
                })
                .await
                .with_context(|| format!("case {}: add failed", case.id))?;
            add_times.push(add_started.elapsed());
            case_usage += outcome.llm_usage;
            if let EpisodeStatus::Failed { reason } = &outcome.status {
                case_failures.push(reason.clone());
            }
        }
        usage += case_usage;
        let held: Vec<Held> = memory
            .timeline(&scope, None, None, true, Visibility::now())
            .await?
            .iter()
            .map(Held::from_entry)
            .collect();
        let (tally, misses) = score(case, &held);
        total += tally;
        for tag in &case.tags {
            *by_tag.entry(tag.clone()).or_default() += tally;
        }
        if !case_failures.is_empty() {
            failed.push(json!({"case": case.id, "errors": case_failures}));
        }
        let line = json!({
            "id": case.id,
            "tags": case.tags,
            "score": tally.to_json(),
            "misses": misses,
            "held": held.iter().map(Held::to_json).collect::<Vec<_>>(),
            "llm_calls": case_usage.calls,
            "failed": case_failures,
        });
        use std::io::Write as _;
        writeln!(lines, "{line}")
            .with_context(|| format!("cannot write {}", cases_path.display()))?;
        bar.inc(1);
    }
    bar.finish_and_clear();

    let seconds = |d: Duration| (d.as_secs_f64() * 100.0).round() / 100.0;
    let adds = add_times.len();
    let summary = crate::summarize(&add_times);
    let report = json!({
        "data": options.data.display().to_string(),
        "model": options.llm.model,
        "base_url": options.llm.base_url,
        "output": format!("{:?}", options.llm.output),
        "facts_path": options.facts,
        "cases": cases.len(),
        "stride": options.stride.max(1),
        "adds": adds,
        "overall": total.to_json(),
        "by_tag": by_tag.iter().map(|(t, s)| (t.clone(), s.to_json())).collect::<serde_json::Map<_, _>>(),
        "llm": {
            "calls": usage.calls,
            "calls_per_add": (usage.calls as f64 / adds.max(1) as f64 * 100.0).round() / 100.0,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        },
        "seconds_per_add": {
            "mean": seconds(add_times.iter().sum::<Duration>() / adds.max(1) as u32),
            "p50": summary.map(|s| seconds(s.p50)),
            "p95": summary.map(|s| seconds(s.p95)),
            "max": summary.map(|s| seconds(s.max)),
        },
        "wall_seconds": seconds(started.elapsed()),
        "episodes_failed": failed,
    });
    write(
        &options.out,
        "report.json",
        &serde_json::to_string_pretty(&report)?,
    )?;
    write(&options.out, "report.md", &markdown(&report))?;
    Ok(report)
}

fn write(out: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    let path = out.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The tallies of one case and, for each label not fully right, what went wrong.
fn score(case: &Case, held: &[Held]) -> (Tally, Vec<Value>) {
    let mut tally = Tally {
        expected: case.expect.len(),
        absent: case.absent.len(),
        ..Tally::default()
    };
    let mut misses = Vec::new();
    for label in &case.expect {
        let types = label.types();
        let candidates: Vec<&Held> = held
            .iter()
            .filter(|h| matches(&label.triplet, &types, h))
            .collect();
        let dates = |h: &Held| {
            let from = label
                .valid_from
                .as_deref()
                .map(|l| same_date(l, h.valid_from));
            let to = label.valid_to.as_deref().map(|l| same_date(l, h.valid_to));
            [from, to]
        };
        // The best match: right currency first, then the most labelled dates right.
        let best = candidates.iter().max_by_key(|h| {
            let right_dates = dates(h).iter().filter(|d| **d == Some(true)).count();
            (h.visible() == label.current, right_dates)
        });
        let text = format!(
            "{} {} {}",
            label.triplet.source, label.triplet.relation, label.triplet.target
        );
        let Some(best) = best else {
            misses.push(json!({"label": text, "problem": "not held"}));
            continue;
        };
        tally.matched += 1;
        let current_right = best.visible() == label.current;
        tally.current_right += usize::from(current_right);
        let checked = dates(best);
        tally.dates_labelled += checked.iter().flatten().count();
        tally.dates_right += checked.iter().filter(|d| **d == Some(true)).count();
        let dates_right = checked.iter().all(|d| *d != Some(false));
        if current_right && dates_right {
            tally.exact += 1;
        } else {
            misses.push(json!({
                "label": text,
                "valid_from": label.valid_from,
                "valid_to": label.valid_to,
                "current": label.current,
                "problem": if current_right { "dates" } else { "currency" },
                "held": best.to_json(),
            }));
        }
    }
    for h in held
        .iter()
        .filter(|h| h.status != RelationStatus::Retracted)
    {
        tally.held += 1;
        let labelled = case
            .expect
            .iter()
            .any(|label| matches(&label.triplet, &label.types(), h));
        tally.held_matching += usize::from(labelled);
        if !labelled {
            misses.push(json!({"problem": "not labelled", "held": h.to_json()}));
        }
    }
    for absent in &case.absent {
        let believed = held
            .iter()
            .any(|h| h.visible() && matches(absent, &[absent.relation.as_str()], h));
        if believed {
            tally.false_beliefs += 1;
            misses.push(json!({
                "problem": "false belief",
                "label": format!("{} {} {}", absent.source, absent.relation, absent.target),
            }));
        }
    }
    (tally, misses)
}

/// Whether `held` states `label` with one of `types`.
fn matches(label: &Triplet, types: &[&str], held: &Held) -> bool {
    if !types.iter().any(|t| t.eq_ignore_ascii_case(&held.relation)) {
        return false;
    }
    let forward = same_name(&label.source, &held.source) && same_name(&label.target, &held.target);
    let symmetric = SYMMETRIC
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&held.relation));
    forward
        || (symmetric
            && same_name(&label.source, &held.target)
            && same_name(&label.target, &held.source))
}

/// Names are the same when their words are, or one's words all occur in the other's.
fn same_name(label: &str, held: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !matches!(w.as_str(), "the" | "a" | "an"))
            .collect()
    };
    let (a, b) = (words(label), words(held));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a.iter().all(|w| b.contains(w)) || b.iter().all(|w| a.contains(w))
}

/// Whether `held` is the date `label` (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`) at its precision.
fn same_date(label: &str, held: Option<Timestamp>) -> bool {
    let Some(held) = held.map(|t| t.date_naive()) else {
        return false;
    };
    let parts: Vec<&str> = label.split('-').collect();
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
    match parts.len() {
        1 => number(0).is_some_and(|y| held.year() == y as i32),
        2 => number(0).is_some_and(|y| held.year() == y as i32) && number(1) == Some(held.month()),
        _ => NaiveDate::parse_from_str(label, "%Y-%m-%d").is_ok_and(|d| d == held),
    }
}

/// The report as Markdown: the overall scores, the scores per tag, cost and time.
pub fn markdown(report: &Value) -> String {
    let mut out = format!(
        "# Extraction quality: {} ({}{})\n\n{} cases (stride {}), {} adds, `{}`\n\n",
        report["model"].as_str().unwrap_or("?"),
        report["output"].as_str().unwrap_or("?"),
        if report["facts_path"] == true {
            ", with the facts path"
        } else {
            ", graph path only"
        },
        report["cases"],
        report["stride"],
        report["adds"],
        report["data"].as_str().unwrap_or("?"),
    );
    out.push_str(
        "| | labels | recall | precision | F1 | exact | current | temporal | false beliefs |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let row = |name: &str, s: &Value| {
        let cell = |v: &Value| match v {
            Value::Null => "–".to_owned(),
            v => v.to_string(),
        };
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {}/{} |\n",
            s["expected"],
            cell(&s["recall"]),
            cell(&s["precision"]),
            cell(&s["f1"]),
            cell(&s["exact_recall"]),
            cell(&s["current_accuracy"]),
            cell(&s["temporal_accuracy"]),
            s["false_beliefs"],
            s["absent"],
        )
    };
    out.push_str(&row("**all**", &report["overall"]));
    if let Some(tags) = report["by_tag"].as_object() {
        for (tag, scores) in tags {
            out.push_str(&row(tag, scores));
        }
    }
    let llm = &report["llm"];
    let time = &report["seconds_per_add"];
    out.push_str(&format!(
        "\nLLM: {} calls ({} per add), {} prompt + {} completion tokens. Seconds per add: \
         mean {}, p50 {}, p95 {}, max {}. Wall time {} s. Episodes failed: {}.\n",
        llm["calls"],
        llm["calls_per_add"],
        llm["prompt_tokens"],
        llm["completion_tokens"],
        time["mean"],
        time["p50"],
        time["p95"],
        time["max"],
        report["wall_seconds"],
        report["episodes_failed"].as_array().map_or(0, Vec::len),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn on(y: i32, m: u32, d: u32) -> Option<Timestamp> {
        Some(chrono::Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap())
    }

    #[test]
    fn dates_match_at_the_label_precision() {
        assert!(same_date("2024", on(2024, 7, 9)));
        assert!(same_date("2024-04", on(2024, 4, 30)));
        assert!(!same_date("2024-04", on(2024, 5, 1)));
        assert!(same_date("2024-04-03", on(2024, 4, 3)));
        assert!(!same_date("2024-04-03", on(2024, 4, 4)));
        assert!(!same_date("2024", None));
    }

    #[test]
    fn names_match_by_their_words() {
        assert!(same_name("Lisbon", "lisbon"));
        assert!(same_name("Lisbon", "Lisbon, Portugal"));
        assert!(same_name("the Rowing Club", "rowing club"));
        assert!(!same_name("Paris", "Lisbon"));
        assert!(!same_name("Paris", ""));
    }

    fn held(source: &str, relation: &str, target: &str, status: RelationStatus) -> Held {
        Held {
            source: source.into(),
            relation: relation.into(),
            target: target.into(),
            valid_from: on(2024, 4, 1),
            valid_to: None,
            status,
        }
    }

    #[test]
    fn a_case_is_scored_label_by_label() {
        let case: Case = serde_json::from_value(json!({
            "id": "t", "tags": ["move"], "occurred_at": "2024-05-10T12:00:00Z",
            "messages": [{"role": "user", "content": "I moved to Lisbon last month."}],
            "expect": [
                {"source": "Alice", "relation": "LIVES_IN", "target": "Lisbon",
                 "valid_from": "2024-04", "valid_to": null, "current": true},
                {"source": "Alice", "relation": "LIVES_IN", "target": "Paris",
                 "valid_from": null, "valid_to": "2024-04", "current": false},
                {"source": "Ryan", "relation": "MARRIED_TO", "target": "Alice",
                 "valid_from": null, "valid_to": null, "current": true},
            ],
            "absent": [{"source": "Alice", "relation": "LIVES_IN", "target": "Rome"}],
        }))
        .unwrap();
        let held = vec![
            held("alice", "LIVES_IN", "Lisbon", RelationStatus::Valid),
            // Still visible: the currency is wrong; no valid_to: the date is wrong.
            held("Alice", "LIVES_IN", "Paris", RelationStatus::Valid),
            // Reversed, but symmetric.
            held("Alice", "MARRIED_TO", "Ryan", RelationStatus::Valid),
            held("Alice", "LIVES_IN", "Rome", RelationStatus::Valid),
            held("Alice", "LIKES", "Lisbon", RelationStatus::Retracted),
        ];
        let (tally, misses) = score(&case, &held);
        assert_eq!(tally.expected, 3);
        assert_eq!(tally.matched, 3);
        assert_eq!(tally.exact, 2);
        assert_eq!(tally.current_right, 2);
        assert_eq!((tally.dates_right, tally.dates_labelled), (1, 2));
        // The retracted relation is not counted as held.
        assert_eq!((tally.held_matching, tally.held), (3, 4));
        assert_eq!(tally.false_beliefs, 1);
        assert_eq!(misses.len(), 3, "{misses:?}");
    }
}
