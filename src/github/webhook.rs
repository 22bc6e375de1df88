//! GitHub's webhooks as a source, beside the poller: signature verification, the small
//! typed form of a delivery, and the processor that turns deliveries into state events.
//!
//! The HTTP side (`web::webhook`) checks the signature over the raw body before anything
//! parses it, records the delivery and answers; the work happens on [`WebhookProcessor`],
//! after the answer: GitHub gives us 10 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::models::{ApiJob, ApiRun};
use crate::model::{Event, Source};
use crate::store::{Deliveries, Store};

/// Counters shown on `/metrics`.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub received: AtomicU64,
    pub rejected: AtomicU64,
    pub duplicates: AtomicU64,
    pub processed: AtomicU64,
}

/// Events we act on; every other event is acknowledged and ignored.
pub const HANDLED: &[&str] = &["ping", "workflow_run", "workflow_job", "push", "deployment"];

/// A verified, parsed, first-time delivery, in the small typed form the processor needs.
///
/// Bodies can be megabytes (a `push` with many commits); the queue holds only what we act
/// on, a few hundred bytes a job, so a full backlog stays small on a small add-on host.
#[derive(Debug)]
pub struct WebhookJob {
    pub delivery: String,
    pub work: Work,
}

/// What a delivery asks of the processor.
#[derive(Debug)]
pub enum Work {
    /// A run started, progressed or completed.
    Run {
        repo_id: Option<u64>,
        run: Box<ApiRun>,
    },
    /// A job of a run changed; `repository` is its `owner/name`.
    Job {
        repo_id: u64,
        repository: Option<String>,
        job: Box<ApiJob>,
    },
    /// New commits: runs are about to start, so poll now (and, for the configuration
    /// repository's branch, deploy).
    Push {
        repository: Option<String>,
        git_ref: Option<String>,
        after: Option<String>,
    },
    /// A GitHub deployment was created (`deployment` event, action `created`).
    Deployment {
        repository: Option<String>,
        id: u64,
        sha: String,
        environment: String,
    },
    /// Nothing to do but mark it processed (`ping`).
    Nothing,
    /// A handled event whose payload lacks what we need; logged, then marked processed.
    Unusable(String),
}

/// The part of every delivery we read before deciding anything.
#[derive(Debug, Deserialize)]
struct Envelope {
    action: Option<String>,
    zen: Option<String>,
    repository: Option<RepoRef>,
    workflow_run: Option<Box<serde_json::value::RawValue>>,
    workflow_job: Option<Box<serde_json::value::RawValue>>,
    /// `push`: the ref pushed and its new head.
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    after: Option<String>,
    /// `deployment`.
    deployment: Option<DeploymentRef>,
}

#[derive(Debug, Deserialize)]
struct RepoRef {
    id: Option<u64>,
    full_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DeploymentRef {
    id: u64,
    sha: String,
    environment: String,
}

/// A delivery body read as far as we need it.
#[derive(Debug)]
pub struct Delivery {
    pub action: Option<String>,
    /// `ping`'s greeting.
    pub zen: Option<String>,
    pub work: Work,
}

/// Reads a delivery body for `event`: `Err` (answered 400, not recorded) when it is not a
/// JSON object at all. Payload parts we act on are parsed here into their typed form,
/// without building a tree of the whole body. Pure, so the fuzz tests call it directly.
pub fn parse_delivery(event: &str, body: &[u8]) -> Result<Delivery, String> {
    let starts_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_object {
        // Tell a malformed body from valid JSON of the wrong shape.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => "the payload is not a JSON object".to_string(),
                Err(e) => malformed(e, body),
            },
        );
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| malformed(e, body))?;
    let repo_id = envelope.repository.as_ref().and_then(|r| r.id);
    let repository = envelope
        .repository
        .as_ref()
        .and_then(|r| r.full_name.clone());
    let work = match event {
        "workflow_run" => match envelope.workflow_run {
            None => Work::Unusable("without `workflow_run`".into()),
            Some(raw) => match serde_json::from_str::<ApiRun>(raw.get()) {
                Ok(run) => Work::Run {
                    repo_id,
                    run: Box::new(run),
                },
                Err(e) => Work::Unusable(e.to_string()),
            },
        },
        "workflow_job" => match (repo_id, envelope.workflow_job) {
            (Some(repo_id), Some(raw)) => match serde_json::from_str::<ApiJob>(raw.get()) {
                Ok(job) => Work::Job {
                    repo_id,
                    repository: repository.clone(),
                    job: Box::new(job),
                },
                Err(e) => Work::Unusable(e.to_string()),
            },
            _ => Work::Unusable("without a job or repository".into()),
        },
        "push" => Work::Push {
            repository,
            git_ref: envelope.git_ref,
            after: envelope.after,
        },
        "deployment" if envelope.action.as_deref() == Some("created") => {
            match envelope.deployment {
                Some(d) => Work::Deployment {
                    repository,
                    id: d.id,
                    sha: d.sha,
                    environment: d.environment,
                },
                None => Work::Unusable("without `deployment`".into()),
            }
        }
        _ => Work::Nothing,
    };
    Ok(Delivery {
        action: envelope.action,
        zen: envelope.zen,
        work,
    })
}

