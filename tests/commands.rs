//! Commands over MQTT on a real Mosquitto, carried out on the fake GitHub, which records what
//! it receives: the right endpoint and body, a result carrying the request id, idempotency,
//! and a clear `ok: false` for every kind of bad input.

mod support;

use std::time::Duration;

use chrono::Utc;
use fake_github::{Fault, FaultKind, Owner, RecordedRequest, Repo, Run, Workflow, World};
use serde_json::{Value, json};
use support::Seen;
use support::rig::Rig;

const WAIT: Duration = Duration::from_secs(15);
const RESULT: &str = "gitops-bridge/cmd/result";

fn world() -> World {
    let now = Utc::now();
    let h = |n: i64| now - chrono::Duration::hours(n);
    let mins = chrono::Duration::minutes;
    World::new("test-token")
        .owner(Owner::user("octo", 1))
        .repo(
            Repo::new(100, "octo", "api")
                .workflow(Workflow::new(10, "CI", ".github/workflows/ci.yml"))
                .workflow(Workflow::new(11, "Deploy", ".github/workflows/deploy.yml"))
                .workflow(Workflow::new(
                    12,
                    "Rollback",
                    ".github/workflows/rollback.yml",
                ))
                .run(Run::completed(1001, 10, "CI", "success", h(30), mins(4)))
                .run(
                    Run::completed(1002, 11, "Deploy", "success", h(25), mins(2))
                        .sha("a".repeat(40)),
                )
                .run(Run::completed(1003, 10, "CI", "failure", h(20), mins(5)))
                .run(
                    Run::completed(1004, 11, "Deploy", "failure", h(10), mins(2))
                        .sha("b".repeat(40)),
                )
                .run(Run::in_progress(1005, 10, "CI", now - mins(5))),
        )
        .repo(
            Repo::new(200, "octo", "web")
                .workflow(Workflow::new(20, "Build", ".github/workflows/build.yml"))
                .run(Run::completed(2001, 20, "Build", "success", h(12), mins(3)))
                .run(Run::completed(2002, 20, "Build", "failure", h(2), mins(3))),
        )
        .repo(
            Repo::new(300, "octo", "locked")
                .workflow(Workflow::new(30, "CI", ".github/workflows/ci.yml"))
                .run(Run::completed(3001, 30, "CI", "failure", h(2), mins(3))),
        )
}

const REPOS: &str = "    - name: octo/api
      allow: [rerun, rerun_failed, cancel, dispatch, rollback]
      dispatch: [deploy.yml]
      deploy_workflow: deploy.yml
      rollback: {workflow: rollback.yml, input: rollback_to}
    - name: octo/web
      allow: [rollback]
      deploy_workflow: build.yml
    - octo/locked
";

impl Rig {
    async fn start() -> Rig {
        let rig = Rig::launch(world(), REPOS, "#", |s| s, false).await;
        for repo in ["api", "web", "locked"] {
            rig.probe
                .wait_for(
                    &format!("gitops-bridge/repo/octo/{repo}/state"),
                    WAIT,
                    |s| s.json()["status"].is_string(),
                )
                .await;
        }
        rig
    }

    /// Sends a command and waits for its result (matched by request id, or by repo + action).
    async fn command(&self, repo: &str, action: &str, payload: &str) -> Value {
        let request_id = serde_json::from_str::<Value>(payload)
            .ok()
            .and_then(|v| v["request_id"].as_str().map(String::from));
        let sent = std::time::Instant::now();
        self.probe
            .publish(
                &format!("gitops-bridge/repo/{repo}/cmd/{action}"),
                payload,
                false,
            )
            .await;
        self.result_after(sent, repo, action, request_id.as_deref())
            .await
    }

    async fn result_after(
        &self,
        sent: std::time::Instant,
        repo: &str,
        action: &str,
        request_id: Option<&str>,
    ) -> Value {
        let seen: Seen = self
            .probe
            .wait_for(RESULT, WAIT, |s| {
                let v = s.json();
                s.at >= sent
                    && v["repo"] == repo
                    && v["action"] == action
                    && request_id.is_none_or(|id| v["request_id"] == id)
            })
            .await;
        assert!(!seen.retain, "results are never retained");
        seen.json()
    }

    fn posts(&self) -> Vec<RecordedRequest> {
        self.gh
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }
}

