//! What reverting an episode reads and writes: removing provenance, deleting entities,
//! an episode's footprint (stated, ended, mentioned), the fact events it caused, and
//! erasing a scope with all of that.

use mnemo_core::ports::{EpisodeInsert, Footprint, WriteOp};
use mnemo_core::{
    Entity, EntityId, EpisodeId, FactEvent, FactEventKind, RelationId, Scope, ScopeSummary,
    StoreError,
};

use super::{LISTING, apply, apply_not_found, erase, ok, or_empty};
use crate::ContractStore;
use crate::fixtures::{
    self, day, entity, fact_event, graph_to_text, later, relation, since, unit, user_scope, walk,
};

/// Journals an episode of `scope` ingested on `day(ingested)`.
async fn journaled<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    text: &str,
    ingested: u32,
) -> EpisodeId {
    let episode = fixtures::episode(scope, text, ingested, None);
    assert_eq!(
        ok(store.insert_episode(&episode).await, "insert_episode"),
        EpisodeInsert::Inserted,
        "insert_episode({text:?})"
    );
    episode.id
}

/// `(mentions, episodes)` of a relation that must exist.
async fn provenance<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    id: RelationId,
) -> (u32, Vec<EpisodeId>) {
    let r = ok(store.relation(scope, id).await, "relation")
        .unwrap_or_else(|| panic!("relation {id} must exist"));
    (r.mentions, r.episodes)
}

/// A footprint with every list sorted by id, so backends may return any order.
fn sorted(mut f: Footprint) -> Footprint {
    f.stated.sort_by_key(|r| r.id);
    f.ended.sort_by_key(|r| r.id);
    f.mentioned.sort();
    f
}

async fn footprint<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    episode: EpisodeId,
) -> Footprint {
    sorted(ok(
        store.episode_footprint(scope, episode).await,
        "episode_footprint",
    ))
}

/// The footprint expected from the relations' ids as they are stored now.
async fn expected_footprint<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    stated: &[RelationId],
    ended: &[RelationId],
    mentioned: &[EntityId],
) -> Footprint {
    let mut load = Vec::new();
    for ids in [stated, ended] {
        let mut relations = Vec::new();
        for id in ids {
            let r = ok(store.relation(scope, *id).await, "relation")
                .unwrap_or_else(|| panic!("test bug: relation {id} must exist"));
            relations.push(r);
        }
        load.push(relations);
    }
    let ended = load.pop().unwrap_or_default();
    let stated = load.pop().unwrap_or_default();
    sorted(Footprint {
        stated,
        ended,
        mentioned: mentioned.to_vec(),
        aliases: Vec::new(),
    })
}