fn malformed(e: serde_json::Error, body: &[u8]) -> String {
    // Form-encoded deliveries are a hook setting; say which one.
    let hint = if body.starts_with(b"payload=") {
        " (set the webhook's content type to application/json)"
    } else {
        ""
    };
    format!("malformed JSON: {e}{hint}")
}

/// Checks `X-Hub-Signature-256` (`sha256=<hex>`) over the raw body in constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The signature GitHub would send for `body` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Turns accepted deliveries into state events, after the HTTP answer.
pub struct WebhookProcessor {
    jobs: mpsc::Receiver<WebhookJob>,
    events: mpsc::Sender<Event>,
    deliveries: Deliveries,
    poll_now: Arc<Notify>,
    stats: Arc<WebhookStats>,
    /// Pushes to the configuration's branch and GitHub deployments of it go here.
    config_deploy: Option<crate::config_deploy::ConfigDeployHandle>,
    /// Reads what the runner said about a failed job ([`super::annotations`]).
    github: Option<super::GitHubClient>,
}

impl WebhookProcessor {
    /// Hands pushes and deployments of the configuration repository to its deployer.
    pub fn with_config_deploy(
        mut self,
        handle: Option<crate::config_deploy::ConfigDeployHandle>,
    ) -> Self {
        self.config_deploy = handle;
        self
    }

    /// Asks GitHub what the runner said about each failed job a delivery reports.
    pub fn with_github(mut self, gh: super::GitHubClient) -> Self {
        self.github = Some(gh);
        self
    }

