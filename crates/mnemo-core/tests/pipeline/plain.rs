//! `infer: false` (DESIGN §3.8) through `Memory::add`: no LLM call, the messages become
//! facts, and known entities (by name or alias) and proper nouns are linked by MENTIONS.

use mnemo_core::llm::ChatMessage;
use mnemo_core::ports::{Embedder, GraphRead, GraphWrite, Page, VectorRead, WriteOp};
use mnemo_core::write::{AddOutcome, AddRequest};
use mnemo_core::{
    Entity, EntityId, EntityType, EpisodeStatus, LlmUsage, MemorySettings, Scope, normalize_name,
};
use serde_json::json;

use crate::support::{Harness, Watching, embedder, fresh_scope, harness, harness_without_llm};

const PAGE: Page = Page {
    limit: 1000,
    offset: 0,
};

/// Puts an entity into the scope directly, as an earlier add would have.
async fn known(h: &Harness, scope: &Scope, display: &str, entity_type: &str, aliases: &[&str]) {
    let embedding = embedder().embed(vec![display.to_owned()]).await.unwrap();
    let now = chrono::Utc::now();
    let entity = Entity {
        id: EntityId::new(),
        scope: scope.clone(),
        name: normalize_name(display).unwrap(),
        display_name: display.to_owned(),
        entity_type: EntityType::parse(entity_type).unwrap(),
        aliases: aliases.iter().map(|a| normalize_name(a).unwrap()).collect(),
        embedding: embedding.into_iter().next().unwrap(),
        mentions: 1,
        created_at: now,
        updated_at: now,
    };
    h.store
        .apply(scope, vec![WriteOp::UpsertEntity(entity)])
        .await
        .unwrap();
}

fn plain(scope: &Scope, said: &[(&str, &str)]) -> AddRequest {
    AddRequest {
        scope: scope.clone(),
        messages: said
            .iter()
            .map(|(role, content)| ChatMessage {
                role: role.to_string(),
                content: content.to_string(),
            })
            .collect(),
        occurred_at: None,
        metadata: json!({"source": "chat"}),
        infer: false,
        idempotency_key: None,
    }
}

async fn add_plain(h: &Harness, scope: &Scope, said: &[(&str, &str)]) -> AddOutcome {
    let outcome = h.memory.add(plain(scope, said)).await.unwrap();
    assert_eq!(outcome.status, EpisodeStatus::Done);
    assert_eq!(outcome.llm_usage, LlmUsage::default());
    outcome
}

/// Display names of the entities the episode mentions, sorted.
async fn mentioned(h: &Harness, scope: &Scope, outcome: &AddOutcome) -> Vec<String> {
    let footprint = h
        .store
        .episode_footprint(scope, outcome.episode_id)
        .await
        .unwrap();
    let mut names = Vec::new();
    for id in footprint.mentioned {
        names.push(
            h.store
                .entity(scope, id)
                .await
                .unwrap()
                .unwrap()
                .display_name,
        );
    }
    names.sort();
    names
}

/// "Name (Type) ×mentions" of every entity of the scope, sorted.
async fn entities(h: &Harness, scope: &Scope) -> Vec<String> {
    let mut lines: Vec<String> = h
        .store
        .entities(scope, PAGE)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} ({}) x{}", e.display_name, e.entity_type, e.mentions))
        .collect();
    lines.sort();
    lines
}

/// Seeds the known entities (USER = the scope's user), adds the messages without
/// inference, and compares what the episode mentions and the scope's entities after.
async fn check(
    known_entities: &[(&str, &str, &[&str])],
    said: &[(&str, &str)],
    want_mentioned: &[&str],
    want_entities: &[&str],
) {
    let h = harness().await;
    let scope = fresh_scope("alice");
    let user = scope.user_id().unwrap().to_owned();
    let subst = |s: &str| s.replace("USER", &user);
    for (name, entity_type, aliases) in known_entities {
        known(&h, &scope, &subst(name), entity_type, aliases).await;
    }
    let outcome = add_plain(&h, &scope, said).await;
    let mut want: Vec<String> = want_mentioned.iter().map(|s| subst(s)).collect();
    want.sort();
    assert_eq!(
        mentioned(&h, &scope, &outcome).await,
        want,
        "mentioned by {said:?}"
    );
    let mut want: Vec<String> = want_entities.iter().map(|s| subst(s)).collect();
    want.sort();
    assert_eq!(entities(&h, &scope).await, want, "entities after {said:?}");
    assert!(h.llm().requests().is_empty(), "no LLM call for {said:?}");
}