#[tokio::test]
async fn each_action_reaches_the_right_github_endpoint() {
    let rig = Rig::start().await;

    let r = rig
        .command("octo/api", "rerun_failed", r#"{"request_id":"req-1"}"#)
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["request_id"], "req-1");
    assert_eq!(
        r["run_id"], 1004,
        "a bare rerun_failed acts on the latest failed run"
    );
    assert!(r["url"].as_str().unwrap().ends_with("/actions/runs/1004"));
    assert_eq!(
        rig.posts().last().unwrap().path,
        "/repos/octo/api/actions/runs/1004/rerun-failed-jobs"
    );

    let r = rig
        .command(
            "octo/api",
            "rerun",
            r#"{"request_id":"req-2","run_id":1001}"#,
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        rig.posts().last().unwrap().path,
        "/repos/octo/api/actions/runs/1001/rerun"
    );

    let r = rig.command("octo/api", "cancel", "PRESS").await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["run_id"], 1005);
    assert_eq!(
        rig.posts().last().unwrap().path,
        "/repos/octo/api/actions/runs/1005/cancel"
    );

    let r = rig
        .command("octo/api", "dispatch", r#"{"request_id":"req-4","workflow":"deploy.yml","ref":"main","inputs":{"env":"prod"}}"#)
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["run_id"].as_u64().is_some(),
        "run id from return_run_details: {r}"
    );
    let post = rig.posts().last().unwrap().clone();
    assert_eq!(
        post.path,
        "/repos/octo/api/actions/workflows/deploy.yml/dispatches"
    );
    assert_eq!(
        post.json().unwrap(),
        json!({"ref": "main", "inputs": {"env": "prod"}, "return_run_details": true})
    );

    // Rollback with a rollback workflow: dispatched with the last good deploy's commit.
    let r = rig
        .command("octo/api", "rollback", r#"{"request_id":"req-5"}"#)
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let post = rig.posts().last().unwrap().clone();
    assert_eq!(
        post.path,
        "/repos/octo/api/actions/workflows/rollback.yml/dispatches"
    );
    assert_eq!(
        post.json().unwrap()["inputs"],
        json!({"rollback_to": "a".repeat(40)})
    );
    assert_eq!(post.json().unwrap()["ref"], "main");

    // Rollback without one: re-run the last successful run of the deploy workflow.
    let r = rig.command("octo/web", "rollback", "PRESS").await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["run_id"], 2001);
    assert_eq!(
        rig.posts().last().unwrap().path,
        "/repos/octo/web/actions/runs/2001/rerun"
    );

    // Every POST went out exactly once, and with our API version.
    assert_eq!(rig.posts().len(), 6);
    assert!(
        rig.posts()
            .iter()
            .all(|p| p.header("x-github-api-version") == Some("2022-11-28"))
    );
    rig.stop().await;
}

#[tokio::test]
async fn the_same_request_id_twice_does_nothing_the_second_time() {
    let rig = Rig::start().await;
    let first = rig
        .command(
            "octo/api",
            "rerun",
            r#"{"request_id":"once","run_id":1001}"#,
        )
        .await;
    assert_eq!(first["ok"], true, "{first}");
    let second = rig
        .command(
            "octo/api",
            "rerun",
            r#"{"request_id":"once","run_id":1001}"#,
        )
        .await;
    assert_eq!(second["duplicate"], true, "{second}");
    assert_eq!(second["request_id"], "once");
    assert_eq!(rig.posts().len(), 1, "GitHub saw one re-run");
    rig.stop().await;
}