    /// The processor and the sender the HTTP handler uses (capacity bounds the backlog).
    pub fn new(
        events: mpsc::Sender<Event>,
        store: Store,
        poll_now: Arc<Notify>,
        stats: Arc<WebhookStats>,
        capacity: usize,
    ) -> (WebhookProcessor, mpsc::Sender<WebhookJob>) {
        let (tx, jobs) = mpsc::channel(capacity);
        (
            WebhookProcessor {
                jobs,
                events,
                deliveries: Deliveries::new(&store),
                poll_now,
                stats,
                config_deploy: None,
                github: None,
            },
            tx,
        )
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            let job = tokio::select! {
                _ = cancel.cancelled() => break,
                job = self.jobs.recv() => match job { Some(j) => j, None => break },
            };
            let guid = job.delivery.clone();
            self.process(job).await;
            self.stats.processed.fetch_add(1, Ordering::Relaxed);
            let delivery = guid.clone();
            if let Err(e) = self.deliveries.mark_processed(guid).await {
                tracing::warn!("marking delivery {delivery} processed: {e}");
            }
        }
        tracing::debug!("webhook processor stopped");
    }

    async fn process(&self, job: WebhookJob) {
        let event = match job.work {
            Work::Run { repo_id, run } => {
                let run = run.into_model(repo_id.unwrap_or(0));
                Event::Runs {
                    repo_id: run.repo_id,
                    runs: vec![run],
                    source: Source::Webhook,
                    initial: false,
                }
            }
            Work::Job {
                repo_id,
                repository,
                job,
            } => {
                let mut jobs = vec![job.into_model(None)];
                // A failed job: what the runner said, if it broke (one request).
                if let (Some(gh), Some((owner, name))) = (
                    &self.github,
                    repository.as_deref().and_then(|r| r.split_once('/')),
                ) {
                    super::annotations::add_runner_messages(
                        gh,
                        super::api::Repo::new(owner, name),
                        &mut jobs,
                    )
                    .await;
                }
                Event::Jobs { repo_id, jobs }
            }
            // New commits start runs; ask the poller to look now rather than in a minute.
            Work::Push {
                repository,
                git_ref,
                after,
            } => {
                if let (Some(cd), Some(repo)) = (&self.config_deploy, repository.as_deref())
                    && let Some((owner, name)) = repo.split_once('/')
                    && cd.is_for(owner, name)
                    && git_ref.as_deref() == Some(&format!("refs/heads/{}", cd.branch()))
                    && after
                        .as_deref()
                        .is_some_and(|a| !a.trim_matches('0').is_empty())
                {
                    let request = crate::config_deploy::DeployRequest {
                        trigger: crate::config_deploy::Trigger::Push,
                        commit: after,
                        github_deployment: None,
                    };
                    if let Err(e) = cd.request(request) {
                        tracing::warn!("webhook {}: a push to {repo}: {e}", job.delivery);
                    }
                }
                return self.poll_now.notify_one();
            }
            Work::Deployment {
                repository,
                id,
                sha,
                environment,
            } => {
                if let (Some(cd), Some(repo)) = (&self.config_deploy, repository.as_deref())
                    && let Some((owner, name)) = repo.split_once('/')
                    && cd.is_for(owner, name)
                    && environment == cd.environment()
                {
                    let request = crate::config_deploy::DeployRequest {
                        trigger: crate::config_deploy::Trigger::GitHubDeployment { id },
                        commit: Some(sha),
                        github_deployment: Some(id),
                    };
                    if let Err(e) = cd.request(request) {
                        tracing::warn!("webhook {}: deployment {id} of {repo}: {e}", job.delivery);
                    }
                }
                return;
            }
            Work::Nothing => return,
            Work::Unusable(why) => {
                return tracing::warn!("webhook delivery {}: {why}", job.delivery);
            }
        };
        let _ = self.events.send(event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_documented_test_vector() {
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_signature(secret, body, Some(header)));
        assert_eq!(sign(secret, body), header);
        assert!(!verify_signature(secret, b"Hello, World?", Some(header)));
        assert!(!verify_signature(secret, body, Some("sha1=757107ea")));
        assert!(!verify_signature(secret, body, Some("sha256=zz")));
        assert!(!verify_signature(secret, body, None));
    }

    #[test]
    fn deliveries_parse_into_their_small_typed_form() {
        let run = include_str!("../../tests/fixtures/github/webhooks/workflow_run.completed.json");
        let parsed = parse_delivery("workflow_run", run.as_bytes()).unwrap();
        assert_eq!(parsed.action.as_deref(), Some("completed"));
        assert!(
            matches!(
                parsed.work,
                Work::Run {
                    repo_id: Some(_),
                    ..
                }
            ),
            "{:?}",
            parsed.work
        );
        assert!(matches!(
            parse_delivery("workflow_run", b"{\"action\":\"completed\"}")
                .unwrap()
                .work,
            Work::Unusable(_)
        ));
        assert!(matches!(
            parse_delivery("push", b" {}").unwrap().work,
            Work::Push { .. }
        ));
        assert_eq!(
            parse_delivery("ping", b"[1]").unwrap_err(),
            "the payload is not a JSON object"
        );
        assert!(
            parse_delivery("ping", b"{")
                .unwrap_err()
                .starts_with("malformed JSON")
        );
        assert!(
            parse_delivery("ping", b"payload=%7B")
                .unwrap_err()
                .contains("content type")
        );
    }
}
