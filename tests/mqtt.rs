//! What Home Assistant sees on a real Mosquitto broker: retained discovery configs, state,
//! availability, events; re-publishing on HA's birth and after a broker restart; cleanup of
//! repositories no longer watched.

mod support;

use std::time::Duration;

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, Run, Workflow, World};
use support::{Config, Daemon, DaemonProcess, Mosquitto, Probe, retained};

const WAIT: Duration = Duration::from_secs(15);

fn world() -> World {
    let now = Utc::now();
    World::new("test-token")
        .owner(Owner::user("octo", 1))
        .repo(support::world::octo_api(
            100,
            ["success", "success", "failure"],
        ))
        .repo(
            Repo::new(200, "octo", "web")
                .workflow(Workflow::new(20, "Build", ".github/workflows/build.yml"))
                .run(Run::in_progress(
                    2001,
                    20,
                    "Build",
                    now - chrono::Duration::minutes(3),
                )),
        )
}

const REPOS: &str = "    - octo/api\n    - octo/web\n";

fn config(gh: &FakeGitHub, broker: &Mosquitto) -> Config {
    Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "")
}

#[tokio::test]
async fn each_repository_becomes_a_device_with_state() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let probe = Probe::connect(broker.port, "#").await;
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "");
    let daemon = Daemon::start(cfg.settings());

    let api = probe
        .wait_for(
            "homeassistant/device/gitops_bridge_repo_100/config",
            WAIT,
            |s| s.retain || !s.payload.is_empty(),
        )
        .await
        .json();
    assert_eq!(api["device"]["name"], "octo/api");
    assert_eq!(api["device"]["identifiers"][0], "gitops_bridge_repo_100");
    assert_eq!(api["device"]["via_device"], "gitops_bridge_bridge");
    assert_eq!(api["origin"]["name"], "gitops-bridge");
    assert_eq!(api["availability_mode"], "all");
    let status = &api["components"]["last_run_status"];
    assert_eq!(status["platform"], "sensor");
    assert_eq!(status["device_class"], "enum");
    assert_eq!(
        status["default_entity_id"],
        "sensor.octo_api_last_run_status"
    );
    assert_eq!(
        status["unique_id"],
        "gitops_bridge_repo_100_last_run_status"
    );
    assert_eq!(status["state_topic"], "gitops-bridge/repo/octo/api/state");
    assert_eq!(api["components"]["failing"]["device_class"], "problem");
    assert_eq!(api["components"]["workflow_run"]["platform"], "event");
    assert!(api["components"]["workflow_run"].get("retain").is_none());

    let state = probe
        .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
            s.json()["status"] == "failure"
        })
        .await;
    let state = state.json();
    assert_eq!(state["failing"], true);
    assert_eq!(state["success_rate"], 66.7);
    assert_eq!(state["failure_streak"], 1);
    assert_eq!(state["last_run"]["run_id"], 1003);
    assert_eq!(state["duration_s"], 360);

    let web = probe
        .wait_for("gitops-bridge/repo/octo/web/state", WAIT, |s| {
            s.json()["running"] == true
        })
        .await
        .json();
    assert_eq!(web["status"], "in_progress");
    assert_eq!(web["health"], "unknown");

    let bridge = probe
        .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
            s.json()["github"]["last_poll"].is_string()
        })
        .await
        .json();
    assert_eq!(bridge["repositories"], 2);
    assert_eq!(bridge["github"]["reachable"], true);
    assert!(bridge["github"]["error"].is_null());
    assert!(bridge["github"]["rate_limit_remaining"].as_u64().is_some());

    // What a fresh subscriber (HA after a restart) finds retained on the broker.
    let kept = retained(broker.port, "#").await;
    assert_eq!(kept["gitops-bridge/bridge/availability"].text(), "online");
    assert!(kept.contains_key("homeassistant/device/gitops_bridge_bridge/config"));
    assert!(kept.contains_key("homeassistant/device/gitops_bridge_repo_200/config"));
    assert_eq!(
        kept["gitops-bridge/repo/octo/api/availability"].text(),
        "online"
    );
    assert!(
        kept.keys().all(|t| !t.ends_with("/events")),
        "events are never retained"
    );
    // Secrets never reach MQTT.
    for s in probe.all() {
        let text = s.text();
        assert!(
            !text.contains("test-token") && !text.contains(support::MQTT_PASS),
            "{}",
            s.topic
        );
    }

    daemon.stop().await.unwrap();
    let kept = retained(broker.port, "gitops-bridge/bridge/availability").await;
    assert_eq!(
        kept["gitops-bridge/bridge/availability"].text(),
        "offline",
        "clean stop says offline"
    );
}

