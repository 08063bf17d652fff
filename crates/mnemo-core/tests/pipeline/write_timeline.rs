//! Interval placement and identity under real input: a 100-step LIVES_IN history arriving
//! sorted, reversed, shuffled and concurrently must give one timeline and the same `as_of`
//! answers; deleting an episode in the middle of a chain restores its neighbours exactly;
//! look-alike names stay apart.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use chrono::Duration;
use mnemo_core::ports::{Embedder, GraphRead, RelationQuery, VectorRead};
use mnemo_core::write::{EntityInput, RelationsRequest, TripletRequest};
use mnemo_core::{EpisodeId, Relation, Scope, Timestamp, Visibility};
use serde_json::json;

use crate::support::{Harness, date, fresh_scope, harness_without_llm};

const STEPS: usize = 100;

/// Step i: Alice lives in City{i:03} from day 37·i after 2000-01-01 (distinct, increasing).
fn start(i: usize) -> Timestamp {
    date(2000, 1, 1) + Duration::days(37 * i as i64)
}

fn city(i: usize) -> String {
    format!("City{i:03}")
}

fn request(
    scope: &Scope,
    source: &str,
    relation: &str,
    target: &str,
    from: Timestamp,
) -> RelationsRequest {
    RelationsRequest {
        scope: scope.clone(),
        occurred_at: None,
        relations: vec![TripletRequest {
            source: EntityInput {
                name: source.into(),
                entity_type: Some("Person".into()),
            },
            relation: relation.into(),
            target: EntityInput {
                name: target.into(),
                entity_type: Some("City".into()),
            },
            fact: None,
            valid_from: Some(from),
            valid_to: None,
        }],
        metadata: json!({}),
        idempotency_key: None,
    }
}

async fn add_step(h: &Harness, scope: &Scope, i: usize) -> EpisodeId {
    h.memory
        .add_relations(request(scope, "Alice", "LIVES_IN", &city(i), start(i)))
        .await
        .expect("add")
        .episode_id
}

/// A fixed-seed Fisher-Yates shuffle (xorshift), so the order is the same every run.
fn shuffled(n: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    order
}

/// Polls every future until all are done: the adds race for the scope's write lock.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, future) in out.iter_mut().zip(&mut pending) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *slot = Some(value),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("done")).collect()
}

/// Alice's LIVES_IN relations, by `valid_from`: the whole timeline, or those visible.
async fn lives_in(h: &Harness, scope: &Scope, visible_at: Option<Visibility>) -> Vec<Relation> {
    of_type(h, scope, "LIVES_IN", visible_at).await
}

/// Alice's relations of one type, by `valid_from`.
async fn of_type(
    h: &Harness,
    scope: &Scope,
    relation_type: &str,
    visible_at: Option<Visibility>,
) -> Vec<Relation> {
    let alice = h.entity(scope, "Alice").await.expect("Alice");
    let mut relations = h
        .store
        .relations(
            scope,
            &RelationQuery {
                entity: Some(alice.id),
                outgoing_only: true,
                relation_type: Some(mnemo_core::RelationType::parse(relation_type).unwrap()),
                visible_at,
                limit: usize::MAX,
            },
        )
        .await
        .unwrap();
    relations.sort_by_key(|r| (r.times.valid_from, r.id));
    relations
}

async fn members(h: &Harness, scope: &Scope) -> Vec<Relation> {
    lives_in(h, scope, None).await
}

/// Event time `as_of`, known now.
fn as_of(t: Timestamp) -> Option<Visibility> {
    Some(Visibility {
        as_of: t,
        known_at: chrono::Utc::now(),
    })
}

/// "City007 [from → to]" lines: the event-time timeline, independent of ids and arrival.
async fn timeline_text(h: &Harness, scope: &Scope) -> Vec<String> {
    lines(h, scope, members(h, scope).await).await
}

