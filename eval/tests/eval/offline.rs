//! `eval locomo` offline on the tiny slice: what is ingested, what is reported.

use mnemo_core::Scope;
use mnemo_core::ports::{GraphRead, Page, VectorRead};
use mnemo_embedded::EmbeddedStore;
use mnemo_eval::locomo::{self, LocomoOptions, Mode};
use serde_json::Value;

use crate::support::{embed_config, questions, write_slice};

async fn run(mode: Mode) -> (tempfile::TempDir, Value) {
    let (dir, data) = write_slice();
    let options = LocomoOptions {
        data,
        mode,
        out: dir.path().join("out"),
        llm: None,
        store: Some(dir.path().join("store")),
        conversations: Vec::new(),
        sessions: None,
        answers: true,
        progress: false,
    };
    let report = locomo::run(&options, &embed_config())
        .await
        .expect("locomo run");
    (dir, report)
}

/// The store a run kept in `dir`, and the tiny conversation's scope.
fn tiny_store(dir: &tempfile::TempDir) -> (EmbeddedStore, Scope) {
    let store = EmbeddedStore::open(&dir.path().join("store"), mnemo_fastembed::DIMENSION).unwrap();
    (store, Scope::user("locomo-conv-tiny").unwrap())
}

async fn stored_facts(store: &EmbeddedStore, scope: &Scope) -> Vec<mnemo_core::Fact> {
    let page = Page {
        limit: 100,
        offset: 0,
    };
    store.facts(scope, page).await.unwrap()
}

