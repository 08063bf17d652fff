//! `mnemo eval locomo`: the LOCOMO retrieval benchmark (and, with an LLM endpoint, the
//! answer benchmark) on the real engine, next to two baselines over the same items.
//!
//! Each conversation is ingested into its own scope, one episode per session in session
//! order, stamped with the session's date; mode `turns` sends the raw turns ("speaker:
//! text [shares photo: caption]", offline with the speaker as the message's role, as a
//! client would send a conversation of two people), mode `observations` the extracted
//! observations. The
//! episode's metadata carries the LOCOMO ids of each message, so every stored fact carries
//! the ids it came from (a plain fact knows its message index; an extracted fact or a
//! relation knows its episode, so it carries the ids of the whole session).
//!
//! Every question is then asked three ways over the same items: mnemo's `Memory::search`
//! (limit 100, so the ranking can be cut at any k or token budget), plain BM25, and plain
//! nearest neighbours of the same embedding model. A second, default search (limit 10) is
//! timed and gives the tokens an agent would get. Offline by default (`infer: false`, no
//! LLM); `--llm` ingests with the full pipeline and scores answers (see [`answers`]).

mod answers;
pub mod data;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use mnemo_core::llm::ChatMessage;
use mnemo_core::ports::{Embedder, GraphRead, TokenCounter};
use mnemo_core::read::{MAX_LIMIT, SearchRequest, SearchResult};
use mnemo_core::write::AddRequest;
use mnemo_core::{
    EpisodeId, EpisodeStatus, Fact, LlmUsage, Memory, MemoryParts, MemorySettings, Ontology,
    RelationView, Scope,
};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{EmbedConfig, TokenizerCounter};
use serde_json::{Value, json};

use crate::bm25::Bm25;
use crate::metrics::Item;
use crate::report::{self, KS, QuestionRecord, Scores, System};
use crate::synthetic::Timed;

pub use data::{Conversation, Question, category_name, load};

/// What is ingested from each session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The raw turns.
    Turns,
    /// The observations extracted by the benchmark's authors.
    Observations,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Turns => "turns",
            Mode::Observations => "observations",
        }
    }
}

/// One run of the benchmark.
#[derive(Clone, Debug)]
pub struct LocomoOptions {
    pub data: PathBuf,
    pub mode: Mode,
    pub out: PathBuf,
    /// The model of `--llm` mode: ingestion (in its `output` mode), answers and
    /// judgements (always `json_schema`).
    pub llm: Option<mnemo_llm::LlmConfig>,
    /// Keep the store here (reused by a later run) instead of in a temporary folder.
    pub store: Option<PathBuf>,
    /// Only these conversations (by `sample_id`); all when empty.
    pub conversations: Vec<String>,
    /// Only the first N sessions of each conversation, and only the questions whose
    /// evidence lies in them: a local model on a small CPU cannot ingest a whole one.
    pub sessions: Option<usize>,
    /// With `llm`: also answer and judge every question (off: retrieval only).
    pub answers: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

/// Runs the benchmark and writes `report.json`, `report.md`, `recall.png` and
/// `questions.jsonl` into `options.out`; returns the report.
pub async fn run(options: &LocomoOptions, embed: &EmbedConfig) -> anyhow::Result<Value> {
    let conversations = select(load(&options.data)?, options);
    anyhow::ensure!(
        !conversations.is_empty(),
        "no conversation in the data (or selected)"
    );
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;

    let (embedder, tokens) = crate::synthetic::load_models(embed).await?;
    let temporary = tempfile::tempdir()?;
    let store_dir = options.store.as_deref().unwrap_or(temporary.path());
    let store =
        EmbeddedStore::open_for_model(store_dir, embed.model.name(), embed.model.dimension())?;
    let llm = match &options.llm {
        Some(config) => Some(Arc::new(mnemo_llm::OpenAiLlm::new(config.clone())?)),
        None => None,
    };
    let memory = Memory::new(MemoryParts {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store.clone()),
        embedder: embedder.clone(),
        tokens: tokens.clone(),
        llm: llm
            .clone()
            .map(|llm| llm as Arc<dyn mnemo_core::llm::LanguageModel>),
        ontology: Ontology::builtin(),
        settings: MemorySettings::default(),
    });
    let answerer = llm.filter(|_| options.answers).map(answers::Answerer::new);

