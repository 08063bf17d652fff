//! Scope isolation: the same world (same names, texts and vectors, different ids) stored in
//! two scopes; every read of one scope returns exactly its own records, every write
//! addressed through the other scope fails or leaves them untouched, and erasing a scope
//! removes it alone.

use std::collections::BTreeSet;

use mnemo_core::ports::{EpisodeInsert, GraphRead, VectorRead, WriteOp};
use mnemo_core::{
    Entity, EntityId, Episode, EpisodeStatus, Fact, FactEvent, FactEventKind, FactId, LlmUsage,
    Relation, RelationId, RelationTimes, Scope, StoreError,
};

use super::{
    LISTING, apply, apply_not_found, by_entity, by_type, erase, nothing_or_not_found, ok, or_empty,
    set,
};
use crate::ContractStore;
use crate::fixtures::{
    self, Walk, day, entity, fact_event, graph_to_text, later, relation, relation_vector, scope,
    since, unique, unit, user_scope, walk,
};

/// One scope's copy of the shared world.
struct World {
    scope: Scope,
    alice: Entity,
    boston: Entity,
    acme: Entity,
    lives: Relation,
    works: Relation,
    episode: Episode,
    fact: Fact,
}

impl World {
    fn entity_ids(&self) -> BTreeSet<EntityId> {
        set([self.alice.id, self.boston.id, self.acme.id])
    }
    fn relation_ids(&self) -> BTreeSet<RelationId> {
        set([self.lives.id, self.works.id])
    }
}

const WALK_FROM_ALICE: &str = "entities: acme, alice smith, boston\n\
    alice smith -[LIVES_IN]-> boston (hop 1)\n\
    alice smith -[WORKS_AT]-> acme (hop 1)\n";

/// Stores the world in `scope`: three entities (Alice has the alias "ally"), two relations
/// with vectors, one episode (idempotency key "seed") mentioning Alice, one fact.
async fn seed_world<S: ContractStore + ?Sized>(store: &S, scope: &Scope) -> World {
    let mut alice = entity(scope, "Alice Smith", "Person", unit(1));
    alice.aliases = vec!["ally".to_owned()];
    let boston = entity(scope, "Boston", "City", unit(2));
    let acme = entity(scope, "Acme", "Organization", unit(3));
    let episode = fixtures::episode(
        scope,
        "Alice Smith lives in Boston and works at Acme",
        1,
        Some("seed"),
    );
    match store.insert_episode(&episode).await {
        Ok(EpisodeInsert::Inserted) => {}
        other => panic!("seed {scope}: insert_episode expected Inserted, got {other:?}"),
    }
    let mut lives = relation(
        scope,
        alice.id,
        "LIVES_IN",
        boston.id,
        "Alice Smith lives in Boston",
        since(1, 2),
    );
    lives.episodes = vec![episode.id];
    let mut works = relation(
        scope,
        alice.id,
        "WORKS_AT",
        acme.id,
        "Alice Smith works at Acme",
        since(1, 2),
    );
    works.episodes = vec![episode.id];
    apply(
        store,
        scope,
        vec![
            WriteOp::UpsertEntity(alice.clone()),
            WriteOp::UpsertEntity(boston.clone()),
            WriteOp::UpsertEntity(acme.clone()),
            WriteOp::AddRelation(lives.clone()),
            WriteOp::AddRelation(works.clone()),
            WriteOp::Mention {
                episode: episode.id,
                entity: alice.id,
            },
        ],
        &format!("seed {scope}"),
    )
    .await;
    ok(
        store
            .upsert_relation_vectors(&[
                relation_vector(&lives, unit(11)),
                relation_vector(&works, unit(12)),
            ])
            .await,
        "seed: upsert_relation_vectors",
    );
    let fact = fixtures::fact(scope, "Alice Smith is vegetarian", 2);
    ok(
        store
            .put_fact(
                &fact,
                &unit(21),
                &fact_event(&fact, FactEventKind::Add, None, 2),
            )
            .await,
        "seed: put_fact",
    );
    World {
        scope: scope.clone(),
        alice,
        boston,
        acme,
        lives,
        works,
        episode,
        fact,
    }
}

