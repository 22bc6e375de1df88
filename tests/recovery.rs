//! Recovery against a running daemon (real Mosquitto, fake GitHub): a failed run's class on
//! MQTT from the step its job failed in; the bounded automatic re-run — a set-up failure is
//! re-run once through the executor (audited as `policy`), the same failure again is not,
//! and a test failure never is; and the rollback trigger, once per failure episode.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, World};
use serde_json::Value;
use support::rig::Rig;

const WAIT: Duration = Duration::from_secs(20);
const API: &str = "gitops-bridge/repo/octo/api/state";
const WEB: &str = "gitops-bridge/repo/octo/web/state";

/// `octo/api` and `octo/web`, each with one CI run (1003, 2003) still running its `build`
/// and `test` jobs.
fn world() -> World {
    let mut web = support::world::octo_api_running(2);
    web.name = "web".into();
    for run in &mut web.runs {
        run.id += 1000;
    }
    for job in &mut web.jobs {
        job.run_id += 1000;
        job.id += 10_000;
    }
    World::new("t")
        .owner(Owner::user("octo", 1))
        .repo(support::world::octo_api_running(1))
        .repo(web)
}

fn fail(gh: &FakeGitHub, repo: &str, run_id: u64, step: &str) {
    support::world::fail_run(gh, repo, run_id, step);
}

fn reruns(gh: &FakeGitHub, run_id: u64) -> usize {
    support::world::reruns_of(gh, run_id)
}

/// The daemon watching [`world`] with `repositories`, once both runs show as running.
async fn launch_running(repositories: &str) -> Rig {
    let rig = Rig::launch(world(), repositories, "gitops-bridge/#", |text| text, false).await;
    for topic in [API, WEB] {
        rig.probe
            .wait_for(topic, WAIT, |s| s.json()["running"] == true)
            .await;
    }
    rig
}

/// The state of the repository at `topic` once its last run has a failure class.
async fn classified(rig: &Rig, topic: &str) -> Value {
    rig.probe
        .wait_for(topic, WAIT, |s| {
            !s.json()["last_run"]["failure_class"].is_null()
        })
        .await
        .json()
}

async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    support::world::wait_until(what, WAIT, done).await;
}

#[tokio::test]
async fn a_setup_failure_is_re_run_once_and_a_test_failure_never() {
    let rig = launch_running(
        "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        backoff: 1s\n    - name: octo/web\n      allow: [rerun_failed]\n      auto_retry: {}\n",
    )
    .await;

    // octo/api fails while checking out: infrastructure, re-run after the 1 s backoff.
    fail(&rig.gh, "octo/api", 1003, "Run actions/checkout@v4");
    // octo/web fails in its tests: real, never re-run.
    fail(&rig.gh, "octo/web", 2003, "Run cargo test");
    let api = classified(&rig, API).await;
    assert_eq!(api["last_run"]["failure_class"], "infrastructure", "{api}");
    assert!(
        api["last_run"]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("Run actions/checkout@v4"),
        "{api}"
    );
    let web = classified(&rig, WEB).await;
    assert_eq!(web["last_run"]["failure_class"], "real", "{web}");
    assert_eq!(
        web["last_run"]["failure_reason"],
        "step `Run cargo test` of job `test` failed"
    );

    wait_until("the set-up failure was re-run", || {
        reruns(&rig.gh, 1003) == 1
    })
    .await;
    // HA's *Recovery* event entity hears of it, with the reason.
    let event = rig
        .probe
        .wait_for("gitops-bridge/repo/octo/api/recovery", WAIT, |_| true)
        .await;
    assert!(!event.retain, "events are never retained");
    let event = event.json();
    assert_eq!(event["event_type"], "re_run", "{event}");
    assert_eq!(event["run_id"], 1003);
    assert!(
        event["reason"]
            .as_str()
            .unwrap()
            .contains("actions/checkout"),
        "{event}"
    );
    // Attempt 2 runs, and fails the same way: not re-run again.
    rig.probe
        .wait_for(API, WAIT, |s| s.json()["last_run"]["attempt"] == 2)
        .await;
    fail(&rig.gh, "octo/api", 1003, "Run actions/checkout@v4");
    rig.probe
        .wait_for(API, WAIT, |s| {
            let run = &s.json()["last_run"];
            run["attempt"] == 2 && run["failure_class"] == "infrastructure"
        })
        .await;
    // Longer than the doubled backoff (2 s) a second re-run would have waited.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        reruns(&rig.gh, 1003),
        1,
        "the same failure twice is not re-run"
    );
    assert_eq!(reruns(&rig.gh, 2003), 0, "a test failure is never re-run");

    // The re-run went through the executor: audited as the policy's, with its request id.
    let audit = rig
        .probe
        .all()
        .into_iter()
        .filter(|m| m.topic == "gitops-bridge/cmd/result")
        .map(|m| m.json())
        .collect::<Vec<Value>>();
    let rerun = audit
        .iter()
        .find(|r| r["action"] == "rerun_failed")
        .unwrap_or_else(|| panic!("no result for the re-run: {audit:?}"));
    assert_eq!(rerun["ok"], true, "{rerun}");
    assert_eq!(rerun["request_id"], "auto-retry-1003-1");
    rig.stop().await;
}

