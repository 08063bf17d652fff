//! Facts: put, update and delete with their history, listing order and paging, full-text
//! search over fact text.

use mnemo_core::ports::{FactPut, Page, Scored};
use mnemo_core::{EpisodeId, Fact, FactEvent, FactEventKind};

use super::{LISTING, ok, or_empty};
use crate::ContractStore;
use crate::fixtures::{self, axis, day, fact_event, unit, user_scope};

/// Put, update (same id, new text and vector) and delete a fact: reads follow, and the
/// history keeps the three events, also after the deletion.
pub async fn fact_put_update_delete_keeps_history<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let tea = fixtures::fact(&scope, "Alice likes tea", 1);
    let add = fact_event(&tea, FactEventKind::Add, None, 1);
    ok(store.put_fact(&tea, &axis(0), &add).await, "put_fact");
    assert_eq!(
        ok(store.fact(&scope, tea.id).await, "fact"),
        Some(tea.clone()),
        "fact() must return the fact as put"
    );

    let coffee = Fact {
        text: "Alice likes coffee".to_owned(),
        updated_at: day(2),
        episodes: vec![EpisodeId::new()],
        ..tea.clone()
    };
    let update = fact_event(&coffee, FactEventKind::Update, Some(&tea.text), 2);
    ok(store.put_fact(&coffee, &axis(1), &update).await, "put_fact");
    assert_eq!(
        ok(store.fact(&scope, tea.id).await, "fact"),
        Some(coffee.clone()),
        "after the update, fact() must return the new version"
    );
    assert_eq!(
        ok(store.facts(&scope, LISTING).await, "facts"),
        vec![coffee.clone()],
        "after the update, facts() must list one fact"
    );
    let near = ok(
        store.search_facts(&scope, &axis(1), 10).await,
        "search_facts",
    );
    assert_eq!(
        near.iter().map(|h| h.item.id).collect::<Vec<_>>(),
        vec![tea.id],
        "after the update, search_facts must return the fact once"
    );
    assert!(
        (near[0].score - 1.0).abs() < 1e-3,
        "after the update, the fact's vector must be the new one: score {}",
        near[0].score
    );
    for (query, found) in [("coffee", true), ("tea", false)] {
        let hits = ok(
            store.search_facts_text(&scope, query, 10).await,
            "search_facts_text",
        );
        assert_eq!(
            !hits.is_empty(),
            found,
            "after the update, search_facts_text({query:?}) must follow the new text: {hits:?}"
        );
    }

    let delete = FactEvent {
        fact_id: tea.id,
        event: FactEventKind::Delete,
        old_text: Some(coffee.text.clone()),
        new_text: None,
        at: day(3),
        episode: Some(EpisodeId::new()),
    };
    ok(
        store.delete_fact(&scope, tea.id, &delete).await,
        "delete_fact",
    );
    assert_eq!(
        ok(store.fact(&scope, tea.id).await, "fact"),
        None,
        "a deleted fact must be gone from fact()"
    );
    assert_eq!(
        ok(store.facts(&scope, LISTING).await, "facts"),
        Vec::<Fact>::new(),
        "a deleted fact must be gone from facts()"
    );
    assert!(
        ok(
            store.search_facts(&scope, &axis(1), 10).await,
            "search_facts"
        )
        .is_empty(),
        "a deleted fact must be gone from search_facts"
    );
    assert!(
        ok(
            store.search_facts_text(&scope, "coffee", 10).await,
            "search_facts_text"
        )
        .is_empty(),
        "a deleted fact must be gone from search_facts_text"
    );
    assert_eq!(
        or_empty(store.fact_history(&scope, tea.id).await, "fact_history"),
        vec![add, update, delete],
        "fact_history must keep ADD, UPDATE, DELETE in order after the deletion"
    );
}

/// `facts()` is newest first (by creation) and pages without overlap.
pub async fn facts_listing_is_newest_first_and_paged<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    // Put out of order: the listing orders by age, not insertion.
    for d in [3, 1, 4, 2] {
        let f = fixtures::fact(&scope, &format!("fact of day {d}"), d);
        ok(
            store
                .put_fact(
                    &f,
                    &unit(u64::from(d)),
                    &fact_event(&f, FactEventKind::Add, None, d),
                )
                .await,
            "put_fact",
        );
    }
    let texts = |facts: Vec<Fact>| facts.into_iter().map(|f| f.text).collect::<Vec<_>>();
    let cases: &[(usize, usize, &[&str])] = &[
        (
            10,
            0,
            &[
                "fact of day 4",
                "fact of day 3",
                "fact of day 2",
                "fact of day 1",
            ],
        ),
        (2, 0, &["fact of day 4", "fact of day 3"]),
        (2, 1, &["fact of day 3", "fact of day 2"]),
        (2, 3, &["fact of day 1"]),
        (2, 4, &[]),
    ];
    for (limit, offset, expected) in cases {
        let page = Page {
            limit: *limit,
            offset: *offset,
        };
        assert_eq!(
            texts(ok(store.facts(&scope, page).await, "facts")),
            *expected,
            "facts(limit {limit}, offset {offset}): newest first"
        );
    }
}

