//! The HTTP server (axum): GitHub webhooks, the JSON API with its event stream, Prometheus
//! metrics, health, the MCP server (`crate::mcp`), and the dashboard, which works under any path prefix (HA ingress, a
//! reverse proxy's sub-path).
//!
//! Handlers only read the state snapshot and the store, or hand work to the command executor
//! and the webhook processor; nothing here owns state.

pub mod api;
pub mod auth;
pub mod prometheus;
pub mod ui;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::commands::CommandHandle;
use crate::settings::{GitHubSettings, Secret};
use crate::state::StateHandle;
use crate::store::{CommandLog, Deliveries, RunHistory};

/// GitHub's cap on a webhook payload; larger deliveries are never sent, so refuse them.
pub const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;

pub use crate::github::webhook::WebhookStats;

/// The latest validation (and security scan) of the HA configuration directory, if
/// validation is on.
pub type ValidationWatch = crate::config_watch::Reports;

/// Everything handlers need; shared by all requests.
pub struct WebContext {
    pub state: StateHandle,
    /// Run history, read-only.
    pub history: RunHistory,
    /// The command audit trail, read by `/api/commands`.
    pub audit: CommandLog,
    /// Webhook deliveries seen, for redelivery dedupe.
    pub deliveries: Deliveries,
    pub commands: CommandHandle,
    pub github: Arc<GitHubSettings>,
    pub api_token: Option<Secret>,
    /// Webhook work goes here after the answer (bounded: a full queue answers 503).
    pub webhook_jobs: mpsc::Sender<crate::github::webhook::WebhookJob>,
    pub webhook_stats: Arc<WebhookStats>,
    pub poll_now: Arc<Notify>,
    pub metrics_window: Duration,
    pub validation: Option<ValidationWatch>,
    /// Asks the validator to run now (`POST /api/validation`).
    pub validate_now: Option<Arc<Notify>>,
    /// Ends long-lived responses (the event stream) on shutdown.
    pub shutdown: CancellationToken,
    /// Which of the daemon's tasks died; `/healthz` fails while any has.
    pub tasks: Arc<crate::supervise::TaskHealth>,
    /// The MQTT topics and announced checks, so `/api/lovelace` names the entities the
    /// bridge announces.
    pub topics: crate::mqtt::Topics,
    pub checks: crate::mqtt::discovery::Checks,
    /// Networks whose MCP requests need no token (`http.mcp_trusted_networks`).
    pub mcp_trusted: Vec<ipnet::IpNet>,
}

/// All routes.
pub fn router(ctx: Arc<WebContext>) -> Router {
    Router::new()
        .route(
            "/webhook/github",
            post(webhook::receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY)),
        )
        .route("/api/repos", get(api::repos))
        .route(
            "/api/workflow-status/{owner}/{repo}",
            get(api::workflow_status),
        )
        .route(
            "/api/workflow-history/{owner}/{repo}",
            get(api::workflow_history),
        )
        .route("/api/workflow-metrics", get(api::workflow_metrics))
        .route(
            "/api/repos/{owner}/{repo}/commands/{action}",
            post(api::command),
        )
        .route("/api/events", get(api::events))
        .route("/api/commands", get(api::commands))
        .route(
            "/api/validation",
            get(api::validation).post(api::validate_now),
        )
        .route("/api/security", get(api::security))
        .route("/api/lovelace", get(api::lovelace))
        .route("/api/config-deployments", get(api::config_deployments))
        .route("/metrics", get(prometheus::metrics))
        .route("/healthz", get(api::healthz))
        .route("/", get(ui::index))
        .route("/assets/{file}", get(ui::asset))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(ctx.clone())
        .merge(crate::mcp::router(ctx))
}

/// How long in-flight requests may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves until cancelled, then lets in-flight requests finish for up to [`DRAIN`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("HTTP on {addr}");
    }
    let shutdown = cancel.clone();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await });
    tokio::select! {
        result = server => result,
        // A client that never finishes (a stuck download) must not hold up shutdown.
        _ = async { cancel.cancelled().await; tokio::time::sleep(DRAIN).await } => {
            tracing::warn!("HTTP requests still open after {DRAIN:?}; closing them");
            Ok(())
        }
    }
}
