//! Our own serde models of GitHub's JSON, tolerant where GitHub is loose.
//!
//! octocrab's models reject GitHub's own REST job example (no `run_attempt`) and lack
//! `run_attempt`/`run_started_at` on runs (docs/github.md §3.3), so we model only the fields
//! we use, every optional one as `Option`, status and conclusion as open strings.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::model::{Conclusion, Job, Repository, Run, Status, Workflow};

#[derive(Debug, Clone, Deserialize)]
pub struct ApiOwner {
    pub login: String,
    #[serde(default)]
    pub id: u64,
    /// `User` or `Organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiRepository {
    pub id: u64,
    pub name: String,
    pub owner: ApiOwner,
    #[serde(default)]
    pub default_branch: Option<String>,
    pub html_url: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub fork: bool,
}

impl ApiRepository {
    pub fn into_model(self) -> Repository {
        Repository {
            id: self.id,
            owner: self.owner.login,
            name: self.name,
            default_branch: self.default_branch.unwrap_or_default(),
            html_url: self.html_url,
            private: self.private,
            archived: self.archived,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiWorkflowList {
    #[serde(default)]
    pub total_count: u64,
    pub workflows: Vec<ApiWorkflow>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiWorkflow {
    pub id: u64,
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub state: Option<String>,
}

impl ApiWorkflow {
    pub fn into_model(self, repo_id: u64) -> Workflow {
        Workflow {
            id: self.id,
            repo_id,
            name: self.name,
            path: self.path,
            state: self.state.unwrap_or_else(|| "active".into()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiRunList {
    #[serde(default)]
    pub total_count: u64,
    pub workflow_runs: Vec<ApiRun>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiUserRef {
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiRepoRef {
    pub id: u64,
}

/// A workflow run as the REST API and `workflow_run` webhooks send it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub head_sha: String,
    /// `.github/workflows/build.yml@main`
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub run_number: u64,
    /// Absent in some older payloads: the first attempt.
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    pub workflow_id: u64,
    #[serde(default)]
    pub html_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub run_started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub display_title: Option<String>,
    #[serde(default)]
    pub actor: Option<ApiUserRef>,
    #[serde(default)]
    pub repository: Option<ApiRepoRef>,
}

impl ApiRun {
    /// Converts to the domain type; `repo_id` is used when the payload lacks `repository`.
    pub fn into_model(self, repo_id: u64) -> Run {
        let workflow_path = self
            .path
            .as_deref()
            .map(|p| p.split('@').next().unwrap_or(p).to_string())
            .filter(|p| !p.is_empty());
        // GitHub sometimes sends an empty name; the workflow file is the next best label.
        let workflow_name = self
            .name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                workflow_path
                    .as_deref()
                    .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
            })
            .unwrap_or_else(|| format!("workflow {}", self.workflow_id));
        Run {
            id: self.id,
            attempt: self.run_attempt.unwrap_or(1).max(1),
            repo_id: self.repository.map_or(repo_id, |r| r.id),
            workflow_id: self.workflow_id,
            workflow_name,
            workflow_path,
            head_branch: self.head_branch.filter(|b| !b.is_empty()),
            head_sha: self.head_sha,
            event: self.event,
            status: Status::parse(self.status.as_deref().unwrap_or("unknown")),
            conclusion: self.conclusion.as_deref().map(Conclusion::parse),
            run_number: self.run_number,
            display_title: self.display_title,
            actor: self.actor.map(|a| a.login),
            html_url: self.html_url,
            created_at: self.created_at,
            run_started_at: self.run_started_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiJobList {
    #[serde(default)]
    pub total_count: u64,
    pub jobs: Vec<ApiJob>,
}

/// A job as the REST API and `workflow_job` webhooks send it. The REST examples lack
/// `run_attempt`; the caller supplies the attempt it asked for.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiJob {
    pub id: u64,
    pub run_id: u64,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub runner_name: Option<String>,
    #[serde(default)]
    pub steps: Vec<ApiStep>,
}

/// One step of a job; only what classifying a failure needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiStep {
    pub name: String,
    #[serde(default)]
    pub conclusion: Option<String>,
}

impl ApiJob {
    pub fn into_model(self, attempt: Option<u32>) -> Job {
        Job {
            id: self.id,
            run_id: self.run_id,
            attempt: self.run_attempt.or(attempt).unwrap_or(1),
            name: self.name,
            status: Status::parse(self.status.as_deref().unwrap_or("unknown")),
            conclusion: self.conclusion.as_deref().map(Conclusion::parse),
            started_at: self.started_at,
            completed_at: self.completed_at,
            html_url: self.html_url,
            runner_name: self.runner_name,
            failed_step: self
                .steps
                .into_iter()
                .find(|s| {
                    matches!(
                        s.conclusion.as_deref(),
                        Some("failure" | "timed_out" | "cancelled" | "startup_failure")
                    )
                })
                .map(|s| s.name),
            runner_message: None,
        }
    }
}

/// One check-run annotation; only what finding the runner's own messages needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiAnnotation {
    #[serde(default)]
    pub annotation_level: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// GitHub's error body (`basic-error`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/github");

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{path}")).unwrap()
    }

    #[test]
    fn rest_run_list_fixture_parses() {
        let list: ApiRunList =
            serde_json::from_str(&fixture("rest/list-workflow-runs.json")).unwrap();
        let run = list.workflow_runs[0].clone().into_model(0);
        assert_eq!(run.id, 30433642);
        assert_eq!(run.repo_id, 1296269);
        assert_eq!(run.attempt, 1);
        assert_eq!(
            run.workflow_path.as_deref(),
            Some(".github/workflows/build.yml")
        );
        assert_eq!(run.status, Status::Queued);
        assert_eq!(run.conclusion, None);
        assert!(run.run_started_at.is_some());
    }

    #[test]
    fn webhook_run_with_empty_name_falls_back_to_the_file() {
        let payload: serde_json::Value =
            serde_json::from_str(&fixture("webhooks/workflow_run.completed.json")).unwrap();
        let api: ApiRun = serde_json::from_value(payload["workflow_run"].clone()).unwrap();
        let run = api.into_model(0);
        assert!(!run.workflow_name.is_empty());
        assert!(run.is_completed());
    }

    #[test]
    fn rest_job_example_without_run_attempt_parses() {
        let list: ApiJobList =
            serde_json::from_str(&fixture("rest/list-jobs-for-workflow-run.json")).unwrap();
        let job = list.jobs[0].clone().into_model(Some(3));
        assert_eq!(job.attempt, 3);
        assert!(job.completed_at.is_some());
    }

    #[test]
    fn workflows_with_offset_timestamps_parse() {
        let list: ApiWorkflowList =
            serde_json::from_str(&fixture("rest/list-repo-workflows.json")).unwrap();
        assert_eq!(list.workflows.len(), 2);
        assert_eq!(list.workflows[0].clone().into_model(1).state, "active");
    }
}

// -- the Git Data API and pull requests (template deployment) -----------------------------

/// `GET …/git/trees/{rev}?recursive=1`, `POST …/git/trees`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiTree {
    pub sha: String,
    #[serde(default)]
    pub tree: Vec<ApiTreeEntry>,
    /// GitHub stops listing at 100,000 entries or 7 MB and says so here.
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiTreeEntry {
    pub path: String,
    /// `blob`, `tree` or `commit` (a submodule).
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
}

/// `GET …/git/blobs/{sha}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiBlob {
    pub content: String,
    /// `base64` (always, for this endpoint's JSON form) or `utf-8`.
    pub encoding: String,
}

/// `GET …/git/ref/heads/{branch}`, `PATCH …/git/refs/…`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiRef {
    pub object: ApiObject,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiObject {
    pub sha: String,
}

/// `GET …/git/commits/{sha}`, `POST …/git/commits`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiGitCommit {
    pub sha: String,
    #[serde(default)]
    pub html_url: Option<String>,
    pub tree: ApiObject,
    #[serde(default)]
    pub parents: Vec<ApiObject>,
}

/// A pull request (`GET …/pulls`, `POST …/pulls`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiPull {
    pub number: u64,
    pub html_url: String,
}

/// One rule of `GET …/rules/branches/{branch}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiBranchRule {
    #[serde(rename = "type")]
    pub kind: String,
}
