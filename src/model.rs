//! Domain types shared by every part: repositories, workflows, runs, jobs, and the events
//! sources hand to `state`.
//!
//! GitHub's run `status` and `conclusion` are open sets (new values appear over time, e.g.
//! `startup_failure`), so both enums keep an `Unknown` arm instead of failing to parse.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A watched repository, identified by GitHub's numeric id (stable across renames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub html_url: String,
    pub private: bool,
    pub archived: bool,
}

impl Repository {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Whether this is `owner/name`. GitHub compares owner and repository names without
    /// regard to ASCII case, so every lookup by name goes through here.
    pub fn is(&self, owner: &str, name: &str) -> bool {
        self.owner.eq_ignore_ascii_case(owner) && self.name.eq_ignore_ascii_case(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: u64,
    pub repo_id: u64,
    pub name: String,
    /// `.github/workflows/ci.yml`
    pub path: String,
    /// `active`, `disabled_manually`, `disabled_inactivity`, …
    pub state: String,
}

impl Workflow {
    /// The file name (`ci.yml`), which is what settings and dispatch use.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A run's lifecycle status. Open set: unknown values are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Requested,
    Queued,
    Pending,
    Waiting,
    InProgress,
    Completed,
    Unknown(String),
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s {
            "requested" => Status::Requested,
            "queued" => Status::Queued,
            "pending" => Status::Pending,
            "waiting" => Status::Waiting,
            "in_progress" => Status::InProgress,
            "completed" => Status::Completed,
            other => Status::Unknown(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Status::Requested => "requested",
            Status::Queued => "queued",
            Status::Pending => "pending",
            Status::Waiting => "waiting",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Unknown(s) => s,
        }
    }
}

/// How a completed run ended. Open set, like [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
    Neutral,
    Stale,
    StartupFailure,
    Unknown(String),
}

/// What a conclusion means for health: did the code pass, fail, or say nothing?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Cancelled, skipped, neutral, stale, waiting for approval, or unknown: not counted.
    Indecisive,
}

impl Conclusion {
    pub fn parse(s: &str) -> Conclusion {
        match s {
            "success" => Conclusion::Success,
            "failure" => Conclusion::Failure,
            "cancelled" => Conclusion::Cancelled,
            "skipped" => Conclusion::Skipped,
            "timed_out" => Conclusion::TimedOut,
            "action_required" => Conclusion::ActionRequired,
            "neutral" => Conclusion::Neutral,
            "stale" => Conclusion::Stale,
            "startup_failure" => Conclusion::StartupFailure,
            other => Conclusion::Unknown(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::TimedOut => "timed_out",
            Conclusion::ActionRequired => "action_required",
            Conclusion::Neutral => "neutral",
            Conclusion::Stale => "stale",
            Conclusion::StartupFailure => "startup_failure",
            Conclusion::Unknown(s) => s,
        }
    }
    pub fn outcome(&self) -> Outcome {
        match self {
            Conclusion::Success => Outcome::Pass,
            Conclusion::Failure | Conclusion::TimedOut | Conclusion::StartupFailure => {
                Outcome::Fail
            }
            _ => Outcome::Indecisive,
        }
    }
}

/// The value of the "last run status" enum sensor: the conclusion of a completed run, the
/// status of one still going, `unknown` for values GitHub added after this release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Requested,
    Queued,
    Pending,
    Waiting,
    InProgress,
    Success,
    Failure,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
    Neutral,
    Stale,
    StartupFailure,
    Unknown,
}

impl RunState {
    /// Every value, for the enum sensor's `options` (HA drops values not listed).
    pub const ALL: [RunState; 15] = [
        RunState::Requested,
        RunState::Queued,
        RunState::Pending,
        RunState::Waiting,
        RunState::InProgress,
        RunState::Success,
        RunState::Failure,
        RunState::Cancelled,
        RunState::Skipped,
        RunState::TimedOut,
        RunState::ActionRequired,
        RunState::Neutral,
        RunState::Stale,
        RunState::StartupFailure,
        RunState::Unknown,
    ];

