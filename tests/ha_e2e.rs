//! End to end in a real Home Assistant (`../shared/tools/ha-lab`): the daemon runs against
//! the fake GitHub and the lab's broker; the assertions go through HA's own REST API.
//!
//! Needs a running lab: `.ci/run` starts it and runs these with `--ignored`, exporting the
//! lab's environment (`HA_URL`, `HA_TOKEN`, `MQTT_*`) and `HALAB` (the lab's command).

mod support;

#[path = "ha_e2e/config_deploy.rs"]
mod config_deploy;

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, Run, Workflow, World};
use serde_json::Value;
use support::DaemonProcess;

struct Lab {
    url: String,
    token: String,
    mqtt_host: String,
    mqtt_port: u16,
    mqtt_user: String,
    mqtt_pass: String,
    http: reqwest::Client,
}

impl Lab {
    fn from_env() -> Lab {
        let var = |k: &str| {
            std::env::var(k).unwrap_or_else(|_| {
                panic!("{k} is not set: run `eval \"$(halab env)\"` (see .ci/run)")
            })
        };
        Lab {
            url: var("HA_URL"),
            token: var("HA_TOKEN"),
            mqtt_host: var("MQTT_HOST"),
            mqtt_port: var("MQTT_PORT").parse().unwrap(),
            mqtt_user: var("MQTT_USER"),
            mqtt_pass: var("MQTT_PASS"),
            http: reqwest::Client::new(),
        }
    }

