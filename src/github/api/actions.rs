//! GitHub Actions: workflows, runs, jobs, and the writes commands make on them.

use serde_json::{Map, Value, json};

use super::{Repo, Write};

/// `GET /repos/{owner}/{repo}/actions/workflows`, up to 100.
pub fn workflows(repo: Repo<'_>) -> String {
    repo.path("actions/workflows?per_page=100")
}

/// `GET /repos/{owner}/{repo}/actions/runs`, newest first; `page` counts from 1.
pub fn runs(repo: Repo<'_>, per_page: u32, page: Option<u32>) -> String {
    match page {
        Some(page) => repo.path(&format!("actions/runs?per_page={per_page}&page={page}")),
        None => repo.path(&format!("actions/runs?per_page={per_page}")),
    }
}

/// `GET /repos/{owner}/{repo}/actions/runs?head_sha=SHA`, up to 100: the runs a commit
/// triggered (a rollout's wave gate).
pub fn runs_of_commit(repo: Repo<'_>, sha: &str) -> String {
    repo.path(&format!("actions/runs?per_page=100&head_sha={sha}"))
}

/// `GET /repos/{owner}/{repo}/actions/runs?created=>=DATE`, 100 a page: the history import.
pub fn runs_created_since(repo: Repo<'_>, since: chrono::NaiveDate) -> String {
    repo.path(&format!(
        "actions/runs?per_page=100&created=%3E%3D{}",
        since.format("%Y-%m-%d")
    ))
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`.
pub fn run(repo: Repo<'_>, run_id: u64) -> String {
    repo.path(&format!("actions/runs/{run_id}"))
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs`, up to 100.
pub fn attempt_jobs(repo: Repo<'_>, run_id: u64, attempt: u32) -> String {
    repo.path(&format!(
        "actions/runs/{run_id}/attempts/{attempt}/jobs?per_page=100"
    ))
}

/// `GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations`: a job's check run has
/// the job's id (its `check_run_url` ends in it). The first page of 50 holds the runner's
/// messages, which come first.
pub fn check_run_annotations(repo: Repo<'_>, job_id: u64) -> String {
    repo.path(&format!("check-runs/{job_id}/annotations?per_page=50"))
}

/// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun`: the whole run again.
pub fn rerun(repo: Repo<'_>, run_id: u64) -> Write {
    Write::post(
        repo.path(&format!("actions/runs/{run_id}/rerun")),
        json!({}),
    )
}

/// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs`: failed jobs and
/// the jobs that depend on them.
pub fn rerun_failed_jobs(repo: Repo<'_>, run_id: u64) -> Write {
    Write::post(
        repo.path(&format!("actions/runs/{run_id}/rerun-failed-jobs")),
        json!({}),
    )
}

/// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel`.
pub fn cancel(repo: Repo<'_>, run_id: u64) -> Write {
    Write::post(
        repo.path(&format!("actions/runs/{run_id}/cancel")),
        json!({}),
    )
}

/// `POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches`, asking for the new
/// run's id and URL in the answer (`return_run_details`).
pub fn dispatch(
    repo: Repo<'_>,
    workflow: &str,
    git_ref: &str,
    inputs: Map<String, Value>,
) -> Write {
    Write::post(
        repo.path(&format!("actions/workflows/{workflow}/dispatches")),
        json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_githubs() {
        let r = Repo::new("o", "r");
        assert_eq!(runs(r, 30, None), "repos/o/r/actions/runs?per_page=30");
        assert_eq!(
            runs(r, 30, Some(2)),
            "repos/o/r/actions/runs?per_page=30&page=2"
        );
        assert_eq!(
            attempt_jobs(r, 7, 2),
            "repos/o/r/actions/runs/7/attempts/2/jobs?per_page=100"
        );
        assert_eq!(
            rerun_failed_jobs(r, 7).path(),
            "repos/o/r/actions/runs/7/rerun-failed-jobs"
        );
        let d = dispatch(r, "deploy.yml", "main", Map::new());
        assert_eq!(
            d.path(),
            "repos/o/r/actions/workflows/deploy.yml/dispatches"
        );
        assert_eq!(d.body["ref"], "main");
        assert_eq!(d.method, reqwest::Method::POST);
    }
}
