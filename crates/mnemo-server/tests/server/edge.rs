//! One client cannot stall, confuse or stop the service: strict query strings, text the
//! full-text engines cannot take, bounded queries, limits on the request head answered in
//! our error shape, an early 413, and read deadlines on a real socket.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use mnemo_server::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_URI_BYTES, ServerSettings};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::{App, app, app_with, error_of, fresh_user, send};

/// Adds one plain fact for `user`, so reads have something to find.
async fn remember(app: &App, user: &str, text: &str) {
    let reply = app
        .post(
            "/v1/memories",
            json!({"user_id": user, "infer": false,
                   "messages": [{"role": "user", "content": text}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

async fn fact_texts(app: &App, query: &str) -> (u16, Vec<String>) {
    let reply = app.get(&format!("/v1/memories?{query}")).await;
    let texts = reply.body["facts"]
        .as_array()
        .map(|facts| {
            facts
                .iter()
                .map(|f| f["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (reply.status.as_u16(), texts)
}

#[tokio::test]
async fn query_strings_that_are_not_utf8_are_refused_not_merged() {
    let app = app().await;
    remember(&app, "\u{e9}", "I am user e-acute").await;
    let cases = [
        ("user_id=%FF", 400, "malformed_query"),
        ("user_id=%FE", 400, "malformed_query"),
        ("user_id=%C3", 400, "malformed_query"),
        ("user_id=ok&agent_id=%C3%28", 400, "malformed_query"),
        ("us%FFer_id=x", 400, "malformed_query"),
        ("user_id=%C3%A9", 200, ""),
        ("user_id=%c3%a9", 200, ""),
    ];
    for (query, status, code) in cases {
        let reply = app.get(&format!("/v1/memories?{query}")).await;
        if status == 200 {
            assert_eq!(reply.status, 200, "{query}: {reply:?}");
        } else {
            assert_eq!(error_of(&reply), (status, code), "{query}: {reply:?}");
            let message = reply.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("UTF-8"), "{query}: {message}");
        }
    }
    // The percent-encoded é reads e-acute's fact; nothing else does.
    assert_eq!(
        fact_texts(&app, "user_id=%C3%A9").await,
        (200, vec!["I am user e-acute".to_owned()])
    );
}

#[tokio::test]
async fn control_characters_and_overlong_queries_are_422_never_503() {
    let app = app().await;
    let user = fresh_user("edge");
    remember(&app, &user, "Ann likes jazz").await;
    let search = |query: String| json!({"user_id": user, "query": query});
    let add = |content: &str| {
        json!({"user_id": user, "infer": false,
               "messages": [{"role": "user", "content": content}]})
    };
    let long = "jazz ".repeat(1000);
    let cases = [
        ("/v1/search", search("Ann\u{0} likes".into()), 422, "U+0000"),
        ("/v1/search", search("bell\u{7}".into()), 422, "U+0007"),
        ("/v1/search", search(long), 422, "at most 4096 characters"),
        (
            "/v1/memories",
            add("Ann\u{0} likes"),
            422,
            "messages[0].content",
        ),
        ("/v1/memories", add("esc \u{1b}[31m"), 422, "U+001B"),
        ("/v1/search", search("Ann\tlikes\njazz".into()), 200, ""),
        ("/v1/search", search("jazz ".repeat(800)), 200, ""),
    ];
    for (uri, body, status, says) in cases {
        let reply = app.post(uri, body.clone()).await;
        if status == 200 {
            assert_eq!(reply.status, 200, "{body}: {reply:?}");
            continue;
        }
        assert_eq!(
            error_of(&reply),
            (status, "invalid_request"),
            "{body}: {reply:?}"
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // Nothing was half-written: the scope holds exactly its first fact.
    let (status, texts) = fact_texts(&app, &format!("user_id={user}")).await;
    assert_eq!((status, texts), (200, vec!["Ann likes jazz".to_owned()]));
}

type Headers = Vec<(String, String)>;

fn request_with(uri: &str, headers: &[(String, String)]) -> Request<Body> {
    let mut builder = Request::builder().method("GET").uri(uri);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn limits_on_the_request_head_answer_in_our_error_shape() {
    let app = app().await;
    let user = fresh_user("edge");
    let memories = format!("/v1/memories?user_id={user}");
    let padded_uri = |len: usize| format!("{memories}&agent_id={}", "a".repeat(len));
    let fields = |count: usize, size: usize| -> Headers {
        (0..count)
            .map(|i| (format!("x-pad-{i}"), "v".repeat(size)))
            .collect()
    };
    let cases: Vec<(String, Headers, u16, &str)> = vec![
        (memories.clone(), Vec::new(), 200, ""),
        (padded_uri(200), Vec::new(), 200, ""),
        (padded_uri(MAX_URI_BYTES), Vec::new(), 414, "uri_too_long"),
        (
            memories.clone(),
            fields(MAX_HEADER_FIELDS / 2, 100),
            200,
            "",
        ),
        (
            memories.clone(),
            fields(MAX_HEADER_FIELDS + 1, 1),
            431,
            "headers_too_large",
        ),
        (
            memories.clone(),
            fields(4, MAX_HEADER_BYTES / 4),
            431,
            "headers_too_large",
        ),
    ];
    for (uri, headers, status, code) in cases {
        let reply = send(&app.state, request_with(&uri, &headers)).await;
        let case = format!("uri {} bytes, {} headers", uri.len(), headers.len());
        if status == 200 {
            assert_eq!(reply.status, 200, "{case}: {reply:?}");
        } else {
            assert_eq!(error_of(&reply), (status, code), "{case}: {reply:?}");
        }
    }
}

/// A server on a real socket with a short read deadline.
async fn served(read_timeout: Duration) -> (App, SocketAddr) {
    let settings = ServerSettings {
        read_timeout,
        body_limit_bytes: 1024 * 1024,
        ..ServerSettings::default()
    };
    let app = app_with(settings, false).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mnemo_server::serve(
        listener,
        app.state.clone(),
        std::future::pending(),
    ));
    (app, addr)
}

/// Writes `head` (and nothing more), then reads until the server answers or closes:
/// the status (None when it closed without an answer), the body and the time it took.
async fn send_partial(addr: SocketAddr, head: &str) -> (Option<u16>, String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("the server answers or closes in time");
    // A reset after the answer still leaves the answer read.
    let _ = read;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok());
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body, started.elapsed())
}

#[tokio::test]
async fn slow_or_oversized_requests_are_cut_off_on_a_real_socket() {
    let read_timeout = Duration::from_secs(1);
    let (_app, addr) = served(read_timeout).await;
    let post = |length: usize, sent: &str| {
        format!(
            "POST /v1/search HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: {length}\r\n\r\n{sent}"
        )
    };

    // A declared length over the limit is refused before any body byte is sent.
    let (status, body, took) = send_partial(addr, &post(10 << 20, "")).await;
    assert_eq!(status, Some(413), "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "payload_too_large"
    );
    assert!(took < read_timeout, "answered at once, took {took:?}");

    // A search body declared over the search limit, though under the body limit.
    let (status, body, took) =
        send_partial(addr, &post(mnemo_server::MAX_SEARCH_BODY_BYTES + 1, "")).await;
    assert_eq!(status, Some(413), "{body}");
    assert!(took < read_timeout, "answered at once, took {took:?}");

    // Half a body: 408 in our shape once the deadline passes.
    let (status, body, took) = send_partial(addr, &post(100, r#"{"user_id": "u", "#)).await;
    assert_eq!(status, Some(408), "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "request_timeout"
    );
    assert!(took >= read_timeout, "{took:?}");

    // Half a header section: the connection is closed after the deadline.
    let (status, _, took) = send_partial(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    assert!(
        status.is_none() || status == Some(408),
        "no normal answer to half a head: {status:?}"
    );
    assert!(
        took >= read_timeout && took < Duration::from_secs(15),
        "{took:?}"
    );

    // And the service still answers everyone else.
    let (status, _, _) = send_partial(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, Some(200));
}

/// A self-loop triplet is not stored, and the answer says so instead of dropping it
/// silently.
#[tokio::test]
async fn a_self_loop_triplet_is_reported_as_skipped() {
    let app = app().await;
    let user = fresh_user("edge");
    let reply = app
        .post(
            "/v1/relations",
            json!({"user_id": user, "relations": [
                {"source": {"name": "Alice", "type": "Person"}, "relation": "KNOWS",
                 "target": {"name": "alice", "type": "Person"}},
                {"source": {"name": "Alice", "type": "Person"}, "relation": "KNOWS",
                 "target": {"name": "Bob", "type": "Person"}}
            ]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let relations = &reply.body["relations"];
    assert_eq!(relations["added"].as_array().unwrap().len(), 1, "{reply:?}");
    assert_eq!(
        relations["skipped"],
        json!([{"source": "Alice", "relation": "KNOWS", "target": "alice",
                "reason": "source and target are the same entity"}])
    );
}
