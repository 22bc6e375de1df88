//! Coordination across repositories against a running daemon (real Mosquitto, fake GitHub):
//! an upstream's success dispatches the downstream workflow with the upstream's commit; the
//! quality gate is posted as a commit status, fails when the upstream fails, and refuses our
//! own dispatch unless told to ignore it; a coordinated deployment stops at the first
//! failed step and runs the next only after a success; and the settings refuse a cycle in
//! `needs`, naming it; a gate with `config_check` follows the HA configuration check.

mod support;

use std::time::Duration;

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, Run, Workflow, World};
use serde_json::Value;
use support::rig::Rig;
use support::world::finish_run as finish;

const WAIT: Duration = Duration::from_secs(20);
const LIB_SHA: &str = "1111111111111111111111111111111111111111";
const APP_SHA: &str = "2222222222222222222222222222222222222222";

/// `octo/lib` with its release running (5001), `octo/app` with one good build (6001).
fn world() -> World {
    let now = Utc::now();
    let minutes = chrono::Duration::minutes;
    let lib = Repo::new(5, "octo", "lib")
        .workflow(Workflow::new(
            50,
            "Release",
            ".github/workflows/release.yml",
        ))
        .run(
            Run::completed(
                5000,
                50,
                "Release",
                "success",
                now - minutes(90),
                minutes(2),
            )
            .sha(LIB_SHA),
        )
        .run(Run::in_progress(5001, 50, "Release", now - minutes(1)).sha(LIB_SHA));
    let app = Repo::new(6, "octo", "app")
        .workflow(Workflow::new(60, "Build", ".github/workflows/build.yml"))
        .run(
            Run::completed(6001, 60, "Build", "success", now - minutes(60), minutes(2))
                .sha(APP_SHA),
        );
    World::new("t")
        .owner(Owner::user("octo", 1))
        .repo(lib)
        .repo(app)
}

async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    support::world::wait_until(what, WAIT, done).await;
}