#[tokio::test]
async fn known_names_aliases_and_proper_nouns_are_linked() {
    // An alias links the known entity, which counts one more mention.
    check(
        &[("Lisbon", "City", &["Lisboa"])],
        &[("user", "We flew to Lisboa last week")],
        &["Lisbon"],
        &["Lisbon (City) x2"],
    )
    .await;
    // An unknown proper noun becomes a Concept; "I" of the user links the user.
    check(
        &[("USER", "Person", &[])],
        &[("user", "I met Carla Mendes at the market")],
        &["Carla Mendes", "USER"],
        &["Carla Mendes (Concept) x1", "USER (Person) x2"],
    )
    .await;
    // The assistant's "I" is not the user.
    check(
        &[("USER", "Person", &[])],
        &[("assistant", "I can help with that")],
        &[],
        &["USER (Person) x1"],
    )
    .await;
    // A capitalised word opening a sentence is no proper noun.
    check(
        &[],
        &[("user", "Yesterday was fun. Cooking is great")],
        &[],
        &[],
    )
    .await;
    // Known names match whatever their case.
    check(
        &[("New York City", "City", &[])],
        &[("user", "i love new york city")],
        &["New York City"],
        &["New York City (City) x2"],
    )
    .await;
    // The longest known name wins over a shorter one inside it.
    check(
        &[("New York", "City", &[]), ("York", "City", &[])],
        &[("user", "We visited New York")],
        &["New York"],
        &["New York (City) x2", "York (City) x1"],
    )
    .await;
    // A sentence opener is not part of the name; known and new names side by side.
    check(
        &[("Bob", "Person", &[])],
        &[("user", "Then Alice and Bob left")],
        &["Alice", "Bob"],
        &["Alice (Concept) x1", "Bob (Person) x2"],
    )
    .await;
    // One entity per name, however often the messages repeat it.
    check(
        &[],
        &[
            ("user", "Carla called"),
            ("user", "Later Carla called again, and Carla Mendes too"),
            ("assistant", "Say hi to Carla"),
        ],
        &["Carla", "Carla Mendes"],
        &["Carla (Concept) x1", "Carla Mendes (Concept) x1"],
    )
    .await;
}

/// A name the scope knows is not embedded again: the one embedding call of an add holds
/// its message and the new names only, and the new name still gets its vector.
#[tokio::test]
async fn an_add_embeds_its_message_and_only_the_names_the_scope_does_not_know() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    known(&h, &scope, "Dana Whitfield", "Person", &[]).await;
    let watching = Watching::new(std::time::Duration::ZERO);
    let memory = watching.memory(&h, MemorySettings::default());
    let said = "I met Dana Whitfield at the market in Lisbon";
    let outcome = memory.add(plain(&scope, &[("user", said)])).await.unwrap();
    assert_eq!(outcome.status, EpisodeStatus::Done);

    let mut embedded: Vec<String> = watching.take().concat();
    embedded.sort();
    assert_eq!(embedded, [said, "Lisbon"]);
    assert_eq!(
        mentioned(&h, &scope, &outcome).await,
        ["Dana Whitfield", "Lisbon"]
    );
    let lisbon = h
        .store
        .entities(&scope, PAGE)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.display_name == "Lisbon")
        .unwrap();
    let want = embedder().embed(vec!["Lisbon".into()]).await.unwrap();
    let cosine: f32 = lisbon
        .embedding
        .iter()
        .zip(&want[0])
        .map(|(a, b)| a * b)
        .sum();
    assert!(
        cosine > 0.999,
        "Lisbon's vector is its name's: cosine {cosine}"
    );
}

