//! State and event payloads: what the discovery templates read. Pure functions.
//!
//! One retained JSON snapshot per repository (`…/state`); each entity's template picks its
//! value, so an entity's state is always a short scalar (HA caps states at 255 characters)
//! and details travel as attributes. `null` renders as `None`, which HA shows as unknown.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::model::GitHubStatus;
use crate::state::{RepoView, RunSummary, Snapshot};

/// HA's limit for a state and for text attributes we put in front of users.
pub const MAX_STATE_LEN: usize = 255;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

use crate::text::truncate;

fn round(v: Option<f64>, digits: i32) -> Option<f64> {
    let f = 10f64.powi(digits);
    v.map(|x| (x * f).round() / f)
}

/// Whole seconds: HA shows `360`, not `360.0`, as the state of a duration sensor.
fn secs(v: Option<f64>) -> Option<i64> {
    v.map(|x| x.round() as i64)
}

/// Attributes of the last run (and each workflow's last run).
#[derive(Debug, Serialize)]
pub struct RunAttributes {
    pub run_id: u64,
    pub attempt: u32,
    pub run_number: u64,
    pub workflow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_file: Option<String>,
    pub branch: Option<String>,
    pub sha: String,
    pub trigger: String,
    pub status: &'static str,
    pub title: Option<String>,
    pub actor: Option<String>,
    pub url: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_s: Option<i64>,
    pub queue_s: Option<i64>,
    pub failed_jobs: Vec<String>,
    /// `infrastructure`, `timeout`, `flaky`, `real` or `unknown`, once the jobs are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

impl RunAttributes {
    pub fn of(run: &RunSummary) -> RunAttributes {
        RunAttributes {
            run_id: run.id,
            attempt: run.attempt,
            run_number: run.run_number,
            workflow: truncate(&run.workflow, MAX_STATE_LEN),
            workflow_file: run.workflow_file.clone(),
            branch: run.branch.clone(),
            sha: run.sha.clone(),
            trigger: run.event.clone(),
            status: run.status.as_str(),
            title: run.title.as_deref().map(|t| truncate(t, MAX_STATE_LEN)),
            actor: run.actor.clone(),
            url: run.url.clone(),
            created_at: ts(run.created_at),
            started_at: run.started_at.map(ts),
            finished_at: run.finished_at.map(ts),
            duration_s: secs(run.duration_s),
            queue_s: secs(run.queue_s),
            failed_jobs: run.failed_jobs.clone(),
            failure_class: run.failure_class.map(|c| c.as_str()),
            failure_reason: run
                .failure_reason
                .as_deref()
                .map(|r| truncate(r, MAX_STATE_LEN)),
        }
    }
}

/// One workflow's numbers, in the health score's attributes.
#[derive(Debug, Serialize)]
pub struct WorkflowAttributes {
    pub name: String,
    pub status: Option<&'static str>,
    pub health: &'static str,
    pub health_score: Option<u8>,
    pub success_rate: Option<f64>,
    pub failure_streak: u32,
    pub last_run_url: Option<String>,
}

/// The retained JSON on `<base>/repo/<owner>/<repo>/state`.
#[derive(Debug, Serialize)]
pub struct RepoState {
    /// The latest health-check run (`ok`, `checked_at`, `failures`); only with
    /// `health_checks`, `null` until the first has run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Option<HealthCheckState>>,
    /// The policy switches (`auto_retry`, `auto_rollback`) its settings configure: `ON`/`OFF`.
    pub switches: BTreeMap<&'static str, &'static str>,
    pub status: Option<&'static str>,
    pub finished_at: Option<String>,
    pub duration_s: Option<i64>,
    pub success_rate: Option<f64>,
    pub health_score: Option<u8>,
    pub health: &'static str,
    pub duration_p50_s: Option<i64>,
    pub duration_p95_s: Option<i64>,
    pub queue_p50_s: Option<i64>,
    pub mttr_s: Option<i64>,
    pub failure_streak: u32,
    pub runs_per_day: f64,
    pub failing: bool,
    pub running: bool,
    pub last_run: Option<RunAttributes>,
    /// Keyed by workflow file name (`ci.yml`), which is unique where names are not.
    pub workflows: BTreeMap<String, WorkflowAttributes>,
    /// HA's `update` JSON per workflow template id; empty when no target names the
    /// repository (or the template watch has not read it yet).
    pub templates: BTreeMap<String, TemplateUpdate>,
    /// The `update` entities' attributes, apart: HA refuses unknown keys in update JSON.
    pub template_attributes: BTreeMap<String, TemplateAttributes>,
    pub template_drift: TemplateDrift,
    /// The service-level objectives against the repository's `slo:` targets.
    pub slo: crate::recovery::slo::Objectives,
    /// The quality gate's verdict (`passing`, `failing`); only with `quality_gate`, `null`
    /// until judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_gate: Option<Option<crate::recovery::GateVerdict>>,
}

/// What an MQTT `update` entity reads (HA core `mqtt/update.py`: `installed_version`,
/// `latest_version`, `title`, `release_summary` of at most 255 characters; any other key
/// fails HA's schema and the whole message is dropped).
#[derive(Debug, Serialize)]
pub struct TemplateUpdate {
    pub installed_version: String,
    pub latest_version: String,
    pub title: String,
    pub release_summary: String,
}

#[derive(Debug, Serialize)]
pub struct TemplateAttributes {
    /// `up to date`, `update available`, `not deployed` or `drifted`.
    pub state: &'static str,
    pub branch: String,
    pub drifted: Vec<String>,
}

/// The drift sensor's state and attributes.
#[derive(Debug, Default, Serialize)]
pub struct TemplateDrift {
    /// Files edited by hand since our deploy.
    pub files: Vec<String>,
    /// Why the repository's templates could not be read just now.
    pub error: Option<String>,
}

/// What a template not deployed yet shows as its installed version: not a version, so HA
/// (which compares versions, and calls any pair it cannot compare an update) offers it.
pub const NOT_INSTALLED: &str = "not installed";

type TemplatePayloads = (
    BTreeMap<String, TemplateUpdate>,
    BTreeMap<String, TemplateAttributes>,
    TemplateDrift,
);

fn template_updates(view: &RepoView) -> TemplatePayloads {
    let Some(report) = &view.templates else {
        return Default::default();
    };
    let mut attributes = BTreeMap::new();
    let updates = report
        .templates
        .iter()
        .filter_map(|t| {
            let latest = t.latest.clone()?;
            let summary = if t.changes.is_empty() {
                format!("{} is up to date", t.id)
            } else {
                t.changes.join("; ")
            };
            attributes.insert(
                t.id.clone(),
                TemplateAttributes {
                    state: t.state().as_str(),
                    branch: report.branch.clone(),
                    drifted: t.drifted.clone(),
                },
            );
            Some((
                t.id.clone(),
                TemplateUpdate {
                    installed_version: t
                        .installed
                        .clone()
                        .unwrap_or_else(|| NOT_INSTALLED.to_string()),
                    latest_version: latest,
                    title: format!("Workflow template {}", t.id),
                    release_summary: truncate(&summary, MAX_STATE_LEN),
                },
            ))
        })
        .collect();
    let drift = TemplateDrift {
        files: report.drifted().into_iter().map(str::to_string).collect(),
        error: report.error.clone(),
    };
    (updates, attributes, drift)
}

/// A health-check run as the *Health check* sensor reads it.
#[derive(Debug, Serialize)]
pub struct HealthCheckState {
    pub ok: bool,
    pub checked_at: String,
    pub failures: Vec<String>,
}

/// `ON`/`OFF` of each policy switch the repository's settings configure.
fn switch_states(view: &RepoView) -> BTreeMap<&'static str, &'static str> {
    use crate::recovery::switches::payload;
    view.policy
        .switches()
        .into_iter()
        .map(|s| (s.key(), payload(view.switch_on(s))))
        .collect()
}

pub fn repo_state(view: &RepoView) -> RepoState {
    let h = &view.health;
    let last = view.last_run.as_ref();
    let (templates, template_attributes, template_drift) = template_updates(view);
    RepoState {
        health_check: view.policy.health.as_ref().map(|_| {
            view.health_check.as_ref().map(|r| HealthCheckState {
                ok: r.ok,
                checked_at: ts(r.checked_at),
                failures: r
                    .failures
                    .iter()
                    .take(10)
                    .map(|f| truncate(f, MAX_STATE_LEN))
                    .collect(),
            })
        }),
        switches: switch_states(view),
        slo: crate::recovery::slo::objectives(h, &view.policy.slo),
        quality_gate: view
            .policy
            .gate
            .as_ref()
            .map(|_| view.gate.as_deref().cloned()),
        templates,
        template_attributes,
        template_drift,
        status: last.map(|r| r.status.as_str()),
        finished_at: last.and_then(|r| r.finished_at).map(ts),
        duration_s: secs(last.and_then(|r| r.duration_s)),
        success_rate: round(h.success_rate, 1),
        health_score: h.score,
        health: h.level.as_str(),
        duration_p50_s: secs(h.duration_p50_s),
        duration_p95_s: secs(h.duration_p95_s),
        queue_p50_s: secs(h.queue_p50_s),
        mttr_s: secs(h.mttr_s),
        failure_streak: h.failure_streak,
        runs_per_day: round(Some(h.runs_per_day), 2).unwrap_or(0.0),
        failing: h.failing,
        running: h.running,
        last_run: last.map(RunAttributes::of),
        workflows: view
            .workflows
            .iter()
            .map(|w| {
                let key = if w.workflow.path.is_empty() {
                    w.workflow.name.clone()
                } else {
                    w.workflow.file_name().to_string()
                };
                (
                    key,
                    WorkflowAttributes {
                        name: truncate(&w.workflow.name, MAX_STATE_LEN),
                        status: w.last_run.as_ref().map(|r| r.status.as_str()),
                        health: w.health.level.as_str(),
                        health_score: w.health.score,
                        success_rate: round(w.health.success_rate, 1),
                        failure_streak: w.health.failure_streak,
                        last_run_url: w.last_run.as_ref().map(|r| r.url.clone()),
                    },
                )
            })
            .collect(),
    }
}

/// The (not retained) JSON on `<base>/repo/<owner>/<repo>/events` when a run completes.
/// `repository` and the workflow's `failure_streak` let automations (and the blueprints)
/// act without looking anything else up.
#[derive(Debug, Serialize)]
pub struct RunEvent {
    pub event_type: &'static str,
    pub repository: String,
    /// The workflow's failure streak on the default branch after this run.
    pub failure_streak: u32,
    #[serde(flatten)]
    pub run: RunAttributes,
}

pub fn run_event(view: &RepoView, run: &RunSummary) -> RunEvent {
    let failure_streak = view
        .workflows
        .iter()
        .find(|w| w.workflow.id == run.workflow_id)
        .map_or(0, |w| w.health.failure_streak);
    RunEvent {
        event_type: run.status.as_str(),
        repository: view.repo.full_name(),
        failure_streak,
        run: RunAttributes::of(run),
    }
}

#[derive(Debug, Serialize)]
pub struct GitHubAttributes {
    pub reachable: bool,
    pub error: Option<String>,
    pub rate_limit_remaining: Option<u32>,
    pub rate_limit_limit: Option<u32>,
    pub rate_limit_reset: Option<String>,
    pub last_poll: Option<String>,
}

/// The retained JSON on `<base>/bridge/state`.
#[derive(Debug, Serialize)]
pub struct BridgeState {
    pub version: &'static str,
    pub repositories: usize,
    pub github: GitHubAttributes,
    /// The *Automation paused* switch: `ON` stops every automatic action.
    pub automation_paused: &'static str,
    /// The *Configuration auto-deploy* switch.
    pub config_auto_deploy: &'static str,
    /// The *Template auto-update* switch.
    pub template_auto_update: &'static str,
    /// Each coordinated deployment's progress, by the slug of its name (what its status
    /// sensor reads); only with `coordinated_deployments`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub coordinated: BTreeMap<String, crate::recovery::CoordinationStatus>,
}

pub fn bridge_state(snapshot: &Snapshot) -> BridgeState {
    let g: &GitHubStatus = &snapshot.github;
    BridgeState {
        version: env!("CARGO_PKG_VERSION"),
        repositories: snapshot.repos.len(),
        automation_paused: crate::recovery::switches::payload(snapshot.automation_paused),
        config_auto_deploy: crate::recovery::switches::payload(snapshot.config_auto_deploy),
        template_auto_update: crate::recovery::switches::payload(snapshot.template_auto_update),
        coordinated: snapshot
            .coordinated
            .values()
            .map(|s| (crate::mqtt::topics::slug(&s.name), (**s).clone()))
            .collect(),
        github: GitHubAttributes {
            reachable: g.reachable,
            error: g.error.as_deref().map(|e| truncate(e, MAX_STATE_LEN)),
            rate_limit_remaining: g.rate_limit.map(|r| r.remaining),
            rate_limit_limit: g.rate_limit.map(|r| r.limit),
            rate_limit_reset: g.rate_limit.map(|r| ts(r.reset)),
            last_poll: g.last_poll.map(ts),
        },
    }
}

/// HA's `update` entity state for the configuration: installed = the deployed commit,
/// latest = the branch head, the release summary the commits in between.
/// HA drops the whole JSON when a key is `null` (each must be a string), so unknown ones
/// are left out.
#[derive(Debug, Serialize, PartialEq)]
pub struct ConfigurationUpdate {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_url: Option<String>,
    pub in_progress: bool,
}

/// One configuration deployment, as HA's entities show it.
#[derive(Debug, Serialize, PartialEq)]
pub struct ConfigDeploymentSummary {
    pub id: i64,
    pub commit: String,
    pub outcome: &'static str,
    pub trigger: String,
    pub message: String,
    pub files: usize,
    /// What HA had to do: `reload automation.reload`, `restart (…)`.
    pub action: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub url: String,
}

/// The retained JSON on `<base>/bridge/configuration`.
#[derive(Debug, Serialize, PartialEq)]
pub struct ConfigurationState {
    /// HA's `update` JSON. Not named `update`: in HA's templates `value_json.update` is the
    /// Python dict's method, not the key.
    pub versions: ConfigurationUpdate,
    pub deployed_commit: Option<String>,
    /// The branch head as last fetched (full id).
    pub branch_head: Option<String>,
    /// Subjects of the commits not deployed yet, newest first.
    pub pending: Vec<String>,
    pub deployed_at: Option<String>,
    /// The last deployment's outcome, `running` while one runs.
    pub outcome: Option<&'static str>,
    pub last: Option<ConfigDeploymentSummary>,
    pub fetch_error: Option<String>,
}

fn short(sha: &str) -> String {
    sha.get(..7).unwrap_or(sha).to_string()
}

pub fn config_deployment(
    view: &crate::config_deploy::ConfigDeployView,
    d: &crate::config_deploy::ConfigDeployment,
) -> ConfigDeploymentSummary {
    ConfigDeploymentSummary {
        id: d.id,
        commit: short(&d.commit),
        outcome: if d.status.is_finished() {
            d.status.as_str()
        } else {
            "running"
        },
        trigger: d.trigger.label(),
        message: truncate(&d.message, MAX_STATE_LEN),
        files: d.files.len(),
        action: d
            .impact
            .as_ref()
            .map(|i| truncate(&i.describe(), MAX_STATE_LEN)),
        started_at: ts(d.started_at),
        finished_at: d.finished_at.map(ts),
        duration_ms: d.duration_ms(),
        url: format!("{}/commit/{}", view.html_url, d.commit),
    }
}

pub fn configuration_state(view: &crate::config_deploy::ConfigDeployView) -> ConfigurationState {
    let installed = view.deployed.as_ref().map(|d| short(&d.commit));
    let latest = view
        .head
        .as_deref()
        .map(short)
        .or_else(|| installed.clone());
    let summary =
        (!view.pending.is_empty()).then(|| truncate(&view.pending.join("\n"), MAX_STATE_LEN));
    let release_url = match (&view.deployed, &view.head) {
        (Some(d), Some(h)) if &d.commit != h => {
            Some(format!("{}/compare/{}...{}", view.html_url, d.commit, h))
        }
        (_, Some(h)) => Some(format!("{}/commit/{h}", view.html_url)),
        _ => None,
    };
    ConfigurationState {
        versions: ConfigurationUpdate {
            title: format!("{} ({})", view.repository, view.branch),
            installed_version: installed,
            latest_version: latest,
            release_summary: summary,
            release_url,
            in_progress: view.in_progress(),
        },
        deployed_commit: view.deployed.as_ref().map(|d| d.commit.clone()),
        branch_head: view.head.clone(),
        pending: view
            .pending
            .iter()
            .map(|p| truncate(p, MAX_STATE_LEN))
            .collect(),
        deployed_at: view.deployed.as_ref().and_then(|d| d.finished_at).map(ts),
        outcome: view.last.as_ref().map(|d| {
            if d.status.is_finished() {
                d.status.as_str()
            } else {
                "running"
            }
        }),
        last: view.last.as_ref().map(|d| config_deployment(view, d)),
        fetch_error: view
            .fetch_error
            .as_deref()
            .map(|e| truncate(e, MAX_STATE_LEN)),
    }
}

/// The event on `<base>/bridge/configuration/events` when a deployment ends.
#[derive(Debug, Serialize, PartialEq)]
pub struct ConfigDeploymentEvent {
    pub event_type: &'static str,
    #[serde(flatten)]
    pub deployment: ConfigDeploymentSummary,
}

/// The outcomes the *Config deployment* event entity announces.
pub const CONFIG_DEPLOYMENT_EVENTS: &[&str] = &[
    "succeeded",
    "refused",
    "rolled_back",
    "failed",
    "interrupted",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_repository_reports_unknowns_as_null() {
        let view = crate::mqtt::discovery::empty_view(crate::model::Repository {
            id: 1,
            owner: "o".into(),
            name: "r".into(),
            default_branch: "main".into(),
            html_url: "https://github.com/o/r".into(),
            private: false,
            archived: false,
        });
        let v = serde_json::to_value(repo_state(&view)).unwrap();
        assert!(v["status"].is_null());
        assert!(v["success_rate"].is_null());
        assert_eq!(v["health"], "unknown");
        assert_eq!(v["failing"], false);
    }
}

/// One finding in the configuration check's attributes.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub code: String,
    pub severity: String,
    pub file: String,
    pub line: u32,
    pub message: String,
}

