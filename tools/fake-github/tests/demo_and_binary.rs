//! The demo world as a client sees it, and the `fake-github` binary's contract: one
//! "listening" line with URL and token, serving until SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_github::{FakeGitHub, World};
use serde_json::Value;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("gitops-bridge-tests/0.1")
        .build()
        .unwrap()
}

async fn get_json(url: &str, token: &str) -> Value {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn demo_world_tells_its_story_over_http() {
    let gh = FakeGitHub::start(World::demo(Utc::now())).await;
    let (u, t) = (gh.url(), gh.token());

    let me = get_json(&format!("{u}/user"), &t).await;
    assert_eq!(
        (me["login"].as_str(), me["type"].as_str()),
        (Some("homelab-demo"), Some("User"))
    );

    let repos = get_json(&format!("{u}/user/repos?per_page=100"), &t).await;
    let names: Vec<&str> = repos
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for n in [
        "homelab-demo/ha-config",
        "homelab-demo/infra",
        "homelab-demo/esphome",
        "homelab-org/legacy-scripts",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let legacy = repos
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "legacy-scripts")
        .unwrap();
    assert_eq!(legacy["archived"], true);
    let org = get_json(&format!("{u}/orgs/homelab-org"), &t).await;
    assert_eq!(org["login"], "homelab-org");

    let deploys = get_json(
        &format!("{u}/repos/homelab-demo/ha-config/actions/workflows/deploy.yml/runs"),
        &t,
    )
    .await;
    let conclusions: Vec<&str> = deploys["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["conclusion"].as_str().unwrap())
        .collect();
    assert_eq!(&conclusions[..3], &["success", "failure", "failure"]);
    assert!(conclusions[3..].iter().all(|c| *c == "success"));

    // Roughly a week of history: more than one page at 10 per page.
    let all = client()
        .get(format!(
            "{u}/repos/homelab-demo/ha-config/actions/runs?per_page=10"
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert!(all.headers().get("link").is_some());
    let all: Value = all.json().await.unwrap();
    assert!(all["total_count"].as_u64().unwrap() > 20);

    // Completed runs have jobs with steps; the failed deploy failed in its deploy step.
    let failed = &deploys["workflow_runs"][1];
    let jobs = get_json(failed["jobs_url"].as_str().unwrap(), &t).await;
    let steps = jobs["jobs"][0]["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["name"] == "Deploy to Home Assistant" && s["conclusion"] == "failure")
    );
    assert_eq!(jobs["jobs"][0]["conclusion"], "failure");

    let infra = get_json(
        &format!("{u}/repos/homelab-demo/infra/actions/runs?status=in_progress"),
        &t,
    )
    .await;
    assert_eq!(infra["total_count"], 1);
    let running = &infra["workflow_runs"][0];
    assert_eq!(running["conclusion"], Value::Null);
    let jobs = get_json(running["jobs_url"].as_str().unwrap(), &t).await;
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["status"] == "in_progress")
    );

    let esp = get_json(&format!("{u}/repos/homelab-demo/esphome/actions/runs"), &t).await;
    let cs: Vec<&str> = esp["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["conclusion"].as_str())
        .collect();
    assert!(
        cs.contains(&"cancelled") && cs.contains(&"skipped"),
        "{cs:?}"
    );
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fake-github"))
}

#[tokio::test]
async fn binary_prints_url_and_token_then_serves_until_sigterm() {
    let mut child = bin()
        .args(["--listen", "127.0.0.1:0", "--token", "tok-123"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let rest = line
        .trim()
        .strip_prefix("fake-github listening on ")
        .expect(&line);
    let (url, token) = rest.split_once(" token=").unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with('/'));
    assert_eq!(token, "tok-123");

    let me = get_json(&format!("{url}/user"), token).await;
    assert_eq!(me["login"], "homelab-demo");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "{code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binary_rejects_bad_arguments() {
    let out = bin().args(["--listen", "nowhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
    let out = bin().args(["--scenario", "mars"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
}