#[tokio::test]
async fn messages_become_facts_with_their_role_and_index() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    let outcome = add_plain(
        &h,
        &scope,
        &[
            ("user", "I moved to Lisbon"),
            ("assistant", "Nice, enjoy Lisbon!"),
        ],
    )
    .await;
    let mut facts = h.store.facts(&scope, PAGE).await.unwrap();
    facts.sort_by_key(|f| f.metadata["message_index"].as_u64());
    let got: Vec<(String, serde_json::Value)> = facts
        .iter()
        .map(|f| (f.text.clone(), f.metadata.clone()))
        .collect();
    // When they were said: the episode's event time.
    let episode = h.memory.episode(&scope, outcome.episode_id).await.unwrap();
    let said_at = episode
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert_eq!(
        got,
        vec![
            (
                "I moved to Lisbon".to_owned(),
                json!({"source": "chat", "role": "user", "message_index": 0, "said_at": said_at})
            ),
            (
                "Nice, enjoy Lisbon!".to_owned(),
                json!({"source": "chat", "role": "assistant", "message_index": 1, "said_at": said_at})
            ),
        ]
    );
    assert!(facts.iter().all(|f| f.episodes == vec![outcome.episode_id]));
    assert_eq!(outcome.facts.added, facts);
    // Found by meaning.
    let query = embedder().embed(vec!["relocation".into()]).await.unwrap();
    let hits = h.store.search_facts(&scope, &query[0], 1).await.unwrap();
    assert_eq!(hits[0].item.text, "I moved to Lisbon");
    // "Lisbon" opens no sentence in the assistant's message: a new entity, mentioned.
    assert_eq!(mentioned(&h, &scope, &outcome).await, vec!["Lisbon"]);
}

#[tokio::test]
async fn running_an_episode_again_after_a_crash_duplicates_nothing() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    known(&h, &scope, "Bob", "Person", &[]).await;
    let said = [
        ("user", "I had lunch with Bob and Carla Mendes"),
        ("user", "We ate sushi"),
    ];
    let outcome = add_plain(&h, &scope, &said).await;
    let facts_before = h.store.facts(&scope, PAGE).await.unwrap();
    let entities_before = entities(&h, &scope).await;
    assert_eq!(
        entities_before,
        vec!["Bob (Person) x2", "Carla Mendes (Concept) x1"]
    );

    // The process died after the writes, before the episode was marked done.
    h.store
        .apply(
            &scope,
            vec![WriteOp::SetEpisodeStatus {
                episode: outcome.episode_id,
                status: EpisodeStatus::Pending,
                llm_usage: LlmUsage::default(),
            }],
        )
        .await
        .unwrap();
    let report = h.memory.resume_pending().await.unwrap();
    assert_eq!(report.done, 1);

    let mut facts_after = h.store.facts(&scope, PAGE).await.unwrap();
    let mut facts_before = facts_before;
    facts_after.sort_by_key(|f| f.id);
    facts_before.sort_by_key(|f| f.id);
    assert_eq!(facts_after, facts_before);
    for fact in &facts_after {
        let history = h.store.fact_history(&scope, fact.id).await.unwrap();
        assert_eq!(history.len(), 1, "one ADD row for {:?}", fact.text);
    }
    assert_eq!(entities(&h, &scope).await, entities_before);
    assert_eq!(
        mentioned(&h, &scope, &outcome).await,
        vec!["Bob", "Carla Mendes"]
    );
}

#[tokio::test]
async fn entities_of_another_scope_are_never_linked() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    let other = fresh_scope("alice");
    known(&h, &other, "Lisbon", "City", &[]).await;
    let outcome = add_plain(&h, &scope, &[("user", "We flew to Lisbon")]).await;
    assert_eq!(mentioned(&h, &scope, &outcome).await, vec!["Lisbon"]);
    assert_eq!(entities(&h, &scope).await, vec!["Lisbon (Concept) x1"]);
    assert_eq!(entities(&h, &other).await, vec!["Lisbon (City) x1"]);
}