/// `RemoveProvenance` undoes `AddProvenance`: one mention less per op but never below 1, the
/// episode out of the provenance (and out of the episode's footprint); `NotFound` for a
/// missing relation.
pub async fn remove_provenance_round_trip_and_floor<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let e1 = journaled(store, &scope, "alice knows bob", 1).await;
    let e2 = journaled(store, &scope, "alice knows bob, again", 2).await;
    let alice = entity(&scope, "Alice", "Person", unit(1));
    let bob = entity(&scope, "Bob", "Person", unit(2));
    let mut knows = relation(
        &scope,
        alice.id,
        "KNOWS",
        bob.id,
        "Alice knows Bob",
        since(1, 1),
    );
    knows.episodes = vec![e1];
    apply(
        store,
        &scope,
        vec![
            WriteOp::UpsertEntity(alice),
            WriteOp::UpsertEntity(bob),
            WriteOp::AddRelation(knows.clone()),
        ],
        "seed alice knows bob (stated by e1)",
    )
    .await;
    let add = |episode| WriteOp::AddProvenance {
        relation: knows.id,
        episode,
    };
    let remove = |episode| WriteOp::RemoveProvenance {
        relation: knows.id,
        episode,
    };
    // (what, ops, mentions, provenance, relations in e2's footprint)
    let steps = [
        (
            "AddProvenance(e2) twice",
            vec![add(e2), add(e2)],
            3,
            vec![e1, e2],
            vec![knows.id],
        ),
        (
            "RemoveProvenance(e2)",
            vec![remove(e2)],
            2,
            vec![e1],
            vec![],
        ),
        (
            "AddProvenance(e2) again",
            vec![add(e2)],
            3,
            vec![e1, e2],
            vec![knows.id],
        ),
        (
            "RemoveProvenance(e1), the oldest",
            vec![remove(e1)],
            2,
            vec![e2],
            vec![knows.id],
        ),
        (
            "RemoveProvenance(e2) twice in one batch: floor at 1",
            vec![remove(e2), remove(e2)],
            1,
            vec![],
            vec![],
        ),
        (
            "RemoveProvenance(e1) at 1 mention: stays 1",
            vec![remove(e1)],
            1,
            vec![],
            vec![],
        ),
    ];
    for (what, ops, mentions, episodes, stated) in steps {
        apply(store, &scope, ops, what).await;
        assert_eq!(
            provenance(store, &scope, knows.id).await,
            (mentions, episodes),
            "after {what}: (mentions, episodes)"
        );
        let got: Vec<RelationId> = footprint(store, &scope, e2)
            .await
            .stated
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            got, stated,
            "after {what}: e2's footprint, stated relations"
        );
    }
    apply_not_found(
        store,
        &scope,
        vec![WriteOp::RemoveProvenance {
            relation: RelationId::new(),
            episode: e1,
        }],
        "RemoveProvenance from a missing relation",
    )
    .await;
    apply_not_found(
        store,
        &user_scope(),
        vec![remove(e1)],
        "RemoveProvenance from a relation of another scope",
    )
    .await;
}

/// Ids of the entities a listing returns.
fn ids<'a>(entities: impl IntoIterator<Item = &'a Entity>) -> Vec<EntityId> {
    entities.into_iter().map(|e| e.id).collect()
}

/// `DeleteEntity` of each endpoint of a `what` relation must be a `Conflict`.
async fn delete_refused<S: ContractStore + ?Sized>(
    store: &S,
    scope: &Scope,
    endpoints: [(&str, EntityId); 2],
    what: &str,
) {
    for (role, entity) in endpoints {
        match store
            .apply(scope, vec![WriteOp::DeleteEntity { entity }])
            .await
        {
            Err(StoreError::Conflict(_)) => {}
            other => panic!(
                "DeleteEntity of the {role} of a {what} relation: expected Err(Conflict), \
                 got {other:?}"
            ),
        }
    }
}