/// Full-text search over fact text: case-insensitive, word-based with words matched by
/// their English stem ("played" finds "plays", "move" finds "moved"), best first, cut to
/// `k`; query syntax characters are plain text, a blank query finds nothing.
pub async fn fact_text_search_matches_words<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let texts = [
        "Alice is vegetarian",
        "Bob plays chess on Sundays",
        "Carol moved to Boston",
        "Dan drinks green tea",
        "Erin drinks black tea",
        "Frank sells tea",
    ];
    for (i, text) in texts.iter().enumerate() {
        let f = fixtures::fact(&scope, text, 1);
        ok(
            store
                .put_fact(
                    &f,
                    &unit(i as u64),
                    &fact_event(&f, FactEventKind::Add, None, 1),
                )
                .await,
            "put_fact",
        );
    }
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("vegetarian", Some(&["Alice is vegetarian"])),
        ("CHESS", Some(&["Bob plays chess on Sundays"])),
        ("boston", Some(&["Carol moved to Boston"])),
        ("chess)", Some(&["Bob plays chess on Sundays"])),
        ("played", Some(&["Bob plays chess on Sundays"])),
        ("Sunday", Some(&["Bob plays chess on Sundays"])),
        ("move", Some(&["Carol moved to Boston"])),
        (
            "drinking",
            Some(&["Dan drinks green tea", "Erin drinks black tea"]),
        ),
        ("piano", Some(&[])),
        ("  ", Some(&[])),
        ("", Some(&[])),
        ("\"tea\" OR (", None),
        ("text:tea AND [", None),
    ];
    for (query, expected) in cases {
        let hits = match store.search_facts_text(&scope, query, 10).await {
            Ok(hits) => hits,
            Err(err) => panic!("search_facts_text({query:?}) must not fail: {err:?}"),
        };
        if let Some(expected) = expected {
            assert_eq!(
                sorted_texts(&hits),
                *expected,
                "search_facts_text({query:?})"
            );
        }
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "search_facts_text({query:?}) must be best first: {hits:?}"
        );
    }
    let tea = ok(
        store.search_facts_text(&scope, "tea", 2).await,
        "search_facts_text",
    );
    assert_eq!(
        tea.len(),
        2,
        "search_facts_text(\"tea\", k = 2) with three matches must return 2: {tea:?}"
    );
    assert!(
        tea.iter().all(|h| h.item.text.ends_with("tea")),
        "search_facts_text(\"tea\", k = 2) must return tea facts: {tea:?}"
    );
}

fn sorted_texts(hits: &[Scored<Fact>]) -> Vec<&str> {
    let mut t: Vec<&str> = hits.iter().map(|h| h.item.text.as_str()).collect();
    t.sort_unstable();
    t
}

/// `put_facts` writes each fact with its vector and history event, as `put_fact` would;
/// a fact listed again in a later call is replaced, its history growing.
pub async fn put_facts_writes_each_fact_with_its_event<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let tea = fixtures::fact(&scope, "Alice likes tea", 1);
    let cello = fixtures::fact(&scope, "Alice plays the cello", 2);
    let puts: Vec<FactPut> = [(&tea, 0), (&cello, 1)]
        .into_iter()
        .map(|(fact, axis_at)| FactPut {
            fact: fact.clone(),
            vector: axis(axis_at),
            event: fact_event(fact, FactEventKind::Add, None, 1),
        })
        .collect();
    ok(store.put_facts(&puts).await, "put_facts");
    for (fact, axis_at) in [(&tea, 0), (&cello, 1)] {
        assert_eq!(
            ok(store.fact(&scope, fact.id).await, "fact"),
            Some(fact.clone()),
            "put_facts must store {:?} as given",
            fact.text
        );
        let near = ok(
            store.search_facts(&scope, &axis(axis_at), 1).await,
            "search_facts",
        );
        assert_eq!(
            near.first().map(|h| h.item.id),
            Some(fact.id),
            "{:?} must be found by its vector",
            fact.text
        );
        assert_eq!(
            ok(store.fact_history(&scope, fact.id).await, "fact_history").len(),
            1,
            "one event for {:?}",
            fact.text
        );
    }
    let coffee = Fact {
        text: "Alice likes coffee".to_owned(),
        updated_at: day(2),
        ..tea.clone()
    };
    let update = FactPut {
        fact: coffee.clone(),
        vector: axis(2),
        event: fact_event(&coffee, FactEventKind::Update, Some(&tea.text), 2),
    };
    ok(store.put_facts(&[update]).await, "put_facts");
    assert_eq!(
        ok(store.fact(&scope, tea.id).await, "fact"),
        Some(coffee),
        "a later put_facts replaces the fact"
    );
    assert_eq!(
        ok(store.fact_history(&scope, tea.id).await, "fact_history").len(),
        2,
        "and adds its event"
    );
    ok(store.put_facts(&[]).await, "put_facts of nothing");
}
