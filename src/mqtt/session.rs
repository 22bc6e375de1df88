//! The MQTT session: connection, availability, discovery lifecycle, and publishing state.
//!
//! Two tasks. [`MqttPump`] only drives rumqttc's `EventLoop` (nothing moves unless it is
//! polled) and reconnects with backoff; it hands connection events and incoming messages to
//! [`MqttBridge`], which owns everything else. Keeping `poll()` alone in its task means a
//! slow publish can never stall the network, and the bridge can await publishes freely.
//!
//! Lifecycle, Zigbee2MQTT-style:
//! - last will `offline` (retained) on `<base>/bridge/availability`; `online` after connect;
//!   `offline` published by hand on a clean shutdown (a clean disconnect suppresses the will);
//! - on every (re)connect: subscribe, publish availability, every discovery config and state;
//! - on HA's birth message (`online` on `homeassistant/status`): re-publish after a short
//!   random delay, so a restarted HA gets everything without a thundering herd;
//! - retained device configs of ours on the broker that no longer match a watched repository
//!   are cleared (empty retained payload) once the watched set is known;
//! - identical retained payloads are not re-sent within a connection (no discovery spam).
//!
//! MQTT 5, because only its "retain as published" subscription option tells a retained
//! command from a live one: under 3.1.1 a broker clears the retain flag when it forwards a
//! retained publish to a connected subscriber, and a command would fire once before anyone
//! could tell. Mosquitto 2 (HA's add-on), EMQX and HiveMQ all speak MQTT 5.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, LastWill, Packet, Publish};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::{Outgoing, Transport};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::discovery::{self, Message};
use super::payload;
use super::topics::Topics;
use crate::commands::{CommandHandle, CommandResult};
use crate::settings::MqttSettings;
use crate::state::{Change, RepoView, StateHandle};

/// How long retained device configs are collected after connecting before stale ones are
/// cleared. Brokers send retained messages right after SUBACK; this is generous.
const SWEEP_AFTER: Duration = Duration::from_secs(3);
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("mqtt.ca_file {path}: {message}")]
    Ca { path: String, message: String },
    #[error("cannot load the system's CA certificates for MQTT TLS: {0}")]
    Roots(String),
}

/// What the pump tells the bridge.
#[derive(Debug)]
pub enum PumpEvent {
    Connected,
    /// The connection failed or dropped; the pump tries again after `retry_in`.
    Disconnected {
        message: String,
        retry_in: Duration,
    },
    Message(Publish),
}

/// The latest configuration check (and security scan), when validation is on.
pub type ValidationRx = crate::config_watch::Reports;

/// The continuous configuration check, as the bridge publishes it.
pub struct ConfigChecks {
    pub reports: ValidationRx,
    /// The security scan runs with each check: its entities are announced.
    pub security: bool,
}

/// The bridge's link to the command executor: requests from command topics are submitted
/// through `commands`, results to publish on `<base>/cmd/result` come back.
pub struct CommandLink {
    pub commands: CommandHandle,
    pub results: mpsc::Receiver<CommandResult>,
}

/// A message that arrived on one of our command topics (handled by the command executor).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub payload: Vec<u8>,
    /// Replayed by the broker from its retained store: commands must ignore these.
    pub retained: bool,
}

/// Drives the network; run with [`MqttPump::run`].
pub struct MqttPump {
    eventloop: EventLoop,
    tx: mpsc::Sender<PumpEvent>,
    host: String,
}

