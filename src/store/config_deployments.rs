//! Deployments of the Home Assistant configuration (`config_deployments` table): each
//! record is the deployment's whole JSON, written as it moves through its stages, so an
//! interrupted one is found and undone on the next start.

use rusqlite::{OptionalExtension, params};

use super::db::Db;
use super::{Store, StoreError};

/// One stored row: id and the record's JSON.
pub type StoredDeployment = (i64, String);

impl Db {
    pub fn insert_config_deployment(
        &mut self,
        commit: &str,
        status: &str,
        started_ms: i64,
        record: &str,
    ) -> Result<i64, StoreError> {
        self.conn.prepare_cached(
            "INSERT INTO config_deployments (commit_sha, status, started_at, record) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![commit, status, started_ms, record],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn update_config_deployment(
        &mut self,
        id: i64,
        commit: &str,
        status: &str,
        record: &str,
    ) -> Result<(), StoreError> {
        self.conn.prepare_cached(
            "UPDATE config_deployments SET commit_sha = ?2, status = ?3, record = ?4 WHERE id = ?1")?
            .execute(params![id, commit, status, record],
        )?;
        Ok(())
    }

    /// Newest first.
    pub fn config_deployments(&self, limit: usize) -> Result<Vec<StoredDeployment>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, record FROM config_deployments ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest deployment of `commit`, whatever its outcome.
    pub fn last_config_deployment_of(
        &self,
        commit: &str,
    ) -> Result<Option<StoredDeployment>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, record FROM config_deployments WHERE commit_sha = ?1 ORDER BY id DESC LIMIT 1")?
            .query_row([commit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The newest with one of these statuses.
    pub fn last_config_deployment_with(
        &self,
        statuses: &[&str],
    ) -> Result<Option<StoredDeployment>, StoreError> {
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT id, record FROM config_deployments WHERE status IN ({list}) ORDER BY id DESC LIMIT 1"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

/// The door to the deployment records, owned by the configuration deployer.
#[derive(Clone)]
pub struct ConfigDeployments(Store);

impl ConfigDeployments {
    pub fn new(store: &Store) -> Self {
        ConfigDeployments(store.clone())
    }

    pub async fn insert(
        &self,
        commit: String,
        status: &'static str,
        started_ms: i64,
        record: String,
    ) -> Result<i64, StoreError> {
        self.0
            .call(move |db| db.insert_config_deployment(&commit, status, started_ms, &record))
            .await
    }

    pub async fn update(
        &self,
        id: i64,
        commit: String,
        status: &'static str,
        record: String,
    ) -> Result<(), StoreError> {
        self.0
            .call(move |db| db.update_config_deployment(id, &commit, status, &record))
            .await
    }

    pub async fn recent(&self, limit: usize) -> Result<Vec<StoredDeployment>, StoreError> {
        self.0.call(move |db| db.config_deployments(limit)).await
    }

    pub async fn last_of(&self, commit: String) -> Result<Option<StoredDeployment>, StoreError> {
        self.0
            .call(move |db| db.last_config_deployment_of(&commit))
            .await
    }

    pub async fn last_with(
        &self,
        statuses: &'static [&'static str],
    ) -> Result<Option<StoredDeployment>, StoreError> {
        self.0
            .call(move |db| db.last_config_deployment_with(statuses))
            .await
    }
}
