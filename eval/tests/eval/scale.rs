//! `eval scale` at a small size: every number of the report is there and plausible.

use mnemo_eval::scale::{self, ScaleOptions};

use crate::support::embed_config;

#[tokio::test]
async fn a_small_scale_run_reports_latency_throughput_size_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let llm = mnemo_testkit::zero_latency_llm::start().await;
    let options = ScaleOptions {
        relations: 600,
        out: dir.path().to_path_buf(),
        queries: 5,
        adds: 4,
        ingest_llm_url: Some(llm.base_url()),
        progress: false,
    };
    let report = scale::run(&options, &embed_config())
        .await
        .expect("scale run");
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {report}"))
    };
    assert!(number("search_p50_ms") > 0.0);
    assert!(number("search_p95_ms") >= number("search_p50_ms"));
    assert!(number("ingest_relations_per_s") > 0.0);
    assert!(number("rss_mb") > 10.0);
    assert!(number("store_mb") > 0.0);
    assert_eq!(report["relations"], 600);
    assert_eq!(report["scopes"], 2);
    // Each add says where a person lives and works: two relations.
    assert_eq!(report["ingest"]["relations"], 8);
    for depth in ["1", "2", "3"] {
        let d = &report["search_depth"][depth];
        assert!(d["engine_p95_ms"].as_f64().unwrap() > 0.0, "{d}");
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| 2 |") && md.contains("relations/s"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json, report);
}
