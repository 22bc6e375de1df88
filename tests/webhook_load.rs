//! A bounded load of signed deliveries against a running daemon: none lost, none processed
//! twice, redeliveries recognised. (Speed is measured by `cargo bench --bench webhooks`.)

mod support;

use std::time::Duration;

use fake_github::{FakeGitHub, Owner, Repo, World};
use support::webhook_load;
use support::{Config, Daemon, Mosquitto, Probe};

const SECRET: &str = "load-test-secret";
/// The repository of the `workflow_job` fixture.
const REPO_ID: u64 = 186853002;

#[tokio::test]
async fn every_delivery_is_processed_exactly_once_under_load() {
    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(
        World::new("t")
            .owner(Owner::user("Codertocat", 1))
            .repo(Repo::new(REPO_ID, "Codertocat", "Hello-World")),
    )
    .await;
    let cfg = Config::write(
        &gh.url(),
        &gh.token(),
        broker.port,
        "    - Codertocat/Hello-World\n",
        "",
    );
    let text = std::fs::read_to_string(&cfg.path).unwrap().replace(
        "  poll_interval: 1s\n",
        &format!("  poll_interval: 1h\n  webhook_secret: {SECRET}\n"),
    );
    std::fs::write(&cfg.path, text).unwrap();
    let probe = Probe::connect(broker.port, "gitops-bridge/repo/#").await;
    let (daemon, url) = Daemon::start_with_http(cfg.settings()).await;
    probe
        .wait_for(
            "gitops-bridge/repo/Codertocat/Hello-World/state",
            Duration::from_secs(15),
            |_| true,
        )
        .await;

    let (rate, secs, replay_every) = (300, 3, 10);
    let report = webhook_load::run(
        &url,
        SECRET,
        REPO_ID,
        rate,
        Duration::from_secs(secs),
        "load",
        replay_every,
    )
    .await;
    let total = (rate as u64 * secs) as usize;
    let replays = webhook_load::replays(total, replay_every);
    assert_eq!(report.sent, total);
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.accepted, total - replays);
    assert_eq!(report.duplicates, replays);

    // Wait for processing behind the answers, then read the store.
    let metrics = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("gitops_bridge_webhook_deliveries_processed_total"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0) as usize
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics(&text) >= total - replays {
            assert_eq!(metrics(&text), total - replays);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "processed {} of {}",
            metrics(&text),
            total - replays
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.stop().await.unwrap();
    let db = gitops_bridge::store::Db::open(&cfg.dir.path().join("store.db")).unwrap();
    let (recorded, processed, twice) = db.delivery_counts().unwrap();
    assert_eq!(
        (recorded, processed, twice),
        ((total - replays) as u64, (total - replays) as u64, 0)
    );
}
