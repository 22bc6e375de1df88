//! Daemon benchmarks (`cargo bench --bench bridge`): the release binary against the fake
//! GitHub and a real Mosquitto. Prints a table; results are recorded in docs/benchmarks.md.
//!
//! 1. Idle memory and time to the last state with 10, 100 and 1,000 watched repositories
//!    (RSS after the import, while polling), and the CPU of an idle minute at 1,000.
//! 2. Discovery + state for 200 repositories: time to publish everything after HA's birth
//!    message (first to last message, the birth delay excluded), and at start.
//! 3. The cost of a quiet poll cycle: counted GitHub requests (all answers should be 304).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_github::{FakeGitHub, Job, Owner, Repo, Run, Workflow, World};
use support::{DaemonProcess, Mosquitto, Probe};

/// `n` repositories with two workflows and ~3 runs a day for a week each.
fn world(n: u64) -> World {
    let now = Utc::now();
    let mut w = World::new("bench-token").owner(Owner::org("bench", 1));
    let mut id = 1_000_000u64;
    for r in 0..n {
        let mut repo = Repo::new(10_000 + r, "bench", format!("repo-{r:04}"))
            .workflow(Workflow::new(r * 10 + 1, "CI", ".github/workflows/ci.yml"))
            .workflow(Workflow::new(
                r * 10 + 2,
                "Deploy",
                ".github/workflows/deploy.yml",
            ));
        for k in 0..21i64 {
            id += 1;
            let wf = r * 10 + 1 + (k % 2) as u64;
            let conclusion = if k % 7 == 3 { "failure" } else { "success" };
            let run = Run::completed(
                id,
                wf,
                if k % 2 == 0 { "CI" } else { "Deploy" },
                conclusion,
                now - chrono::Duration::hours(8 * k + 1),
                chrono::Duration::minutes(3 + k % 5),
            );
            repo = repo.job(Job::for_run(id * 10, &run, "build"));
            repo = repo.run(run);
        }
        w = w.repo(repo);
    }
    w
}

fn settings(dir: &std::path::Path, gh: &FakeGitHub, port: u16) -> std::path::PathBuf {
    let path = dir.join("settings.yaml");
    std::fs::write(
        &path,
        format!(
            "github:\n  token: {}\n  api_url: {}\n  poll_interval: 2s\n  repositories: [bench/*]\nmqtt:\n  host: 127.0.0.1\n  port: {port}\n  username: {}\n  password: {}\nstore:\n  path: {}\nhttp:\n  listen: \"\"\nlog_level: info\n",
            gh.token(),
            gh.url(),
            support::MQTT_USER,
            support::MQTT_PASS,
            dir.join("store.db").display()
        ),
    )
    .unwrap();
    path
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of a process so far, in milliseconds.
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    ticks * 10 // USER_HZ is 100 on Linux
}