/// `DeleteEntity` is a `Conflict` while any relation — current, ended or retracted — has
/// the entity as source or target; once the relation is deleted it removes the entity from
/// every read (by id, name, alias, listing, text and vector search, walk, footprint) and
/// frees its names; again it is `NotFound`.
pub async fn delete_entity_refused_while_a_relation_touches_it<S: ContractStore + ?Sized>(
    store: &S,
) {
    let scope = user_scope();
    let episode = journaled(store, &scope, "alice lives in boston", 1).await;
    let alice = entity(&scope, "Alice", "Person", unit(1));
    let mut boston = entity(&scope, "Boston", "City", unit(2));
    boston.aliases = vec!["beantown".to_owned()];
    let lives = relation(
        &scope,
        alice.id,
        "LIVES_IN",
        boston.id,
        "Alice lives in Boston",
        since(1, 1),
    );
    apply(
        store,
        &scope,
        vec![
            WriteOp::UpsertEntity(alice.clone()),
            WriteOp::UpsertEntity(boston.clone()),
            WriteOp::AddRelation(lives.clone()),
            WriteOp::Mention {
                episode,
                entity: alice.id,
            },
            WriteOp::Mention {
                episode,
                entity: boston.id,
            },
        ],
        "seed alice lives in boston",
    )
    .await;
    let endpoints = [("target", boston.id), ("source", alice.id)];
    delete_refused(store, &scope, endpoints, "current").await;
    apply(
        store,
        &scope,
        vec![WriteOp::EndRelation {
            relation: lives.id,
            valid_to: day(5),
            invalidated_at: Some(day(5)),
            invalidated_by: None,
            episode: None,
        }],
        "end lives",
    )
    .await;
    delete_refused(store, &scope, endpoints, "ended").await;
    apply(
        store,
        &scope,
        vec![WriteOp::RetractRelation {
            relation: lives.id,
            retracted_at: day(6),
            episode: None,
        }],
        "retract lives",
    )
    .await;
    delete_refused(store, &scope, endpoints, "retracted").await;
    assert_eq!(
        ok(
            store.entity_by_name(&scope, "beantown").await,
            "entity_by_name"
        ),
        Some(boston.clone()),
        "a refused DeleteEntity must leave the entity as it was"
    );

    apply(
        store,
        &scope,
        vec![
            WriteOp::DeleteRelation { relation: lives.id },
            WriteOp::DeleteEntity { entity: boston.id },
        ],
        "delete the relation, then the entity, in one batch",
    )
    .await;
    let what = "after DeleteEntity(boston)";
    assert_eq!(
        ok(store.entity(&scope, boston.id).await, "entity"),
        None,
        "{what}: entity()"
    );
    for name in ["boston", "Boston", "beantown"] {
        assert_eq!(
            ok(store.entity_by_name(&scope, name).await, "entity_by_name"),
            None,
            "{what}: entity_by_name({name:?})"
        );
    }
    assert_eq!(
        ids(&ok(store.entities(&scope, LISTING).await, "entities")),
        vec![alice.id],
        "{what}: entities()"
    );
    for query in ["boston", "beantown"] {
        let hits = ok(
            store.search_entities_text(&scope, query, 10).await,
            "search_entities_text",
        );
        assert!(
            hits.is_empty(),
            "{what}: search_entities_text({query:?}) returned {hits:?}"
        );
    }
    let near = ok(
        store.search_entities_vector(&scope, &unit(2), 10).await,
        "search_entities_vector",
    );
    assert_eq!(
        ids(near.iter().map(|h| &h.item)),
        vec![alice.id],
        "{what}: search_entities_vector must return only alice"
    );
    assert_eq!(
        graph_to_text(&ok(
            walk(store, &scope, &[alice.id, boston.id], 2, later()).await,
            "walk"
        )),
        "entities: alice\n",
        "{what}: walk() from both must reach alice alone"
    );
    assert_eq!(
        footprint(store, &scope, episode).await.mentioned,
        vec![alice.id],
        "{what}: the episode's footprint must no longer mention boston"
    );
    apply_not_found(
        store,
        &scope,
        vec![WriteOp::DeleteEntity { entity: boston.id }],
        "DeleteEntity of a deleted entity",
    )
    .await;
    apply_not_found(
        store,
        &user_scope(),
        vec![WriteOp::DeleteEntity { entity: alice.id }],
        "DeleteEntity of an entity of another scope",
    )
    .await;

    let mut again = entity(&scope, "Boston", "City", unit(3));
    again.aliases = vec!["beantown".to_owned()];
    apply(
        store,
        &scope,
        vec![WriteOp::UpsertEntity(again.clone())],
        "a new entity named like the deleted one (its names are free)",
    )
    .await;
    assert_eq!(
        ok(
            store.entity_by_name(&scope, "beantown").await,
            "entity_by_name"
        ),
        Some(again),
        "the deleted entity's alias must resolve to the new entity"
    );
}