/// Every read of `own.scope` returns exactly `own`'s records, never `other`'s.
async fn assert_reads_see_only_own<S: ContractStore + ?Sized>(
    store: &S,
    own: &World,
    other: &World,
) {
    let s = &own.scope;
    let tag = format!(
        "reading scope {{{s}}} while {{{}}} holds the same world",
        other.scope
    );

    // Entities.
    assert_eq!(
        ok(store.entity(s, own.alice.id).await, "entity"),
        Some(own.alice.clone()),
        "{tag}: entity(own alice) must return it unchanged"
    );
    assert_eq!(
        ok(store.entity(s, other.alice.id).await, "entity"),
        None,
        "{tag}: entity(id of the other scope's alice) must be None"
    );
    for name in ["alice smith", "ally"] {
        let got = ok(store.entity_by_name(s, name).await, "entity_by_name");
        assert_eq!(
            got.map(|e| e.id),
            Some(own.alice.id),
            "{tag}: entity_by_name({name:?}) must return this scope's alice"
        );
    }
    let listed = ok(store.entities(s, LISTING).await, "entities");
    assert_eq!(
        set(listed.iter().map(|e| e.id)),
        own.entity_ids(),
        "{tag}: entities() must list exactly this scope's three entities"
    );
    assert!(
        listed.iter().all(|e| e.scope == *s),
        "{tag}: entities() returned an entity of another scope: {listed:?}"
    );
    let text = ok(
        store.search_entities_text(s, "alice", 10).await,
        "search_entities_text",
    );
    assert_eq!(
        set(text.iter().map(|h| h.item.id)),
        set([own.alice.id]),
        "{tag}: search_entities_text(\"alice\") must find only this scope's alice"
    );
    let near = ok(
        store.search_entities_vector(s, &unit(1), 10).await,
        "search_entities_vector",
    );
    assert_eq!(
        set(near.iter().map(|h| h.item.id)),
        own.entity_ids(),
        "{tag}: search_entities_vector must return only (and all) this scope's entities"
    );
    assert_eq!(
        near.first().map(|h| h.item.id),
        Some(own.alice.id),
        "{tag}: search_entities_vector(alice's vector) must rank alice first"
    );

    // Relations.
    assert_eq!(
        ok(store.relation(s, own.lives.id).await, "relation"),
        Some(own.lives.clone()),
        "{tag}: relation(own LIVES_IN) must return it unchanged"
    );
    assert_eq!(
        ok(store.relation(s, other.lives.id).await, "relation"),
        None,
        "{tag}: relation(id of the other scope's LIVES_IN) must be None"
    );
    for visible_at in [None, Some(later())] {
        let got = ok(
            store
                .relations(s, &by_entity(own.alice.id, visible_at))
                .await,
            "relations",
        );
        assert_eq!(
            set(got.iter().map(|r| r.id)),
            own.relation_ids(),
            "{tag}: relations(entity = own alice, visible_at = {visible_at:?})"
        );
    }
    nothing_or_not_found(
        store.relations(s, &by_entity(other.alice.id, None)).await,
        &format!("{tag}: relations(entity = the other scope's alice)"),
    );
    let typed = ok(
        store.relations(s, &by_type("LIVES_IN", None)).await,
        "relations",
    );
    assert_eq!(
        set(typed.iter().map(|r| r.id)),
        set([own.lives.id]),
        "{tag}: relations(type = LIVES_IN) must return only this scope's relation"
    );
    let walked = ok(walk(store, s, &[own.alice.id], 2, later()).await, "walk");
    assert_eq!(
        graph_to_text(&walked),
        WALK_FROM_ALICE,
        "{tag}: walk from own alice"
    );
    assert!(
        walked.entities.iter().all(|e| e.scope == *s)
            && walked.relations.iter().all(|w| w.relation.scope == *s),
        "{tag}: walk returned records of another scope: {walked:?}"
    );
    match walk(store, s, &[other.alice.id], 2, later()).await {
        Ok(w) if w.entities.is_empty() && w.relations.is_empty() => {}
        Err(StoreError::NotFound { .. }) => {}
        other => panic!(
            "{tag}: walk seeded with the other scope's alice must return nothing, got {other:?}"
        ),
    }
    let changes = ok(store.changes(s, day(0), day(100)).await, "changes");
    assert_eq!(
        set(changes.added.iter().map(|r| r.id)),
        own.relation_ids(),
        "{tag}: changes().added must hold exactly this scope's relations"
    );
    assert!(
        changes.invalidated.is_empty() && changes.retracted.is_empty(),
        "{tag}: changes() reported invalidations or retractions: {changes:?}"
    );
    let hits = ok(
        store.search_relations(s, &unit(11), 10, later()).await,
        "search_relations",
    );
    assert_eq!(
        set(hits.iter().map(|h| h.item)),
        own.relation_ids(),
        "{tag}: search_relations must return only (and all) this scope's relations"
    );

    // Facts.
    assert_eq!(
        ok(store.fact(s, own.fact.id).await, "fact"),
        Some(own.fact.clone()),
        "{tag}: fact(own fact) must return it unchanged"
    );
    assert_eq!(
        ok(store.fact(s, other.fact.id).await, "fact"),
        None,
        "{tag}: fact(id of the other scope's fact) must be None"
    );
    assert_eq!(
        ok(store.facts(s, LISTING).await, "facts"),
        vec![own.fact.clone()],
        "{tag}: facts() must list exactly this scope's fact"
    );
    let near = ok(store.search_facts(s, &unit(21), 10).await, "search_facts");
    assert_eq!(
        set(near.iter().map(|h| h.item.id)),
        set([own.fact.id]),
        "{tag}: search_facts must return only this scope's fact"
    );
    let text = ok(
        store.search_facts_text(s, "vegetarian", 10).await,
        "search_facts_text",
    );
    assert_eq!(
        set(text.iter().map(|h| h.item.id)),
        set([own.fact.id]),
        "{tag}: search_facts_text(\"vegetarian\") must return only this scope's fact"
    );
    assert_eq!(
        ok(store.fact_history(s, own.fact.id).await, "fact_history").len(),
        1,
        "{tag}: fact_history(own fact) must hold its one ADD event"
    );
    nothing_or_not_found(
        store.fact_history(s, other.fact.id).await,
        &format!("{tag}: fact_history(the other scope's fact)"),
    );
}

