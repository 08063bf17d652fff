//! The temporal reads on Alice's world: subgraphs at (T, K), timelines with ended and
//! retracted relations and what ended them, changes in a transaction-time window, and
//! the entity listings.

use mnemo_core::ports::Page;
use mnemo_core::read::{RelationStatus, Subgraph, TimelineEntry};
use mnemo_core::{
    EntityId, Memory, MemoryError, RelationType, Timestamp, ValidationError, Visibility,
};

use crate::read_fixture::{Loaded, alice, load};
use crate::support::{date, fresh_scope, harness_without_llm};

fn now() -> Visibility {
    Visibility::now()
}

fn point(as_of: Timestamp, known_at: Timestamp) -> Visibility {
    Visibility { as_of, known_at }
}

/// Edges as sorted "Source TYPE Target" lines.
fn edges(subgraph: &Subgraph) -> Vec<String> {
    let mut out: Vec<String> = subgraph.edges.iter().map(|e| e.triplet_text()).collect();
    out.sort();
    out
}

async fn check_subgraph(
    memory: &Memory,
    loaded: &Loaded,
    entity: &str,
    depth: u8,
    at: Visibility,
    expected: &[&str],
) {
    let subgraph = memory
        .subgraph(&loaded.scope, entity, depth, at)
        .await
        .unwrap();
    assert_eq!(
        edges(&subgraph),
        expected,
        "{entity} depth {depth} at {at:?}"
    );
    // Nodes: the root first, then every end of an edge, each once.
    assert_eq!(subgraph.nodes[0].id, loaded.entities["Alice"]);
    for edge in &subgraph.edges {
        for end in [&edge.source, &edge.target] {
            assert_eq!(subgraph.nodes.iter().filter(|n| n.id == end.id).count(), 1);
        }
    }
}

#[tokio::test]
async fn subgraphs_at_both_time_axes() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let m = &h.memory;
    check_subgraph(
        m,
        &loaded,
        "Alice",
        1,
        now(),
        &[
            "Alice LIVES_IN Lisbon",
            "Alice WORKS_AT Acme",
            "Bob KNOWS Alice",
        ],
    )
    .await;
    check_subgraph(
        m,
        &loaded,
        "alice",
        2,
        now(),
        &[
            "Acme HEADQUARTERED_IN Berlin",
            "Alice LIVES_IN Lisbon",
            "Alice WORKS_AT Acme",
            "Bob KNOWS Alice",
            "Bob WORKS_AT Initech",
        ],
    )
    .await;
    // In 2020: Boston, no job yet (from 2021-05), jazz was believed until 2024-02-01 but is
    // retracted now.
    check_subgraph(
        m,
        &loaded,
        "Ally",
        1,
        point(date(2020, 6, 1), chrono::Utc::now()),
        &["Alice LIVES_IN Boston", "Bob KNOWS Alice"],
    )
    .await;
    // As believed on 2024-01-20: Boston still current, jazz liked.
    check_subgraph(
        m,
        &loaded,
        "Alice",
        1,
        point(chrono::Utc::now(), date(2024, 1, 20)),
        &[
            "Alice LIKES Jazz",
            "Alice LIVES_IN Boston",
            "Alice WORKS_AT Acme",
            "Bob KNOWS Alice",
        ],
    )
    .await;

    for (name, depth, expected) in [
        ("Nobody", 2, "not found"),
        ("Alice", 0, "depth"),
        ("Alice", 4, "depth"),
    ] {
        let err = m
            .subgraph(&loaded.scope, name, depth, now())
            .await
            .unwrap_err();
        match err {
            MemoryError::NotFound { kind: "entity", id } => {
                assert_eq!((id.as_str(), expected), ("Nobody", "not found"))
            }
            MemoryError::Invalid(ValidationError::Request(message)) => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("{name} {depth}: {other:?}"),
        }
    }
    // Another scope does not know Alice.
    let err = m
        .subgraph(&fresh_scope("other"), "Alice", 1, now())
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
}

/// "Alice LIVES_IN Boston [ended by Alice LIVES_IN Lisbon] 2019-01-01 → 2024-03-01".
fn describe(entry: &TimelineEntry) -> String {
    let status = match entry.status {
        RelationStatus::Valid => "valid".to_owned(),
        RelationStatus::NotYetValid => "not yet valid".to_owned(),
        RelationStatus::Retracted => "retracted".to_owned(),
        RelationStatus::Ended => match &entry.ended_by {
            Some(by) => format!("ended by {}", by.triplet_text()),
            None => "ended".to_owned(),
        },
    };
    let day =
        |t: Option<Timestamp>| t.map_or("…".to_owned(), |t| t.format("%Y-%m-%d").to_string());
    let times = &entry.relation.relation.times;
    format!(
        "{} [{status}] {} → {}",
        entry.relation.triplet_text(),
        day(times.valid_from),
        day(times.valid_to)
    )
}

/// (name, entity, relation type, include_invalid, read point, expected entries).
type TimelineCase = (
    &'static str,
    Option<&'static str>,
    Option<RelationType>,
    bool,
    Visibility,
    Vec<&'static str>,
);

