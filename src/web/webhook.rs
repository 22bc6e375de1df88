//! `POST /webhook/github`: verify, dedupe, answer fast, hand the work to the processor.
//!
//! Order matters: the signature is checked over the raw body before anything parses it;
//! a malformed body is refused before the delivery is recorded (so a fixed redelivery is
//! still processed); the delivery GUID is recorded before the answer, so a redelivery of a
//! processed delivery is recognised even after a restart. Parsing and the work itself
//! (turning payloads into state events) belong to the GitHub source,
//! [`crate::github::webhook`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::WebContext;
use crate::github::webhook::{HANDLED, WebhookJob, Work, parse_delivery, verify_signature};

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The handler: answers within GitHub's 10 s and queues the work.
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
    let parsed = match parse_delivery(&event, &body) {
        Ok(p) => p,
        Err(message) => return reject(StatusCode::BAD_REQUEST, message),
    };
    // The raw body is not needed past this point; don't hold megabytes across awaits.
    drop(body);
    let action = parsed.action;

    let first = ctx
        .deliveries
        .record(delivery.clone(), event.clone(), action)
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
        let zen = parsed.zen.unwrap_or_default();
        tracing::info!("GitHub webhook ping: {zen}");
        let _ = ctx.webhook_jobs.try_send(WebhookJob {
            delivery,
            work: Work::Nothing,
        });
        return reply(StatusCode::OK, json!({ "status": "pong" }));
    }
    if !HANDLED.contains(&event.as_str()) {
        stats.processed.fetch_add(1, Ordering::Relaxed);
        let _ = ctx.deliveries.mark_processed(delivery).await;
        return reply(
            StatusCode::ACCEPTED,
            json!({ "status": "ignored", "event": event }),
        );
    }
    match ctx.webhook_jobs.try_send(WebhookJob {
        delivery: delivery.clone(),
        work: parsed.work,
    }) {
        Ok(()) => reply(
            StatusCode::ACCEPTED,
            json!({ "status": "accepted", "delivery": delivery }),
        ),
        Err(_) => {
            // Forget it so GitHub's redelivery (or the user's) is processed; polling fills
            // the gap meanwhile.
            let guid = delivery.clone();
            let _ = ctx.deliveries.forget(guid).await;
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "busy; redeliver later" }),
            )
        }
    }
}
