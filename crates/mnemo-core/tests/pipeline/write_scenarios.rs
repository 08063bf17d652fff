//! The write path's scenarios (issue [2/6]): each scenario is a list of steps, a message
//! with the LLM's scripted answers to it, and the expected timeline afterwards.

use mnemo_core::ports::{GraphRead, VectorRead};
use mnemo_core::write::{AddOutcome, EntityInput, RelationsRequest, TripletRequest};
use mnemo_core::{EpisodeStatus, MemorySettings, Scope, Timestamp, Visibility};
use mnemo_testkit::scripted_llm::Reply;
use serde_json::{Value, json};

use crate::support::{Harness, add_request, date, fresh_scope, harness_with};

/// One add: what the user says, when, and what the scripted LLM answers to it.
struct Step {
    say: &'static str,
    at: Timestamp,
    entities: Value,
    relations: Value,
    /// `resolve_conflicts` answer; `None` = the step must not call it.
    conflicts: Option<Value>,
}

fn step(say: &'static str, at: Timestamp, entities: Value, relations: Value) -> Step {
    Step {
        say,
        at,
        entities,
        relations,
        conflicts: None,
    }
}

/// `step`, with the LLM judging its one new triplet against the one candidate.
fn judged(verdict: &str, step: Step) -> Step {
    Step {
        conflicts: Some(json!([{"existing": 0, "new": 0, "verdict": verdict}])),
        ..step
    }
}

fn graph_only() -> MemorySettings {
    MemorySettings {
        facts_enabled: false,
        ..MemorySettings::default()
    }
}

/// Scripts the LLM for `step` and adds it; asserts the episode is done and that
/// `resolve_conflicts` was called exactly when the step scripted it.
async fn play(h: &Harness, scope: &Scope, step: &Step) -> AddOutcome {
    let llm = h.llm();
    llm.on("extract_entities")
        .containing(step.say)
        .once()
        .reply(Reply::json(json!({ "entities": step.entities })));
    llm.on("establish_relations")
        .containing(step.say)
        .once()
        .reply(Reply::json(json!({ "relations": step.relations })));
    let conflicts_before = llm.calls("resolve_conflicts");
    if let Some(decisions) = &step.conflicts {
        llm.on("resolve_conflicts")
            .once()
            .reply(Reply::json(json!({ "decisions": decisions })));
    }
    let outcome = h
        .memory
        .add(add_request(scope, step.say, step.at))
        .await
        .unwrap();
    assert_eq!(outcome.status, EpisodeStatus::Done, "{}", step.say);
    assert_eq!(
        llm.calls("resolve_conflicts") - conflicts_before,
        usize::from(step.conflicts.is_some()),
        "resolve_conflicts calls for {:?}",
        step.say
    );
    outcome
}

/// Plays the steps in a fresh scope and checks the user's timeline afterwards.
async fn check(steps: &[Step], expected: &[&str]) -> (Harness, Scope) {
    let h = harness_with(graph_only(), true).await;
    let scope = fresh_scope("alice");
    for step in steps {
        play(&h, &scope, step).await;
    }
    let user = scope.user_id().unwrap().to_owned();
    let got = h.timeline(&scope, &user).await;
    let expected: Vec<String> = expected
        .iter()
        .map(|line| line.replace("USER", &user))
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(got, expected_sorted);
    (h, scope)
}

fn person() -> Value {
    json!({"name": "I", "type": "Person"})
}

fn city(name: &str) -> Value {
    json!({"name": name, "type": "City"})
}

fn rel(target: &str, relation: &str, fact: &str, valid_from: Option<&str>) -> Value {
    json!({
        "source": "I", "relation": relation, "target": target, "fact": fact,
        "valid_from": valid_from, "valid_to": null
    })
}

async fn relation_between(h: &Harness, scope: &Scope, target: &str) -> mnemo_core::Relation {
    let user = h.entity(scope, scope.user_id().unwrap()).await.unwrap();
    let target = h.entity(scope, target).await.unwrap();
    h.store
        .relations(
            scope,
            &mnemo_core::ports::RelationQuery {
                entity: Some(user.id),
                outgoing_only: true,
                relation_type: None,
                visible_at: None,
                limit: 100,
            },
        )
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.target == target.id)
        .unwrap()
}

