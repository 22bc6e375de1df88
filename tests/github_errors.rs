//! Bad answers from GitHub: the daemon keeps running, says what is wrong in the log and on the
//! bridge's entities, recovers when GitHub does, and loses nothing it knew.

mod support;

use std::time::Duration;

use fake_github::{FakeGitHub, Fault, FaultKind, Owner, World};
use support::rig::Rig;
use support::{Config, Daemon, Mosquitto, Probe};

const WAIT: Duration = Duration::from_secs(15);
const RUNS: &str = "/repos/octo/api/actions/runs";

fn world(token: &str) -> World {
    World::new(token)
        .owner(Owner::user("octo", 1))
        .repo(support::world::octo_api(
            100,
            ["success", "failure", "success"],
        ))
}

impl Rig {
    /// A daemon that has polled successfully at least once.
    async fn healthy() -> Rig {
        let rig = Rig::launch(
            world("test-token"),
            "    - octo/api\n",
            "gitops-bridge/#",
            |s| s,
            false,
        )
        .await;
        rig.probe
            .wait_for("gitops-bridge/repo/octo/api/state", WAIT, |s| {
                s.json()["success_rate"] == 66.7
            })
            .await;
        rig
    }

    /// Waits for the bridge to report an error containing `needle`.
    async fn bridge_error(&self, needle: &str) -> serde_json::Value {
        self.probe
            .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
                s.json()["github"]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(needle))
            })
            .await
            .json()
    }

    async fn recovers(&self) {
        self.probe.clear();
        self.gh.clear_faults();
        self.probe
            .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
                s.json()["github"]["error"].is_null()
            })
            .await;
        // History is intact: what HA reads from the broker is unchanged.
        let kept = support::retained(self.broker.port, "gitops-bridge/repo/octo/api/state").await;
        let state = kept["gitops-bridge/repo/octo/api/state"].json();
        assert_eq!(state["success_rate"], 66.7);
        assert_eq!(state["last_run"]["run_id"], 1003);
    }
}

#[tokio::test]
async fn bad_token_is_named_and_the_daemon_keeps_running() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world("the-right-token")).await;
    let cfg = Config::write(
        &gh.url(),
        "a-wrong-token",
        broker.port,
        "    - octo/api\n",
        "",
    );
    let probe = Probe::connect(broker.port, "gitops-bridge/#").await;
    let daemon = Daemon::start(cfg.settings());
    let state = probe
        .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
            s.json()["github"]["error"].is_string()
        })
        .await
        .json();
    let error = state["github"]["error"].as_str().unwrap();
    assert!(
        error.contains("401") && error.contains("github.token"),
        "{error}"
    );
    assert!(!error.contains("a-wrong-token"));
    // It backs off instead of hammering GitHub with a bad token.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let tries = gh.requests().len();
    assert!(tries <= 4, "{tries} requests in ~4 s with a bad token");
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn primary_rate_limit_pauses_requests() {
    let rig = Rig::healthy().await;
    rig.gh.inject(Fault::new(RUNS, FaultKind::PrimaryRateLimit));
    let state = rig.bridge_error("rate limit").await;
    assert!(
        state["github"]["error"]
            .as_str()
            .unwrap()
            .contains("primary")
    );
    let after = rig.gh.requests().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rig.gh.requests().len(),
        after,
        "no request goes out while the limit lasts"
    );
    rig.stop().await;
}

#[tokio::test]
async fn secondary_rate_limit_honours_retry_after() {
    let rig = Rig::healthy().await;
    rig.gh.inject(
        Fault::new(
            RUNS,
            FaultKind::SecondaryRateLimit {
                retry_after_secs: 3,
            },
        )
        .times(1),
    );
    rig.bridge_error("secondary").await;
    let blocked_at = std::time::Instant::now();
    let count = rig.gh.requests().len();
    rig.probe.clear();
    rig.probe
        .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
            s.json()["github"]["error"].is_null()
        })
        .await;
    assert!(
        blocked_at.elapsed() >= Duration::from_secs(1),
        "waited for retry-after"
    );
    assert!(rig.gh.requests().len() > count);
    rig.stop().await;
}

#[tokio::test]
async fn missing_repository_goes_unavailable_and_comes_back() {
    let rig = Rig::healthy().await;
    rig.gh.inject(Fault::new(RUNS, FaultKind::not_found()));
    rig.bridge_error("not found").await;
    rig.probe
        .wait_for("gitops-bridge/repo/octo/api/availability", WAIT, |s| {
            s.text() == "offline"
        })
        .await;
    rig.recovers().await;
    rig.probe
        .wait_for("gitops-bridge/repo/octo/api/availability", WAIT, |s| {
            s.text() == "online"
        })
        .await;
    rig.stop().await;
}

#[tokio::test]
async fn unprocessable_is_reported_and_recovered_from() {
    let rig = Rig::healthy().await;
    rig.gh.inject(Fault::new(
        RUNS,
        FaultKind::unprocessable("Validation Failed"),
    ));
    rig.bridge_error("422").await;
    rig.recovers().await;
    rig.stop().await;
}

#[tokio::test]
async fn server_errors_are_reported_and_recovered_from() {
    let rig = Rig::healthy().await;
    rig.gh.inject(Fault::new(RUNS, FaultKind::server_error()));
    rig.bridge_error("500").await;
    rig.recovers().await;
    rig.stop().await;
}

#[tokio::test]
async fn a_slow_github_times_out_and_is_reported() {
    let rig = Rig::healthy().await;
    rig.gh
        .inject(Fault::new(RUNS, FaultKind::Delay(Duration::from_secs(6))));
    let state = rig.bridge_error("did not answer").await;
    assert_eq!(state["github"]["reachable"], false);
    rig.recovers().await;
    rig.stop().await;
}

#[tokio::test]
async fn malformed_json_is_reported_and_loses_nothing() {
    let rig = Rig::healthy().await;
    rig.gh.inject(Fault::new(RUNS, FaultKind::MalformedJson));
    rig.bridge_error("unexpected").await;
    rig.recovers().await;
    rig.stop().await;
}

#[tokio::test]
async fn github_unreachable_is_reported_and_recovered_from() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(world("test-token")).await;
    let port = gh.url().rsplit(':').next().unwrap().to_string();
    gh.shutdown();
    let cfg = Config::write(&gh.url(), &gh.token(), broker.port, "    - octo/api\n", "");
    let probe = Probe::connect(broker.port, "gitops-bridge/#").await;
    let daemon = Daemon::start(cfg.settings());
    let state = probe
        .wait_for("gitops-bridge/bridge/state", WAIT, |s| {
            s.json()["github"]["error"].is_string()
        })
        .await
        .json();
    assert_eq!(state["github"]["reachable"], false);
    assert!(
        state["github"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach GitHub")
    );
    // GitHub comes back on the same address.
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let _gh = FakeGitHub::start_on(world("test-token"), addr)
        .await
        .unwrap();
    probe
        .wait_for(
            "gitops-bridge/repo/octo/api/state",
            Duration::from_secs(40),
            |s| s.json()["success_rate"] == 66.7,
        )
        .await;
    daemon.stop().await.unwrap();
}