    let sessions: usize = conversations.iter().map(|c| c.sessions.len()).sum();
    let questions: usize = conversations.iter().map(|c| c.questions.len()).sum();
    let bar = progress_bar(options.progress, (sessions + questions) as u64);

    let mut records: Vec<QuestionRecord> = Vec::with_capacity(questions);
    let mut conversation_stats = Vec::new();
    let mut ingest_usage = LlmUsage::default();
    let mut failed_episodes: Vec<String> = Vec::new();
    let ctx = Context {
        memory: &memory,
        graph: &store,
        embedder: &embedder,
        tokens: &tokens,
    };
    for conversation in &conversations {
        let scope = Scope::user(format!("locomo-{}", conversation.sample_id))?;
        bar.set_message(format!("{}: ingesting", conversation.sample_id));
        let started = Instant::now();
        let items = ingest(
            &ctx,
            &scope,
            conversation,
            options,
            &bar,
            &mut ingest_usage,
            &mut failed_episodes,
        )
        .await?;
        let ingest_time = started.elapsed();

        bar.set_message(format!("{}: baselines", conversation.sample_id));
        let baselines = Baselines::build(&ctx, &items).await?;
        bar.set_message(format!("{}: questions", conversation.sample_id));
        let mut episode_ids: HashMap<EpisodeId, Vec<String>> = HashMap::new();
        let mut line_tokens: HashMap<String, usize> = HashMap::new();
        for question in &conversation.questions {
            let record = ask(
                &ctx,
                &scope,
                conversation,
                question,
                &baselines,
                &mut episode_ids,
                &mut line_tokens,
                answerer.as_ref(),
            )
            .await?;
            records.push(record);
            bar.inc(1);
        }
        conversation_stats.push(report::ConversationStats {
            sample_id: conversation.sample_id.clone(),
            sessions: conversation.sessions.len(),
            items: items.len(),
            ingest: ingest_time,
        });
    }
    bar.finish_and_clear();

    let mut report = report::build(&report::Run {
        data: &options.data,
        mode: options.mode.as_str(),
        llm: options.llm.as_ref().map(|l| l.model.as_str()),
        answered: answerer.is_some(),
        records: &records,
        conversations: &conversation_stats,
    });
    if options.llm.is_some() {
        report["llm_usage"] = json!({
            "ingest": usage_json(ingest_usage),
            "answer_and_judge": answerer.as_ref().map(|a| usage_json(a.usage())),
            "episodes_failed": failed_episodes.len(),
            "failures": failed_episodes,
        });
    }
    report["selection"] = json!({
        "conversations": options.conversations,
        "sessions": options.sessions,
    });
    let graph = GraphRead::counts(&store).await?;
    report["graph"] = json!({"entities": graph.entities, "relations": graph.relations});
    write_outputs(&options.out, &report, &records)?;
    Ok(report)
}

/// The conversations, sessions and questions `options` selects.
fn select(conversations: Vec<Conversation>, options: &LocomoOptions) -> Vec<Conversation> {
    conversations
        .into_iter()
        .filter(|c| {
            options.conversations.is_empty() || options.conversations.contains(&c.sample_id)
        })
        .map(|mut c| {
            if let Some(n) = options.sessions {
                c.sessions.truncate(n);
                let kept: Vec<u32> = c.sessions.iter().map(|s| s.number).collect();
                c.questions.retain(|q| {
                    let evidence = crate::metrics::normalize_evidence(&q.evidence);
                    !evidence.is_empty()
                        && evidence
                            .iter()
                            .all(|e| evidence_session(e).is_some_and(|s| kept.contains(&s)))
                });
            }
            c
        })
        .collect()
}

