//! Every response carries an `x-request-id`: the client's when it is sane, else a new UUID.

use axum::body::Body;
use axum::http::Request;
use mnemo_server::{AppState, REQUEST_ID_HEADER};

use crate::send;

enum Expect {
    /// The id sent is echoed.
    Echoed,
    /// A fresh UUID replaces it.
    Fresh,
}

async fn check(path: &str, sent: Option<&str>, expect: Expect) {
    let mut builder = Request::builder().uri(path);
    if let Some(sent) = sent {
        builder = builder.header(REQUEST_ID_HEADER, sent);
    }
    let reply = send(&AppState::new(), builder.body(Body::empty()).unwrap()).await;
    let echoed = reply.headers[REQUEST_ID_HEADER].to_str().unwrap();
    match expect {
        Expect::Echoed => assert_eq!(Some(echoed), sent),
        Expect::Fresh => {
            let id = uuid::Uuid::parse_str(echoed)
                .unwrap_or_else(|err| panic!("{echoed:?} is not a UUID: {err}"));
            assert_eq!(id.get_version_num(), 7);
            assert_ne!(Some(echoed), sent);
        }
    }
}

#[tokio::test]
async fn request_ids() {
    let long = "a".repeat(129);
    let longest = "b".repeat(128);
    for path in ["/healthz", "/readyz", "/no-such-route"] {
        check(path, None, Expect::Fresh).await;
        check(path, Some("req-42"), Expect::Echoed).await;
        check(
            path,
            Some("0190c1a2-7f00-7000-8000-000000000000"),
            Expect::Echoed,
        )
        .await;
        check(path, Some(&longest), Expect::Echoed).await;
        check(path, Some(&long), Expect::Fresh).await;
        check(path, Some(""), Expect::Fresh).await;
        check(path, Some("two words"), Expect::Fresh).await;
        check(path, Some("tab\there"), Expect::Fresh).await;
    }
}

#[tokio::test]
async fn fresh_ids_differ() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let reply = send(
            &AppState::new(),
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let id = reply.headers[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(seen.insert(id), "request ids repeat");
    }
}
