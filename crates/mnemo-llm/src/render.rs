//! Renders each tool's typed input as the user message the model reads: short Markdown
//! sections, existing records under the small integer ids the answer refers back to.

use std::fmt::Write as _;

use chrono::{Datelike, SecondsFormat};
use mnemo_core::Timestamp;
use mnemo_core::llm::{
    ChatMessage, ConflictsInput, ExtractionInput, MemoryUpdateInput, RelationsInput, Speakers,
    SummaryInput, TripletText,
};

/// `extract_entities` and `extract_facts` read the same input.
pub(crate) fn extraction(input: &ExtractionInput) -> String {
    let mut out = String::new();
    speakers(&mut out, &input.speakers);
    if !input.entity_types.is_empty() {
        let types: Vec<&str> = input.entity_types.iter().map(|t| t.as_str()).collect();
        section(&mut out, "Entity types");
        let _ = writeln!(out, "{}", types.join(", "));
    }
    if let Some(summary) = input.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        section(&mut out, "Summary of the conversation so far");
        let _ = writeln!(out, "{}", summary.trim());
    }
    if !input.recent.is_empty() {
        section(&mut out, "Earlier messages (context only)");
        messages(&mut out, &input.recent);
    }
    section(&mut out, "New messages");
    messages(&mut out, &input.messages);
    out
}

pub(crate) fn relations(input: &RelationsInput) -> String {
    let mut out = String::new();
    speakers(&mut out, &input.speakers);
    section(&mut out, "Entities");
    if input.entities.is_empty() {
        let _ = writeln!(out, "(none extracted)");
    }
    for entity in &input.entities {
        let _ = writeln!(out, "- {} ({})", entity.name, entity.entity_type);
    }
    if !input.known_entities.is_empty() {
        section(&mut out, "Known entities");
        for entity in &input.known_entities {
            let _ = writeln!(out, "- {} ({})", entity.name, entity.entity_type);
        }
    }
    if !input.relation_types.is_empty() {
        section(&mut out, "Relation types");
        for hint in &input.relation_types {
            if hint.description.trim().is_empty() {
                let _ = writeln!(out, "- {}", hint.relation_type);
            } else {
                let _ = writeln!(out, "- {}: {}", hint.relation_type, hint.description.trim());
            }
        }
    }
    section(&mut out, "Messages");
    messages(&mut out, &input.messages);
    out
}

pub(crate) fn conflicts(input: &ConflictsInput) -> String {
    let mut out = String::new();
    section(&mut out, "Conversation time");
    let _ = writeln!(out, "occurred_at: {}", timestamp(input.occurred_at));
    section(&mut out, "Existing relations");
    triplets(&mut out, &input.existing);
    section(&mut out, "New relations");
    triplets(&mut out, &input.new);
    out
}

pub(crate) fn memory_update(input: &MemoryUpdateInput) -> String {
    let mut out = String::new();
    section(&mut out, "Existing memories");
    if input.existing.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    for (id, text) in input.existing.iter().enumerate() {
        let _ = writeln!(out, "- id \"{id}\": {}", one_line(text));
    }
    section(&mut out, "New facts");
    for fact in &input.facts {
        let _ = writeln!(out, "- {}", one_line(fact));
    }
    out
}

pub(crate) fn summary(input: &SummaryInput) -> String {
    let mut out = String::new();
    section(&mut out, "Previous summary");
    match input.previous.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(previous) => {
            let _ = writeln!(out, "{}", previous.trim());
        }
        None => {
            let _ = writeln!(out, "(none yet)");
        }
    }
    section(&mut out, "New messages");
    messages(&mut out, &input.messages);
    out
}

fn section(out: &mut String, title: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "## {title}");
}

fn speakers(out: &mut String, speakers: &Speakers) {
    section(out, "Speakers");
    match speakers.user.as_deref() {
        Some(user) => {
            let _ = writeln!(
                out,
                "- user: {user} (\"I\", \"me\", \"my\" in the user's messages mean {user})"
            );
        }
        None => {
            let _ = writeln!(out, "- user: no name given; call the user \"User\"");
        }
    }
    if let Some(agent) = speakers.agent.as_deref() {
        let _ = writeln!(
            out,
            "- agent: {agent} (the assistant; \"you\" in the user's messages means {agent})"
        );
    }
    section(out, "Conversation time");
    let _ = writeln!(out, "occurred_at: {}", timestamp(speakers.occurred_at));
    let _ = writeln!(out, "{}", date_anchors(speakers.occurred_at));
}

/// The dates relative expressions most often mean, worked out for the model: small models
/// get "last month" right far more often when they need not count back themselves.
fn date_anchors(at: Timestamp) -> String {
    let day = at.date_naive();
    let yesterday = day.pred_opt().unwrap_or(day);
    let last_month = day
        .with_day(1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(day);
    format!(
        "(that is {}; yesterday {}; last month {}; last year {})",
        day.format("%A %-d %B %Y"),
        yesterday.format("%Y-%m-%d"),
        last_month.format("%Y-%m"),
        day.year() - 1,
    )
}

fn messages(out: &mut String, messages: &[ChatMessage]) {
    if messages.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    for message in messages {
        let _ = writeln!(out, "[{}] {}", message.role, message.content.trim());
    }
}

fn triplets(out: &mut String, triplets: &[TripletText]) {
    for (id, t) in triplets.iter().enumerate() {
        let _ = writeln!(
            out,
            "[{id}] {} {} {} | fact: {} | valid_from: {} | valid_to: {}",
            t.source,
            t.relation_type,
            t.target,
            one_line(&t.fact),
            optional_timestamp(t.valid_from),
            optional_timestamp(t.valid_to),
        );
    }
}

fn timestamp(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn optional_timestamp(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "null".to_owned(), timestamp)
}

/// Keeps a listed record on one line, so ids and records cannot be confused.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
