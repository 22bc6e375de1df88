//! Template benchmarks (`cargo bench --bench templates`): the release binary's
//! `templates plan` and `templates deploy` against the fake GitHub, 100 repositories × 4
//! templates, whole process (start to exit). Prints GitHub requests and wall times; results
//! are recorded in docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use fake_github::{FakeGitHub, Owner, Repo, World};

const REPOS: u64 = 100;
const RUNS: usize = 5;

fn world() -> World {
    let mut w =
        World::new("ghp_benchToken00000000000000000000000000").owner(Owner::org("bench", 1));
    for r in 0..REPOS {
        w = w.repo(
            Repo::new(10_000 + r, "bench", format!("repo-{r:03}"))
                .files(&[("configuration.yaml", "homeassistant:\n")]),
        );
    }
    w
}

fn run(cfg: &std::path::Path, args: &[&str]) -> (Duration, String) {
    let started = Instant::now();
    let out = support::bin()
        .arg("templates")
        .args(args)
        .arg("--config")
        .arg(cfg)
        .output()
        .expect("the binary runs");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "min {:.2} s, median {:.2} s, max {:.2} s",
        v[0].as_secs_f64(),
        v[v.len() / 2].as_secs_f64(),
        v[v.len() - 1].as_secs_f64()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let gh = FakeGitHub::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("settings.yaml");
    std::fs::write(
        &cfg,
        format!(
            "github:\n  token: {}\n  api_url: {}\n  repositories:\n    - name: bench/*\n      allow: [deploy_template]\nstore:\n  path: {}\nhttp:\n  listen: \"\"\ntemplates:\n  targets:\n    - repositories: [bench/*]\n      templates: [yaml-validation, home-assistant-validation, security-scan, deployment-pipeline]\n      mode: commit\n",
            gh.token(),
            gh.url(),
            dir.path().join("store.db").display()
        ),
    )
    .unwrap();
    let cfg2 = cfg.clone();
    let cycle = move |args: &'static [&'static str]| {
        let cfg = cfg2.clone();
        async move {
            tokio::task::spawn_blocking(move || run(&cfg, args))
                .await
                .unwrap()
        }
    };

    println!("templates, {REPOS} repositories × 4 templates, release binary, whole process");
    let before = gh.counted_requests();
    let (t, _) = cycle(&["plan", "--format", "json"]).await;
    println!(
        "plan, nothing deployed yet:   {:.2} s, {} GitHub requests (listing included)",
        t.as_secs_f64(),
        gh.counted_requests() - before
    );
    let before = gh.counted_requests();
    let (t, out) = cycle(&["deploy"]).await;
    assert_eq!(out.matches("committed").count(), REPOS as usize, "{out}");
    println!(
        "deploy to every repository:   {:.2} s, {} GitHub requests",
        t.as_secs_f64(),
        gh.counted_requests() - before
    );
    let mut times = Vec::new();
    let mut requests = 0;
    for _ in 0..RUNS {
        let before = gh.counted_requests();
        let (t, out) = cycle(&["plan", "--format", "json"]).await;
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            doc["repositories"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|f| f["change"] == "unchanged")),
            "not up to date"
        );
        requests = gh.counted_requests() - before;
        times.push(t);
    }
    println!(
        "plan, all up to date ({RUNS} runs): {}; {requests} GitHub requests ({:.2} per repository, owner listing included)",
        stats(times),
        requests as f64 / REPOS as f64
    );
}