#[tokio::test]
async fn a_completed_run_fires_one_event_and_updates_state() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "");
    let probe = Probe::connect(broker.port, "gitops-bridge/#").await;
    let daemon = Daemon::start(cfg.settings());
    probe
        .wait_for("gitops-bridge/repo/octo/web/state", WAIT, |s| {
            s.json()["running"] == true
        })
        .await;
    // The history import never fires events.
    assert!(probe.all().iter().all(|s| !s.topic.ends_with("/events")));

    gh.with_world(|w| {
        let run = w
            .repo_mut("octo/web")
            .unwrap()
            .runs
            .iter_mut()
            .find(|r| r.id == 2001)
            .unwrap();
        run.status = "completed".into();
        run.conclusion = Some("success".into());
        run.updated_at = Utc::now();
    });
    let event = probe
        .wait_for("gitops-bridge/repo/octo/web/events", WAIT, |_| true)
        .await;
    assert!(!event.retain);
    let event = event.json();
    assert_eq!(event["event_type"], "success");
    assert_eq!(event["repository"], "octo/web");
    assert_eq!(event["failure_streak"], 0);
    assert_eq!(event["run_id"], 2001);
    assert_eq!(event["workflow"], "Build");
    assert!(
        event["url"]
            .as_str()
            .unwrap()
            .contains("/actions/runs/2001")
    );
    probe
        .wait_for("gitops-bridge/repo/octo/web/state", WAIT, |s| {
            s.json()["running"] == false && s.json()["status"] == "success"
        })
        .await;
    // More polls, no more events for the same run.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = probe
        .all()
        .into_iter()
        .filter(|s| s.topic.ends_with("/events"))
        .count();
    assert_eq!(events, 1);
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn killing_the_daemon_makes_everything_unavailable() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = config(&gh, &broker);
    let probe = Probe::connect(broker.port, "gitops-bridge/bridge/availability").await;
    let mut daemon = DaemonProcess::start(&cfg.path);
    probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.text() == "online"
        })
        .await;
    daemon.kill();
    probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.text() == "offline"
        })
        .await;
    let kept = retained(broker.port, "gitops-bridge/bridge/availability").await;
    assert_eq!(
        kept["gitops-bridge/bridge/availability"].text(),
        "offline",
        "the last will is retained"
    );
    let log = daemon.log();
    assert!(
        !log.contains("test-token") && !log.contains(support::MQTT_PASS),
        "secrets in the log:\n{log}"
    );
}

#[tokio::test]
async fn sigterm_stops_cleanly_with_offline() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = config(&gh, &broker);
    let probe = Probe::connect(broker.port, "gitops-bridge/bridge/availability").await;
    let mut daemon = DaemonProcess::start(&cfg.path);
    probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.text() == "online"
        })
        .await;
    let status = daemon.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        daemon.log()
    );
    probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.text() == "offline"
        })
        .await;
}

