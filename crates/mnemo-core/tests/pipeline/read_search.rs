//! `Memory::search` on graphs written through the ports with real embeddings: multi-hop
//! walks, both time axes, retractions, the token budget, scope isolation under every
//! retriever, the vector payload lagging the graph, what a query embeds (itself alone, then only
//! the phrases lexical linking left unexplained), and how many searches run at once.

use std::sync::atomic::Ordering::SeqCst;

use mnemo_core::ports::{Embedder, GraphWrite, RelationVector, TokenCounter, VectorWrite, WriteOp};
use mnemo_core::read::{Include, QueryEntities, Retriever, SearchRequest, SearchResult};
use mnemo_core::{
    Memory, MemoryError, MemorySettings, RelationId, RelationTimes, Scope, Timestamp,
    ValidationError,
};
use mnemo_testkit::scripted_llm::Reply;
use serde_json::json;

use crate::read_fixture::{Fixture, Loaded, alice, load, recorded, rel};
use crate::support::{
    Watching, date, embedder, fresh_scope, harness, harness_without_llm, token_counter,
};

/// The results as lines: `"Alice LIVES_IN Lisbon"` for every relation, plus
/// `"Alice LIVES_IN Lisbon via entities"` / `"… via triplets"` per retriever that found
/// it, and `"fact: Alice is vegetarian"` for facts; in result order.
fn lines(result: &SearchResult) -> Vec<String> {
    let mut out = Vec::new();
    for hit in &result.relations {
        let triplet = hit.view.triplet_text();
        out.push(triplet.clone());
        for retriever in &hit.found_by {
            let name = match retriever {
                Retriever::Entities => "entities",
                Retriever::Triplets => "triplets",
                Retriever::Facts => "facts",
            };
            out.push(format!("{triplet} via {name}"));
        }
    }
    for hit in &result.facts {
        out.push(format!("fact: {}", hit.fact.text));
    }
    out
}

fn at(y: i32, m: u32, d: u32) -> Option<Timestamp> {
    Some(date(y, m, d))
}

/// One search and what its results must and must not contain.
struct Case {
    name: &'static str,
    query: &'static str,
    limit: usize,
    depth: u8,
    as_of: Option<Timestamp>,
    known_at: Option<Timestamp>,
    present: &'static [&'static str],
    absent: &'static [&'static str],
    /// (a, b): a is ranked before b.
    before: &'static [(&'static str, &'static str)],
}

const CASE: Case = Case {
    name: "",
    query: "",
    limit: 10,
    depth: 2,
    as_of: None,
    known_at: None,
    present: &[],
    absent: &[],
    before: &[],
};

async fn check(memory: &Memory, loaded: &Loaded, case: &Case) {
    let mut request = SearchRequest::new(loaded.scope.clone(), case.query);
    request.limit = case.limit;
    request.depth = case.depth;
    request.as_of = case.as_of;
    request.known_at = case.known_at;
    let result = memory.search(request).await.unwrap();
    let got = lines(&result);
    let show = || {
        format!(
            "case {:?}: got {got:#?}\ncontext:\n{}",
            case.name, result.context
        )
    };
    for want in case.present {
        assert!(
            got.iter().any(|g| g == want),
            "missing {want:?} in {}",
            show()
        );
    }
    for unwanted in case.absent {
        assert!(
            !got.iter().any(|g| g == unwanted),
            "unexpected {unwanted:?} in {}",
            show()
        );
    }
    for (a, b) in case.before {
        let pos = |x: &str| got.iter().position(|g| g == x);
        match (pos(a), pos(b)) {
            (Some(a_at), Some(b_at)) => {
                assert!(a_at < b_at, "{a:?} not before {b:?} in {}", show())
            }
            (Some(_), None) => {}
            _ => panic!("{a:?} missing in {}", show()),
        }
    }
    // Every relation shown is in the context with its dates, and so is every fact.
    for hit in &result.relations {
        assert!(
            result.context.contains(&hit.view.triplet_text()),
            "{}",
            show()
        );
    }
    for hit in &result.facts {
        assert!(result.context.contains(&hit.fact.text), "{}", show());
    }
    assert!(result.relations.len() + result.facts.len() <= case.limit);
}