/// The session number of an evidence id (`D3:12` → 3).
fn evidence_session(dia_id: &str) -> Option<u32> {
    dia_id.strip_prefix('D')?.split(':').next()?.parse().ok()
}

fn usage_json(usage: LlmUsage) -> Value {
    json!({
        "calls": usage.calls,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    })
}

pub(crate) fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn write_outputs(out: &Path, report: &Value, records: &[QuestionRecord]) -> anyhow::Result<()> {
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        "report.json",
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    write("report.md", report::markdown(report).as_bytes())?;
    write("recall.png", &crate::plot::recall_png(report)?)?;
    let mut lines = String::new();
    for record in records {
        lines.push_str(&serde_json::to_string(&record.to_json())?);
        lines.push('\n');
    }
    write("questions.jsonl", lines.as_bytes())
}

/// The parts every step reads.
struct Context<'a> {
    memory: &'a Memory,
    graph: &'a EmbeddedStore,
    /// The embedder, timing its last call (the search's one embedding).
    embedder: &'a Timed,
    tokens: &'a TokenizerCounter,
}

/// One ingested item (a turn or an observation) as the baselines see it.
#[derive(Clone, Debug)]
struct Ingested {
    /// Who said it, sent as the message's role offline (mode `turns`); `None` sends the
    /// role `user` (observations, and every item when an LLM extracts).
    speaker: Option<String>,
    text: String,
    dia_ids: Vec<String>,
    /// The session's date, `YYYY-MM-DD`.
    date: String,
}

impl Ingested {
    /// The line a context would show for it, as mnemo prints a fact.
    fn line(&self) -> String {
        format!("- {} [{}]", self.text, self.date)
    }
}

/// Adds every session of the conversation, in order; returns the items sent.
async fn ingest(
    ctx: &Context<'_>,
    scope: &Scope,
    conversation: &Conversation,
    options: &LocomoOptions,
    bar: &ProgressBar,
    usage: &mut LlmUsage,
    failed: &mut Vec<String>,
) -> anyhow::Result<Vec<Ingested>> {
    let mut items = Vec::new();
    for session in &conversation.sessions {
        let date = session.occurred_at.format("%Y-%m-%d").to_string();
        let batch: Vec<Ingested> = match options.mode {
            Mode::Turns => session
                .turns
                .iter()
                .map(|t| Ingested {
                    speaker: options.llm.is_none().then(|| t.speaker.clone()),
                    text: t.message(),
                    dia_ids: vec![t.dia_id.clone()],
                    date: date.clone(),
                })
                .collect(),
            Mode::Observations => session
                .observations
                .iter()
                .map(|o| Ingested {
                    speaker: None,
                    text: o.text.trim().to_owned(),
                    dia_ids: o.dia_ids.clone(),
                    date: date.clone(),
                })
                .collect(),
        };
        let batch: Vec<Ingested> = batch
            .into_iter()
            .filter(|i| !i.text.trim().is_empty())
            .collect();
        bar.inc(1);
        if batch.is_empty() {
            continue;
        }
        let outcome = ctx
            .memory
            .add(AddRequest {
                scope: scope.clone(),
                messages: batch
                    .iter()
                    .map(|i| ChatMessage {
                        role: i.speaker.clone().unwrap_or_else(|| "user".into()),
                        content: i.text.clone(),
                    })
                    .collect(),
                occurred_at: Some(session.occurred_at),
                metadata: json!({"locomo": {
                    "conversation": conversation.sample_id,
                    "session": session.number,
                    "date": date,
                    "dia_ids": batch.iter().map(|i| &i.dia_ids).collect::<Vec<_>>(),
                }}),
                infer: options.llm.is_some(),
                idempotency_key: Some(format!(
                    "locomo-{}-{}-session-{}",
                    options.mode.as_str(),
                    conversation.sample_id,
                    session.number
                )),
            })
            .await
            .with_context(|| {
                format!(
                    "{} session {}: add failed",
                    conversation.sample_id, session.number
                )
            })?;
        *usage += outcome.llm_usage;
        if let EpisodeStatus::Failed { reason } = &outcome.status {
            failed.push(format!("session {}: {reason}", session.number));
        }
        items.extend(batch);
    }
    Ok(items)
}