async fn lines(h: &Harness, scope: &Scope, relations: Vec<Relation>) -> Vec<String> {
    let mut lines = Vec::new();
    for r in relations {
        let target = h.store.entity(scope, r.target).await.unwrap().unwrap();
        let show = |t: Option<Timestamp>| t.map_or("-".to_owned(), |t| t.date_naive().to_string());
        lines.push(format!(
            "{} [{} → {}]",
            target.display_name,
            show(r.times.valid_from),
            show(r.times.valid_to)
        ));
    }
    lines
}

/// Chain breaks (a valid_to that is not the next valid_from, or an open relation before
/// the last) and wrong `as_of` answers at the midpoint of every interval.
async fn measure(h: &Harness, scope: &Scope) -> (usize, usize) {
    let relations = members(h, scope).await;
    let mut breaks = 0;
    for (i, r) in relations.iter().enumerate() {
        let next = relations.get(i + 1).and_then(|n| n.times.valid_from);
        if r.times.valid_to != next {
            breaks += 1;
        }
    }
    breaks += STEPS.abs_diff(relations.len());
    let probe = crate::support::embedder()
        .embed(vec!["Alice lives in a city".into()])
        .await
        .unwrap()
        .remove(0);
    let mut wrong = 0;
    for i in 0..STEPS {
        let mid = start(i) + Duration::days(18);
        let visible = lives_in(h, scope, as_of(mid)).await;
        let mut names = Vec::new();
        for r in visible {
            names.push(
                h.store
                    .entity(scope, r.target)
                    .await
                    .unwrap()
                    .unwrap()
                    .display_name,
            );
        }
        // The vector payload must agree: the scope holds only these relations, so every
        // relation visible at `mid` comes back from a search for k = all of them.
        let from_vectors = h
            .store
            .search_relations(scope, &probe, STEPS + 1, as_of(mid).unwrap())
            .await
            .unwrap();
        let graph_ids: Vec<_> = lives_in(h, scope, as_of(mid))
            .await
            .iter()
            .map(|r| r.id)
            .collect();
        let vector_ids: Vec<_> = from_vectors.iter().map(|hit| hit.item).collect();
        if names != vec![city(i)] || vector_ids != graph_ids {
            wrong += 1;
        }
    }
    (breaks, wrong)
}

#[tokio::test]
async fn a_history_gives_one_timeline_in_any_arrival_order() {
    let h = harness_without_llm().await;
    let sorted: Vec<usize> = (0..STEPS).collect();
    let reversed: Vec<usize> = (0..STEPS).rev().collect();
    let mut timelines = Vec::new();
    for (label, order) in [
        ("sorted", sorted),
        ("reversed", reversed),
        ("shuffled", shuffled(STEPS, 0x9E37_79B9_7F4A_7C15)),
    ] {
        let scope = fresh_scope(label);
        for i in order {
            add_step(&h, &scope, i).await;
        }
        let (breaks, wrong) = measure(&h, &scope).await;
        println!("{label}: {breaks} chain breaks, {wrong} wrong as_of answers");
        assert_eq!((label, breaks, wrong), (label, 0, 0));
        timelines.push((label, timeline_text(&h, &scope).await));
    }
    let scope = fresh_scope("concurrent");
    let order = shuffled(STEPS, 7);
    join_all(order.iter().map(|&i| add_step(&h, &scope, i)).collect()).await;
    let (breaks, wrong) = measure(&h, &scope).await;
    println!("concurrent: {breaks} chain breaks, {wrong} wrong as_of answers");
    assert_eq!((breaks, wrong), (0, 0));
    timelines.push(("concurrent", timeline_text(&h, &scope).await));

    let (_, expected) = &timelines[0];
    assert_eq!(expected.len(), STEPS);
    for (label, timeline) in &timelines[1..] {
        assert_eq!(timeline, expected, "{label} differs from sorted");
    }
}