    async fn state(&self, entity_id: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}/api/states/{entity_id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Waits until `entity_id`'s state satisfies `pred`; returns the state object.
    async fn wait_state(
        &self,
        entity_id: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(s) = self.state(entity_id).await {
                if pred(&s) {
                    return s;
                }
                last = Some(s);
            }
            assert!(
                Instant::now() < deadline,
                "{entity_id} never matched within {timeout:?}; last: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Renders a template through HA (`POST /api/template`).
    async fn template(&self, template: &str) -> String {
        self.http
            .post(format!("{}/api/template", self.url))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "template": template }))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn call(&self, service: &str, body: Value) {
        let (domain, name) = service.split_once('.').unwrap();
        let response = self
            .http
            .post(format!("{}/api/services/{domain}/{name}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{service}: {}",
            response.status()
        );
    }

    /// A websocket command through the lab's helper (`halab.py ws`).
    fn ws(&self, command: Value) -> Value {
        let dir = lab_dir();
        let script = std::path::Path::new(
            &std::env::var("HALAB").unwrap_or_else(|_| "../shared/tools/ha-lab/halab".into()),
        )
        .with_file_name("halab.py");
        let out = Command::new(dir.join("venv/bin/python"))
            .arg(script)
            .arg("ws")
            .arg(command.to_string())
            .env("HALAB_DIR", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "halab.py ws: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The lab's login and broker, through another HA at `url` (one started from a copy of
    /// the lab's configuration).
    fn at(&self, url: &str) -> Lab {
        Lab {
            url: url.to_string(),
            token: self.token.clone(),
            mqtt_host: self.mqtt_host.clone(),
            mqtt_port: self.mqtt_port,
            mqtt_user: self.mqtt_user.clone(),
            mqtt_pass: self.mqtt_pass.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// The entity id HA gave the entity with `unique_id` (waits for it to be registered).
    async fn entity_of(&self, unique_id: String) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let list = self.ws(serde_json::json!({"type": "config/entity_registry/list"}));
            if let Some(e) = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["unique_id"] == unique_id)
            {
                return e["entity_id"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "HA never registered {unique_id}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn halab(&self, verb: &str) {
        let halab =
            std::env::var("HALAB").unwrap_or_else(|_| "../shared/tools/ha-lab/halab".into());
        let status = Command::new(&halab)
            .arg(verb)
            .status()
            .unwrap_or_else(|e| panic!("{halab} {verb}: {e}"));
        assert!(status.success(), "{halab} {verb} failed");
    }
}

/// Copies our blueprints into the lab HA's configuration, as a user would install them.
fn install_blueprints() {
    let target = lab_dir().join("config/blueprints/automation/gitops_bridge");
    std::fs::create_dir_all(&target).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("blueprints/automation/gitops_bridge");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
}

/// Websocket commands to the HA at `url`, in one connection (the lab's own helper,
/// `halab.py`'s `ws`): each command's `result`; a command HA refuses fails the test with
/// HA's error.
fn ws_at(url: &str, token: &str, commands: &[Value]) -> Vec<Value> {
    let script = std::path::Path::new(
        &std::env::var("HALAB").unwrap_or_else(|_| "../shared/tools/ha-lab/halab".into()),
    )
    .with_file_name("halab.py");
    let code = "import json, sys\nsys.path.insert(0, sys.argv[1])\nimport halab\nprint(json.dumps(halab.ws(sys.argv[2], sys.argv[3], *json.loads(sys.argv[4]))))";
    let out = Command::new(lab_dir().join("venv/bin/python"))
        .arg("-c")
        .arg(code)
        .arg(script.parent().unwrap())
        .arg(url)
        .arg(token)
        .arg(Value::from(commands.to_vec()).to_string())
        .env("HALAB_DIR", lab_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "websocket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn lab_dir() -> std::path::PathBuf {
    std::env::var("HALAB_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join("ha-lab"))
}

/// Waits until the fake GitHub has received a POST to `path`.
async fn wait_post(github: &FakeGitHub, path: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if github
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == path)
        {
            return;
        }
        let posts: Vec<String> = github
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.path.clone())
            .collect();
        assert!(
            Instant::now() < deadline,
            "no POST {path} within {timeout:?}; POSTs: {posts:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn world() -> World {
    World::new("e2e-token")
        .owner(Owner::user("octo", 1))
        .repo(support::world::octo_api(
            4242,
            ["success", "success", "failure"],
        ))
}

/// Adds `yaml` (top-level sections) to the settings file at `config`.
fn append_settings(config: &std::path::Path, yaml: &str) {
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(yaml);
    std::fs::write(config, text).unwrap();
}

fn settings_file(
    dir: &std::path::Path,
    lab: &Lab,
    github: &FakeGitHub,
    repositories: &str,
    base: &str,
) -> std::path::PathBuf {
    let path = dir.join("settings.yaml");
    std::fs::write(
        &path,
        format!(
            "github:\n  token: {}\n  api_url: {}\n  poll_interval: 1s\n  repositories:\n{repositories}mqtt:\n  host: {}\n  port: {}\n  username: {}\n  password: {}\n  base_topic: {base}\n  client_id: {base}\nstore:\n  path: {}\nhttp:\n  listen: \"\"\n",
            github.token(),
            github.url(),
            lab.mqtt_host,
            lab.mqtt_port,
            lab.mqtt_user,
            lab.mqtt_pass,
            dir.join("store.db").display()
        ),
    )
    .unwrap();
    path
}

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn entities_live_in_home_assistant_through_restarts_and_go_unavailable_without_us() {
    let lab = Lab::from_env();
    let github = FakeGitHub::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - octo/api\n",
        "gitops-bridge-e2e",
    );
    let mut daemon = DaemonProcess::start(&config);
    // Entity ids by unique id: another test's octo/api device may have taken the plain ids
    // in this HA's registry first.
    let e = |key: &str| lab.entity_of(format!("gitops_bridge_e2e_repo_4242_{key}"));
    let status_id = e("last_run_status").await;
    let status_id = status_id.as_str();

    // The device and its entities exist, with the states GitHub implies.
    let status = lab
        .wait_state(status_id, LONG, |s| s["state"] == "failure")
        .await;
    assert_eq!(
        status["attributes"]["friendly_name"],
        "octo/api Last run status"
    );
    assert_eq!(status["attributes"]["run_id"], 1003);
    assert!(
        status["attributes"]["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "startup_failure")
    );
    lab.wait_state(e("failing").await.as_str(), LONG, |s| s["state"] == "on")
        .await;
    let rate = lab
        .wait_state(e("success_rate").await.as_str(), LONG, |s| {
            s["state"] == "66.7"
        })
        .await;
    assert_eq!(rate["attributes"]["unit_of_measurement"], "%");
    lab.wait_state(e("health").await.as_str(), LONG, |s| {
        s["state"] != "unavailable"
    })
    .await;
    let duration = lab
        .wait_state(e("last_run_duration").await.as_str(), LONG, |s| {
            s["state"] == "360"
        })
        .await;
    assert_eq!(duration["attributes"]["device_class"], "duration");
    lab.wait_state("binary_sensor.gitops_bridge_e2e_github", LONG, |s| {
        s["state"] == "on"
    })
    .await;
    lab.wait_state("sensor.gitops_bridge_e2e_repositories", LONG, |s| {
        s["state"] == "1"
    })
    .await;
    let device = lab
        .template(&format!(
            "{{{{ device_attr(device_id('{status_id}'), 'name') }}}}"
        ))
        .await;
    assert_eq!(device, "octo/api");
    let manufacturer = lab
        .template(&format!(
            "{{{{ device_attr(device_id('{status_id}'), 'manufacturer') }}}}"
        ))
        .await;
    assert_eq!(manufacturer, "GitHub");

    // A run completes on GitHub: the event entity fires with the conclusion.
    let before = lab
        .state(e("workflow_run").await.as_str())
        .await
        .expect("event entity exists");
    github.with_world(|w| {
        let repo = w.repo_mut("octo/api").unwrap();
        repo.runs.push(Run::completed(
            1004,
            10,
            "CI",
            "success",
            Utc::now() - chrono::Duration::minutes(5),
            chrono::Duration::minutes(2),
        ));
    });
    let event = lab
        .wait_state(e("workflow_run").await.as_str(), LONG, |s| {
            s["state"] != before["state"] && s["state"] != "unknown"
        })
        .await;
    assert_eq!(event["attributes"]["event_type"], "success");
    assert_eq!(event["attributes"]["run_id"], 1004);
    lab.wait_state(status_id, LONG, |s| s["state"] == "success")
        .await;
    lab.wait_state(e("failing").await.as_str(), LONG, |s| s["state"] == "off")
        .await;

    // HA restarts: the entities come back with their states.
    lab.halab("stop");
    lab.halab("start");
    lab.wait_state(status_id, Duration::from_secs(120), |s| {
        s["state"] == "success"
    })
    .await;
    lab.wait_state(e("failing").await.as_str(), LONG, |s| s["state"] == "off")
        .await;

    // The daemon dies: everything it published goes unavailable.
    daemon.kill();
    lab.wait_state(status_id, LONG, |s| s["state"] == "unavailable")
        .await;
    lab.wait_state("binary_sensor.gitops_bridge_e2e_github", LONG, |s| {
        s["state"] == "unavailable"
    })
    .await;
}

fn ops_world() -> World {
    let now = Utc::now();
    let h = |n: i64| now - chrono::Duration::hours(n);
    let mins = chrono::Duration::minutes;
    World::new("e2e-token").owner(Owner::user("octo", 1)).repo(
        Repo::new(4343, "octo", "ops")
            .workflow(Workflow::new(20, "CI", ".github/workflows/ci.yml"))
            .workflow(Workflow::new(21, "Deploy", ".github/workflows/deploy.yml"))
            .run(Run::completed(2001, 21, "Deploy", "success", h(40), mins(3)).sha("a".repeat(40)))
            .run(Run::completed(2002, 20, "CI", "failure", h(10), mins(4))),
    )
}

const OPS_REPOS: &str = "    - name: octo/ops\n      allow: [rerun_failed, rollback]\n      deploy_workflow: deploy.yml\n";

const AUTOMATIONS: &str = "- id: gb_e2e_notify
  alias: gb e2e notify
  use_blueprint:
    path: gitops_bridge/notify_on_failed_run.yaml
    input:
      run_event: event.octo_ops_workflow_run
      notify_action: notify.persistent_notification
- id: gb_e2e_retry
  alias: gb e2e retry
  use_blueprint:
    path: gitops_bridge/retry_failed_run.yaml
    input:
      run_event: event.octo_ops_workflow_run
      wait:
        seconds: 1
      base_topic: gitops-bridge-e2e2
- id: gb_e2e_rollback
  alias: gb e2e rollback
  use_blueprint:
    path: gitops_bridge/rollback_after_failures.yaml
    input:
      run_event: event.octo_ops_workflow_run
      rollback_button: button.octo_ops_roll_back
      deploy_workflow: deploy.yml
      failures: 2
";

#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn buttons_and_blueprints_reach_github() {
    let lab = Lab::from_env();
    let github = FakeGitHub::start(ops_world()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(dir.path(), &lab, &github, OPS_REPOS, "gitops-bridge-e2e2");
    let _daemon = DaemonProcess::start(&config);
    lab.wait_state("sensor.octo_ops_last_run_status", LONG, |s| {
        s["state"] == "failure"
    })
    .await;

    // Buttons exist for the allowed actions only.
    lab.wait_state("button.octo_ops_rerun_failed_jobs", LONG, |s| {
        s["state"] != "unavailable"
    })
    .await;
    lab.wait_state("button.octo_ops_roll_back", LONG, |s| {
        s["state"] != "unavailable"
    })
    .await;
    assert!(
        lab.state("button.octo_ops_cancel_running_run")
            .await
            .is_none(),
        "no button for a disallowed action"
    );

    // Pressing a button in HA reaches GitHub.
    lab.call(
        "button.press",
        serde_json::json!({"entity_id": "button.octo_ops_rerun_failed_jobs"}),
    )
    .await;
    wait_post(
        &github,
        "/repos/octo/ops/actions/runs/2002/rerun-failed-jobs",
        LONG,
    )
    .await;

    // The blueprints import, and automations made from them are valid.
    install_blueprints();
    let listed = lab.ws(serde_json::json!({"type": "blueprint/list", "domain": "automation"}));
    for name in [
        "notify_on_failed_run",
        "retry_failed_run",
        "rollback_after_failures",
        "notify_on_recovery",
    ] {
        let entry = &listed[format!("gitops_bridge/{name}.yaml")];
        assert!(
            entry["metadata"]["name"].is_string(),
            "{name} did not import: {entry}"
        );
        assert!(entry.get("error").is_none(), "{name}: {entry}");
    }
    let automations = lab_dir().join("config/automations.yaml");
    std::fs::write(&automations, AUTOMATIONS).unwrap();
    lab.call("automation.reload", serde_json::json!({})).await;
    for id in [
        "automation.gb_e2e_notify",
        "automation.gb_e2e_retry",
        "automation.gb_e2e_rollback",
    ] {
        lab.wait_state(id, LONG, |s| s["state"] == "on").await;
    }

    // A deploy fails: the notify blueprint notifies, the retry blueprint re-runs its failed jobs.
    github.with_world(|w| {
        let repo = w.repo_mut("octo/ops").unwrap();
        repo.runs.push(Run::completed(
            2003,
            21,
            "Deploy",
            "failure",
            Utc::now() - chrono::Duration::minutes(3),
            chrono::Duration::minutes(1),
        ));
    });
    wait_post(
        &github,
        "/repos/octo/ops/actions/runs/2003/rerun-failed-jobs",
        LONG,
    )
    .await;
    let deadline = Instant::now() + LONG;
    loop {
        let notes = lab.ws(serde_json::json!({"type": "persistent_notification/get"}));
        let found = notes.as_array().into_iter().flatten().any(|n| {
            n["title"]
                .as_str()
                .is_some_and(|t| t.contains("octo/ops") && t.contains("Deploy failure"))
                && n["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("/actions/runs/2003"))
        });
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "no notification; have: {notes}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A second deploy failure in a row: the rollback blueprint presses Roll back, and the
    // bridge re-runs the last successful deploy.
    github.with_world(|w| {
        let repo = w.repo_mut("octo/ops").unwrap();
        repo.runs.push(Run::completed(
            2004,
            21,
            "Deploy",
            "failure",
            Utc::now() - chrono::Duration::minutes(1),
            chrono::Duration::minutes(1),
        ));
    });
    wait_post(&github, "/repos/octo/ops/actions/runs/2001/rerun", LONG).await;

    std::fs::write(&automations, "[]\n").unwrap();
    lab.call("automation.reload", serde_json::json!({})).await;
}

/// A workflow template as HA shows it: an `update` entity with both versions and the
/// changelog; Install in HA deploys it (the fake GitHub records the commit), after which HA
/// shows it up to date and the drift sensor off.
#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn a_template_update_installs_from_home_assistant() {
    let lab = Lab::from_env();
    let world = World::new("e2e-token")
        .owner(Owner::user("octo", 1))
        .repo(Repo::new(4444, "octo", "ha").files(&[("configuration.yaml", "homeassistant:\n")]));
    let github = FakeGitHub::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - name: octo/ha\n      allow: [deploy_template]\n",
        "gitops-bridge-e2e3",
    );
    append_settings(
        &config,
        "templates:\n  targets:\n    - repositories: [octo/ha]\n      templates: [security-scan]\n      mode: commit\n",
    );
    let _daemon = DaemonProcess::start(&config);

    let entity = "update.octo_ha_template_security_scan";
    let offered = lab.wait_state(entity, LONG, |s| s["state"] == "on").await;
    let attributes = &offered["attributes"];
    assert_eq!(attributes["installed_version"], "not installed");
    assert_eq!(attributes["latest_version"], "1.0.0");
    assert!(
        attributes["release_summary"]
            .as_str()
            .is_some_and(|s| s.contains("First release")),
        "{attributes}"
    );
    assert_eq!(attributes["title"], "Workflow template security-scan");
    lab.wait_state("binary_sensor.octo_ha_template_drift", LONG, |s| {
        s["state"] == "off"
    })
    .await;

    lab.call("update.install", serde_json::json!({ "entity_id": entity }))
        .await;
    let deadline = Instant::now() + LONG;
    while github.with_world(|w| {
        w.find_repo("octo/ha")
            .unwrap()
            .git
            .file("main", ".github/workflows/security-scan.yml")
            .is_none()
    }) {
        assert!(Instant::now() < deadline, "Install committed nothing");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let installed = lab
        .wait_state(entity, LONG, |s| {
            s["attributes"]["installed_version"] == "1.0.0"
        })
        .await;
    assert_eq!(installed["state"], "off", "{installed}");
}

/// The security scan of the configuration folder, as HA shows it on the bridge device: the
/// problem count and the `problem` sensor on, the top findings as attributes, and the
/// planted token nowhere in HA's view of them.
#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn security_findings_reach_home_assistant_without_the_secret() {
    let lab = Lab::from_env();
    let github = FakeGitHub::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let ha = dir.path().join("ha");
    std::fs::create_dir(&ha).unwrap();
    let token = "ghp_R3alLo0kingT0kenVa1ue0123456789abcde";
    std::fs::write(
        ha.join("configuration.yaml"),
        format!(
            "homeassistant:\n  name: Home\nhttp:\n  cors_allowed_origins:\n    - \"*\"\nrest_command:\n  notify_ci:\n    url: https://api.github.com/repos/octo/api/dispatches\n    method: post\n    headers:\n      authorization: \"token {token}\"\n"
        ),
    )
    .unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - name: octo/api\n",
        "gitops-bridge-e2e4",
    );
    append_settings(
        &config,
        &format!("validate:\n  path: {}\n  security: true\n", ha.display()),
    );
    let _daemon = DaemonProcess::start(&config);

    let security = lab
        .wait_state("binary_sensor.gitops_bridge_e2e4_security", LONG, |s| {
            s["state"] == "on"
        })
        .await;
    let problems = lab
        .wait_state("sensor.gitops_bridge_e2e4_security_problems", LONG, |s| {
            s["state"].as_str().and_then(|v| v.parse::<u32>().ok()) >= Some(2)
        })
        .await;
    let top = problems["attributes"]["top"].to_string();
    assert!(top.contains("secret-github-token"), "{top}");
    assert!(top.contains("http-cors-wildcard"), "{top}");
    assert!(top.contains("configuration.yaml"), "{top}");
    for state in [&security, &problems] {
        assert!(
            !state.to_string().contains(&token[4..]),
            "the token reached HA: {state}"
        );
    }
}

/// A second HA of the lab's with HA's frontend, Lovelace, the recorder and history loaded
/// (the lab's own HA loads none of them), on the lab's broker and with its login: a copy
/// of the lab's configuration folder with those added and its own HTTP port. Stopped when
/// dropped.
struct FrontendHa {
    url: String,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl FrontendHa {
    /// Starts it, with `yaml_dashboard` as a YAML-mode dashboard at `/gitops-yaml`.
    async fn start(lab: &Lab, yaml_dashboard: Option<&str>) -> FrontendHa {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(lab_dir().join("config"))
            .arg(&config)
            .status()
            .unwrap();
        assert!(copied.success());
        for entry in std::fs::read_dir(&config).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("home-assistant_v2.db") || name.starts_with("home-assistant.log") {
                let _ = std::fs::remove_file(&path);
            }
        }
        let port = support::free_port();
        let yaml = std::fs::read_to_string(config.join("configuration.yaml")).unwrap();
        let yaml = yaml
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("server_port:") {
                    format!("  server_port: {port}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\nfrontend:\nrecorder:\n  purge_keep_days: 1\nhistory:\n";
        let yaml = match yaml_dashboard {
            Some(dashboard) => {
                std::fs::write(config.join("gitops-dashboard.yaml"), dashboard).unwrap();
                yaml + "lovelace:\n  dashboards:\n    gitops-yaml:\n      mode: yaml\n      title: GitOps\n      filename: gitops-dashboard.yaml\n      show_in_sidebar: true\n"
            }
            None => yaml,
        };
        std::fs::write(config.join("configuration.yaml"), yaml).unwrap();
        // HA keeps the HTTP settings in storage once migrated from YAML.
        let http = config.join(".storage/http");
        if let Ok(text) = std::fs::read_to_string(&http) {
            let mut v: Value = serde_json::from_str(&text).unwrap();
            v["data"]["stable"]["server_port"] = serde_json::json!(port);
            std::fs::write(&http, v.to_string()).unwrap();
        }
        // The lab onboards through REST and skips the location step, which the frontend
        // would ask for first: mark every step done.
        let onboarding = config.join(".storage/onboarding");
        if let Ok(text) = std::fs::read_to_string(&onboarding) {
            let mut v: Value = serde_json::from_str(&text).unwrap();
            v["data"]["done"] =
                serde_json::json!(["user", "core_config", "analytics", "integration"]);
            std::fs::write(&onboarding, v.to_string()).unwrap();
        }
        let log = std::fs::File::create(dir.path().join("ha.log")).unwrap();
        let child = Command::new(lab_dir().join("venv/bin/hass"))
            .arg("-c")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let ha = FrontendHa {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            child,
        };
        let front = ha.lab(lab);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let config = front
                .http
                .get(format!("{}/api/config", ha.url))
                .bearer_auth(&front.token)
                .send()
                .await;
            if let Ok(r) = config
                && let Ok(v) = r.json::<Value>().await
                && v["state"] == "RUNNING"
            {
                let components = v["components"].to_string();
                assert!(components.contains("\"lovelace\"") && components.contains("\"mqtt\""));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the frontend HA did not start; its log: {}",
                ha.dir.path().join("ha.log").display()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        ha
    }

    /// The lab, as seen through this HA.
    fn lab(&self, lab: &Lab) -> Lab {
        lab.at(&self.url)
    }

    /// Websocket commands, in one connection: each command's `result`.
    fn ws(&self, lab: &Lab, commands: &[Value]) -> Vec<Value> {
        ws_at(&self.url, &lab.token, commands)
    }
}

impl Drop for FrontendHa {
    fn drop(&mut self) {
        // SIGTERM lets HA close its database; a stuck one is killed.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gitops-bridge dashboard` for the demo homelab, loaded into HA's real frontend: HA reads
/// the YAML as a YAML-mode dashboard and returns exactly what we generated, stores it as a
/// storage dashboard through `lovelace/config/save` and gives it back unchanged, every entity
/// it names exists in HA, and the frontend draws it at phone and desktop widths without one
/// error card (screenshots under target/, the docs' copies taken from there).
#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn the_dashboard_loads_in_home_assistants_frontend_with_every_entity_present() {
    let lab = Lab::from_env();
    let github = FakeGitHub::start(World::demo(Utc::now())).await;
    let dir = tempfile::tempdir().unwrap();
    let ha_config = dir.path().join("ha");
    std::fs::create_dir(&ha_config).unwrap();
    std::fs::write(ha_config.join("configuration.yaml"), "homeassistant:\n").unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - name: homelab-demo/ha-config\n      allow: [rerun_failed, rerun, cancel, dispatch, deploy_template]\n      dispatch: [deploy.yml]\n    - homelab-demo/*\n",
        "gitops-bridge-e2e5",
    );
    append_settings(
        &config,
        &format!(
            "validate:\n  path: {}\ntemplates:\n  targets:\n    - repositories: [homelab-demo/ha-config]\n      templates: [security-scan]\n",
            ha_config.display()
        ),
    );
    let yaml = support::cli_stdout("dashboard", &config).await;
    let generated: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let sections = generated["views"][0]["sections"].as_array().unwrap().len();

    let front = FrontendHa::start(&lab, Some(&yaml)).await;
    let ha = front.lab(&lab);
    let _daemon = DaemonProcess::start(&config);
    ha.wait_state(
        "update.homelab_demo_ha_config_template_security_scan",
        LONG,
        |s| s["state"] != "unavailable",
    )
    .await;

    // HA's own YAML loader reads the dashboard as generated, and storage keeps it as given.
    let answers = front.ws(
        &lab,
        &[
            serde_json::json!({"type": "lovelace/config", "url_path": "gitops-yaml"}),
            serde_json::json!({"type": "lovelace/dashboards/create", "url_path": "gitops-storage", "title": "GitOps (storage)", "mode": "storage", "require_admin": false, "show_in_sidebar": false}),
            serde_json::json!({"type": "lovelace/config/save", "url_path": "gitops-storage", "config": generated}),
            serde_json::json!({"type": "lovelace/config", "url_path": "gitops-storage"}),
        ],
    );
    // (A refused command fails `ws` itself, with HA's error.)
    assert_eq!(answers[0], generated, "HA read the YAML as generated");
    assert_eq!(answers[3], generated, "HA stored the dashboard as given");

    // Every entity it names exists, with a state (not just a registry entry).
    let mut named = std::collections::BTreeSet::new();
    support::lovelace::referenced(&generated, &mut named);
    let states: Vec<Value> = ha
        .http
        .get(format!("{}/api/states", ha.url))
        .bearer_auth(&ha.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let present: std::collections::BTreeSet<&str> = states
        .iter()
        .filter_map(|s| s["entity_id"].as_str())
        .collect();
    let missing: Vec<&String> = named
        .iter()
        .filter(|e| !present.contains(e.as_str()))
        .collect();
    assert!(missing.is_empty(), "named but not in HA: {missing:?}");
    assert!(named.len() > 40, "{named:?}");

    // The frontend draws it: no error card at either width.
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lovelace");
    std::fs::create_dir_all(&shots).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/lovelace.mjs");
    let out = tokio::task::spawn_blocking({
        let (url, token, shots) = (ha.url.clone(), ha.token.clone(), shots.clone());
        move || {
            Command::new("node")
                .arg(script)
                .arg(&url)
                .arg(&token)
                .arg("gitops-yaml/gitops")
                .arg(sections.to_string())
                .arg(&shots)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join("lovelace-phone.png").exists());
    assert!(shots.join("lovelace-desktop.png").exists());
}

/// HA's own *Model Context Protocol* integration connects to the daemon's MCP server (from
/// a network `http.mcp_trusted_networks` trusts: the integration sends no token), and its
/// diagnostics list our tools with their read-only marks: what Assist's LLM is offered.
#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn home_assistants_mcp_integration_connects_and_sees_the_tools() {
    let lab = Lab::from_env();
    let github = FakeGitHub::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - name: octo/api\n      allow: [rerun]\n",
        "gitops-bridge-e2e6",
    );
    let port = support::free_port();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "http:\n  listen: \"\"\n",
        &format!("http:\n  listen: 127.0.0.1:{port}\n  mcp_trusted_networks: [127.0.0.1]\n"),
    );
    std::fs::write(&config, text).unwrap();
    let _daemon = DaemonProcess::start(&config);
    let front = FrontendHa::start(&lab, None).await;
    let ha = front.lab(&lab);
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        http.post(format!("{}{path}", ha.url))
            .bearer_auth(&ha.token)
            .json(&body)
            .send()
    };
    // The daemon answers before HA is asked to connect.
    let deadline = Instant::now() + LONG;
    while http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the daemon's HTTP server never answered"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The integration's config flow, as the UI runs it: pick the integration, give the URL.
    let flow: Value = post(
        "/api/config/config_entries/flow".into(),
        serde_json::json!({"handler": "mcp", "show_advanced_options": false}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(flow["step_id"], "user", "{flow}");
    let created: Value = post(
        format!(
            "/api/config/config_entries/flow/{}",
            flow["flow_id"].as_str().unwrap()
        ),
        serde_json::json!({"url": format!("http://127.0.0.1:{port}/mcp")}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(created["type"], "create_entry", "{created}");
    assert_eq!(
        created["title"], "gitops-bridge",
        "named after our server info"
    );
    let entry_id = created["result"]["entry_id"].as_str().unwrap().to_string();

    let deadline = Instant::now() + LONG;
    loop {
        let entries: Value = http
            .get(format!(
                "{}/api/config/config_entries/entry?domain=mcp",
                ha.url
            ))
            .bearer_auth(&ha.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let state = entries
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entry_id"] == entry_id.as_str())
            .map(|e| e["state"].clone());
        if state == Some(Value::from("loaded")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the MCP entry never loaded: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // HA registers the integration's diagnostics platform a moment after the entry loads
    // (404 until then): ask until it answers.
    let deadline = Instant::now() + LONG;
    let diagnostics: Value = loop {
        let answer = http
            .get(format!(
                "{}/api/diagnostics/config_entry/{entry_id}",
                ha.url
            ))
            .bearer_auth(&ha.token)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        if status.is_success()
            && let Ok(v) = serde_json::from_str::<Value>(&body)
            && v["data"]["tools"].is_array()
        {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no diagnostics for the MCP entry: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let tools = diagnostics["data"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for wanted in [
        "list_repositories",
        "run_history",
        "run_jobs",
        "run_command",
    ] {
        assert!(names.contains(&wanted), "{wanted} not offered: {names:?}");
    }
    let command = tools.iter().find(|t| t["name"] == "run_command").unwrap();
    assert_eq!(command["annotations"]["read_only"], false, "{command}");
    assert_eq!(command["annotations"]["destructive"], true, "{command}");
    let listing = tools
        .iter()
        .find(|t| t["name"] == "list_repositories")
        .unwrap();
    assert_eq!(listing["annotations"]["read_only"], true, "{listing}");
}

/// The policies' switches in a real HA: *Auto-retry* appears on the repository's device and
/// *Automation paused* on the bridge; turning Auto-retry off from HA is what HA then shows
/// (HA's MQTT switch shows only the state we publish back) and leaves a set-up failure alone,
/// across a restart of the daemon; turning it on from HA lets the failure be re-run.
#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn a_policy_switch_toggled_in_home_assistant_changes_what_the_daemon_does() {
    let lab = Lab::from_env();
    let world = World::new("e2e-token")
        .owner(Owner::user("octo", 1))
        .repo(support::world::octo_api_running(4747));
    let github = FakeGitHub::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - name: octo/api\n      allow: [rerun_failed]\n      auto_retry:\n        backoff: 1s\n",
        "gitops-bridge-e2e7",
    );
    let mut daemon = DaemonProcess::start(&config);
    let switch = "switch.octo_api_auto_retry";
    lab.wait_state(switch, LONG, |s| s["state"] == "on").await;
    // The notify-on-recovery blueprint, on this repository's Recovery event entity (by
    // unique id: another test's `octo/api` device may hold the plain id in a reused lab).
    let recovery = lab
        .entity_of("gitops_bridge_e2e7_repo_4747_recovery".into())
        .await;
    install_blueprints();
    std::fs::write(
        lab_dir().join("config/automations.yaml"),
        format!("- id: gb_e2e_recovery\n  alias: gb e2e recovery\n  use_blueprint:\n    path: gitops_bridge/notify_on_recovery.yaml\n    input:\n      recovery_event: {recovery}\n      notify_action: notify.persistent_notification\n"),
    )
    .unwrap();
    lab.call("automation.reload", serde_json::json!({})).await;
    lab.wait_state("automation.gb_e2e_recovery", LONG, |s| s["state"] == "on")
        .await;
    lab.wait_state("switch.gitops_bridge_e2e7_automation_paused", LONG, |s| {
        s["state"] == "off"
    })
    .await;

    lab.call(
        "switch.turn_off",
        serde_json::json!({ "entity_id": switch }),
    )
    .await;
    lab.wait_state(switch, LONG, |s| s["state"] == "off").await;
    support::world::fail_run(&github, "octo/api", 1003, "Run actions/checkout@v4");
    // Other tests' `octo/api` devices took the plain ids: find this device's status sensor.
    let status = lab
        .template(&format!(
            "{{{{ device_entities(device_id('{switch}')) | select('search', 'last_run_status') | first }}}}"
        ))
        .await;
    lab.wait_state(status.trim(), LONG, |s| {
        s["attributes"]["failure_class"] == "infrastructure"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        support::world::reruns_of(&github, 1003),
        0,
        "off: not re-run"
    );

    // A restart of the daemon keeps it off, in HA and in what the daemon does.
    assert!(daemon.terminate().success());
    let mut daemon = DaemonProcess::start(&config);
    lab.wait_state(switch, LONG, |s| s["state"] == "off").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        support::world::reruns_of(&github, 1003),
        0,
        "still off after a restart"
    );

    lab.call("switch.turn_on", serde_json::json!({ "entity_id": switch }))
        .await;
    lab.wait_state(switch, LONG, |s| s["state"] == "on").await;
    let deadline = Instant::now() + LONG;
    while support::world::reruns_of(&github, 1003) == 0 {
        assert!(
            Instant::now() < deadline,
            "switched on, the failure was never re-run; daemon log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The Recovery event reached HA, and the blueprint told the user why.
    let deadline = Instant::now() + LONG;
    loop {
        let notes = lab.ws(serde_json::json!({"type": "persistent_notification/get"}));
        let found = notes.as_array().into_iter().flatten().any(|n| {
            n["title"]
                .as_str()
                .is_some_and(|t| t.contains("octo/api: re-ran failed jobs"))
                && n["message"].as_str().is_some_and(|m| {
                    m.contains("actions/checkout") && m.contains("/actions/runs/1003")
                })
        });
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery notification; have: {notes}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    daemon.kill();
}

/// An entity health check read from a real HA, and what it drives there: the deploy succeeds
/// while the watched entity is `off`, so the *Health check* and *Quality gate* problem
/// sensors turn on in HA, with the failing entity named, and the deploy *before* the
/// unhealthy one is re-run (the rollback), not the unhealthy one.
#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn an_entity_health_check_in_home_assistant_rolls_back_an_unhealthy_deploy() {
    let lab = Lab::from_env();
    const SERVICE: &str = "binary_sensor.gb_e2e_service_up";
    let set_service = |state: &'static str| {
        lab.http
            .post(format!("{}/api/states/{SERVICE}", lab.url))
            .bearer_auth(&lab.token)
            .json(&serde_json::json!({ "state": state }))
            .send()
    };
    assert!(set_service("on").await.unwrap().status().is_success());

    // CI runs 1001 and 1002 deployed well; 1003 is deploying.
    let world = World::new("e2e-token")
        .owner(Owner::user("octo", 1))
        .repo(support::world::octo_api_running(4848));
    let github = FakeGitHub::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        &format!(
            "    - name: octo/api\n      allow: [rollback]\n      deploy_workflow: ci.yml\n      auto_rollback:\n        cooldown: 0s\n      quality_gate:\n        publish: false\n      health_checks:\n        - entity: {SERVICE}\n          state: \"on\"\n      health_check_every: 1h\n"
        ),
        "gitops-bridge-e2e8",
    );
    append_settings(
        &config,
        &format!(
            "home_assistant:\n  url: {}\n  token: {}\n",
            lab.url, lab.token
        ),
    );
    let mut daemon = DaemonProcess::start(&config);
    let health = lab
        .entity_of("gitops_bridge_e2e8_repo_4848_health_check".into())
        .await;
    let gate = lab
        .entity_of("gitops_bridge_e2e8_repo_4848_quality_gate".into())
        .await;
    lab.wait_state(&health, LONG, |s| s["state"] == "off").await;

    assert!(set_service("off").await.unwrap().status().is_success());
    support::world::finish_run(&github, "octo/api", 1003, "success");
    let state = lab.wait_state(&health, LONG, |s| s["state"] == "on").await;
    assert_eq!(
        state["attributes"]["failures"][0],
        format!("{SERVICE} is off (expected on)"),
        "{state}"
    );
    let state = lab.wait_state(&gate, LONG, |s| s["state"] == "on").await;
    let failing = state["attributes"]["failing"].to_string();
    assert!(failing.contains("health check failing"), "{state}");
    wait_post(&github, "/repos/octo/api/actions/runs/1002/rerun", LONG).await;
    assert!(
        !github
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/repos/octo/api/actions/runs/1003/rerun"),
        "the unhealthy deploy is not the rollback target; daemon log:\n{}",
        daemon.log()
    );
    daemon.kill();
}

#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn a_coordinated_deployment_starts_from_its_button_in_home_assistant() {
    let lab = Lab::from_env();
    let world =
        World::new("e2e-token")
            .owner(Owner::user("octo", 1))
            .repo(support::world::octo_api(
                4949,
                ["success", "success", "success"],
            ));
    let github = FakeGitHub::start(world).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(
        dir.path(),
        &lab,
        &github,
        "    - name: octo/api\n      allow: [dispatch]\n      dispatch: [ci.yml]\n",
        "gitops-bridge-e2e9",
    );
    append_settings(
        &config,
        "coordinated_deployments:\n  - name: homelab\n    steps:\n      - {repository: octo/api, workflow: ci.yml}\n",
    );
    let mut daemon = DaemonProcess::start(&config);
    let button = lab
        .entity_of("gitops_bridge_e2e9_bridge_coordinate_homelab".into())
        .await;
    let sensor = lab
        .entity_of("gitops_bridge_e2e9_bridge_coordinated_homelab".into())
        .await;
    // HA renders the sensor's template against the bridge state: idle, one step.
    let state = lab
        .wait_state(&sensor, LONG, |s| s["state"] == "idle")
        .await;
    assert_eq!(state["attributes"]["steps"], 1, "{state}");
    let name = state["attributes"]["friendly_name"]
        .as_str()
        .unwrap_or_default();
    assert!(name.ends_with("homelab deployment"), "{state}");

    // Pressed in HA: the step's workflow is dispatched and the sensor follows the run.
    lab.call("button.press", serde_json::json!({ "entity_id": button }))
        .await;
    wait_post(
        &github,
        "/repos/octo/api/actions/workflows/ci.yml/dispatches",
        LONG,
    )
    .await;
    let state = lab
        .wait_state(&sensor, LONG, |s| s["state"] == "running")
        .await;
    assert_eq!(state["attributes"]["current"], "octo/api:ci.yml", "{state}");
    let mut dispatched = None;
    support::world::wait_until("the dispatched run exists", LONG, || {
        dispatched = github.with_world(|w| {
            w.find_repo("octo/api")
                .unwrap()
                .runs
                .iter()
                .filter(|r| r.event == "workflow_dispatch")
                .map(|r| r.id)
                .max()
        });
        dispatched.is_some()
    })
    .await;
    support::world::finish_run(&github, "octo/api", dispatched.unwrap(), "success");
    let state = lab
        .wait_state(&sensor, LONG, |s| s["state"] == "succeeded")
        .await;
    assert!(
        state["attributes"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("every step"),
        "{state}; daemon log:\n{}",
        daemon.log()
    );
    daemon.kill();
}