    /// The completed states, for the event entity's `event_types`.
    pub const CONCLUSIONS: [RunState; 10] = [
        RunState::Success,
        RunState::Failure,
        RunState::Cancelled,
        RunState::Skipped,
        RunState::TimedOut,
        RunState::ActionRequired,
        RunState::Neutral,
        RunState::Stale,
        RunState::StartupFailure,
        RunState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Requested => "requested",
            RunState::Queued => "queued",
            RunState::Pending => "pending",
            RunState::Waiting => "waiting",
            RunState::InProgress => "in_progress",
            RunState::Success => "success",
            RunState::Failure => "failure",
            RunState::Cancelled => "cancelled",
            RunState::Skipped => "skipped",
            RunState::TimedOut => "timed_out",
            RunState::ActionRequired => "action_required",
            RunState::Neutral => "neutral",
            RunState::Stale => "stale",
            RunState::StartupFailure => "startup_failure",
            RunState::Unknown => "unknown",
        }
    }

    pub fn of(status: &Status, conclusion: Option<&Conclusion>) -> RunState {
        match (status, conclusion) {
            (Status::Completed, Some(c)) => match c {
                Conclusion::Success => RunState::Success,
                Conclusion::Failure => RunState::Failure,
                Conclusion::Cancelled => RunState::Cancelled,
                Conclusion::Skipped => RunState::Skipped,
                Conclusion::TimedOut => RunState::TimedOut,
                Conclusion::ActionRequired => RunState::ActionRequired,
                Conclusion::Neutral => RunState::Neutral,
                Conclusion::Stale => RunState::Stale,
                Conclusion::StartupFailure => RunState::StartupFailure,
                Conclusion::Unknown(_) => RunState::Unknown,
            },
            (Status::Completed, None) => RunState::Unknown,
            (Status::Requested, _) => RunState::Requested,
            (Status::Queued, _) => RunState::Queued,
            (Status::Pending, _) => RunState::Pending,
            (Status::Waiting, _) => RunState::Waiting,
            (Status::InProgress, _) => RunState::InProgress,
            (Status::Unknown(_), _) => RunState::Unknown,
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attempt of a workflow run. A re-run keeps the run id and bumps `attempt`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: u64,
    pub attempt: u32,
    pub repo_id: u64,
    pub workflow_id: u64,
    pub workflow_name: String,
    /// `.github/workflows/ci.yml` (without GitHub's `@ref` suffix).
    pub workflow_path: Option<String>,
    pub head_branch: Option<String>,
    pub head_sha: String,
    pub event: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub run_number: u64,
    pub display_title: Option<String>,
    pub actor: Option<String>,
    pub html_url: String,
    pub created_at: DateTime<Utc>,
    /// Resets on re-run: the start of this attempt.
    pub run_started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Run {
    pub fn state(&self) -> RunState {
        RunState::of(&self.status, self.conclusion.as_ref())
    }

    pub fn is_completed(&self) -> bool {
        self.status == Status::Completed
    }

    /// Still queued or running.
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            Status::Requested
                | Status::Queued
                | Status::Pending
                | Status::Waiting
                | Status::InProgress
        )
    }

    /// When a completed attempt finished (GitHub's `updated_at` for a completed run).
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.is_completed().then_some(self.updated_at)
    }

    /// Wall time of a completed attempt: `updated_at − run_started_at`.
    pub fn duration_secs(&self) -> Option<f64> {
        let start = self.run_started_at?;
        let end = self.finished_at()?;
        let secs = (end - start).num_milliseconds() as f64 / 1000.0;
        (secs >= 0.0).then_some(secs)
    }

    /// Time spent waiting for a runner: `run_started_at − created_at`. Only meaningful for the
    /// first attempt, because `run_started_at` resets on re-run while `created_at` does not.
    pub fn queue_secs(&self) -> Option<f64> {
        if self.attempt != 1 {
            return None;
        }
        let start = self.run_started_at?;
        let secs = (start - self.created_at).num_milliseconds() as f64 / 1000.0;
        (secs >= 0.0).then_some(secs)
    }

    pub fn outcome(&self) -> Option<Outcome> {
        if !self.is_completed() {
            return None;
        }
        Some(
            self.conclusion
                .as_ref()
                .map_or(Outcome::Indecisive, Conclusion::outcome),
        )
    }
}

/// One job of a run attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    pub attempt: u32,
    pub name: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
    pub runner_name: Option<String>,
    /// The first step that did not succeed, when the job failed: what tells a runner or
    /// network problem (`Set up job`, checkout) from a real one (the tests).
    pub failed_step: Option<String>,
    /// What the runner itself said when the machine, not the code, broke (a check-run
    /// annotation such as "The runner has received a shutdown signal"); fetched for failed
    /// jobs only (see [`crate::github::annotations`]).
    pub runner_message: Option<String>,
}

impl Job {
    /// Failed, timed out or cancelled: a job that kept its run from passing.
    pub fn failed(&self) -> bool {
        matches!(
            self.conclusion,
            Some(Conclusion::Failure | Conclusion::TimedOut | Conclusion::Cancelled)
        )
    }
}

/// GitHub's primary rate-limit budget as last reported in response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    pub reset: DateTime<Utc>,
}

/// How the GitHub side is doing, shown on the bridge device.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GitHubStatus {
    pub reachable: bool,
    /// The last problem, worded for a user (`GitHub rejected the token (401)…`); never secrets.
    pub error: Option<String>,
    pub rate_limit: Option<RateLimit>,
    pub last_poll: Option<DateTime<Utc>>,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Poll,
    Webhook,
}

