//! Webhook load benchmark (`cargo bench --bench webhooks`): the release binary on loopback
//! takes 1,000 signed deliveries a second for 30 s (`WEBHOOK_RATE`, `WEBHOOK_SECONDS` to
//! change), with every 100th a redelivery. Reports answer times and checks, from the store,
//! that none was lost and none processed twice. Results are recorded in docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use fake_github::{FakeGitHub, Owner, Repo, World};
use support::{DaemonProcess, Mosquitto, free_port, webhook_load};

const SECRET: &str = "bench-secret";
const REPO_ID: u64 = 186853002;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rate = env_or("WEBHOOK_RATE", 1000) as u32;
    let seconds = env_or("WEBHOOK_SECONDS", 30);
    let replay_every = 100;

    let broker = Mosquitto::start();
    let gh = FakeGitHub::start(
        World::new("t")
            .owner(Owner::user("Codertocat", 1))
            .repo(Repo::new(REPO_ID, "Codertocat", "Hello-World")),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("settings.yaml");
    std::fs::write(
        &config,
        format!(
            "github:\n  token: {}\n  api_url: {}\n  poll_interval: 1h\n  webhook_secret: {SECRET}\n  repositories: [Codertocat/Hello-World]\nmqtt:\n  host: 127.0.0.1\n  port: {}\n  username: {}\n  password: {}\nstore:\n  path: {}\nhttp:\n  listen: 127.0.0.1:{port}\nlog_level: warn\n",
            gh.token(),
            gh.url(),
            broker.port,
            support::MQTT_USER,
            support::MQTT_PASS,
            dir.path().join("store.db").display()
        ),
    )
    .unwrap();
    let mut daemon = DaemonProcess::start(&config);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{url}/healthz")).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "daemon did not start: {}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let report = webhook_load::run(
        &url,
        SECRET,
        REPO_ID,
        rate,
        Duration::from_secs(seconds),
        "bench",
        replay_every,
    )
    .await;
    let total = report.sent;
    let originals = total - webhook_load::replays(total, replay_every);

    // Processing happens behind the answers; give it time to drain, then stop and count.
    let drain_started = Instant::now();
    loop {
        let text = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let processed = text
            .lines()
            .find(|l| l.starts_with("gitops_bridge_webhook_deliveries_processed_total"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0) as usize;
        if processed >= originals || drain_started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = drain_started.elapsed();
    let rss = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        .unwrap_or_default();
    daemon.terminate();
    let db = gitops_bridge::store::Db::open(&dir.path().join("store.db")).unwrap();
    let (recorded, processed, twice) = db.delivery_counts().unwrap();

    println!("\n| measure | result | target |\n|---|---|---|");
    println!(
        "| deliveries sent ({rate}/s for {seconds} s, every {replay_every}th a redelivery) | {total} in {:.1} s | |",
        report.elapsed.as_secs_f64()
    );
    println!(
        "| answered 202 / 200 duplicate / other | {} / {} / {} | all answered |",
        report.accepted, report.duplicates, report.failed
    );
    println!(
        "| recorded / processed / processed twice (store) | {recorded} / {processed} / {twice} | {originals} / {originals} / 0 |"
    );
    println!(
        "| answer time p50 / p95 / p99 / max | {:.2} / {:.2} / {:.2} / {:.2} ms | p99 < 20 ms |",
        ms(report.percentile(50.0)),
        ms(report.percentile(95.0)),
        ms(report.percentile(99.0)),
        ms(*report.latencies.last().unwrap_or(&Duration::ZERO))
    );
    println!(
        "| processing caught up after the last answer | {:.2} s | |",
        drained.as_secs_f64()
    );
    println!(
        "| daemon peak RSS | {:.1} MB | |",
        rss.parse::<f64>().unwrap_or(0.0) / 1024.0
    );
    drop(broker);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
