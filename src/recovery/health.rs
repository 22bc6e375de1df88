//! Health checks: a repository's optional HTTP checks (what it deploys answers with the
//! expected status within a timeout) and checks of Home Assistant entities (one that must
//! be available, or in a given state), run on a schedule and right after each successful
//! run of its `deploy_workflow`. The result is the repository's *Health check* problem sensor.
//! A deploy stays *unproven* until a check after it passes; each report says which deploy
//! it judges and how many checks it has failed, so the rollback trigger
//! ([`super::rollback`]) can undo a deploy that succeeded but left things unhealthy.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::home_assistant::HomeAssistant;
use crate::model::{Event, RunState};
use crate::state::{Change, RepoView, StateHandle};

/// One entry of `health_checks:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Http(HttpCheck),
    Entity(EntityCheck),
}

/// One HTTP check.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub url: url::Url,
    pub expect_status: u16,
    pub timeout: Duration,
}

/// An entity of Home Assistant: healthy when it exists and is available (not
/// `unavailable`, not `unknown`), and in `state` when one is given.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityCheck {
    pub entity_id: String,
    pub state: Option<String>,
    pub timeout: Duration,
}

/// A repository's `health_checks:` and how often they run.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthPolicy {
    pub checks: Vec<Check>,
    pub every: Duration,
}

/// The latest run of a repository's checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub ok: bool,
    pub checked_at: DateTime<Utc>,
    /// One line per failed check: the URL and what went wrong.
    pub failures: Vec<String>,
    /// The newest successful deploy run, while no check after it has passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unproven_deploy: Option<UnprovenDeploy>,
}

/// A successful deploy run no health check has passed since.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnprovenDeploy {
    pub run_id: u64,
    pub run_number: u64,
    pub head_sha: String,
    /// Checks failed in a row since it (this report's included).
    pub failed_checks: u32,
}

/// Runs one HTTP check: `None` when it passed, else what went wrong.
pub async fn run_http_check(http: &reqwest::Client, check: &HttpCheck) -> Option<String> {
    let answer = http
        .get(check.url.clone())
        .timeout(check.timeout)
        .send()
        .await;
    match answer {
        Ok(r) if r.status().as_u16() == check.expect_status => None,
        Ok(r) => Some(format!(
            "{} answered {} (expected {})",
            check.url,
            r.status().as_u16(),
            check.expect_status
        )),
        Err(e) if e.is_timeout() => Some(format!(
            "{} did not answer within {:?}",
            check.url, check.timeout
        )),
        Err(e) => Some(format!("{}: {}", check.url, without_url(&e))),
    }
}

/// reqwest's error text without the URL it repeats (we say it first).
fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// Runs one entity check against HA (`None`: the settings refuse entity checks without
/// HA's API, so this is only a safeguard): `None` when it passed, else what went wrong.
pub async fn run_entity_check(ha: Option<&HomeAssistant>, check: &EntityCheck) -> Option<String> {
    let id = &check.entity_id;
    let Some(ha) = ha else {
        return Some(format!(
            "{id}: Home Assistant's API is not configured (`home_assistant:`)"
        ));
    };
    let state = match tokio::time::timeout(check.timeout, ha.state(id)).await {
        Err(_) => {
            return Some(format!(
                "{id}: Home Assistant did not answer within {:?}",
                check.timeout
            ));
        }
        Ok(Err(e)) => return Some(format!("{id}: {e}")),
        Ok(Ok(None)) => return Some(format!("{id} does not exist in Home Assistant")),
        Ok(Ok(Some(state))) => state,
    };
    match &check.state {
        Some(want) if &state != want => Some(format!("{id} is {state} (expected {want})")),
        None if state == "unavailable" || state == "unknown" => Some(format!("{id} is {state}")),
        _ => None,
    }
}

/// Runs every check of a policy.
pub async fn run_checks(
    http: &reqwest::Client,
    ha: Option<&HomeAssistant>,
    policy: &HealthPolicy,
) -> HealthReport {
    let mut failures = Vec::new();
    for check in &policy.checks {
        let failure = match check {
            Check::Http(c) => run_http_check(http, c).await,
            Check::Entity(c) => run_entity_check(ha, c).await,
        };
        failures.extend(failure);
    }
    HealthReport {
        ok: failures.is_empty(),
        checked_at: Utc::now(),
        failures,
        unproven_deploy: None,
    }
}

/// The task: each repository's checks on their schedule and after each successful deploy.
pub struct HealthWatch {
    state: StateHandle,
    events: mpsc::Sender<Event>,
    http: reqwest::Client,
    ha: Option<HomeAssistant>,
}

impl HealthWatch {
    /// `ha`: Home Assistant's API, for entity checks.
    pub fn new(
        state: StateHandle,
        events: mpsc::Sender<Event>,
        ha: Option<HomeAssistant>,
    ) -> HealthWatch {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "gitops-bridge/",
                env!("CARGO_PKG_VERSION"),
                " health check"
            ))
            .build()
            .unwrap_or_default();
        HealthWatch {
            state,
            events,
            http,
            ha,
        }
    }

    pub async fn run(self, cancel: CancellationToken) {
        let mut changes = self.state.subscribe();
        let mut last: HashMap<u64, tokio::time::Instant> = HashMap::new();
        // Per repository: its newest successful deploy, until a check passes after it.
        let mut unproven: HashMap<u64, UnprovenDeploy> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    let snapshot = self.state.snapshot();
                    for view in snapshot.repos.values() {
                        let Some(policy) = &view.policy.health else { continue };
                        let due = last.get(&view.repo.id).is_none_or(|at| at.elapsed() >= policy.every);
                        if due {
                            last.insert(view.repo.id, tokio::time::Instant::now());
                            self.check(view, policy, &mut unproven).await;
                        }
                    }
                }
                change = changes.recv() => match change {
                    Ok(Change::RunCompleted { repo_id, run }) => {
                        let snapshot = self.state.snapshot();
                        let Some(view) = snapshot.repos.get(&repo_id) else { continue };
                        let Some(policy) = &view.policy.health else { continue };
                        let deploy = view.policy.deploy_workflow.as_deref();
                        let deployed = deploy.is_some()
                            && run.workflow_file.as_deref() == deploy
                            && run.status == RunState::Success;
                        if deployed {
                            // What a rollback could undo: a deploy of the default branch.
                            if run.branch.as_deref() == Some(view.repo.default_branch.as_str()) {
                                unproven.insert(repo_id, UnprovenDeploy {
                                    run_id: run.id,
                                    run_number: run.run_number,
                                    head_sha: run.sha.clone(),
                                    failed_checks: 0,
                                });
                            }
                            last.insert(repo_id, tokio::time::Instant::now());
                            self.check(view, policy, &mut unproven).await;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    async fn check(
        &self,
        view: &Arc<RepoView>,
        policy: &HealthPolicy,
        unproven: &mut HashMap<u64, UnprovenDeploy>,
    ) {
        let mut report = run_checks(&self.http, self.ha.as_ref(), policy).await;
        if report.ok {
            unproven.remove(&view.repo.id);
        } else if let Some(deploy) = unproven.get_mut(&view.repo.id) {
            deploy.failed_checks += 1;
            report.unproven_deploy = Some(deploy.clone());
        }
        if !report.ok {
            tracing::warn!(
                "health check of {} failed: {}",
                view.repo.full_name(),
                report.failures.join("; ")
            );
        }
        let _ = self
            .events
            .send(Event::HealthCheck {
                repo_id: view.repo.id,
                report: Arc::new(report),
            })
            .await;
    }
}
