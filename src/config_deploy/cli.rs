//! `gitops-bridge deploy-config`: one deployment from the command line, with the daemon's
//! settings, store and gates (for a first deployment, a host without the add-on, or CI).
//! GitHub deployment statuses are the daemon's: every GitHub write goes through its one
//! command executor.

use std::sync::Arc;

use super::{Deployer, Status, Trigger};
use crate::settings::Settings;

/// Deploys `commit` (default: the branch head); `Ok(true)` when it succeeded.
pub async fn run(settings: &Settings, commit: Option<&str>) -> anyhow::Result<bool> {
    let Some(cd) = settings.config_deploy.clone() else {
        anyhow::bail!("`config_deploy.repository` is not set in the settings");
    };
    let (store, worker) = crate::store::Store::open(&settings.store.path)?;
    let _thread = worker.spawn()?;
    let deployer = Deployer::new(Arc::clone(&cd), Some(settings.github.token.clone()), &store);
    let _lock = deployer.lock().map_err(anyhow::Error::msg)?;
    if let Some(d) = deployer.recover().await {
        println!("deployment #{} was interrupted: {}", d.id, d.message);
    }
    let d = deployer.deploy(Trigger::Cli, commit, None).await;
    println!(
        "deployment #{} of {} to {}: {}: {}",
        d.id,
        if d.commit.is_empty() {
            "?"
        } else {
            d.short_commit()
        },
        cd.target.display(),
        d.status.as_str(),
        d.message
    );
    for f in &d.findings {
        println!("  {f}");
    }
    Ok(d.status == Status::Succeeded)
}