/// Owns the session's logic; run with [`MqttBridge::run`].
pub struct MqttBridge {
    topics: Topics,
    client: AsyncClient,
    incoming: mpsc::Receiver<PumpEvent>,
    state: StateHandle,
    changes: broadcast::Receiver<Change>,
    /// Where command-topic messages go; `None` subscribes to no command topics.
    commands: Option<CommandHandle>,
    /// Command results to publish.
    results: Option<mpsc::Receiver<CommandResult>>,
    /// Configuration check results to publish on `<base>/bridge/validation`.
    validation: Option<ValidationRx>,
    /// The security scan's entities are announced (it runs with each check).
    security: bool,
    /// When the latest check finished, so a re-publish after a reconnect keeps its time.
    validation_checked_at: Option<chrono::DateTime<chrono::Utc>>,
    connected: bool,
    /// Retained payloads sent in this connection, to skip identical re-sends.
    /// A digest of each, not the payload: discovery configs are kilobytes per repository,
    /// and with a thousand repositories the copies were megabytes kept only to compare.
    published: HashMap<String, PayloadDigest>,
    /// Our retained device configs found on the broker since connecting, by device id.
    found: HashMap<String, Vec<u8>>,
    sweep_at: Option<Instant>,
    /// The collection window ended; the sweep waits for the watched set to be resolved.
    sweep_due: bool,
    republish_at: Option<Instant>,
    /// Bounds of the random delay before re-publishing after HA's birth message.
    birth_delay: (Duration, Duration),
    /// What the bridge device announces besides its fixed entities (from the settings).
    entities: discovery::Checks,
}

/// The largest packet the broker may send us (MQTT 5 *Maximum Packet Size*; the broker
/// silently drops larger ones for this client). Far above the command limit
/// ([`crate::commands::parse::MAX_PAYLOAD`]), so an oversized command still reaches the
/// executor and is answered `rejected` with the limit instead of vanishing; other
/// publishers' retained configs on our discovery wildcard fit too.
pub const MAX_INCOMING_PACKET: u32 = 8 << 20;

/// QoS 1 publishes in flight at once (the broker may ask for fewer).
const MAX_INFLIGHT: u16 = 100;

/// Builds the pair of tasks for one broker.
pub fn session(
    settings: &MqttSettings,
    state: StateHandle,
    commands: Option<CommandLink>,
    checks: Option<ConfigChecks>,
) -> Result<(MqttBridge, MqttPump), MqttError> {
    let topics = Topics::new(settings);
    let mut options = MqttOptions::new(&settings.client_id, &settings.host, settings.port);
    options.set_keep_alive(settings.keep_alive);
    options.set_clean_start(true);
    options.set_max_packet_size(Some(MAX_INCOMING_PACKET));
    // rumqttc sizes its in-flight table by this limit up front (65,535 entries, 13 MB, by
    // default); QoS 1 publishes awaiting their PUBACK never need more than this.
    options.set_outgoing_inflight_upper_limit(MAX_INFLIGHT);
    options.set_last_will(LastWill::new(
        topics.bridge_availability(),
        "offline",
        QoS::AtLeastOnce,
        true,
        None,
    ));
    if let Some(user) = &settings.username {
        let password = settings
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        options.set_credentials(user, password);
    }
    if settings.tls {
        options.set_transport(Transport::tls_with_config(tls_config(settings)?.into()));
    }
    let (client, eventloop) = AsyncClient::new(options, 1024);
    let (tx, incoming) = mpsc::channel(1024);
    let changes = state.subscribe();
    let bridge = MqttBridge {
        topics,
        client,
        incoming,
        state,
        changes,
        commands: commands.as_ref().map(|c| c.commands.clone()),
        results: commands.map(|c| c.results),
        security: checks.as_ref().is_some_and(|c| c.security),
        validation: checks.map(|c| c.reports),
        validation_checked_at: None,
        connected: false,
        published: HashMap::new(),
        found: HashMap::new(),
        sweep_at: None,
        sweep_due: false,
        republish_at: None,
        birth_delay: (Duration::from_secs(2), Duration::from_secs(6)),
        entities: discovery::Checks::default(),
    };
    let pump = MqttPump {
        eventloop,
        tx,
        host: format!("{}:{}", settings.host, settings.port),
    };
    Ok((bridge, pump))
}

