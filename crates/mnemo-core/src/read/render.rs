//! The last stage of a search: the kept results as `context` (compact dated lines for a
//! prompt) and as a subgraph. Pure: no store read, no ranking.

use super::{RelationHit, Subgraph};
use crate::{Fact, RelationView, Timestamp};

pub(crate) const RELATIONS_HEADER: &str = "Relations:";
pub(crate) const FACTS_HEADER: &str = "Facts:";

fn date(t: Option<Timestamp>, missing: &str) -> String {
    t.map_or_else(|| missing.to_owned(), |t| t.format("%Y-%m-%d").to_string())
}

/// "- Alice LIVES_IN Lisbon (Alice lives in Lisbon) [valid 2024-03-01 → now]"; a
/// retracted relation (shown only to a read from before the retraction) never gets here.
pub(crate) fn relation_line(view: &RelationView) -> String {
    let triplet = view.triplet_text();
    let times = &view.relation.times;
    let fact = view.relation.fact.trim();
    let said = if fact.is_empty() || fact.eq_ignore_ascii_case(&triplet) {
        String::new()
    } else {
        format!(" ({fact})")
    };
    format!(
        "- {triplet}{said} [valid {} → {}]",
        date(times.valid_from, "?"),
        date(times.valid_to, "now")
    )
}

/// Who said a message fact (`infer: false`), as a name a query could use: the scope's
/// user for the role `user`, the role itself when it names a speaker ("Caroline"), none
/// for the assistant, system or tool roles and for facts that are not messages.
pub(crate) fn speaker(fact: &Fact) -> Option<&str> {
    fact.metadata.get("message_index")?;
    match fact.metadata.get("role")?.as_str()? {
        "user" => fact.scope.user_id(),
        "assistant" | "system" | "tool" => None,
        role => Some(role),
    }
}

/// "- Alice is vegetarian [2024-03-02]" (the date the fact was last changed); a message
/// of an `infer: false` add says who said it and when: "- alice (user), 2023-05-08: I am
/// vegetarian" (the scope's user for the role `user`, else the role, e.g. a speaker's
/// name).
pub(crate) fn fact_line(fact: &Fact) -> String {
    let text = fact.text.trim();
    let role = fact.metadata.get("role").and_then(|r| r.as_str());
    match (role, fact.metadata.get("message_index")) {
        (Some(role), Some(_)) => {
            let speaker = match fact.scope.user_id() {
                Some(user) if role == "user" => format!("{user} (user)"),
                _ => role.to_owned(),
            };
            let said_at = super::dates::said_at(fact).unwrap_or(fact.created_at);
            format!("- {speaker}, {}: {text}", date(Some(said_at), ""))
        }
        _ => format!("- {text} [{}]", date(Some(fact.updated_at), "")),
    }
}

/// The prompt text of the kept results: a relations section, then a facts section, each
/// only when it has lines.
pub(crate) fn context<'a>(
    relations: impl Iterator<Item = &'a RelationView>,
    facts: impl Iterator<Item = &'a Fact>,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (i, view) in relations.enumerate() {
        if i == 0 {
            lines.push(RELATIONS_HEADER.into());
        }
        lines.push(relation_line(view));
    }
    for (i, fact) in facts.enumerate() {
        if i == 0 {
            lines.push(FACTS_HEADER.into());
        }
        lines.push(fact_line(fact));
    }
    lines.join("\n")
}

/// The kept relations as a graph: their ends (each once, in order of appearance) and the
/// relations themselves.
pub(crate) fn subgraph(relations: &[RelationHit]) -> Subgraph {
    let mut graph = Subgraph::default();
    for hit in relations {
        for end in [&hit.view.source, &hit.view.target] {
            if !graph.nodes.iter().any(|n| n.id == end.id) {
                graph.nodes.push(end.clone());
            }
        }
        graph.edges.push(hit.view.clone());
    }
    graph
}