#[tokio::test]
async fn search_cases_on_alices_world() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let cases = [
        Case {
            name: "multi-hop question answered through a 2-hop walk",
            query: "In which city is the headquarters of Alice's employer?",
            present: &[
                "Alice WORKS_AT Acme via entities",
                "Acme HEADQUARTERED_IN Berlin via entities",
            ],
            absent: &["Initech HEADQUARTERED_IN Austin via entities"],
            before: &[(
                "Acme HEADQUARTERED_IN Berlin",
                "Initech HEADQUARTERED_IN Austin",
            )],
            ..CASE
        },
        Case {
            name: "depth 1 does not reach the second hop",
            query: "In which city is the headquarters of Alice's employer?",
            depth: 1,
            present: &["Alice WORKS_AT Acme via entities"],
            absent: &["Acme HEADQUARTERED_IN Berlin via entities"],
            ..CASE
        },
        Case {
            name: "depth 3 reaches the friend's employer's city",
            query: "In which city is the headquarters of Alice's employer?",
            depth: 3,
            limit: 30,
            present: &[
                "Acme HEADQUARTERED_IN Berlin via entities",
                "Initech HEADQUARTERED_IN Austin via entities",
            ],
            before: &[(
                "Acme HEADQUARTERED_IN Berlin",
                "Initech HEADQUARTERED_IN Austin",
            )],
            ..CASE
        },
        Case {
            name: "current home now; the ended one is gone",
            query: "Where does Alice live?",
            present: &[
                "Alice LIVES_IN Lisbon via entities",
                "Alice LIVES_IN Lisbon via triplets",
            ],
            absent: &["Alice LIVES_IN Boston"],
            before: &[("Alice LIVES_IN Lisbon", "Alice WORKS_AT Acme")],
            ..CASE
        },
        Case {
            name: "as_of inside the ended relation's interval",
            query: "Where does Alice live?",
            as_of: at(2022, 6, 1),
            present: &[
                "Alice LIVES_IN Boston via entities",
                "Alice LIVES_IN Boston via triplets",
            ],
            absent: &["Alice LIVES_IN Lisbon"],
            ..CASE
        },
        Case {
            name: "as_of on the day it ended",
            query: "Where does Alice live?",
            as_of: at(2024, 3, 1),
            present: &["Alice LIVES_IN Lisbon"],
            absent: &["Alice LIVES_IN Boston"],
            ..CASE
        },
        Case {
            name: "known_at before the invalidation: the old belief",
            query: "Where does Alice live?",
            known_at: at(2024, 3, 2),
            present: &[
                "Alice LIVES_IN Boston via entities",
                "Alice LIVES_IN Boston via triplets",
            ],
            absent: &["Alice LIVES_IN Lisbon"],
            ..CASE
        },
        Case {
            name: "known_at before anything was recorded",
            query: "Where does Alice live?",
            known_at: at(2024, 1, 9),
            absent: &[
                "Alice LIVES_IN Boston",
                "Alice LIVES_IN Lisbon",
                "Alice WORKS_AT Acme",
            ],
            ..CASE
        },
        Case {
            name: "retracted: never shown after the retraction",
            query: "What music does Alice like?",
            present: &["Alice WORKS_AT Acme"],
            absent: &["Alice LIKES Jazz"],
            ..CASE
        },
        Case {
            name: "retracted: not even with as_of inside its interval",
            query: "What music does Alice like?",
            as_of: at(2024, 1, 15),
            absent: &["Alice LIKES Jazz"],
            ..CASE
        },
        Case {
            name: "retracted: shown as believed before the retraction",
            query: "What music does Alice like?",
            known_at: at(2024, 1, 20),
            present: &[
                "Alice LIKES Jazz via entities",
                "Alice LIKES Jazz via triplets",
            ],
            before: &[("Alice LIKES Jazz", "Alice WORKS_AT Acme")],
            ..CASE
        },
        Case {
            name: "facts come with relations",
            query: "What does Alice eat? Is she vegetarian?",
            present: &["fact: Alice is vegetarian"],
            before: &[(
                "fact: Alice is vegetarian",
                "fact: The office coffee machine is broken",
            )],
            ..CASE
        },
        Case {
            name: "a lower-case name is linked through full text",
            query: "where does alice live",
            present: &["Alice LIVES_IN Lisbon via entities"],
            ..CASE
        },
        Case {
            name: "an alias is linked exactly",
            query: "Where does Ally work?",
            present: &["Alice WORKS_AT Acme via entities"],
            ..CASE
        },
        Case {
            name: "a relation between two named entities",
            query: "How do Bob and Alice know each other?",
            present: &["Bob KNOWS Alice via entities"],
            before: &[("Bob KNOWS Alice", "Alice LIVES_IN Lisbon")],
            ..CASE
        },
        Case {
            name: "limit cuts the fused list",
            query: "Where does Alice live?",
            limit: 2,
            present: &["Alice LIVES_IN Lisbon"],
            ..CASE
        },
    ];
    for case in &cases {
        check(&h.memory, &loaded, case).await;
    }
}

