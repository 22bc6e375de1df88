//! A paced load of signed webhook deliveries, for the load test and its benchmark.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gitops_bridge::github::webhook::sign;
use tokio::sync::{Mutex, Semaphore};

/// What the sender saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub sent: usize,
    pub accepted: usize,
    pub duplicates: usize,
    pub failed: usize,
    /// Answer times, sorted.
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl LoadReport {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// A `workflow_job` delivery as GitHub sends it (compact JSON) for repository `repo_id`.
pub fn job_payload(repo_id: u64, job_id: u64) -> Vec<u8> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/webhooks/workflow_job.completed.success.json"
    ))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["repository"]["id"] = serde_json::json!(repo_id);
    v["workflow_job"]["id"] = serde_json::json!(job_id);
    serde_json::to_vec(&v).unwrap()
}

/// How many of `total` deliveries are replays when every `replay_every`-th one is.
pub fn replays(total: usize, replay_every: usize) -> usize {
    total
        .saturating_sub(1)
        .checked_div(replay_every)
        .unwrap_or(0)
}

/// Sends `rate` deliveries per second for `duration` to `url`/webhook/github, each with its
/// own delivery id `{prefix}-{n}`, signed with `secret`; `replay_every` > 0 also re-sends an
/// earlier delivery every that many (which must come back as a duplicate).
pub async fn run(
    url: &str,
    secret: &str,
    repo_id: u64,
    rate: u32,
    duration: Duration,
    prefix: &str,
    replay_every: usize,
) -> LoadReport {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let total = (rate as f64 * duration.as_secs_f64()) as usize;
    let report = Arc::new(Mutex::new(LoadReport::default()));
    let in_flight = Arc::new(Semaphore::new(512));
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new((0..16).map(|j| job_payload(repo_id, 9000 + j)).collect());
    let signatures: Arc<Vec<String>> =
        Arc::new(bodies.iter().map(|b| sign(secret.as_bytes(), b)).collect());
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for n in 0..total {
        tick.tick().await;
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let (client, report, bodies, signatures) = (
            client.clone(),
            report.clone(),
            bodies.clone(),
            signatures.clone(),
        );
        let target = format!("{url}/webhook/github");
        let replay = replay_every > 0 && n > 0 && n % replay_every == 0;
        // The delivery just before a replay is always an original one.
        let id = if replay {
            format!("{prefix}-{}", n - 1)
        } else {
            format!("{prefix}-{n}")
        };
        handles.push(tokio::spawn(async move {
            let body = bodies[n % bodies.len()].clone();
            let t0 = Instant::now();
            let result = client
                .post(target)
                .header("content-type", "application/json")
                .header("x-github-event", "workflow_job")
                .header("x-github-delivery", id)
                .header("x-hub-signature-256", &signatures[n % bodies.len()])
                .body(body)
                .send()
                .await;
            let took = t0.elapsed();
            let mut r = report.lock().await;
            r.sent += 1;
            match result.map(|r| r.status().as_u16()) {
                Ok(202) => r.accepted += 1,
                Ok(200) => r.duplicates += 1,
                _ => r.failed += 1,
            }
            r.latencies.push(took);
            drop(permit);
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let mut report = Arc::try_unwrap(report).unwrap().into_inner();
    report.elapsed = started.elapsed();
    report.latencies.sort();
    report
}