fn move_steps() -> Vec<Step> {
    vec![
        step(
            "I live in Boston",
            date(2023, 1, 10),
            json!([person(), city("Boston")]),
            json!([rel("Boston", "LIVES_IN", "Alice lives in Boston", None)]),
        ),
        step(
            "I moved to Lisbon in March 2024",
            date(2024, 4, 2),
            json!([person(), city("Lisbon")]),
            json!([rel(
                "Lisbon",
                "LIVES_IN",
                "Alice lives in Lisbon",
                Some("2024-03-01T00:00:00Z")
            )]),
        ),
    ]
}

#[tokio::test]
async fn a_move_ends_the_old_home_where_the_new_one_starts() {
    let (h, scope) = check(
        &move_steps(),
        &[
            "USER LIVES_IN Boston [ended]",
            "USER LIVES_IN Lisbon [current]",
        ],
    )
    .await;
    let boston = relation_between(&h, &scope, "Boston").await;
    let lisbon = relation_between(&h, &scope, "Lisbon").await;
    assert_eq!(boston.times.valid_from, Some(date(2023, 1, 10)));
    assert_eq!(boston.times.valid_to, Some(date(2024, 3, 1)));
    assert_eq!(boston.invalidated_by, Some(lisbon.id));
    assert!(boston.times.invalidated_at.is_some());
    // Where did she live in 2023? Boston, even though it has ended.
    let in_2023 = Visibility {
        as_of: date(2023, 6, 1),
        known_at: chrono::Utc::now(),
    };
    assert!(mnemo_core::is_visible(&boston.times, &in_2023));
    assert!(!mnemo_core::is_visible(&lisbon.times, &in_2023));
    // Two LLM calls per add, none for the conflict (LIVES_IN is single-valued).
    assert_eq!(h.llm().requests().len(), 4);
    // The vector payload follows: a search now finds Lisbon, not Boston.
    let query = crate::support::embedder();
    let vector =
        mnemo_core::ports::Embedder::embed(query.as_ref(), vec!["where does Alice live".into()])
            .await
            .unwrap()
            .remove(0);
    let hits = h
        .store
        .search_relations(&scope, &vector, 5, Visibility::now())
        .await
        .unwrap();
    let ids: Vec<_> = hits.iter().map(|hit| hit.item).collect();
    assert_eq!(ids, vec![lisbon.id]);
}

#[tokio::test]
async fn restatements_add_provenance_and_never_rewrite_history() {
    let boston = || json!([rel("Boston", "LIVES_IN", "Alice lives in Boston", None)]);
    let (h, scope) = check(
        &[
            step(
                "I live in Boston",
                date(2023, 1, 10),
                json!([person(), city("Boston")]),
                boston(),
            ),
            // The same fact again: a duplicate by rule, no LLM.
            step(
                "Still in Boston!",
                date(2023, 6, 1),
                json!([person(), city("Boston")]),
                boston(),
            ),
            // Other words: the LLM says duplicate.
            judged(
                "duplicate",
                step(
                    "Boston is home",
                    date(2023, 7, 1),
                    json!([person(), city("Boston")]),
                    json!([rel("Boston", "LIVES_IN", "Boston is Alice's home", None)]),
                ),
            ),
        ],
        &["USER LIVES_IN Boston [current]"],
    )
    .await;
    let relation = relation_between(&h, &scope, "Boston").await;
    assert_eq!(relation.mentions, 3);
    assert_eq!(relation.episodes.len(), 3);
    assert_eq!(relation.times.valid_from, Some(date(2023, 1, 10)));
}

#[tokio::test]
async fn a_late_arriving_older_fact_is_stored_already_ended() {
    let (h, scope) = check(
        &[
            step(
                "I live in Lisbon since March 2024",
                date(2024, 5, 1),
                json!([person(), city("Lisbon")]),
                json!([rel(
                    "Lisbon",
                    "LIVES_IN",
                    "Alice lives in Lisbon",
                    Some("2024-03-01")
                )]),
            ),
            step(
                "Back in 2019 I lived in Boston",
                date(2024, 6, 1),
                json!([person(), city("Boston")]),
                json!([rel(
                    "Boston",
                    "LIVES_IN",
                    "Alice lived in Boston",
                    Some("2019-01-01")
                )]),
            ),
        ],
        &[
            "USER LIVES_IN Boston [ended]",
            "USER LIVES_IN Lisbon [current]",
        ],
    )
    .await;
    let boston = relation_between(&h, &scope, "Boston").await;
    let lisbon = relation_between(&h, &scope, "Lisbon").await;
    assert_eq!(boston.times.valid_to, Some(date(2024, 3, 1)));
    assert_eq!(
        boston.times.invalidated_at, None,
        "known ended when recorded"
    );
    assert_eq!(lisbon.times.valid_to, None);
    assert_eq!(lisbon.invalidated_by, None);
}

