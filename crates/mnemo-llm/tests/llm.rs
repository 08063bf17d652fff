//! The LLM adapter end to end: the real async-openai client against the scripted
//! OpenAI-compatible server of mnemo-testkit on a real socket, in both output modes.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use mnemo_core::llm::{
    ChatMessage, ConflictDecision, ConflictVerdict, ConflictsInput, ExtractedEntity,
    ExtractedRelation, ExtractionInput, KnownEntity, LanguageModel, LlmError, MemoryEdit,
    MemoryUpdateInput, RelationTypeHint, RelationsInput, Speakers, SummaryInput, TripletText,
};
use mnemo_core::{EntityType, FactEventKind, LlmUsage, RelationType};
use mnemo_llm::{JsonSchemaCall, LlmConfig, LlmSetupError, OpenAiLlm, OutputMode};
use mnemo_testkit::scripted_llm::{Reply, ScriptedLlm, ScriptedMode, count_words};
use serde_json::{Value, json};

const MAX_RETRIES: u32 = 2;
const MODES: [OutputMode; 2] = [OutputMode::Tools, OutputMode::JsonSchema];
const TOOLS: [&str; 6] = [
    "extract_entities",
    "establish_relations",
    "resolve_conflicts",
    "extract_facts",
    "update_memory",
    "summarize_conversation",
];

fn config(server: &ScriptedLlm, output: OutputMode) -> LlmConfig {
    LlmConfig {
        output,
        timeout: Duration::from_secs(5),
        max_retries: MAX_RETRIES,
        retry_base_delay: Duration::from_millis(1),
        ..LlmConfig::new(server.base_url(), "test-model")
    }
}

