//! `deploy_template`: brings the repository's workflow templates (all of them, or the one
//! named in `template`) to the library's versions, in one atomic commit or pull request.
//!
//! Refuses, writing nothing, when a file was edited by hand since our deploy (unless
//! `force`), when the repository is archived, or when no `templates:` target names it. A
//! branch that moves while we write is re-read and the deploy planned again, once.

use super::template_commit::{self, PublishError};
use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::deploy::plan::{self, Change};
use crate::github::api::Repo;
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::DeployTemplate,
    name: "deploy_template",
    label: "Deploy workflow templates",
    button_key: "deploy_templates",
    icon: "mdi:file-sync",
    symbol: "⇪",
    hint: "Brings the workflow templates to the library's versions",
    confirm: Some("Deploy the workflow templates to this repository?"),
    per_workflow: false,
    requires: None,
};

pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    let settings = x.templates().cloned().ok_or_else(|| {
        Failure::Refused(
            "no workflow templates are set up: add `templates.targets` to the settings".into(),
        )
    })?;
    let assignment = settings
        .assignment(&c.owner, &c.name)
        .map_err(Failure::Refused)?
        .ok_or_else(|| {
            Failure::Refused(format!(
                "no `templates.targets` entry names {}",
                view.repo.full_name()
            ))
        })?;
    let only = c.params.template.as_deref();
    if let Some(id) = only
        && !assignment.templates.iter().any(|(t, _)| t.id == id)
        && settings.library.get(id).is_none()
    {
        return Err(Failure::Refused(format!(
            "no template `{id}`; the library has: {}",
            settings.library.ids()
        )));
    }
    if view.repo.archived {
        return Err(Failure::Refused(format!(
            "{} is archived; GitHub accepts no commits to it",
            view.repo.full_name()
        )));
    }
    let branch = assignment
        .branch
        .clone()
        .unwrap_or_else(|| view.repo.default_branch.clone());
    let mode = template_commit::resolve_mode(x, view, &branch, assignment.mode).await?;
    let force = c.params.force.unwrap_or(false);
    let repo = Repo::from(&view.repo);

    let mut attempt = 0;
    loop {
        attempt += 1;
        let head = template_commit::branch_head(x, view, &branch).await?;
        let state = plan::read_target(x.reader(), repo, &head)
            .await
            .map_err(Failure::GitHub)?;
        let plan = plan::plan(&state, &assignment.templates, only);
        let drifted = plan.drifted();
        if !drifted.is_empty() && !force {
            let paths: Vec<&str> = drifted.iter().map(|f| f.path.as_str()).collect();
            return Err(Failure::Refused(format!(
                "not deployed: {} edited since our last deploy ({}); see `gitops-bridge templates plan`, then deploy with force to overwrite",
                if paths.len() == 1 {
                    "a file was"
                } else {
                    "files were"
                },
                paths.join(", ")
            )));
        }
        if !plan.has_changes() {
            return Ok(c.answer(
                true,
                format!(
                    "{} is up to date ({}); nothing committed",
                    branch,
                    plan.summary()
                ),
                None,
                None,
            ));
        }
        let written = plan
            .files
            .iter()
            .filter(|f| f.change != Change::Unchanged)
            .count();
        let summary = plan.summary();
        let message = format!(
            "gitops-bridge: deploy workflow templates ({summary})\n\n{}",
            trailers(&plan)
        );
        let body = pr_body(&plan, &settings.library.origin);
        let changes = plan.tree_changes(&head, &settings.library.digest);
        match template_commit::publish(
            x,
            view,
            &branch,
            mode,
            &head,
            &state.tree,
            &changes,
            &message,
            &body,
        )
        .await
        {
            Ok(p) => {
                x.templates_written(view.repo.id);
                let text = match p.pull {
                    Some(n) if p.already_proposed => {
                        format!("pull request #{n} already proposes {summary}; nothing new written")
                    }
                    Some(n) => format!(
                        "pull request #{n} into {branch}: {summary} ({written} file{})",
                        plural(written)
                    ),
                    None => format!(
                        "committed {} to {branch}: {summary} ({written} file{})",
                        &p.commit[..p.commit.len().min(7)],
                        plural(written)
                    ),
                };
                let result = c.answer(true, text, None, Some(p.url));
                return Ok(if p.already_proposed {
                    result
                } else {
                    result.with_commit(p.commit)
                });
            }
            Err(PublishError::Moved) if attempt < 2 => {
                tracing::info!(
                    "{}: {branch} moved while deploying; planning again",
                    c.repo()
                );
            }
            Err(PublishError::Moved) => {
                return Err(Failure::Refused(format!(
                    "{branch} kept moving while we deployed (twice); nothing was changed, try again"
                )));
            }
            Err(PublishError::Failed(f)) => return Err(f),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `Template-Id: id@version` per template, git trailers that `git log` can filter on.
fn trailers(plan: &plan::RepoPlan) -> String {
    plan.templates
        .iter()
        .filter_map(|t| {
            t.target
                .as_ref()
                .map(|v| format!("Template-Id: {}@{v}", t.id))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn pr_body(plan: &plan::RepoPlan, origin: &str) -> String {
    let mut s = format!(
        "Workflow templates from the gitops-bridge library ({origin}).\n\n| Template | Installed | New |\n|---|---|---|\n"
    );
    for t in &plan.templates {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            t.id,
            t.installed.as_deref().unwrap_or("—"),
            t.target.as_deref().unwrap_or("removed")
        ));
    }
    s.push_str("\n| File | Change |\n|---|---|\n");
    for f in plan.files.iter().filter(|f| f.change != Change::Unchanged) {
        s.push_str(&format!("| `{}` | {} |\n", f.path, f.change.as_str()));
    }
    s.push_str("\nThe next deploy updates this pull request instead of opening another.\n");
    s
}