/// `episode_footprint` lists the relations whose provenance holds the episode (also a
/// restatement), the relations it ended or retracted, and the entities it mentions —
/// nothing of another episode or scope — and follows later writes.
pub async fn episode_footprint_lists_stated_ended_and_mentioned<S: ContractStore + ?Sized>(
    store: &S,
) {
    let scope = user_scope();
    let other = user_scope();
    let e1 = journaled(store, &scope, "alice lives in boston, works at acme", 1).await;
    let e2 = journaled(store, &scope, "alice moved to nyc, never knew bob", 2).await;
    let e = |name: &str, i| entity(&scope, name, "Thing", unit(i));
    let (alice, boston, nyc, acme, bob) = (
        e("alice", 1),
        e("boston", 2),
        e("nyc", 3),
        e("acme", 4),
        e("bob", 5),
    );
    let rel = |s: &Entity, kind, t: &Entity, recorded, episode| {
        let mut r = relation(
            &scope,
            s.id,
            kind,
            t.id,
            &format!("{} {kind} {}", s.name, t.name),
            since(recorded, recorded),
        );
        r.episodes = vec![episode];
        r
    };
    let lives = rel(&alice, "LIVES_IN", &boston, 1, e1);
    let works = rel(&alice, "WORKS_AT", &acme, 1, e1);
    let knows = rel(&alice, "KNOWS", &bob, 1, e1);
    let moved = rel(&alice, "LIVES_IN", &nyc, 2, e2);
    let mut ops: Vec<WriteOp> = [&alice, &boston, &nyc, &acme, &bob]
        .into_iter()
        .cloned()
        .map(WriteOp::UpsertEntity)
        .collect();
    for r in [&lives, &works, &knows] {
        ops.push(WriteOp::AddRelation(r.clone()));
    }
    for entity in [alice.id, boston.id, acme.id] {
        ops.push(WriteOp::Mention {
            episode: e1,
            entity,
        });
    }
    apply(store, &scope, ops, "episode 1").await;
    apply(
        store,
        &scope,
        vec![
            WriteOp::AddRelation(moved.clone()),
            WriteOp::EndRelation {
                relation: lives.id,
                valid_to: day(2),
                invalidated_at: Some(day(2)),
                invalidated_by: Some(moved.id),
                episode: Some(e2),
            },
            WriteOp::RetractRelation {
                relation: knows.id,
                retracted_at: day(2),
                episode: Some(e2),
            },
            WriteOp::AddProvenance {
                relation: works.id,
                episode: e2,
            },
            WriteOp::Mention {
                episode: e2,
                entity: alice.id,
            },
            WriteOp::Mention {
                episode: e2,
                entity: nyc.id,
            },
        ],
        "episode 2",
    )
    .await;
    // Another scope: a relation whose provenance names e2's id, ended "in" its own episode.
    let o1 = journaled(store, &other, "someone else", 2).await;
    let (x, y) = (
        entity(&other, "x", "Thing", unit(6)),
        entity(&other, "y", "Thing", unit(7)),
    );
    let mut foreign = relation(&other, x.id, "LINKS", y.id, "x links y", since(2, 2));
    foreign.episodes = vec![e2, o1];
    apply(
        store,
        &other,
        vec![
            WriteOp::UpsertEntity(x.clone()),
            WriteOp::UpsertEntity(y),
            WriteOp::AddRelation(foreign.clone()),
            WriteOp::EndRelation {
                relation: foreign.id,
                valid_to: day(3),
                invalidated_at: Some(day(3)),
                invalidated_by: None,
                episode: Some(o1),
            },
            WriteOp::Mention {
                episode: o1,
                entity: x.id,
            },
        ],
        "the other scope",
    )
    .await;

    let cases = [
        (
            "episode 1",
            e1,
            vec![lives.id, works.id, knows.id],
            vec![],
            vec![alice.id, boston.id, acme.id],
        ),
        (
            "episode 2 (a new relation and a restatement; one ended, one retracted)",
            e2,
            vec![moved.id, works.id],
            vec![lives.id, knows.id],
            vec![alice.id, nyc.id],
        ),
        (
            "the other scope's episode, asked in this scope",
            o1,
            vec![],
            vec![],
            vec![],
        ),
        (
            "an unknown episode",
            EpisodeId::new(),
            vec![],
            vec![],
            vec![],
        ),
    ];
    for (what, episode, stated, ended, mentioned) in &cases {
        assert_eq!(
            footprint(store, &scope, *episode).await,
            expected_footprint(store, &scope, stated, ended, mentioned).await,
            "episode_footprint of {what}"
        );
    }
    assert_eq!(
        footprint(store, &other, o1).await,
        expected_footprint(store, &other, &[foreign.id], &[foreign.id], &[x.id]).await,
        "episode_footprint of the other scope's episode in its own scope"
    );

    // Reverting episode 2 step by step: the footprint follows.
    apply(
        store,
        &scope,
        vec![
            WriteOp::RestoreRelation {
                relation: lives.id,
                times: lives.times,
            },
            WriteOp::RemoveProvenance {
                relation: works.id,
                episode: e2,
            },
            WriteOp::DeleteRelation { relation: moved.id },
        ],
        "revert part of episode 2",
    )
    .await;
    assert_eq!(
        footprint(store, &scope, e2).await,
        expected_footprint(store, &scope, &[], &[knows.id], &[alice.id, nyc.id]).await,
        "episode_footprint of episode 2 after restoring lives, removing its provenance of \
         works and deleting moved"
    );
    apply(
        store,
        &scope,
        vec![WriteOp::DeleteEpisode { episode: e2 }],
        "delete episode 2",
    )
    .await;
    assert_eq!(
        footprint(store, &scope, e2).await.mentioned,
        Vec::<EntityId>::new(),
        "a deleted episode mentions nothing"
    );
}