#[tokio::test]
async fn turns_are_ingested_with_their_ids_dates_and_captions_never_the_query() {
    let (dir, _) = run(Mode::Turns).await;
    let (store, scope) = tiny_store(&dir);
    let facts = stored_facts(&store, &scope).await;
    let mut got: Vec<(String, String, String)> = facts
        .iter()
        .map(|f| {
            let index = f.metadata["message_index"].as_u64().unwrap() as usize;
            let ids = &f.metadata["locomo"]["dia_ids"][index];
            (
                ids.to_string(),
                f.text.clone(),
                f.metadata["locomo"]["date"].to_string(),
            )
        })
        .collect();
    got.sort();
    let expected = [
        (r#"["D1:1"]"#, "Ann: Hey Bo! Long time no see.", r#""2023-05-08""#),
        (
            r#"["D1:2"]"#,
            "Ann: I adopted a kitten last week, I named him Tom. [shares photo: a photo of a grey kitten]",
            r#""2023-05-08""#,
        ),
        (
            r#"["D1:3"]"#,
            "Bo: Lovely! I am flying to Lisbon for a conference in June.",
            r#""2023-05-08""#,
        ),
        (r#"["D1:4"]"#, "Ann: Have fun, and try the pastries there.", r#""2023-05-08""#),
        (r#"["D2:1"]"#, "Bo: Back from Lisbon, the conference was great.", r#""2023-06-20""#),
        (r#"["D2:2"]"#, "Ann: Tom broke my favourite vase yesterday.", r#""2023-06-20""#),
        (r#"["D2:3"]"#, "Bo: Oh no! I started learning the cello this month.", r#""2023-06-20""#),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(got, expected);
    assert!(facts.iter().all(|f| !f.text.contains("zanzibar")));

    // One episode per session, stamped with the session's time.
    let episodes = store
        .recent_episodes(&scope, chrono::Utc::now() + chrono::Duration::days(1), 10)
        .await
        .unwrap();
    let mut dates: Vec<String> = episodes
        .iter()
        .map(|e| e.occurred_at.to_rfc3339())
        .collect();
    dates.sort();
    assert_eq!(
        dates,
        ["2023-05-08T13:56:00+00:00", "2023-06-20T10:00:00+00:00"]
    );
}

#[tokio::test]
async fn the_report_has_every_system_category_and_output() {
    let (dir, report) = run(Mode::Turns).await;
    let out = dir.path().join("out");

    // Three questions of categories 1-4 have evidence (the malformed id of the fifth is
    // dropped); category 5 is reported apart.
    assert_eq!(report["overall_1_4"]["questions"], 3);
    assert_eq!(report["categories"]["5"]["questions"], 1);
    assert_eq!(report["categories"]["3"]["questions"], 0);
    assert_eq!(report["questions"]["total"], 5);
    for block in [
        &report["overall_1_4"],
        &report["baselines"]["bm25"]["overall_1_4"],
        &report["baselines"]["vector"]["overall_1_4"],
    ] {
        for key in [
            "recall@1",
            "recall@10",
            "recall@50",
            "hit@10",
            "mrr",
            "full@500",
            "full@1000",
            "full@4000",
        ] {
            let value = block[key].as_f64().unwrap_or(-1.0);
            assert!((0.0..=1.0).contains(&value), "{key}: {block}");
        }
    }
    assert!(report["latency_ms"]["search_p50"].as_f64().unwrap() > 0.0);
    assert!(
        report["latency_ms"]["search_p95"].as_f64().unwrap()
            >= report["latency_ms"]["search_p50"].as_f64().unwrap()
    );
    let latency = &report["latency_ms"];
    let (all, engine) = (
        latency["search_p50"].as_f64(),
        latency["engine_p50"].as_f64(),
    );
    assert!(engine.unwrap() <= all.unwrap(), "{latency}");
    assert!(
        latency["embedding_p95"].as_f64().unwrap() > 0.0,
        "{latency}"
    );
    let conversation = &report["conversations"]["conv-tiny"];
    assert_eq!(
        (
            conversation["sessions"].as_u64(),
            conversation["items"].as_u64()
        ),
        (Some(2), Some(7))
    );

    // The question whose one evidence turn is the only one about a kitten: first for mnemo
    // and for BM25.
    let kitten = questions(&out)
        .into_iter()
        .find(|q| q["question"] == "What is the name of Ann's kitten?")
        .unwrap();
    assert_eq!(kitten["evidence"], serde_json::json!(["D1:2"]));
    assert_eq!(kitten["retrieved"][0], "D1:2");
    assert_eq!(kitten["scores"]["mnemo"]["mrr"], 1.0);
    assert_eq!(kitten["scores"]["bm25"]["mrr"], 1.0);
    // The default search (limit 10) finds it too, and the report averages that recall.
    assert_eq!(kitten["default_recall@10"], 1.0);
    let default_recall = report["default_search_recall@10"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=1.0).contains(&default_recall), "{default_recall}");
    let multi = questions(&out)
        .into_iter()
        .find(|q| q["category"] == 1)
        .unwrap();
    assert_eq!(multi["evidence"], serde_json::json!(["D2:2", "D2:3"]));

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "| mnemo |",
        "| BM25 |",
        "| vector |",
        "1 multi-hop",
        "conv-tiny",
    ] {
        assert!(md.contains(needle), "{needle} in {md}");
    }
    let png = std::fs::read(out.join("recall.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json, report);
}

#[tokio::test]
async fn observations_carry_their_evidence_ids() {
    let (dir, report) = run(Mode::Observations).await;
    assert_eq!(report["mode"], "observations");
    assert_eq!(report["conversations"]["conv-tiny"]["items"], 4);
    let kitten = questions(&dir.path().join("out"))
        .into_iter()
        .find(|q| q["question"] == "What is the name of Ann's kitten?")
        .unwrap();
    assert_eq!(kitten["retrieved"][0], "D1:2");
}

/// A reply that repeats none of the question's words is found through the message it
/// answers (mnemo's full-text match credits the next message), where BM25 ranks it low.
#[tokio::test]
async fn a_reply_is_found_through_the_message_it_answers() {
    let turns = [
        (
            "Ann",
            "Hi Bo, I finished reading Becoming Nicole last night.",
        ),
        ("Bo", "Nice! What did you take away from Becoming Nicole?"),
        (
            "Ann",
            "It taught me self-acceptance and how to find support.",
        ),
        ("Bo", "I went hiking with my dog on Sunday."),
        ("Ann", "My garden is full of tomatoes this summer."),
        ("Bo", "My sister visits us next week."),
        ("Ann", "I painted a lake at sunrise."),
        ("Bo", "Our team won the chess tournament."),
    ];
    let session: Vec<serde_json::Value> = turns
        .iter()
        .enumerate()
        .map(|(i, (speaker, text))| serde_json::json!({"speaker": speaker, "dia_id": format!("D1:{}", i + 1), "text": text}))
        .collect();
    let slice = serde_json::json!([{
        "sample_id": "conv-reply",
        "conversation": {"speaker_a": "Ann", "speaker_b": "Bo",
                         "session_1_date_time": "1:00 pm on 2 May, 2023", "session_1": session},
        "qa": [{"question": "What did Ann take away from the book Becoming Nicole?",
                "answer": "self-acceptance", "evidence": ["D1:3"], "category": 4}]
    }]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("reply.json");
    std::fs::write(&data, slice.to_string()).unwrap();
    let options = LocomoOptions {
        data,
        mode: Mode::Turns,
        out: dir.path().join("out"),
        llm: None,
        store: None,
        conversations: Vec::new(),
        sessions: None,
        answers: true,
        progress: false,
    };
    locomo::run(&options, &embed_config()).await.unwrap();
    let question = &questions(&dir.path().join("out"))[0];
    let mnemo = question["scores"]["mnemo"]["mrr"].as_f64().unwrap();
    let bm25 = question["scores"]["bm25"]["mrr"].as_f64().unwrap();
    let vector = question["scores"]["vector"]["mrr"].as_f64().unwrap();
    // Among the two messages that name the book: right after them, or before Bo's since
    // the query names Ann, who said it.
    let place = question["retrieved"]
        .as_array()
        .unwrap()
        .iter()
        .position(|id| id == "D1:3");
    assert!(place.is_some_and(|p| p < 3), "{question}");
    assert!(mnemo > bm25 && mnemo > vector, "{question}");
}

/// `--sessions 1`: only the first session is ingested, and only the questions whose
/// evidence lies in it are asked; the selection and the graph size are reported.
#[tokio::test]
async fn the_first_sessions_only_with_their_questions() {
    let (dir, data) = write_slice();
    let options = LocomoOptions {
        data,
        mode: Mode::Turns,
        out: dir.path().join("out"),
        llm: None,
        store: Some(dir.path().join("store")),
        conversations: vec!["conv-tiny".into()],
        sessions: Some(1),
        answers: true,
        progress: false,
    };
    let report = locomo::run(&options, &embed_config())
        .await
        .expect("locomo run");
    let asked = questions(&dir.path().join("out"));
    assert_eq!(asked.len(), 3, "{asked:?}");
    for question in &asked {
        let evidence = question["evidence"].to_string();
        assert!(
            evidence.contains("D1:") && !evidence.contains("D2:"),
            "{question}"
        );
    }
    assert_eq!(report["selection"]["sessions"], 1);
    assert_eq!(
        report["graph"]["relations"], 0,
        "infer: false adds no relation"
    );

    let (store, scope) = tiny_store(&dir);
    let facts = stored_facts(&store, &scope).await;
    assert_eq!(facts.len(), 4, "the four turns of session 1");

    let none = LocomoOptions {
        conversations: vec!["no-such-conversation".into()],
        out: dir.path().join("out-none"),
        store: None,
        ..options
    };
    let err = locomo::run(&none, &embed_config()).await.unwrap_err();
    assert!(err.to_string().contains("no conversation"), "{err}");
}
