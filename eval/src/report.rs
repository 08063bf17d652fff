//! What an evaluation run measured, and its two renderings: `report.json` (stable keys
//! other tools read) and `report.md` (the tables a person reads). The markdown is made from
//! the JSON, so the two never disagree.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::locomo::category_name;
use crate::metrics::{self, Item};
use crate::summarize;

/// The k of recall@k and hit@k.
pub const KS: [usize; 5] = [1, 5, 10, 20, 50];
/// The token budgets of full@budget.
pub const BUDGETS: [usize; 4] = [500, 1000, 2000, 4000];
/// Categories scored together (5, adversarial, is reported apart).
pub const MAIN_CATEGORIES: [u8; 4] = [1, 2, 3, 4];

/// The systems compared on the same items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Mnemo,
    Bm25,
    Vector,
}

impl System {
    pub fn as_str(self) -> &'static str {
        match self {
            System::Mnemo => "mnemo",
            System::Bm25 => "bm25",
            System::Vector => "vector",
        }
    }
}

/// One system's scores on one question.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// recall@k for each of [`KS`].
    pub recall: [f64; 5],
    /// 1 when all evidence is in the first k, for each of [`KS`].
    pub hit: [f64; 5],
    pub mrr: f64,
    /// 1 when all evidence fits in the budget, for each of [`BUDGETS`].
    pub within: [f64; 4],
    /// Tokens of the first 10 items' context lines.
    pub tokens_at_10: usize,
}

impl Scores {
    pub fn of(items: &[Item], evidence: &[String]) -> Scores {
        Scores {
            recall: KS.map(|k| metrics::recall_at(items, evidence, k)),
            hit: KS.map(|k| metrics::full_at(items, evidence, k)),
            mrr: metrics::reciprocal_rank(items, evidence),
            within: BUDGETS.map(|b| metrics::full_within(items, evidence, b)),
            tokens_at_10: items.iter().take(10).map(|i| i.tokens).sum(),
        }
    }
}

/// `--llm` mode's result for one question.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerRecord {
    pub generated: String,
    /// The judge said CORRECT.
    pub correct: bool,
    pub f1: f64,
    pub bleu1: f64,
}

/// Everything measured for one question.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionRecord {
    pub conversation: String,
    pub category: u8,
    pub question: String,
    pub gold: String,
    pub evidence: Vec<String>,
    pub systems: [(System, Scores); 3],
    /// mnemo's first 10 items, as their ids.
    pub retrieved: Vec<String>,
    /// recall@10 of a default search (limit 10): what an agent gets, where `systems`
    /// scores a search of limit 100 cut at each k.
    pub default_recall_at_10: f64,
    /// Tokens of the `context` of that default search.
    pub context_tokens: usize,
    /// Time of that default search.
    pub latency: Duration,
    /// Of which its embedding calls (from the first one's start to the last one's end).
    pub embedding: Duration,
    pub answer: Option<AnswerRecord>,
}

impl QuestionRecord {
    fn scores(&self, system: System) -> &Scores {
        &self
            .systems
            .iter()
            .find(|(s, _)| *s == system)
            .expect("every system is scored")
            .1
    }

    /// One line of `questions.jsonl`.
    pub fn to_json(&self) -> Value {
        let mut systems = Map::new();
        for (system, scores) in &self.systems {
            systems.insert(
                system.as_str().into(),
                json!({
                    "recall@10": scores.recall[2],
                    "mrr": scores.mrr,
                    "full@1000": scores.within[1],
                }),
            );
        }
        json!({
            "conversation": self.conversation,
            "category": self.category,
            "question": self.question,
            "gold": self.gold,
            "evidence": self.evidence,
            "retrieved": self.retrieved,
            "scores": systems,
            "default_recall@10": self.default_recall_at_10,
            "context_tokens": self.context_tokens,
            "latency_ms": self.latency.as_secs_f64() * 1e3,
            "answer": self.answer.as_ref().map(|a| json!({
                "generated": a.generated, "correct": a.correct, "f1": a.f1, "bleu1": a.bleu1,
            })),
        })
    }
}

/// Per conversation facts of the run.
#[derive(Clone, Debug)]
pub struct ConversationStats {
    pub sample_id: String,
    pub sessions: usize,
    /// Items ingested (turns or observations).
    pub items: usize,
    pub ingest: Duration,
}