#[tokio::test]
async fn results_carry_provenance_dates_and_their_subgraph() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let scope = &loaded.scope;

    let now = h
        .memory
        .search(SearchRequest::new(scope.clone(), "Where does Alice live?"))
        .await
        .unwrap();
    assert!(
        now.context.lines().any(
            |l| l == "- Alice LIVES_IN Lisbon (Alice lives in Lisbon) [valid 2024-03-01 → now]"
        ),
        "{}",
        now.context
    );
    assert!(
        now.context.contains("- Alice is vegetarian [2024-01-10]"),
        "{}",
        now.context
    );
    for hit in &now.relations {
        assert_eq!(hit.view.relation.episodes, vec![loaded.episode]);
        assert!(hit.score > 0.0);
    }
    for hit in &now.facts {
        assert_eq!(hit.fact.episodes, vec![loaded.episode]);
    }
    let scores: Vec<f32> = now.relations.iter().map(|h| h.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(
        now.linked_entities
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["Alice"]
    );
    // The subgraph is the returned relations and their ends.
    assert_eq!(now.subgraph.edges.len(), now.relations.len());
    for hit in &now.relations {
        for end in [&hit.view.source, &hit.view.target] {
            assert!(now.subgraph.nodes.contains(end), "{end:?}");
        }
    }

    let mut past = SearchRequest::new(scope.clone(), "Where does Alice live?");
    past.as_of = at(2022, 6, 1);
    let past = h.memory.search(past).await.unwrap();
    assert!(
        past.context.contains(
            "- Alice LIVES_IN Boston (Alice lives in Boston) [valid 2019-01-01 → 2024-03-01]"
        ),
        "{}",
        past.context
    );

    // As believed on 2024-03-02, Boston had not ended: no end date, no `invalidated_by`.
    let mut believed = SearchRequest::new(scope.clone(), "Where does Alice live?");
    believed.known_at = at(2024, 3, 2);
    let believed = h.memory.search(believed).await.unwrap();
    let boston = believed
        .relations
        .iter()
        .find(|h| h.view.target.name == "Boston")
        .expect("Boston as believed then");
    assert_eq!(boston.view.relation.times.valid_to, None);
    assert_eq!(boston.view.relation.invalidated_by, None);
    assert!(
        believed
            .context
            .contains("- Alice LIVES_IN Boston (Alice lives in Boston) [valid 2019-01-01 → now]"),
        "{}",
        believed.context
    );

    // What is not included is not filled.
    let mut only_facts = SearchRequest::new(scope.clone(), "Where does Alice live?");
    only_facts.include = Include {
        relations: false,
        facts: true,
        subgraph: false,
    };
    let only_facts = h.memory.search(only_facts).await.unwrap();
    assert!(only_facts.relations.is_empty() && only_facts.subgraph.edges.is_empty());
    assert!(!only_facts.facts.is_empty());
    assert!(
        !only_facts.context.contains("LIVES_IN"),
        "{}",
        only_facts.context
    );
    let mut only_graph = SearchRequest::new(scope.clone(), "Where does Alice live?");
    only_graph.include = Include {
        relations: false,
        facts: false,
        subgraph: true,
    };
    let only_graph = h.memory.search(only_graph).await.unwrap();
    assert!(only_graph.relations.is_empty() && only_graph.facts.is_empty());
    assert!(
        only_graph
            .subgraph
            .edges
            .iter()
            .any(|e| e.triplet_text() == "Alice LIVES_IN Lisbon")
    );
}