async fn check_isolation<S: ContractStore + ?Sized>(store: &S, a: Scope, b: Scope) {
    assert_ne!(a, b, "test bug: the two scopes must differ");
    let wa = seed_world(store, &a).await;
    let wb = seed_world(store, &b).await;
    assert_reads_see_only_own(store, &wa, &wb).await;
    assert_reads_see_only_own(store, &wb, &wa).await;
}

/// Two users holding the same world see only their own records, through every read.
pub async fn scope_isolation_between_users<S: ContractStore + ?Sized>(store: &S) {
    check_isolation(store, user_scope(), user_scope()).await;
}

/// `{user: u}` and `{user: u, run: r}` are different scopes: neither sees the other.
pub async fn scope_isolation_user_vs_user_and_run<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let run = unique("run");
    check_isolation(
        store,
        scope(Some(&user), None, None),
        scope(Some(&user), None, Some(&run)),
    )
    .await;
}

/// `{user: x}` and `{agent: x}` are different scopes even with the same identifier.
pub async fn scope_isolation_user_vs_agent_with_same_id<S: ContractStore + ?Sized>(store: &S) {
    let id = unique("contract-id");
    check_isolation(
        store,
        scope(Some(&id), None, None),
        scope(None, Some(&id), None),
    )
    .await;
}