/// The inputs of [`build`].
#[derive(Debug)]
pub struct Run<'a> {
    pub data: &'a Path,
    pub mode: &'a str,
    /// The model, in `--llm` mode.
    pub llm: Option<&'a str>,
    /// Whether the questions were answered and judged (`--llm` without `--no-answers`).
    pub answered: bool,
    pub records: &'a [QuestionRecord],
    pub conversations: &'a [ConversationStats],
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { round(sum / n as f64) }
}

/// Mean scores of `system` over the records with evidence.
pub fn aggregate<'a>(records: impl Iterator<Item = &'a QuestionRecord>, system: System) -> Value {
    let scored: Vec<&Scores> = records
        .filter(|r| !r.evidence.is_empty())
        .map(|r| r.scores(system))
        .collect();
    let mut out = Map::new();
    out.insert("questions".into(), scored.len().into());
    for (i, k) in KS.iter().enumerate() {
        out.insert(
            format!("recall@{k}"),
            mean(scored.iter().map(|s| s.recall[i])).into(),
        );
    }
    for (i, k) in KS.iter().enumerate() {
        out.insert(
            format!("hit@{k}"),
            mean(scored.iter().map(|s| s.hit[i])).into(),
        );
    }
    out.insert("mrr".into(), mean(scored.iter().map(|s| s.mrr)).into());
    for (i, b) in BUDGETS.iter().enumerate() {
        out.insert(
            format!("full@{b}"),
            mean(scored.iter().map(|s| s.within[i])).into(),
        );
    }
    out.insert(
        "tokens@10".into(),
        mean(scored.iter().map(|s| s.tokens_at_10 as f64)).into(),
    );
    Value::Object(out)
}

fn in_main(r: &&QuestionRecord) -> bool {
    MAIN_CATEGORIES.contains(&r.category)
}

fn categories(records: &[QuestionRecord]) -> Vec<u8> {
    let mut out: Vec<u8> = records.iter().map(|r| r.category).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn system_block(records: &[QuestionRecord], system: System) -> Value {
    let mut by_category = Map::new();
    for c in categories(records) {
        let mut block = aggregate(records.iter().filter(|r| r.category == c), system);
        block["name"] = category_name(c).into();
        by_category.insert(c.to_string(), block);
    }
    json!({
        "overall_1_4": aggregate(records.iter().filter(in_main), system),
        "categories": by_category,
    })
}

fn ratio(a: &Value, b: &Value) -> Value {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => round(a / b).into(),
        _ => Value::Null,
    }
}

fn answers_block(records: &[&QuestionRecord]) -> Value {
    let answered: Vec<&AnswerRecord> = records.iter().filter_map(|r| r.answer.as_ref()).collect();
    json!({
        "questions": answered.len(),
        "j": mean(answered.iter().map(|a| f64::from(u8::from(a.correct)))),
        "f1": mean(answered.iter().map(|a| a.f1)),
        "bleu1": mean(answered.iter().map(|a| a.bleu1)),
    })
}