#[tokio::test]
async fn a_runner_lost_during_the_tests_is_infrastructure_and_re_run() {
    let rig = launch_running(
        "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        backoff: 1s\n    - name: octo/web\n",
    )
    .await;
    // The runner was shut down while `test` ran its tests: the step alone says `real`.
    let shutdown = "The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.";
    support::world::annotate_job(
        &rig.gh,
        "octo/api",
        1003,
        "test",
        fake_github::Annotation::runner(shutdown),
    );
    fail(&rig.gh, "octo/api", 1003, "Run cargo test");
    // octo/web passes: no annotation is asked for.
    support::world::finish_run(&rig.gh, "octo/web", 2003, "success");
    let api = classified(&rig, API).await;
    assert_eq!(api["last_run"]["failure_class"], "infrastructure", "{api}");
    let reason = api["last_run"]["failure_reason"].as_str().unwrap();
    assert!(reason.contains("job `test`"), "{reason}");
    assert!(reason.contains("received a shutdown signal"), "{reason}");
    wait_until("the run the runner lost was re-run", || {
        reruns(&rig.gh, 1003) == 1
    })
    .await;
    rig.probe
        .wait_for(WEB, WAIT, |s| s.json()["last_run"]["status"] == "success")
        .await;
    let annotations: Vec<String> = rig
        .gh
        .requests()
        .iter()
        .filter(|r| r.path.contains("/check-runs/"))
        .map(|r| r.path.clone())
        .collect();
    assert!(
        annotations
            .iter()
            .all(|p| p.starts_with("/repos/octo/api/")),
        "only the failed run's jobs are asked about: {annotations:?}"
    );
    rig.stop().await;
}