/// `fact_events_of_episode` returns every fact event the episode caused in the scope,
/// oldest first, also of deleted facts; nothing of another episode or scope.
pub async fn fact_events_of_episode_oldest_first<S: ContractStore + ?Sized>(store: &S) {
    let scope = user_scope();
    let other = user_scope();
    let (e1, e2) = (EpisodeId::new(), EpisodeId::new());
    let by = |mut event: FactEvent, episode: Option<EpisodeId>| {
        event.episode = episode;
        event
    };
    let tea = fixtures::fact(&scope, "Alice likes tea", 1);
    let dogs = fixtures::fact(&scope, "Alice has two dogs", 2);
    let coffee = mnemo_core::Fact {
        text: "Alice likes coffee".to_owned(),
        updated_at: day(3),
        ..tea.clone()
    };
    let cats = fixtures::fact(&scope, "Alice has a cat", 5);
    let theirs = fixtures::fact(&other, "Someone else likes tea", 1);

    let tea_added = by(fact_event(&tea, FactEventKind::Add, None, 1), Some(e1));
    let dogs_added = by(fact_event(&dogs, FactEventKind::Add, None, 2), Some(e1));
    let coffee_updated = by(
        fact_event(&coffee, FactEventKind::Update, Some(&tea.text), 3),
        Some(e2),
    );
    let dogs_deleted = by(fact_event(&dogs, FactEventKind::Delete, None, 4), Some(e1));
    let cats_added = by(fact_event(&cats, FactEventKind::Add, None, 5), None);
    let theirs_added = by(fact_event(&theirs, FactEventKind::Add, None, 1), Some(e1));

    for (fact, vector, event) in [
        (&tea, unit(1), &tea_added),
        (&dogs, unit(2), &dogs_added),
        (&coffee, unit(3), &coffee_updated),
        (&cats, unit(4), &cats_added),
        (&theirs, unit(5), &theirs_added),
    ] {
        ok(store.put_fact(fact, &vector, event).await, "put_fact");
    }
    ok(
        store.delete_fact(&scope, dogs.id, &dogs_deleted).await,
        "delete_fact",
    );

    let cases: Vec<(&str, &Scope, EpisodeId, Vec<&FactEvent>)> = vec![
        (
            "e1 (two adds, then a deletion)",
            &scope,
            e1,
            vec![&tea_added, &dogs_added, &dogs_deleted],
        ),
        ("e2 (an update)", &scope, e2, vec![&coffee_updated]),
        ("an unknown episode", &scope, EpisodeId::new(), vec![]),
        ("e1 in the other scope", &other, e1, vec![&theirs_added]),
        ("e2 in the other scope", &other, e2, vec![]),
    ];
    for (what, s, episode, expected) in cases {
        let got = or_empty(
            store.fact_events_of_episode(s, episode).await,
            "fact_events_of_episode",
        );
        let expected: Vec<FactEvent> = expected.into_iter().cloned().collect();
        assert_eq!(
            got, expected,
            "fact_events_of_episode({what}), oldest first"
        );
    }
}

