//! One deployment, start to end: fetch, gate, apply, reload or restart, health gate, and
//! the automatic rollback. Each stage is written to the store before it starts, so a
//! deployment the daemon did not finish is found and undone by [`Deployer::recover`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;

use super::git::{Staging, TreeEntry};
use super::impact::{self, Fingerprints, Impact};
use super::ownership::{Ownership, unsafe_path};
use super::record::{ConfigDeployment, Status, Trigger};
use super::settings::ConfigDeploySettings;
use super::sync::{self, Backup};
use crate::home_assistant::{HaConfig, HomeAssistant};
use crate::settings::Secret;
use crate::store::{ConfigDeployments, Store};
use crate::validate::{CheckOptions, SecretsMode, Severity};

/// Carries out deployments, one at a time (the caller serialises them).
pub struct Deployer {
    settings: Arc<ConfigDeploySettings>,
    staging: Staging,
    ha: HomeAssistant,
    records: ConfigDeployments,
    /// Every stage of every deployment, for MQTT, GitHub and the API.
    progress: Option<mpsc::UnboundedSender<ConfigDeployment>>,
}

/// Held while this process deploys from the staging folder.
pub struct StagingLock(#[allow(dead_code)] std::fs::File);

/// A refusal before anything changed, with the findings behind it.
struct Refusal {
    message: String,
    findings: Vec<String>,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        message: message.into(),
        findings: Vec::new(),
    }
}

/// The commit's files, checked and filtered to what the deployment owns.
struct Tree {
    entries: Vec<TreeEntry>,
    ownership: Ownership,
    /// Submodules and other entries that are not deployed, with why.
    skipped: Vec<String>,
}

impl Deployer {
    pub fn new(
        settings: Arc<ConfigDeploySettings>,
        github_token: Option<Secret>,
        store: &Store,
    ) -> Deployer {
        let staging = Staging::new(
            settings.staging.join("repo.git"),
            &settings.git_url,
            &settings.branch,
            github_token,
        );
        let ha = HomeAssistant::new(&settings.ha_url, settings.ha_token.clone());
        Deployer {
            settings,
            staging,
            ha,
            records: ConfigDeployments::new(store),
            progress: None,
        }
    }

    /// Sends every stage of every deployment to `progress`.
    pub fn with_progress(mut self, progress: mpsc::UnboundedSender<ConfigDeployment>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// One deployer per staging folder at a time (the daemon, or the command line): a lock
    /// file held for as long as the guard lives.
    pub fn lock(&self) -> Result<StagingLock, String> {
        let dir = &self.settings.staging;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; released when the file is closed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(format!(
                "another configuration deployment holds {} (the daemon, or another deploy-config)",
                path.display()
            ));
        }
        Ok(StagingLock(file))
    }

    pub fn settings(&self) -> &ConfigDeploySettings {
        &self.settings
    }

    pub fn staging(&self) -> &Staging {
        &self.staging
    }

    /// The newest successful deployment.
    pub async fn deployed(&self) -> Option<ConfigDeployment> {
        let row = self.records.last_with(&["succeeded"]).await.ok()??;
        serde_json::from_str(&row.1).ok()
    }

    /// The newest deployment of `commit`, whatever its outcome.
    pub async fn deployment_of(&self, commit: &str) -> Option<ConfigDeployment> {
        let row = self.records.last_of(commit.to_string()).await.ok()??;
        serde_json::from_str(&row.1).ok()
    }

