//! Wiring: start the tasks, connect their channels, shut down cleanly.
//!
//! ```text
//!  poller ────────────┐                   ┌─► MQTT bridge ◄──► MQTT pump ◄──► broker
//!  webhook processor ─┼─Event──► state ──┤       │ command topics
//!  template watch ────┘            │      └─► web (API, SSE, /metrics, UI)
//!                                store          │ POST commands
//!                                  ▲      command executor ──► GitHub
//!  config watch ──Report──► MQTT bridge, web
//! ```
//!
//! Shutdown: one `CancellationToken` stops every task; the MQTT bridge then publishes
//! `offline` and disconnects, and the pump gets a moment to flush that before it stops.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::commands;
use crate::config_watch::ConfigWatch;
use crate::deploy::status::TemplateReport;
use crate::deploy::watch::Reading;
use crate::github::webhook::WebhookProcessor;
use crate::github::{GitHubClient, Poller};
use crate::mqtt::{self, Topics, discovery, payload};
use crate::settings::Settings;
use crate::state::State;
use crate::store::{CommandLog, Deliveries, RunHistory, Store};
use crate::supervise::Supervisor;
use crate::web::{self, WebContext, WebhookStats};

/// How often old runs are pruned from the store.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Webhook deliveries waiting for processing; beyond it the endpoint answers 503.
const WEBHOOK_BACKLOG: usize = 10_000;
/// How long shutdown waits for the store thread to close the database.
const STORE_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the MQTT pump may take to flush `offline` on shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the daemon until `shutdown` completes, listening on `http.listen`.
pub async fn serve(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let listener = match &settings.http.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (`http.listen`)"))?,
        ),
        None => None,
    };
    serve_with(settings, listener, shutdown).await
}