async fn setup(output: OutputMode) -> (ScriptedLlm, OpenAiLlm) {
    let server = ScriptedLlm::start().await;
    let llm = OpenAiLlm::new(config(&server, output)).expect("build the LLM client");
    (server, llm)
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn message(role: &str, content: &str) -> ChatMessage {
    ChatMessage {
        role: role.to_owned(),
        content: content.to_owned(),
    }
}

fn speakers() -> Speakers {
    Speakers {
        user: Some("alice".to_owned()),
        agent: Some("helper".to_owned()),
        occurred_at: Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap(),
    }
}

fn extraction_input() -> ExtractionInput {
    ExtractionInput {
        speakers: speakers(),
        messages: vec![
            message("user", "I moved to Lisbon last month."),
            message("assistant", "How do you like it?"),
        ],
        recent: vec![message("user", "I still live in Boston for now.")],
        summary: Some("Alice is planning a move abroad.".to_owned()),
        entity_types: vec![
            EntityType::parse("Person").unwrap(),
            EntityType::parse("City").unwrap(),
        ],
    }
}

fn relations_input() -> RelationsInput {
    RelationsInput {
        speakers: speakers(),
        messages: vec![message("user", "I moved to Lisbon last month.")],
        entities: vec![
            ExtractedEntity {
                name: "alice".to_owned(),
                entity_type: EntityType::parse("Person").unwrap(),
            },
            ExtractedEntity {
                name: "Lisbon".to_owned(),
                entity_type: EntityType::parse("City").unwrap(),
            },
        ],
        known_entities: vec![KnownEntity {
            name: "Lisboa".to_owned(),
            entity_type: EntityType::parse("City").unwrap(),
        }],
        relation_types: vec![RelationTypeHint {
            relation_type: RelationType::parse("LIVES_IN").unwrap(),
            description: "where someone lives".to_owned(),
        }],
    }
}

fn triplet(source: &str, relation: &str, target: &str, from: Option<DateTime<Utc>>) -> TripletText {
    TripletText {
        source: source.to_owned(),
        relation_type: RelationType::parse(relation).unwrap(),
        target: target.to_owned(),
        fact: format!(
            "{source} {} {target}",
            relation.to_lowercase().replace('_', " ")
        ),
        valid_from: from,
        valid_to: None,
    }
}

/// Two existing relations (ids 0, 1) and one new relation (id 0).
fn conflicts_input() -> ConflictsInput {
    ConflictsInput {
        occurred_at: at(2024, 5, 10),
        existing: vec![
            triplet("Alice", "LIVES_IN", "Boston", Some(at(2020, 1, 1))),
            triplet("Alice", "WORKS_AT", "Acme", None),
        ],
        new: vec![triplet("Alice", "LIVES_IN", "Lisbon", Some(at(2024, 4, 1)))],
    }
}

/// Two existing memories (ids "0", "1").
fn memory_input() -> MemoryUpdateInput {
    MemoryUpdateInput {
        existing: vec![
            "Alice lives in Boston".to_owned(),
            "Alice is vegetarian".to_owned(),
        ],
        facts: vec!["Alice lives in Lisbon".to_owned()],
    }
}

fn summary_input() -> SummaryInput {
    SummaryInput {
        previous: Some("Alice is planning a move.".to_owned()),
        messages: vec![message("user", "I moved to Lisbon last month.")],
    }
}

/// Calls the tool named `tool` with the sample input; the value as Debug text.
async fn call(llm: &OpenAiLlm, tool: &str) -> Result<(String, LlmUsage), LlmError> {
    fn shown<T: std::fmt::Debug>(
        answer: Result<mnemo_core::llm::Answer<T>, LlmError>,
    ) -> Result<(String, LlmUsage), LlmError> {
        answer.map(|a| (format!("{:?}", a.value), a.usage))
    }
    match tool {
        "extract_entities" => shown(llm.extract_entities(&extraction_input()).await),
        "establish_relations" => shown(llm.establish_relations(&relations_input()).await),
        "resolve_conflicts" => shown(llm.resolve_conflicts(&conflicts_input()).await),
        "extract_facts" => shown(llm.extract_facts(&extraction_input()).await),
        "update_memory" => shown(llm.update_memory(&memory_input()).await),
        "summarize_conversation" => shown(llm.summarize_conversation(&summary_input()).await),
        other => panic!("no such tool {other}"),
    }
}

/// A valid answer for each tool.
fn good_answer(tool: &str) -> Value {
    match tool {
        "extract_entities" => json!({"entities": [{"name": "Lisbon", "type": "City"}]}),
        "establish_relations" => json!({"relations": [{
            "source": "alice", "relation": "LIVES_IN", "target": "Lisbon",
            "fact": "alice lives in Lisbon", "valid_from": "2024-04-01", "valid_to": null,
        }]}),
        "resolve_conflicts" => {
            json!({"decisions": [{"existing": 0, "new": 0, "verdict": "superseded"}]})
        }
        "extract_facts" => json!({"facts": ["Alice lives in Lisbon"]}),
        "update_memory" => {
            json!({"memory": [{"id": "0", "text": "Alice lives in Lisbon", "event": "UPDATE"}]})
        }
        "summarize_conversation" => json!({"summary": "Alice moved to Lisbon in April 2024."}),
        other => panic!("no such tool {other}"),
    }
}

#[tokio::test]
async fn every_tool_round_trips_in_both_output_modes() {
    for mode in MODES {
        let (server, llm) = setup(mode).await;
        server
            .on("extract_entities")
            .reply(Reply::json(json!({"entities": [
                {"name": " Lisbon ", "type": "city"},
                {"name": "alice", "type": "PERSON"},
            ]})));
        server.on("establish_relations").reply(Reply::json(json!({"relations": [
            {"source": "alice", "relation": "lives in", "target": "Lisbon",
             "fact": "alice lives in Lisbon", "valid_from": "2024-04-01", "valid_to": null},
            {"source": "alice", "relation": "WORKS_AT", "target": "Acme", "fact": "alice worked at Acme",
             "valid_from": "2019-01-01T00:00:00Z", "valid_to": "2021-06-30T02:00:00+02:00"},
        ]})));
        server
            .on("resolve_conflicts")
            .reply(Reply::json(json!({"decisions": [
                {"existing": 0, "new": 0, "verdict": "superseded"},
                {"existing": 1, "new": 0, "verdict": "unrelated"},
            ]})));
        server.on("extract_facts").reply(Reply::json(
            json!({"facts": ["Alice lives in Lisbon", " Alice moved in April 2024 "]}),
        ));
        server
            .on("update_memory")
            .reply(Reply::json(json!({"memory": [
                {"id": "0", "text": "Alice lives in Lisbon", "event": "UPDATE"},
                {"id": 1, "text": "Alice is vegetarian", "event": "NONE"},
                {"id": "7", "text": "Alice likes trams", "event": "ADD"},
            ]})));
        server.on("summarize_conversation").reply(Reply::json(
            json!({"summary": "Alice moved to Lisbon in April 2024."}),
        ));

        let entities = llm.extract_entities(&extraction_input()).await.unwrap();
        assert_eq!(
            entities.value,
            vec![
                ExtractedEntity {
                    name: "Lisbon".into(),
                    entity_type: EntityType::parse("City").unwrap()
                },
                ExtractedEntity {
                    name: "alice".into(),
                    entity_type: EntityType::parse("Person").unwrap()
                },
            ],
            "{mode:?}"
        );
        let relations = llm.establish_relations(&relations_input()).await.unwrap();
        assert_eq!(
            relations.value,
            vec![
                ExtractedRelation {
                    source: "alice".into(),
                    relation_type: RelationType::parse("LIVES_IN").unwrap(),
                    target: "Lisbon".into(),
                    fact: "alice lives in Lisbon".into(),
                    valid_from: Some(at(2024, 4, 1)),
                    valid_to: None,
                },
                ExtractedRelation {
                    source: "alice".into(),
                    relation_type: RelationType::parse("WORKS_AT").unwrap(),
                    target: "Acme".into(),
                    fact: "alice worked at Acme".into(),
                    valid_from: Some(at(2019, 1, 1)),
                    valid_to: Some(at(2021, 6, 30)),
                },
            ],
            "{mode:?}"
        );
        let decisions = llm.resolve_conflicts(&conflicts_input()).await.unwrap();
        assert_eq!(
            decisions.value,
            vec![
                ConflictDecision {
                    existing: 0,
                    new: 0,
                    verdict: ConflictVerdict::Superseded
                },
                ConflictDecision {
                    existing: 1,
                    new: 0,
                    verdict: ConflictVerdict::Unrelated
                },
            ],
            "{mode:?}"
        );
        let facts = llm.extract_facts(&extraction_input()).await.unwrap();
        assert_eq!(
            facts.value,
            vec![
                "Alice lives in Lisbon".to_owned(),
                "Alice moved in April 2024".to_owned()
            ],
            "{mode:?}"
        );
        let edits = llm.update_memory(&memory_input()).await.unwrap();
        assert_eq!(
            edits.value,
            vec![
                MemoryEdit {
                    existing: Some(0),
                    text: "Alice lives in Lisbon".into(),
                    event: FactEventKind::Update
                },
                MemoryEdit {
                    existing: Some(1),
                    text: "Alice is vegetarian".into(),
                    event: FactEventKind::None
                },
                MemoryEdit {
                    existing: None,
                    text: "Alice likes trams".into(),
                    event: FactEventKind::Add
                },
            ],
            "{mode:?}"
        );
        let summary = llm.summarize_conversation(&summary_input()).await.unwrap();
        assert_eq!(
            summary.value, "Alice moved to Lisbon in April 2024.",
            "{mode:?}"
        );

        // One request per tool, each in the shape of the mode, forcing that tool.
        let requests = server.requests();
        let tools: Vec<&str> = requests.iter().map(|r| r.tool.as_str()).collect();
        assert_eq!(tools, TOOLS, "{mode:?}");
        for request in &requests {
            let body = &request.body;
            assert_eq!(body["model"], "test-model");
            assert_eq!(body["messages"][0]["role"], "system");
            assert_eq!(body["messages"][1]["role"], "user");
            match mode {
                OutputMode::Tools => {
                    assert_eq!(request.mode, ScriptedMode::Tools);
                    assert_eq!(body["tools"][0]["type"], "function");
                    assert_eq!(body["tools"][0]["function"]["name"], request.tool.as_str());
                    assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
                    assert_eq!(body["tool_choice"]["type"], "function");
                    assert!(body.get("response_format").is_none());
                }
                OutputMode::JsonSchema => {
                    assert_eq!(request.mode, ScriptedMode::JsonSchema);
                    assert_eq!(body["response_format"]["type"], "json_schema");
                    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
                    assert_eq!(
                        body["response_format"]["json_schema"]["schema"]["type"],
                        "object"
                    );
                    assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
                }
                OutputMode::Auto => unreachable!("MODES holds the two fixed modes"),
            }
        }
        // The answer's top-level key is the contract's.
        for (tool, key) in TOOLS.iter().zip([
            "entities",
            "relations",
            "decisions",
            "facts",
            "memory",
            "summary",
        ]) {
            let request = &server.requests_to(tool)[0];
            let schema = match mode {
                OutputMode::Tools => &request.body["tools"][0]["function"]["parameters"],
                OutputMode::JsonSchema => &request.body["response_format"]["json_schema"]["schema"],
                OutputMode::Auto => unreachable!("MODES holds the two fixed modes"),
            };
            assert_eq!(schema["required"], json!([key]), "{tool} {mode:?}");
        }
    }
}

/// Every answer that does not fit its tool is retried, then reported as `Malformed`.
#[tokio::test]
async fn invalid_answers_are_retried_then_malformed() {
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "extract_entities",
            Reply::raw(r#"{"entities": ["#),
            "does not fit the schema",
        ),
        (
            "extract_entities",
            Reply::json(json!({"people": []})),
            "missing field `entities`",
        ),
        (
            "extract_entities",
            Reply::json(json!({"entities": [{"name": "  ", "type": "Person"}]})),
            "entities[0]",
        ),
        (
            "extract_entities",
            Reply::json(json!({"entities": [{"name": "Alice", "type": "a person!"}]})),
            "invalid entity type",
        ),
        (
            "extract_entities",
            Reply::json(json!({"entities": [{"name": "Alice", "type": ""}]})),
            "invalid entity type",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "lives in (2024)", "target": "Lisbon", "fact": "f", "valid_from": null, "valid_to": null}]}),
            ),
            "invalid relation type",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "", "relation": "LIVES_IN", "target": "Lisbon", "fact": "f", "valid_from": null, "valid_to": null}]}),
            ),
            "source",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": " ", "fact": "f", "valid_from": null, "valid_to": null}]}),
            ),
            "target",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": "Lisbon", "fact": "", "valid_from": null, "valid_to": null}]}),
            ),
            "fact: empty",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": "Lisbon", "fact": "f", "valid_from": "last month", "valid_to": null}]}),
            ),
            "valid_from",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": "Lisbon", "fact": "f", "valid_from": null, "valid_to": "2024-02-30"}]}),
            ),
            "valid_to",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": "Lisbon", "fact": "f", "valid_from": "2024-05-01", "valid_to": "2024-01-01"}]}),
            ),
            "is before valid_from",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": "Lisbon", "fact": "f", "valid_from": "-0001-01-01T00:00:00Z", "valid_to": null}]}),
            ),
            "valid_from: `-0001-01-01T00:00:00Z` is",
        ),
        (
            "establish_relations",
            Reply::json(
                json!({"relations": [{"source": "alice", "relation": "LIVES_IN", "target": "Lisbon", "fact": "f", "valid_from": null, "valid_to": "9999-12-31T23:59:59-12:00"}]}),
            ),
            "valid_to: `9999-12-31T23:59:59-12:00` is outside the supported range",
        ),
        (
            "resolve_conflicts",
            Reply::json(
                json!({"decisions": [{"existing": 0, "new": 0, "verdict": "contradicts"}]}),
            ),
            "unknown verdict `contradicts`",
        ),
        (
            "resolve_conflicts",
            Reply::json(json!({"decisions": [{"existing": 2, "new": 0, "verdict": "superseded"}]})),
            "existing id 2",
        ),
        (
            "resolve_conflicts",
            Reply::json(json!({"decisions": [{"existing": 0, "new": 1, "verdict": "superseded"}]})),
            "new id 1",
        ),
        (
            "resolve_conflicts",
            Reply::json(
                json!({"decisions": [{"existing": -1, "new": 0, "verdict": "superseded"}]}),
            ),
            "does not fit the schema",
        ),
        (
            "extract_facts",
            Reply::json(json!({"facts": ["Alice lives in Lisbon", "  "]})),
            "facts[1]: empty",
        ),
        (
            "extract_facts",
            Reply::json(json!({"facts": "Alice lives in Lisbon"})),
            "does not fit the schema",
        ),
        (
            "update_memory",
            Reply::json(json!({"memory": [{"id": "2", "text": "t", "event": "UPDATE"}]})),
            "memory id \"2\"",
        ),
        (
            "update_memory",
            Reply::json(json!({"memory": [{"id": "x", "text": "t", "event": "DELETE"}]})),
            "memory id \"x\"",
        ),
        (
            "update_memory",
            Reply::json(json!({"memory": [{"id": null, "text": "t", "event": "NONE"}]})),
            "memory id null",
        ),
        (
            "update_memory",
            Reply::json(json!({"memory": [{"id": "0", "text": "t", "event": "MERGE"}]})),
            "unknown event `MERGE`",
        ),
        (
            "update_memory",
            Reply::json(json!({"memory": [{"id": "0", "text": " ", "event": "UPDATE"}]})),
            "UPDATE with an empty text",
        ),
        (
            "update_memory",
            Reply::json(json!({"memory": [{"id": "9", "text": "", "event": "ADD"}]})),
            "ADD with an empty text",
        ),
        (
            "summarize_conversation",
            Reply::json(json!({"summary": ""})),
            "summary: empty",
        ),
    ];
    for mode in MODES {
        for (tool, reply, reason) in &cases {
            let (server, llm) = setup(mode).await;
            server.on(tool).reply(reply.clone());
            let case = format!("{tool} answering {reply:?} in {mode:?}");
            match call(&llm, tool).await {
                Err(LlmError::Malformed {
                    tool: t,
                    attempts,
                    reason: got,
                    usage,
                }) => {
                    assert_eq!(t, *tool, "{case}");
                    assert_eq!(attempts, MAX_RETRIES + 1, "{case}");
                    assert!(
                        got.contains(reason),
                        "{case}: reason `{got}` lacks `{reason}`"
                    );
                    assert_eq!(usage, server.usage(), "{case}");
                }
                other => panic!("{case}: expected Malformed, got {other:?}"),
            }
            assert_eq!(server.calls(tool), (MAX_RETRIES + 1) as usize, "{case}");
        }
    }
}