#[tokio::test]
async fn bad_commands_are_refused_without_calling_github() {
    let rig = Rig::start().await;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("octo/api", "rerun", "{not json", "not valid JSON"),
        (
            "octo/api",
            "deploy",
            r#"{"request_id":"b2"}"#,
            "unknown action",
        ),
        (
            "octo/nope",
            "rerun",
            r#"{"request_id":"b3"}"#,
            "not a watched repository",
        ),
        (
            "octo/locked",
            "rerun_failed",
            r#"{"request_id":"b4"}"#,
            "not allowed",
        ),
        (
            "octo/api",
            "rerun",
            r#"{"request_id":"b5","run_id":1005}"#,
            "still in_progress",
        ),
        (
            "octo/api",
            "dispatch",
            r#"{"request_id":"b6","workflow":"ci.yml"}"#,
            "not offered for dispatch",
        ),
        (
            "octo/api",
            "cancel",
            r#"{"request_id":"b7","run_id":1001}"#,
            "already completed",
        ),
        (
            "octo/api",
            "rerun",
            r#"{"request_id":"b8","run_id":999999}"#,
            "does not exist",
        ),
    ];
    for (repo, action, payload, needle) in cases {
        let r = rig.command(repo, action, payload).await;
        assert_eq!(r["ok"], false, "{payload}: {r}");
        assert!(
            r["message"].as_str().unwrap().contains(needle),
            "{payload}: {r}"
        );
    }
    // Over the size limit.
    let big = format!(
        r#"{{"request_id":"big","inputs":{{"x":"{}"}}}}"#,
        "y".repeat(20_000)
    );
    let r = rig.command("octo/api", "dispatch", &big).await;
    assert_eq!(r["ok"], false);
    assert!(r["message"].as_str().unwrap().contains("limit"), "{r}");

    // Over the limit of MQTT packets the bridge used to accept (1 MiB): still answered.
    let huge = format!(
        r#"{{"request_id":"huge","inputs":{{"x":"{}"}}}}"#,
        "y".repeat(2 << 20)
    );
    let r = rig.command("octo/api", "dispatch", &huge).await;
    assert_eq!(r["ok"], false, "{}", r["message"]);
    assert!(
        r["message"].as_str().unwrap().contains("16384-byte limit"),
        "{r}"
    );

    // Multi-byte text that is not JSON: refused with a cut quote of it, and the executor
    // survives (a cut inside a character used to panic it, silently stopping every command).
    let r = rig.command("octo/api", "rerun", &"€".repeat(20)).await;
    assert_eq!(r["ok"], false, "{r}");
    assert!(r["message"].as_str().unwrap().contains("€€€…"), "{r}");

    // A retained command: refused, and cleared from the broker so it never replays.
    let sent = std::time::Instant::now();
    rig.probe
        .publish(
            "gitops-bridge/repo/octo/api/cmd/rerun",
            r#"{"request_id":"kept","run_id":1001}"#,
            true,
        )
        .await;
    let r = rig
        .result_after(sent, "octo/api", "rerun", Some("kept"))
        .await;
    assert_eq!(r["ok"], false);
    assert!(r["message"].as_str().unwrap().contains("retained"), "{r}");
    let kept = support::retained(rig.broker.port, "gitops-bridge/repo/octo/api/cmd/#").await;
    assert!(
        kept.is_empty(),
        "the retained command was cleared: {:?}",
        kept.keys()
    );

    assert!(
        rig.posts().is_empty(),
        "no GitHub call for refused commands: {:#?}",
        rig.posts()
    );
    // And the daemon still works.
    let r = rig
        .command(
            "octo/api",
            "rerun",
            r#"{"request_id":"fine","run_id":1001}"#,
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    rig.stop().await;
}

#[tokio::test]
async fn github_errors_on_the_post_are_reported_and_not_retried() {
    let rig = Rig::start().await;
    let cases: [(FaultKind, &str); 4] = [
        (
            FaultKind::forbidden("Resource not accessible by personal access token"),
            "403",
        ),
        (FaultKind::not_found(), "404"),
        (FaultKind::unprocessable("Validation Failed"), "422"),
        (FaultKind::server_error(), "not retried"),
    ];
    for (i, (fault, needle)) in cases.into_iter().enumerate() {
        rig.gh.clear_faults();
        rig.gh
            .inject(Fault::new("/repos/octo/api/actions/runs/1001/rerun", fault).method("POST"));
        let before = rig.posts().len();
        let id = format!("err-{i}");
        let r = rig
            .command(
                "octo/api",
                "rerun",
                &format!(r#"{{"request_id":"{id}","run_id":1001}}"#),
            )
            .await;
        assert_eq!(r["ok"], false, "{r}");
        assert!(
            r["message"].as_str().unwrap().contains(needle),
            "{needle}: {r}"
        );
        assert_eq!(
            rig.posts().len(),
            before + 1,
            "exactly one POST, never retried"
        );
    }
    rig.gh.clear_faults();
    // A failed request id is not re-executed either: GitHub may have acted before failing.
    let r = rig
        .command(
            "octo/api",
            "rerun",
            r#"{"request_id":"err-3","run_id":1001}"#,
        )
        .await;
    assert_eq!(r["duplicate"], true, "{r}");
    rig.stop().await;
}

#[tokio::test]
async fn buttons_exist_only_for_allowed_actions() {
    let rig = Rig::start().await;
    let api = rig.probe.device_config("gitops_bridge_repo_100").await;
    let buttons: Vec<&str> = api["components"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| c["platform"] == "button")
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        buttons,
        vec![
            "cancel_running_run",
            "dispatch_deploy",
            "rerun_failed_jobs",
            "rerun_latest_run",
            "roll_back"
        ]
    );
    assert_eq!(
        api["components"]["roll_back"]["command_topic"],
        "gitops-bridge/repo/octo/api/cmd/rollback"
    );
    let locked = rig.probe.device_config("gitops_bridge_repo_300").await;
    assert!(
        locked["components"]
            .as_object()
            .unwrap()
            .values()
            .all(|c| c["platform"] != "button")
    );
    // Pressing the dispatch button sends its payload: that dispatches deploy.yml.
    let sent = std::time::Instant::now();
    let payload = api["components"]["dispatch_deploy"]["payload_press"]
        .as_str()
        .unwrap()
        .to_string();
    rig.probe
        .publish("gitops-bridge/repo/octo/api/cmd/dispatch", payload, false)
        .await;
    let r = rig.result_after(sent, "octo/api", "dispatch", None).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        rig.posts().last().unwrap().path,
        "/repos/octo/api/actions/workflows/deploy.yml/dispatches"
    );
    rig.stop().await;
}