/// Writes issued through scope B that name A's records either fail with `NotFound`
/// (graph ops) or leave A's records untouched (vector and fact writes).
pub async fn scope_isolation_of_writes<S: ContractStore + ?Sized>(store: &S) {
    let wa = seed_world(store, &user_scope()).await;
    let wb = seed_world(store, &user_scope()).await;
    let b = &wb.scope;
    let ended = RelationTimes {
        valid_to: Some(day(3)),
        invalidated_at: Some(day(3)),
        ..wa.lives.times
    };
    let cases: Vec<(&str, WriteOp)> = vec![
        (
            "EndRelation of A's relation",
            WriteOp::EndRelation {
                relation: wa.lives.id,
                valid_to: day(3),
                invalidated_at: Some(day(3)),
                invalidated_by: Some(wb.lives.id),
                episode: None,
            },
        ),
        (
            "RetractRelation of A's relation",
            WriteOp::RetractRelation {
                relation: wa.lives.id,
                retracted_at: day(3),
                episode: None,
            },
        ),
        (
            "RestoreRelation of A's relation",
            WriteOp::RestoreRelation {
                relation: wa.lives.id,
                times: ended,
            },
        ),
        (
            "AddProvenance to A's relation",
            WriteOp::AddProvenance {
                relation: wa.lives.id,
                episode: wb.episode.id,
            },
        ),
        (
            "AddProvenance of A's episode to B's relation",
            WriteOp::AddProvenance {
                relation: wb.lives.id,
                episode: wa.episode.id,
            },
        ),
        (
            "DeleteRelation of A's relation",
            WriteOp::DeleteRelation {
                relation: wa.lives.id,
            },
        ),
        (
            "Mention of A's entity",
            WriteOp::Mention {
                episode: wb.episode.id,
                entity: wa.alice.id,
            },
        ),
        (
            "Mention by A's episode",
            WriteOp::Mention {
                episode: wa.episode.id,
                entity: wb.alice.id,
            },
        ),
        (
            "SetEpisodeStatus of A's episode",
            WriteOp::SetEpisodeStatus {
                episode: wa.episode.id,
                status: EpisodeStatus::Done,
                llm_usage: LlmUsage::default(),
            },
        ),
        (
            "DeleteEpisode of A's episode",
            WriteOp::DeleteEpisode {
                episode: wa.episode.id,
            },
        ),
    ];
    // Every op is tried before failing, so one run reports all of them.
    let mut refused_wrongly = Vec::new();
    for (name, op) in cases {
        match store.apply(b, vec![op]).await {
            Err(StoreError::NotFound { .. }) => {}
            other => refused_wrongly.push(format!(
                "apply(B, [{name}]): expected Err(NotFound), got {other:?}"
            )),
        }
    }

    // Vector and fact writes addressed through B: an error or a no-op, never a change to A.
    let _ = store
        .set_relation_times(
            b,
            wa.lives.id,
            RelationTimes {
                retracted_at: Some(day(3)),
                ..wa.lives.times
            },
        )
        .await;
    let _ = store.delete_relation_vectors(b, &[wa.works.id]).await;
    let delete = FactEvent {
        fact_id: wa.fact.id,
        event: FactEventKind::Delete,
        old_text: Some(wa.fact.text.clone()),
        new_text: None,
        at: day(3),
        episode: None,
    };
    let _ = store.delete_fact(b, wa.fact.id, &delete).await;

    // A and B are exactly as seeded.
    assert_reads_see_only_own(store, &wa, &wb).await;
    assert_eq!(
        ok(store.episode(wa.episode.id).await, "episode"),
        Some(wa.episode.clone()),
        "A's episode must be unchanged after B's writes"
    );
    assert!(
        refused_wrongly.is_empty(),
        "graph writes through scope B naming A's records:\n{}",
        refused_wrongly.join("\n")
    );
    assert_reads_see_only_own(store, &wb, &wa).await;
    assert_eq!(
        ok(store.relation(b, wb.lives.id).await, "relation"),
        Some(wb.lives.clone()),
        "B's relation must be unchanged after the failed AddProvenance of A's episode"
    );
}

/// What a scope's reads return, for before/after comparisons (search scores left out:
/// full-text scores may depend on the rest of the corpus).
#[derive(Debug, PartialEq)]
struct ScopeView {
    entities: BTreeSet<EntityId>,
    alice: Option<Entity>,
    alice_by_name: Option<EntityId>,
    relations: Vec<Relation>,
    walk: String,
    added: BTreeSet<RelationId>,
    entity_text: BTreeSet<EntityId>,
    entity_vector: Vec<EntityId>,
    relation_search: Vec<RelationId>,
    facts: Vec<Fact>,
    fact_search: Vec<FactId>,
    fact_text: BTreeSet<FactId>,
    history: Vec<FactEvent>,
    episode: Option<Episode>,
}