#[tokio::test]
async fn timelines_show_ended_and_retracted_relations_with_what_ended_them() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let lives_in = || Some(RelationType::parse("LIVES_IN").unwrap());
    let cases: Vec<TimelineCase> = vec![
        (
            "Alice's full timeline, oldest start first",
            Some("Alice"),
            None,
            true,
            now(),
            vec![
                "Bob KNOWS Alice [valid] 2015-01-01 → …",
                "Alice LIVES_IN Boston [ended by Alice LIVES_IN Lisbon] 2019-01-01 → 2024-03-01",
                "Alice WORKS_AT Acme [valid] 2021-05-01 → …",
                "Alice LIKES Jazz [retracted] … → …",
                "Alice LIVES_IN Lisbon [valid] 2024-03-01 → …",
            ],
        ),
        (
            "only what holds now",
            Some("Alice"),
            None,
            false,
            now(),
            vec![
                "Bob KNOWS Alice [valid] 2015-01-01 → …",
                "Alice WORKS_AT Acme [valid] 2021-05-01 → …",
                "Alice LIVES_IN Lisbon [valid] 2024-03-01 → …",
            ],
        ),
        (
            "a relation type across the scope",
            None,
            lives_in(),
            true,
            now(),
            vec![
                "Alice LIVES_IN Boston [ended by Alice LIVES_IN Lisbon] 2019-01-01 → 2024-03-01",
                "Alice LIVES_IN Lisbon [valid] 2024-03-01 → …",
            ],
        ),
        (
            "as known on 2024-03-02: no move yet",
            Some("Alice"),
            lives_in(),
            true,
            point(chrono::Utc::now(), date(2024, 3, 2)),
            vec!["Alice LIVES_IN Boston [valid] 2019-01-01 → …"],
        ),
        (
            "as of 2020, known now: Lisbon is still to come",
            Some("Alice"),
            lives_in(),
            true,
            point(date(2020, 1, 1), chrono::Utc::now()),
            vec![
                "Alice LIVES_IN Boston [valid] 2019-01-01 → 2024-03-01",
                "Alice LIVES_IN Lisbon [not yet valid] 2024-03-01 → …",
            ],
        ),
        (
            "as known on 2024-01-20: jazz not yet retracted",
            Some("Alice"),
            Some(RelationType::parse("LIKES").unwrap()),
            true,
            point(chrono::Utc::now(), date(2024, 1, 20)),
            vec!["Alice LIKES Jazz [valid] … → …"],
        ),
        (
            "by alias, one type",
            Some("ally"),
            Some(RelationType::parse("WORKS_AT").unwrap()),
            false,
            now(),
            vec!["Alice WORKS_AT Acme [valid] 2021-05-01 → …"],
        ),
    ];
    for (name, entity, relation_type, include_invalid, at, expected) in cases {
        let timeline = h
            .memory
            .timeline(&loaded.scope, entity, relation_type, include_invalid, at)
            .await
            .unwrap();
        let got: Vec<String> = timeline.iter().map(describe).collect();
        assert_eq!(got, expected, "case {name}");
    }
    let err = h
        .memory
        .timeline(&loaded.scope, Some("Nobody"), None, true, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, MemoryError::NotFound { kind: "entity", .. }),
        "{err:?}"
    );
}

/// (name, since, until, added, invalidated, retracted).
type WindowCase = (
    &'static str,
    Timestamp,
    Timestamp,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

#[tokio::test]
async fn changes_in_a_transaction_time_window() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let sorted = |views: &[mnemo_core::RelationView]| {
        let mut out: Vec<String> = views.iter().map(|v| v.triplet_text()).collect();
        out.sort();
        out
    };
    let cases: [WindowCase; 4] = [
        (
            "the move",
            date(2024, 3, 1),
            date(2024, 3, 10),
            &["Alice LIVES_IN Lisbon"],
            &["Alice LIVES_IN Boston"],
            &[],
        ),
        (
            "the retraction",
            date(2024, 1, 11),
            date(2024, 3, 1),
            &[],
            &[],
            &["Alice LIKES Jazz"],
        ),
        (
            "an empty window",
            date(2024, 3, 5),
            date(2024, 3, 5),
            &[],
            &[],
            &[],
        ),
        (
            "before anything",
            date(2023, 1, 1),
            date(2024, 1, 10),
            &[],
            &[],
            &[],
        ),
    ];
    for (name, since, until, added, invalidated, retracted) in cases {
        let changes = h.memory.changes(&loaded.scope, since, until).await.unwrap();
        assert_eq!(sorted(&changes.added), added, "{name}: added");
        assert_eq!(
            sorted(&changes.invalidated),
            invalidated,
            "{name}: invalidated"
        );
        assert_eq!(sorted(&changes.retracted), retracted, "{name}: retracted");
    }
    // Everything recorded on 2024-01-10.
    let first_day = h
        .memory
        .changes(&loaded.scope, date(2024, 1, 10), date(2024, 1, 11))
        .await
        .unwrap();
    assert_eq!(first_day.added.len(), loaded.relations.len() - 1);
    let err = h
        .memory
        .changes(&loaded.scope, date(2024, 2, 1), date(2024, 1, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MemoryError::Invalid(ValidationError::Request(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn entities_are_listed_and_fetched_within_their_scope() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let page = |limit, offset| Page { limit, offset };
    let all = h
        .memory
        .entities(&loaded.scope, page(100, 0))
        .await
        .unwrap();
    assert_eq!(all.len(), loaded.entities.len());
    let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    let second = h.memory.entities(&loaded.scope, page(2, 1)).await.unwrap();
    assert_eq!(second, all[1..3]);
    assert!(
        h.memory
            .entities(&fresh_scope("empty"), page(10, 0))
            .await
            .unwrap()
            .is_empty()
    );

    let alice = loaded.entities["Alice"];
    assert_eq!(
        h.memory
            .entity(&loaded.scope, alice)
            .await
            .unwrap()
            .display_name,
        "Alice"
    );
    for (scope, id) in [
        (fresh_scope("other"), alice),
        (loaded.scope.clone(), EntityId::new()),
    ] {
        let err = h.memory.entity(&scope, id).await.unwrap_err();
        match err {
            MemoryError::NotFound {
                kind: "entity",
                id: got,
            } => assert_eq!(got, id.to_string()),
            other => panic!("{other:?}"),
        }
    }
}
