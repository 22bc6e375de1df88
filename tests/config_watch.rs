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

    let (_broker, _gh, _cfg, probe, daemon, url) = start_bridge(ha.path(), "").await;

    let bridge = probe.device_config("gitops_bridge_bridge").await;
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

/// A token written straight into the configuration: a leak. `secrets.yaml` is not tracked here
/// (no git), so the token is the only secret finding.
const LEAKED_TOKEN: &str = "ghp_R3alLo0kingT0kenVa1ue0123456789abcde";

fn leaking_configuration() -> String {
    format!(
        "homeassistant:\n  name: Home\nrest_command:\n  deploy:\n    url: https://api.github.com/repos/octo/api/dispatches\n    method: post\n    headers:\n      authorization: \"token {LEAKED_TOKEN}\"\n"
    )
}

async fn start_bridge(
    ha: &std::path::Path,
    validate_extra: &str,
) -> (Mosquitto, FakeGitHub, Config, Probe, Daemon, String) {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(
        World::new("t")
            .owner(Owner::user("octo", 1))
            .repo(Repo::new(1, "octo", "api")),
    )
    .await;
    let extra = format!("validate:\n  path: {}\n{validate_extra}", ha.display());
    let cfg = Config::write(
        &gh.url(),
        &gh.token(),
        broker.port,
        "    - octo/api\n",
        &extra,
    );
    let probe = Probe::connect(broker.port, "#").await;
    let (daemon, url) = Daemon::start_with_http(cfg.settings()).await;
    (broker, gh, cfg, probe, daemon, url)
}

#[tokio::test]
async fn the_security_scan_shares_the_check_and_never_shows_the_secret() {
    let ha = tempfile::tempdir().unwrap();
    let config_file = ha.path().join("configuration.yaml");
    std::fs::write(&config_file, leaking_configuration()).unwrap();
    let (_broker, _gh, cfg, probe, daemon, url) = start_bridge(ha.path(), "").await;

    let bridge = probe.device_config("gitops_bridge_bridge").await;
    let components = &bridge["components"];
    assert_eq!(
        components["security_problems"]["state_topic"],
        "gitops-bridge/bridge/security"
    );
    assert_eq!(components["security"]["platform"], "binary_sensor");
    assert_eq!(components["security"]["device_class"], "problem");

    let security = probe
        .wait_for("gitops-bridge/bridge/security", WAIT, |s| {
            s.json()["errors"].as_u64() >= Some(1)
        })
        .await
        .json();
    let top = &security["top"][0];
    assert_eq!(top["code"], "secret-github-token", "{security}");
    assert_eq!(top["file"], "configuration.yaml");
    assert_eq!(top["line"], 8);
    // The same pass also checked the configuration: its report is there too, clean.
    let validation = probe
        .wait_for("gitops-bridge/bridge/validation", WAIT, |_| true)
        .await
        .json();
    assert_eq!(validation["errors"], 0, "{validation}");

    let report: serde_json::Value = reqwest::get(format!("{url}/api/security"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap_or_else(|| panic!("a report with diagnostics: {report}"))
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"secret-github-token"), "{report}");

    // Moving the token to secrets.yaml (not tracked by git) clears the finding without anyone
    // asking: that is where HA wants it.
    std::fs::write(
        &config_file,
        leaking_configuration().replace(LEAKED_TOKEN, "!secret github_token"),
    )
    .unwrap();
    std::fs::write(
        ha.path().join("secrets.yaml"),
        format!("github_token: {LEAKED_TOKEN}\n"),
    )
    .unwrap();
    probe
        .wait_for("gitops-bridge/bridge/security", WAIT, |s| {
            s.json()["errors"] == 0
        })
        .await;
    daemon.stop().await.unwrap();

    // The value itself went nowhere: not to MQTT, not to the API, not to the store.
    let api = serde_json::to_string(&report).unwrap();
    assert!(!api.contains(LEAKED_TOKEN), "the API shows the token");
    for seen in probe.all() {
        assert!(
            !seen.text().contains(LEAKED_TOKEN),
            "{} carries the token",
            seen.topic
        );
    }
    for entry in std::fs::read_dir(cfg.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(LEAKED_TOKEN.len())
                .any(|w| w == LEAKED_TOKEN.as_bytes()),
            "{} holds the token",
            path.display()
        );
    }
}

#[tokio::test]
async fn with_the_scan_off_no_security_entities_exist() {
    let ha = tempfile::tempdir().unwrap();
    std::fs::write(
        ha.path().join("configuration.yaml"),
        leaking_configuration(),
    )
    .unwrap();
    let (_broker, _gh, _cfg, probe, daemon, url) =
        start_bridge(ha.path(), "  security: false\n").await;

    probe
        .wait_for("gitops-bridge/bridge/validation", WAIT, |_| true)
        .await;
    let bridge = probe.device_config("gitops_bridge_bridge").await;
    assert!(bridge["components"]["configuration_problems"].is_object());
    assert!(
        bridge["components"]["security_problems"].is_null(),
        "{bridge}"
    );
    assert!(bridge["components"]["security"].is_null());
    assert!(
        !probe
            .all()
            .iter()
            .any(|s| s.topic == "gitops-bridge/bridge/security")
    );
    let status = reqwest::get(format!("{url}/api/security"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    daemon.stop().await.unwrap();
}