async fn view<S: ContractStore + ?Sized>(store: &S, w: &World) -> ScopeView {
    let s = &w.scope;
    ScopeView {
        entities: set(ok(store.entities(s, LISTING).await, "entities")
            .iter()
            .map(|e| e.id)),
        alice: ok(store.entity(s, w.alice.id).await, "entity"),
        alice_by_name: ok(
            store.entity_by_name(s, "alice smith").await,
            "entity_by_name",
        )
        .map(|e| e.id),
        relations: or_empty(
            store.relations(s, &by_entity(w.alice.id, None)).await,
            "relations",
        ),
        walk: match walk(store, s, &[w.alice.id], 2, later()).await {
            Ok(walk) => graph_to_text(&walk),
            Err(StoreError::NotFound { .. }) => graph_to_text(&Walk::default()),
            Err(err) => panic!("walk: store error {err:?}"),
        },
        added: set(ok(store.changes(s, day(0), day(100)).await, "changes")
            .added
            .iter()
            .map(|r| r.id)),
        entity_text: set(ok(
            store.search_entities_text(s, "alice", 10).await,
            "search_entities_text",
        )
        .iter()
        .map(|h| h.item.id)),
        entity_vector: ok(
            store.search_entities_vector(s, &unit(1), 10).await,
            "search_entities_vector",
        )
        .iter()
        .map(|h| h.item.id)
        .collect(),
        relation_search: ok(
            store.search_relations(s, &unit(11), 10, later()).await,
            "search_relations",
        )
        .iter()
        .map(|h| h.item)
        .collect(),
        facts: ok(store.facts(s, LISTING).await, "facts"),
        fact_search: ok(store.search_facts(s, &unit(21), 10).await, "search_facts")
            .iter()
            .map(|h| h.item.id)
            .collect(),
        fact_text: set(ok(
            store.search_facts_text(s, "vegetarian", 10).await,
            "search_facts_text",
        )
        .iter()
        .map(|h| h.item.id)),
        history: or_empty(store.fact_history(s, w.fact.id).await, "fact_history"),
        episode: ok(store.episode(w.episode.id).await, "episode"),
    }
}

/// Erasing `{user: u}` (graph and vectors) removes all of it, and nothing of
/// `{user: u, run: r}` or of another user; its idempotency keys become free again.
pub async fn erase_scope_leaves_other_scopes_intact<S: ContractStore + ?Sized>(store: &S) {
    let user = unique("contract-user");
    let a = scope(Some(&user), None, None);
    let wa = seed_world(store, &a).await;
    let w_run = seed_world(store, &scope(Some(&user), None, Some(&unique("run")))).await;
    let wb = seed_world(store, &user_scope()).await;
    let before_run = view(store, &w_run).await;
    let before_b = view(store, &wb).await;
    assert_eq!(before_b.entities.len(), 3, "test bug: B must be seeded");

    erase(store, &a).await;

    assert_eq!(
        view(store, &w_run).await,
        before_run,
        "erasing {{{a}}} changed {{{}}}",
        w_run.scope
    );
    assert_eq!(
        view(store, &wb).await,
        before_b,
        "erasing {{{a}}} changed {{{}}}",
        wb.scope
    );
    let empty = ScopeView {
        entities: BTreeSet::new(),
        alice: None,
        alice_by_name: None,
        relations: Vec::new(),
        walk: "entities: \n".to_owned(),
        added: BTreeSet::new(),
        entity_text: BTreeSet::new(),
        entity_vector: Vec::new(),
        relation_search: Vec::new(),
        facts: Vec::new(),
        fact_search: Vec::new(),
        fact_text: BTreeSet::new(),
        history: Vec::new(),
        episode: None,
    };
    assert_eq!(
        view(store, &wa).await,
        empty,
        "erasing {{{a}}} must remove all of its records"
    );
    let again = fixtures::episode(&a, "again", 5, Some("seed"));
    assert_eq!(
        ok(store.insert_episode(&again).await, "insert_episode"),
        EpisodeInsert::Inserted,
        "after erasing {{{a}}}, its idempotency key \"seed\" must be free again"
    );
}

