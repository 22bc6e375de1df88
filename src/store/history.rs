//! Reading the run history the state task writes: what the poller, the API and the executor
//! may ask of the `runs`, `repositories` and `workflows` tables. Nothing here writes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{HistoryFilter, Store, StoreError};
use crate::model::{Job, Repository, Run};

/// A read-only door to the run history.
#[derive(Clone)]
pub struct RunHistory(Store);

impl RunHistory {
    pub fn new(store: &Store) -> Self {
        RunHistory(store.clone())
    }

    /// Whether the repository's history window was imported once.
    pub async fn is_synced(&self, repo_id: u64) -> Result<bool, StoreError> {
        self.0.call(move |db| db.is_synced(repo_id)).await
    }

    /// Which of these run ids are stored.
    pub async fn known_run_ids(&self, ids: Vec<u64>) -> Result<Vec<u64>, StoreError> {
        self.0.call(move |db| db.known_run_ids(&ids)).await
    }

    /// `(id, attempt)` of the repository's runs stored as queued or running.
    pub async fn active_run_ids(&self, repo_id: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        self.0.call(move |db| db.active_run_ids(repo_id)).await
    }

    /// Stored status of these attempts.
    pub async fn run_states(
        &self,
        keys: Vec<(u64, u32)>,
    ) -> Result<HashMap<(u64, u32), String>, StoreError> {
        self.0.call(move |db| db.run_states(&keys)).await
    }

    /// Runs created since `since`, every attempt.
    pub async fn runs_since(
        &self,
        repo_id: u64,
        since: DateTime<Utc>,
    ) -> Result<Vec<Run>, StoreError> {
        self.0.call(move |db| db.runs_since(repo_id, since)).await
    }

    /// The newest `limit` rows of runs.
    pub async fn recent_runs(&self, repo_id: u64, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.0.call(move |db| db.recent_runs(repo_id, limit)).await
    }

    /// One page of filtered history, with the total count.
    pub async fn run_history(
        &self,
        repo_id: u64,
        filter: HistoryFilter,
        limit: usize,
        offset: usize,
    ) -> Result<(u64, Vec<Run>), StoreError> {
        self.0
            .call(move |db| db.run_history(repo_id, &filter, limit, offset))
            .await
    }

    /// The jobs of one attempt of a run, as last stored.
    pub async fn jobs(&self, run_id: u64, attempt: u32) -> Result<Vec<Job>, StoreError> {
        self.0.call(move |db| db.jobs(run_id, attempt)).await
    }

    /// The newest stored attempt of a run.
    pub async fn latest_attempt(&self, run_id: u64) -> Result<Option<Run>, StoreError> {
        self.0.call(move |db| db.latest_attempt(run_id)).await
    }

    /// The repositories watched when the daemon last ran.
    pub async fn watched_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        self.0.call(|db| db.watched_repositories()).await
    }
}
