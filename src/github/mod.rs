//! GitHub: the REST client (a cloneable reader, and a writer only `commands` can build),
//! its endpoints typed by area ([`api`]), our own models of its JSON,
//! its two sources: the poller and webhook deliveries, and what both add to a failed job
//! (the runner's own messages, [`annotations`]).

pub mod annotations;
pub mod api;
pub mod client;
pub mod models;
pub mod poller;
pub mod webhook;

pub use client::{Fetched, GitHubClient, GitHubError, GitHubWriter};
pub use poller::Poller;