/// Waits until `n` repositories have published a state with their history (a last run).
async fn states_seen(probe: &Probe, n: usize, timeout: Duration) -> Instant {
    let deadline = Instant::now() + timeout;
    loop {
        let states: HashSet<String> = probe
            .all()
            .into_iter()
            .filter(|s| s.topic.starts_with("gitops-bridge/repo/") && s.topic.ends_with("/state"))
            .filter(|s| s.json()["status"].is_string())
            .map(|s| s.topic)
            .collect();
        if states.len() >= n {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} states within {timeout:?}",
            states.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing for tests
    }
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // 1. Idle memory and start-up at 10, 100 and 1,000 repositories; at 1,000 also the
    //    CPU an idle minute costs (the sliding-window recompute runs once a minute).
    // `BENCH_SIZES=100` measures one size only.
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000]);
    for n in sizes {
        let broker = Mosquitto::start();
        let gh = FakeGitHub::start(world(n as u64)).await;
        let dir = tempfile::tempdir().unwrap();
        let probe = Probe::connect(broker.port, "gitops-bridge/#").await;
        let started = Instant::now();
        let daemon = DaemonProcess::start_as_configured(&settings(dir.path(), &gh, broker.port));
        let all = states_seen(&probe, n, Duration::from_secs(300)).await;
        rows.push((
            format!("start to the last state, {n} repositories"),
            format!("{:.1} s", (all - started).as_secs_f64()),
            String::new(),
        ));
        // Let it settle into quiet polling for a while.
        tokio::time::sleep(Duration::from_secs(15)).await;
        let pid = daemon.child.id();
        let rss = rss_kb(pid, "VmRSS:");
        let hwm = rss_kb(pid, "VmHWM:");
        let target = match n {
            100 => "< 15 MB",
            1000 => "< 40 MB",
            _ => "",
        };
        rows.push((
            format!("idle RSS, {n} repositories"),
            format!("{:.1} MB", rss as f64 / 1024.0),
            target.into(),
        ));
        // Where it is: heap and stacks (anonymous) or pages of the binary and libc (file).
        rows.push((
            format!("  of which anonymous / file-backed, {n} repositories"),
            format!(
                "{:.1} MB / {:.1} MB",
                rss_kb(pid, "RssAnon:") as f64 / 1024.0,
                rss_kb(pid, "RssFile:") as f64 / 1024.0
            ),
            String::new(),
        ));
        rows.push((
            format!("peak RSS (VmHWM), {n} repositories"),
            format!("{:.1} MB", hwm as f64 / 1024.0),
            String::new(),
        ));
        if n == 1000 {
            let before = cpu_ms(pid);
            tokio::time::sleep(Duration::from_secs(65)).await;
            rows.push((
                "CPU of an idle 65 s (polls + one recompute), 1,000 repositories".into(),
                format!("{} ms", cpu_ms(pid) - before),
                String::new(),
            ));
        }

        // 3. Quiet cycles: nothing changes on GitHub for several polls.
        if n == 100 {
            let counted = gh.counted_requests();
            gh.clear_requests();
            tokio::time::sleep(Duration::from_secs(7)).await;
            let requests = gh.requests();
            let not_modified = requests.iter().filter(|r| r.status == 304).count();
            rows.push((
                "quiet polls (~3 cycles), 100 repositories".into(),
                format!(
                    "{} counted of {} requests ({} × 304)",
                    gh.counted_requests() - counted,
                    requests.len(),
                    not_modified
                ),
                "0 counted".into(),
            ));
        }
        drop(daemon);
    }

    // 2. Discovery + state for 200 repositories.
    if std::env::var_os("BENCH_SIZES").is_none() {
        let broker = Mosquitto::start();
        let gh = FakeGitHub::start(world(200)).await;
        let dir = tempfile::tempdir().unwrap();
        let probe = Probe::connect(broker.port, "#").await;
        let started = Instant::now();
        let daemon = DaemonProcess::start_as_configured(&settings(dir.path(), &gh, broker.port));
        let all = states_seen(&probe, 200, Duration::from_secs(180)).await;
        rows.push((
            "start to 200 repositories with history on the broker".into(),
            format!("{:.2} s", (all - started).as_secs_f64()),
            "".into(),
        ));
        tokio::time::sleep(Duration::from_secs(2)).await;
        probe.clear();
        probe.publish("homeassistant/status", "online", false).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let (first, last) = loop {
            // From the first re-sent config; the bridge's own state also changes every poll.
            let seen: Vec<_> = probe
                .all()
                .into_iter()
                .skip_while(|s| !s.topic.starts_with("homeassistant/device/"))
                .filter(|s| {
                    s.topic.starts_with("homeassistant/device/") || s.topic.contains("/repo/")
                })
                .collect();
            let configs = seen
                .iter()
                .filter(|s| s.topic.starts_with("homeassistant/device/"))
                .count();
            let states = seen
                .iter()
                .filter(|s| s.topic.ends_with("/state") && s.topic.contains("/repo/"))
                .count();
            if configs >= 201 && states >= 200 {
                break (seen.first().unwrap().at, seen.last().unwrap().at);
            }
            assert!(
                Instant::now() < deadline,
                "republish incomplete: {configs} configs, {states} states"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        rows.push((
            "discovery + state, 200 repositories (after HA birth)".into(),
            format!("{} ms", (last - first).as_millis()),
            "< 1 s".into(),
        ));
        drop(daemon);
    }

    println!("\n| measure | result | target |\n|---|---|---|");
    for (what, result, target) in rows {
        println!("| {what} | {result} | {target} |");
    }
}
