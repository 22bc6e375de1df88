//! One deployment of the configuration, as stored, published and answered: what was
//! deployed, why, what changed, what HA had to do, and how it ended.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::impact::Impact;

/// Where a deployment is. The first four are stages (a record left in one of them was
/// interrupted); the rest are outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Applying,
    Reloading,
    RollingBack,
    /// Applied and healthy.
    Succeeded,
    /// A gate said no before anything changed; HA's files are as they were.
    Refused,
    /// Applied, found unhealthy, and the files before it put back.
    RolledBack,
    /// Something outside the configuration failed (git, HA unreachable); files as before.
    Failed,
    /// The daemon stopped part-way; the files before it were put back at the next start.
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Applying => "applying",
            Status::Reloading => "reloading",
            Status::RollingBack => "rolling_back",
            Status::Succeeded => "succeeded",
            Status::Refused => "refused",
            Status::RolledBack => "rolled_back",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }

    pub fn is_finished(self) -> bool {
        !matches!(
            self,
            Status::Pending | Status::Applying | Status::Reloading | Status::RollingBack
        )
    }

    /// GitHub's deployment status state for it.
    pub fn github_state(self) -> &'static str {
        match self {
            Status::Pending => "queued",
            Status::Applying | Status::Reloading | Status::RollingBack => "in_progress",
            Status::Succeeded => "success",
            Status::Refused | Status::RolledBack | Status::Interrupted => "failure",
            Status::Failed => "error",
        }
    }
}

/// What started a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Trigger {
    /// A push to the branch (webhook).
    Push,
    /// The safety-net fetch found a new head.
    Poll,
    /// A GitHub deployment created for the environment.
    GitHubDeployment { id: u64 },
    /// The `deploy_config` command (HA's *Install*, MQTT, the API): who asked.
    Command { source: String },
    /// The command line.
    Cli,
}

impl Trigger {
    /// Whether it is automatic (paused by the switches) rather than asked for.
    pub fn is_automatic(&self) -> bool {
        matches!(
            self,
            Trigger::Push | Trigger::Poll | Trigger::GitHubDeployment { .. }
        )
    }

    pub fn label(&self) -> String {
        match self {
            Trigger::Push => "push".into(),
            Trigger::Poll => "poll".into(),
            Trigger::GitHubDeployment { id } => format!("github deployment {id}"),
            Trigger::Command { source } => format!("command ({source})"),
            Trigger::Cli => "command line".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigDeployment {
    pub id: i64,
    /// The commit deployed (empty until it is known).
    pub commit: String,
    /// The commit deployed before, whose files are put back on rollback.
    pub previous: Option<String>,
    pub trigger: Trigger,
    pub status: Status,
    /// What happened, for people: the reason of a refusal or rollback.
    pub message: String,
    /// The files written or deleted.
    #[serde(default)]
    pub files: Vec<String>,
    /// What HA had to do (reload which integrations, or restart and why).
    pub impact: Option<Impact>,
    /// Subjects of the commits this deployment brings, newest first.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Findings of the gates that refused it.
    #[serde(default)]
    pub findings: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The backup of the files replaced, while it may be needed.
    pub backup: Option<PathBuf>,
    /// The GitHub deployment that records it.
    pub github_deployment: Option<u64>,
}

impl ConfigDeployment {
    pub fn new(trigger: Trigger) -> ConfigDeployment {
        ConfigDeployment {
            id: 0,
            commit: String::new(),
            previous: None,
            trigger,
            status: Status::Pending,
            message: String::new(),
            files: Vec::new(),
            impact: None,
            subjects: Vec::new(),
            findings: Vec::new(),
            started_at: Utc::now(),
            finished_at: None,
            backup: None,
            github_deployment: None,
        }
    }

    pub fn short_commit(&self) -> &str {
        self.commit.get(..7).unwrap_or(&self.commit)
    }

    /// How long it took, once finished.
    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at
            .map(|f| (f - self.started_at).num_milliseconds())
    }
}