#[tokio::test]
async fn deleting_a_plain_episode_removes_its_facts() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    let kept = add_plain(&h, &scope, &[("user", "We ate sushi")]).await;
    let gone = add_plain(&h, &scope, &[("user", "I met Carla Mendes")]).await;
    h.memory
        .delete_episode(&scope, gone.episode_id)
        .await
        .unwrap();
    let texts: Vec<String> = h
        .store
        .facts(&scope, PAGE)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.text)
        .collect();
    assert_eq!(texts, vec!["We ate sushi"]);
    assert_eq!(kept.facts.added[0].text, "We ate sushi");
    assert!(entities(&h, &scope).await.is_empty());
}

/// Reading or deleting an episode by id is scoped in core: another scope's episode is not
/// found (exactly like a missing one), and its deletion leaves it in place.
#[tokio::test]
async fn an_episode_of_another_scope_is_not_found() {
    let h = harness_without_llm().await;
    let (owner, other) = (fresh_scope("owner"), fresh_scope("other"));
    let added = h
        .memory
        .add(mnemo_core::write::AddRequest {
            scope: owner.clone(),
            messages: crate::support::messages(&["I keep bees"]),
            occurred_at: None,
            metadata: serde_json::json!({}),
            infer: false,
            idempotency_key: None,
        })
        .await
        .unwrap();
    let id = added.episode_id;
    for result in [
        h.memory.episode(&other, id).await.map(|_| ()),
        h.memory.delete_episode(&other, id).await.map(|_| ()),
    ] {
        assert!(
            matches!(
                result,
                Err(mnemo_core::MemoryError::NotFound {
                    kind: "episode",
                    ..
                })
            ),
            "{result:?}"
        );
    }
    assert_eq!(h.memory.episode(&owner, id).await.unwrap().id, id);
    h.memory.delete_episode(&owner, id).await.unwrap();
    assert!(h.memory.episode(&owner, id).await.is_err());
}

/// Issue [4/7] item 3: a message fact in `context` says who said it and when (the
/// episode's `occurred_at`, not the day it was stored).
#[tokio::test]
async fn message_facts_in_context_name_their_speaker_and_the_day_they_were_said() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    let user = scope.user_id().unwrap().to_owned();
    let mut request = plain(
        &scope,
        &[
            ("user", "I am vegetarian"),
            (
                "Caroline",
                "Then you will love the vegan place on Main Street",
            ),
        ],
    );
    request.occurred_at = Some(crate::support::date(2023, 5, 8));
    let outcome = h.memory.add(request).await.unwrap();
    assert_eq!(outcome.status, EpisodeStatus::Done);
    let found = h
        .memory
        .search(mnemo_core::read::SearchRequest::new(
            scope.clone(),
            "vegetarian vegan place",
        ))
        .await
        .unwrap();
    for line in [
        format!("- {user} (user), 2023-05-08: I am vegetarian"),
        "- Caroline, 2023-05-08: Then you will love the vegan place on Main Street".to_owned(),
    ] {
        assert!(
            found.context.lines().any(|l| l == line),
            "{line:?} not in {:?}",
            found.context
        );
    }
}

/// A query naming a speaker prefers what that speaker said: of two messages about
/// painting, the one that matches the query better comes first unless the query names the
/// other one's speaker.
#[tokio::test]
async fn a_query_naming_a_speaker_prefers_what_that_speaker_said() {
    let h = harness_without_llm().await;
    let scope = fresh_scope("alice");
    let caroline = "Last month I made a picture of the old harbour";
    let melanie = "I painted the lake at sunset, my best painting yet";
    h.memory
        .add(plain(
            &scope,
            &[("Caroline", caroline), ("Melanie", melanie)],
        ))
        .await
        .unwrap();
    let first = |query: &'static str| {
        let memory = &h.memory;
        let scope = scope.clone();
        async move {
            let found = memory
                .search(mnemo_core::read::SearchRequest::new(scope, query))
                .await
                .unwrap();
            found.facts.first().map(|f| f.fact.text.clone()).unwrap()
        }
    };
    assert_eq!(first("What did she paint?").await, melanie);
    assert_eq!(first("What did Melanie paint?").await, melanie);
    assert_eq!(first("What did Caroline paint?").await, caroline);
}