/// Runs the daemon with an HTTP listener bound by the caller (tests bind `127.0.0.1:0`), or
/// none.
pub async fn serve_with(
    settings: Settings,
    listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // The error names the path and what to change; no context to repeat it.
    let (store, worker) = Store::open(&settings.store.path)?;
    let store_thread = worker.spawn().context("starting the store thread")?;
    let github = Arc::new(settings.github.clone());
    let gh = GitHubClient::new(&settings.github).context("setting up the GitHub client")?;

    let cancel = CancellationToken::new();
    let tasks = Supervisor::new(cancel.clone());

    let (state, state_handle, events) =
        State::new(store.clone(), github.clone(), settings.metrics_window);
    tasks.spawn("state", state.run(cancel.clone()));

    let poll_now = Arc::new(Notify::new());
    let poller = Poller::new(
        gh.clone(),
        github.clone(),
        settings.metrics_window,
        store.clone(),
        events.clone(),
        poll_now.clone(),
    );
    tasks.spawn("poller", poller.run(cancel.clone()));

    let validation = ConfigWatch::new(&settings.validate);
    let (validation_rx, validate_now) = match validation {
        Some((watch, rx, now)) => {
            let gated = settings
                .github
                .repositories
                .iter()
                .any(|r| r.policy().gate.as_ref().is_some_and(|g| g.config_check));
            let watch = if gated {
                watch.with_state(events.clone())
            } else {
                watch
            };
            tasks.spawn("config watch", watch.run(cancel.clone()));
            (Some(rx), Some(now))
        }
        None => (None, None),
    };

    // The template watch keeps HA's `update` entities current; its auto-update policy
    // writes only through the executor, like every other source.
    let (template_watch, template_refresh) = match settings.templates.clone() {
        Some(templates) => {
            let (watch, refresh) = crate::deploy::watch::watch(
                gh.clone(),
                templates,
                state_handle.clone(),
                events.clone(),
            );
            (Some(watch), Some(refresh))
        }
        None => (None, None),
    };

    let (results_tx, results) = tokio::sync::mpsc::channel(64);
    let (executor, command_handle) = commands::executor(
        gh.clone(),
        store.clone(),
        state_handle.clone(),
        poll_now.clone(),
        results_tx,
    );
    // The configuration deployer records its deployments on GitHub through the executor,
    // and `deploy_config` reaches it through its handle.
    let config_deploy = settings.config_deploy.clone().map(|cd| {
        let html = crate::config_deploy::settings::html_base(settings.github.api_url.as_str());
        crate::config_deploy::config_deploy_task(
            cd,
            settings.github.token.clone(),
            &html,
            &store,
            state_handle.clone(),
            events.clone(),
            command_handle.clone(),
        )
    });
    let config_deploy_handle = config_deploy.as_ref().map(|(_, h)| h.clone());
    if let Some((task, _)) = config_deploy {
        tasks.spawn("config deployer", task.run(cancel.clone()));
    }
    // Coordinated deployments, started by the bridge's `coordinate` command.
    let coordinator = (!settings.coordinated.is_empty()).then(|| {
        let (task, handle) = crate::recovery::Coordinator::new(
            settings.coordinated.clone(),
            state_handle.clone(),
            events.clone(),
            command_handle.clone(),
        );
        tasks.spawn("coordinated deployments", task.run(cancel.clone()));
        handle
    });
    tasks.spawn(
        "command executor",
        executor
            .with_config_deploy(config_deploy_handle.clone())
            .with_coordinator(coordinator)
            .with_validation(validate_now.clone())
            .with_templates(settings.templates.clone(), template_refresh)
            .with_switches(events.clone())
            .run(cancel.clone()),
    );

    if let Some(watch) = template_watch {
        let gate_every = crate::deploy::waves::gate_every(settings.github.poll_interval);
        tasks.spawn(
            "template watch",
            watch
                .with_auto_update(command_handle.clone(), gate_every)
                .run(cancel.clone()),
        );
    }

    // Bounded re-runs of transient failures, where a repository's settings ask for them.
    if settings
        .github
        .repositories
        .iter()
        .any(|r| r.policy().auto_retry.is_some())
    {
        tasks.spawn(
            "auto-retry",
            crate::recovery::AutoRetry::new(
                state_handle.clone(),
                RunHistory::new(&store),
                command_handle.clone(),
            )
            .run(cancel.clone()),
        );
    }

    // Health checks, where a repository's settings give any.
    if settings
        .github
        .repositories
        .iter()
        .any(|r| r.policy().health.is_some())
    {
        tasks.spawn(
            "health checks",
            crate::recovery::HealthWatch::new(
                state_handle.clone(),
                events.clone(),
                settings
                    .home_assistant
                    .as_ref()
                    .map(|a| crate::home_assistant::HomeAssistant::new(&a.url, a.token.clone())),
            )
            .run(cancel.clone()),
        );
    }

    // The rollback trigger, where a repository's settings ask for it.
    if settings
        .github
        .repositories
        .iter()
        .any(|r| r.policy().auto_rollback.is_some())
    {
        tasks.spawn(
            "auto-rollback",
            crate::recovery::AutoRollback::new(
                state_handle.clone(),
                RunHistory::new(&store),
                crate::store::CommandLog::new(&store),
                command_handle.clone(),
            )
            .run(cancel.clone()),
        );
    }

    // Downstream dispatches, where a repository `needs` another's workflow.
    let policies = || settings.github.repositories.iter().map(|r| r.policy());
    if policies().any(|p| p.downstream.is_some()) {
        tasks.spawn(
            "downstream",
            crate::recovery::Downstream::new(state_handle.clone(), command_handle.clone())
                .run(cancel.clone()),
        );
    }
    // The quality gates' commit statuses, where a gate publishes.
    if policies().any(|p| p.gate.as_ref().is_some_and(|g| g.publish)) {
        tasks.spawn(
            "quality gate",
            crate::recovery::GateStatuses::new(state_handle.clone(), command_handle.clone())
                .run(cancel.clone()),
        );
    }

    let link = mqtt::CommandLink {
        commands: command_handle.clone(),
        results,
    };
    // The bridge entities the settings turn on: what MQTT announces and the API describes.
    let entities = discovery::Checks::of(&settings, &crate::mqtt::Topics::new(&settings.mqtt));
    let (bridge, pump) = mqtt::session(
        &settings.mqtt,
        state_handle.clone(),
        Some(link),
        validation_rx.clone().map(|reports| mqtt::ConfigChecks {
            reports,
            security: settings.validate.security,
        }),
    )
    .context("setting up MQTT")?;
    let pump_stop = CancellationToken::new();
    // The pump outlives `cancel` by a moment, to flush the bridge's `offline`.
    let pump_task = tasks.spawn("MQTT pump", pump.run(pump_stop.clone()));
    let bridge_task = tasks.spawn(
        "MQTT bridge",
        bridge.with_entities(entities.clone()).run(cancel.clone()),
    );

    if let Some(listener) = listener {
        let stats = Arc::new(WebhookStats::default());
        let (processor, webhook_jobs) = WebhookProcessor::new(
            events.clone(),
            store.clone(),
            poll_now.clone(),
            stats.clone(),
            WEBHOOK_BACKLOG,
        );
        tasks.spawn(
            "webhook processor",
            processor
                .with_config_deploy(config_deploy_handle.clone())
                .with_github(gh.clone())
                .run(cancel.clone()),
        );
        let context = Arc::new(WebContext {
            state: state_handle.clone(),
            history: RunHistory::new(&store),
            audit: CommandLog::new(&store),
            deliveries: Deliveries::new(&store),
            commands: command_handle,
            github: github.clone(),
            api_token: settings.http.api_token.clone(),
            webhook_jobs,
            webhook_stats: stats,
            poll_now: poll_now.clone(),
            metrics_window: settings.metrics_window,
            validation: validation_rx,
            validate_now,
            shutdown: cancel.clone(),
            tasks: tasks.health(),
            topics: crate::mqtt::Topics::new(&settings.mqtt),
            mcp_trusted: settings.http.mcp_trusted_networks.clone(),
            checks: entities,
        });
        if settings.github.webhook_secret.is_none() && !settings.github.allow_unsigned_webhooks {
            tracing::info!("webhooks are off until `github.webhook_secret` is set; polling only");
        }
        let web_cancel = cancel.clone();
        tasks.spawn("HTTP server", async move {
            if let Err(e) = web::serve(listener, web::router(context), web_cancel).await {
                tracing::error!("HTTP server stopped: {e}");
            }
        });
    }

    tasks.spawn(
        "store pruning",
        prune(store.clone(), settings.store.retention, cancel.clone()),
    );
    tasks.spawn("memory trim", crate::memory::run(cancel.clone()));
    tasks.close();
    drop(events);

    tracing::info!(
        "gitops-bridge {} started ({}); MQTT {}:{}",
        env!("CARGO_PKG_VERSION"),
        describe_watched(&settings.github.repositories),
        settings.mqtt.host,
        settings.mqtt.port
    );
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down"),
        // A task died (the supervisor logged which); stop the rest the same way.
        _ = cancel.cancelled() => {}
    }
    cancel.cancel();
    let _ = bridge_task.await;
    if tokio::time::timeout(FLUSH_TIMEOUT, async {
        // The pump stops by itself once the DISCONNECT is on the wire.
        while !pump_task.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_err()
    {
        pump_stop.cancel();
    }
    tasks.wait().await;
    drop(store);
    // The store thread ends when the last handle is gone; an HTTP connection the client keeps
    // open may still hold one, so do not wait forever (SQLite's WAL is crash-safe anyway).
    let joined = tokio::time::timeout(
        STORE_CLOSE_TIMEOUT,
        tokio::task::spawn_blocking(move || store_thread.join()),
    )
    .await;
    if joined.is_err() {
        tracing::warn!("the store was still in use at shutdown");
    }
    match tasks.failure() {
        Some(failure) => Err(anyhow::anyhow!("stopped because a task died: {failure}")),
        None => Ok(()),
    }
}

/// What the settings ask to watch, counted as repositories (`owner/*` entries are counted
/// once GitHub has listed them, so they are named as owners here).
fn describe_watched(entries: &[crate::settings::RepoSelector]) -> String {
    let owners = entries
        .iter()
        .filter(|e| matches!(e, crate::settings::RepoSelector::Owner { .. }))
        .count();
    let repos = entries.len() - owners;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (repos, owners) {
        (r, 0) => format!("watching {}", plural(r, "repository", "repositories")),
        (0, o) => format!(
            "watching every repository of {}",
            plural(o, "owner", "owners")
        ),
        (r, o) => format!(
            "watching {} and every repository of {}",
            plural(r, "repository", "repositories"),
            plural(o, "owner", "owners")
        ),
    }
}

/// Deletes runs older than the retention, now and then.
async fn prune(store: Store, retention: Duration, cancel: CancellationToken) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {
                let before = chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default();
                // Delivery ids only matter while GitHub may still redeliver (days, not months).
                let deliveries_before = chrono::Utc::now() - chrono::Duration::days(7);
                match store.call(move |db| { db.prune_deliveries(deliveries_before)?; db.prune(before) }).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("pruned {n} runs older than the retention"),
                    Err(e) => tracing::warn!("pruning old runs: {e}"),
                }
            }
        }
    }
}