/// The retained JSON on `<base>/bridge/validation`.
#[derive(Debug, Serialize)]
pub struct ValidationState {
    /// Errors plus warnings: what a person should look at.
    pub problems: usize,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub files: usize,
    pub elapsed_ms: u64,
    pub checked_at: String,
    /// The most severe findings, at most [`TOP_FINDINGS`].
    pub top: Vec<Finding>,
}

/// How many findings travel as attributes (the rest are in `GET /api/validation`).
pub const TOP_FINDINGS: usize = 10;

pub fn validation_state(
    report: &crate::validate::Report,
    checked_at: DateTime<Utc>,
) -> ValidationState {
    let mut worst: Vec<&crate::validate::Diagnostic> = report.diagnostics.iter().collect();
    worst.sort_by_key(|d| std::cmp::Reverse(d.severity));
    let s = &report.summary;
    ValidationState {
        problems: s.errors + s.warnings,
        errors: s.errors,
        warnings: s.warnings,
        info: s.info,
        files: s.files,
        elapsed_ms: s.elapsed_ms,
        checked_at: ts(checked_at),
        top: worst
            .into_iter()
            .take(TOP_FINDINGS)
            .map(|d| Finding {
                code: d.code.to_string(),
                severity: d.severity.to_string(),
                file: d.file.clone(),
                line: d.line,
                message: truncate(&d.message, MAX_STATE_LEN),
            })
            .collect(),
    }
}