#[tokio::test]
async fn home_assistants_birth_message_brings_a_republish() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = config(&gh, &broker);
    let probe = Probe::connect(broker.port, "#").await;
    let daemon = Daemon::start(cfg.settings());
    probe
        .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
            s.json()["status"] == "failure"
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.clear();
    probe.publish("homeassistant/status", "online", false).await;
    let again = probe
        .wait_for(
            "homeassistant/device/gitops_bridge_repo_100/config",
            Duration::from_secs(10),
            |_| true,
        )
        .await;
    let after = again.at;
    let birth = probe
        .all()
        .iter()
        .find(|s| s.topic == "homeassistant/status")
        .map(|s| s.at)
        .unwrap();
    assert!(
        after.duration_since(birth) >= Duration::from_secs(1),
        "re-published after a delay, not instantly"
    );
    probe
        .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |_| true)
        .await;
    probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.text() == "online"
        })
        .await;
    // HA going offline is no reason to publish anything.
    probe.clear();
    probe
        .publish("homeassistant/status", "offline", false)
        .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(
        probe
            .all()
            .iter()
            .all(|s| !s.topic.starts_with("homeassistant/device/"))
    );
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn a_broker_restart_is_survived_and_everything_is_republished() {
    let mut broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = config(&gh, &broker);
    let daemon = Daemon::start(cfg.settings());
    {
        let probe = Probe::connect(broker.port, "#").await;
        probe
            .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
                s.json()["status"] == "failure"
            })
            .await;
        probe.disconnect().await;
    }
    // SIGKILL and a fresh persistence file: the broker forgets every retained message.
    broker.stop();
    broker.restart();
    let probe = Probe::connect(broker.port, "#").await;
    probe
        .wait_for(
            "homeassistant/device/gitops_bridge_repo_100/config",
            Duration::from_secs(45),
            |_| true,
        )
        .await;
    probe
        .wait_for("gitops-bridge/bridge/availability", WAIT, |s| {
            s.text() == "online"
        })
        .await;
    probe
        .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
            s.json()["status"] == "failure"
        })
        .await;
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn configs_of_repositories_no_longer_watched_are_removed() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    // Left behind by an earlier run that watched repository 999, and one of another bridge.
    let seed = Probe::connect(broker.port, "unused/#").await;
    let stale = serde_json::json!({
        "device": {"identifiers": ["gitops_bridge_repo_999"], "name": "octo/gone"},
        "origin": {"name": "gitops-bridge"},
        "availability": [{"topic": "gitops-bridge/bridge/availability"}, {"topic": "gitops-bridge/repo/octo/gone/availability"}],
        "components": {"x": {"platform": "sensor", "unique_id": "u", "state_topic": "gitops-bridge/repo/octo/gone/state"}}
    });
    let foreign = serde_json::json!({
        "device": {"identifiers": ["other_bridge_repo_5"], "name": "x"},
        "origin": {"name": "gitops-bridge"},
        "availability": [{"topic": "other/bridge/availability"}],
        "components": {"x": {"platform": "sensor", "unique_id": "v", "state_topic": "other/repo/a/b/state"}}
    });
    seed.publish(
        "homeassistant/device/gitops_bridge_repo_999/config",
        stale.to_string(),
        true,
    )
    .await;
    seed.publish("gitops-bridge/repo/octo/gone/state", "{}", true)
        .await;
    seed.publish(
        "homeassistant/device/other_bridge_repo_5/config",
        foreign.to_string(),
        true,
    )
    .await;
    seed.disconnect().await;

    let cfg = config(&gh, &broker);
    let daemon = Daemon::start(cfg.settings());
    let probe = Probe::connect(broker.port, "#").await;
    probe
        .wait_for(
            "homeassistant/device/gitops_bridge_repo_999/config",
            WAIT,
            |s| s.payload.is_empty(),
        )
        .await;
    probe
        .wait_for("gitops-bridge/repo/octo/gone/state", WAIT, |s| {
            s.payload.is_empty()
        })
        .await;
    let kept = retained(broker.port, "homeassistant/#").await;
    assert!(!kept.contains_key("homeassistant/device/gitops_bridge_repo_999/config"));
    assert!(
        kept.contains_key("homeassistant/device/other_bridge_repo_5/config"),
        "another bridge's config stays"
    );
    assert!(kept.contains_key("homeassistant/device/gitops_bridge_repo_100/config"));
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn a_broker_down_at_start_is_waited_for() {
    let mut broker = Mosquitto::start();
    broker.stop();
    let gh = FakeGitHub::start(world()).await;
    let cfg = config(&gh, &broker);
    let daemon = Daemon::start(cfg.settings());
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.restart();
    let probe = Probe::connect(broker.port, "#").await;
    probe
        .wait_for(
            "gitops-bridge/repo/octo/api/state",
            Duration::from_secs(45),
            |s| s.json()["status"] == "failure",
        )
        .await;
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn tls_to_a_broker_with_a_private_ca() {
    let ca = support::TestCa::new();
    let broker = Mosquitto::start_tls(&ca);
    let gh = FakeGitHub::start(world()).await;
    let extra = format!("  tls: true\n  ca_file: {}\n", ca.ca().display());
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "");
    // The TLS keys belong under `mqtt:`.
    let text = std::fs::read_to_string(&cfg.path)
        .unwrap()
        .replace("mqtt:\n", &format!("mqtt:\n{extra}"));
    std::fs::write(&cfg.path, text).unwrap();
    let mut daemon = DaemonProcess::start(&cfg.path);
    // What a TLS client that trusts the same CA finds retained on the broker.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let out = std::process::Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port.to_string(),
                "-u",
                support::MQTT_USER,
                "-P",
                support::MQTT_PASS,
            ])
            .arg("--cafile")
            .arg(ca.ca())
            .args([
                "-t",
                "gitops-bridge/repo/octo/api/state",
                "-C",
                "1",
                "-W",
                "2",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("\"status\":\"failure\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no state over TLS; daemon log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    daemon.kill();
    // Without the CA the daemon refuses the broker's certificate and says so.
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "");
    let text = std::fs::read_to_string(&cfg.path)
        .unwrap()
        .replace("mqtt:\n", "mqtt:\n  tls: true\n");
    std::fs::write(&cfg.path, text).unwrap();
    let mut daemon = DaemonProcess::start(&cfg.path);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "keeps running and retrying"
    );
    let log = daemon.log();
    assert!(log.to_lowercase().contains("certificate"), "{log}");
    daemon.kill();
}