/// Everything about a relation's end, for exact before/after comparisons.
fn ends(relations: &[Relation]) -> Vec<String> {
    relations
        .iter()
        .map(|r| {
            format!(
                "{} {:?} {:?} {:?} {:?} {:?}",
                r.id,
                r.times.valid_from,
                r.times.valid_to,
                r.times.invalidated_at,
                r.invalidated_by,
                r.invalidated_in
            )
        })
        .collect()
}

/// The points of event time at which the vector payload must agree with the graph: the
/// midpoint of every member's interval, and a day after the last start.
async fn vectors_disagree(h: &Harness, scope: &Scope) -> Vec<String> {
    let probe = crate::support::embedder()
        .embed(vec!["Alice lives in a city".into()])
        .await
        .unwrap()
        .remove(0);
    let members = members(h, scope).await;
    let mut points: Vec<Timestamp> = members
        .iter()
        .filter_map(|r| {
            let from = r.times.valid_from?;
            Some(match r.times.valid_to {
                Some(to) => from + (to - from) / 2,
                None => from + Duration::days(1),
            })
        })
        .collect();
    points.sort();
    let mut wrong = Vec::new();
    for at in points {
        let mut from_vectors: Vec<_> = h
            .store
            .search_relations(scope, &probe, members.len() + 1, as_of(at).unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|hit| hit.item)
            .collect();
        let mut from_graph: Vec<_> = lives_in(h, scope, as_of(at))
            .await
            .iter()
            .map(|r| r.id)
            .collect();
        from_vectors.sort();
        from_graph.sort();
        if from_vectors != from_graph {
            wrong.push(format!(
                "{at}: vectors {from_vectors:?}, graph {from_graph:?}"
            ));
        }
    }
    wrong
}

#[tokio::test]
async fn deleting_an_episode_in_the_middle_of_a_chain_restores_its_neighbours() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("delete-middle");
    // Arrival 4, 0, 2, 1, 3 mixes cuts by later- and earlier-recorded neighbours.
    let mut episodes = [None; 5];
    for i in [4, 0, 2, 1, 3] {
        episodes[i] = Some(add_step(&h, &scope, i).await);
    }
    let before = ends(&members(&h, &scope).await);

    // A relation between 1 and 2 arrives, then its episode is deleted.
    let between = h
        .memory
        .add_relations(request(
            &scope,
            "Alice",
            "LIVES_IN",
            "Lisbon",
            start(1) + Duration::days(10),
        ))
        .await
        .unwrap();
    assert_eq!(members(&h, &scope).await.len(), 6);
    h.memory
        .delete_episode(&scope, between.episode_id)
        .await
        .unwrap();
    assert_eq!(
        ends(&members(&h, &scope).await),
        before,
        "neighbours restored exactly"
    );

    assert_eq!(vectors_disagree(&h, &scope).await, Vec::<String>::new());

    // Deleting a member that was there all along closes the gap: 1 ends where 3 starts.
    h.memory
        .delete_episode(&scope, episodes[2].unwrap())
        .await
        .unwrap();
    assert_eq!(
        vectors_disagree(&h, &scope).await,
        Vec::<String>::new(),
        "the vector payload follows the restored chain"
    );
    assert_eq!(
        timeline_text(&h, &scope).await,
        vec![
            format!(
                "City000 [{} → {}]",
                start(0).date_naive(),
                start(1).date_naive()
            ),
            format!(
                "City001 [{} → {}]",
                start(1).date_naive(),
                start(3).date_naive()
            ),
            format!(
                "City003 [{} → {}]",
                start(3).date_naive(),
                start(4).date_naive()
            ),
            format!("City004 [{} → -]", start(4).date_naive()),
        ]
    );
    // As of inside the old gap, City001 alone holds.
    let visible = lives_in(&h, &scope, as_of(start(2) + Duration::days(1))).await;
    assert_eq!(visible.len(), 1);
}