#[test]
fn recovery_settings_that_cannot_work_are_refused_with_the_key_named() {
    let cases = [
        (
            "    - name: octo/api\n      auto_retry: {}\n",
            "`rerun_failed`, which is not in `allow`",
        ),
        (
            "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        classes: [real]\n",
            "never retried",
        ),
        (
            "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        classes: [transient]\n",
            "unknown class `transient`",
        ),
        (
            "    - name: octo/api\n      deploy_workflow: deploy.yml\n      auto_rollback: {}\n",
            "`rollback`, which is not in `allow`",
        ),
        (
            "    - name: octo/api\n      allow: [rollback]\n      rollback: {workflow: rollback.yml}\n      auto_rollback: {}\n",
            "`deploy_workflow`, which is not set",
        ),
        (
            "    - name: octo/api\n      health_checks:\n        - url: ftp://nas.lan/health\n",
            "`ftp://nas.lan/health` is not an http(s) URL",
        ),
        (
            "    - name: octo/api\n      health_check_every: 1m\n",
            "`health_checks` lists no check",
        ),
        (
            "    - name: octo/api\n      health_checks:\n        - entity: binary_sensor.nas_online\n",
            "`github.repositories[0].health_checks` checks an entity of Home Assistant",
        ),
        (
            "    - name: octo/api\n      health_checks:\n        - entity: NAS online\n",
            "`NAS online` is not an entity id",
        ),
        (
            "    - name: octo/api\n      health_checks:\n        - url: http://nas.lan/\n          entity: binary_sensor.nas_online\n",
            "exactly one of `url`",
        ),
        (
            "    - name: octo/api\n      health_checks:\n        - url: http://nas.lan/\n          state: \"on\"\n",
            "belongs to an `entity` check",
        ),
    ];
    for (repos, message) in cases {
        let cfg = support::Config::write("http://127.0.0.1:9", "t", 1, repos, "");
        let err = gitops_bridge::settings::Settings::load(&gitops_bridge::settings::Sources {
            file: Some(cfg.path.clone()),
            addon_options: None,
            env: vec![],
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("auto_r") || err.contains("health_check"),
            "{err}"
        );
        assert!(err.contains(message), "{err}");
    }
}

/// `octo/deploy`: a good deploy (3001), two failed ones (3002, 3003), one still running (3004).
fn deploy_world() -> World {
    let now = Utc::now();
    let h = |n: i64| now - chrono::Duration::hours(n);
    let minutes = chrono::Duration::minutes;
    let mut repo = Repo::new(3, "octo", "deploy")
        .workflow(fake_github::Workflow::new(
            30,
            "Deploy",
            ".github/workflows/deploy.yml",
        ))
        .run(fake_github::Run::completed(
            3001,
            30,
            "Deploy",
            "success",
            h(40),
            minutes(2),
        ))
        .run(fake_github::Run::completed(
            3002,
            30,
            "Deploy",
            "failure",
            h(30),
            minutes(2),
        ))
        .run(fake_github::Run::completed(
            3003,
            30,
            "Deploy",
            "failure",
            h(20),
            minutes(2),
        ))
        .run(fake_github::Run::completed(
            3004,
            30,
            "Deploy",
            "failure",
            h(1),
            minutes(2),
        ));
    let running = repo.runs.last_mut().unwrap();
    running.status = "in_progress".into();
    running.conclusion = None;
    World::new("t").owner(Owner::user("octo", 1)).repo(repo)
}

fn finish(gh: &FakeGitHub, run_id: u64, conclusion: &str) {
    support::world::finish_run(gh, "octo/deploy", run_id, conclusion);
}

#[tokio::test]
async fn the_third_failed_deploy_in_a_row_rolls_back_once_per_episode() {
    const DEPLOY: &str = "gitops-bridge/repo/octo/deploy/state";
    let rig = Rig::launch(
        deploy_world(),
        "    - name: octo/deploy\n      allow: [rollback]\n      deploy_workflow: deploy.yml\n      auto_rollback:\n        after: 3\n        cooldown: 0s\n",
        "gitops-bridge/#",
        |text| text,
        false,
    )
    .await;
    rig.probe
        .wait_for(DEPLOY, WAIT, |s| {
            s.json()["running"] == true && s.json()["failure_streak"] == 2
        })
        .await;
    let rollbacks = |gh: &FakeGitHub| {
        gh.requests()
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path == "/repos/octo/deploy/actions/runs/3001/rerun"
            })
            .count()
    };
    assert_eq!(rollbacks(&rig.gh), 0, "two failures are not enough");

    // The third failure in a row: the last good deploy (3001) is run again.
    finish(&rig.gh, 3004, "failure");
    wait_until("the rollback re-ran the last good deploy", || {
        rollbacks(&rig.gh) == 1
    })
    .await;
    let event = rig
        .probe
        .wait_for("gitops-bridge/repo/octo/deploy/recovery", WAIT, |_| true)
        .await
        .json();
    assert_eq!(event["event_type"], "rolled_back", "{event}");
    assert_eq!(event["run_id"], 3004, "the failure that triggered it");
    assert_eq!(
        event["reason"],
        "deploy.yml failed 3 times in a row on main"
    );

    // The rollback itself fails: still the same episode, so no second rollback.
    rig.probe
        .wait_for(DEPLOY, WAIT, |s| s.json()["running"] == true)
        .await;
    finish(&rig.gh, 3001, "failure");
    let results = || {
        rig.probe
            .all()
            .into_iter()
            .filter(|m| m.topic == "gitops-bridge/cmd/result")
            .map(|m| m.json())
            .filter(|r| r["action"] == "rollback")
            .collect::<Vec<Value>>()
    };
    wait_until("the second trigger was answered", || results().len() == 2).await;
    let results = results();
    assert_eq!(results[0]["ok"], true, "{results:?}");
    assert_eq!(results[0]["request_id"], "auto-rollback-3001");
    assert_eq!(results[1]["duplicate"], true, "{results:?}");
    assert_eq!(rollbacks(&rig.gh), 1, "one rollback per failure episode");
    let events = rig
        .probe
        .all()
        .iter()
        .filter(|m| m.topic == "gitops-bridge/repo/octo/deploy/recovery")
        .count();
    assert_eq!(events, 1, "the duplicate is not announced as a rollback");
    rig.stop().await;
}