/// The bodies of the POSTs to `path`, in order.
fn posts(gh: &FakeGitHub, path: &str) -> Vec<Value> {
    gh.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// Once the gate of the repository whose state is `topic` fails: its failing conditions.
async fn failing_gate(rig: &Rig, topic: &str) -> String {
    let state = rig
        .probe
        .wait_for(topic, WAIT, |s| {
            s.json()["quality_gate"]["passing"] == false
        })
        .await
        .json();
    state["quality_gate"]["failing"].to_string()
}

fn results(rig: &Rig, action: &str) -> Vec<Value> {
    rig.probe
        .all()
        .into_iter()
        .filter(|m| m.topic == "gitops-bridge/cmd/result")
        .map(|m| m.json())
        .filter(|r| r["action"] == action)
        .collect()
}

#[tokio::test]
async fn an_upstream_success_dispatches_downstream_and_a_failing_upstream_closes_the_gate() {
    const APP: &str = "gitops-bridge/repo/octo/app/state";
    const DISPATCHES: &str = "/repos/octo/app/actions/workflows/build.yml/dispatches";
    let rig = Rig::launch(
        world(),
        "    - name: octo/lib\n    - name: octo/app\n      allow: [dispatch]\n      dispatch: [build.yml]\n      needs:\n        - repository: octo/lib\n          workflow: release.yml\n      on_upstream: {workflow: build.yml}\n      quality_gate: {}\n",
        "gitops-bridge/#",
        |text| text,
        false,
    )
    .await;
    // The gate passes and is posted on the app's newest commit, under its context.
    rig.probe
        .wait_for(APP, WAIT, |s| s.json()["quality_gate"]["passing"] == true)
        .await;
    let statuses = format!("/repos/octo/app/statuses/{APP_SHA}");
    wait_until("the passing gate was posted", || {
        !posts(&rig.gh, &statuses).is_empty()
    })
    .await;
    let first = &posts(&rig.gh, &statuses)[0];
    assert_eq!(first["state"], "success", "{first}");
    assert_eq!(first["context"], "gitops-bridge/quality-gate");
    assert!(
        posts(&rig.gh, DISPATCHES).is_empty(),
        "nothing upstream succeeded yet"
    );

    // The upstream release succeeds on main: the app's build is dispatched with its commit.
    finish(&rig.gh, "octo/lib", 5001, "success");
    wait_until("the downstream build was dispatched", || {
        !posts(&rig.gh, DISPATCHES).is_empty()
    })
    .await;
    let dispatch = &posts(&rig.gh, DISPATCHES)[0];
    assert_eq!(dispatch["inputs"]["upstream_sha"], LIB_SHA, "{dispatch}");
    assert_eq!(dispatch["ref"], "main");
    let event = rig
        .probe
        .wait_for("gitops-bridge/repo/octo/app/recovery", WAIT, |_| true)
        .await
        .json();
    assert_eq!(event["event_type"], "dispatched_downstream", "{event}");
    assert!(
        event["reason"]
            .as_str()
            .unwrap()
            .contains("octo/lib:release.yml succeeded"),
        "{event}"
    );

    // The upstream fails on main: the gate fails, naming it, and says so on GitHub.
    rig.gh.with_world(|w| {
        let lib = w.repo_mut("octo/lib").unwrap();
        lib.runs.push(
            Run::completed(
                5002,
                50,
                "Release",
                "failure",
                Utc::now(),
                chrono::Duration::minutes(1),
            )
            .sha(LIB_SHA),
        );
    });
    let failing = failing_gate(&rig, APP).await;
    assert!(
        failing.contains("upstream octo/lib:release.yml is failing on main"),
        "{failing}"
    );
    wait_until("the failing gate was posted", || {
        posts(&rig.gh, &statuses)
            .iter()
            .any(|s| s["state"] == "failure")
    })
    .await;

    // Our own dispatch is refused while the gate fails, unless told to ignore it.
    let before = posts(&rig.gh, DISPATCHES).len();
    rig.probe
        .publish(
            "gitops-bridge/repo/octo/app/cmd/dispatch",
            r#"{"workflow": "build.yml", "request_id": "gated"}"#,
            false,
        )
        .await;
    wait_until("the gated dispatch was answered", || {
        results(&rig, "dispatch")
            .iter()
            .any(|r| r["request_id"] == "gated")
    })
    .await;
    let refused = results(&rig, "dispatch")
        .into_iter()
        .find(|r| r["request_id"] == "gated")
        .unwrap();
    assert_eq!(refused["ok"], false, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("quality gate"), "{message}");
    assert!(
        message.contains("octo/lib:release.yml is failing"),
        "{message}"
    );
    assert!(message.contains("ignore_gate"), "{message}");
    assert_eq!(posts(&rig.gh, DISPATCHES).len(), before, "nothing sent");
    rig.probe
        .publish(
            "gitops-bridge/repo/octo/app/cmd/dispatch",
            r#"{"workflow": "build.yml", "request_id": "forced", "ignore_gate": true}"#,
            false,
        )
        .await;
    wait_until("the forced dispatch went out", || {
        posts(&rig.gh, DISPATCHES).len() == before + 1
    })
    .await;
    rig.stop().await;
}

/// The newest `workflow_dispatch` run of `repo`'s workflow `wf`, once there is one after `after`.
fn dispatched_run(gh: &FakeGitHub, repo: &str, wf: u64, after: u64) -> Option<u64> {
    gh.with_world(|w| {
        w.find_repo(repo)
            .unwrap()
            .runs
            .iter()
            .filter(|r| r.workflow_id == wf && r.event == "workflow_dispatch" && r.id > after)
            .map(|r| r.id)
            .max()
    })
}

#[tokio::test]
async fn a_coordinated_deployment_stops_at_the_first_failure_and_goes_on_after_a_success() {
    const LIB: &str = "/repos/octo/lib/actions/workflows/release.yml/dispatches";
    const APP: &str = "/repos/octo/app/actions/workflows/build.yml/dispatches";
    let rig = Rig::launch(
        world(),
        "    - name: octo/lib\n      allow: [dispatch]\n      dispatch: [release.yml]\n    - name: octo/app\n      allow: [dispatch]\n      dispatch: [build.yml]\n      deploy_workflow: build.yml\n",
        "#",
        |text| {
            text + "coordinated_deployments:\n  - name: homelab\n    steps:\n      - {repository: octo/lib, workflow: release.yml}\n      - {repository: octo/app}\n"
        },
        false,
    )
    .await;
    rig.probe
        .wait_for("gitops-bridge/repo/octo/app/state", WAIT, |s| {
            s.json()["status"] == "success"
        })
        .await;
    // HA's status sensor reads the bridge state: idle before anything ran.
    const BRIDGE: &str = "gitops-bridge/bridge/state";
    let status = |s: &support::Seen| s.json()["coordinated"]["homelab"].clone();
    let idle = rig
        .probe
        .wait_for(BRIDGE, WAIT, |s| status(s)["state"] == "idle")
        .await;
    assert_eq!(status(&idle)["steps"], 2, "{}", status(&idle));
    // The *Deploy homelab* button's own payload starts it.
    let config = rig.probe.device_config("gitops_bridge_bridge").await;
    let button = &config["components"]["coordinate_homelab"];
    assert_eq!(
        button["command_topic"],
        "gitops-bridge/bridge/cmd/coordinate"
    );
    const COORDINATE: &str = "gitops-bridge/bridge/cmd/coordinate";
    rig.probe
        .publish(
            COORDINATE,
            button["payload_press"].as_str().unwrap().to_string(),
            false,
        )
        .await;
    let running = rig
        .probe
        .wait_for(BRIDGE, WAIT, |s| status(s)["state"] == "running")
        .await;
    assert_eq!(status(&running)["step"], 1);
    assert_eq!(status(&running)["current"], "octo/lib:release.yml");
    wait_until("the first step was dispatched", || {
        posts(&rig.gh, LIB).len() == 1
    })
    .await;
    let answer = results(&rig, "coordinate");
    assert_eq!(answer[0]["ok"], true, "{answer:?}");
    assert!(
        answer[0]["message"]
            .as_str()
            .unwrap()
            .contains("octo/lib:release.yml → octo/app:build.yml"),
        "{answer:?}"
    );
    let mut run = None;
    wait_until("the dispatched run exists", || {
        run = dispatched_run(&rig.gh, "octo/lib", 50, 5001);
        run.is_some()
    })
    .await;
    let first = run.unwrap();
    finish(&rig.gh, "octo/lib", first, "failure");
    let failed = rig
        .probe
        .wait_for("gitops-bridge/repo/octo/lib/recovery", WAIT, |s| {
            s.json()["event_type"] == "coordinated_failed"
        })
        .await
        .json();
    assert!(
        failed["message"].as_str().unwrap().contains("failure"),
        "{failed}"
    );
    assert!(
        failed["reason"].as_str().unwrap().contains("step 1 of 2"),
        "{failed}"
    );
    let stopped = rig
        .probe
        .wait_for(BRIDGE, WAIT, |s| status(s)["state"] == "failed")
        .await;
    let stopped = status(&stopped);
    assert_eq!(stopped["step"], 1, "{stopped}");
    assert!(
        stopped["reason"].as_str().unwrap().contains("failure"),
        "{stopped}"
    );
    assert!(!stopped["finished_at"].is_null(), "{stopped}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        posts(&rig.gh, APP).is_empty(),
        "a failed step stops the rest"
    );

    // Again, by command: the first step succeeds, so the second is dispatched.
    let start = |id: &str| format!(r#"{{"deployment": "homelab", "request_id": "{id}"}}"#);
    rig.probe.publish(COORDINATE, start("second"), false).await;
    wait_until("the first step was dispatched again", || {
        posts(&rig.gh, LIB).len() == 2
    })
    .await;
    let mut run = None;
    wait_until("the second dispatched run exists", || {
        run = dispatched_run(&rig.gh, "octo/lib", 50, first);
        run.is_some()
    })
    .await;
    assert!(
        posts(&rig.gh, APP).is_empty(),
        "not before the first step succeeded"
    );
    finish(&rig.gh, "octo/lib", run.unwrap(), "success");
    wait_until("the second step was dispatched", || {
        posts(&rig.gh, APP).len() == 1
    })
    .await;
    let second = rig
        .probe
        .wait_for(BRIDGE, WAIT, |s| status(s)["step"] == 2)
        .await;
    assert_eq!(status(&second)["state"], "running");
    assert_eq!(status(&second)["current"], "octo/app:build.yml");
    let mut run = None;
    wait_until("the app's dispatched run exists", || {
        run = dispatched_run(&rig.gh, "octo/app", 60, 6001);
        run.is_some()
    })
    .await;
    finish(&rig.gh, "octo/app", run.unwrap(), "success");
    let done = rig
        .probe
        .wait_for(BRIDGE, WAIT, |s| status(s)["state"] == "succeeded")
        .await;
    assert_eq!(status(&done)["step"], 2);
    rig.stop().await;
}

#[test]
fn settings_refuse_a_cycle_in_needs_and_an_upstream_nobody_watches() {
    let load = |repos: &str| {
        let cfg = support::Config::write("http://127.0.0.1:9", "t", 1, repos, "");
        gitops_bridge::settings::Settings::load(&gitops_bridge::settings::Sources {
            file: Some(cfg.path.clone()),
            addon_options: None,
            env: vec![],
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let entry = |name: &str, upstream: &str, upstream_wf: &str, own_wf: &str| {
        format!(
            "    - name: {name}\n      allow: [dispatch]\n      dispatch: [{own_wf}]\n      needs:\n        - {{repository: {upstream}, workflow: {upstream_wf}}}\n      on_upstream: {{workflow: {own_wf}}}\n"
        )
    };
    let chain = entry("octo/app", "octo/lib", "release.yml", "build.yml")
        + &entry("octo/site", "octo/app", "build.yml", "deploy.yml")
        + "    - name: octo/lib\n";
    assert_eq!(load(&chain), Ok(()));
    let cycle = entry("octo/app", "octo/lib", "release.yml", "build.yml")
        + &entry("octo/site", "octo/app", "build.yml", "deploy.yml")
        + &entry("octo/lib", "octo/site", "deploy.yml", "release.yml");
    let err = load(&cycle).unwrap_err();
    assert!(err.contains("cycle"), "{err}");
    assert!(
        err.contains(
            "octo/app:build.yml → octo/site:deploy.yml → octo/lib:release.yml → octo/app:build.yml"
        ),
        "{err}"
    );
    let unwatched = entry("octo/app", "elsewhere/lib", "release.yml", "build.yml");
    let err = load(&unwatched).unwrap_err();
    assert!(err.contains("needs[0].repository"), "{err}");
    assert!(err.contains("`elsewhere/lib` is not watched"), "{err}");
    let undispatchable = "    - name: octo/lib\n    - name: octo/app\n      needs:\n        - {repository: octo/lib, workflow: release.yml}\n      on_upstream: {workflow: build.yml}\n";
    let err = load(undispatchable).unwrap_err();
    assert!(err.contains("on_upstream.workflow"), "{err}");
    // Two deployments whose names are one HA id would share their entities.
    let twice = support::Config::write(
        "http://127.0.0.1:9",
        "t",
        1,
        "    - name: octo/lib\n      allow: [dispatch]\n      dispatch: [release.yml]\n",
        "coordinated_deployments:\n  - name: home-lab\n    steps: [{repository: octo/lib, workflow: release.yml}]\n  - name: Home_lab\n    steps: [{repository: octo/lib, workflow: release.yml}]\n",
    );
    let err = gitops_bridge::settings::Settings::load(&gitops_bridge::settings::Sources {
        file: Some(twice.path.clone()),
        addon_options: None,
        env: vec![],
    })
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("coordinated_deployments[1].name"), "{err}");
    assert!(err.contains("`Home_lab` is used twice"), "{err}");
    let unchecked = "    - name: octo/lib\n      quality_gate: {config_check: true}\n";
    let err = load(unchecked).unwrap_err();
    assert!(err.contains("quality_gate.config_check"), "{err}");
    assert!(err.contains("validate.path"), "{err}");
}

#[tokio::test]
async fn a_gate_with_config_check_fails_while_the_ha_configuration_has_errors() {
    const APP: &str = "gitops-bridge/repo/octo/app/state";
    let config = tempfile::tempdir().unwrap();
    let configuration = config.path().join("configuration.yaml");
    // An automation that names no action: HA refuses to load it, so does the check.
    std::fs::write(
        &configuration,
        "homeassistant:\n  name: Home\nautomation:\n  - alias: Lights\n    triggers:\n      - trigger: state\n        entity_id: sun.sun\n    actions: [\n",
    )
    .unwrap();
    let validate = format!(
        "validate:\n  path: {}\n  security: false\n",
        config.path().display()
    );
    let rig = Rig::launch(
        world(),
        "    - name: octo/app\n      quality_gate: {config_check: true, publish: false}\n    - name: octo/lib\n      quality_gate: {}\n",
        "gitops-bridge/#",
        |text| text + &validate,
        false,
    )
    .await;
    let failing = failing_gate(&rig, APP).await;
    assert!(
        failing.contains("HA configuration check: 1 error (configuration.yaml:"),
        "{failing}"
    );
    // A gate that does not ask for the check is not moved by it.
    let lib = rig
        .probe
        .wait_for("gitops-bridge/repo/octo/lib/state", WAIT, |s| {
            !s.json()["quality_gate"].is_null()
        })
        .await
        .json();
    assert_eq!(lib["quality_gate"]["passing"], true, "{lib}");

    // The file is mended: the watcher checks it again and the gate opens.
    std::fs::write(
        &configuration,
        "homeassistant:\n  name: Home\nautomation:\n  - alias: Lights\n    triggers:\n      - trigger: state\n        entity_id: sun.sun\n    actions: []\n",
    )
    .unwrap();
    rig.probe
        .wait_for(APP, WAIT, |s| s.json()["quality_gate"]["passing"] == true)
        .await;
    // Nothing was posted: `publish: false`.
    assert!(
        !rig.gh
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/repos/octo/app/statuses/")),
        "publish: false posts no commit status"
    );
    rig.stop().await;
}
