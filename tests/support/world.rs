//! Fake-GitHub worlds the tests share: the `octo/api` repository most tests start from.

use chrono::Utc;
use fake_github::{Annotation, FakeGitHub, Job, Repo, Run, Step, Workflow};

/// `octo/api` (GitHub id `id`) with its `CI` workflow (id 10) and three completed runs,
/// 1001–1003, started 30, 20 and 10 hours ago, 4, 5 and 6 minutes long, ending as
/// `conclusions` says.
pub fn octo_api(id: u64, conclusions: [&str; 3]) -> Repo {
    let now = Utc::now();
    let mut repo =
        Repo::new(id, "octo", "api").workflow(Workflow::new(10, "CI", ".github/workflows/ci.yml"));
    for (i, conclusion) in conclusions.into_iter().enumerate() {
        let i = i as i64;
        repo = repo.run(Run::completed(
            1001 + i as u64,
            10,
            "CI",
            conclusion,
            now - chrono::Duration::hours(30 - 10 * i),
            chrono::Duration::minutes(4 + i),
        ));
    }
    repo
}

/// `octo/api` as [`octo_api`] gives it, but its last run (1003) still running its `build`
/// and `test` jobs: what [`fail_run`] then finishes.
pub fn octo_api_running(id: u64) -> Repo {
    let mut repo = octo_api(id, ["success", "success", "success"]);
    let running = repo.runs.last_mut().unwrap();
    running.status = "in_progress".into();
    running.conclusion = None;
    let running = running.clone();
    let first_job = running.id * 10;
    repo.job(Job::for_run(first_job, &running, "build"))
        .job(Job::for_run(first_job + 1, &running, "test"))
}

/// Finishes the latest attempt of `run_id` of `repo` as failed: its `test` job fails in
/// `step`, every other job passes (each after a passing `Set up job`).
pub fn fail_run(gh: &FakeGitHub, repo: &str, run_id: u64, step: &str) {
    gh.with_world(|w| {
        let repo: &mut Repo = w.repo_mut(repo).unwrap();
        let now = Utc::now();
        let attempt = {
            let run = repo.latest_run_mut(run_id).unwrap();
            run.status = "completed".into();
            run.conclusion = Some("failure".into());
            run.updated_at = now;
            run.attempt
        };
        for job in repo
            .jobs
            .iter_mut()
            .filter(|j| j.run_id == run_id && j.attempt == attempt)
        {
            let failed = job.name == "test";
            let outcome = if failed { "failure" } else { "success" };
            job.status = "completed".into();
            job.conclusion = Some(outcome.into());
            job.completed_at = Some(now);
            job.steps = vec![
                Step::new(
                    "Set up job",
                    "completed",
                    Some("success"),
                    Some(now),
                    Some(now),
                ),
                Step::new(step, "completed", Some(outcome), Some(now), Some(now)),
            ];
        }
    });
}

/// Gives job `job` of `run_id`'s latest attempt a check-run annotation (say, the runner's
/// own message) before the run fails.
pub fn annotate_job(gh: &FakeGitHub, repo: &str, run_id: u64, job: &str, annotation: Annotation) {
    gh.with_world(|w| {
        let repo: &mut Repo = w.repo_mut(repo).unwrap();
        let attempt = repo.latest_run_mut(run_id).unwrap().attempt;
        repo.jobs
            .iter_mut()
            .find(|j| j.run_id == run_id && j.attempt == attempt && j.name == job)
            .unwrap()
            .annotations
            .push(annotation);
    });
}

/// How many times `rerun-failed-jobs` of `run_id` reached the fake GitHub.
pub fn reruns_of(gh: &FakeGitHub, run_id: u64) -> usize {
    let path = format!("/actions/runs/{run_id}/rerun-failed-jobs");
    gh.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&path))
        .count()
}

/// Finishes the latest attempt of `run_id` of `repo` with `conclusion` (its jobs as they are).
pub fn finish_run(gh: &FakeGitHub, repo: &str, run_id: u64, conclusion: &str) {
    gh.with_world(|w| {
        let run = w.repo_mut(repo).unwrap().latest_run_mut(run_id).unwrap();
        run.status = "completed".into();
        run.conclusion = Some(conclusion.into());
        run.updated_at = Utc::now();
    });
}

/// Polls `done` every 100 ms; fails the test naming `what` when it is not true within `wait`.
pub async fn wait_until(what: &str, wait: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + wait;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {wait:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