/// Outside input, turned into facts for `state`.
#[derive(Debug, Clone)]
pub enum Event {
    /// The full set of watched repositories after a discovery pass.
    RepositoriesResolved(Vec<Repository>),
    /// One repository's metadata (renamed, default branch changed, …).
    RepositoryUpdated(Repository),
    /// GitHub refused to show a watched repository (deleted, renamed away, no access).
    RepositoryUnavailable {
        repo_id: u64,
        reason: String,
    },
    /// A repository answers again after being unavailable.
    RepositoryAvailable {
        repo_id: u64,
    },
    Workflows {
        repo_id: u64,
        workflows: Vec<Workflow>,
    },
    /// Runs as GitHub reports them now. `initial` marks a first import: no events fire.
    Runs {
        repo_id: u64,
        runs: Vec<Run>,
        source: Source,
        initial: bool,
    },
    Jobs {
        repo_id: u64,
        jobs: Vec<Job>,
    },
    GitHub(GitHubStatus),
    /// What a repository has installed of the workflow template library; `None` when no
    /// target names it any more.
    Templates {
        repo_id: u64,
        report: Option<std::sync::Arc<crate::deploy::status::TemplateReport>>,
    },
    /// A repository's health checks ran.
    HealthCheck {
        repo_id: u64,
        report: std::sync::Arc<crate::recovery::HealthReport>,
    },
    /// The configuration deployer's picture changed (a deployment moved on, the branch
    /// head moved); `finished` carries a deployment that just ended.
    ConfigDeploy {
        view: std::sync::Arc<crate::config_deploy::ConfigDeployView>,
        finished: Option<Box<crate::config_deploy::ConfigDeployment>>,
    },
    /// The HA configuration directory was checked (quality gates with `config_check` read
    /// it).
    ConfigChecked(crate::recovery::ConfigCheck),
    /// A coordinated deployment moved on (started a step, stopped, finished).
    Coordinated(Box<crate::recovery::CoordinationStatus>),
    /// HA turned a policy's switch on or off (through the executor).
    Switch {
        scope: crate::recovery::Scope,
        switch: crate::recovery::Switch,
        on: bool,
    },
}

/// Checks a git ref name the way `git check-ref-format` does (branch, tag, or `refs/…`).
pub fn is_valid_git_ref(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r != "@"
        && !r.starts_with('/')
        && !r.ends_with('/')
        && !r.ends_with('.')
        && !r.ends_with(".lock")
        && !r.contains("..")
        && !r.contains("//")
        && !r.contains("@{")
        && !r
            .split('/')
            .any(|c| c.starts_with('.') || c.ends_with(".lock"))
        && !r
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
}

/// Whether `name` names a workflow the way settings and commands take it: a file directly
/// under `.github/workflows/` (`ci.yml`), as GitHub's API accepts in place of a workflow id.
/// One rule for both, so a workflow allowed in settings can always be dispatched.
pub fn is_workflow_file(name: &str) -> bool {
    (name.ends_with(".yml") || name.ends_with(".yaml"))
        && name.len() <= 255
        && !name.contains('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_and_conclusion_are_kept_not_rejected() {
        assert_eq!(Status::parse("brand_new").as_str(), "brand_new");
        let c = Conclusion::parse("brand_new");
        assert_eq!(c.as_str(), "brand_new");
        assert_eq!(
            RunState::of(&Status::Completed, Some(&c)),
            RunState::Unknown
        );
        assert_eq!(RunState::of(&Status::parse("x"), None), RunState::Unknown);
    }

    #[test]
    fn outcomes_count_only_what_says_something_about_the_code() {
        assert_eq!(Conclusion::Success.outcome(), Outcome::Pass);
        for c in ["failure", "timed_out", "startup_failure"] {
            assert_eq!(Conclusion::parse(c).outcome(), Outcome::Fail, "{c}");
        }
        for c in [
            "cancelled",
            "skipped",
            "neutral",
            "stale",
            "action_required",
            "new",
        ] {
            assert_eq!(Conclusion::parse(c).outcome(), Outcome::Indecisive, "{c}");
        }
    }

    #[test]
    fn git_refs() {
        for ok in [
            "main",
            "release/1.2",
            "refs/heads/main",
            "v1.0.0",
            "feature_x-y",
        ] {
            assert!(is_valid_git_ref(ok), "{ok}");
        }
        for bad in [
            "", "a..b", "a b", "/main", "main/", "x.lock", "a@{1}", "a:b", ".hidden", "a//b", "@",
        ] {
            assert!(!is_valid_git_ref(bad), "{bad}");
        }
    }
}
