//! Workflow templates: a versioned library ([`library`]) rendered with minijinja
//! ([`render`]), assigned to repositories by the settings ([`targets`]), planned against
//! what each repository holds ([`plan`]), with a lock file in every target ([`lock`]) that
//! makes drift and rollback computable from GitHub alone. In the daemon, [`watch`] keeps
//! each target's [`status`] (installed, latest, drift) current for HA's `update` entities.
//!
//! This module only reads GitHub. Deploys and rollbacks are the `deploy_template` and
//! `rollback_template` commands (`commands::actions`), so they pass the one executor's
//! allow-list, dedupe, audit and pacing like every other write, whether HA, the API or the
//! [`cli`] asked for them.

pub mod auto_update;
pub mod cli;
pub mod library;
pub mod lock;
pub mod plan;
mod remote;
pub mod render;
pub mod status;
pub mod targets;
pub mod watch;
pub mod waves;

pub use cli::{TemplatesArgs, run};
pub use library::{Library, Template};
pub use targets::{Assignment, DeployMode, RawTemplates, TemplateSettings};