/// The report of a LOCOMO run.
pub fn build(run: &Run<'_>) -> Value {
    let records = run.records;
    let mnemo = system_block(records, System::Mnemo);
    let bm25 = system_block(records, System::Bm25);
    let vector = system_block(records, System::Vector);
    let mut gain = Map::new();
    for key in ["recall@10", "full@1000", "mrr"] {
        for (name, base) in [("bm25", &bm25), ("vector", &vector)] {
            gain.insert(
                format!("{key}_vs_{name}"),
                ratio(&mnemo["overall_1_4"][key], &base["overall_1_4"][key]),
            );
        }
    }
    let latencies: Vec<Duration> = records.iter().map(|r| r.latency).collect();
    let engine: Vec<Duration> = records
        .iter()
        .map(|r| r.latency.saturating_sub(r.embedding))
        .collect();
    let embedding: Vec<Duration> = records.iter().map(|r| r.embedding).collect();
    let ms = |d: Duration| round(d.as_secs_f64() * 1e3);
    let latency = match (
        summarize(&latencies),
        summarize(&engine),
        summarize(&embedding),
    ) {
        (Some(all), Some(engine), Some(embedding)) => json!({
            "search_p50": ms(all.p50), "search_p95": ms(all.p95), "search_max": ms(all.max),
            "engine_p50": ms(engine.p50), "engine_p95": ms(engine.p95),
            "embedding_p50": ms(embedding.p50), "embedding_p95": ms(embedding.p95),
        }),
        _ => Value::Null,
    };
    let mut conversations = Map::new();
    for stats in run.conversations {
        let of = |system: System| {
            let block = aggregate(
                records
                    .iter()
                    .filter(|r| r.conversation == stats.sample_id)
                    .filter(in_main),
                system,
            );
            json!({
                "questions": block["questions"],
                "recall@10": block["recall@10"],
                "full@1000": block["full@1000"],
                "mrr": block["mrr"],
            })
        };
        conversations.insert(
            stats.sample_id.clone(),
            json!({
                "sessions": stats.sessions,
                "items": stats.items,
                "ingest_s": round(stats.ingest.as_secs_f64()),
                "mnemo": of(System::Mnemo),
                "bm25": of(System::Bm25),
                "vector": of(System::Vector),
            }),
        );
    }
    let mut by_category = Map::new();
    for c in categories(records) {
        by_category.insert(
            c.to_string(),
            records.iter().filter(|r| r.category == c).count().into(),
        );
    }
    let ingest: Duration = run.conversations.iter().map(|c| c.ingest).sum();
    let main: Vec<&QuestionRecord> = records.iter().filter(in_main).collect();
    let mut report = json!({
        "benchmark": "locomo",
        "data": run.data.display().to_string(),
        "mode": run.mode,
        "llm": run.llm,
        "questions": {"total": records.len(), "by_category": by_category},
        "overall_1_4": mnemo["overall_1_4"],
        "categories": mnemo["categories"],
        "baselines": {"bm25": bm25, "vector": vector},
        "gain": gain,
        "latency_ms": latency,
        "mean_context_tokens": mean(main.iter().map(|r| r.context_tokens as f64)),
        "default_search_recall@10": mean(main.iter().map(|r| r.default_recall_at_10)),
        "ingest_s": round(ingest.as_secs_f64()),
        "conversations": conversations,
    });
    if run.answered {
        let mut by_category = Map::new();
        for c in MAIN_CATEGORIES {
            let of: Vec<&QuestionRecord> = records.iter().filter(|r| r.category == c).collect();
            let mut block = answers_block(&of);
            block["name"] = category_name(c).into();
            by_category.insert(c.to_string(), block);
        }
        report["answers"] = json!({
            "overall_1_4": answers_block(&main),
            "categories": by_category,
        });
    }
    report
}

fn num(value: &Value) -> String {
    match value.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() >= 1.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.3}"),
        None => "–".into(),
    }
}