#[tokio::test]
async fn an_answer_without_the_tool_call_is_malformed() {
    let cases = [
        (
            OutputMode::Tools,
            Reply::content("Sure! Alice lives in Lisbon."),
            "no tool call; the model answered with text: Sure!",
        ),
        (
            OutputMode::Tools,
            Reply::content(""),
            "no tool call in the answer",
        ),
        (
            OutputMode::JsonSchema,
            Reply::content("Sure! Alice lives in Lisbon."),
            "does not fit the schema",
        ),
        (OutputMode::JsonSchema, Reply::content(""), "no content"),
    ];
    for (mode, reply, reason) in cases {
        let (server, llm) = setup(mode).await;
        server.on("extract_facts").reply(reply.clone());
        match llm.extract_facts(&extraction_input()).await {
            Err(LlmError::Malformed {
                attempts,
                reason: got,
                ..
            }) => {
                assert_eq!(attempts, MAX_RETRIES + 1, "{mode:?} {reply:?}");
                assert!(
                    got.contains(reason),
                    "{mode:?} {reply:?}: `{got}` lacks `{reason}`"
                );
            }
            other => panic!("{mode:?} {reply:?}: expected Malformed, got {other:?}"),
        }
    }
}

/// Each scripted failure, once, then a good answer: the call succeeds on the second
/// attempt, and the answer's usage counts both attempts.
#[tokio::test]
async fn a_failure_then_a_good_answer_succeeds() {
    let failures = [
        Reply::raw("{not json"),
        Reply::json(json!({"facts": [""]})),
        Reply::status(500),
        Reply::status(503),
        Reply::status(408),
        Reply::rate_limited(Duration::from_millis(1)),
    ];
    for mode in MODES {
        for failure in &failures {
            let (server, llm) = setup(mode).await;
            server.on("extract_facts").once().reply(failure.clone());
            server
                .on("extract_facts")
                .reply(Reply::json(good_answer("extract_facts")));
            let answer = llm
                .extract_facts(&extraction_input())
                .await
                .unwrap_or_else(|e| panic!("{failure:?} {mode:?}: {e}"));
            assert_eq!(answer.value, vec!["Alice lives in Lisbon".to_owned()]);
            assert_eq!(answer.usage.calls, 2, "{failure:?} {mode:?}");
            assert_eq!(answer.usage, server.usage(), "{failure:?} {mode:?}");
            assert_eq!(server.calls("extract_facts"), 2, "{failure:?} {mode:?}");
        }
    }
}