#[tokio::test]
async fn the_token_budget_is_respected_by_the_real_tokenizer() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let tokens = token_counter();
    let search = |budget: Option<usize>| {
        let mut request = SearchRequest::new(loaded.scope.clone(), "Tell me about Alice's life");
        request.limit = 30;
        request.token_budget = budget;
        h.memory.search(request)
    };
    let unlimited = search(None).await.unwrap();
    let full = tokens.count(&unlimited.context);
    assert!(
        full > 60,
        "the fixture's full context is long enough to cut: {full}"
    );
    let mut previous = 0;
    for budget in [0, 5, 12, 20, 40, 60, full - 1, full, full + 50] {
        let result = search(Some(budget)).await.unwrap();
        let used = tokens.count(&result.context);
        let items = result.relations.len() + result.facts.len();
        assert!(
            used <= budget,
            "budget {budget}: {used} tokens\n{}",
            result.context
        );
        assert!(
            items >= previous,
            "budget {budget}: fewer results than a smaller budget"
        );
        previous = items;
        if budget >= full {
            assert_eq!(result.context, unlimited.context, "budget {budget}");
        }
        if budget < full {
            assert!(
                items < unlimited.relations.len() + unlimited.facts.len(),
                "budget {budget}"
            );
        }
        if budget == 0 {
            assert_eq!(items, 0);
        }
    }
}

/// Same names, different worlds: nothing of another scope comes back, from any
/// retriever, while the same query in that scope finds its own data with each retriever.
#[tokio::test]
async fn scopes_are_isolated_under_every_retriever() {
    let h = harness_without_llm().await;
    let a = load(&h, &fresh_scope("alice"), &alice()).await;
    let user = a.scope.user_id().unwrap().to_owned();
    let paris = Fixture {
        relations: vec![
            rel("Alice:Person LIVES_IN Paris:City", "Alice lives in Paris"),
            rel(
                "Alice:Person OWNS Tom:Animal",
                "Alice owns a cat called Tom",
            ),
        ],
        facts: vec!["Alice's cat Tom is vegan"],
        aliases: vec![],
    };
    let rome = Fixture {
        relations: vec![rel(
            "Alice:Person LIVES_IN Rome:City",
            "Alice lives in Rome",
        )],
        facts: vec!["Alice's cat is named Tom"],
        aliases: vec![],
    };
    // Another user, and the same user in one run: both are other scopes.
    let b = load(&h, &fresh_scope("other"), &paris).await;
    let c_scope = Scope::new(Some(user), None, Some("run-1".into())).unwrap();
    let c = load(&h, &c_scope, &rome).await;

    let query = "Where does Alice live, and what is her cat called?";
    let search = |scope: &Scope| {
        let mut request = SearchRequest::new(scope.clone(), query);
        request.limit = 50;
        request.depth = 3;
        h.memory.search(request)
    };
    let in_a = search(&a.scope).await.unwrap();
    for hit in &in_a.relations {
        assert_eq!(
            hit.view.relation.scope,
            a.scope,
            "{}",
            hit.view.triplet_text()
        );
        assert!(a.relations.values().any(|id| *id == hit.view.relation.id));
    }
    for hit in &in_a.facts {
        assert_eq!(hit.fact.scope, a.scope, "{}", hit.fact.text);
    }
    for entity in &in_a.linked_entities {
        assert!(a.entities.values().any(|id| *id == entity.id), "{entity:?}");
    }
    for foreign in ["Paris", "Rome", "Tom"] {
        assert!(
            !in_a.context.contains(foreign),
            "{foreign} leaked:\n{}",
            in_a.context
        );
    }

    // The other scopes' data is what each retriever finds there.
    for (loaded, city, fact) in [
        (&b, "Paris", "fact: Alice's cat Tom is vegan"),
        (&c, "Rome", "fact: Alice's cat is named Tom"),
    ] {
        let result = search(&loaded.scope).await.unwrap();
        let got = lines(&result);
        for want in [
            format!("Alice LIVES_IN {city} via entities"),
            format!("Alice LIVES_IN {city} via triplets"),
            fact.to_owned(),
        ] {
            assert!(got.contains(&want), "{want} in {got:#?}");
        }
        assert!(!result.context.contains("Lisbon"), "{}", result.context);
        for hit in &result.relations {
            assert_eq!(hit.view.relation.scope, loaded.scope);
        }
    }
}