/// The two baselines over one conversation's items.
struct Baselines {
    items: Vec<Ingested>,
    bm25: Bm25,
    vectors: Vec<Vec<f32>>,
}

impl Baselines {
    async fn build(ctx: &Context<'_>, items: &[Ingested]) -> anyhow::Result<Baselines> {
        let texts: Vec<String> = items.iter().map(|i| i.text.clone()).collect();
        Ok(Baselines {
            bm25: Bm25::new(&texts),
            vectors: ctx.embedder.embed(texts).await?,
            items: items.to_vec(),
        })
    }

    /// Nearest items by cosine (vectors are unit length), best first; ties by order.
    fn nearest(&self, query: &[f32], k: usize) -> Vec<usize> {
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().take(k).map(|(i, _)| i).collect()
    }
}

/// Asks one question of the three systems and scores them.
#[allow(clippy::too_many_arguments)]
async fn ask(
    ctx: &Context<'_>,
    scope: &Scope,
    conversation: &Conversation,
    question: &Question,
    baselines: &Baselines,
    episode_ids: &mut HashMap<EpisodeId, Vec<String>>,
    line_tokens: &mut HashMap<String, usize>,
    answerer: Option<&answers::Answerer>,
) -> anyhow::Result<QuestionRecord> {
    let mut count = |line: String| -> usize {
        if let Some(&n) = line_tokens.get(&line) {
            return n;
        }
        let n = ctx.tokens.count(&line);
        line_tokens.insert(line, n);
        n
    };

    // What an agent would call: the default search, timed.
    ctx.embedder.reset();
    let started = Instant::now();
    let default = ctx
        .memory
        .search(SearchRequest::new(scope.clone(), &question.question))
        .await?;
    let latency = started.elapsed();
    let embedding = ctx.embedder.span();
    let context_tokens = ctx.tokens.count(&default.context);

    let mut deep = SearchRequest::new(scope.clone(), &question.question);
    deep.limit = MAX_LIMIT;
    let result = ctx.memory.search(deep).await?;
    // The deep search's ranking is scored at every k; the default one's at 10 too, as it
    // is what an agent gets (its lists are cut shorter before fusion).
    let mut items_of = [Vec::new(), Vec::new()];
    for (result, items) in [&result, &default].into_iter().zip(&mut items_of) {
        for ranked in ranked_results(result) {
            let (dia_ids, line) = match ranked {
                Ranked::Fact(fact) => (
                    fact_ids(fact, ctx.graph, episode_ids).await?,
                    fact_line(fact),
                ),
                Ranked::Relation(view) => (
                    episodes_ids(&view.relation.episodes, ctx.graph, episode_ids).await?,
                    relation_line(view),
                ),
            };
            items.push(Item {
                dia_ids,
                tokens: count(line),
            });
        }
    }
    let [mnemo_items, default_items] = items_of;

    let as_items = |indexes: Vec<usize>, count: &mut dyn FnMut(String) -> usize| -> Vec<Item> {
        indexes
            .into_iter()
            .map(|i| {
                let item = &baselines.items[i];
                Item {
                    dia_ids: item.dia_ids.clone(),
                    tokens: count(item.line()),
                }
            })
            .collect()
    };
    let bm25 = baselines
        .bm25
        .search(&question.question, MAX_LIMIT)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let bm25_items = as_items(bm25, &mut count);
    let query_vector = ctx
        .embedder
        .embed(vec![question.question.clone()])
        .await?
        .pop()
        .unwrap_or_default();
    let vector_items = as_items(baselines.nearest(&query_vector, MAX_LIMIT), &mut count);

    let answer = match answerer {
        Some(answerer) if question.category != 5 => Some(
            answerer
                .answer_and_judge(question, &default.context)
                .await?,
        ),
        _ => None,
    };

    let scores = |items: &[Item]| Scores::of(items, &question.evidence);
    Ok(QuestionRecord {
        conversation: conversation.sample_id.clone(),
        category: question.category,
        question: question.question.clone(),
        gold: question.answer.clone(),
        evidence: question.evidence.clone(),
        systems: [
            (System::Mnemo, scores(&mnemo_items)),
            (System::Bm25, scores(&bm25_items)),
            (System::Vector, scores(&vector_items)),
        ],
        retrieved: mnemo_items
            .iter()
            .take(KS[2])
            .map(|i| i.dia_ids.join(","))
            .collect(),
        default_recall_at_10: crate::metrics::recall_at(&default_items, &question.evidence, 10),
        context_tokens,
        latency,
        embedding,
        answer,
    })
}

