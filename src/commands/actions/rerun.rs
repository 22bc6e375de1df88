//! `rerun`: the whole run again, as a new attempt.

use chrono::Utc;

use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::github::api::{self, Repo};
use crate::model::Outcome;
use crate::state::RepoView;

/// GitHub re-runs only runs started in the last 30 days.
const RERUN_MAX_AGE_DAYS: i64 = 30;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::Rerun,
    name: "rerun",
    label: "Re-run latest run",
    button_key: "rerun_latest_run",
    icon: "mdi:restart",
    symbol: "↻",
    hint: "Re-runs the latest run",
    confirm: None,
    per_workflow: false,
    requires: None,
};

pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    rerun(x, c, view, false).await
}

/// `rerun` (whole run) or, with `failed_only`, `rerun_failed` (failed jobs and their
/// dependents): the run is `run_id`, or the latest (failed) one.
pub(super) async fn rerun(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
    failed_only: bool,
) -> Result<CommandResult, Failure> {
    let runs = x.recent_runs(view.repo.id).await?;
    let target = match c.params.run_id {
        Some(id) => id,
        None => {
            let pick = if failed_only {
                runs.iter().find(|r| r.outcome() == Some(Outcome::Fail))
            } else {
                runs.first()
            };
            pick.map(|r| r.id).ok_or_else(|| {
                Failure::Refused(if failed_only {
                    format!("no failed run in {} to re-run", view.repo.full_name())
                } else {
                    format!("{} has no runs to re-run", view.repo.full_name())
                })
            })?
        }
    };
    let run = x.fresh_run(view, target).await?;
    if !run.is_completed() {
        return Err(Failure::Refused(format!(
            "run {} is still {}; only a completed run can be re-run",
            run.id,
            run.status.as_str()
        )));
    }
    if Utc::now() - run.created_at > chrono::Duration::days(RERUN_MAX_AGE_DAYS) {
        return Err(Failure::Refused(format!(
            "run {} started more than {RERUN_MAX_AGE_DAYS} days ago; GitHub no longer re-runs it",
            run.id
        )));
    }
    if failed_only
        && run.outcome() != Some(Outcome::Fail)
        && run
            .conclusion
            .as_ref()
            .is_none_or(|c| c.as_str() != "cancelled")
    {
        return Err(Failure::Refused(format!(
            "run {} ended `{}`: it has no failed jobs to re-run",
            run.id,
            run.state()
        )));
    }
    let repo = Repo::from(&view.repo);
    let write = if failed_only {
        api::actions::rerun_failed_jobs(repo, run.id)
    } else {
        api::actions::rerun(repo, run.id)
    };
    x.send(view.repo.id, write).await?;
    let what = if failed_only {
        "re-running the failed jobs of"
    } else {
        "re-running"
    };
    Ok(c.answer(
        true,
        format!(
            "{what} {} #{} (attempt {})",
            run.workflow_name,
            run.run_number,
            run.attempt + 1
        ),
        Some(run.id),
        Some(run.html_url),
    ))
}
