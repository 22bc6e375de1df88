//! gitops-bridge: a homelab's GitOps in Home Assistant.
//!
//! The crate is a library with a thin binary (`src/main.rs`). Its parts, as data flows:
//!
//! - [`settings`]: layered, validated settings (file < add-on options < environment).
//! - [`model`]: the domain types every part shares, and the [`model::Event`]s sources emit.
//! - [`store`]: SQLite history (runs by id and attempt, jobs, ETags) on its own thread.
//! - [`github`]: the REST client (ETags, rate-limit budget, no blind POST retries), our own
//!   models of GitHub's JSON, and the poller that turns GitHub into [`model::Event`]s.
//! - [`state`]: the single owner of the current picture; applies events, recomputes health.
//! - [`metrics`]: pure health functions (success rate, durations, MTTR, health score).
//! - [`mqtt`]: Home Assistant discovery and state payloads, and the MQTT session.
//! - [`commands`]: commands from HA (MQTT) and the API, and the one executor that carries
//!   them out on GitHub (allow-lists, preconditions, dedupe, audit, results).
//! - [`config_watch`]: continuous validation of the HA configuration (the add-on).
//! - [`home_assistant`]: HA's REST API, for the configuration deployment and health checks.
//! - [`web`]: the HTTP server: webhooks, JSON API and event stream, `/metrics`, dashboard.
//! - [`app`]: wiring and shutdown for `serve` and `discovery`; [`supervise`]: a task that
//!   dies stops the daemon, so it gets restarted instead of running half-alive.
//! - [`text`]: cutting outside text safely to a byte limit.
//! - [`validate`]: `gitops-bridge check`, the Home Assistant configuration validator.
//! - [`scan`]: `gitops-bridge scan`, secrets, HA settings and workflow security audit.

pub mod app;
pub mod commands;
pub mod config_deploy;
pub mod config_watch;
pub mod deploy;
pub mod github;
pub mod home_assistant;
pub mod lovelace;
pub mod mcp;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod mqtt;
pub mod recovery;
pub mod scan;
pub mod settings;
pub mod state;
pub mod store;
pub mod supervise;
pub mod text;
pub mod validate;
pub mod web;
