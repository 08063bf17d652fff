//! The injected clock: every time core stamps, and the default read point of a search,
//! come from `Memory::with_clock`, never from the system clock.

use std::sync::Arc;

use mnemo_core::read::SearchRequest;
use mnemo_core::write::{EntityInput, RelationsRequest, TripletRequest};
use mnemo_testkit::fixtures::FixedClock;
use serde_json::json;

use crate::support::{date, fresh_scope, harness_without_llm};

#[tokio::test]
async fn writes_are_stamped_and_searches_read_at_the_clock_time() {
    let clock = Arc::new(FixedClock::new(date(2020, 6, 1)));
    let h = harness_without_llm().await.with_clock(clock.clone());
    let scope = fresh_scope("clock");
    let request = RelationsRequest {
        scope: scope.clone(),
        occurred_at: None,
        relations: vec![TripletRequest {
            source: EntityInput {
                name: "Alice".into(),
                entity_type: Some("Person".into()),
            },
            relation: "LIVES_IN".into(),
            target: EntityInput {
                name: "Lisbon".into(),
                entity_type: Some("City".into()),
            },
            fact: Some("Alice lives in Lisbon".into()),
            valid_from: Some(date(2030, 1, 1)),
            valid_to: None,
        }],
        metadata: json!({}),
        idempotency_key: None,
    };
    let outcome = h.memory.add_relations(request).await.unwrap();
    let episode = h.memory.episode(&scope, outcome.episode_id).await.unwrap();
    assert_eq!(
        episode.ingested_at,
        date(2020, 6, 1),
        "ingested at the clock's now"
    );
    assert_eq!(
        episode.occurred_at,
        date(2020, 6, 1),
        "occurred_at defaults to now"
    );
    let added = &outcome.relations.added;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].relation.times.recorded_at, date(2020, 6, 1));

    // Now (2020) the move to Lisbon (2030) has not happened; by 2031 it has.
    let search = || SearchRequest::new(scope.clone(), "Where does Alice live?");
    let before = h.memory.search(search()).await.unwrap();
    assert!(before.relations.is_empty(), "{:?}", before.relations);
    clock.set(date(2031, 1, 1));
    let after = h.memory.search(search()).await.unwrap();
    let found: Vec<&str> = after
        .relations
        .iter()
        .map(|hit| hit.view.relation.fact.as_str())
        .collect();
    assert_eq!(found, ["Alice lives in Lisbon"]);
}