/// `report.md`: the tables of a LOCOMO report.
pub fn markdown(report: &Value) -> String {
    let mut md = String::new();
    let systems = [
        ("mnemo", &report["overall_1_4"], &report["categories"]),
        (
            "BM25",
            &report["baselines"]["bm25"]["overall_1_4"],
            &report["baselines"]["bm25"]["categories"],
        ),
        (
            "vector",
            &report["baselines"]["vector"]["overall_1_4"],
            &report["baselines"]["vector"]["categories"],
        ),
    ];
    let _ = writeln!(
        md,
        "# LOCOMO retrieval: mode `{}`{}\n\nData: `{}`. {} questions. Recall@k is the share of \
         evidence turns in the first k results; hit@k, all of them; full@B, all of them within \
         the first B tokens of results (real tokenizer); tokens@10, tokens of the first 10 \
         results.\n",
        report["mode"].as_str().unwrap_or("?"),
        report["llm"]
            .as_str()
            .map(|m| format!(", LLM `{m}`"))
            .unwrap_or_default(),
        report["data"].as_str().unwrap_or("?"),
        num(&report["questions"]["total"]),
    );

    let _ = writeln!(
        md,
        "## Categories 1-4 ({} questions with evidence)\n",
        num(&report["overall_1_4"]["questions"])
    );
    let mut header = vec!["system".to_owned()];
    header.extend(KS.iter().map(|k| format!("R@{k}")));
    header.extend(["hit@10".to_owned(), "MRR".to_owned()]);
    header.extend(BUDGETS.iter().map(|b| format!("full@{b}")));
    header.push("tokens@10".into());
    table_header(&mut md, &header);
    for (name, overall, _) in &systems {
        let mut row = vec![name.to_string()];
        row.extend(KS.iter().map(|k| num(&overall[format!("recall@{k}")])));
        row.extend([num(&overall["hit@10"]), num(&overall["mrr"])]);
        row.extend(BUDGETS.iter().map(|b| num(&overall[format!("full@{b}")])));
        row.push(num(&overall["tokens@10"]));
        table_row(&mut md, &row);
    }

    let _ = writeln!(md, "\n## By category (mnemo / BM25 / vector)\n");
    table_header(
        &mut md,
        &["category", "n", "R@10", "full@1000", "MRR"].map(str::to_owned),
    );
    let categories: Vec<String> = report["categories"]
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    for c in &categories {
        let three = |key: &str| {
            systems
                .iter()
                .map(|(_, _, by)| num(&by[c][key]))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        table_row(
            &mut md,
            &[
                format!(
                    "{c} {}",
                    report["categories"][c]["name"].as_str().unwrap_or("")
                ),
                num(&report["categories"][c]["questions"]),
                three("recall@10"),
                three("full@1000"),
                three("mrr"),
            ],
        );
    }

    let _ = writeln!(
        md,
        "\n## By conversation, categories 1-4 (mnemo / BM25 / vector)\n"
    );
    table_header(
        &mut md,
        &[
            "conversation",
            "sessions",
            "items",
            "questions",
            "ingest s",
            "R@10",
            "full@1000",
        ]
        .map(str::to_owned),
    );
    for (id, c) in report["conversations"].as_object().into_iter().flatten() {
        let three = |key: &str| {
            ["mnemo", "bm25", "vector"]
                .iter()
                .map(|s| num(&c[*s][key]))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        table_row(
            &mut md,
            &[
                id.clone(),
                num(&c["sessions"]),
                num(&c["items"]),
                num(&c["mnemo"]["questions"]),
                format!("{:.1}", c["ingest_s"].as_f64().unwrap_or(0.0)),
                three("recall@10"),
                three("full@1000"),
            ],
        );
    }

    let latency = &report["latency_ms"];
    let _ = writeln!(
        md,
        "\n## Cost\n\nDefault search (limit 10): p50 {} ms, p95 {} ms, max {} ms (without its \
         embedding calls: p50 {} ms, p95 {} ms); {} context tokens on average and recall@10 \
         {} (categories 1-4; the tables rank a search of limit 100). Ingestion: {:.1} s in \
         all.\n\nGain over the \
         baselines (categories 1-4): recall@10 ×{} vs BM25, ×{} vs vector; full@1000 ×{} vs \
         BM25, ×{} vs vector.",
        num(&latency["search_p50"]),
        num(&latency["search_p95"]),
        num(&latency["search_max"]),
        num(&latency["engine_p50"]),
        num(&latency["engine_p95"]),
        num(&report["mean_context_tokens"]),
        num(&report["default_search_recall@10"]),
        report["ingest_s"].as_f64().unwrap_or(0.0),
        num(&report["gain"]["recall@10_vs_bm25"]),
        num(&report["gain"]["recall@10_vs_vector"]),
        num(&report["gain"]["full@1000_vs_bm25"]),
        num(&report["gain"]["full@1000_vs_vector"]),
    );

    if let Some(answers) = report.get("answers") {
        let _ = writeln!(
            md,
            "\n## Answers (LLM-as-judge J, token F1, BLEU-1; category 5 excluded)\n"
        );
        table_header(
            &mut md,
            &["category", "n", "J", "F1", "BLEU-1"].map(str::to_owned),
        );
        let mut rows: Vec<(String, &Value)> = answers["categories"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(c, v)| (format!("{c} {}", v["name"].as_str().unwrap_or("")), v))
            .collect();
        rows.push(("overall 1-4".into(), &answers["overall_1_4"]));
        for (name, v) in rows {
            table_row(
                &mut md,
                &[
                    name,
                    num(&v["questions"]),
                    num(&v["j"]),
                    num(&v["f1"]),
                    num(&v["bleu1"]),
                ],
            );
        }
    }
    md
}

fn table_header(md: &mut String, cells: &[String]) {
    table_row(md, cells);
    let rule: Vec<String> = cells.iter().map(|_| "---".to_owned()).collect();
    table_row(md, &rule);
}

fn table_row(md: &mut String, cells: &[String]) {
    let _ = writeln!(md, "| {} |", cells.join(" | "));
}
