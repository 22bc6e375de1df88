//! `deploy_config`: deploys the Home Assistant configuration from this repository (the one
//! `config_deploy.repository` names) now, the branch head or a pinned `commit`. The
//! deployment itself runs in the configuration deployer; this answers that it was accepted,
//! and the *Config deployment* event says how it ended.

use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::{Command, CommandResult};
use crate::config_deploy::{DeployRequest, Trigger};
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::DeployConfig,
    name: "deploy_config",
    label: "Deploy configuration",
    button_key: "deploy_configuration",
    icon: "mdi:home-import-outline",
    symbol: "⇪",
    hint: "Deploys this repository's Home Assistant configuration to Home Assistant now",
    confirm: Some("Deploy the configuration to Home Assistant now?"),
    per_workflow: false,
    requires: None,
};

pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    let Some(deployer) = x.config_deployer() else {
        return Err(Failure::Refused(
            "configuration deployment is off: set `config_deploy.repository`".into(),
        ));
    };
    if !deployer.is_for(&view.repo.owner, &view.repo.name) {
        return Err(Failure::Refused(format!(
            "`deploy_config` deploys {}, the repository `config_deploy.repository` names, not {}",
            deployer.repository(),
            view.repo.full_name()
        )));
    }
    let request = DeployRequest {
        trigger: Trigger::Command {
            source: c.source.label(),
        },
        commit: c.params.commit.clone(),
        github_deployment: None,
    };
    deployer.request(request).map_err(Failure::Refused)?;
    let what = match &c.params.commit {
        Some(commit) => format!("commit {commit}"),
        None => format!("the head of {}", deployer.branch()),
    };
    Ok(c.answer(
        true,
        format!(
            "deploying {what} to Home Assistant; the Config deployment event tells how it ends"
        ),
        None,
        None,
    ))
}
