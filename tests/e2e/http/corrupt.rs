//! A store holding undecodable rows (written before the timestamp range was enforced,
//! planted here with SQL) still starts, resumes its pending episodes and serves every
//! read of the scope; the skipped rows show in `/metrics` and in `mnemo check`
//! (issues 20 and 21).

use rustix::process::Signal;
use serde_json::json;

use super::{Api, fresh_user};
use crate::mnemo;

/// SIGTERM, and the clean exit it must give.
fn stop(api: Api) {
    let Api { server, .. } = api;
    server.signal(Signal::TERM);
    let (status, stderr) = tokio::task::block_in_place(|| server.wait());
    assert_eq!(status.code(), Some(0), "{stderr}");
}

fn triplet(relation: &str, target: &str, kind: &str) -> serde_json::Value {
    json!({
        "source": {"name": "Alice", "type": "Person"},
        "relation": relation,
        "target": {"name": target, "type": kind},
        "valid_from": "2020-01-01T00:00:00Z",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_undecodable_rows_starts_resumes_and_serves_the_scope() {
    let store = tempfile::tempdir().unwrap();
    let path = store.path().to_str().unwrap().to_owned();
    let vars = [("MNEMO__STORE__PATH", path.clone())];
    let user = fresh_user("alice");

    let api = Api::start(&vars).await;
    let added = api
        .post(
            "/v1/relations",
            &json!({"user_id": user, "relations": [
                triplet("LIVES_IN", "Boston", "City"),
                triplet("WORKS_AT", "Acme", "Company"),
            ]}),
        )
        .await;
    let added = added.ok().clone();
    let episode = added["episode_id"].as_str().unwrap().to_owned();
    let bad = added["relations"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relation"] == "WORKS_AT")
        .expect("WORKS_AT added")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fact = api
        .post(
            "/v1/memories",
            &json!({"user_id": user, "infer": false,
                    "messages": [{"role": "user", "content": "Alice likes green tea"}]}),
        )
        .await;
    fact.ok();
    stop(api);

    // Year -1 and year 10000 (what chrono writes for them), and the episode pending again,
    // as after a crash between applying its graph ops and marking it done.
    let conn = rusqlite::Connection::open(store.path().join("mnemo.db")).unwrap();
    for sql in [
        "UPDATE relations SET valid_from = '-0001-01-01T00:00:00.000000000Z', \
         valid_to = '+10000-01-01T00:00:00.000000000Z' WHERE id = ?1",
        "UPDATE relation_vectors SET valid_from = '-0001-01-01T00:00:00.000000000Z' \
         WHERE id = ?1",
    ] {
        assert_eq!(conn.execute(sql, [&bad]).unwrap(), 1, "{sql}");
    }
    let pending = "UPDATE episodes SET status = 'pending' WHERE id = ?1";
    assert_eq!(conn.execute(pending, [&episode]).unwrap(), 1);
    drop(conn);

    let api = Api::start(&vars).await;
    let resumed = api.episode_settled(&episode, &user).await;
    assert_eq!(resumed["status"], "done", "{resumed}\n{}", api.stderr());
    let timeline = api.timeline(&user, &[("entity", "Alice")]).await;
    assert_eq!(timeline, ["Alice LIVES_IN Boston [valid]"]);
    for (path, query) in [
        ("/v1/graph/subgraph", vec![("entity", "Alice")]),
        ("/v1/graph/changes", vec![("since", "2000-01-01T00:00:00Z")]),
        ("/v1/memories", vec![]),
    ] {
        let mut all = vec![("user_id", user.as_str())];
        all.extend(query);
        api.get(path, &all).await.ok();
    }
    for body in [
        json!({"user_id": user, "query": "Where does Alice work?"}),
        json!({"user_id": user, "query": "Where does Alice work?", "as_of": "2021-01-01T00:00:00Z"}),
    ] {
        let found = api.post("/v1/search", &body).await;
        assert!(!found.ok().to_string().contains(&bad), "{body}");
    }
    let metrics = api.get("/metrics", &[]).await;
    let skipped: u64 = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("mnemo_store_corrupt_records_skipped_total{store=\"graph\"} "))
        .expect("the skipped-records metric")
        .parse()
        .unwrap();
    assert!(skipped >= 1, "{}", metrics.text);
    assert!(
        api.stderr().contains(&bad),
        "the log names the skipped record: {}",
        api.stderr()
    );
    stop(api);

    let out = mnemo(&["check"], store.path(), &[("MNEMO__STORE__PATH", &path)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("scope user={user}:")))
        .unwrap_or_else(|| panic!("no line for the scope:\n{stdout}"));
    assert!(!line.ends_with(" 0 undecodable skipped"), "{line}");
    assert!(stderr.contains(&bad), "the log names the record: {stderr}");
}
