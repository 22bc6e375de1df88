//! `rerun_failed`: the failed jobs of a failed (or cancelled) run, and the jobs that
//! depend on them.

use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::RerunFailed,
    name: "rerun_failed",
    label: "Re-run failed jobs",
    button_key: "rerun_failed_jobs",
    icon: "mdi:restart-alert",
    symbol: "↻",
    hint: "Re-runs the failed jobs of the latest failed run",
    confirm: None,
    per_workflow: false,
    requires: None,
};

pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    super::rerun::rerun(x, c, view, true).await
}
