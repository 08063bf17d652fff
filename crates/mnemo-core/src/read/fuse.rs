//! The one ranking place of a search: reciprocal-rank fusion, of a fact retriever's two
//! lists (nearest by embedding, full text) and then of the three retrievers' lists. Pure:
//! every candidate arrives loaded, so fusing reads no store.

use std::collections::HashMap;

use super::Retriever;
use super::dates::{self, DateCue};
use super::query::QueryText;
use super::render::speaker;
use crate::ports::Scored;
use crate::{Fact, FactId, RelationId, RelationView, Timestamp};

/// The `k` of reciprocal-rank fusion of the three retrievers: an item at rank `r` (from 1)
/// of a list scores `1 / (k + r)`.
pub(crate) const RRF_K: f32 = 60.0;

/// The `k` of the fact retriever's own fusion (nearest, full text, named period). Smaller
/// than [`RRF_K`]: the top of one list counts for more than a place far down in two (with
/// 10, rank 1 of one list beats ranks past 12 in both). Chosen by leave-one-conversation-
/// out cross-validation on the LOCOMO dev split among 5, 10, 20, 60 and 120 (chosen in
/// every fold; recall@10 held out 0.698, worst fold 0.632, against 0.650 / 0.592 with 60;
/// docs/EVAL.md).
pub(crate) const FACT_RRF_K: f32 = 10.0;

/// The weight of the fact retriever's list of what the speakers a query names said (and
/// facts of no speaker), against 1 for the others. Chosen by leave-one-conversation-out
/// cross-validation on the LOCOMO dev split among 0, 0.25, 0.5 and 1, with facts matched
/// by stem (chosen in three folds and the best over all five; recall@10 0.734 against
/// 0.717 without the list; docs/EVAL.md). A quarter of a list: it breaks near-ties in
/// favour of the named speaker without burying what another speaker said about the same
/// thing (a question that names the wrong speaker still finds it).
const SPEAKER_LIST_WEIGHT: f32 = 0.25;

/// An item and its retriever's score (higher is better), in the retriever's order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ranked<T> {
    pub item: T,
    pub score: f32,
}

/// A retrieved result, loaded and ready to show.
#[derive(Clone, Debug)]
pub(crate) enum Candidate {
    /// A relation as known at the read's `known_at`, with its ends' names.
    Relation(Box<RelationView>),
    Fact(Fact),
    /// A vector hit the graph no longer has, does not show at the read point (the payload
    /// can lag the graph after a crash), or whose end is gone: it keeps its rank in its
    /// list and shows nothing.
    Gone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Relation(RelationId),
    Fact(FactId),
}

impl Candidate {
    fn key(&self) -> Option<Key> {
        match self {
            Candidate::Relation(view) => Some(Key::Relation(view.relation.id)),
            Candidate::Fact(f) => Some(Key::Fact(f.id)),
            Candidate::Gone => None,
        }
    }
}

/// One fused result.
#[derive(Debug)]
pub(crate) struct Fused {
    pub item: Candidate,
    pub score: f32,
    pub found_by: Vec<Retriever>,
}

/// The score of rank `rank` (from 0) of a list fused with `k`.
fn rank_score(k: f32, rank: usize) -> f32 {
    1.0 / (k + rank as f32 + 1.0)
}

