//! `serve` over a real socket: it answers HTTP/1.1, stops when its shutdown future
//! completes, and returns once background episodes have finished.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mnemo_embedded::EmbeddedStore;
use mnemo_server::AppState;

use mnemo_testkit::scripted_llm::Reply;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::embedder;

/// One `GET` on a fresh connection: the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Sends `request` on a fresh connection and reads the answer to its end: the status
/// code and the body.
async fn exchange(addr: SocketAddr, request: String) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[tokio::test]
async fn serves_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path(), mnemo_fastembed::DIMENSION).unwrap());
    let released = Arc::downgrade(&store);
    let state = AppState::ready(store.clone(), store, embedder());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(mnemo_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    assert_eq!(
        get(addr, "/healthz").await.unwrap(),
        (200, r#"{"status":"ok"}"#.to_owned())
    );
    assert_eq!(
        get(addr, "/readyz").await.unwrap(),
        (
            200,
            r#"{"status":"ready","checks":{"graph_store":"ok","vector_store":"ok","embedder":"ok"}}"#.to_owned()
        )
    );
    // A keep-alive connection left idle must not hold the shutdown up.
    let idle = TcpStream::connect(addr).await.unwrap();

    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns soon after shutdown")
        .expect("serve does not panic");
    result.expect("serve returns Ok");
    drop(idle);
    assert!(
        released.upgrade().is_none(),
        "serve keeps no reference to the store after it returns"
    );
    assert!(
        get(addr, "/healthz").await.is_err(),
        "the listener is closed after shutdown"
    );
}

/// One JSON `POST` on a fresh connection: the status code and the body.
async fn post(addr: SocketAddr, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, request).await
}

#[tokio::test]
async fn serve_finishes_background_episodes_after_the_last_request() {
    let app = crate::app_with_llm().await;
    app.llm()
        .respond_with(|request| match request.tool.as_str() {
            "extract_entities" => {
                Reply::json(serde_json::json!({"entities": []})).after(Duration::from_millis(800))
            }
            "establish_relations" => Reply::json(serde_json::json!({"relations": []})),
            "extract_facts" => Reply::json(serde_json::json!({"facts": []})),
            _ => Reply::status(500),
        });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(mnemo_server::serve(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));

    let body = r#"{"messages":[{"role":"user","content":"Hi"}],"user_id":"alice"}"#;
    let (status, answer) = post(addr, "/v1/memories?wait=false", body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let episode = answer["episode_id"].as_str().unwrap().to_owned();

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("serve returns once the background work is done")
        .expect("serve does not panic")
        .expect("serve returns Ok");
    assert_eq!(app.state.background_tasks(), 0);
    let reply = crate::send(
        &app.state,
        crate::request("GET", &format!("/v1/episodes/{episode}?user_id=alice")),
    )
    .await;
    assert_eq!(reply.body["status"], "done", "{reply:?}");
}