#[tokio::test]
async fn bad_requests_are_refused() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("bad");
    type Change = fn(&mut SearchRequest);
    let cases: [(&str, Change); 6] = [
        ("depth 0", |r| r.depth = 0),
        ("depth 4", |r| r.depth = 4),
        ("limit 0", |r| r.limit = 0),
        ("limit 101", |r| r.limit = 101),
        ("empty query", |r| r.query = "  ".into()),
        ("llm entities without an LLM", |r| {
            r.query_entities = QueryEntities::Llm
        }),
    ];
    for (name, change) in cases {
        let mut request = SearchRequest::new(scope.clone(), "Where does Alice live?");
        change(&mut request);
        let err = h.memory.search(request).await.unwrap_err();
        match (name, err) {
            ("llm entities without an LLM", MemoryError::LlmNotConfigured) => {}
            (_, MemoryError::Invalid(ValidationError::Request(message))) => {
                assert!(!message.is_empty(), "{name}")
            }
            (name, other) => panic!("{name}: {other:?}"),
        }
    }
    // Depth 1 and 3 are fine, and an empty scope answers nothing.
    for depth in [1, 3] {
        let mut request = SearchRequest::new(scope.clone(), "Where does Alice live?");
        request.depth = depth;
        let result = h.memory.search(request).await.unwrap();
        assert_eq!(result, SearchResult::default());
    }
}

#[tokio::test]
async fn the_query_path_calls_no_llm_unless_asked() {
    let h = harness().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let query = "where is she living these days";
    let lexical = h
        .memory
        .search(SearchRequest::new(loaded.scope.clone(), query))
        .await
        .unwrap();
    assert!(
        h.llm().requests().is_empty(),
        "lexical search called the LLM"
    );
    assert!(
        lexical.linked_entities.is_empty(),
        "{:?}",
        lexical.linked_entities
    );

    h.llm()
        .on("extract_entities")
        .containing(query)
        .once()
        .reply(Reply::json(
            json!({"entities": [{"name": "Alice", "type": "Person"}]}),
        ));
    let mut request = SearchRequest::new(loaded.scope.clone(), query);
    request.query_entities = QueryEntities::Llm;
    let with_llm = h.memory.search(request).await.unwrap();
    assert_eq!(h.llm().calls("extract_entities"), 1);
    assert_eq!(h.llm().requests().len(), 1);
    assert_eq!(with_llm.linked_entities[0].name, "Alice");
    assert!(
        lines(&with_llm).contains(&"Alice LIVES_IN Lisbon via entities".to_owned()),
        "{:#?}",
        lines(&with_llm)
    );
}

/// The query is embedded alone (no padding to a longer batch-mate); a noun phrase only
/// when lexical linking left it unexplained, in a second call of just those phrases.
#[tokio::test]
async fn a_query_is_embedded_alone_and_phrases_only_when_unexplained() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let recording = Watching::new(std::time::Duration::ZERO);
    let memory = recording.memory(&h, MemorySettings::default());
    let search = |query: &'static str| {
        let (memory, scope) = (&memory, loaded.scope.clone());
        async move {
            let result = memory
                .search(SearchRequest::new(scope, query))
                .await
                .unwrap();
            assert!(!result.relations.is_empty(), "{query}");
            result
        }
    };
    // Every name the query holds links lexically: one call, the query alone.
    for query in ["Where does Alice live?", "jazz"] {
        search(query).await;
        assert_eq!(recording.take(), vec![vec![query.to_owned()]], "{query}");
    }
    // "Alyce" names nothing lexically: it is embedded after the query, with the other
    // phrases (with no lexical link, every phrase is compared).
    let query = "Where does Alyce live?";
    search(query).await;
    let calls = recording.take();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], vec![query.to_owned()]);
    assert!(
        calls[1].iter().any(|t| t.to_lowercase().contains("alyce"))
            && !calls[1].contains(&query.to_owned()),
        "{calls:?}"
    );
}