/// HA's *Auto-retry* switch: announced with the repository, `OFF` leaves a set-up failure
/// alone, the state survives a restart of the daemon, and `ON` lets the policy act again;
/// the bridge's *Automation paused* switch is announced beside it.
#[tokio::test]
async fn the_auto_retry_switch_turns_the_policy_off_and_on_and_survives_a_restart() {
    let mut rig = Rig::launch(
        world(),
        "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        backoff: 1s\n",
        "#",
        |text| text,
        false,
    )
    .await;
    let config = rig.probe.device_config("gitops_bridge_repo_1").await;
    let switch = &config["components"]["auto_retry"];
    assert_eq!(switch["platform"], "switch", "{config}");
    assert_eq!(switch["name"], "Auto-retry");
    assert_eq!(
        switch["command_topic"],
        "gitops-bridge/repo/octo/api/set/auto_retry"
    );
    let bridge = rig.probe.device_config("gitops_bridge_bridge").await;
    assert_eq!(
        bridge["components"]["automation_paused"]["command_topic"],
        "gitops-bridge/bridge/set/automation_paused"
    );
    rig.probe
        .wait_for(API, WAIT, |s| {
            s.json()["running"] == true && s.json()["switches"]["auto_retry"] == "ON"
        })
        .await;

    rig.probe
        .publish("gitops-bridge/repo/octo/api/set/auto_retry", "OFF", false)
        .await;
    rig.probe
        .wait_for(API, WAIT, |s| s.json()["switches"]["auto_retry"] == "OFF")
        .await;
    let answer = rig
        .probe
        .wait_for("gitops-bridge/cmd/result", WAIT, |s| {
            s.json()["action"] == "set_auto_retry"
        })
        .await
        .json();
    assert_eq!(answer["ok"], true, "{answer}");

    // Off: the set-up failure is classified, and left alone.
    fail(&rig.gh, "octo/api", 1003, "Run actions/checkout@v4");
    rig.probe
        .wait_for(API, WAIT, |s| {
            s.json()["last_run"]["failure_class"] == "infrastructure"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reruns(&rig.gh, 1003), 0, "switched off: not re-run");

    // A restart keeps it off: what the new process announces when HA (re)starts says so.
    rig.daemon.take().unwrap().stop().await.unwrap();
    let started = Instant::now();
    rig.daemon = Some(support::Daemon::start(rig.cfg.settings()));
    rig.probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.at >= started && s.payload == b"online"
        })
        .await;
    let restarted = Instant::now();
    rig.probe
        .publish("homeassistant/status", "online", false)
        .await;
    rig.probe
        .wait_for(API, WAIT, |s| {
            s.at >= restarted && s.json()["switches"]["auto_retry"] == "OFF"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(reruns(&rig.gh, 1003), 0, "still off after the restart");

    // On again: the newest failure is re-run.
    rig.probe
        .publish("gitops-bridge/repo/octo/api/set/auto_retry", "ON", false)
        .await;
    wait_until("re-run once switched on", || reruns(&rig.gh, 1003) == 1).await;

    // A switch the settings do not configure is refused, and so is a bad payload.
    rig.probe
        .publish("gitops-bridge/repo/octo/api/set/auto_rollback", "ON", false)
        .await;
    let refused = rig
        .probe
        .wait_for("gitops-bridge/cmd/result", WAIT, |s| {
            s.json()["action"] == "set_auto_rollback"
        })
        .await
        .json();
    assert_eq!(refused["ok"], false);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("no `auto_rollback`"),
        "{refused}"
    );
    rig.stop().await;
}

/// *Automation paused* on the bridge stops the auto-retry of every repository.
#[tokio::test]
async fn automation_paused_stops_every_automatic_re_run() {
    let rig = Rig::launch(
        world(),
        "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        backoff: 1s\n",
        "gitops-bridge/#",
        |text| text,
        false,
    )
    .await;
    rig.probe
        .wait_for(API, WAIT, |s| s.json()["running"] == true)
        .await;
    rig.probe
        .publish("gitops-bridge/bridge/set/automation_paused", "ON", false)
        .await;
    rig.probe
        .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
            s.json()["automation_paused"] == "ON"
        })
        .await;
    fail(&rig.gh, "octo/api", 1003, "Set up job");
    rig.probe
        .wait_for(API, WAIT, |s| {
            s.json()["last_run"]["failure_class"] == "infrastructure"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reruns(&rig.gh, 1003), 0, "paused: not re-run");
    rig.stop().await;
}

