//! Recovery policy benchmark (`cargo bench --bench recovery`): what deciding about one
//! completed, failed run costs the daemon — classifying it from its jobs and steps, then the
//! auto-retry decision — over 1,000 runs of four jobs each, in every failure class; and
//! what judging a repository's quality gate costs (its SLO verdicts, its health report,
//! two upstreams), which the state task does on every completed run of a repository with
//! a gate. No I/O: the jobs are the ones the state task already read. Results in
//! docs/benchmarks.md.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use gitops_bridge::model::{Conclusion, Job, Run, Status};
use gitops_bridge::recovery::classify;
use gitops_bridge::recovery::retry::{RetryPolicy, decide, failure_of};
use gitops_bridge::state::RunSummary;

const RUNS: u64 = 1_000;
const ROUNDS: usize = 50;

fn run(id: u64, conclusion: &str) -> Run {
    Run {
        id,
        attempt: 1 + (id % 3) as u32,
        repo_id: 1,
        workflow_id: 2,
        workflow_name: "CI".into(),
        workflow_path: Some(".github/workflows/ci.yml".into()),
        head_branch: Some("main".into()),
        head_sha: format!("{id:040x}"),
        event: "push".into(),
        status: Status::Completed,
        conclusion: Some(Conclusion::parse(conclusion)),
        run_number: id,
        display_title: None,
        actor: None,
        html_url: format!("https://github.com/octo/api/actions/runs/{id}"),
        created_at: Utc::now(),
        run_started_at: Some(Utc::now()),
        updated_at: Utc::now(),
    }
}

/// Four jobs; the last fails in a step chosen by `id`, so every class comes up.
fn jobs(id: u64) -> Vec<Job> {
    let failing_step = [
        "Run cargo test",
        "Set up job",
        "Run actions/checkout@v4",
        "Run clippy",
    ][(id % 4) as usize];
    (0..4)
        .map(|n| Job {
            id: id * 10 + n,
            run_id: id,
            attempt: 1,
            name: format!("job-{n}"),
            status: Status::Completed,
            conclusion: Some(Conclusion::parse(if n == 3 {
                if id.is_multiple_of(7) {
                    "timed_out"
                } else {
                    "failure"
                }
            } else {
                "success"
            })),
            started_at: None,
            completed_at: None,
            html_url: None,
            runner_name: Some("runner".into()),
            failed_step: (n == 3).then(|| failing_step.to_string()),
            runner_message: None,
        })
        .collect()
}

fn main() {
    let runs: Vec<(Run, Vec<Job>)> = (1..=RUNS)
        .map(|id| (run(id, "failure"), jobs(id)))
        .collect();
    let passed: HashSet<String> = ["job-0", "job-1"].iter().map(|s| s.to_string()).collect();
    let policy = RetryPolicy::default();
    let mut per_run = Vec::new();
    let mut retried = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        retried = 0;
        for (run, jobs) in &runs {
            let class = classify(run, jobs, &passed);
            let summary = RunSummary::of(run, Vec::new()).with_failure(class);
            let now = failure_of(jobs);
            if matches!(
                decide(&policy, &summary, &now, None),
                gitops_bridge::recovery::retry::Decision::Retry { .. }
            ) {
                retried += 1;
            }
        }
        per_run.push(started.elapsed() / RUNS as u32);
    }
    per_run.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| classify + auto-retry decision, per failed run ({RUNS} runs × {ROUNDS} rounds) | min {:.2} µs, median {:.2} µs, max {:.2} µs | < 1 ms |",
        us(per_run[0]),
        us(per_run[per_run.len() / 2]),
        us(per_run[per_run.len() - 1])
    );
    println!("| runs the policy would re-run, of {RUNS} | {retried} | |");
    gate();
}

fn repository(id: u64, name: &str) -> gitops_bridge::model::Repository {
    gitops_bridge::model::Repository {
        id,
        owner: "octo".into(),
        name: name.into(),
        default_branch: "main".into(),
        html_url: format!("https://github.com/octo/{name}"),
        private: false,
        archived: false,
    }
}

/// The quality gate of `octo/app`, which needs `octo/lib` and `octo/db`, judged once per
/// completed run: SLO verdicts, the health report, both upstreams looked up and judged.
fn gate() {
    use gitops_bridge::commands::policy::RepoPolicy;
    use gitops_bridge::recovery::{DownstreamPolicy, GatePolicy, Need, gate::evaluate};
    use gitops_bridge::state::RepoView;
    let mut upstreams = std::collections::HashMap::new();
    for (id, name) in [(2, "lib"), (3, "db")] {
        let view = RepoView::bare(repository(id, name), RepoPolicy::default());
        upstreams.insert(name.to_string(), view);
    }
    let policy = RepoPolicy {
        gate: Some(GatePolicy::default()),
        downstream: Some(DownstreamPolicy {
            needs: ["lib", "db"]
                .iter()
                .map(|n| Need {
                    owner: "octo".into(),
                    name: n.to_string(),
                    workflow: "release.yml".into(),
                })
                .collect(),
            workflow: "deploy.yml".into(),
            sha_input: Some("upstream_sha".into()),
        }),
        ..RepoPolicy::default()
    };
    let mut app = RepoView::bare(repository(1, "app"), policy);
    app.health.success_rate = Some(0.9);
    app.health.duration_p95_s = Some(420.0);
    let mut per_run = Vec::new();
    let mut failing = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..RUNS {
            let verdict = evaluate(&app, None, |_, name| upstreams.get(name)).unwrap();
            failing = verdict.failing.len();
        }
        per_run.push(started.elapsed() / RUNS as u32);
    }
    per_run.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| quality gate (SLOs, health, 2 upstreams), per completed run ({RUNS} × {ROUNDS}) | min {:.2} µs, median {:.2} µs, max {:.2} µs | < 1 ms |",
        us(per_run[0]),
        us(per_run[per_run.len() / 2]),
        us(per_run[per_run.len() - 1])
    );
    println!("| failing conditions in the judged verdict | {failing} | |");
}
