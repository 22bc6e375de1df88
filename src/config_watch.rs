//! Continuous validation of the Home Assistant configuration directory (the add-on mounts it
//! at `/homeassistant`): on start, when a file changes, and on request (the bridge's
//! *Check configuration* button, `POST /api/validation`).
//!
//! Changes are found by polling a fingerprint (path, size, mtime of every file) every few
//! seconds rather than with inotify: the directory is a bind mount, often of a network share,
//! where change notifications are unreliable; hashing metadata of a few hundred files costs
//! microseconds. The check itself is CPU work and runs on the blocking pool.
//!
//! With `validate.security` (the default) the security scan runs in the same pass: one load
//! of the configuration for both (see [`scan::check_and_scan`]), offline (no OSV lookups).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::model::Event;
use crate::recovery::ConfigCheck;
use crate::scan::{self, ScanOptions};
use crate::settings::ValidateSettings;
use crate::validate::{self, CheckOptions, Report};

/// How often the directory's fingerprint is compared.
const WATCH_EVERY: Duration = Duration::from_secs(5);
/// Quiet time after a change before validating (editors write files in several steps).
const SETTLE: Duration = Duration::from_secs(2);

/// The configuration repository's own check settings (`check:` section), as the CLI reads.
const REPO_SETTINGS: &str = ".gitops-bridge.yaml";

/// Where HA Core answers inside the add-on (`homeassistant_api: true`).
const SUPERVISOR_CORE: &str = "http://supervisor/core";

/// One pass over the configuration: the check's report and, when the scan is on, the
/// security scan's.
#[derive(Debug)]
pub struct Checked {
    pub config: Report,
    pub security: Option<Report>,
}

/// The latest pass, as the MQTT bridge and the API read it.
pub type Reports = watch::Receiver<Option<Arc<Checked>>>;

/// Runs validations; results go to the `watch` channel (MQTT and the API read it).
pub struct ConfigWatch {
    settings: ValidateSettings,
    root: PathBuf,
    now: Arc<Notify>,
    results: watch::Sender<Option<Arc<Checked>>>,
    /// Inside the add-on: HA Core's entities and actions make references checkable against
    /// what really exists, not just what the YAML defines.
    core: Option<(String, String)>,
    /// Where each pass's verdict goes for the quality gates (`quality_gate.config_check`).
    state: Option<mpsc::Sender<Event>>,
}

impl ConfigWatch {
    /// `None` when validation is off (`validate.path` unset).
    pub fn new(settings: &ValidateSettings) -> Option<(ConfigWatch, Reports, Arc<Notify>)> {
        let root = settings.path.clone()?;
        let (results, rx) = watch::channel(None);
        let now = Arc::new(Notify::new());
        Some((
            ConfigWatch {
                settings: settings.clone(),
                root,
                now: now.clone(),
                results,
                core: std::env::var("SUPERVISOR_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty())
                    .map(|t| (SUPERVISOR_CORE.to_string(), t)),
                state: None,
            },
            rx,
            now,
        ))
    }

    /// Also tells the state task each pass's verdict, for the quality gates.
    pub fn with_state(mut self, events: mpsc::Sender<Event>) -> Self {
        self.state = Some(events);
        self
    }

    /// Tells the state task (when it listens) how the pass went.
    async fn tell_state(&self, check: ConfigCheck) {
        if let Some(events) = &self.state {
            let _ = events.send(Event::ConfigChecked(check)).await;
        }
    }

    pub async fn run(self, cancel: CancellationToken) {
        let mut seen = self.fingerprint().await;
        self.validate().await;
        let mut every = tokio::time::interval(WATCH_EVERY);
        every.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.now.notified() => {
                    seen = self.fingerprint().await;
                    self.validate().await;
                }
                _ = every.tick(), if self.settings.watch => {
                    let current = self.fingerprint().await;
                    if current != seen {
                        tokio::time::sleep(SETTLE).await;
                        seen = self.fingerprint().await;
                        tracing::info!("configuration changed; validating");
                        self.validate().await;
                    }
                }
            }
        }
    }

    /// [`fingerprint`] on the blocking pool: the walk is many blocking file-system calls,
    /// often on a network share, and must not stall an async worker thread.
    async fn fingerprint(&self) -> u64 {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || fingerprint(&root))
            .await
            .unwrap_or_default()
    }

    async fn validate(&self) {
        let mut options = CheckOptions::new(self.root.clone());
        options.ignored = self.settings.ignored.clone();
        // The same repository-level ignore lists `gitops-bridge check` uses in CI.
        let repo_settings = self.root.join(REPO_SETTINGS);
        if repo_settings.is_file() {
            match validate::load_settings(&repo_settings) {
                Ok(s) => options = options.with_settings(s),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        if let Some((url, token)) = &self.core {
            match validate::StatesSnapshot::fetch(url, token).await {
                Ok(states) => options.states = Some(states),
                // Offline checking still works; unknown references just stay "unknown".
                Err(e) => tracing::warn!("reading HA's entities for the check: {e}"),
            }
        }
        let scan_opts = self.settings.security.then(|| {
            let mut o = ScanOptions::new(self.root.clone());
            o.ignore_codes = options.ignored.ignore_codes.clone();
            o
        });
        let pass = tokio::task::spawn_blocking(move || match scan_opts {
            Some(scan_opts) => {
                let both = scan::check_and_scan(&options, &scan_opts);
                (both.check, Some(both.scan))
            }
            None => (validate::check(&options), None),
        })
        .await;
        let (config, security) = match pass {
            Ok((Ok(config), security)) => (config, security),
            Ok((Err(e), _)) => {
                tracing::error!("cannot validate the configuration: {e}");
                self.tell_state(ConfigCheck::Failed(e.to_string())).await;
                return;
            }
            Err(e) => {
                tracing::error!("the validator stopped unexpectedly: {e}");
                self.tell_state(ConfigCheck::Failed(
                    "the validator stopped unexpectedly".into(),
                ))
                .await;
                return;
            }
        };
        self.tell_state(ConfigCheck::of(&config)).await;
        let s = &config.summary;
        tracing::info!(
            "configuration checked: {} errors, {} warnings, {} info in {} ms",
            s.errors,
            s.warnings,
            s.info,
            s.elapsed_ms
        );
        let security = match security {
            Some(Ok(report)) => {
                let s = &report.summary;
                tracing::info!(
                    "security scan: {} errors, {} warnings, {} info",
                    s.errors,
                    s.warnings,
                    s.info
                );
                Some(report)
            }
            Some(Err(e)) => {
                tracing::error!("cannot scan the configuration: {e}");
                None
            }
            None => None,
        };
        self.results
            .send_replace(Some(Arc::new(Checked { config, security })));
    }
}

/// A hash of every file's path, size and modification time under `root` (dot-directories
/// such as `.storage` excluded: HA rewrites them constantly and they are not configuration).
pub fn fingerprint(root: &Path) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut stack = vec![root.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') && name != REPO_SETTINGS {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                entries.push((entry.path(), meta.len(), mtime));
            }
        }
    }
    entries.sort();
    entries.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_changes_with_content_and_ignores_dot_dirs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("configuration.yaml"), "a: 1\n").unwrap();
        std::fs::create_dir(dir.path().join(".storage")).unwrap();
        let before = fingerprint(dir.path());
        std::fs::write(dir.path().join(".storage/core.entity_registry"), "{}").unwrap();
        assert_eq!(fingerprint(dir.path()), before);
        std::fs::write(dir.path().join("configuration.yaml"), "a: 12\n").unwrap();
        assert_ne!(fingerprint(dir.path()), before);
    }
}
