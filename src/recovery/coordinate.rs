//! Coordinated deployments: a named list of repositories deployed in order, each step's
//! workflow dispatched only once the step before has succeeded, the whole stopping at the
//! first failure (GitLab's `strategy: depend`, Argo CD's sync waves, across repositories).
//! Started by the bridge command `coordinate` (`{"deployment": "homelab"}`); every dispatch
//! is a `dispatch` command through the one executor, so allow-lists, the quality gate,
//! audit and pacing apply. One deployment runs at a time. Each step is announced on its
//! repository's *Recovery* event entity, and each deployment's progress
//! ([`CoordinationStatus`]) goes to the state, where HA reads it: a *Deploy* button and a
//! status sensor per deployment on the bridge device.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::commands::{Action, Command, CommandHandle, CommandSource, Params};
use crate::model::{Event, RunState};
use crate::state::{Change, StateHandle};

/// One `coordinated_deployments:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinatedDeployment {
    pub name: String,
    pub steps: Vec<Step>,
    /// How long one step's run may take before the deployment stops.
    pub step_timeout: Duration,
}

/// One step: a repository's workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub owner: String,
    pub name: String,
    pub workflow: String,
}

impl Step {
    fn label(&self) -> String {
        format!("{}/{}:{}", self.owner, self.name, self.workflow)
    }
}

/// Where a coordinated deployment is (the status sensor's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Not run since the daemon started.
    Idle,
    Running,
    Succeeded,
    /// Stopped at a step: its run failed or timed out, or its dispatch was refused.
    Failed,
}

