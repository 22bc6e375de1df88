//! The deployer in the daemon: one task that takes deployment requests (a push, a GitHub
//! deployment, the `deploy_config` command, its own fetch of the branch as the safety net),
//! carries them out one at a time, records them on GitHub through the command executor, and
//! hands its picture to the state task for MQTT, the API and the dashboard.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::record::{ConfigDeployment, Status, Trigger};
use super::{ConfigDeploySettings, Deployer};
use crate::commands::{CommandHandle, RecordWrite};
use crate::model::Event;
use crate::state::StateHandle;

/// A deployment asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployRequest {
    pub trigger: Trigger,
    /// Exactly this commit; default the branch head.
    pub commit: Option<String>,
    /// The GitHub deployment that asked for it, whose statuses we post.
    pub github_deployment: Option<u64>,
}

/// Requests waiting for the deployer; beyond it a request is refused as busy.
const QUEUE: usize = 8;

/// How the rest of the daemon reaches the deployer.
#[derive(Clone)]
pub struct ConfigDeployHandle {
    tx: mpsc::Sender<DeployRequest>,
    settings: Arc<ConfigDeploySettings>,
}

impl ConfigDeployHandle {
    pub fn is_for(&self, owner: &str, name: &str) -> bool {
        self.settings.owner.eq_ignore_ascii_case(owner)
            && self.settings.name.eq_ignore_ascii_case(name)
    }

    pub fn repository(&self) -> String {
        self.settings.repository()
    }

    pub fn branch(&self) -> &str {
        &self.settings.branch
    }

    pub fn environment(&self) -> &str {
        &self.settings.environment
    }

    /// Queues a deployment; refused when too many wait already.
    pub fn request(&self, request: DeployRequest) -> Result<(), String> {
        self.tx.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                "busy: deployments are already waiting; try again when they have finished".into()
            }
            mpsc::error::TrySendError::Closed(_) => "the configuration deployer has stopped".into(),
        })
    }
}

/// What HA shows of the configuration: deployed, latest, the last deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConfigDeployView {
    pub repository: String,
    pub branch: String,
    /// `https://github.com/<repository>` (or the Enterprise host).
    pub html_url: String,
    /// The newest successful deployment.
    pub deployed: Option<ConfigDeployment>,
    /// The newest deployment, running or ended.
    pub last: Option<ConfigDeployment>,
    /// The branch head as last fetched.
    pub head: Option<String>,
    /// Subjects of the commits after the deployed one, newest first.
    pub pending: Vec<String>,
    /// Why the last fetch failed, if it did.
    pub fetch_error: Option<String>,
}

impl ConfigDeployView {
    pub fn in_progress(&self) -> bool {
        self.last.as_ref().is_some_and(|d| !d.status.is_finished())
    }
}

/// The task; run with [`ConfigDeployTask::run`].
pub struct ConfigDeployTask {
    deployer: Deployer,
    progress: mpsc::UnboundedReceiver<ConfigDeployment>,
    requests: mpsc::Receiver<DeployRequest>,
    state: StateHandle,
    events: mpsc::Sender<Event>,
    commands: CommandHandle,
    view: ConfigDeployView,
    /// The URL of the daemon's UI, for GitHub's deployment `log_url`.
    log_url: Option<String>,
}

/// The task and its handle.
pub fn config_deploy_task(
    settings: Arc<ConfigDeploySettings>,
    github_token: crate::settings::Secret,
    html_base: &str,
    store: &crate::store::Store,
    state: StateHandle,
    events: mpsc::Sender<Event>,
    commands: CommandHandle,
) -> (ConfigDeployTask, ConfigDeployHandle) {
    let (progress_tx, progress) = mpsc::unbounded_channel();
    let (tx, requests) = mpsc::channel(QUEUE);
    let deployer =
        Deployer::new(settings.clone(), Some(github_token), store).with_progress(progress_tx);
    let view = ConfigDeployView {
        repository: settings.repository(),
        branch: settings.branch.clone(),
        html_url: format!(
            "{}/{}",
            html_base.trim_end_matches('/'),
            settings.repository()
        ),
        ..ConfigDeployView::default()
    };
    (
        ConfigDeployTask {
            deployer,
            progress,
            requests,
            state,
            events,
            commands,
            view,
            log_url: None,
        },
        ConfigDeployHandle { tx, settings },
    )
}