fn tls_config(settings: &MqttSettings) -> Result<rustls::ClientConfig, MqttError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match &settings.ca_file {
        Some(path) => {
            let ca_error = |message: String| MqttError::Ca {
                path: path.display().to_string(),
                message,
            };
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_error(e.to_string()))?;
            for cert in certs {
                roots
                    .add(cert.map_err(|e| ca_error(e.to_string()))?)
                    .map_err(|e| ca_error(e.to_string()))?;
            }
        }
        None => {
            let loaded = rustls_native_certs::load_native_certs();
            if loaded.certs.is_empty() {
                return Err(MqttError::Roots(format!("{:?}", loaded.errors)));
            }
            for cert in loaded.certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl MqttPump {
    /// Polls the event loop until cancelled or a clean disconnect has been sent.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => break,
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = BACKOFF_MIN;
                    tracing::info!("connected to MQTT broker {}", self.host);
                    if self.tx.send(PumpEvent::Connected).await.is_err() {
                        break;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if self.tx.send(PumpEvent::Message(p)).await.is_err() {
                        break;
                    }
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(e) => {
                    let message = describe(&e, &self.host);
                    if self
                        .tx
                        .send(PumpEvent::Disconnected {
                            message,
                            retry_in: backoff,
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                    // The next poll() reconnects; wait first, longer each time.
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        tracing::debug!("MQTT pump stopped");
    }
}

/// A connection error worded for the user, with what to check.
fn describe(e: &rumqttc::v5::ConnectionError, host: &str) -> String {
    use rumqttc::v5::ConnectionError;
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode;
    match e {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => format!(
            "the broker at {host} refused our credentials; check mqtt.username and mqtt.password"
        ),
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker at {host} refused the connection ({code:?})")
        }
        ConnectionError::Io(io) => format!("cannot reach the broker at {host}: {io}"),
        other => format!("MQTT connection to {host}: {other}"),
    }
}

impl MqttBridge {
    /// Announces the bridge entities the settings turn on ([`discovery::Checks::of`]).
    pub fn with_entities(mut self, entities: discovery::Checks) -> Self {
        self.entities = entities;
        self
    }

    /// Runs until cancelled; then publishes `offline` and disconnects cleanly.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut last_error: Option<String> = None;
        let mut failed_attempts: u32 = 0;
        loop {
            let republish = self.republish_at;
            let sweep = self.sweep_at;
            tokio::select! {
                _ = cancel.cancelled() => break,
                event = self.incoming.recv() => match event {
                    Some(PumpEvent::Connected) => {
                        last_error = None;
                        self.on_connect().await;
                    }
                    Some(PumpEvent::Disconnected { message, retry_in }) => {
                        // A warning when an outage starts (or its cause changes); each retry
                        // after that at info, with its backoff, so a long outage is visible
                        // without flooding the log.
                        let retry_in = humantime::format_duration(retry_in);
                        if self.connected || last_error.as_deref() != Some(message.as_str()) {
                            failed_attempts = 1;
                            tracing::warn!("{message}; retrying in {retry_in}");
                        } else {
                            failed_attempts += 1;
                            tracing::info!(
                                "MQTT still down after {failed_attempts} attempts ({message}); retrying in {retry_in}"
                            );
                        }
                        self.connected = false;
                        last_error = Some(message);
                    }
                    Some(PumpEvent::Message(p)) => self.on_message(p).await,
                    None => break,
                },
                change = self.changes.recv() => self.on_change(change).await,
                // Precondition: the executor is wired in.
                Some(result) = recv(&mut self.results) => self.publish_result(result).await,
                // Precondition: validation is on.
                true = changed(&mut self.validation) => {
                    self.validation_checked_at = Some(chrono::Utc::now());
                    self.publish_validation().await;
                }
                // Precondition: a re-publish is pending (HA announced itself).
                _ = sleep_until(republish), if republish.is_some() => {
                    self.republish_at = None;
                    if self.connected {
                        tracing::info!("Home Assistant came online; re-publishing discovery and state");
                        self.published.clear();
                        self.publish_all().await;
                    }
                }
                // Precondition: the retained-config collection window is running.
                _ = sleep_until(sweep), if sweep.is_some() => {
                    self.sweep_at = None;
                    self.sweep_due = true;
                    self.sweep().await;
                }
            }
        }
        if self.connected {
            let _ = self
                .client
                .publish(
                    self.topics.bridge_availability(),
                    QoS::AtLeastOnce,
                    true,
                    "offline",
                )
                .await;
            let _ = self.client.disconnect().await;
        }
        tracing::debug!("MQTT bridge stopped");
    }

    async fn on_connect(&mut self) {
        tracing::debug!("connected: subscribing and publishing everything");
        self.connected = true;
        self.published.clear();
        self.found.clear();
        let mut filters = vec![
            Filter::new(self.topics.birth.clone(), QoS::AtLeastOnce),
            Filter::new(self.topics.device_config_filter(), QoS::AtLeastOnce),
        ];
        if self.commands.is_some() {
            let [repo_switches, bridge_switches] = self.topics.switch_set_filters();
            for topic in [
                self.topics.repo_cmd_filter(),
                self.topics.bridge_cmd("+"),
                repo_switches,
                bridge_switches,
            ] {
                let mut filter = Filter::new(topic, QoS::AtLeastOnce);
                // Keep the retain flag of live-forwarded messages, so retained commands are
                // recognised (and refused) even when published while we are connected.
                filter.preserve_retain = true;
                filters.push(filter);
            }
        }
        if let Err(e) = self.client.subscribe_many(filters).await {
            tracing::warn!("subscribing to our topics: {e}");
        }
        self.publish_all().await;
        self.sweep_at = Some(Instant::now() + SWEEP_AFTER);
        self.sweep_due = false;
    }

    async fn on_message(&mut self, p: Publish) {
        let topic = String::from_utf8_lossy(&p.topic).into_owned();
        if topic == self.topics.birth {
            if p.payload.as_ref() == b"online" {
                let (lo, hi) = self.birth_delay;
                let delay = rand::rng().random_range(lo..=hi);
                self.republish_at = Some(Instant::now() + delay);
            }
            return;
        }
        if let Some(device_id) = self.topics.parse_device_config(&topic) {
            if self.sweep_at.is_some() || self.sweep_due {
                if p.payload.is_empty() {
                    self.found.remove(device_id);
                } else if discovery::is_ours(&p.payload, &self.topics) {
                    self.found.insert(device_id.to_string(), p.payload.to_vec());
                }
            }
            return;
        }
        if let Some(commands) = &self.commands {
            if p.retain && !p.payload.is_empty() {
                // Clear it so the broker stops replaying it; the executor refuses it anyway.
                tracing::warn!("clearing a retained command on {topic}");
                let _ = self
                    .client
                    .publish(topic.clone(), QoS::AtLeastOnce, true, Vec::new())
                    .await;
            }
            let inbound = Inbound {
                topic: topic.clone(),
                payload: p.payload.to_vec(),
                retained: p.retain,
            };
            let Some(request) = super::intake::intake(&self.topics, &inbound).into_request() else {
                return;
            };
            if let Err(request) = commands.try_submit(request) {
                // Every command gets an answer, even one we have no room for.
                tracing::warn!("command queue full; refusing the command on {topic}");
                let result = request.busy();
                self.publish_result(result).await;
            }
        }
    }

    async fn on_change(&mut self, change: Result<Change, broadcast::error::RecvError>) {
        tracing::trace!(?change, connected = self.connected, "state change");
        let change = match change {
            Ok(c) => c,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!("missed {n} state changes; re-publishing all");
                if self.connected {
                    self.publish_all().await;
                }
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if !self.connected {
            // Everything is re-published on the next connect.
            return;
        }
        let snapshot = self.state.snapshot();
        match change {
            Change::Repo(id) => {
                if let Some(view) = snapshot.repos.get(&id) {
                    self.publish_repo(view).await;
                }
            }
            Change::RepoRemoved(repo) => {
                let config = self
                    .topics
                    .device_config(&self.topics.repo_device_id(repo.id));
                let mut topics = vec![
                    config,
                    self.topics.repo_state(&repo),
                    self.topics.repo_availability(&repo),
                ];
                topics.dedup();
                self.clear(topics).await;
            }
            Change::RunCompleted { repo_id, run } => {
                if let Some(view) = snapshot.repos.get(&repo_id) {
                    let topic = self.topics.repo_events(&view.repo);
                    let body =
                        serde_json::to_vec(&payload::run_event(view, &run)).unwrap_or_default();
                    // Events are never retained: HA discards replayed ones, and a replay is a lie.
                    if let Err(e) = self
                        .client
                        .publish(topic, QoS::AtLeastOnce, false, body)
                        .await
                    {
                        tracing::warn!("publishing a run event: {e}");
                    }
                }
            }
            Change::Recovery { repo_id, event } => {
                if let Some(view) = snapshot.repos.get(&repo_id) {
                    let topic = self.topics.repo_recovery(&view.repo);
                    let body = serde_json::to_vec(&event).unwrap_or_default();
                    // An event, like a run's: never retained.
                    if let Err(e) = self
                        .client
                        .publish(topic, QoS::AtLeastOnce, false, body)
                        .await
                    {
                        tracing::warn!("publishing a recovery event: {e}");
                    }
                }
            }
            Change::ConfigDeploy { finished } => {
                self.publish_configuration().await;
                if let (Some(d), Some(view)) = (finished, &snapshot.config_deploy) {
                    let event = payload::ConfigDeploymentEvent {
                        event_type: d.status.as_str(),
                        deployment: payload::config_deployment(view, &d),
                    };
                    let body = serde_json::to_vec(&event).unwrap_or_default();
                    // An event: never retained.
                    if let Err(e) = self
                        .client
                        .publish(
                            self.topics.bridge_configuration_events(),
                            QoS::AtLeastOnce,
                            false,
                            body,
                        )
                        .await
                    {
                        tracing::warn!("publishing a configuration deployment event: {e}");
                    }
                }
            }
            // Published with the repository's state (its `Repo` change).
            Change::HealthChecked { .. } => {}
            Change::GitHub | Change::Coordinated => self.publish_bridge_state().await,
            Change::Resolved => {
                self.publish_bridge_state().await;
                if self.sweep_due {
                    self.sweep().await;
                }
            }
        }
    }

    async fn publish_validation(&mut self) {
        let Some(rx) = &self.validation else { return };
        let Some(checked) = rx.borrow().clone() else {
            return;
        };
        if !self.connected {
            return;
        }
        let checked_at = *self
            .validation_checked_at
            .get_or_insert_with(chrono::Utc::now);
        let state = payload::validation_state(&checked.config, checked_at);
        self.publish_retained(Message {
            topic: self.topics.bridge_validation(),
            payload: serde_json::to_vec(&state).unwrap_or_default(),
        })
        .await;
        // A scan that could not run leaves the last published state: HA shows the age.
        if let Some(security) = checked.security.as_ref().filter(|_| self.security) {
            let state = payload::validation_state(security, checked_at);
            self.publish_retained(Message {
                topic: self.topics.bridge_security(),
                payload: serde_json::to_vec(&state).unwrap_or_default(),
            })
            .await;
        }
    }

    /// Results are never retained: they answer one request, once.
    async fn publish_result(&mut self, result: CommandResult) {
        if !self.connected {
            tracing::debug!(
                "not connected; command result for {} not published",
                result.repo
            );
            return;
        }
        let body = serde_json::to_vec(&result).unwrap_or_default();
        if let Err(e) = self
            .client
            .publish(self.topics.cmd_result(), QoS::AtLeastOnce, false, body)
            .await
        {
            tracing::warn!("publishing a command result: {e}");
        }
    }

    /// Availability, every discovery config and every state.
    async fn publish_all(&mut self) {
        self.publish_retained(Message {
            topic: self.topics.bridge_availability(),
            payload: b"online".to_vec(),
        })
        .await;
        let bridge =
            discovery::bridge_config(&self.topics, self.entities.clone()).to_message(&self.topics);
        self.publish_retained(bridge).await;
        self.publish_bridge_state().await;
        self.publish_configuration().await;
        self.publish_validation().await;
        let snapshot = self.state.snapshot();
        for view in snapshot.repos.values() {
            self.publish_repo(view).await;
        }
    }

    /// The configuration deployment's retained state, once the deployer has a picture.
    async fn publish_configuration(&mut self) {
        if self.entities.config_deploy.is_none() {
            return;
        }
        let Some(view) = self.state.snapshot().config_deploy.clone() else {
            return;
        };
        let body = serde_json::to_vec(&payload::configuration_state(&view)).unwrap_or_default();
        self.publish_retained(Message {
            topic: self.topics.bridge_configuration(),
            payload: body,
        })
        .await;
    }

    async fn publish_bridge_state(&mut self) {
        let snapshot = self.state.snapshot();
        // Before the first poll has an outcome, "GitHub unreachable" would be a guess.
        if snapshot.github.last_poll.is_none() && snapshot.github.error.is_none() {
            return;
        }
        let body = serde_json::to_vec(&payload::bridge_state(&snapshot)).unwrap_or_default();
        self.publish_retained(Message {
            topic: self.topics.bridge_state(),
            payload: body,
        })
        .await;
    }

    async fn publish_repo(&mut self, view: &RepoView) {
        // Publish once something is known (history from the store or GitHub), so HA never
        // shows a device with every value unknown before the real ones follow. A repository
        // GitHub stopped showing is published anyway: that it is unavailable is known.
        if !view.synced && view.available {
            return;
        }
        let config = discovery::repo_config(view, &self.topics).to_message(&self.topics);
        self.publish_retained(config).await;
        self.publish_retained(Message {
            topic: self.topics.repo_availability(&view.repo),
            payload: if view.available {
                b"online".to_vec()
            } else {
                b"offline".to_vec()
            },
        })
        .await;
        let state = serde_json::to_vec(&payload::repo_state(view)).unwrap_or_default();
        self.publish_retained(Message {
            topic: self.topics.repo_state(&view.repo),
            payload: state,
        })
        .await;
    }

    async fn publish_retained(&mut self, message: Message) {
        let digest = PayloadDigest::of(&message.payload);
        if self.published.get(&message.topic) == Some(&digest) {
            return;
        }
        tracing::trace!(topic = %message.topic, "publishing");
        match self
            .client
            .publish(
                message.topic.clone(),
                QoS::AtLeastOnce,
                true,
                message.payload,
            )
            .await
        {
            Ok(()) => {
                self.published.insert(message.topic, digest);
            }
            Err(e) => tracing::warn!("publishing {}: {e}", message.topic),
        }
    }

    /// Clears retained topics (empty payload) so HA removes the entities and no ghost returns.
    async fn clear(&mut self, topics: Vec<String>) {
        for topic in topics {
            self.published.remove(&topic);
            if let Err(e) = self
                .client
                .publish(topic.clone(), QoS::AtLeastOnce, true, Vec::new())
                .await
            {
                tracing::warn!("clearing {topic}: {e}");
            }
        }
    }

    /// Clears our retained repository configs that match no watched repository. Runs only
    /// once the watched set is resolved, so a slow GitHub never wipes entities.
    async fn sweep(&mut self) {
        let snapshot = self.state.snapshot();
        if !snapshot.resolved || !self.connected {
            return;
        }
        self.sweep_due = false;
        let prefix = format!("{}_repo_", self.topics.node);
        let found = std::mem::take(&mut self.found);
        for (device_id, payload) in found {
            let Some(id) = device_id
                .strip_prefix(&prefix)
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            if snapshot.repos.contains_key(&id) {
                continue;
            }
            tracing::info!("removing entities of repository {id}, which is no longer watched");
            let mut topics = vec![self.topics.device_config(&device_id)];
            topics.extend(discovery::repo_topics_of(&payload));
            self.clear(topics).await;
        }
        let _ = self
            .client
            .unsubscribe(self.topics.device_config_filter())
            .await;
    }
}

/// 128 bits of SHA-256 of a payload: enough to tell "already published" apart, with no
/// realistic chance of two different payloads colliding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PayloadDigest([u8; 16]);

impl PayloadDigest {
    fn of(payload: &[u8]) -> PayloadDigest {
        use sha2::Digest;
        let full = sha2::Sha256::digest(payload);
        let mut cut = [0u8; 16];
        cut.copy_from_slice(&full[..16]);
        PayloadDigest(cut)
    }
}

async fn recv<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the watched value changes; never, when there is nothing to watch.
async fn changed<T>(rx: &mut Option<tokio::sync::watch::Receiver<T>>) -> bool {
    match rx {
        Some(rx) => rx.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