/// At most `max_concurrent_searches` searches run at once; the rest wait their turn and
/// still answer. Every query here links lexically, so a search embeds once (see above).
#[tokio::test]
async fn searches_past_the_limit_wait_their_turn() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    for limit in [2, 6] {
        let counting = Watching::new(std::time::Duration::from_millis(40));
        let settings = MemorySettings {
            max_concurrent_searches: limit,
            ..MemorySettings::default()
        };
        let memory = counting.memory(&h, settings);
        let searches = (0..6).map(|_| {
            memory.search(SearchRequest::new(
                loaded.scope.clone(),
                "Where does Alice live?",
            ))
        });
        for result in futures_util::future::join_all(searches).await {
            assert!(!result.unwrap().relations.is_empty());
        }
        let most = counting.most.load(SeqCst);
        assert_eq!(most, limit, "limit {limit}");
    }
}

/// A search waiting for the LLM to name the query's entities holds no turn: with one
/// search at a time, a lexical search still answers while the LLM takes its time.
#[tokio::test]
async fn a_search_waiting_for_the_llm_holds_no_turn() {
    let settings = MemorySettings {
        max_concurrent_searches: 1,
        ..MemorySettings::default()
    };
    let h = crate::support::harness_with(settings, true).await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let slow = std::time::Duration::from_secs(3);
    h.llm()
        .on("extract_entities")
        .once()
        .reply(Reply::json(json!({"entities": [{"name": "Alice", "type": "Person"}]})).after(slow));
    let mut with_llm = SearchRequest::new(loaded.scope.clone(), "where is she living");
    with_llm.query_entities = QueryEntities::Llm;
    let waiting = h.memory.search(with_llm);
    let lexical = async {
        // Once the LLM search is under way.
        while h.llm().requests().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let result = h
            .memory
            .search(SearchRequest::new(
                loaded.scope.clone(),
                "Where does Alice live?",
            ))
            .await
            .unwrap();
        assert!(!result.relations.is_empty());
        std::time::Instant::now()
    };
    let (waited, lexical_done) = tokio::join!(
        async {
            let result = waiting.await.unwrap();
            (result, std::time::Instant::now())
        },
        lexical
    );
    let (result, llm_done) = waited;
    assert_eq!(result.linked_entities[0].name, "Alice");
    assert!(
        lexical_done < llm_done,
        "the lexical search waited for the LLM's"
    );
}

/// After a crash between the graph write and the vector write, the vector payload says a
/// relation is current (or exists) when the graph says otherwise: the graph wins.
#[tokio::test]
async fn a_lagging_vector_payload_never_resurrects_a_relation() {
    let h = harness_without_llm().await;
    let loaded = load(&h, &fresh_scope("alice"), &alice()).await;
    let scope = &loaded.scope;
    let acme = loaded.relations["Alice WORKS_AT Acme"];
    let ended = date(2025, 1, 1);
    h.store
        .apply(
            scope,
            vec![WriteOp::EndRelation {
                relation: acme,
                valid_to: ended,
                invalidated_at: Some(ended),
                invalidated_by: None,
                episode: None,
            }],
        )
        .await
        .unwrap();
    // A vector whose relation was never written (or was deleted since).
    let ghost = RelationId::new();
    let vector = embedder()
        .embed(vec!["Alice works at Globex".into()])
        .await
        .unwrap()
        .remove(0);
    h.store
        .upsert_relation_vectors(&[RelationVector {
            id: ghost,
            scope: scope.clone(),
            times: RelationTimes {
                valid_from: None,
                valid_to: None,
                recorded_at: recorded(),
                invalidated_at: None,
                retracted_at: None,
            },
            vector,
        }])
        .await
        .unwrap();

    let result = h
        .memory
        .search(SearchRequest::new(scope.clone(), "Where does Alice work?"))
        .await
        .unwrap();
    let ids: Vec<RelationId> = result
        .relations
        .iter()
        .map(|h| h.view.relation.id)
        .collect();
    assert!(!ids.contains(&acme), "{:#?}", lines(&result));
    assert!(!ids.contains(&ghost));
    assert!(!result.relations.is_empty());
    // Before the end it is still found, by both graph retrievers.
    let mut before = SearchRequest::new(scope.clone(), "Where does Alice work?");
    before.as_of = at(2024, 6, 1);
    before.known_at = at(2024, 6, 1);
    let before = h.memory.search(before).await.unwrap();
    let got = lines(&before);
    assert!(
        got.contains(&"Alice WORKS_AT Acme via triplets".to_owned()),
        "{got:#?}"
    );
}