/// `apply(A, …)` refuses records that carry another scope, and writes them nowhere.
pub async fn apply_rejects_records_of_another_scope<S: ContractStore + ?Sized>(store: &S) {
    let a = user_scope();
    let wb = seed_world(store, &user_scope()).await;
    let b = &wb.scope;
    let zed = entity(b, "Zed", "Person", unit(5));
    let result = store
        .apply(&a, vec![WriteOp::UpsertEntity(zed.clone())])
        .await;
    assert!(
        result.is_err(),
        "apply(A, [UpsertEntity(entity with scope B)]) must fail, got {result:?}"
    );
    for s in [&a, b] {
        assert_eq!(
            ok(store.entity_by_name(s, "zed").await, "entity_by_name"),
            None,
            "the refused entity must not appear in {{{s}}}"
        );
        assert_eq!(
            ok(store.entity(s, zed.id).await, "entity"),
            None,
            "the refused entity must not appear in {{{s}}}"
        );
    }
    let foreign = relation(
        b,
        wb.boston.id,
        "LOCATED_IN",
        wb.acme.id,
        "Boston hosts Acme",
        since(1, 3),
    );
    let result = store
        .apply(&a, vec![WriteOp::AddRelation(foreign.clone())])
        .await;
    assert!(
        result.is_err(),
        "apply(A, [AddRelation(relation with scope B between B's entities)]) must fail, got {result:?}"
    );
    for s in [&a, b] {
        assert_eq!(
            ok(store.relation(s, foreign.id).await, "relation"),
            None,
            "the refused relation must not appear in {{{s}}}"
        );
    }
    assert_eq!(
        ok(
            store.relations(b, &by_entity(wb.boston.id, None)).await,
            "relations"
        ),
        vec![wb.lives.clone()],
        "B's relations must be unchanged"
    );
}

/// `AddRelation` whose source or target lives in another scope fails with `NotFound`.
pub async fn add_relation_with_entity_of_another_scope_fails<S: ContractStore + ?Sized>(store: &S) {
    let a = user_scope();
    let wb = seed_world(store, &user_scope()).await;
    let alice = entity(&a, "Alice", "Person", unit(1));
    apply(
        store,
        &a,
        vec![WriteOp::UpsertEntity(alice.clone())],
        "upsert alice",
    )
    .await;
    let cases = [
        ("target in another scope", alice.id, wb.boston.id),
        ("source in another scope", wb.boston.id, alice.id),
        ("both in another scope", wb.alice.id, wb.boston.id),
        ("target missing everywhere", alice.id, EntityId::new()),
    ];
    for (name, source, target) in cases {
        let r = relation(&a, source, "LIVES_IN", target, "cross-scope", since(1, 3));
        apply_not_found(
            store,
            &a,
            vec![WriteOp::AddRelation(r.clone())],
            &format!("AddRelation with {name}"),
        )
        .await;
        assert_eq!(
            ok(store.relation(&a, r.id).await, "relation"),
            None,
            "AddRelation with {name}: the relation must not be stored"
        );
    }
    assert_eq!(
        ok(
            store.relations(&a, &by_entity(alice.id, None)).await,
            "relations"
        ),
        Vec::<Relation>::new(),
        "A's alice must have no relations"
    );
    assert_eq!(
        set(ok(
            store
                .relations(&wb.scope, &by_entity(wb.boston.id, None))
                .await,
            "relations"
        )
        .iter()
        .map(|r| r.id)),
        set([wb.lives.id]),
        "B's boston must keep exactly its LIVES_IN"
    );
}

/// `scopes` lists a seeded scope until it is erased; `counts` (global, so other cases may
/// add to them concurrently) cover at least the seeded records.
pub async fn scopes_and_counts_cover_seeded_data<S: ContractStore + ?Sized>(store: &S) {
    let a = user_scope();
    let b = scope(Some(&unique("contract-user")), None, Some(&unique("run")));
    seed_world(store, &a).await;
    seed_world(store, &b).await;

    let scopes = ok(store.scopes().await, "GraphRead::scopes");
    for seeded in [&a, &b] {
        assert!(
            scopes.contains(seeded),
            "scopes() misses the seeded scope {{{seeded}}}"
        );
    }
    let graph = ok(GraphRead::counts(store).await, "GraphRead::counts");
    assert!(
        graph.entities >= 6 && graph.relations >= 4,
        "GraphRead::counts {graph:?} is below what was seeded (6 entities, 4 relations)"
    );
    assert!(
        graph.episodes_pending + graph.episodes_done + graph.episodes_failed >= 2,
        "GraphRead::counts {graph:?} is below the 2 seeded episodes"
    );
    let vectors = ok(VectorRead::counts(store).await, "VectorRead::counts");
    assert!(
        vectors.relation_vectors >= 4 && vectors.facts >= 2,
        "VectorRead::counts {vectors:?} is below what was seeded (4 relation vectors, 2 facts)"
    );

    erase(store, &a).await;
    let scopes = ok(store.scopes().await, "GraphRead::scopes");
    assert!(!scopes.contains(&a), "scopes() still lists erased {{{a}}}");
    assert!(
        scopes.contains(&b),
        "erasing {{{a}}} removed {{{b}}} from scopes()"
    );
}