enum Ranked<'a> {
    Fact(&'a Fact),
    Relation(&'a RelationView),
}

/// Relations and facts in one list by their fused score (comparable across both), best
/// first; on a tie the relation first.
fn ranked_results(result: &SearchResult) -> Vec<Ranked<'_>> {
    let mut all: Vec<(f32, usize, Ranked<'_>)> = Vec::new();
    for (i, hit) in result.relations.iter().enumerate() {
        all.push((hit.score, i, Ranked::Relation(&hit.view)));
    }
    let offset = result.relations.len();
    for (i, hit) in result.facts.iter().enumerate() {
        all.push((hit.score, offset + i, Ranked::Fact(&hit.fact)));
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.into_iter().map(|(_, _, r)| r).collect()
}

/// The LOCOMO ids of a fact: its message's ids when it is a message (infer: false), else
/// those of the whole episode.
async fn fact_ids(
    fact: &Fact,
    graph: &EmbeddedStore,
    cache: &mut HashMap<EpisodeId, Vec<String>>,
) -> anyhow::Result<Vec<String>> {
    let locomo = &fact.metadata["locomo"];
    if let Some(index) = fact.metadata["message_index"].as_u64()
        && let Some(ids) = locomo["dia_ids"][index as usize].as_array()
    {
        return Ok(strings(ids));
    }
    episodes_ids(&fact.episodes, graph, cache).await
}

fn strings(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Every LOCOMO id of the given episodes (read from each episode's metadata once).
async fn episodes_ids(
    episodes: &[EpisodeId],
    graph: &EmbeddedStore,
    cache: &mut HashMap<EpisodeId, Vec<String>>,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for id in episodes {
        if !cache.contains_key(id) {
            let ids = match graph.episode(*id).await? {
                Some(episode) => episode.metadata["locomo"]["dia_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_array)
                    .flat_map(|ids| strings(ids))
                    .collect(),
                None => Vec::new(),
            };
            cache.insert(*id, ids);
        }
        for dia in &cache[id] {
            if !out.contains(dia) {
                out.push(dia.clone());
            }
        }
    }
    Ok(out)
}

/// A fact's context line, dated with its session (what an answer needs), as long as
/// mnemo's own line.
fn fact_line(fact: &Fact) -> String {
    let date = fact.metadata["locomo"]["date"].as_str().map_or_else(
        || fact.updated_at.format("%Y-%m-%d").to_string(),
        str::to_owned,
    );
    format!("- {} [{date}]", fact.text.trim())
}

/// A relation's context line, as mnemo prints it.
fn relation_line(view: &RelationView) -> String {
    let date = |t: Option<mnemo_core::Timestamp>, missing: &str| {
        t.map_or_else(|| missing.to_owned(), |t| t.format("%Y-%m-%d").to_string())
    };
    let times = &view.relation.times;
    format!(
        "- {} ({}) [valid {} → {}]",
        view.triplet_text(),
        view.relation.fact.trim(),
        date(times.valid_from, "?"),
        date(times.valid_to, "now")
    )
}
