//! `POST /webhook/github`: verify, dedupe, answer fast, process behind the answer.
//!
//! Order matters: the signature is checked over the raw body before anything parses it;
//! a malformed body is refused before the delivery is recorded (so a fixed redelivery is
//! still processed); the delivery GUID is recorded before the answer, so a redelivery of a
//! processed delivery is recognised even after a restart. The work itself (turning payloads
//! into state events) happens on [`WebhookProcessor`], after the answer: GitHub gives us 10 s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::{WebContext, WebhookStats};
use crate::github::models::{ApiJob, ApiRun};
use crate::model::{Event, Source};
use crate::store::Store;

/// Events we act on; every other event is acknowledged and ignored.
const HANDLED: &[&str] = &["ping", "workflow_run", "workflow_job", "push"];

/// A verified, parsed, first-time delivery.
#[derive(Debug)]
pub struct WebhookJob {
    pub delivery: String,
    pub event: String,
    pub payload: Value,
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
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

pub async fn receive(
    State(ctx): State<Arc<WebContext>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stats = &ctx.webhook_stats;
    stats.received.fetch_add(1, Ordering::Relaxed);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let reject = |status: StatusCode, message: String| {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%peer, "webhook refused ({status}): {message}");
        reply(status, json!({ "error": message }))
    };

    match &ctx.github.webhook_secret {
        Some(secret) => {
            if header("x-hub-signature-256").is_none() {
                return reject(
                    StatusCode::UNAUTHORIZED,
                    "missing X-Hub-Signature-256".into(),
                );
            }
            if !verify_signature(
                secret.expose().as_bytes(),
                &body,
                header("x-hub-signature-256"),
            ) {
                return reject(
                    StatusCode::UNAUTHORIZED,
                    "signature does not match the body; check github.webhook_secret".into(),
                );
            }
        }
        None if ctx.github.allow_unsigned_webhooks => {}
        None => {
            return reject(
                StatusCode::NOT_FOUND,
                "webhooks are off: set github.webhook_secret (and the same secret on GitHub)"
                    .into(),
            );
        }
    }
    let Some(event) = header("x-github-event").map(str::to_string) else {
        return reject(StatusCode::BAD_REQUEST, "missing X-GitHub-Event".into());
    };
    let Some(delivery) = header("x-github-delivery")
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.len() <= 100)
        .map(str::to_string)
    else {
        return reject(
            StatusCode::BAD_REQUEST,
            "missing or invalid X-GitHub-Delivery".into(),
        );
    };
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "the payload is not a JSON object".into(),
            );
        }
        Err(e) => {
            // Form-encoded deliveries are a hook setting; say which one.
            let hint = if body.starts_with(b"payload=") {
                " (set the webhook's content type to application/json)"
            } else {
                ""
            };
            return reject(
                StatusCode::BAD_REQUEST,
                format!("malformed JSON: {e}{hint}"),
            );
        }
    };
    let action = payload
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_string);

    let (guid, ev) = (delivery.clone(), event.clone());
    let first = ctx
        .store
        .call(move |db| db.record_delivery(&guid, &ev, action.as_deref()))
        .await;
    match first {
        Ok(true) => {}
        Ok(false) => {
            stats.duplicates.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::OK,
                json!({ "status": "duplicate", "delivery": delivery }),
            );
        }
        Err(e) => {
            tracing::error!("recording webhook delivery {delivery}: {e}");
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "store unavailable; redeliver later" }),
            );
        }
    }
    if event == "ping" {
        let zen = payload
            .get("zen")
            .and_then(|z| z.as_str())
            .unwrap_or("")
            .to_string();
        tracing::info!("GitHub webhook ping: {zen}");
        let _ = ctx.webhook_jobs.try_send(WebhookJob {
            delivery,
            event,
            payload,
        });
        return reply(StatusCode::OK, json!({ "status": "pong" }));
    }
    if !HANDLED.contains(&event.as_str()) {
        stats.processed.fetch_add(1, Ordering::Relaxed);
        let _ = ctx
            .store
            .call(move |db| db.mark_delivery_processed(&delivery))
            .await;
        return reply(
            StatusCode::ACCEPTED,
            json!({ "status": "ignored", "event": event }),
        );
    }
    match ctx.webhook_jobs.try_send(WebhookJob {
        delivery: delivery.clone(),
        event,
        payload,
    }) {
        Ok(()) => reply(
            StatusCode::ACCEPTED,
            json!({ "status": "accepted", "delivery": delivery }),
        ),
        Err(_) => {
            // Forget it so GitHub's redelivery (or the user's) is processed; polling fills
            // the gap meanwhile.
            let guid = delivery.clone();
            let _ = ctx.store.call(move |db| db.forget_delivery(&guid)).await;
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "busy; redeliver later" }),
            )
        }
    }
}

/// Turns accepted deliveries into state events, after the HTTP answer.
pub struct WebhookProcessor {
    jobs: mpsc::Receiver<WebhookJob>,
    events: mpsc::Sender<Event>,
    store: Store,
    poll_now: Arc<Notify>,
    stats: Arc<WebhookStats>,
}

impl WebhookProcessor {
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
                store,
                poll_now,
                stats,
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
            self.process(&job).await;
            self.stats.processed.fetch_add(1, Ordering::Relaxed);
            let guid = job.delivery.clone();
            if let Err(e) = self
                .store
                .call(move |db| db.mark_delivery_processed(&guid))
                .await
            {
                tracing::warn!("marking delivery {} processed: {e}", job.delivery);
            }
        }
        tracing::debug!("webhook processor stopped");
    }

    async fn process(&self, job: &WebhookJob) {
        let repo_id = job
            .payload
            .pointer("/repository/id")
            .and_then(Value::as_u64);
        let event = match job.event.as_str() {
            "workflow_run" => {
                let Some(run) = job.payload.get("workflow_run") else {
                    return tracing::warn!(
                        "workflow_run delivery {} without `workflow_run`",
                        job.delivery
                    );
                };
                match serde_json::from_value::<ApiRun>(run.clone()) {
                    Ok(run) => {
                        let run = run.into_model(repo_id.unwrap_or(0));
                        Event::Runs {
                            repo_id: run.repo_id,
                            runs: vec![run],
                            source: Source::Webhook,
                            initial: false,
                        }
                    }
                    Err(e) => return tracing::warn!("workflow_run delivery {}: {e}", job.delivery),
                }
            }
            "workflow_job" => {
                let (Some(repo_id), Some(j)) = (repo_id, job.payload.get("workflow_job")) else {
                    return tracing::warn!(
                        "workflow_job delivery {} without a job or repository",
                        job.delivery
                    );
                };
                match serde_json::from_value::<ApiJob>(j.clone()) {
                    Ok(j) => Event::Jobs {
                        repo_id,
                        jobs: vec![j.into_model(None)],
                    },
                    Err(e) => return tracing::warn!("workflow_job delivery {}: {e}", job.delivery),
                }
            }
            // New commits start runs; ask the poller to look now rather than in a minute.
            "push" => return self.poll_now.notify_one(),
            _ => return,
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
}
