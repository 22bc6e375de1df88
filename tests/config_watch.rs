//! The add-on's continuous configuration check: validated on start, again when a file changes
//! and when the bridge's button is pressed; results on MQTT (bridge device) and the API.

mod support;

use std::time::Duration;

use fake_github::{FakeGitHub, Owner, Repo, World};
use support::{Config, Daemon, Mosquitto, Probe};

const WAIT: Duration = Duration::from_secs(20);

const CONFIGURATION: &str = "homeassistant:\n  name: Home\nautomation:\n  - alias: Lights\n    triggers:\n      - trigger: state\n        entity_id: sun.sun\n    conditions:\n      - condition: template\n        value_template: \"{{ statest('sun.sun') == 'above_horizon' }}\"\n    actions: []\n";

#[tokio::test]
async fn the_configuration_is_checked_on_start_on_change_and_on_request() {
    let ha = tempfile::tempdir().unwrap();
    let config_file = ha.path().join("configuration.yaml");
    std::fs::write(&config_file, CONFIGURATION).unwrap();

    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(
        World::new("t")
            .owner(Owner::user("octo", 1))
            .repo(Repo::new(1, "octo", "api")),
    )
    .await;
    let extra = format!("validate:\n  path: {}\n", ha.path().display());
    let cfg = Config::write(
        &gh.url(),
        &gh.token(),
        broker.port,
        "    - octo/api\n",
        &extra,
    );
    let probe = Probe::connect(broker.port, "#").await;
    let (daemon, url) = Daemon::start_with_http(cfg.settings()).await;

    let bridge = probe
        .wait_for(
            "homeassistant/device/gitops_bridge_bridge/config",
            WAIT,
            |_| true,
        )
        .await
        .json();
    assert_eq!(
        bridge["components"]["configuration_problems"]["state_topic"],
        "gitops-bridge/bridge/validation"
    );
    assert_eq!(
        bridge["components"]["check_configuration"]["command_topic"],
        "gitops-bridge/bridge/cmd/validate"
    );

    let first = probe
        .wait_for("gitops-bridge/bridge/validation", WAIT, |s| {
            s.json()["errors"].as_u64() >= Some(1)
        })
        .await;
    assert!(
        first.retain
            || probe
                .all()
                .iter()
                .any(|s| s.topic == "gitops-bridge/bridge/validation")
    );
    let v = first.json();
    assert_eq!(v["top"][0]["code"], "template-unknown-function", "{v}");
    assert_eq!(v["top"][0]["file"], "configuration.yaml");
    assert_eq!(v["top"][0]["line"], 10);

    let report: serde_json::Value = reqwest::get(format!("{url}/api/validation"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["tool"], "gitops-bridge");
    assert!(report["summary"]["errors"].as_u64() >= Some(1));

    // Fixing the file is noticed without anyone asking.
    std::fs::write(&config_file, CONFIGURATION.replace("statest(", "states(")).unwrap();
    probe
        .wait_for("gitops-bridge/bridge/validation", WAIT, |s| {
            s.json()["errors"] == 0
        })
        .await;

    // The bridge's button asks for a check now.
    let sent = std::time::Instant::now();
    probe
        .publish("gitops-bridge/bridge/cmd/validate", "PRESS", false)
        .await;
    let result = probe
        .wait_for("gitops-bridge/cmd/result", WAIT, |s| {
            s.at >= sent && s.json()["action"] == "validate"
        })
        .await
        .json();
    assert_eq!(result["ok"], true, "{result}");
    daemon.stop().await.unwrap();
}