#[tokio::test]
async fn a_denial_retracts_and_adds_nothing() {
    let (h, scope) = check(
        &[
            step(
                "I lived in Paris",
                date(2023, 1, 1),
                json!([person(), city("Paris")]),
                json!([rel("Paris", "LIVES_IN", "Alice lives in Paris", None)]),
            ),
            judged(
                "retracted",
                step(
                    "I never lived in Paris, that was my sister",
                    date(2023, 2, 1),
                    json!([person(), city("Paris")]),
                    json!([rel("Paris", "LIVES_IN", "Alice never lived in Paris", None)]),
                ),
            ),
        ],
        &["USER LIVES_IN Paris [retracted]"],
    )
    .await;
    let paris = relation_between(&h, &scope, "Paris").await;
    assert!(paris.times.retracted_at.is_some());
    // The conflict prompt showed both triplets under small ids.
    let request = &h.llm().requests_to("resolve_conflicts")[0];
    assert!(
        request.input.contains("Alice lives in Paris"),
        "{}",
        request.input
    );
    assert!(
        request.input.contains("Alice never lived in Paris"),
        "{}",
        request.input
    );
}

/// A second employer: multi-valued, so the LLM decides whether the first one ended.
#[tokio::test]
async fn a_second_employer_ends_the_first_only_when_the_llm_says_so() {
    let cases = [
        (
            "unrelated",
            "I also started at Globex on weekends",
            "[current]",
        ),
        ("superseded", "I quit Acme and joined Globex", "[ended]"),
    ];
    for (verdict, say, acme_state) in cases {
        check(
            &[
                step(
                    "I work at Acme",
                    date(2023, 1, 1),
                    json!([person(), {"name": "Acme", "type": "Organization"}]),
                    json!([rel("Acme", "WORKS_AT", "Alice works at Acme", None)]),
                ),
                judged(
                    verdict,
                    step(
                        say,
                        date(2023, 2, 1),
                        json!([person(), {"name": "Globex", "type": "Organization"}]),
                        json!([rel("Globex", "WORKS_AT", "Alice works at Globex", None)]),
                    ),
                ),
            ],
            &[
                &format!("USER WORKS_AT Acme {acme_state}"),
                "USER WORKS_AT Globex [current]",
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn a_move_leaves_unrelated_relations_alone() {
    check(
        &[
            step(
                "I live in Boston and love pizza",
                date(2023, 1, 1),
                json!([person(), city("Boston"), {"name": "pizza", "type": "Food"}]),
                json!([
                    rel("Boston", "LIVES_IN", "Alice lives in Boston", None),
                    rel("pizza", "LIKES", "Alice loves pizza", None)
                ]),
            ),
            step(
                "I moved to Lisbon",
                date(2024, 3, 1),
                json!([person(), city("Lisbon")]),
                json!([rel("Lisbon", "LIVES_IN", "Alice lives in Lisbon", None)]),
            ),
        ],
        &[
            "USER LIKES pizza [current]",
            "USER LIVES_IN Boston [ended]",
            "USER LIVES_IN Lisbon [current]",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_ambiguous_name_is_shown_to_the_llm_which_reuses_the_known_entity() {
    let (h, scope) = check(
        &[
            step(
                "My friend Robert Smith visited",
                date(2023, 1, 1),
                json!([person(), {"name": "Robert Smith", "type": "Person"}]),
                json!([rel(
                    "Robert Smith",
                    "FRIEND_OF",
                    "Alice is friends with Robert Smith",
                    None
                )]),
            ),
            // Same source and target, another type: the LLM is asked, says unrelated.
            judged(
                "unrelated",
                step(
                    "Bob Smith and I went climbing",
                    date(2023, 2, 1),
                    json!([person(), {"name": "Bob Smith", "type": "Person"}]),
                    // The model saw "Robert Smith" among the known entities and reused it.
                    json!([rel(
                        "Robert Smith",
                        "CLIMBS_WITH",
                        "Alice climbs with Robert Smith",
                        None
                    )]),
                ),
            ),
        ],
        &[
            "USER CLIMBS_WITH Robert Smith [current]",
            "USER FRIEND_OF Robert Smith [current]",
        ],
    )
    .await;
    let second = &h.llm().requests_to("establish_relations")[1];
    assert!(second.input.contains("Robert Smith"), "{}", second.input);
    assert!(h.entity(&scope, "Bob Smith").await.is_none());
}

#[tokio::test]
async fn a_close_spelling_resolves_to_the_same_entity_and_becomes_an_alias() {
    let (h, scope) = check(
        &[
            step(
                "I live in New York City",
                date(2023, 1, 1),
                json!([person(), city("New York City")]),
                json!([rel(
                    "New York City",
                    "LIVES_IN",
                    "Alice lives in New York City",
                    None
                )]),
            ),
            judged(
                "unrelated",
                step(
                    "new-york city is loud",
                    date(2023, 2, 1),
                    json!([person(), city("New York City.")]),
                    json!([rel(
                        "New York City.",
                        "LIKES",
                        "Alice likes New York City",
                        None
                    )]),
                ),
            ),
        ],
        &[
            "USER LIKES New York City [current]",
            "USER LIVES_IN New York City [current]",
        ],
    )
    .await;
    let city = h.entity(&scope, "New York City").await.unwrap();
    assert_eq!(city.mentions, 2);
    assert_eq!(city.aliases, vec!["new york city.".to_owned()]);
    // The alias now resolves exactly.
    assert_eq!(
        h.entity(&scope, "New York City.").await.unwrap().id,
        city.id
    );
}

#[tokio::test]
async fn two_scopes_never_touch() {
    let h = harness_with(graph_only(), true).await;
    let steps = move_steps();
    let a = fresh_scope("alice");
    let b = fresh_scope("bob");
    play(&h, &a, &steps[0]).await;
    play(&h, &b, &steps[0]).await;
    play(&h, &a, &steps[1]).await;
    let bob = b.user_id().unwrap();
    assert_eq!(
        h.timeline(&b, bob).await,
        vec![format!("{bob} LIVES_IN Boston [current]")]
    );
    let boston_a = h.entity(&a, "Boston").await.unwrap();
    let boston_b = h.entity(&b, "Boston").await.unwrap();
    assert_ne!(boston_a.id, boston_b.id);
    assert!(h.entity(&b, "Lisbon").await.is_none());
}

#[tokio::test]
async fn a_malformed_answer_is_retried_then_the_episode_fails_with_nothing_applied() {
    let h = harness_with(graph_only(), true).await;
    let scope = fresh_scope("alice");
    let say = "I live in Boston";
    let llm = h.llm();
    llm.on("extract_entities")
        .containing(say)
        .reply(Reply::json(json!({"entities": [person(), city("Boston")]})));
    // Every attempt answers something unusable, in three different ways.
    llm.on("establish_relations")
        .once()
        .reply(Reply::raw("{not json"));
    llm.on("establish_relations")
        .once()
        .reply(Reply::json(json!({"relations": [{"source": "", "relation": "LIVES_IN", "target": "Boston", "fact": "x"}]})));
    llm.on("establish_relations")
        .once()
        .reply(Reply::json(json!({"relations": [{"source": "I", "relation": "lives.in", "target": "Boston", "fact": "x"}]})));
    let outcome = h
        .memory
        .add(add_request(&scope, say, date(2023, 1, 1)))
        .await
        .unwrap();
    let EpisodeStatus::Failed { reason } = &outcome.status else {
        panic!("expected failed, got {:?}", outcome.status);
    };
    assert!(reason.contains("establish_relations"), "{reason}");
    assert_eq!(llm.calls("establish_relations"), 3, "max_retries = 2");
    assert_eq!(outcome.llm_usage.calls, 4);
    let stored = h.memory.episode(&scope, outcome.episode_id).await.unwrap();
    assert_eq!(stored.status, outcome.status);
    assert_eq!(stored.llm_usage.calls, 4);
    assert!(
        h.entity(&scope, "Boston").await.is_none(),
        "nothing applied"
    );
    assert!(h.entity(&scope, scope.user_id().unwrap()).await.is_none());
}

#[tokio::test]
async fn the_same_idempotency_key_adds_nothing_twice() {
    let h = harness_with(graph_only(), true).await;
    let scope = fresh_scope("alice");
    let steps = move_steps();
    let mut request = add_request(&scope, steps[0].say, steps[0].at);
    request.idempotency_key = Some("turn-1".into());
    h.llm()
        .on("extract_entities")
        .reply(Reply::json(json!({"entities": steps[0].entities})));
    h.llm()
        .on("establish_relations")
        .reply(Reply::json(json!({"relations": steps[0].relations})));
    let first = h.memory.add(request.clone()).await.unwrap();
    let second = h.memory.add(request).await.unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.relations.added.len(), 1);
    assert!(second.duplicate);
    assert_eq!(second.episode_id, first.episode_id);
    assert_eq!(
        h.llm().requests().len(),
        2,
        "the second add made no LLM call"
    );
}

#[tokio::test]
async fn deleting_an_episode_restores_what_it_ended() {
    let h = harness_with(graph_only(), true).await;
    let scope = fresh_scope("alice");
    let steps = move_steps();
    play(&h, &scope, &steps[0]).await;
    let moved = play(&h, &scope, &steps[1]).await;
    assert_eq!(moved.relations.invalidated.len(), 1);
    h.memory
        .delete_episode(&scope, moved.episode_id)
        .await
        .unwrap();

    let user = scope.user_id().unwrap();
    assert_eq!(
        h.timeline(&scope, user).await,
        vec![format!("{user} LIVES_IN Boston [current]")]
    );
    let boston = relation_between(&h, &scope, "Boston").await;
    assert_eq!(boston.invalidated_by, None);
    assert_eq!(boston.invalidated_in, None);
    assert!(
        h.entity(&scope, "Lisbon").await.is_none(),
        "only the deleted episode knew Lisbon"
    );
    assert_eq!(h.entity(&scope, user).await.unwrap().mentions, 1);
    assert!(h.memory.episode(&scope, moved.episode_id).await.is_err());
    // Vector search sees Boston as current again.
    let vector = mnemo_core::ports::Embedder::embed(
        crate::support::embedder().as_ref(),
        vec!["where does Alice live".into()],
    )
    .await
    .unwrap()
    .remove(0);
    let hits = h
        .store
        .search_relations(&scope, &vector, 5, Visibility::now())
        .await
        .unwrap();
    assert_eq!(
        hits.iter().map(|hit| hit.item).collect::<Vec<_>>(),
        vec![boston.id]
    );
}

#[tokio::test]
async fn infer_without_an_llm_is_refused_before_anything_is_journaled() {
    let h = harness_with(graph_only(), false).await;
    let scope = fresh_scope("alice");
    let err = h
        .memory
        .add(add_request(&scope, "I live in Boston", date(2023, 1, 1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, mnemo_core::MemoryError::LlmNotConfigured),
        "{err}"
    );
    assert!(h.store.pending_episodes(10).await.unwrap().is_empty());
}

fn triplet(
    source: &str,
    relation: &str,
    target: &str,
    target_type: &str,
    valid_from: Option<Timestamp>,
) -> TripletRequest {
    TripletRequest {
        source: EntityInput {
            name: source.into(),
            entity_type: Some("Person".into()),
        },
        relation: relation.into(),
        target: EntityInput {
            name: target.into(),
            entity_type: Some(target_type.into()),
        },
        fact: None,
        valid_from,
        valid_to: None,
    }
}

#[tokio::test]
async fn direct_triplets_follow_the_conflict_rules_without_an_llm() {
    let h = harness_with(graph_only(), false).await;
    let scope = fresh_scope("alice");
    let add = |relations: Vec<TripletRequest>| RelationsRequest {
        scope: scope.clone(),
        occurred_at: None,
        relations,
        metadata: json!({}),
        idempotency_key: None,
    };
    let first = h
        .memory
        .add_relations(add(vec![
            triplet(
                "Alice",
                "lives in",
                "Boston",
                "city",
                Some(date(2020, 1, 1)),
            ),
            triplet("Alice", "WORKS_AT", "Acme", "Organization", None),
        ]))
        .await
        .unwrap();
    assert_eq!(first.relations.added.len(), 2);
    assert_eq!(
        first.relations.added[0].relation.fact,
        "Alice lives in Boston"
    );
    let second = h
        .memory
        .add_relations(add(vec![
            triplet(
                "Alice",
                "LIVES_IN",
                "Lisbon",
                "City",
                Some(date(2024, 3, 1)),
            ),
            // Multi-valued and no LLM to ask: both employers stay.
            triplet("Alice", "WORKS_AT", "Globex", "Organization", None),
        ]))
        .await
        .unwrap();
    assert_eq!(second.relations.invalidated.len(), 1);
    assert_eq!(second.relations.invalidated[0].target.name, "Boston");
    assert_eq!(
        h.timeline(&scope, "Alice").await,
        vec![
            "Alice LIVES_IN Boston [ended]",
            "Alice LIVES_IN Lisbon [current]",
            "Alice WORKS_AT Acme [current]",
            "Alice WORKS_AT Globex [current]",
        ]
    );
}

#[tokio::test]
async fn bad_direct_triplets_are_refused_whole() {
    let h = harness_with(graph_only(), false).await;
    let scope = fresh_scope("alice");
    let cases: Vec<(TripletRequest, &str)> = vec![
        (triplet("", "LIVES_IN", "Boston", "City", None), "name"),
        (
            triplet("Alice", "lives.in", "Boston", "City", None),
            "relation type",
        ),
        (
            triplet("Alice", "LIVES_IN", "Boston", "`City`", None),
            "entity type",
        ),
        (
            TripletRequest {
                valid_to: Some(date(2019, 1, 1)),
                ..triplet(
                    "Alice",
                    "LIVES_IN",
                    "Boston",
                    "City",
                    Some(date(2020, 1, 1)),
                )
            },
            "valid_to",
        ),
    ];
    for (bad, expected) in cases {
        let request = RelationsRequest {
            scope: scope.clone(),
            occurred_at: None,
            relations: vec![triplet("Alice", "LIVES_IN", "Boston", "City", None), bad],
            metadata: json!({}),
            idempotency_key: None,
        };
        let err = h
            .memory
            .add_relations(request)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("relations[1]") && err.contains(expected),
            "{err}"
        );
    }
    assert!(
        h.entity(&scope, "Alice").await.is_none(),
        "nothing half-written"
    );
}

/// What small models write, in the ontology's terms: `MOVED_TO` is stored as `LIVES_IN`,
/// `MOVED_FROM` as the end of the old `LIVES_IN` (with no known start, since it ended
/// before the conversation), and "user" as the scope's user.
#[tokio::test]
async fn a_models_verbs_of_change_become_the_ontologys_types() {
    let (h, scope) = check(
        &[step(
            "I moved from Paris to Lisbon in April",
            date(2024, 5, 10),
            json!([{"name": "user", "type": "Person"}, city("Paris"), city("Lisbon")]),
            json!([
                {"source": "user", "relation": "MOVED_TO", "target": "Lisbon",
                 "fact": "Alice moved to Lisbon", "valid_from": "2024-04-01", "valid_to": null},
                {"source": "I", "relation": "MOVED_FROM", "target": "Paris",
                 "fact": "Alice moved away from Paris", "valid_from": "2024-04-01", "valid_to": null},
            ]),
        )],
        &[
            "USER LIVES_IN Lisbon [current]",
            "USER LIVES_IN Paris [ended]",
        ],
    )
    .await;
    let paris = relation_between(&h, &scope, "Paris").await;
    assert_eq!(
        paris.times.valid_from, None,
        "lived there since an unknown time"
    );
    assert_eq!(paris.times.valid_to, Some(date(2024, 4, 1)));
    let lisbon = relation_between(&h, &scope, "Lisbon").await;
    assert_eq!(lisbon.times.valid_from, Some(date(2024, 4, 1)));
    assert!(
        h.entity(&scope, "user").await.is_none(),
        "no entity named user"
    );
}