/// A service's `/health` on a free loopback port, answering the status the test stores
/// (200 at first); returns that status and the port.
async fn health_server() -> (std::sync::Arc<std::sync::atomic::AtomicU16>, u16) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, Ordering};
    let status = Arc::new(AtomicU16::new(200));
    let served = status.clone();
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let served = served.clone();
            async move { axum::http::StatusCode::from_u16(served.load(Ordering::SeqCst)).unwrap() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (status, port)
}

/// A repository's HTTP health check: healthy at start, then a successful deploy run is
/// followed by a check at once, which finds the service answering 503: the *Health check*
/// sensor's state says so, with the URL and the status.
#[tokio::test]
async fn a_health_check_runs_after_a_deploy_and_reports_the_failure() {
    use std::sync::atomic::Ordering;
    let (status, port) = health_server().await;

    let rig = Rig::launch(
        world(),
        &format!(
            "    - name: octo/api\n      deploy_workflow: ci.yml\n      health_checks:\n        - url: http://127.0.0.1:{port}/health\n          timeout: 2s\n      health_check_every: 1h\n"
        ),
        "#",
        |text| text,
        false,
    )
    .await;
    let config = rig.probe.device_config("gitops_bridge_repo_1").await;
    assert_eq!(
        config["components"]["health_check"]["device_class"],
        "problem"
    );
    rig.probe
        .wait_for(API, WAIT, |s| s.json()["health_check"]["ok"] == true)
        .await;

    status.store(503, Ordering::SeqCst);
    rig.gh.with_world(|w| {
        let run = w
            .repo_mut("octo/api")
            .unwrap()
            .latest_run_mut(1003)
            .unwrap();
        run.status = "completed".into();
        run.conclusion = Some("success".into());
        run.updated_at = Utc::now();
    });
    let state = rig
        .probe
        .wait_for(API, WAIT, |s| s.json()["health_check"]["ok"] == false)
        .await
        .json();
    let failure = state["health_check"]["failures"][0].as_str().unwrap();
    assert!(
        failure.contains(&format!("127.0.0.1:{port}/health")) && failure.contains("answered 503"),
        "{state}"
    );
    rig.stop().await;
}

/// A deploy that succeeds but leaves the service unhealthy is undone: the health check right
/// after it fails, and the rollback re-runs the successful deploy *before* it (not the
/// unhealthy one, the newest success), once, announced with the failing check as the
/// reason. With `health_failures: 0` the same failure is only reported.
#[tokio::test]
async fn a_deploy_that_fails_its_health_check_is_rolled_back_to_the_one_before() {
    use std::sync::atomic::Ordering;
    const DEPLOY: &str = "gitops-bridge/repo/octo/deploy/state";
    let (status, port) = health_server().await;

    for health_failures in [1, 0] {
        status.store(200, Ordering::SeqCst);
        // 3001 and 3002 deployed well; 3003 failed; 3004 is deploying.
        let mut world = deploy_world();
        world.repo_mut("octo/deploy").unwrap().runs[1].conclusion = Some("success".into());
        let rig = Rig::launch(
            world,
            &format!(
                "    - name: octo/deploy\n      allow: [rollback]\n      deploy_workflow: deploy.yml\n      auto_rollback:\n        health_failures: {health_failures}\n        cooldown: 0s\n      health_checks:\n        - url: http://127.0.0.1:{port}/health\n          timeout: 2s\n      health_check_every: 1h\n"
            ),
            "gitops-bridge/#",
            |text| text,
            false,
        )
        .await;
        rig.probe
            .wait_for(DEPLOY, WAIT, |s| {
                s.json()["running"] == true && s.json()["health_check"]["ok"] == true
            })
            .await;

        // 3004 deploys successfully, and the service answers 503 from then on.
        status.store(503, Ordering::SeqCst);
        finish(&rig.gh, 3004, "success");
        let state = rig
            .probe
            .wait_for(DEPLOY, WAIT, |s| s.json()["health_check"]["ok"] == false)
            .await
            .json();
        let reruns = |gh: &FakeGitHub, run: u64| {
            let path = format!("/repos/octo/deploy/actions/runs/{run}/rerun");
            gh.requests()
                .iter()
                .filter(|r| r.method == "POST" && r.path == path)
                .count()
        };
        if health_failures == 0 {
            // Time for a rollback that must not come.
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(
                reruns(&rig.gh, 3002) + reruns(&rig.gh, 3004),
                0,
                "health_failures: 0 never rolls back: {state}"
            );
            rig.stop().await;
            continue;
        }
        wait_until(
            "the rollback re-ran the deploy before the unhealthy one",
            || reruns(&rig.gh, 3002) == 1,
        )
        .await;
        assert_eq!(reruns(&rig.gh, 3004), 0, "not the unhealthy deploy itself");
        let event = rig
            .probe
            .wait_for("gitops-bridge/repo/octo/deploy/recovery", WAIT, |_| true)
            .await
            .json();
        assert_eq!(event["event_type"], "rolled_back", "{event}");
        assert_eq!(event["run_id"], 3004, "the deploy undone");
        let reason = event["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the health check failed 1 time after deploy.yml #3004")
                && reason.contains("answered 503"),
            "{reason}"
        );
        let result = rig
            .probe
            .all()
            .into_iter()
            .filter(|m| m.topic == "gitops-bridge/cmd/result")
            .map(|m| m.json())
            .find(|r| r["action"] == "rollback")
            .unwrap();
        assert_eq!(
            result["request_id"], "auto-rollback-health-3004",
            "{result}"
        );
        rig.stop().await;
    }
}