impl ConfigDeployTask {
    /// Where GitHub's deployment statuses link to (the daemon's dashboard).
    pub fn with_log_url(mut self, url: Option<String>) -> Self {
        self.log_url = url;
        self
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let _lock = match self.deployer.lock() {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("config deploy: {e}; configuration deployment is off");
                cancel.cancelled().await;
                return;
            }
        };
        if let Some(d) = self.deployer.recover().await {
            tracing::warn!("config deploy #{}: {}", d.id, d.message);
            self.drain_progress();
            self.announce(Some(d)).await;
        }
        self.view.deployed = self.deployer.deployed().await;
        self.view.last = self.deployer.history(1).await.into_iter().next();
        self.refresh().await;
        let mut tick = tokio::time::interval(self.deployer.settings().poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                request = self.requests.recv() => match request {
                    Some(r) => self.handle(r, &cancel).await,
                    None => break,
                },
                _ = tick.tick() => {
                    self.refresh().await;
                    if self.view.head.is_some() && self.view.head != self.view.deployed.as_ref().map(|d| d.commit.clone()) {
                        self.handle(DeployRequest { trigger: Trigger::Poll, commit: self.view.head.clone(), github_deployment: None }, &cancel).await;
                    }
                }
            }
        }
        tracing::debug!("config deployer stopped");
    }

    /// Fetches the branch and publishes what it holds beyond the deployed commit.
    async fn refresh(&mut self) {
        match self.deployer.fetch().await {
            Ok(head) => {
                let deployed = self.view.deployed.as_ref().map(|d| d.commit.clone());
                self.view.pending = if Some(&head) == deployed.as_ref() {
                    Vec::new()
                } else {
                    self.deployer
                        .staging()
                        .subjects(deployed.as_deref(), &head, 20)
                        .await
                };
                self.view.head = Some(head);
                self.view.fetch_error = None;
            }
            Err(e) => {
                tracing::warn!("config deploy: fetching {}: {e}", self.view.repository);
                self.view.fetch_error = Some(e.to_string());
            }
        }
        self.announce(None).await;
    }

    async fn announce(&self, finished: Option<ConfigDeployment>) {
        let _ = self
            .events
            .send(Event::ConfigDeploy {
                view: Arc::new(self.view.clone()),
                finished: finished.map(Box::new),
            })
            .await;
    }

    fn drain_progress(&mut self) {
        while let Ok(d) = self.progress.try_recv() {
            self.view.last = Some(d);
        }
    }

    /// Whether automatic deployments may act now (the bridge's switches).
    fn automatic_allowed(&self) -> Result<(), &'static str> {
        let snapshot = self.state.snapshot();
        if !self.deployer.settings().auto {
            Err("`config_deploy.auto` is off")
        } else if snapshot.automation_paused {
            Err("Automation paused is on")
        } else if !snapshot.config_auto_deploy {
            Err("Configuration auto-deploy is off")
        } else {
            Ok(())
        }
    }

    async fn handle(&mut self, request: DeployRequest, cancel: &CancellationToken) {
        let automatic = request.trigger.is_automatic();
        if automatic && let Err(why) = self.automatic_allowed() {
            tracing::info!(
                "config deploy: {} not deployed: {why}",
                request.trigger.label()
            );
            if let Some(id) = request.github_deployment {
                self.github_status(
                    id,
                    "failure",
                    &format!("not deployed: {why} in Home Assistant"),
                )
                .await;
            }
            return;
        }
        // The commit, fetched now: what every record of this deployment names.
        let commit = match &request.commit {
            Some(c) => match self.deployer.staging().resolve(c).await {
                Ok(sha) => Some(sha),
                Err(_) => {
                    // Fetch first: a pinned commit may be newer than the staging clone.
                    self.refresh().await;
                    self.deployer.staging().resolve(c).await.ok()
                }
            },
            None => {
                self.refresh().await;
                self.view.head.clone()
            }
        };
        let Some(commit) = commit else {
            let mut d = self
                .deployer
                .deploy(
                    request.trigger,
                    request.commit.as_deref(),
                    request.github_deployment,
                )
                .await;
            self.drain_progress();
            self.finished(&mut d).await;
            return;
        };
        // An automatic trigger never deploys a commit again: not a failed one in a loop, not
        // the deployed one twice.
        if automatic && let Some(last) = self.deployer.deployment_of(&commit).await {
            tracing::debug!(
                "config deploy: {} was deployed before (#{}, {}); {} ignored",
                &commit[..7.min(commit.len())],
                last.id,
                last.status.as_str(),
                request.trigger.label()
            );
            if let Some(id) = request.github_deployment {
                self.github_status(
                    id,
                    last.status.github_state(),
                    &format!("deployed before as #{}: {}", last.id, last.message),
                )
                .await;
            }
            return;
        }
        let github_id = match request.github_deployment {
            Some(id) => Some(id),
            None => {
                self.create_github_deployment(&commit, &request.trigger)
                    .await
            }
        };
        if let Some(id) = github_id {
            self.github_status(id, "in_progress", "deploying to Home Assistant")
                .await;
        }
        let mut d = {
            let run = self
                .deployer
                .deploy(request.trigger, Some(&commit), github_id);
            tokio::pin!(run);
            loop {
                tokio::select! {
                    d = &mut run => break d,
                    Some(p) = self.progress.recv() => {
                        self.view.last = Some(p);
                        let _ = self.events.send(Event::ConfigDeploy { view: Arc::new(self.view.clone()), finished: None }).await;
                    }
                    // On shutdown the deployment is left where it is; the next start undoes it.
                    _ = cancel.cancelled() => return,
                }
            }
        };
        self.drain_progress();
        if let Some(id) = github_id {
            self.github_status(id, d.status.github_state(), &d.message)
                .await;
        }
        self.finished(&mut d).await;
    }

    async fn finished(&mut self, d: &mut ConfigDeployment) {
        if d.status == Status::Succeeded {
            self.view.deployed = Some(d.clone());
            self.view.pending.clear();
        }
        self.view.last = Some(d.clone());
        self.announce(Some(d.clone())).await;
    }

    async fn create_github_deployment(&self, sha: &str, trigger: &Trigger) -> Option<u64> {
        let s = self.deployer.settings();
        let write = RecordWrite::Create {
            owner: s.owner.clone(),
            name: s.name.clone(),
            sha: sha.to_string(),
            environment: s.environment.clone(),
            description: format!(
                "gitops-bridge: Home Assistant configuration ({})",
                trigger.label()
            ),
        };
        match self.commands.record(write).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!("config deploy: recording the deployment on GitHub: {e}");
                None
            }
        }
    }

    async fn github_status(&self, id: u64, state: &'static str, description: &str) {
        let s = self.deployer.settings();
        let write = RecordWrite::Status {
            owner: s.owner.clone(),
            name: s.name.clone(),
            id,
            state,
            description: description.to_string(),
            log_url: self.log_url.clone(),
        };
        if let Err(e) = self.commands.record(write).await {
            tracing::warn!("config deploy: posting the deployment status `{state}` on GitHub: {e}");
        }
    }
}
