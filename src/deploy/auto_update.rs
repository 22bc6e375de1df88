//! The auto-update policy (`templates.auto_update`): when the library offers a newer version
//! of a template a repository has installed, the daemon deploys it by itself, wave by wave,
//! with the same gate and rollback as `gitops-bridge templates deploy`.
//!
//! Every write is a `deploy_template` or `rollback_template` command with source `policy`,
//! submitted to the one executor: the repository's `allow:` decides, and each is deduped,
//! paced, audited and answered on `<base>/cmd/result` like a button press. Templates never
//! deployed are left to a human (the first install is a decision), and so are drifted
//! ones. A rollout that fails stops auto-updates of this library until the daemon restarts
//! with another one: the same failure is not retried every few minutes.

use std::time::Duration;

use super::status::{TemplateReport, TemplateState};
use super::targets::TemplateSettings;
use super::waves::{self, Gate};
use crate::commands::{Action, Command, CommandHandle, CommandResult, CommandSource, Params};
use crate::github::GitHubClient;
use crate::state::RepoView;

/// One repository's template with a newer version to apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub owner: String,
    pub name: String,
    pub template: String,
    /// The version it brings.
    pub version: String,
}

/// What the policy may apply in `view`: installed templates with a newer version, none of
/// their files drifted, in a repository whose `allow:` has `deploy_template`.
pub fn candidates(view: &RepoView, report: &TemplateReport) -> Vec<Candidate> {
    if !view.available
        || view.repo.archived
        || !view.policy.allow.contains(&Action::DeployTemplate)
        || report.error.is_some()
    {
        return Vec::new();
    }
    report
        .templates
        .iter()
        .filter(|t| t.state() == TemplateState::UpdateAvailable)
        .map(|t| Candidate {
            owner: view.repo.owner.clone(),
            name: view.repo.name.clone(),
            template: t.id.clone(),
            version: t.latest.clone().unwrap_or_default(),
        })
        .collect()
}

/// How a rollout ended.
#[derive(Debug)]
pub enum Rollout {
    Done,
    /// A wave failed (and was rolled back); `reason` says where.
    Failed {
        reason: String,
    },
}

/// Applies `candidates` wave by wave (`templates.waves`); between waves, the gate checks the
/// runs of every commit the wave made, polling every `every`.
pub async fn rollout(
    commands: &CommandHandle,
    gh: &GitHubClient,
    templates: &TemplateSettings,
    candidates: Vec<Candidate>,
    every: Duration,
) -> Rollout {
    let mut repos: Vec<super::remote::TargetRepo> = Vec::new();
    for c in &candidates {
        if !repos.iter().any(|r| r.owner == c.owner && r.name == c.name) {
            repos.push(super::remote::TargetRepo {
                owner: c.owner.clone(),
                name: c.name.clone(),
                meta: None,
            });
        }
    }
    let plan = waves::group(repos, &templates.waves);
    let last = plan.len();
    for (i, (wave, members)) in plan.into_iter().enumerate() {
        tracing::info!(
            "auto-update: wave {wave} ({})",
            members
                .iter()
                .map(|r| r.full_name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut results: Vec<CommandResult> = Vec::new();
        for r in &members {
            for c in candidates
                .iter()
                .filter(|c| c.owner == r.owner && c.name == r.name)
            {
                let result = commands
                    .execute(command(c, Action::DeployTemplate, Some(&c.template)))
                    .await;
                results.push(result);
            }
        }
        // The last wave is gated too: its failure still stops later auto-updates.
        let verdict = waves::gate_wave(gh, &results, templates.wave_timeout, every).await;
        match verdict {
            Gate::Passed(m) => tracing::info!("auto-update: wave {wave} passed: {m}"),
            Gate::Failed(reason) => {
                tracing::warn!("auto-update: wave {wave} failed ({reason}); rolling it back");
                for r in results.iter().filter(|r| r.ok && r.commit.is_some()) {
                    let Some((owner, name)) = r.repo.split_once('/') else {
                        continue;
                    };
                    let c = Candidate {
                        owner: owner.into(),
                        name: name.into(),
                        template: String::new(),
                        version: String::new(),
                    };
                    let undo = commands
                        .execute(command(&c, Action::RollbackTemplate, None))
                        .await;
                    if !undo.ok {
                        tracing::error!(
                            "auto-update: rolling back {}: {}",
                            undo.repo,
                            undo.message
                        );
                    }
                }
                let rest = if i + 1 < last {
                    "; later waves not started"
                } else {
                    ""
                };
                return Rollout::Failed {
                    reason: format!("wave {wave}: {reason}{rest}"),
                };
            }
        }
    }
    Rollout::Done
}

fn command(c: &Candidate, action: Action, template: Option<&str>) -> Command {
    Command {
        source: CommandSource::Policy,
        owner: c.owner.clone(),
        name: c.name.clone(),
        action,
        params: Params {
            template: template.map(str::to_string),
            ..Params::default()
        },
    }
}