/// A hub's relations are read a bounded number at a time: the walk never loads all 300 of
/// Alice's acquaintances, and what it leaves out is still found by the vector retriever.
#[tokio::test]
async fn a_hub_is_walked_within_bounds() {
    let h = harness_without_llm().await;
    let mut relations: Vec<_> = (0..300)
        .map(|i| {
            rel(
                format!("Alice:Person KNOWS Friend{i}:Person"),
                format!("Alice knows Friend{i}"),
            )
        })
        .collect();
    relations.push(
        rel(
            "Alice:Person WORKS_AT Acme:Organization",
            "Alice works at Acme",
        )
        .recorded(date(2024, 2, 1)),
    );
    relations.push(
        rel(
            "Acme:Organization HEADQUARTERED_IN Berlin:City",
            "Acme is headquartered in Berlin",
        )
        .recorded(date(2024, 2, 1)),
    );
    let fixture = Fixture {
        relations,
        ..Fixture::default()
    };
    let loaded = load(&h, &fresh_scope("hub"), &fixture).await;

    let mut request = SearchRequest::new(loaded.scope.clone(), "Where does Alice work?");
    request.depth = 3;
    let result = h.memory.search(request).await.unwrap();
    let got = lines(&result);
    // The newest of Alice's 301 relations is past what the walk reads of her...
    assert!(
        got.contains(&"Alice WORKS_AT Acme via triplets".to_owned()),
        "{got:#?}"
    );
    assert!(
        !got.contains(&"Alice WORKS_AT Acme via entities".to_owned()),
        "{got:#?}"
    );
    // ...while the walk still brings her oldest acquaintances.
    assert!(
        got.contains(&"Alice KNOWS Friend0 via entities".to_owned()),
        "{got:#?}"
    );
    assert_eq!(result.linked_entities[0].name, "Alice");

    // The subgraph shows all of a hub's relations up to its cap.
    let now = mnemo_core::Visibility::now();
    let around = h
        .memory
        .subgraph(&loaded.scope, "Alice", 1, now)
        .await
        .unwrap();
    assert_eq!(
        around.edges.len(),
        302 - 1,
        "Acme's headquarters is two hops away"
    );
    assert_eq!(around.nodes.len(), 302);
    let wider = h
        .memory
        .subgraph(&loaded.scope, "Alice", 2, now)
        .await
        .unwrap();
    assert_eq!(wider.edges.len(), 302);
}

/// A query naming a period prefers what was said in it, whichever order the sessions
/// arrived in: two near-identical messages, one said in May and one in July.
#[tokio::test]
async fn a_named_month_prefers_the_messages_said_then_in_any_arrival_order() {
    let h = harness_without_llm().await;
    let sessions = [
        ("2023-05-10T12:00:00Z", "We went hiking with the kids."),
        (
            "2023-07-15T12:00:00Z",
            "We went hiking with the kids again.",
        ),
    ];
    for order in [[0, 1], [1, 0]] {
        let scope = fresh_scope("hiker");
        for i in order {
            let (said_at, text) = sessions[i];
            let request = mnemo_core::write::AddRequest {
                scope: scope.clone(),
                messages: vec![mnemo_core::llm::ChatMessage {
                    role: "user".into(),
                    content: text.into(),
                }],
                occurred_at: Some(said_at.parse().unwrap()),
                metadata: json!({}),
                infer: false,
                idempotency_key: None,
            };
            h.memory.add(request).await.unwrap();
        }
        let first = |query: &'static str| {
            let memory = &h.memory;
            let scope = scope.clone();
            async move {
                let result = memory
                    .search(SearchRequest::new(scope, query))
                    .await
                    .unwrap();
                result.facts.first().map(|hit| hit.fact.text.clone())
            }
        };
        for (query, expected) in [
            (
                "When did we go hiking with the kids in July 2023?",
                sessions[1].1,
            ),
            ("Did we go hiking with the kids in May?", sessions[0].1),
        ] {
            assert_eq!(
                first(query).await.as_deref(),
                Some(expected),
                "{query} (arrival order {order:?})"
            );
        }
    }
}
