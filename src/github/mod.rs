//! GitHub: the REST client, our own models of its JSON, and the poller.

pub mod client;
pub mod models;
pub mod poller;

pub use client::{Fetched, GitHubClient, GitHubError};
pub use poller::Poller;
