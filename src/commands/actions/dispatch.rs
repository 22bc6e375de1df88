//! `dispatch`: starts a workflow the settings offer (`dispatch:`), on a ref, with inputs.

use serde_json::{Map, Value};

use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::github::api::{self, Repo};
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::Dispatch,
    name: "dispatch",
    // One button per offered workflow; `{workflow}` is its file name.
    label: "Run {workflow}",
    button_key: "dispatch",
    icon: "mdi:play",
    symbol: "▶",
    hint: "Starts {workflow} on the default branch",
    confirm: None,
    per_workflow: true,
    requires: None,
};

/// Dispatches the named workflow, or the only one offered.
pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    let policy = &view.policy;
    let workflow = match (&c.params.workflow, policy.dispatch.as_slice()) {
        (Some(w), _) => w.clone(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(Failure::Refused(format!(
                "which workflow? send {{\"workflow\": \"…\"}}; offered: {}",
                policy.dispatch.join(", ")
            )));
        }
    };
    if !policy.dispatch.iter().any(|w| w == &workflow) {
        return Err(Failure::Refused(format!(
            "`{workflow}` is not offered for dispatch in {}; add it to `dispatch` in the settings",
            view.repo.full_name()
        )));
    }
    let inputs = c.params.inputs.clone().unwrap_or_default();
    dispatch_workflow(
        x,
        c,
        view,
        &workflow,
        c.params.git_ref.clone(),
        inputs,
        None,
    )
    .await
}

/// Dispatches `workflow` after checking it exists and is active. The ref defaults to the
/// policy's `dispatch_ref`, then the default branch. `note` is added to the message.
pub(super) async fn dispatch_workflow(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
    workflow: &str,
    git_ref: Option<String>,
    inputs: Map<String, Value>,
    note: Option<String>,
) -> Result<CommandResult, Failure> {
    if let Some(w) = view
        .workflows
        .iter()
        .find(|w| w.workflow.file_name() == workflow)
    {
        if w.workflow.state != "active" && w.workflow.state != "unknown" {
            return Err(Failure::Refused(format!(
                "workflow `{workflow}` is {}",
                w.workflow.state
            )));
        }
    } else if !view.workflows.is_empty() {
        return Err(Failure::Refused(format!(
            "workflow `{workflow}` does not exist in {}",
            view.repo.full_name()
        )));
    }
    let git_ref = git_ref
        .or_else(|| view.policy.dispatch_ref.clone())
        .unwrap_or_else(|| view.repo.default_branch.clone());
    if git_ref.is_empty() {
        return Err(Failure::Refused(
            "no ref given and the default branch is unknown".into(),
        ));
    }
    let write = api::actions::dispatch(Repo::from(&view.repo), workflow, &git_ref, inputs);
    let response = x.send(view.repo.id, write).await?;
    let run_id = response
        .as_ref()
        .and_then(|r| r["workflow_run_id"].as_u64());
    let html_url = response
        .as_ref()
        .and_then(|r| r["html_url"].as_str().map(str::to_string));
    let mut message = format!("dispatched {workflow} on {git_ref}");
    if let Some(note) = note {
        message = format!("{message} ({note})");
    }
    Ok(c.answer(true, message, run_id, html_url))
}
