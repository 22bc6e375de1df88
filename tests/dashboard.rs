//! The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core
//! (`tests/browser/dashboard.mjs`), against the daemon serving the fake GitHub's demo homelab.
//! The script checks what a person sees (a card per repository with charts and health, the
//! allowed buttons, the token form, the result message, live updates, and that the page
//! works behind proxies that mount it under a path prefix: a plain `/gitops/` with no
//! headers, and HA ingress's kind of path, each with and without the trailing slash); this
//! side checks the click reached GitHub.
//!
//! Needs `chromium` (Debian) and `npm ci --prefix tests/browser`; `.ci/run` installs both.
//! `UPDATE_SCREENSHOT=1` copies the screenshot to `docs/dashboard.png`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_github::{FakeGitHub, World};
use serde_json::Value;
use support::{Config, Daemon, Mosquitto};

const API_TOKEN: &str = "dashboard-test-api-token";
const REPO: &str = "homelab-demo/ha-config";

/// ha-config may re-run failed jobs, re-run, roll back and start either workflow; infra may
/// cancel; the rest of both owners are watched with no actions.
const REPOS: &str = "    - name: homelab-demo/ha-config
      allow: [rerun_failed, rerun, rollback, dispatch]
      dispatch: [deploy.yml, validate.yml]
      deploy_workflow: deploy.yml
    - name: homelab-demo/infra
      allow: [cancel]
    - homelab-demo/*
    - homelab-org/*
";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `node` from `$NODE` or the PATH (`which node`).
fn node() -> PathBuf {
    if let Some(n) = std::env::var_os("NODE") {
        return n.into();
    }
    let out = Command::new("which").arg("node").output();
    match out {
        Ok(o) if o.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string())
        }
        _ => panic!("node is not installed (Debian: apt-get install nodejs); .ci/run expects it"),
    }
}

fn check_prerequisites() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install -y chromium (see .ci/run)"
    );
    assert!(
        root()
            .join("tests/browser/node_modules/playwright-core")
            .exists(),
        "playwright-core is missing: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser"
    );
}

/// A small Home Assistant configuration for the config check panel: one automation, and an
/// `!include` of a file that is not there (git-ignored, say), which HA would refuse.
fn ha_config(dir: &Path) {
    std::fs::write(
        dir.join("configuration.yaml"),
        "homeassistant:\n  name: Home\nautomation: !include automations.yaml\nscript: !include scripts.yaml\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("automations.yaml"),
        "- id: hallway_motion\n  alias: Hallway motion light\n  triggers:\n    - trigger: state\n      entity_id: binary_sensor.hallway_motion\n      to: \"on\"\n  actions:\n    - action: light.turn_on\n      target:\n        entity_id: light.hallway\n",
    )
    .unwrap();
}

/// The run "Re-run failed jobs" picks with no `run_id`: the newest failed one.
fn latest_failed_run(gh: &FakeGitHub) -> u64 {
    gh.with_world(|w| {
        w.find_repo(REPO)
            .expect("the demo world has ha-config")
            .latest_runs()
            .into_iter()
            .filter(|r| {
                matches!(
                    r.conclusion.as_deref(),
                    Some("failure" | "timed_out" | "cancelled" | "startup_failure")
                )
            })
            .max_by_key(|r| (r.created_at, r.id))
            .map(|r| r.id)
            .expect("ha-config has a failed run")
    })
}

/// Waits until the daemon lists every repository with its last run, and the list is stable.
async fn wait_for_repos(url: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Vec::new();
    loop {
        let repos: Vec<Value> = match http.get(format!("{url}/api/repos")).send().await {
            Ok(r) => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v["repositories"].as_array().cloned())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let ready = repos.len() >= 5
            && repos.iter().all(|r| !r["last_run"].is_null())
            && repos.iter().any(|r| r["full_name"] == REPO);
        if ready && repos.len() == last.len() {
            return repos;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not list the demo repositories within 30 s: {repos:?}"
        );
        last = repos;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "the screenshot is not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[tokio::test]
#[ignore = "needs chromium and node; .ci/run installs them and runs it"]
async fn the_dashboard_renders_in_chromium_and_its_buttons_reach_github() {
    check_prerequisites();
    let started = Instant::now();
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(World::demo(Utc::now())).await;
    let failed_run = latest_failed_run(&gh);
    let ha = tempfile::tempdir().unwrap();
    ha_config(ha.path());
    let validate = format!("validate:\n  path: {}\n", ha.path().display());
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, &validate);
    let text = std::fs::read_to_string(&cfg.path).unwrap().replace(
        "http:\n  listen: \"\"\n",
        &format!("http:\n  listen: \"\"\n  api_token: {API_TOKEN}\n"),
    );
    std::fs::write(&cfg.path, text).unwrap();
    let (daemon, url) = Daemon::start_with_http(cfg.settings()).await;
    let repos = wait_for_repos(&url).await;
    println!("daemon ready after {:?}", started.elapsed());
    gh.clear_requests();

    // `DASHBOARD_SHOTS=<dir>` keeps the screenshots there (the phone/dark one too), for a look.
    let shots = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("DASHBOARD_SHOTS")
        .map_or_else(|| shots.path().to_path_buf(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let screenshot = dir.join("dashboard.png");
    let mut cmd = Command::new(node());
    cmd.arg(root().join("tests/browser/dashboard.mjs"))
        .args([&url, API_TOKEN])
        .arg(&screenshot)
        .env("DASHBOARD_REPO", REPO);
    // Blocking wait off the runtime's threads: the daemon keeps serving the browser meanwhile.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run node");
    println!("browser done after {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    if !out.status.success() {
        // Keep the screenshots (the failure one shows the page as it was) for a look.
        let kept = shots.keep();
        panic!(
            "the browser test failed ({}); screenshots kept in {}:\n{stdout}\n{stderr}",
            out.status,
            kept.display()
        );
    }
    assert!(
        stdout.contains(&format!("{} cards", repos.len())),
        "{stdout}"
    );

    // The click reached GitHub: exactly one re-run of the failed jobs of the newest failed
    // run (the first attempt was refused with 401 before it got near GitHub), and nothing
    // else was posted.
    let expected = format!("/repos/{REPO}/actions/runs/{failed_run}/rerun-failed-jobs");
    let posts: Vec<String> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert_eq!(
        posts,
        vec![format!("POST {expected} 201")],
        "GitHub received exactly the re-run"
    );

    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    let (width, height) = png_size(&png);
    assert_eq!(width, 1280, "the screenshot is the viewport's width");
    assert!(height >= 900, "a full-page screenshot ({width}×{height})");
    if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|v| v != "0") {
        std::fs::copy(&screenshot, root().join("docs/dashboard.png")).unwrap();
        println!("docs/dashboard.png updated");
    }
    println!("browser test took {:?}", started.elapsed());
    daemon.stop().await.unwrap();
    drop(broker);
}
