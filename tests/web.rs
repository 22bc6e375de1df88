//! The HTTP side against a running daemon (real Mosquitto, fake GitHub): webhooks with every
//! kind of bad delivery, the JSON API, the event stream, `/metrics`, and command auth.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, Run, Workflow, World};
use gitops_bridge::github::webhook::sign;
use serde_json::{Value, json};
use support::rig::Rig;
use support::{Config, Daemon, Mosquitto};

const WAIT: Duration = Duration::from_secs(15);
const SECRET: &str = "a-long-webhook-secret";
const TOKEN: &str = "an-api-token";
/// The repository of the webhook fixtures (`workflow_run.*.json`).
const REPO_ID: u64 = 300029405;

fn world() -> World {
    let now = Utc::now();
    let h = |n: i64| now - chrono::Duration::hours(n);
    let mins = chrono::Duration::minutes;
    let mut repo = Repo::new(REPO_ID, "octo-org", "octo-repo")
        .workflow(Workflow::new(
            2823525,
            "Build",
            ".github/workflows/build.yml",
        ))
        .workflow(Workflow::new(
            2823526,
            "Deploy",
            ".github/workflows/deploy.yml",
        ))
        // GitHub does not keep names unique: a second "Build" in another file.
        .workflow(Workflow::new(
            2823527,
            "Build",
            ".github/workflows/build-arm.yml",
        ))
        .run(Run::completed(501, 2823525, "Build", "success", h(40), mins(4)).sha("c".repeat(40)))
        .run(Run::completed(
            502,
            2823525,
            "Build",
            "failure",
            h(30),
            mins(5),
        ))
        .run(Run::completed(503, 2823526, "Deploy", "success", h(20), mins(2)).on_branch("feature"))
        .run(Run::completed(
            504,
            2823525,
            "Build",
            "success",
            h(10),
            mins(3),
        ));
    repo.default_branch = "master".into();
    for r in &mut repo.runs {
        if r.head_branch == "main" {
            r.head_branch = "master".into();
        }
    }
    World::new("test-token")
        .owner(Owner::org("octo-org", 9))
        .repo(repo)
}

const REPOS: &str = "    - name: octo-org/octo-repo\n      allow: [rerun]\n";

impl Rig {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn deliver(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
        signature: Option<String>,
    ) -> (u16, Value, Duration) {
        let mut req = self
            .http
            .post(format!("{}/webhook/github", self.url))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        let started = Instant::now();
        let r = req.send().await.unwrap();
        let took = started.elapsed();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null), took)
    }

    async fn stats(&self) -> (u64, u64, u64) {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(-1.0) as u64
        };
        (
            value("gitops_bridge_webhook_deliveries_processed_total"),
            value("gitops_bridge_webhook_deliveries_duplicate_total"),
            value("gitops_bridge_webhook_deliveries_rejected_total"),
        )
    }
}

/// A fixture delivery, compacted like GitHub sends it, with the run's times moved to now
/// (the shape is the fixture's; only the values are derived).
fn run_payload(file: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/github/webhooks/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let now = Utc::now();
    let run = &mut v["workflow_run"];
    run["created_at"] = json!((now - chrono::Duration::minutes(2)).to_rfc3339());
    run["run_started_at"] = json!((now - chrono::Duration::minutes(2)).to_rfc3339());
    run["updated_at"] = json!(now.to_rfc3339());
    serde_json::to_vec(&v).unwrap()
}

fn sig(body: &[u8]) -> Option<String> {
    Some(sign(SECRET.as_bytes(), body))
}

fn with_token() -> String {
    format!("http:\n  listen: \"\"\n  api_token: {TOKEN}\n")
}