impl Progress {
    /// Every state, as HA's enum sensor lists them.
    pub const ALL: [&'static str; 4] = ["idle", "running", "succeeded", "failed"];
}

/// A coordinated deployment's progress, as the bridge state publishes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoordinationStatus {
    pub name: String,
    pub state: Progress,
    /// The step running, or where it stopped or ended (1-based).
    pub step: Option<usize>,
    pub steps: usize,
    /// That step's `owner/name:workflow`.
    pub current: Option<String>,
    /// Why it stopped, or that every step succeeded.
    pub reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl CoordinationStatus {
    fn idle(d: &CoordinatedDeployment) -> CoordinationStatus {
        CoordinationStatus {
            name: d.name.clone(),
            state: Progress::Idle,
            step: None,
            steps: d.steps.len(),
            current: None,
            reason: None,
            started_at: None,
            finished_at: None,
        }
    }
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Succeeded,
    /// Stopped at step `step` (0-based), for `reason`.
    Stopped {
        step: usize,
        reason: String,
    },
}

/// Starts deployments; the executor holds one.
#[derive(Clone)]
pub struct CoordinatorHandle {
    deployments: Arc<Vec<CoordinatedDeployment>>,
    start: mpsc::Sender<CoordinatedDeployment>,
    /// The deployment running now, if any.
    running: Arc<Mutex<Option<String>>>,
}

impl CoordinatorHandle {
    /// Starts deployment `name`: the message of the command's answer, or why not.
    pub fn start(&self, name: Option<&str>) -> Result<String, String> {
        let known = || {
            self.deployments
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(name) = name else {
            return Err(format!(
                "which deployment? send {{\"deployment\": \"…\"}}; configured: {}",
                known()
            ));
        };
        let Some(d) = self.deployments.iter().find(|d| d.name == name) else {
            return Err(format!(
                "no coordinated deployment `{name}`; configured: {}",
                known()
            ));
        };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(now) = running.as_ref() {
            return Err(format!(
                "coordinated deployment `{now}` is running; one at a time"
            ));
        }
        self.start
            .try_send(d.clone())
            .map_err(|_| "the coordinator has stopped".to_string())?;
        *running = Some(d.name.clone());
        let order: Vec<String> = d.steps.iter().map(Step::label).collect();
        Ok(format!("started `{name}`: {}", order.join(" → ")))
    }
}

/// The task.
pub struct Coordinator {
    deployments: Arc<Vec<CoordinatedDeployment>>,
    state: StateHandle,
    /// Where progress goes (the state task, for HA).
    events: mpsc::Sender<Event>,
    commands: CommandHandle,
    start: mpsc::Receiver<CoordinatedDeployment>,
    running: Arc<Mutex<Option<String>>>,
}

/// How often a step's run is looked for besides the changes that announce it.
const LOOK_EVERY: Duration = Duration::from_secs(5);

impl Coordinator {
    pub fn new(
        deployments: Vec<CoordinatedDeployment>,
        state: StateHandle,
        events: mpsc::Sender<Event>,
        commands: CommandHandle,
    ) -> (Coordinator, CoordinatorHandle) {
        let (tx, start) = mpsc::channel(1);
        let running = Arc::new(Mutex::new(None));
        let deployments = Arc::new(deployments);
        let handle = CoordinatorHandle {
            deployments: deployments.clone(),
            start: tx,
            running: running.clone(),
        };
        let task = Coordinator {
            deployments,
            state,
            events,
            commands,
            start,
            running,
        };
        (task, handle)
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        // Every deployment is known to HA from the start, as idle.
        for d in self.deployments.iter() {
            self.report(CoordinationStatus::idle(d)).await;
        }
        loop {
            let d = tokio::select! {
                _ = cancel.cancelled() => return,
                d = self.start.recv() => match d { Some(d) => d, None => return },
            };
            let started = Utc::now();
            let outcome = self.deploy(&d, started, &cancel).await;
            let (state, step, reason) = match &outcome {
                Outcome::Succeeded => (
                    Progress::Succeeded,
                    d.steps.len() - 1,
                    format!("every step of `{}` succeeded", d.name),
                ),
                Outcome::Stopped { step, reason } => (Progress::Failed, *step, reason.clone()),
            };
            self.report(CoordinationStatus {
                state,
                step: Some(step + 1),
                current: d.steps.get(step).map(Step::label),
                reason: Some(reason),
                started_at: Some(started),
                finished_at: Some(Utc::now()),
                ..CoordinationStatus::idle(&d)
            })
            .await;
            match &outcome {
                Outcome::Succeeded => {
                    tracing::info!("coordinated deployment `{}` succeeded", d.name)
                }
                Outcome::Stopped { step, reason } => tracing::warn!(
                    "coordinated deployment `{}` stopped at step {} of {} ({}): {reason}",
                    d.name,
                    step + 1,
                    d.steps.len(),
                    d.steps[*step].label()
                ),
            }
            *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Runs the steps in order; the first that does not succeed stops the rest.
    async fn deploy(
        &self,
        d: &CoordinatedDeployment,
        started: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Outcome {
        for (i, step) in d.steps.iter().enumerate() {
            let of = format!("`{}` step {} of {}", d.name, i + 1, d.steps.len());
            self.report(CoordinationStatus {
                state: Progress::Running,
                step: Some(i + 1),
                current: Some(step.label()),
                started_at: Some(started),
                ..CoordinationStatus::idle(d)
            })
            .await;
            let Some(repo_id) = self.repo_id(step) else {
                return Outcome::Stopped {
                    step: i,
                    reason: format!("{} is not a watched repository", step.label()),
                };
            };
            let result = self.dispatch(d, i, started).await;
            if !result.ok {
                let reason = format!("dispatch refused: {}", result.message);
                self.announce(repo_id, step, "coordinated_failed", &of, &reason, None);
                return Outcome::Stopped { step: i, reason };
            }
            self.announce(
                repo_id,
                step,
                "coordinated_dispatched",
                &of,
                &result.message,
                result.url.clone(),
            );
            let ended = tokio::select! {
                _ = cancel.cancelled() => return Outcome::Stopped { step: i, reason: "the daemon stopped".into() },
                ended = tokio::time::timeout(d.step_timeout, self.wait(repo_id, step, result.run_id, started)) => ended,
            };
            let (state, url) = match ended {
                Ok(done) => done,
                Err(_) => {
                    let reason = format!("its run did not finish within {:?}", d.step_timeout);
                    self.announce(repo_id, step, "coordinated_failed", &of, &reason, None);
                    return Outcome::Stopped { step: i, reason };
                }
            };
            if state != RunState::Success {
                let reason = format!("its run ended {}", state.as_str());
                self.announce(repo_id, step, "coordinated_failed", &of, &reason, Some(url));
                return Outcome::Stopped { step: i, reason };
            }
            if i + 1 == d.steps.len() {
                self.announce(
                    repo_id,
                    step,
                    "coordinated_succeeded",
                    &of,
                    &format!("every step of `{}` succeeded", d.name),
                    Some(url),
                );
            }
        }
        Outcome::Succeeded
    }

    async fn dispatch(
        &self,
        d: &CoordinatedDeployment,
        i: usize,
        started: DateTime<Utc>,
    ) -> crate::commands::CommandResult {
        let step = &d.steps[i];
        self.commands
            .execute(Command {
                source: CommandSource::Policy,
                owner: step.owner.clone(),
                name: step.name.clone(),
                action: Action::Dispatch,
                params: Params {
                    request_id: Some(format!(
                        "coordinate-{}-{}-{i}",
                        d.name,
                        started.timestamp_millis()
                    )),
                    workflow: Some(step.workflow.clone()),
                    ..Params::default()
                },
            })
            .await
    }

    /// Tells the state (and so HA) where a deployment is.
    async fn report(&self, status: CoordinationStatus) {
        let _ = self.events.send(Event::Coordinated(Box::new(status))).await;
    }

    fn repo_id(&self, step: &Step) -> Option<u64> {
        let snapshot = self.state.snapshot();
        snapshot
            .repos
            .values()
            .find(|v| v.repo.is(&step.owner, &step.name))
            .map(|v| v.repo.id)
    }

    /// Waits until the dispatched run completes: its id when GitHub gave it, else the
    /// newest `workflow_dispatch` run of the workflow created since the deployment began.
    async fn wait(
        &self,
        repo_id: u64,
        step: &Step,
        mut run_id: Option<u64>,
        since: DateTime<Utc>,
    ) -> (RunState, String) {
        let mut changes = self.state.subscribe();
        let mut look = tokio::time::interval(LOOK_EVERY);
        loop {
            let snapshot = self.state.snapshot();
            let latest = snapshot.repos.get(&repo_id).and_then(|v| {
                v.workflows
                    .iter()
                    .find(|w| w.workflow.file_name() == step.workflow)
                    .and_then(|w| w.last_run.clone())
            });
            if let Some(run) = latest {
                let ours = match run_id {
                    Some(id) => run.id == id,
                    None => {
                        run.event == "workflow_dispatch"
                            && run.created_at >= since - chrono::Duration::seconds(5)
                    }
                };
                if ours {
                    run_id = Some(run.id);
                    if run.finished_at.is_some() || RunState::CONCLUSIONS.contains(&run.status) {
                        return (run.status, run.url);
                    }
                }
            }
            tokio::select! {
                _ = look.tick() => {}
                change = changes.recv() => match change {
                    Ok(Change::RunCompleted { repo_id: r, run }) if r == repo_id && Some(run.id) == run_id => {
                        return (run.status, run.url);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        return (RunState::Unknown, String::new());
                    }
                },
            }
        }
    }

    fn announce(
        &self,
        repo_id: u64,
        step: &Step,
        event_type: &'static str,
        of: &str,
        message: &str,
        url: Option<String>,
    ) {
        self.state.announce_recovery(
            repo_id,
            super::RecoveryEvent {
                event_type,
                repository: format!("{}/{}", step.owner, step.name),
                run_id: 0,
                attempt: 1,
                reason: format!("coordinated deployment {of}"),
                message: message.to_string(),
                url,
            },
        );
    }
}
