//! Deploying the Home Assistant configuration from its repository, the way Flux and Argo CD
//! deploy to Kubernetes: the repository is the truth, and every deployment is gated,
//! recorded and undone by itself when HA does not come back healthy.
//!
//! Modules, in the order a deployment uses them:
//! - [`settings`]: the `config_deploy:` section;
//! - [`git`]: the staging clone, fetched with the `git` command line (never inside HA's
//!   folder);
//! - [`ownership`]: what the deployment may touch (never `.storage/`, `secrets.yaml`, the
//!   repository's `.gitignore`, the user's excludes);
//! - [`impact`]: which integrations to reload, or why a restart is needed;
//! - [`sync`]: writing only the changed files, atomically, with a backup to restore;
//! - [`crate::home_assistant`]: HA's REST API (its check, reloads, restart, log, states);
//! - [`engine`]: one deployment, stage by stage, with the health gate and rollback;
//! - [`record`]: a deployment as stored and published;
//! - [`task`]: the deployer in the daemon (triggers, switches, GitHub deployment statuses).

pub mod cli;
pub mod engine;
pub mod git;
pub mod impact;
pub mod ownership;
pub mod record;
pub mod settings;
pub mod sync;
pub mod task;

pub use engine::Deployer;
pub use record::{ConfigDeployment, Status, Trigger};
pub use settings::{ConfigDeploySettings, RawConfigDeploy};
pub use task::{
    ConfigDeployHandle, ConfigDeployTask, ConfigDeployView, DeployRequest, config_deploy_task,
};