/// Fuses the retrievers' lists: each item scores the sum of `1 / (RRF_K + rank)` over the
/// lists it is in, and appears once (the first copy is kept). Best first; ties keep the
/// order of first appearance.
pub(crate) fn reciprocal_rank(lists: [(Retriever, Vec<Candidate>); 3]) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for (retriever, items) in lists {
        for (rank, item) in items.into_iter().enumerate() {
            let Some(key) = item.key() else {
                continue;
            };
            let score = rank_score(RRF_K, rank);
            match index.get(&key) {
                Some(&at) => {
                    let entry = &mut fused[at];
                    if !entry.found_by.contains(&retriever) {
                        entry.score += score;
                        entry.found_by.push(retriever);
                    }
                }
                None => {
                    index.insert(key, fused.len());
                    fused.push(Fused {
                        item,
                        score,
                        found_by: vec![retriever],
                    });
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

/// The fact retriever's list: its nearest facts (already above the similarity floors) and
/// its full-text matches, each cut to those recorded by `known_at`, fused by reciprocal
/// rank, so a fact both find comes first and a rare word the embedding misses (a name,
/// "LGBTQ") still finds its fact. Two more lists, each in the fused order, lift what the
/// query points at:
/// - when it names a period (`dated`), the messages said in it (or soon after): "what did
///   she paint in July 2023" prefers July's messages among those that match;
/// - when it names a speaker (`query`), everything but the messages of speakers it does
///   not name: "what did Caroline paint" prefers what Caroline said over what Melanie
///   said (on the LOCOMO dev split, 96% of the evidence of a question naming one of the
///   two speakers is that speaker's).
///
/// Best first, at most `k`; equal scores keep the embedding's order.
pub(crate) fn facts(
    nearest: Vec<Scored<Fact>>,
    full_text: Vec<Scored<Fact>>,
    dated: Option<DateCue>,
    query: &QueryText,
    known_at: Timestamp,
    k: usize,
) -> Vec<Fact> {
    let known = |hit: &Scored<Fact>| hit.item.created_at <= known_at;
    let mut fused: Vec<Ranked<Fact>> = Vec::new();
    let mut at: HashMap<FactId, usize> = HashMap::new();
    for list in [nearest, full_text] {
        for (rank, hit) in list.into_iter().filter(known).enumerate() {
            let score = rank_score(FACT_RRF_K, rank);
            match at.get(&hit.item.id) {
                Some(&i) => fused[i].score += score,
                None => {
                    at.insert(hit.item.id, fused.len());
                    fused.push(Ranked {
                        item: hit.item,
                        score,
                    });
                }
            }
        }
    }
    if let Some(cue) = dated {
        lift(&mut fused, 1.0, |fact| {
            dates::said_at(fact).is_some_and(|t| cue.covers(t))
        });
    }
    let named = |fact: &Fact| speaker(fact).is_some_and(|name| query.mentions(name));
    if fused.iter().any(|r| named(&r.item)) {
        lift(&mut fused, SPEAKER_LIST_WEIGHT, |fact| {
            speaker(fact).is_none() || named(fact)
        });
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused.truncate(k);
    fused.into_iter().map(|r| r.item).collect()
}

/// Adds a list to the fusion: the facts that pass `keep`, in their fused order, each rank
/// scoring `weight` times its reciprocal rank.
fn lift(fused: &mut [Ranked<Fact>], weight: f32, keep: impl Fn(&Fact) -> bool) {
    let mut kept: Vec<usize> = (0..fused.len()).filter(|&i| keep(&fused[i].item)).collect();
    // Stable: equal scores keep the order of first appearance.
    kept.sort_by(|&a, &b| fused[b].score.total_cmp(&fused[a].score));
    for (rank, i) in kept.into_iter().enumerate() {
        fused[i].score += weight * rank_score(FACT_RRF_K, rank);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntityId, EntityRef, EntityType, Relation, RelationTimes, RelationType, Scope};

    fn id(n: u128) -> uuid::Uuid {
        uuid::Uuid::from_u128(n)
    }

    fn view(n: u128) -> Candidate {
        let now = chrono::Utc::now();
        let end = || EntityRef {
            id: EntityId::new(),
            name: "e".into(),
            entity_type: EntityType::parse("Thing").unwrap(),
        };
        Candidate::Relation(Box::new(RelationView {
            relation: Relation {
                id: RelationId::from_uuid(id(n)),
                scope: Scope::user("u").unwrap(),
                source: EntityId::new(),
                relation_type: RelationType::parse("KNOWS").unwrap(),
                target: EntityId::new(),
                fact: String::new(),
                times: RelationTimes {
                    valid_from: None,
                    valid_to: None,
                    recorded_at: now,
                    invalidated_at: None,
                    retracted_at: None,
                },
                invalidated_by: None,
                invalidated_in: None,
                episodes: Vec::new(),
                mentions: 1,
                stated_end: None,
            },
            source: end(),
            target: end(),
        }))
    }

    fn fact(n: u128, created_day: i64) -> Fact {
        let created = chrono::DateTime::from_timestamp(created_day * 86_400, 0).unwrap();
        Fact {
            id: FactId::from_uuid(id(n)),
            scope: Scope::user("u").unwrap(),
            text: String::new(),
            metadata: serde_json::Value::Null,
            created_at: created,
            updated_at: created,
            episodes: Vec::new(),
        }
    }

    fn label(item: &Candidate) -> String {
        match item {
            Candidate::Relation(v) => format!("r{}", v.relation.id.as_uuid().as_u128()),
            Candidate::Fact(f) => format!("f{}", f.id.as_uuid().as_u128()),
            Candidate::Gone => "gone".into(),
        }
    }

    /// "r2 r1+" etc.: `rN` for relation N, `fN` for fact N, `+` when found by two lists.
    fn check(walked: &[u128], triplets: &[Option<u128>], facts: &[u128], expected: &str) {
        let fused = reciprocal_rank([
            (
                Retriever::Entities,
                walked.iter().map(|&n| view(n)).collect(),
            ),
            (
                Retriever::Triplets,
                triplets
                    .iter()
                    .map(|n| n.map_or(Candidate::Gone, view))
                    .collect(),
            ),
            (
                Retriever::Facts,
                facts.iter().map(|&n| Candidate::Fact(fact(n, 0))).collect(),
            ),
        ]);
        let got: Vec<String> = fused
            .iter()
            .map(|f| {
                let plus = if f.found_by.len() > 1 { "+" } else { "" };
                format!("{}{plus}", label(&f.item))
            })
            .collect();
        assert_eq!(got.join(" "), expected);
        let scores: Vec<f32> = fused.iter().map(|f| f.score).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }

    #[test]
    fn reciprocal_rank_fusion() {
        // Found twice beats found once at a better rank; ties keep first appearance.
        check(&[1, 2], &[Some(2), Some(3)], &[1], "r2+ r1 f1 r3");
        check(&[], &[Some(5), Some(6)], &[7, 8], "r5 f7 r6 f8");
        // A relation found by both keeps one copy.
        check(&[4], &[Some(4)], &[], "r4+");
        // A hit gone from the graph takes no place, but keeps its rank.
        check(&[1], &[None, Some(2)], &[], "r1 r2");
        check(&[], &[], &[], "");
        let single = 1.0 / (RRF_K + 1.0);
        let fused = reciprocal_rank([
            (Retriever::Entities, vec![view(1)]),
            (Retriever::Triplets, Vec::new()),
            (Retriever::Facts, Vec::new()),
        ]);
        assert_eq!(fused[0].score, single);
    }

    #[test]
    fn fact_lists_fuse_and_drop_what_was_unknown_at_known_at() {
        let hit = |n, day| Scored {
            item: fact(n, day),
            score: 0.9,
        };
        let known_at = chrono::DateTime::from_timestamp(10 * 86_400, 0).unwrap();
        // f2 is in both lists; f9 was recorded after known_at and takes no rank.
        let got: Vec<u128> = facts(
            vec![hit(9, 20), hit(1, 1), hit(2, 1)],
            vec![hit(2, 1), hit(3, 1)],
            None,
            &QueryText::default(),
            known_at,
            3,
        )
        .iter()
        .map(|f| f.id.as_uuid().as_u128())
        .collect();
        assert_eq!(got, [2, 1, 3]);
    }

    #[test]
    fn the_best_of_one_fact_list_beats_a_fact_both_rank_far_down() {
        let hit = |n| Scored {
            item: fact(n, 1),
            score: 0.5,
        };
        let known_at = chrono::DateTime::from_timestamp(10 * 86_400, 0).unwrap();
        // f100 is first by embedding only; f50 is 15th in both lists.
        let fillers = |from: u128| (from..from + 14).map(hit);
        let nearest: Vec<_> = std::iter::once(hit(100))
            .chain(fillers(1))
            .chain([hit(50)])
            .collect();
        let full_text: Vec<_> = fillers(20).chain([hit(50)]).collect();
        let got = facts(
            nearest,
            full_text,
            None,
            &QueryText::default(),
            known_at,
            40,
        );
        let place = |n: u128| got.iter().position(|f| f.id.as_uuid().as_u128() == n);
        assert!(place(100) < place(50), "{:?} {:?}", place(100), place(50));
    }

    #[test]
    fn messages_said_in_the_named_period_come_first_among_equals() {
        let said = |n, date: &str| {
            let mut f = fact(n, 1);
            f.metadata = serde_json::json!({ crate::write::SAID_AT: date });
            Scored {
                item: f,
                score: 0.9,
            }
        };
        let known_at = chrono::DateTime::from_timestamp(10 * 86_400, 0).unwrap();
        let run = |cue| -> Vec<u128> {
            facts(
                vec![
                    said(1, "2023-05-08T10:00:00Z"),
                    said(2, "2023-07-20T10:00:00Z"),
                    said(3, "2023-07-02T10:00:00Z"),
                ],
                vec![said(4, "2023-07-05T10:00:00Z")],
                cue,
                &QueryText::default(),
                known_at,
                4,
            )
            .iter()
            .map(|f| f.id.as_uuid().as_u128())
            .collect()
        };
        assert_eq!(run(None), [1, 4, 2, 3]);
        // "in July 2023": f2, f3 and f4 were said then, each gains its rank among them.
        assert_eq!(run(super::dates::cue("in July 2023")), [4, 2, 3, 1]);
        // "on July 3, 2023": f4 (July 5) and f2 (July 20) within a month after; not f3.
        assert_eq!(run(super::dates::cue("on July 3, 2023")), [4, 2, 1, 3]);
        // "in May": only f1.
        assert_eq!(run(super::dates::cue("in May")), [1, 4, 2, 3]);
    }

    #[test]
    fn messages_of_the_speaker_the_query_names_come_first_among_equals() {
        // f1 and f3 said by Melanie, f2 by Caroline, f4 by the user "u", f5 no message.
        let said = |n, role: &str| {
            let mut f = fact(n, 1);
            f.metadata = serde_json::json!({ "role": role, "message_index": 0 });
            Scored {
                item: f,
                score: 0.9,
            }
        };
        let extracted = Scored {
            item: fact(5, 1),
            score: 0.9,
        };
        let known_at = chrono::DateTime::from_timestamp(10 * 86_400, 0).unwrap();
        let run = |query: &str| -> Vec<u128> {
            facts(
                vec![
                    said(1, "Melanie"),
                    said(2, "Caroline"),
                    said(3, "Melanie"),
                    extracted.clone(),
                ],
                vec![said(4, "user")],
                None,
                &QueryText::parse(query),
                known_at,
                5,
            )
            .iter()
            .map(|f| f.id.as_uuid().as_u128())
            .collect()
        };
        assert_eq!(run("what did they paint"), [1, 4, 2, 3, 5]);
        // Caroline's message and the extracted fact rise above the others' messages.
        assert_eq!(run("what did Caroline paint"), [2, 5, 1, 4, 3]);
        assert_eq!(run("What is Caroline's favourite book?"), [2, 5, 1, 4, 3]);
        // The role `user` speaks for the scope's user.
        assert_eq!(run("what did u paint"), [4, 5, 1, 2, 3]);
        // Naming both Melanie and Caroline lifts their messages above the user's.
        assert_eq!(run("did Melanie or Caroline paint"), [1, 2, 3, 4, 5]);
    }
}