/// Entity health checks through Home Assistant's REST API (a stand-in answering
/// `GET /api/states/<id>` as HA does, 404 for an unknown entity, with the token checked):
/// an entity in its expected state is healthy; one in another state, or one HA does not
/// know, fails the check, and the sensor's failures say which and why.
#[tokio::test]
async fn an_entity_health_check_asks_home_assistant_for_the_state() {
    use std::sync::{Arc, Mutex};
    let nas = Arc::new(Mutex::new(Some("on".to_string())));
    let served = nas.clone();
    let app = axum::Router::new().route(
        "/api/states/{entity_id}",
        axum::routing::get(
            move |axum::extract::Path(id): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap| {
                let served = served.clone();
                async move {
                    use axum::response::IntoResponse;
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some("Bearer ha-long-lived-token") {
                        return axum::http::StatusCode::UNAUTHORIZED.into_response();
                    }
                    let state = served.lock().unwrap().clone();
                    match (id.as_str(), state) {
                        ("binary_sensor.nas_online", Some(state)) => {
                            axum::Json(serde_json::json!({
                                "entity_id": id, "state": state, "attributes": {},
                            }))
                            .into_response()
                        }
                        _ => (
                            axum::http::StatusCode::NOT_FOUND,
                            axum::Json(serde_json::json!({"message": "Entity not found."})),
                        )
                            .into_response(),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let rig = Rig::launch(
        world(),
        "    - name: octo/api\n      deploy_workflow: ci.yml\n      health_checks:\n        - entity: binary_sensor.nas_online\n          state: \"on\"\n          timeout: 2s\n      health_check_every: 1h\n",
        "gitops-bridge/#",
        |text| {
            format!(
                "{text}home_assistant:\n  url: http://127.0.0.1:{port}\n  token: ha-long-lived-token\n"
            )
        },
        false,
    )
    .await;
    rig.probe
        .wait_for(API, WAIT, |s| s.json()["health_check"]["ok"] == true)
        .await;

    // Each successful deploy is checked at once: the first finds the NAS off.
    *nas.lock().unwrap() = Some("off".into());
    support::world::finish_run(&rig.gh, "octo/api", 1003, "success");
    let state = rig
        .probe
        .wait_for(API, WAIT, |s| s.json()["health_check"]["ok"] == false)
        .await
        .json();
    assert_eq!(
        state["health_check"]["failures"][0], "binary_sensor.nas_online is off (expected on)",
        "{state}"
    );
    rig.stop().await;

    // An entity HA does not know fails as such.
    *nas.lock().unwrap() = None;
    let rig = Rig::launch(
        world(),
        "    - name: octo/api\n      health_checks:\n        - entity: binary_sensor.nas_online\n",
        "gitops-bridge/#",
        |text| {
            format!(
                "{text}home_assistant:\n  url: http://127.0.0.1:{port}\n  token: ha-long-lived-token\n"
            )
        },
        false,
    )
    .await;
    let state = rig
        .probe
        .wait_for(API, WAIT, |s| s.json()["health_check"]["ok"] == false)
        .await
        .json();
    assert_eq!(
        state["health_check"]["failures"][0],
        "binary_sensor.nas_online does not exist in Home Assistant",
        "{state}"
    );
    rig.stop().await;
}

/// A deploy run of `octo/deploy` on `sha`, started 3 minutes ago and still running (its
/// `updated_at` before the one `finish` gives it: the store keeps the newest update).
fn running_deploy(gh: &FakeGitHub, id: u64, sha: &str) {
    gh.with_world(|w| {
        let mut run = fake_github::Run::completed(
            id,
            30,
            "Deploy",
            "success",
            Utc::now() - chrono::Duration::minutes(3),
            chrono::Duration::minutes(1),
        )
        .sha(sha);
        run.status = "in_progress".into();
        run.conclusion = None;
        w.repo_mut("octo/deploy").unwrap().runs.push(run);
    });
}

#[tokio::test]
async fn failures_that_began_with_our_template_deploy_roll_the_templates_back() {
    const DEPLOY: &str = "gitops-bridge/repo/octo/deploy/state";
    // Only the good deploy (3001) of `deploy_world`: the failures come after our commit.
    let mut world = deploy_world();
    world.repos[0].runs.retain(|r| r.id == 3001);
    let rig = Rig::launch(
        world,
        "    - name: octo/deploy\n      allow: [rollback, deploy_template, rollback_template]\n      deploy_workflow: deploy.yml\n      auto_rollback:\n        after: 2\n        cooldown: 0s\n",
        "gitops-bridge/#",
        |text| {
            text + "templates:\n  targets:\n    - repositories: [octo/deploy]\n      templates: [security-scan]\n      mode: commit\n"
        },
        false,
    )
    .await;
    rig.probe
        .wait_for(DEPLOY, WAIT, |s| s.json()["status"] == "success")
        .await;
    let results = |action: &'static str| {
        rig.probe
            .all()
            .into_iter()
            .filter(|m| m.topic == "gitops-bridge/cmd/result")
            .map(|m| m.json())
            .filter(move |r| r["action"] == action)
            .collect::<Vec<Value>>()
    };
    // Our template deploy commits to main; the deploys on that commit then fail twice.
    rig.probe
        .publish(
            "gitops-bridge/repo/octo/deploy/cmd/deploy_template",
            r#"{"request_id": "templates-1"}"#,
            false,
        )
        .await;
    wait_until("the template deploy was answered", || {
        !results("deploy_template").is_empty()
    })
    .await;
    let deployed = &results("deploy_template")[0];
    assert_eq!(deployed["ok"], true, "{deployed}");
    let commit = deployed["commit"].as_str().unwrap().to_string();
    let workflow = ".github/workflows/security-scan.yml";
    let on_main = |gh: &FakeGitHub| {
        gh.with_world(|w| {
            w.find_repo("octo/deploy")
                .unwrap()
                .git
                .file("main", workflow)
                .is_some()
        })
    };
    assert!(on_main(&rig.gh), "the template is on main");
    for id in [3005, 3006] {
        running_deploy(&rig.gh, id, &commit);
    }
    rig.probe
        .wait_for(DEPLOY, WAIT, |s| s.json()["running"] == true)
        .await;
    finish(&rig.gh, 3005, "failure");
    finish(&rig.gh, 3006, "failure");

    // The templates are rolled back, not the last good deploy re-run.
    wait_until("the templates were rolled back", || {
        !results("rollback_template").is_empty()
    })
    .await;
    let rolled = &results("rollback_template")[0];
    assert_eq!(rolled["ok"], true, "{rolled}");
    assert_eq!(rolled["request_id"], "auto-rollback-template-3001");
    assert!(
        !on_main(&rig.gh),
        "the template's workflow is gone from main again"
    );
    let event = rig
        .probe
        .wait_for("gitops-bridge/repo/octo/deploy/recovery", WAIT, |_| true)
        .await
        .json();
    assert_eq!(event["event_type"], "rolled_back", "{event}");
    let reason = event["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("began with the template deploy {}", &commit[..7])),
        "{reason}"
    );
    assert!(
        !rig.gh
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/actions/runs/3001/rerun")),
        "the last good deploy is not re-run"
    );
    rig.stop().await;
}
