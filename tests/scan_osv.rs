//! The OSV lookup of `gitops-bridge scan` against a stand-in OSV server on loopback that
//! answers `POST /v1/querybatch` with recorded answers of the real shape
//! (`tests/data/scan/osv/querybatch.json`); the cache and `--offline`.

mod scan_common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::{Json, Router, extract::State, routing::post};
use scan_common::write;
use serde_json::{Value, json};

struct Fake {
    answers: Value,
    calls: AtomicUsize,
}

async fn querybatch(State(f): State<Arc<Fake>>, Json(body): Json<Value>) -> Json<Value> {
    f.calls.fetch_add(1, Ordering::SeqCst);
    let results: Vec<Value> = body["queries"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .map(|q| {
                    let key = format!(
                        "{}|{}|{}",
                        q["package"]["ecosystem"].as_str().unwrap_or(""),
                        q["package"]["name"].as_str().unwrap_or(""),
                        q["version"].as_str().unwrap_or("")
                    );
                    f.answers["answers"].get(&key).cloned().unwrap_or(json!({}))
                })
                .collect()
        })
        .unwrap_or_default();
    Json(json!({ "results": results }))
}

/// Starts the stand-in on its own thread and runtime (the scan makes its own runtime).
fn fake_osv() -> (SocketAddr, Arc<Fake>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/scan/osv/querybatch.json"
    ))
    .expect("recorded answers");
    let fake = Arc::new(Fake {
        answers: serde_json::from_str(&text).expect("JSON"),
        calls: AtomicUsize::new(0),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let state = fake.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = Router::new()
                .route("/v1/querybatch", post(querybatch))
                .with_state(state);
            let _ = axum::serve(l, app).await;
        });
    });
    (addr, fake)
}

fn repo(root: &Path) {
    write(
        root,
        "custom_components/old/manifest.json",
        r#"{"domain": "old", "name": "Old", "version": "1.0.0",
  "requirements": ["requests==2.19.1", "aiohttp>=3"]}
"#,
    );
    write(
        root,
        ".github/workflows/ci.yml",
        "on: push\npermissions: {contents: read}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: tj-actions/changed-files@v45.0.7\n      - uses: evil-org/stealer@v1.0.0\n      - uses: actions/checkout@v4.2.2\n",
    );
}

fn scan(root: &Path, cache: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gitops-bridge"))
        .args([
            "scan",
            "--min-severity",
            "info",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(cache)
        .args(extra)
        .arg(root)
        .output()
        .expect("binary runs")
}

fn codes_at(o: &Output) -> Vec<(String, String, u64)> {
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    v["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["file"].as_str().unwrap_or("").to_string(),
                d["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn vulnerable_requirements_and_actions_are_reported_then_served_from_the_cache() {
    let (addr, fake) = fake_osv();
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("cache dir");
    repo(dir.path());
    let url = format!("http://{addr}");
    let o = scan(dir.path(), cache.path(), &["--osv-url", &url]);
    let found = codes_at(&o);
    let has = |c: &str, f: &str, l: u64| found.iter().any(|x| x.0 == c && x.1 == f && x.2 == l);
    assert!(
        has(
            "dependency-vulnerable",
            "custom_components/old/manifest.json",
            2
        ),
        "{found:?}"
    );
    assert!(
        has("dependency-vulnerable", ".github/workflows/ci.yml", 7),
        "{found:?}"
    );
    assert!(
        has("dependency-compromised", ".github/workflows/ci.yml", 7),
        "built-in list: {found:?}"
    );
    assert!(
        has("dependency-compromised", ".github/workflows/ci.yml", 8),
        "MAL- advisory: {found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|x| x.0 == "dependency-vulnerable" && x.2 == 9),
        "clean action: {found:?}"
    );
    assert!(
        !found.iter().any(|x| x.0 == "dependency-unchecked"),
        "{found:?}"
    );
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        1,
        "one batch for all dependencies"
    );

    // Offline: the same answers from the cache, no request.
    let o = scan(dir.path(), cache.path(), &["--osv-url", &url, "--offline"]);
    assert_eq!(codes_at(&o), found);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn offline_without_cache_and_unreachable_osv_say_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = tempfile::tempdir().expect("cache dir");
    repo(dir.path());
    let o = scan(dir.path(), cache.path(), &["--offline"]);
    assert!(codes_at(&o).iter().any(|x| x.0 == "dependency-unchecked"));
    // A port nobody listens on: a finding, not a failed run.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let o = scan(dir.path(), cache.path(), &["--osv-url", &url]);
    assert_ne!(o.status.code(), Some(2));
    assert!(codes_at(&o).iter().any(|x| x.0 == "dependency-unchecked"));
}