#[tokio::test]
async fn same_valid_from_with_different_targets_is_decided_by_target_name() {
    let h = harness_without_llm().await;
    let mut timelines = Vec::new();
    for (label, order) in [("ab", ["Athens", "Berlin"]), ("ba", ["Berlin", "Athens"])] {
        let scope = fresh_scope(label);
        for target in order {
            h.memory
                .add_relations(request(&scope, "Alice", "LIVES_IN", target, start(0)))
                .await
                .unwrap();
        }
        timelines.push(timeline_text(&h, &scope).await);
    }
    let day = start(0).date_naive();
    let expected = vec![
        format!("Athens [{day} → {day}]"),
        format!("Berlin [{day} → -]"),
    ];
    for timeline in &mut timelines {
        timeline.sort();
        assert_eq!(*timeline, expected);
    }
}

#[tokio::test]
async fn look_alike_names_stay_different_entities() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("look-alikes");
    // Each pair: (first name, second name, same entity?).
    let cases: &[(&str, &str, bool)] = &[
        ("City010", "City014", false),
        ("Room 101", "Room 102", false),
        ("Flight BA117", "Flight BA171", false),
        ("John A. Smith", "John B. Smith", false),
        ("Q3 2024", "Q4 2024", false),
        ("Ana Silva", "ana silva", true),
        ("New York City", "NEW YORK CITY", true),
        ("Maria Santos", "Dr. Maria Santos", true),
        ("José Álvarez", "Jose Alvarez", true),
    ];
    let mut wrong = Vec::new();
    for (a, b, same) in cases {
        for name in [a, b] {
            h.memory
                .add_relations(request(&scope, "Alice", "VISITED", name, start(0)))
                .await
                .unwrap();
        }
        let ea = h.entity(&scope, a).await.unwrap();
        let eb = h.entity(&scope, b).await.unwrap();
        if (ea.id == eb.id) != *same {
            wrong.push(format!("{a} / {b}"));
        }
    }
    assert!(wrong.is_empty(), "wrong merges or splits: {wrong:?}");
}

#[tokio::test]
async fn numbered_names_keep_their_relations() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("numbered");
    for i in 0..20 {
        add_step(&h, &scope, i).await;
    }
    for i in 0..20 {
        let entity = h
            .entity(&scope, &city(i))
            .await
            .expect("each city is its own entity");
        assert_eq!(entity.display_name, city(i));
        assert!(
            entity.aliases.is_empty(),
            "{}: {:?}",
            city(i),
            entity.aliases
        );
    }
}

/// Alice's WORKS_AT relations as "Target [from → to]" lines, sorted.
async fn works_at(h: &Harness, scope: &Scope) -> Vec<String> {
    let relations = of_type(h, scope, "WORKS_AT", None).await;
    let mut lines = lines(h, scope, relations).await;
    lines.sort();
    lines
}

/// The LLM's `superseded` on a many-valued type ends the earlier of the pair at the
/// later one's start, in either arrival order; deleting either episode undoes it.
#[tokio::test]
async fn a_superseded_verdict_on_a_many_valued_type_chains_the_pair_and_reverts() {
    let h = crate::support::harness().await;
    let superseded = || {
        h.llm()
            .on("resolve_conflicts")
            .once()
            .reply(mnemo_testkit::scripted_llm::Reply::json(json!({
                "decisions": [{"existing": 0, "new": 0, "verdict": "superseded"}]
            })));
    };
    let job = |scope: &Scope, company: &str, year: i32| {
        let mut r = request(scope, "Alice", "WORKS_AT", company, date(year, 1, 1));
        r.relations[0].target.entity_type = Some("Organization".into());
        r
    };
    for (label, first, second) in [("newer-last", 2018, 2020), ("older-last", 2020, 2018)] {
        let scope = fresh_scope(label);
        let (a, b) = if first < second {
            ("Initech", "Acme")
        } else {
            ("Acme", "Initech")
        };
        h.memory.add_relations(job(&scope, a, first)).await.unwrap();
        let before = works_at(&h, &scope).await;
        superseded();
        let two = h
            .memory
            .add_relations(job(&scope, b, second))
            .await
            .unwrap();
        assert_eq!(
            works_at(&h, &scope).await,
            vec!["Acme [2020-01-01 → -]", "Initech [2018-01-01 → 2020-01-01]"],
            "{label}"
        );
        h.memory
            .delete_episode(&scope, two.episode_id)
            .await
            .unwrap();
        assert_eq!(
            works_at(&h, &scope).await,
            before,
            "{label}: second deleted"
        );
    }
    // Deleting the episode of the later one leaves the earlier one open again.
    let scope = fresh_scope("delete-first");
    let acme = h
        .memory
        .add_relations(job(&scope, "Acme", 2020))
        .await
        .unwrap();
    superseded();
    h.memory
        .add_relations(job(&scope, "Initech", 2018))
        .await
        .unwrap();
    h.memory
        .delete_episode(&scope, acme.episode_id)
        .await
        .unwrap();
    assert_eq!(works_at(&h, &scope).await, vec!["Initech [2018-01-01 → -]"]);
}