#[tokio::test]
async fn wrong_broker_credentials_are_reported_and_retried() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, REPOS, "");
    let text = std::fs::read_to_string(&cfg.path)
        .unwrap()
        .replace(support::MQTT_PASS, "wrong-password");
    std::fs::write(&cfg.path, text).unwrap();
    let mut daemon = DaemonProcess::start(&cfg.path);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon keeps running"
    );
    let log = daemon.log();
    assert!(log.contains("refused our credentials"), "{log}");
    assert!(
        !log.contains("wrong-password"),
        "the password must not be logged"
    );
}

/// Nothing is announced before it is known: on a first start and on a restart (history in
/// the store), no repository state with every value unknown and no "GitHub unreachable"
/// bridge state reach the broker before the real values.
#[tokio::test]
async fn state_is_published_only_once_it_is_known() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world()).await;
    let cfg = config(&gh, &broker);
    let probe = Probe::connect(broker.port, "#").await;
    let unknown = |seen: &[support::Seen]| -> Vec<String> {
        seen.iter()
            .filter(|s| !s.payload.is_empty())
            .filter(|s| {
                (s.topic.starts_with("gitops-bridge/repo/")
                    && s.topic.ends_with("/state")
                    && s.json()["status"].is_null())
                    || (s.topic == "gitops-bridge/bridge/state"
                        && s.json()["github"]["reachable"] == false)
            })
            .map(|s| format!("{} {}", s.topic, s.text()))
            .collect()
    };
    for start in ["first start", "restart with history"] {
        let from = probe.all().len();
        let daemon = Daemon::start(cfg.settings());
        probe
            .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
                s.json()["status"] == "failure"
            })
            .await;
        probe
            .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
                s.json()["github"]["reachable"] == true
            })
            .await;
        daemon.stop().await.unwrap();
        let seen = probe.all();
        assert_eq!(unknown(&seen[from..]), Vec::<String>::new(), "{start}");
    }
}
