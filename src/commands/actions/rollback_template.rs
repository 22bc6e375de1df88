//! `rollback_template`: restores every file our last template deploy touched, and the lock,
//! to the exact bytes of the commit that deploy was made on (`previous_commit` in the
//! lock), reusing those blobs. Refuses, unless `force`, when a file was edited since.

use std::collections::BTreeSet;

use super::template_commit::{self, PublishError};
use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::deploy::DeployMode;
use crate::deploy::lock::LOCK_PATH;
use crate::deploy::plan;
use crate::github::api::Repo;
use crate::github::api::git::TreeChange;
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::RollbackTemplate,
    name: "rollback_template",
    label: "Roll back workflow templates",
    button_key: "rollback_templates",
    icon: "mdi:file-undo",
    symbol: "⇩",
    hint: "Restores the workflow files from before the last template deploy",
    confirm: Some("Restore the workflow files from before the last template deploy?"),
    per_workflow: false,
    requires: None,
};

pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    let (branch, mode) = match x
        .templates()
        .map(|s| s.assignment(&c.owner, &c.name))
        .transpose()
        .map_err(Failure::Refused)?
        .flatten()
    {
        Some(a) => (
            a.branch.unwrap_or_else(|| view.repo.default_branch.clone()),
            a.mode,
        ),
        None => (view.repo.default_branch.clone(), DeployMode::Auto),
    };
    if view.repo.archived {
        return Err(Failure::Refused(format!(
            "{} is archived; GitHub accepts no commits to it",
            view.repo.full_name()
        )));
    }
    let mode = template_commit::resolve_mode(x, view, &branch, mode).await?;
    let force = c.params.force.unwrap_or(false);
    let repo = Repo::from(&view.repo);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let head = template_commit::branch_head(x, view, &branch).await?;
        let now = plan::read_target(x.reader(), repo, &head)
            .await
            .map_err(Failure::GitHub)?;
        let Some(lock) = &now.lock else {
            return Err(Failure::Refused(format!(
                "{branch} has no {LOCK_PATH}: no template deploy to roll back"
            )));
        };
        let Some(previous) = lock.previous_commit.clone() else {
            return Err(Failure::Refused(format!(
                "{LOCK_PATH} does not say which commit the last deploy was made on"
            )));
        };
        let before = plan::read_target(x.reader(), repo, &previous)
            .await
            .map_err(Failure::GitHub)?;
        // Every file the current lock or the earlier one names.
        let mut paths: BTreeSet<String> = BTreeSet::new();
        for l in [Some(lock), before.lock.as_ref()].into_iter().flatten() {
            for t in l.templates.values() {
                paths.extend(t.files.keys().cloned());
            }
        }
        let edited: Vec<&str> = paths
            .iter()
            .filter(|p| {
                let ours = lock.owner_of(p).map(|(_, sha)| sha);
                now.files.get(*p).map(String::as_str) != ours && ours.is_some()
            })
            .map(String::as_str)
            .collect();
        if !edited.is_empty() && !force {
            return Err(Failure::Refused(format!(
                "not rolled back: edited since our last deploy ({}); roll back with force to discard those edits",
                edited.join(", ")
            )));
        }
        paths.insert(LOCK_PATH.to_string());
        let changes: Vec<(String, TreeChange)> = paths
            .iter()
            .filter_map(|p| match (before.files.get(p), now.files.get(p)) {
                (Some(old), Some(cur)) if old == cur => None,
                (Some(old), _) => Some((p.clone(), TreeChange::Blob(old.clone()))),
                (None, Some(_)) => Some((p.clone(), TreeChange::Delete)),
                (None, None) => None,
            })
            .collect();
        if changes.is_empty() {
            return Ok(c.answer(
                true,
                format!("{branch} already matches {}", short(&previous)),
                None,
                None,
            ));
        }
        let versions: Vec<String> = before
            .lock
            .as_ref()
            .map(|l| {
                l.templates
                    .iter()
                    .map(|(id, t)| format!("{id} {}", t.version))
                    .collect()
            })
            .unwrap_or_default();
        let to = if versions.is_empty() {
            "no templates".to_string()
        } else {
            versions.join(", ")
        };
        let message = format!(
            "gitops-bridge: roll back workflow templates to {} ({to})\n\nRestores {} file{} as they were at {previous}.",
            short(&previous),
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        );
        let body = format!(
            "Rolls the workflow templates back to {to}: every file the last deploy wrote is restored byte for byte from {previous}.\n"
        );
        match template_commit::publish(
            x, view, &branch, mode, &head, &now.tree, &changes, &message, &body,
        )
        .await
        {
            Ok(p) => {
                x.templates_written(view.repo.id);
                let text = match p.pull {
                    Some(n) => format!("pull request #{n} rolls {branch} back to {to}"),
                    None => format!(
                        "rolled {branch} back to {to} ({} file{}, commit {})",
                        changes.len(),
                        if changes.len() == 1 { "" } else { "s" },
                        short(&p.commit)
                    ),
                };
                return Ok(c
                    .answer(true, text, None, Some(p.url))
                    .with_commit(p.commit));
            }
            Err(PublishError::Moved) if attempt < 2 => continue,
            Err(PublishError::Moved) => {
                return Err(Failure::Refused(format!(
                    "{branch} kept moving while we rolled back (twice); nothing was changed, try again"
                )));
            }
            Err(PublishError::Failed(f)) => return Err(f),
        }
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