/// Forget cascades to names: the alias an episode taught an entity ("New York City." for
/// New York City, matched by embedding) goes when the episode is deleted; the entity and
/// what other episodes said of it stay.
#[tokio::test]
async fn deleting_an_episode_removes_the_aliases_it_added() {
    use mnemo_core::ports::GraphRead;

    let h = harness_without_llm().await;
    let scope = fresh_scope("aliases");
    let first = h
        .memory
        .add_relations(request(
            &scope,
            "Alice",
            "VISITED",
            "New York City",
            start(0),
        ))
        .await
        .unwrap();
    let second = h
        .memory
        .add_relations(request(
            &scope,
            "Alice",
            "VISITED",
            "New York City.",
            start(1),
        ))
        .await
        .unwrap();
    let city = h.entity(&scope, "New York City").await.unwrap();
    assert_eq!(city.aliases, vec!["new york city.".to_owned()]);
    let footprint = h
        .store
        .episode_footprint(&scope, second.episode_id)
        .await
        .unwrap();
    assert_eq!(
        footprint.aliases,
        vec![(city.id, "new york city.".to_owned())]
    );
    let first_footprint = h
        .store
        .episode_footprint(&scope, first.episode_id)
        .await
        .unwrap();
    assert!(first_footprint.aliases.is_empty());

    h.memory
        .delete_episode(&scope, second.episode_id)
        .await
        .unwrap();
    let after = h.entity(&scope, "New York City").await.unwrap();
    assert_eq!(after.id, city.id);
    assert!(after.aliases.is_empty(), "{:?}", after.aliases);
    assert!(
        h.entity(&scope, "New York City.").await.is_none(),
        "the spelling no longer resolves by name"
    );
    assert!(!h.timeline(&scope, "New York City").await.is_empty());
}

/// Alice LIVES_IN `target` from `from` (until `to`, when stated), in an episode of its own.
async fn add_stint(
    h: &Harness,
    scope: &Scope,
    target: &str,
    from: Timestamp,
    to: Option<Timestamp>,
) -> EpisodeId {
    let mut r = request(scope, "Alice", "LIVES_IN", target, from);
    r.relations[0].valid_to = to;
    h.memory.add_relations(r).await.expect("add").episode_id
}

/// Who Alice lives with at each probe: one line per probe, the visible targets.
async fn answers(h: &Harness, scope: &Scope, probes: &[Timestamp]) -> Vec<String> {
    let mut out = Vec::new();
    for probe in probes {
        let visible = lives_in(h, scope, as_of(*probe)).await;
        let mut names = lines(h, scope, visible).await;
        names.sort();
        out.push(format!("{}: {names:?}", probe.date_naive()));
    }
    out
}

