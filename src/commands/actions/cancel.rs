//! `cancel`: stops a queued or running run.

use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::github::api::{self, Repo};
use crate::model::Run;
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::Cancel,
    name: "cancel",
    label: "Cancel running run",
    button_key: "cancel_running_run",
    icon: "mdi:stop-circle-outline",
    symbol: "■",
    hint: "Cancels the latest queued or running run",
    confirm: Some("Really cancel?"),
    per_workflow: false,
    requires: None,
};

/// Cancels `run_id`, or the newest active run.
pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    let target = match c.params.run_id {
        Some(id) => id,
        None => x
            .recent_runs(view.repo.id)
            .await?
            .into_iter()
            .find(Run::is_active)
            .map(|r| r.id)
            .ok_or_else(|| {
                Failure::Refused(format!("nothing is running in {}", view.repo.full_name()))
            })?,
    };
    let run = x.fresh_run(view, target).await?;
    if run.is_completed() {
        return Err(Failure::Refused(format!(
            "run {} has already completed",
            run.id
        )));
    }
    x.send(
        view.repo.id,
        api::actions::cancel(Repo::from(&view.repo), run.id),
    )
    .await?;
    Ok(c.answer(
        true,
        format!("cancelling {} #{}", run.workflow_name, run.run_number),
        Some(run.id),
        Some(run.html_url),
    ))
}