#[tokio::test]
async fn retry_after_of_a_429_is_honoured() {
    let (server, llm) = setup(OutputMode::Tools).await;
    server
        .on("extract_facts")
        .once()
        .reply(Reply::rate_limited(Duration::from_millis(300)));
    server
        .on("extract_facts")
        .reply(Reply::json(good_answer("extract_facts")));
    let started = Instant::now();
    let answer = llm.extract_facts(&extraction_input()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.usage.calls, 2);
}

#[tokio::test]
async fn statuses_are_retried_or_rejected() {
    // (status, retried?)
    let cases = [
        (400, false),
        (401, false),
        (403, false),
        (404, false),
        (422, false),
        (408, true),
        (429, true),
        (500, true),
        (502, true),
        (503, true),
    ];
    for (status, retried) in cases {
        let (server, llm) = setup(OutputMode::Tools).await;
        server
            .on("summarize_conversation")
            .reply(Reply::status(status));
        let result = llm.summarize_conversation(&summary_input()).await;
        let expected_calls = if retried { MAX_RETRIES + 1 } else { 1 };
        match result {
            Err(LlmError::Unavailable {
                attempts,
                reason,
                usage,
            }) if retried => {
                assert_eq!(attempts, expected_calls, "{status}");
                assert!(
                    reason.contains(&format!("HTTP {status}")),
                    "{status}: {reason}"
                );
                assert_eq!(usage.calls, expected_calls, "{status}");
            }
            Err(LlmError::Rejected { reason, usage }) if !retried => {
                assert!(
                    reason.contains(&format!("HTTP {status}")),
                    "{status}: {reason}"
                );
                assert_eq!(usage.calls, 1, "{status}");
            }
            other => panic!("{status}: unexpected {other:?}"),
        }
        assert_eq!(
            server.calls("summarize_conversation"),
            expected_calls as usize,
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried_then_unavailable() {
    let server = ScriptedLlm::start().await;
    let llm = OpenAiLlm::new(LlmConfig {
        timeout: Duration::from_millis(200),
        ..config(&server, OutputMode::Tools)
    })
    .unwrap();
    server
        .on("extract_entities")
        .reply(Reply::json(good_answer("extract_entities")).after(Duration::from_secs(3)));
    let started = Instant::now();
    match llm.extract_entities(&extraction_input()).await {
        Err(LlmError::Unavailable {
            attempts,
            reason,
            usage,
        }) => {
            assert_eq!(attempts, MAX_RETRIES + 1);
            assert!(reason.contains("no answer within 200ms"), "{reason}");
            assert_eq!(
                usage,
                LlmUsage {
                    calls: MAX_RETRIES + 1,
                    prompt_tokens: 0,
                    completion_tokens: 0
                }
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.calls("extract_entities"), (MAX_RETRIES + 1) as usize);

    // Slow once, then fast: the retry succeeds.
    server
        .on("extract_facts")
        .once()
        .reply(Reply::json(good_answer("extract_facts")).after(Duration::from_secs(3)));
    server
        .on("extract_facts")
        .reply(Reply::json(good_answer("extract_facts")));
    let answer = llm.extract_facts(&extraction_input()).await.unwrap();
    assert_eq!(answer.usage.calls, 2);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = LlmConfig::new(format!("http://127.0.0.1:{port}/v1"), "test-model");
    config.retry_base_delay = Duration::from_millis(1);
    let llm = OpenAiLlm::new(config).unwrap();
    match llm.extract_facts(&extraction_input()).await {
        Err(LlmError::Unavailable {
            attempts, usage, ..
        }) => {
            assert_eq!(attempts, 3, "default max_retries is 2");
            assert_eq!(usage.calls, 3);
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// Tokens are summed over every attempt, failed ones included, into the answer or the error.
#[tokio::test]
async fn usage_is_summed_over_attempts() {
    let (server, llm) = setup(OutputMode::Tools).await;
    server.on("resolve_conflicts").once().reply(Reply::json(
        json!({"decisions": [{"existing": 5, "new": 0, "verdict": "duplicate"}]}),
    ));
    server
        .on("resolve_conflicts")
        .once()
        .reply(Reply::status(500));
    server
        .on("resolve_conflicts")
        .reply(Reply::json(good_answer("resolve_conflicts")));
    let answer = llm.resolve_conflicts(&conflicts_input()).await.unwrap();
    let requests = server.requests_to("resolve_conflicts");
    assert_eq!(requests.len(), 3);
    let prompt = count_words(&requests[0].system) + count_words(&requests[0].input);
    let answer_words = |v: Value| count_words(&v.to_string());
    assert_eq!(
        answer.usage,
        LlmUsage {
            calls: 3,
            // The 500 reported nothing; the two answered attempts reported their tokens.
            prompt_tokens: 2 * prompt,
            completion_tokens: answer_words(
                json!({"decisions": [{"existing": 5, "new": 0, "verdict": "duplicate"}]})
            ) + answer_words(good_answer("resolve_conflicts")),
        }
    );
    assert!(
        answer.usage.prompt_tokens > 100,
        "the prompt is counted: {:?}",
        answer.usage
    );

    // A call that ends in an error still reports what it spent.
    server.on("extract_facts").reply(Reply::raw("nope"));
    let err = llm.extract_facts(&extraction_input()).await.unwrap_err();
    let spent = err.usage();
    assert_eq!(spent.calls, MAX_RETRIES + 1);
    assert_eq!(spent.completion_tokens, u64::from(MAX_RETRIES + 1));
    assert_eq!(
        server.usage().prompt_tokens,
        answer.usage.prompt_tokens + spent.prompt_tokens
    );
}

/// What the model reads: the user's name, the conversation time, the sections of each
/// input and the numbered records the answer refers back to.
#[tokio::test]
async fn rendered_prompts_carry_the_input() {
    let cases: [(&str, &[&str]); 6] = [
        (
            "extract_entities",
            &[
                "- user: alice (\"I\", \"me\", \"my\" in the user's messages mean alice)",
                "- agent: helper",
                "occurred_at: 2024-05-10T12:00:00Z\n(that is Friday 10 May 2024; yesterday 2024-05-09; last month 2024-04; last year 2023)",
                "## Entity types\nPerson, City",
                "## Summary of the conversation so far\nAlice is planning a move abroad.",
                "## Earlier messages (context only)\n[user] I still live in Boston for now.",
                "## New messages\n[user] I moved to Lisbon last month.\n[assistant] How do you like it?",
            ],
        ),
        (
            "establish_relations",
            &[
                "- user: alice",
                "occurred_at: 2024-05-10T12:00:00Z",
                "## Entities\n- alice (Person)\n- Lisbon (City)",
                "## Known entities\n- Lisboa (City)",
                "## Relation types\n- LIVES_IN: where someone lives",
                "[user] I moved to Lisbon last month.",
            ],
        ),
        (
            "resolve_conflicts",
            &[
                "occurred_at: 2024-05-10T00:00:00Z",
                "## Existing relations\n[0] Alice LIVES_IN Boston | fact: Alice lives in Boston | valid_from: 2020-01-01T00:00:00Z | valid_to: null\n[1] Alice WORKS_AT Acme",
                "## New relations\n[0] Alice LIVES_IN Lisbon | fact: Alice lives in Lisbon | valid_from: 2024-04-01T00:00:00Z",
            ],
        ),
        (
            "extract_facts",
            &[
                "- user: alice",
                "occurred_at: 2024-05-10T12:00:00Z",
                "[user] I moved to Lisbon last month.",
            ],
        ),
        (
            "update_memory",
            &[
                "## Existing memories\n- id \"0\": Alice lives in Boston\n- id \"1\": Alice is vegetarian",
                "## New facts\n- Alice lives in Lisbon",
            ],
        ),
        (
            "summarize_conversation",
            &[
                "## Previous summary\nAlice is planning a move.",
                "## New messages\n[user] I moved to Lisbon last month.",
            ],
        ),
    ];
    let (server, llm) = setup(OutputMode::Tools).await;
    server.respond_with(|request| Reply::json(good_answer(&request.tool)));
    for (tool, expected) in cases {
        call(&llm, tool)
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let request = server.requests_to(tool).pop().unwrap();
        for text in expected {
            assert!(
                request.input.contains(text),
                "{tool}: input lacks {text:?}:\n{}",
                request.input
            );
        }
    }
    // The system prompts say what the contract needs.
    let system = |tool: &str| server.requests_to(tool)[0].system.clone();
    for tool in ["extract_entities", "establish_relations", "extract_facts"] {
        assert!(system(tool).contains("\"I\", \"me\", \"my\""), "{tool}");
    }
    for text in [
        "timeless UPPER_SNAKE_CASE",
        "\"moved to Lisbon\" = LIVES_IN Lisbon",
        "conversation time",
        "last month",
        "valid_to",
        "one short sentence",
    ] {
        assert!(
            system("establish_relations").contains(text),
            "establish_relations lacks {text:?}"
        );
    }
    for text in [
        "duplicate:",
        "superseded:",
        "retracted:",
        "never true",
        "unrelated:",
    ] {
        assert!(
            system("resolve_conflicts").contains(text),
            "resolve_conflicts lacks {text:?}"
        );
    }
    for text in ["ADD:", "UPDATE:", "DELETE:", "NONE:"] {
        assert!(
            system("update_memory").contains(text),
            "update_memory lacks {text:?}"
        );
    }
}

#[tokio::test]
async fn a_speaker_without_name_and_empty_sections_render() {
    let (server, llm) = setup(OutputMode::Tools).await;
    server.respond_with(|request| Reply::json(good_answer(&request.tool)));
    let input = ExtractionInput {
        speakers: Speakers {
            user: None,
            agent: None,
            occurred_at: at(2024, 1, 2),
        },
        messages: vec![message("user", "Hi")],
        recent: vec![],
        summary: None,
        entity_types: vec![],
    };
    llm.extract_entities(&input).await.unwrap();
    let sent = &server.requests_to("extract_entities")[0].input;
    assert_eq!(
        sent,
        "## Speakers\n- user: no name given; call the user \"User\"\n\n## Conversation time\noccurred_at: 2024-01-02T00:00:00Z\n(that is Tuesday 2 January 2024; yesterday 2024-01-01; last month 2023-12; last year 2023)\n\n## New messages\n[user] Hi\n"
    );
}

#[tokio::test]
async fn prompts_can_be_overridden_from_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("extract_entities.md"),
        "CUSTOM ENTITY PROMPT",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a prompt").unwrap();
    let server = ScriptedLlm::start().await;
    server.respond_with(|request| Reply::json(good_answer(&request.tool)));
    let llm = OpenAiLlm::new(LlmConfig {
        prompts_dir: Some(dir.path().to_owned()),
        ..config(&server, OutputMode::Tools)
    })
    .unwrap();
    llm.extract_entities(&extraction_input()).await.unwrap();
    llm.extract_facts(&extraction_input()).await.unwrap();
    assert_eq!(
        server.requests_to("extract_entities")[0].system,
        "CUSTOM ENTITY PROMPT"
    );
    let builtin = include_str!("../prompts/extract_facts.md");
    assert_eq!(server.requests_to("extract_facts")[0].system, builtin);
}

#[tokio::test]
async fn bad_configuration_is_refused_at_construction() {
    fn check(config: LlmConfig, expected: fn(&LlmSetupError) -> bool) {
        match OpenAiLlm::new(config.clone()) {
            Err(err) => assert!(expected(&err), "{config:?}: unexpected {err}"),
            Ok(_) => panic!("{config:?} was accepted"),
        }
    }
    let base = || LlmConfig::new("http://127.0.0.1:1/v1", "m");
    check(LlmConfig::new("not a url", "m"), |e| {
        matches!(e, LlmSetupError::BaseUrl { .. })
    });
    check(LlmConfig::new("ftp://example.com/v1", "m"), |e| {
        matches!(e, LlmSetupError::BaseUrl { .. })
    });
    check(LlmConfig::new("http://127.0.0.1:1/v1", " "), |e| {
        matches!(e, LlmSetupError::Model)
    });
    check(
        LlmConfig {
            api_key: Some("sk\ntest".into()),
            ..base()
        },
        |e| matches!(e, LlmSetupError::ApiKey),
    );

    let missing = tempfile::tempdir().unwrap().path().join("absent");
    check(
        LlmConfig {
            prompts_dir: Some(missing),
            ..base()
        },
        |e| matches!(e, LlmSetupError::PromptsDir { .. }),
    );
    let typo = tempfile::tempdir().unwrap();
    std::fs::write(typo.path().join("extract_entity.md"), "x").unwrap();
    check(
        LlmConfig {
            prompts_dir: Some(typo.path().to_owned()),
            ..base()
        },
        |e| matches!(e, LlmSetupError::UnknownPrompt { .. }),
    );
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("update_memory.md"), " \n").unwrap();
    check(
        LlmConfig {
            prompts_dir: Some(empty.path().to_owned()),
            ..base()
        },
        |e| matches!(e, LlmSetupError::EmptyPrompt { .. }),
    );

    // An https endpoint builds its TLS client (ring + the system's roots).
    let llm = OpenAiLlm::new(LlmConfig::new("https://api.openai.com/v1/", "gpt-4o-mini")).unwrap();
    assert_eq!(llm.model_name(), "gpt-4o-mini");
}

#[tokio::test]
async fn the_api_key_is_sent_only_when_configured() {
    for (key, expected) in [(Some("sk-test"), Some("Bearer sk-test")), (None, None)] {
        let server = ScriptedLlm::start().await;
        server.respond_with(|request| Reply::json(good_answer(&request.tool)));
        let llm = OpenAiLlm::new(LlmConfig {
            api_key: key.map(str::to_owned),
            ..config(&server, OutputMode::Tools)
        })
        .unwrap();
        llm.extract_facts(&extraction_input()).await.unwrap();
        assert_eq!(server.requests()[0].authorization.as_deref(), expected);
    }
}

async fn facts(llm: &OpenAiLlm, text: &str) -> Result<Vec<String>, LlmError> {
    let mut input = extraction_input();
    input.recent.clear();
    input.messages = vec![message("user", text)];
    llm.extract_facts(&input).await.map(|a| a.value)
}

/// The scripted server itself: rules by tool and input in order, once-rules, the
/// responder as fallback, and a loud 500 for anything unscripted.
#[tokio::test]
async fn the_scripted_server_matches_rules_in_order() {
    let (server, llm) = setup(OutputMode::Tools).await;
    server
        .on("extract_facts")
        .containing("Lisbon")
        .containing("Boston")
        .once()
        .reply(Reply::json(json!({"facts": ["first"]})));
    server
        .on("extract_facts")
        .containing("Lisbon")
        .reply(Reply::json(json!({"facts": ["lisbon"]})));
    server
        .on("extract_facts")
        .containing("Paris")
        .reply(Reply::json(json!({"facts": ["paris"]})));
    assert_eq!(facts(&llm, "Lisbon, not Boston").await.unwrap(), ["first"]);
    assert_eq!(facts(&llm, "Lisbon, not Boston").await.unwrap(), ["lisbon"]);
    assert_eq!(facts(&llm, "Paris").await.unwrap(), ["paris"]);

    // No rule for Rome and no responder: a 500 naming the tool and the input.
    match facts(&llm, "Rome").await {
        Err(LlmError::Unavailable { reason, .. }) => {
            assert!(reason.contains("HTTP 500"), "{reason}");
            assert!(
                reason.contains("unscripted call to tool `extract_facts`"),
                "{reason}"
            );
            // The input follows (truncated with the rest of the body).
            assert!(reason.contains(r"Input:\n## Speakers"), "{reason}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Rules are per tool: the Lisbon rule does not answer extract_entities.
    server.respond_with(|request| match request.tool.as_str() {
        "extract_entities" => {
            Reply::json(json!({"entities": [{"name": "Responder", "type": "Person"}]}))
        }
        _ => Reply::status(418),
    });
    let entities = llm.extract_entities(&extraction_input()).await.unwrap();
    assert_eq!(entities.value[0].name, "Responder");
    assert!(matches!(
        facts(&llm, "Rome").await,
        Err(LlmError::Rejected { .. })
    ));
    assert_eq!(server.calls("extract_entities"), 1);
    assert_eq!(
        server.calls("extract_facts"),
        3 + (MAX_RETRIES + 1) as usize + 1
    );
}

fn judge_call() -> JsonSchemaCall {
    JsonSchemaCall {
        name: "judge_answer",
        schema: json!({
            "type": "object",
            "properties": {"label": {"type": "string"}},
            "required": ["label"],
            "additionalProperties": false,
        }),
        system: "Label the answer CORRECT or WRONG.".to_owned(),
        user: "## Gold answer\nTom".to_owned(),
    }
}

/// A call outside the six tools asks in `json_schema` mode whatever `output` says, at
/// temperature 0, and gets back the object; a non-object is retried like a malformed tool
/// answer, and counted.
#[tokio::test]
async fn a_json_schema_call_returns_the_object_and_retries_anything_else() {
    let (server, llm) = setup(OutputMode::Tools).await;
    server
        .on("judge_answer")
        .containing("never")
        .reply(Reply::raw("not json"));
    server
        .on("judge_answer")
        .once()
        .reply(Reply::raw("[\"CORRECT\"]"));
    server
        .on("judge_answer")
        .reply(Reply::json(json!({"label": "CORRECT"})));
    let answer = llm.call_json_schema(&judge_call()).await.unwrap();
    assert_eq!(answer.value, json!({"label": "CORRECT"}));
    assert_eq!(answer.usage.calls, 2);
    let requests = server.requests_to("judge_answer");
    assert!(requests.iter().all(|r| r.mode == ScriptedMode::JsonSchema
        && r.system == "Label the answer CORRECT or WRONG."
        && r.input == "## Gold answer\nTom"
        && r.body["temperature"] == 0.0
        && r.body["response_format"]["json_schema"]["strict"] == true));

    let call = JsonSchemaCall {
        user: "never".to_owned(),
        ..judge_call()
    };
    match llm.call_json_schema(&call).await {
        Err(LlmError::Malformed { tool, attempts, .. }) => {
            assert_eq!((tool, attempts), ("judge_answer", MAX_RETRIES + 1));
        }
        other => panic!("{other:?}"),
    }
}

/// `auto` against a server that honours forced tools: every call is a tool call, one
/// request per call, and nothing ever asks in `json_schema` mode.
#[tokio::test]
async fn auto_keeps_tools_where_the_server_honours_them() {
    let (server, llm) = setup(OutputMode::Auto).await;
    server.respond_with(|req| Reply::json(good_answer(&req.tool)));
    for tool in TOOLS.iter().chain(TOOLS.iter()) {
        let (_, usage) = call(&llm, tool)
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(usage.calls, 1, "{tool}");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2 * TOOLS.len());
    assert!(requests.iter().all(|r| r.mode == ScriptedMode::Tools));
}

/// `auto` against servers that do not honour forced tools in each way seen in the wild:
/// the first call notices, goes on at once in `json_schema` mode without spending a retry,
/// and every later call asks in `json_schema` mode straight away.
#[tokio::test]
async fn auto_falls_back_to_json_schema_when_forced_tools_are_ignored() {
    let ignoring = [
        (
            "text instead of a call",
            Reply::content("Alice lives in Lisbon."),
        ),
        (
            "arguments that are not JSON",
            Reply::raw("<tool_call>facts: Lisbon"),
        ),
        ("the tools request refused", Reply::status(400)),
    ];
    for (what, tools_reply) in ignoring {
        let server = ScriptedLlm::start().await;
        let llm = OpenAiLlm::new(LlmConfig {
            max_retries: 0,
            ..config(&server, OutputMode::Auto)
        })
        .expect("build the LLM client");
        server.respond_with(move |req| match req.mode {
            ScriptedMode::Tools => tools_reply.clone(),
            ScriptedMode::JsonSchema => Reply::json(good_answer(&req.tool)),
        });
        let first = llm
            .extract_facts(&extraction_input())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            first.value,
            vec!["Alice lives in Lisbon".to_owned()],
            "{what}"
        );
        assert_eq!(
            first.usage.calls, 2,
            "{what}: the probe and the json_schema call"
        );
        for tool in TOOLS {
            let (_, usage) = call(&llm, tool)
                .await
                .unwrap_or_else(|e| panic!("{what} {tool}: {e}"));
            assert_eq!(usage.calls, 1, "{what} {tool}");
        }
        let modes: Vec<ScriptedMode> = server.requests().iter().map(|r| r.mode).collect();
        assert_eq!(modes[0], ScriptedMode::Tools, "{what}");
        assert!(
            modes[1..].iter().all(|m| *m == ScriptedMode::JsonSchema),
            "{what}: {modes:?}"
        );
        assert_eq!(modes.len(), 2 + TOOLS.len(), "{what}");
    }
}

/// Under `auto`, an answer that is valid JSON but does not fit the tool is an ordinary
/// malformed answer of a server that does honour tools: retried in tools mode, no switch.
#[tokio::test]
async fn auto_does_not_switch_on_a_wrong_but_json_tool_answer() {
    let (server, llm) = setup(OutputMode::Auto).await;
    server
        .on("extract_facts")
        .once()
        .reply(Reply::json(json!({"facts": [""]})));
    server.respond_with(|req| Reply::json(good_answer(&req.tool)));
    let answer = llm
        .extract_facts(&extraction_input())
        .await
        .expect("retried");
    assert_eq!(answer.usage.calls, 2);
    call(&llm, "extract_entities").await.expect("a later call");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.mode == ScriptedMode::Tools)
    );
}

/// A fixed `tools` mode never switches, whatever the server does.
#[tokio::test]
async fn fixed_tools_mode_never_switches() {
    let (server, llm) = setup(OutputMode::Tools).await;
    server.respond_with(|req| match req.mode {
        ScriptedMode::Tools => Reply::content("Alice lives in Lisbon."),
        ScriptedMode::JsonSchema => Reply::json(good_answer(&req.tool)),
    });
    assert!(matches!(
        llm.extract_facts(&extraction_input()).await,
        Err(LlmError::Malformed { attempts, .. }) if attempts == MAX_RETRIES + 1
    ));
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.mode == ScriptedMode::Tools)
    );
}

#[test]
fn output_modes_parse_from_their_config_names() {
    for (name, mode) in [
        ("tools", OutputMode::Tools),
        ("json_schema", OutputMode::JsonSchema),
        ("auto", OutputMode::Auto),
    ] {
        assert_eq!(name.parse::<OutputMode>(), Ok(mode));
    }
    let err = "xml".parse::<OutputMode>().unwrap_err();
    assert!(err.contains("`tools`, `json_schema` or `auto`"), "{err}");
    assert_eq!(OutputMode::default(), OutputMode::Auto);
}