    /// The newest deployments, newest first.
    pub async fn history(&self, limit: usize) -> Vec<ConfigDeployment> {
        self.records
            .recent(limit)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(_, r)| serde_json::from_str(&r).ok())
            .collect()
    }

    /// Fetches the branch; its head.
    pub async fn fetch(&self) -> Result<String, super::git::GitError> {
        self.staging.fetch().await
    }

    async fn save(&self, d: &mut ConfigDeployment) {
        let record = serde_json::to_string(&*d).unwrap_or_default();
        let result = if d.id == 0 {
            self.records
                .insert(
                    d.commit.clone(),
                    d.status.as_str(),
                    d.started_at.timestamp_millis(),
                    record,
                )
                .await
                .map(|id| d.id = id)
        } else {
            self.records
                .update(d.id, d.commit.clone(), d.status.as_str(), record)
                .await
        };
        if let Err(e) = result {
            tracing::error!("config deploy: recording deployment {}: {e}", d.id);
        }
        if let Some(p) = &self.progress {
            let _ = p.send(d.clone());
        }
    }

    async fn finish(&self, d: &mut ConfigDeployment, status: Status, message: String) {
        d.status = status;
        d.message = message;
        d.finished_at = Some(Utc::now());
        match status {
            Status::Succeeded | Status::RolledBack | Status::Interrupted => {
                if let Some(b) = d.backup.take() {
                    let _ = std::fs::remove_dir_all(b);
                }
            }
            _ => {}
        }
        self.save(d).await;
        self.tell_ha(d).await;
        let level = if status == Status::Succeeded {
            ""
        } else {
            " (not deployed)"
        };
        tracing::info!(
            "config deploy #{} of {} ({}): {}{level}: {}",
            d.id,
            d.short_commit(),
            d.trigger.label(),
            status.as_str(),
            d.message
        );
    }

    /// A deployment that did not succeed is a notification in HA, replaced by the next one
    /// and dismissed by the next success. HA may be the reason it failed: then it is not told.
    async fn tell_ha(&self, d: &ConfigDeployment) {
        const ID: &str = "gitops_bridge_config_deploy";
        let note = match d.status {
            Status::Succeeded => None,
            _ => Some(format!(
                "Deployment #{} of {} ({}): **{}**. {}{}",
                d.id,
                if d.commit.is_empty() {
                    "?"
                } else {
                    d.short_commit()
                },
                d.trigger.label(),
                d.status.as_str().replace('_', " "),
                d.message,
                d.findings
                    .iter()
                    .take(10)
                    .map(|f| format!("\n- {}", crate::text::truncate(f, 300)))
                    .collect::<String>()
            )),
        };
        let outcome = match &note {
            Some(text) => {
                self.ha
                    .notify(ID, Some(("Configuration not deployed", text)))
                    .await
            }
            None => self.ha.notify(ID, None).await,
        };
        if let Err(e) = outcome {
            tracing::debug!("config deploy: telling HA: {e}");
        }
    }

    /// Undoes a deployment the daemon did not finish (it stopped part-way): puts its backup
    /// back and has HA take the files of before in again.
    pub async fn recover(&self) -> Option<ConfigDeployment> {
        let row = self
            .records
            .last_with(&["applying", "reloading", "rolling_back"])
            .await
            .ok()??;
        let mut d: ConfigDeployment = serde_json::from_str(&row.1).ok()?;
        let restored = match d.backup.as_deref().and_then(Backup::load) {
            Some(backup) => sync::restore(&self.settings.target, &backup)
                .map(|_| "the files of before are back".to_string())
                .unwrap_or_else(|e| format!("putting the files of before back failed: {e}")),
            None => "no backup was needed".to_string(),
        };
        let reapplied = match (&d.impact, d.status) {
            (Some(impact), Status::Reloading | Status::RollingBack) => {
                match self.take_in(impact).await {
                    Ok(()) => "; HA took them in again".to_string(),
                    Err(e) => format!("; HA could not take them in: {e}"),
                }
            }
            _ => String::new(),
        };
        let message = format!(
            "interrupted while {} (the daemon stopped): {restored}{reapplied}",
            d.status.as_str().replace('_', " ")
        );
        self.finish(&mut d, Status::Interrupted, message).await;
        Some(d)
    }

    /// Deploys `commit` (default: the branch head).
    pub async fn deploy(
        &self,
        trigger: Trigger,
        commit: Option<&str>,
        github_deployment: Option<u64>,
    ) -> ConfigDeployment {
        let started = Instant::now();
        let mut d = ConfigDeployment::new(trigger);
        d.github_deployment = github_deployment;
        d.commit = commit.unwrap_or_default().to_string();
        d.previous = self.deployed().await.map(|p| p.commit);
        self.save(&mut d).await;
        let outcome = self.run(&mut d).await;
        let took = format!("{:.1}s", started.elapsed().as_secs_f64());
        match outcome {
            Ok(message) => {
                self.finish(&mut d, Status::Succeeded, format!("{message} ({took})"))
                    .await
            }
            Err((status, refusal)) => {
                d.findings = refusal.findings;
                self.finish(&mut d, status, refusal.message).await
            }
        }
        d
    }

    async fn run(&self, d: &mut ConfigDeployment) -> Result<String, (Status, Refusal)> {
        let failed = |m: String| (Status::Failed, refuse(m));
        let refused = |r: Refusal| (Status::Refused, r);
        let head = self
            .staging
            .fetch()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let commit = match d.commit.is_empty() {
            true => head.clone(),
            false => self
                .staging
                .resolve(&d.commit)
                .await
                .map_err(|e| refused(refuse(e.to_string())))?,
        };
        d.commit = commit;
        self.save(d).await;
        let mut notes = Vec::new();
        if let Some(prev) = d.previous.clone() {
            d.subjects = self.staging.subjects(Some(&prev), &d.commit, 50).await;
            if prev != d.commit && !self.staging.is_ancestor(&prev, &d.commit).await {
                notes.push(format!(
                    "the deployed commit {} is not in this commit's history (force-pushed, or an older commit)",
                    &prev[..prev.len().min(7)]
                ));
            }
        } else {
            d.subjects = self.staging.subjects(None, &d.commit, 1).await;
        }

        let tree = self.tree(&d.commit).await.map_err(refused)?;
        notes.extend(tree.skipped.iter().cloned());
        let previous_tree = match &d.previous {
            Some(p) => self.tree(p).await.ok().map(|t| t.entries),
            None => None,
        };

        // Stage the whole commit beside HA's folder and check it as HA will see it.
        let ids: Vec<String> = tree.entries.iter().map(|e| e.blob.clone()).collect();
        let blobs = self
            .staging
            .blobs(&ids)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let staged = self.settings.staging.join("tree");
        stage(&staged, &self.settings.target, &tree.entries, &blobs)
            .map_err(|e| failed(format!("staging the commit: {e}")))?;
        let (report, after) = check(&staged, &self.settings.target).await;
        let report =
            report.map_err(|e| refused(refuse(format!("our check could not run: {e}"))))?;
        let errors: Vec<String> = report
            .diagnostics
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{}:{}: {} ({})", f.file, f.line, f.message, f.code))
            .collect();
        if !errors.is_empty() {
            return Err(refused(Refusal {
                message: format!(
                    "our check found {} error{} in the commit; nothing changed: {}",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" },
                    errors.first().cloned().unwrap_or_default()
                ),
                findings: errors,
            }));
        }

        let plan = sync::plan(
            &self.settings.target,
            &tree.entries,
            previous_tree.as_deref(),
            &tree.ownership,
        );
        notes.extend(plan.left.iter().map(|(p, why)| format!("{p}: {why}")));
        if plan.is_empty() {
            let _ = self.staging.pin("deployed", &d.commit).await;
            return Ok(with_notes(
                "already deployed: no file differs".into(),
                &notes,
            ));
        }
        d.files = plan.paths();

        let ha_config = self.ha.config().await.map_err(failed)?;
        if ha_config.state != "RUNNING" {
            return Err(failed(format!(
                "Home Assistant is not running (state {}); nothing changed",
                ha_config.state
            )));
        }
        let services = self.ha.services().await.map_err(failed)?;
        let (_, before) = check(&self.settings.target, &self.settings.target).await;
        let capabilities = Running {
            config: &ha_config,
            services: &services,
        };
        let impact = impact::impact(&before, &after, &d.files, &capabilities);
        d.impact = Some(impact.clone());
        let log_before = self.ha.log().await.len();

        // Apply, with the files it replaces backed up first.
        let backup_dir = self.settings.staging.join("backup");
        d.backup = Some(backup_dir.clone());
        d.status = Status::Applying;
        self.save(d).await;
        let backup = sync::apply(&self.settings.target, &plan, &blobs, &backup_dir)
            .map_err(|e| failed(format!("writing {e}; the files of before are back")))?;

        // HA's own check of the files now in place, before HA reads any of them.
        // HA counts an integration's invalid configuration as a warning unless the frontend
        // depends on it (it then sets up without it): for a changed integration, that is a
        // refusal too.
        let verdict = match self.ha.check_config().await {
            Ok(v) => {
                let findings = v.refusals(&impact.domains());
                (!findings.is_empty()).then(|| Refusal {
                    message: format!(
                        "Home Assistant's check refused it; the files of before are back, HA never read the new ones: {}",
                        first_line(&findings[0])
                    ),
                    findings,
                })
            }
            Err(e) => Some(refuse(format!(
                "Home Assistant's check could not run ({e}); the files of before are back"
            ))),
        };
        if let Some(refusal) = verdict {
            self.put_back(&backup)
                .map_err(|e| failed(format!("{}; and {e}", refusal.message)))?;
            return Err(refused(refusal));
        }

        d.status = Status::Reloading;
        self.save(d).await;
        let health = match self.take_in(&impact).await {
            Ok(()) => self.healthy(&impact, log_before).await,
            Err(e) => Err(e),
        };
        match health {
            Ok(()) => {
                let _ = self.staging.pin("deployed", &d.commit).await;
                Ok(with_notes(
                    format!("deployed {} files: {}", d.files.len(), impact.describe()),
                    &notes,
                ))
            }
            Err(why) => {
                d.status = Status::RollingBack;
                self.save(d).await;
                let undo = match self.put_back(&backup) {
                    Ok(()) => match self.take_in(&impact).await {
                        Ok(()) => match self.ha.wait_running(self.settings.health_timeout).await {
                            Ok(_) => "the files of before are back and HA took them in".to_string(),
                            Err(e) => format!("the files of before are back, but {e}"),
                        },
                        Err(e) => format!(
                            "the files of before are back, but HA could not take them in: {e}"
                        ),
                    },
                    Err(e) => format!("putting the files of before back failed: {e}"),
                };
                Err((
                    Status::RolledBack,
                    refuse(format!(
                        "unhealthy after the deployment ({why}); rolled back: {undo}"
                    )),
                ))
            }
        }
    }

    fn put_back(&self, backup: &Backup) -> Result<(), String> {
        sync::restore(&self.settings.target, backup)
            .map_err(|e| format!("putting the files of before back failed: {e}"))
    }

    /// Has HA read the changed files: the reloads, or one restart.
    async fn take_in(&self, impact: &Impact) -> Result<(), String> {
        if impact.needs_restart() {
            self.ha
                .restart(self.settings.health_timeout.max(Duration::from_secs(30)))
                .await
                .map(|_| ())
        } else {
            for service in &impact.reloads {
                self.ha.call(service).await?;
            }
            Ok(())
        }
    }

    /// The health gate: HA runs, logged no new error for the changed integrations, and
    /// every watched entity has a real state within the timeout.
    async fn healthy(&self, impact: &Impact, log_before: usize) -> Result<(), String> {
        let deadline = Instant::now() + self.settings.health_timeout;
        self.ha.wait_running(self.settings.health_timeout).await?;
        let log = self.ha.log().await;
        let fresh = if log.len() >= log_before {
            &log[floor_char(&log, log_before)..]
        } else {
            &log[..]
        };
        if let Some(line) = new_error(fresh, &impact.domains()) {
            return Err(format!(
                "HA logged an error: {}",
                crate::text::truncate(line.trim(), 300)
            ));
        }
        for entity in &self.settings.watch_entities {
            loop {
                let state = self.ha.state(entity).await?;
                match state.as_deref() {
                    Some(s) if s != "unavailable" && s != "unknown" => break,
                    _ if Instant::now() >= deadline => {
                        return Err(format!(
                            "{entity} is {} after {}s",
                            state.as_deref().unwrap_or("missing"),
                            self.settings.health_timeout.as_secs()
                        ));
                    }
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
        Ok(())
    }

    /// The commit's files under the source folder, refused when one is unsafe.
    async fn tree(&self, commit: &str) -> Result<Tree, Refusal> {
        let all = self
            .staging
            .tree(commit, self.settings.source_path.as_deref())
            .await
            .map_err(|e| refuse(e.to_string()))?;
        let gitignore = match all.iter().find(|e| e.path == ".gitignore") {
            Some(e) => self
                .staging
                .blobs(std::slice::from_ref(&e.blob))
                .await
                .ok()
                .and_then(|mut b| b.remove(&e.blob))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            None => String::new(),
        };
        let ownership = Ownership::built(&self.settings.exclude)
            .map_err(refuse)?
            .with_gitignore(&gitignore);
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for e in all {
            if let Some(why) = unsafe_path(&e.path) {
                return Err(refuse(format!(
                    "`{}` {why}; the commit is not deployed",
                    e.path
                )));
            }
            if !ownership.owns(&e.path) {
                continue;
            }
            if e.is_symlink() {
                return Err(refuse(format!(
                    "`{}` is a symlink; symlinks could point outside the configuration folder, so the commit is not deployed",
                    e.path
                )));
            }
            if e.is_submodule() {
                skipped.push(format!("{}: a submodule, not deployed", e.path));
                continue;
            }
            if e.size > self.settings.max_file_bytes {
                return Err(refuse(format!(
                    "`{}` is {} bytes, more than `config_deploy.max_file_bytes` ({}); the commit is not deployed",
                    e.path, e.size, self.settings.max_file_bytes
                )));
            }
            entries.push(e);
        }
        if !entries.iter().any(|e| e.path == "configuration.yaml") {
            return Err(refuse(format!(
                "the commit has no configuration.yaml{}; HA would not start, so it is not deployed",
                self.settings
                    .source_path
                    .as_deref()
                    .map(|p| format!(" in `{p}/`"))
                    .unwrap_or_default()
            )));
        }
        Ok(Tree {
            entries,
            ownership,
            skipped,
        })
    }
}

/// What the running HA has loaded and offers.
struct Running<'a> {
    config: &'a HaConfig,
    services: &'a std::collections::BTreeSet<String>,
}

impl impact::Capabilities for Running<'_> {
    fn loaded(&self, integration: &str) -> bool {
        self.config.has(integration)
    }
    fn offers(&self, service: &str) -> bool {
        self.services.contains(service)
    }
}