#[tokio::test]
async fn a_signed_delivery_updates_state_and_mqtt_within_milliseconds() {
    let rig = Rig::start_github(true).await;

    let body = run_payload("workflow_run.requested.json");
    // The state may well reach MQTT before the HTTP answer reaches us.
    let sent = Instant::now();
    let (status, reply, took) = rig.deliver("workflow_run", "d-1", &body, sig(&body)).await;
    assert_eq!(status, 202, "{reply}");
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    let state = rig
        .probe
        .wait_for("gitops-bridge/repo/octo-org/octo-repo/state", WAIT, |s| {
            s.at >= sent && s.json()["running"] == true
        })
        .await;
    let latency = state.at.duration_since(sent);
    assert!(
        latency < Duration::from_millis(500),
        "state reached MQTT after {latency:?}"
    );
    assert_eq!(state.json()["status"], "queued");

    let body = run_payload("workflow_run.completed.json");
    let (status, _, _) = rig.deliver("workflow_run", "d-2", &body, sig(&body)).await;
    assert_eq!(status, 202);
    let event = rig
        .probe
        .wait_for("gitops-bridge/repo/octo-org/octo-repo/events", WAIT, |_| {
            true
        })
        .await
        .json();
    assert_eq!(event["event_type"], "success");
    assert_eq!(event["run_id"], 289782451);
    let (processed, duplicates, _) = rig.stats().await;
    assert_eq!((processed, duplicates), (2, 0));

    // Redelivery of a processed delivery: acknowledged, not processed again.
    let (status, reply, _) = rig.deliver("workflow_run", "d-2", &body, sig(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], "duplicate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (processed, duplicates, _) = rig.stats().await;
    assert_eq!((processed, duplicates), (2, 1));
    let events = rig
        .probe
        .all()
        .iter()
        .filter(|s| s.topic.ends_with("/events"))
        .count();
    assert_eq!(events, 1, "the completion fired once");
    rig.stop().await;
}

/// A failed `workflow_job` delivery: the daemon asks GitHub what the runner said about the
/// job (its check run's annotations), so a runner shut down during a lint step is
/// `infrastructure`, not the lint's failure the step alone suggests.
#[tokio::test]
async fn a_failed_job_delivery_is_classified_by_what_the_runner_said() {
    const RUN: u64 = 289782451;
    const JOB: u64 = 289782452;
    let rig = Rig::start_github(true).await;
    rig.gh.with_world(|w| {
        let run = Run::completed(RUN, 2823525, "Build", "failure", Utc::now(), chrono::Duration::minutes(1));
        let mut job = fake_github::Job::for_run(JOB, &run, "linters");
        job.annotations.push(fake_github::Annotation::runner(
            "The self-hosted runner: nas-runner lost communication with the server. Verify the machine is running and has a healthy network connection.",
        ));
        w.repo_mut("octo-org/octo-repo").unwrap().jobs.push(job);
    });
    // The run fails, then its job's delivery (GitHub's fixture, moved to this repository).
    let mut run: Value =
        serde_json::from_slice(&run_payload("workflow_run.completed.json")).unwrap();
    run["workflow_run"]["conclusion"] = json!("failure");
    let repository = run["repository"].clone();
    let body = serde_json::to_vec(&run).unwrap();
    assert_eq!(
        rig.deliver("workflow_run", "f-1", &body, sig(&body))
            .await
            .0,
        202
    );
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/github/webhooks/workflow_job.completed.failure.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut job: Value = serde_json::from_str(&text).unwrap();
    job["repository"] = repository;
    job["workflow_job"]["id"] = json!(JOB);
    job["workflow_job"]["run_id"] = json!(RUN);
    let body = serde_json::to_vec(&job).unwrap();
    assert_eq!(
        rig.deliver("workflow_job", "f-2", &body, sig(&body))
            .await
            .0,
        202
    );

    let state = rig
        .probe
        .wait_for("gitops-bridge/repo/octo-org/octo-repo/state", WAIT, |s| {
            s.json()["last_run"]["run_id"] == RUN
                && !s.json()["last_run"]["failure_class"].is_null()
        })
        .await
        .json();
    let last = &state["last_run"];
    assert_eq!(last["failure_class"], "infrastructure", "{last}");
    let reason = last["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("lost communication with the server"),
        "{reason}"
    );
    let asked = rig
        .gh
        .requests()
        .iter()
        .filter(|r| r.path == format!("/repos/octo-org/octo-repo/check-runs/{JOB}/annotations"))
        .count();
    assert_eq!(asked, 1, "one annotations request for the one failed job");
    rig.stop().await;
}

#[tokio::test]
async fn bad_deliveries_get_the_right_status_and_change_nothing() {
    let rig = Rig::start_github(true).await;
    let body = run_payload("workflow_run.completed.json");
    rig.probe.clear();

    let (status, reply, _) = rig
        .deliver(
            "workflow_run",
            "b-1",
            &body,
            Some(sign(b"another secret", &body)),
        )
        .await;
    assert_eq!(status, 401, "{reply}");
    let (status, _, _) = rig.deliver("workflow_run", "b-2", &body, None).await;
    assert_eq!(status, 401);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (status, _, _) = rig
        .deliver("workflow_run", "b-3", &tampered, sig(&body))
        .await;
    assert_eq!(status, 401);

    let bad = b"{\"action\": \"completed\", \"workflow_run\": ";
    let (status, reply, _) = rig.deliver("workflow_run", "b-4", bad, sig(bad)).await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("malformed JSON"));

    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let r = rig
        .http
        .post(format!("{}/webhook/github", rig.url))
        .header("x-github-event", "workflow_run")
        .header("x-github-delivery", "b-5")
        .header("x-hub-signature-256", sign(SECRET.as_bytes(), &big))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    let star = br#"{"action":"created","repository":{"id":300029405}}"#;
    let (status, reply, _) = rig.deliver("star", "b-6", star, sig(star)).await;
    assert_eq!(status, 202);
    assert_eq!(reply["status"], "ignored");

    let ping = std::fs::read(format!(
        "{}/tests/fixtures/github/webhooks/ping.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (status, reply, _) = rig.deliver("ping", "b-7", &ping, sig(&ping)).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("pong")));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        rig.probe
            .all()
            .iter()
            .all(|s| !s.topic.contains("octo-repo")),
        "nothing changed for the repository: {:?}",
        rig.probe.all().iter().map(|s| &s.topic).collect::<Vec<_>>()
    );
    let (_, _, rejected) = rig.stats().await;
    // The oversized body is refused by the body limit before the handler counts it.
    assert_eq!(rejected, 4);

    // The malformed delivery was not recorded: once fixed, the same id is processed.
    let (status, _, _) = rig.deliver("workflow_run", "b-4", &body, sig(&body)).await;
    assert_eq!(status, 202);
    rig.probe
        .wait_for("gitops-bridge/repo/octo-org/octo-repo/events", WAIT, |s| {
            s.json()["run_id"] == 289782451
        })
        .await;
    rig.stop().await;
}

#[tokio::test]
async fn without_a_secret_the_endpoint_is_off() {
    let rig = Rig::start_github(false).await;
    let body = run_payload("workflow_run.completed.json");
    let (status, reply, _) = rig.deliver("workflow_run", "o-1", &body, sig(&body)).await;
    assert_eq!(status, 404, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("webhook_secret"));
    rig.stop().await;
}

#[tokio::test]
async fn the_json_api_answers_with_documented_shapes() {
    let rig = Rig::start_github(false).await;

    let (status, repos) = rig.get("/api/repos").await;
    assert_eq!(status, 200);
    let repo = &repos["repositories"][0];
    assert_eq!(repo["full_name"], "octo-org/octo-repo");
    assert_eq!(repo["last_run"]["id"], 504);
    assert_eq!(repo["actions"], json!(["rerun"]));
    assert_eq!(repo["health"]["success_rate"], json!(75.0));

    let (status, s) = rig.get("/api/workflow-status/octo-org/octo-repo").await;
    assert_eq!(status, 200);
    assert_eq!(
        s["workflows"].as_array().unwrap().len(),
        3,
        "two named Build, one Deploy"
    );
    let trend = s["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 8);
    assert_eq!(
        trend
            .iter()
            .map(|p| p["runs"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert_eq!(rig.get("/api/workflow-status/octo-org/nope").await.0, 404);

    let (_, h) = rig
        .get("/api/workflow-history/octo-org/octo-repo?per_page=2")
        .await;
    assert_eq!(
        (h["total"].as_u64(), h["runs"].as_array().unwrap().len()),
        (Some(4), 2)
    );
    assert_eq!(h["runs"][0]["id"], 504);
    let (_, h) = rig
        .get("/api/workflow-history/octo-org/octo-repo?per_page=2&page=2")
        .await;
    assert_eq!(h["runs"][1]["id"], 501);
    let (_, h) = rig
        .get("/api/workflow-history/octo-org/octo-repo?status=failure")
        .await;
    assert_eq!(h["total"], 1);
    let (_, h) = rig
        .get("/api/workflow-history/octo-org/octo-repo?branch=feature")
        .await;
    assert_eq!(h["runs"][0]["id"], 503);
    let (_, h) = rig
        .get("/api/workflow-history/octo-org/octo-repo?workflow=deploy.yml")
        .await;
    assert_eq!(h["total"], 1);
    assert_eq!(
        rig.get("/api/workflow-history/octo-org/octo-repo?per_page=1000")
            .await
            .0,
        400
    );

    let (_, m) = rig.get("/api/workflow-metrics?window=12h").await;
    assert_eq!(m["window_s"], 43200);
    assert_eq!(m["totals"]["runs"], 1, "only run 504 is younger than 12 h");
    let (_, m) = rig.get("/api/workflow-metrics").await;
    assert_eq!(m["totals"]["runs"], 4);
    assert_eq!(rig.get("/api/workflow-metrics?window=soon").await.0, 400);

    let (status, health) = rig.get("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    let text = rig
        .http
        .get(format!("{}/metrics", rig.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"gitops_bridge_repository_success_rate_percent{repository="octo-org/octo-repo"} 75"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"gitops_bridge_workflow_failing{repository="octo-org/octo-repo",workflow=".github/workflows/build-arm.yml",workflow_name="Build"} 0"#), "{text}");
    assert!(text.contains(r#"gitops_bridge_workflow_last_conclusion{repository="octo-org/octo-repo",workflow=".github/workflows/build.yml",workflow_name="Build",conclusion="success"} 1"#));
    let mut series = std::collections::HashSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let key = line.rsplit_once(' ').unwrap().0;
        assert!(series.insert(key.to_string()), "duplicate series {key}");
        let labels = line
            .split_once('{')
            .map(|(_, rest)| rest.split_once('}').unwrap().0)
            .unwrap_or("");
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let key = pair.split('=').next().unwrap();
            assert!(
                ["repository", "workflow", "workflow_name", "conclusion"].contains(&key),
                "label {key} in {line}"
            );
        }
        assert!(!line.contains(&"c".repeat(40)), "no SHAs in metrics");
    }
    rig.stop().await;
}

/// `text` without its comment lines (`//`, `*`), which may well name paths and `<base>`.
fn without_comment_lines(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with('*'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Root-absolute URLs (`/api/…`, `"/assets/…"`) in `text`: a URL attribute or a string
/// literal starting with one `/`. Behind a proxy at `/gitops/` each would leave the prefix.
fn root_absolute_urls(text: &str) -> Vec<String> {
    let code = without_comment_lines(text);
    let text = code.as_str();
    let mut found = Vec::new();
    for opener in ["href=\"", "src=\"", "href='", "src='", "\"/", "'/", "`/"] {
        for (at, _) in text.match_indices(opener) {
            let rest = &text[at + opener.len()..];
            // `"/` etc. already ends in the slash; attributes need their value checked.
            let absolute = if opener.ends_with('/') {
                !rest.starts_with('/') && rest.starts_with(|c: char| c.is_ascii_alphabetic())
            } else {
                rest.starts_with('/')
            };
            if absolute {
                let end = rest
                    .find(['"', '\'', '`', ' '])
                    .unwrap_or(rest.len())
                    .min(40);
                found.push(format!("{opener}{}", &rest[..end]));
            }
        }
    }
    found
}

/// What a user behind a reverse proxy at a sub-path (or HA ingress) needs from the page:
/// no `<base>` and no URL that starts at the origin root, in the page or its script, so
/// every request resolves under whatever prefix the browser shows; and the same page
/// whatever `X-Ingress-Path` says, since a proxy that strips its prefix tells the bridge
/// nothing. (tests/browser/dashboard.mjs checks it in Chromium behind such proxies.)
#[tokio::test]
async fn the_dashboard_uses_only_relative_urls_so_it_works_under_any_prefix() {
    let rig = Rig::start_github(false).await;
    let get = |path: &str, ingress: Option<&str>| {
        let mut req = rig.http.get(format!("{}{path}", rig.url));
        if let Some(p) = ingress {
            req = req.header("x-ingress-path", p);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, kind, r.text().await.unwrap())
        }
    };

    let (status, kind, page) = get("/", None).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(
        !without_comment_lines(&page).contains("<base"),
        "the page has a <base>:\n{page}"
    );
    assert_eq!(root_absolute_urls(&page), Vec::<String>::new(), "{page}");
    let (_, _, under_ingress) = get("/", Some("/api/hassio_ingress/abc")).await;
    assert_eq!(under_ingress, page, "the page depends on X-Ingress-Path");

    // The page's own references are relative and lead to the assets.
    for (asset, want) in [
        ("assets/app.js", "text/javascript"),
        ("assets/app.css", "text/css"),
    ] {
        let at = page
            .find(&format!("\"{asset}?v="))
            .unwrap_or_else(|| panic!("the page does not load {asset} relatively:\n{page}"));
        let url = &page[at + 1..];
        let url = &url[..url.find('"').unwrap()];
        let (status, kind, body) = get(&format!("/{url}"), None).await;
        assert_eq!(status, 200, "{url}");
        assert!(kind.starts_with(want), "{url}: {kind}");
        assert_eq!(
            root_absolute_urls(&body),
            Vec::<String>::new(),
            "{asset} has root-absolute URLs"
        );
        if asset.ends_with(".js") {
            // The calls that leave the page: each with a relative literal or a variable.
            for call in ["fetch(", "getJSON(", "EventSource(", "WebSocket("] {
                for (at, _) in body.match_indices(call) {
                    let arg = body[at + call.len()..].trim_start();
                    assert!(
                        !arg.starts_with(['"', '\'', '`']) || !arg[1..].starts_with('/'),
                        "{asset}: {}",
                        &arg[..arg.len().min(40)]
                    );
                }
            }
            assert!(body.contains(r#"EventSource("api/events")"#));
            assert!(body.contains(r#"getJSON("api/repos")"#));
        }
    }
    rig.stop().await;
}

#[tokio::test]
async fn commands_over_http_need_auth_and_use_the_executor() {
    let rig = Rig::start_github(false).await;
    let post = |token: Option<&str>| {
        let mut r = rig
            .http
            .post(format!(
                "{}/api/repos/octo-org/octo-repo/commands/rerun",
                rig.url
            ))
            .body(r#"{"run_id":504,"request_id":"http-1"}"#);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(post(Some("wrong")).await.unwrap().status().as_u16(), 401);
    let r = post(Some(TOKEN)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let result: Value = r.json().await.unwrap();
    assert_eq!(result["ok"], true, "{result}");
    assert!(rig.gh.requests().iter().any(
        |r| r.method == "POST" && r.path == "/repos/octo-org/octo-repo/actions/runs/504/rerun"
    ));
    // The result also went to MQTT, like every command's.
    rig.probe
        .wait_for("gitops-bridge/cmd/result", WAIT, |s| {
            s.json()["request_id"] == "http-1"
        })
        .await;
    // The audit trail shows who asked what, and the outcome.
    let (_, audit) = rig.get("/api/commands").await;
    let last = &audit["commands"][0];
    assert_eq!(
        (
            last["action"].as_str(),
            last["source"].as_str(),
            last["ok"].as_bool()
        ),
        (Some("rerun"), Some("http"), Some(true))
    );
    assert_eq!(last["params"]["run_id"], 504);
    // Not allowed: refused by the same executor.
    let r = rig
        .http
        .post(format!(
            "{}/api/repos/octo-org/octo-repo/commands/cancel",
            rig.url
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    rig.stop().await;
}

#[tokio::test]
async fn without_an_api_token_commands_are_refused() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "");
    let (daemon, url) = Daemon::start_with_http(cfg.settings()).await;
    let r = reqwest::Client::new()
        .post(format!("{url}/api/repos/octo-org/octo-repo/commands/rerun"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    daemon.stop().await.unwrap();
    drop(broker);
}

#[tokio::test]
async fn the_event_stream_sends_a_snapshot_then_changes() {
    let rig = Rig::start_github(true).await;
    let mut stream = rig
        .http
        .get(format!("{}/api/events", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    let read_until = async |text: &mut String, stream: &mut reqwest::Response, needle: &str| {
        let deadline = Instant::now() + WAIT;
        while !text.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in the stream: {text}"
            );
            if let Ok(Ok(Some(chunk))) =
                tokio::time::timeout(Duration::from_secs(1), stream.chunk()).await
            {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
    };
    read_until(&mut text, &mut stream, "event: snapshot").await;
    read_until(&mut text, &mut stream, "octo-org/octo-repo").await;
    let body = run_payload("workflow_run.completed.json");
    rig.deliver("workflow_run", "s-1", &body, sig(&body)).await;
    read_until(&mut text, &mut stream, "event: run").await;
    read_until(&mut text, &mut stream, "289782451").await;
    rig.stop().await;
}

impl Rig {
    /// A daemon with an API token; with `webhooks`, a webhook secret too, and polling slowed
    /// to once an hour so changes in a test come from webhooks alone.
    async fn start_github(webhooks: bool) -> Rig {
        let rig = Rig::launch(
            world(),
            REPOS,
            "gitops-bridge/#",
            |text| {
                let text = text.replace("http:\n  listen: \"\"\n", &with_token());
                if webhooks {
                    text.replace(
                        "  poll_interval: 1s\n",
                        &format!("  poll_interval: 1h\n  webhook_secret: {SECRET}\n"),
                    )
                } else {
                    text
                }
            },
            true,
        )
        .await;
        rig.probe
            .wait_for("gitops-bridge/repo/octo-org/octo-repo/state", WAIT, |s| {
                s.json()["last_run"]["run_id"] == 504
            })
            .await;
        rig
    }
}

/// `GET /api/config-deployments` without `config_deploy`: 404, saying what turns it on.
#[tokio::test]
async fn without_config_deploy_the_config_deployments_endpoint_is_off() {
    let rig = Rig::start_github(false).await;
    let (status, reply) = rig.get("/api/config-deployments").await;
    assert_eq!(status, 404, "{reply}");
    assert_eq!(
        reply,
        json!({ "error": "configuration deployment is off: set `config_deploy.repository`" })
    );
    rig.stop().await;
}

/// `GET /api/lovelace`: the running daemon's dashboard YAML (what add-on users download from
/// the ingress page), naming the entities of the repositories it watches now.
#[tokio::test]
async fn the_lovelace_dashboard_comes_from_the_running_daemon() {
    let rig = Rig::start_github(false).await;
    let r = rig
        .http
        .get(format!("{}/api/lovelace?title=Homelab", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    let dashboard: Value = serde_yaml_ng::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(dashboard["title"], "Homelab");
    let sections = dashboard["views"][0]["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 2, "the bridge and the one repository");
    assert_eq!(sections[1]["cards"][0]["heading"], "octo-org/octo-repo");
    let mut named = std::collections::BTreeSet::new();
    support::lovelace::referenced(&dashboard, &mut named);
    // `allow: [rerun]`: that button, and no other.
    let buttons: Vec<&String> = named.iter().filter(|e| e.starts_with("button.")).collect();
    assert_eq!(
        buttons,
        ["button.octo_org_octo_repo_rerun_latest_run"],
        "{named:?}"
    );
    assert!(named.contains("sensor.octo_org_octo_repo_last_run_status"));
    rig.stop().await;
}
