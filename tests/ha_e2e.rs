//! End to end in a real Home Assistant (`../shared/tools/ha-lab`): the daemon runs against
//! the fake GitHub and the lab's broker; the assertions go through HA's own REST API.
//!
//! Needs a running lab: `.ci/run` starts it and runs these with `--ignored`, exporting the
//! lab's environment (`HA_URL`, `HA_TOKEN`, `MQTT_*`) and `HALAB` (the lab's command).

mod support;

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

fn world() -> World {
    let now = Utc::now();
    let h = |n: i64| now - chrono::Duration::hours(n);
    let mins = chrono::Duration::minutes;
    World::new("e2e-token").owner(Owner::user("octo", 1)).repo(
        Repo::new(4242, "octo", "api")
            .workflow(Workflow::new(10, "CI", ".github/workflows/ci.yml"))
            .run(Run::completed(1001, 10, "CI", "success", h(30), mins(4)))
            .run(Run::completed(1002, 10, "CI", "success", h(20), mins(5)))
            .run(Run::completed(1003, 10, "CI", "failure", h(10), mins(6))),
    )
}

fn settings_file(dir: &std::path::Path, lab: &Lab, github: &FakeGitHub) -> std::path::PathBuf {
    let path = dir.join("settings.yaml");
    std::fs::write(
        &path,
        format!(
            "github:\n  token: {}\n  api_url: {}\n  poll_interval: 1s\n  repositories:\n    - octo/api\nmqtt:\n  host: {}\n  port: {}\n  username: {}\n  password: {}\n  base_topic: gitops-bridge-e2e\n  client_id: gitops-bridge-e2e\nstore:\n  path: {}\nhttp:\n  listen: \"\"\n",
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

const STATUS: &str = "sensor.octo_api_last_run_status";
const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "needs the HA lab (.ci/run starts it and runs this with --ignored)"]
async fn entities_live_in_home_assistant_through_restarts_and_go_unavailable_without_us() {
    let lab = Lab::from_env();
    let github = FakeGitHub::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(dir.path(), &lab, &github);
    let mut daemon = DaemonProcess::start(&config);

    // The device and its entities exist, with the states GitHub implies.
    let status = lab
        .wait_state(STATUS, LONG, |s| s["state"] == "failure")
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
    lab.wait_state("binary_sensor.octo_api_failing", LONG, |s| {
        s["state"] == "on"
    })
    .await;
    let rate = lab
        .wait_state("sensor.octo_api_success_rate", LONG, |s| {
            s["state"] == "66.7"
        })
        .await;
    assert_eq!(rate["attributes"]["unit_of_measurement"], "%");
    lab.wait_state("sensor.octo_api_health", LONG, |s| {
        s["state"] != "unavailable"
    })
    .await;
    let duration = lab
        .wait_state("sensor.octo_api_last_run_duration", LONG, |s| {
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
            "{{{{ device_attr(device_id('{STATUS}'), 'name') }}}}"
        ))
        .await;
    assert_eq!(device, "octo/api");
    let manufacturer = lab
        .template(&format!(
            "{{{{ device_attr(device_id('{STATUS}'), 'manufacturer') }}}}"
        ))
        .await;
    assert_eq!(manufacturer, "GitHub");

    // A run completes on GitHub: the event entity fires with the conclusion.
    let before = lab
        .state("event.octo_api_workflow_run")
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
        .wait_state("event.octo_api_workflow_run", LONG, |s| {
            s["state"] != before["state"] && s["state"] != "unknown"
        })
        .await;
    assert_eq!(event["attributes"]["event_type"], "success");
    assert_eq!(event["attributes"]["run_id"], 1004);
    lab.wait_state(STATUS, LONG, |s| s["state"] == "success")
        .await;
    lab.wait_state("binary_sensor.octo_api_failing", LONG, |s| {
        s["state"] == "off"
    })
    .await;

    // HA restarts: the entities come back with their states.
    lab.halab("stop");
    lab.halab("start");
    lab.wait_state(STATUS, Duration::from_secs(120), |s| {
        s["state"] == "success"
    })
    .await;
    lab.wait_state("binary_sensor.octo_api_failing", LONG, |s| {
        s["state"] == "off"
    })
    .await;

    // The daemon dies: everything it published goes unavailable.
    daemon.kill();
    lab.wait_state(STATUS, LONG, |s| s["state"] == "unavailable")
        .await;
    lab.wait_state("binary_sensor.gitops_bridge_e2e_github", LONG, |s| {
        s["state"] == "unavailable"
    })
    .await;
}