/// What one poll of GitHub shows: the discovery configs the daemon would announce, with
/// the views they came from. `discovery` prints it; `dashboard` draws it.
pub struct Polled {
    pub topics: Topics,
    pub snapshot: Arc<crate::state::Snapshot>,
    pub bridge: discovery::DeviceConfig,
    /// Each repository's view (with its templates read once) and device config.
    pub repos: Vec<(crate::state::RepoView, discovery::DeviceConfig)>,
}

/// One poll into a throwaway store, plus what the template watch would add: each
/// target's templates, read once.
pub async fn poll_once(settings: &Settings) -> anyhow::Result<Polled> {
    let (store, worker) = Store::open_in_memory()?;
    let store_thread = worker.spawn()?;
    let github = Arc::new(settings.github.clone());
    let gh = GitHubClient::new(&settings.github)?;
    let (state, handle, events) =
        State::new(store.clone(), github.clone(), settings.metrics_window);
    let state_task = tokio::spawn(state.run(CancellationToken::new()));
    let poller = Poller::new(
        gh.clone(),
        github,
        settings.metrics_window,
        store.clone(),
        events,
        Arc::new(Notify::new()),
    );
    let mut poller = poller;
    poller.poll_cycle().await;
    drop(poller);
    state_task.await?;
    drop(store);
    let _ = tokio::task::spawn_blocking(move || store_thread.join()).await;
    let snapshot = handle.snapshot();
    // Printing the bridge's "GitHub unreachable" picture would look like success to a
    // script; a wrong token or an unreachable GitHub is a failure of the command.
    if let Some(problem) = &snapshot.github.error {
        anyhow::bail!("GitHub did not answer the poll: {problem}");
    }
    let topics = Topics::new(&settings.mqtt);
    let bridge = discovery::bridge_config(&topics, discovery::Checks::of(settings, &topics));
    let mut repos = Vec::new();
    for view in snapshot.repos.values() {
        let mut view = (**view).clone();
        if let Some(templates) = &settings.templates {
            match crate::deploy::watch::read(&gh, templates, &view.repo, None).await {
                Reading::Read { report, .. } => view.templates = Some(Arc::new(report)),
                Reading::Failed { branch, error } => {
                    view.templates = Some(Arc::new(TemplateReport {
                        branch,
                        error: Some(error),
                        ..TemplateReport::default()
                    }))
                }
                Reading::NotTargeted | Reading::Unchanged => {}
            }
        }
        let config = discovery::repo_config(&view, &topics);
        repos.push((view, config));
    }
    Ok(Polled {
        topics,
        snapshot,
        bridge,
        repos,
    })
}

/// `gitops-bridge discovery`: one poll, then every retained message the daemon would
/// publish, as `# topic` lines followed by pretty JSON.
pub async fn discovery(settings: Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    let Polled {
        topics,
        snapshot,
        bridge,
        repos,
    } = poll_once(&settings).await?;
    let mut messages = vec![
        (topics.bridge_availability(), serde_json::json!("online")),
        (
            topics.device_config(&topics.bridge_device_id()),
            serde_json::to_value(&bridge)?,
        ),
        (
            topics.bridge_state(),
            serde_json::to_value(payload::bridge_state(&snapshot))?,
        ),
    ];
    for (view, config) in &repos {
        messages.push((
            topics.device_config(&config.device.identifiers[0]),
            serde_json::to_value(config)?,
        ));
        messages.push((
            topics.repo_availability(&view.repo),
            serde_json::json!(if view.available { "online" } else { "offline" }),
        ));
        messages.push((
            topics.repo_state(&view.repo),
            serde_json::to_value(payload::repo_state(view))?,
        ));
    }
    for (topic, value) in messages {
        writeln!(out, "# {topic} (retained)")?;
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    }
    Ok(())
}