fn with_notes(message: String, notes: &[String]) -> String {
    if notes.is_empty() {
        message
    } else {
        format!("{message}; note: {}", notes.join("; "))
    }
}

fn first_line(s: &str) -> String {
    crate::text::truncate(s.trim().lines().next().unwrap_or(""), 300)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The first `ERROR` line of HA's log about one of `domains`.
fn new_error<'a>(log: &'a str, domains: &std::collections::BTreeSet<String>) -> Option<&'a str> {
    log.lines().find(|l| {
        l.contains(" ERROR ")
            && domains.iter().any(|d| {
                l.contains(&format!("[homeassistant.components.{d}]"))
                    || l.contains(&format!("[homeassistant.components.{d}."))
                    || l.contains(&format!("Invalid config for '{d}'"))
            })
    })
}

/// Writes the commit's files into `dir` (emptied first) and links in what the commit does
/// not hold but HA's folder does (`secrets.yaml`, git-ignored custom integrations): the
/// check then sees what HA will see.
fn stage(
    dir: &Path,
    target: &Path,
    entries: &[TreeEntry],
    blobs: &HashMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    for e in entries {
        let path = dir.join(&e.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(
            &path,
            blobs.get(&e.blob).map(Vec::as_slice).unwrap_or_default(),
        )?;
    }
    if let Ok(list) = std::fs::read_dir(target) {
        for entry in list.flatten() {
            let name = entry.file_name();
            let here = dir.join(&name);
            if !here.exists() && name != ".storage" {
                std::os::unix::fs::symlink(entry.path(), here)?;
            }
        }
    }
    Ok(())
}

/// `gitops-bridge check` of `root` with the secrets of `target`, and the fingerprints of
/// what it loaded.
async fn check(
    root: &Path,
    target: &Path,
) -> (Result<crate::validate::Report, String>, Fingerprints) {
    let root: PathBuf = root.to_path_buf();
    let secrets = target.join("secrets.yaml");
    tokio::task::spawn_blocking(move || {
        let mut opts = CheckOptions::new(&root);
        if secrets.is_file() {
            opts.secrets = SecretsMode::File(secrets);
        }
        let mut fp = Fingerprints::new();
        let report =
            crate::validate::check_with(&opts, &mut |l| fp = impact::fingerprints(l.config))
                .map_err(|e| e.to_string());
        (report, fp)
    })
    .await
    .unwrap_or_else(|e| (Err(format!("the check stopped: {e}")), Fingerprints::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_of_the_changed_integrations_count() {
        let log = "2026-12-07 10:00:00 ERROR (MainThread) [homeassistant.components.mqtt] lost\n\
                   2026-12-07 10:00:01 ERROR (MainThread) [homeassistant.config] Invalid config for 'automation' at automations.yaml, line 3\n";
        let d = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        assert!(
            new_error(log, &d(&["automation"]))
                .unwrap()
                .contains("line 3")
        );
        assert!(new_error(log, &d(&["script"])).is_none());
        assert!(new_error(log, &d(&["mqtt"])).is_some());
    }
}
