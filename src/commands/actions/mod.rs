//! The actions a command can ask for, one file each: its metadata (wire name, label, icon,
//! what it needs from the repository's policy) and what it does on GitHub.
//!
//! Everything that shows or checks actions derives from [`ActionSpec`]: the HA buttons
//! (`mqtt::discovery`), the settings' `allow:` validation, the HTTP API's list and the
//! dashboard's buttons. Adding an action is a new file here with its `SPEC` and `run`, a
//! variant of [`Action`], and one line in [`SPECS`] and in [`run`].

mod cancel;
mod deploy_config;
mod deploy_template;
mod dispatch;
mod rerun;
mod rerun_failed;
mod rollback;
mod rollback_template;
mod template_commit;

pub use rollback::is_deploy_run;
pub use template_commit::PR_BRANCH;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::executor::{Executor, Failure};
use super::policy::RepoPolicy;
use super::{Command, CommandResult};
use crate::state::RepoView;

/// Actions that write to GitHub; a repository allows none unless its settings list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Rerun,
    RerunFailed,
    Cancel,
    Dispatch,
    Rollback,
    DeployTemplate,
    RollbackTemplate,
    DeployConfig,
}

/// A check of the repository's policy: `Err` says what is missing.
pub type Requirement = fn(&RepoPolicy) -> Result<(), &'static str>;

/// What every surface needs to know about an action.
#[derive(Debug)]
pub struct ActionSpec {
    pub action: Action,
    /// The wire name: MQTT topic segment, `allow:` entry, API and audit value.
    pub name: &'static str,
    /// What the button says, in HA and on the dashboard (`{workflow}`: the dispatched file).
    pub label: &'static str,
    /// The button's object id under the repository's device (part of its `unique_id`, so
    /// never renamed).
    pub button_key: &'static str,
    /// Material Design icon for HA.
    pub icon: &'static str,
    /// A text symbol for the dashboard, which loads no icon font.
    pub symbol: &'static str,
    /// One line on what pressing it does.
    pub hint: &'static str,
    /// The dashboard asks this before sending, for actions that are hard to take back.
    pub confirm: Option<&'static str>,
    /// One button per workflow listed in `dispatch:` instead of one button.
    pub per_workflow: bool,
    /// What allowing it requires of the rest of the repository's settings.
    pub requires: Option<Requirement>,
}

/// Every action, in the order their buttons appear.
pub static SPECS: [&ActionSpec; 8] = [
    &rerun_failed::SPEC,
    &rerun::SPEC,
    &cancel::SPEC,
    &rollback::SPEC,
    &dispatch::SPEC,
    &deploy_template::SPEC,
    &rollback_template::SPEC,
    &deploy_config::SPEC,
];

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Rerun,
        Action::RerunFailed,
        Action::Cancel,
        Action::Dispatch,
        Action::Rollback,
        Action::DeployTemplate,
        Action::RollbackTemplate,
        Action::DeployConfig,
    ];

    pub fn spec(self) -> &'static ActionSpec {
        match self {
            Action::Rerun => &rerun::SPEC,
            Action::RerunFailed => &rerun_failed::SPEC,
            Action::Cancel => &cancel::SPEC,
            Action::Dispatch => &dispatch::SPEC,
            Action::Rollback => &rollback::SPEC,
            Action::DeployTemplate => &deploy_template::SPEC,
            Action::RollbackTemplate => &rollback_template::SPEC,
            Action::DeployConfig => &deploy_config::SPEC,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    pub fn parse(s: &str) -> Option<Action> {
        SPECS.iter().find(|spec| spec.name == s).map(|s| s.action)
    }

    /// The wire names, comma-separated, for error messages.
    pub fn names() -> String {
        Action::ALL.map(|a| a.as_str()).join(", ")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One button for one allowed action (for `dispatch`, one per offered workflow).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Button {
    pub action: Action,
    /// Unique under the repository: the HA button's object id.
    pub key: String,
    pub label: String,
    pub icon: &'static str,
    pub symbol: &'static str,
    pub hint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<&'static str>,
    /// The command's JSON parameters (`{}` for a bare press).
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// The buttons a repository's policy offers, in [`SPECS`] order. Disallowed actions get none.
pub fn buttons(policy: &RepoPolicy) -> Vec<Button> {
    let mut out = Vec::new();
    for spec in SPECS.iter().filter(|s| policy.allow.contains(&s.action)) {
        if spec.per_workflow {
            for workflow in &policy.dispatch {
                let stem = workflow.trim_end_matches(".yml").trim_end_matches(".yaml");
                let mut params = serde_json::Map::new();
                params.insert("workflow".into(), workflow.clone().into());
                out.push(Button {
                    action: spec.action,
                    key: format!("{}_{}", spec.button_key, crate::text::slug(stem)),
                    label: spec.label.replace("{workflow}", workflow),
                    icon: spec.icon,
                    symbol: spec.symbol,
                    hint: spec.hint.replace("{workflow}", workflow),
                    confirm: spec.confirm,
                    params,
                });
            }
        } else {
            out.push(Button {
                action: spec.action,
                key: spec.button_key.into(),
                label: spec.label.into(),
                icon: spec.icon,
                symbol: spec.symbol,
                hint: spec.hint.into(),
                confirm: spec.confirm,
                params: serde_json::Map::new(),
            });
        }
    }
    out
}

/// Carries out an authorised command: GitHub's preconditions, then its one write.
pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    match c.action {
        Action::Rerun => rerun::run(x, c, view).await,
        Action::RerunFailed => rerun_failed::run(x, c, view).await,
        Action::Cancel => cancel::run(x, c, view).await,
        Action::Dispatch => dispatch::run(x, c, view).await,
        Action::Rollback => rollback::run(x, c, view).await,
        Action::DeployTemplate => deploy_template::run(x, c, view).await,
        Action::RollbackTemplate => rollback_template::run(x, c, view).await,
        Action::DeployConfig => deploy_config::run(x, c, view).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_spec_under_its_serde_name() {
        assert_eq!(SPECS.len(), Action::ALL.len());
        for a in Action::ALL {
            let spec = a.spec();
            assert_eq!(spec.action, a);
            assert!(SPECS.iter().any(|s| std::ptr::eq(*s, spec)));
            assert_eq!(serde_json::to_value(a).unwrap(), spec.name);
            assert_eq!(Action::parse(spec.name), Some(a));
        }
        let mut keys: Vec<_> = SPECS.iter().map(|s| s.button_key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), SPECS.len(), "button keys must be unique");
    }

    #[test]
    fn buttons_follow_the_allow_list_and_the_dispatch_list() {
        let policy = RepoPolicy {
            allow: [Action::Dispatch, Action::Cancel].into(),
            dispatch: vec!["deploy.yml".into(), "Lint Me.yaml".into()],
            ..RepoPolicy::default()
        };
        let keys: Vec<String> = buttons(&policy).into_iter().map(|b| b.key).collect();
        assert_eq!(
            keys,
            ["cancel_running_run", "dispatch_deploy", "dispatch_lint_me"]
        );
        let none = RepoPolicy::default();
        assert!(buttons(&none).is_empty());
    }
}