/// A member stated with its own end ("Paris 2010-2015") and cut by a successor from
/// another episode ("London from 2012") gets its stated end back, not an open end, when
/// the successor's episode is deleted: the timeline equals that of a store that never saw
/// London, in every arrival order. Regression: `End::own` reopened every cut member.
#[tokio::test]
async fn deleting_a_cut_members_successor_gives_it_back_its_stated_end() {
    let h = harness_without_llm().await;
    let paris = ("Paris", date(2010, 1, 1), Some(date(2015, 1, 1)));
    let london = ("London", date(2012, 1, 1), None);
    let rome = ("Rome", date(2016, 1, 1), None);
    // Midpoints of every interval either store has, and one before everything.
    let probes = [
        date(2009, 6, 1),
        date(2011, 1, 1),
        date(2013, 6, 1),
        date(2015, 6, 1),
        date(2017, 1, 1),
    ];
    let reference = fresh_scope("own-end-reference");
    for (target, from, to) in [paris, rome] {
        add_stint(&h, &reference, target, from, to).await;
    }
    let expected = answers(&h, &reference, &probes).await;
    let expected_timeline = timeline_text(&h, &reference).await;
    assert_eq!(
        expected_timeline,
        vec!["Paris [2010-01-01 → 2015-01-01]", "Rome [2016-01-01 → -]"]
    );

    let stints = [paris, london, rome];
    for (label, order) in [
        ("sorted", [0, 1, 2]),
        ("successor-first", [1, 0, 2]),
        ("reversed", [2, 1, 0]),
        ("shuffled", [2, 0, 1]),
    ] {
        let scope = fresh_scope(&format!("own-end-{label}"));
        let mut successor = None;
        for i in order {
            let (target, from, to) = stints[i];
            let episode = add_stint(&h, &scope, target, from, to).await;
            if target == "London" {
                successor = Some(episode);
            }
        }
        let cut = timeline_text(&h, &scope).await;
        assert_eq!(
            cut,
            vec![
                "Paris [2010-01-01 → 2012-01-01]",
                "London [2012-01-01 → 2016-01-01]",
                "Rome [2016-01-01 → -]",
            ],
            "{label}: London cuts Paris"
        );
        h.memory
            .delete_episode(&scope, successor.expect("London added"))
            .await
            .unwrap();
        assert_eq!(
            timeline_text(&h, &scope).await,
            expected_timeline,
            "{label}: Paris ends on its own again"
        );
        assert_eq!(
            answers(&h, &scope, &probes).await,
            expected,
            "{label}: as_of answers"
        );
        let paris_after = members(&h, &scope).await.remove(0);
        assert_eq!(
            (paris_after.invalidated_by, paris_after.invalidated_in),
            (None, None),
            "{label}: nothing cut Paris"
        );
    }
}

/// A restatement's end ("lived in Paris until 2015" about the open Paris) is Paris's own:
/// cut by London and London deleted, Paris ends in 2015 again, learned from the
/// restatement; deleting the restatement then leaves Paris open, as if neither arrived.
#[tokio::test]
async fn a_restated_end_survives_a_cut_and_goes_with_its_episode() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("own-end-restated");
    add_stint(&h, &scope, "Paris", date(2010, 1, 1), None).await;
    let restatement = add_stint(
        &h,
        &scope,
        "Paris",
        date(2010, 1, 1),
        Some(date(2015, 1, 1)),
    )
    .await;
    let restated = ends(&members(&h, &scope).await);
    assert_eq!(
        timeline_text(&h, &scope).await,
        vec!["Paris [2010-01-01 → 2015-01-01]"],
        "the restatement ends Paris"
    );
    let london = add_stint(&h, &scope, "London", date(2012, 1, 1), None).await;
    assert_eq!(
        timeline_text(&h, &scope).await,
        vec!["Paris [2010-01-01 → 2012-01-01]", "London [2012-01-01 → -]"]
    );
    h.memory.delete_episode(&scope, london).await.unwrap();
    assert_eq!(
        ends(&members(&h, &scope).await),
        restated,
        "Paris's end, its transaction time and its episode come back exactly"
    );
    h.memory.delete_episode(&scope, restatement).await.unwrap();
    assert_eq!(
        timeline_text(&h, &scope).await,
        vec!["Paris [2010-01-01 → -]"]
    );
}