/// Erasing a scope also removes its footprints, fact events by episode, recent episodes
/// and summary; another scope keeps all of them.
pub async fn erase_scope_clears_footprints_fact_events_and_summary<S: ContractStore + ?Sized>(
    store: &S,
) {
    struct Seeded {
        scope: Scope,
        episode: EpisodeId,
        relation: RelationId,
        entity: EntityId,
        event: FactEvent,
        summary: ScopeSummary,
    }
    async fn seed<S: ContractStore + ?Sized>(store: &S, scope: Scope) -> Seeded {
        let episode = journaled(store, &scope, "alice knows bob", 1).await;
        let alice = entity(&scope, "Alice", "Person", unit(1));
        let bob = entity(&scope, "Bob", "Person", unit(2));
        let mut knows = relation(
            &scope,
            alice.id,
            "KNOWS",
            bob.id,
            "Alice knows Bob",
            since(1, 1),
        );
        knows.episodes = vec![episode];
        apply(
            store,
            &scope,
            vec![
                WriteOp::UpsertEntity(alice.clone()),
                WriteOp::UpsertEntity(bob),
                WriteOp::AddRelation(knows.clone()),
                WriteOp::Mention {
                    episode,
                    entity: alice.id,
                },
                WriteOp::EndRelation {
                    relation: knows.id,
                    valid_to: day(2),
                    invalidated_at: Some(day(2)),
                    invalidated_by: None,
                    episode: Some(episode),
                },
            ],
            "seed",
        )
        .await;
        let fact = fixtures::fact(&scope, "Alice knows Bob", 1);
        let mut event = fact_event(&fact, FactEventKind::Add, None, 1);
        event.episode = Some(episode);
        ok(store.put_fact(&fact, &unit(3), &event).await, "put_fact");
        let summary = ScopeSummary {
            scope: scope.clone(),
            text: "Alice knew Bob.".to_owned(),
            through_episode: episode,
            updated_at: day(1),
        };
        ok(store.put_scope_summary(&summary).await, "put_scope_summary");
        Seeded {
            scope,
            episode,
            relation: knows.id,
            entity: alice.id,
            event,
            summary,
        }
    }
    /// (stated, ended, mentioned, fact events, recent episodes, summary) as seen now.
    type View = (
        Vec<RelationId>,
        Vec<RelationId>,
        Vec<EntityId>,
        Vec<FactEvent>,
        Vec<EpisodeId>,
        Option<ScopeSummary>,
    );
    async fn view<S: ContractStore + ?Sized>(store: &S, s: &Seeded) -> View {
        let f = footprint(store, &s.scope, s.episode).await;
        (
            f.stated.iter().map(|r| r.id).collect(),
            f.ended.iter().map(|r| r.id).collect(),
            f.mentioned,
            or_empty(
                store.fact_events_of_episode(&s.scope, s.episode).await,
                "fact_events_of_episode",
            ),
            ok(
                store.recent_episodes(&s.scope, day(100), 10).await,
                "recent_episodes",
            )
            .iter()
            .map(|e| e.id)
            .collect(),
            ok(store.scope_summary(&s.scope).await, "scope_summary"),
        )
    }
    let a = seed(store, user_scope()).await;
    let b = seed(store, user_scope()).await;
    for s in [&a, &b] {
        assert_eq!(
            view(store, s).await,
            (
                vec![s.relation],
                vec![s.relation],
                vec![s.entity],
                vec![s.event.clone()],
                vec![s.episode],
                Some(s.summary.clone()),
            ),
            "test bug: {} must be seeded",
            s.scope
        );
    }
    erase(store, &a.scope).await;
    assert_eq!(
        view(store, &a).await,
        (vec![], vec![], vec![], vec![], vec![], None),
        "after erasing {}: footprint, fact events, recent episodes and summary must be gone",
        a.scope
    );
    assert_eq!(
        view(store, &b).await,
        (
            vec![b.relation],
            vec![b.relation],
            vec![b.entity],
            vec![b.event.clone()],
            vec![b.episode],
            Some(b.summary.clone()),
        ),
        "erasing {} must leave {} intact",
        a.scope,
        b.scope
    );
}
