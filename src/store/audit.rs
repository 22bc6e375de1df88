//! The command audit trail (`commands` table), owned by the executor; the API reads it.

use super::{CommandRecord, Store, StoreError};

/// The door to the audit trail.
#[derive(Clone)]
pub struct CommandLog(Store);

impl CommandLog {
    pub fn new(store: &Store) -> Self {
        CommandLog(store.clone())
    }

    pub async fn record(&self, entry: CommandRecord) -> Result<(), StoreError> {
        self.0.call(move |db| db.record_command(&entry)).await
    }

    /// The earlier command with this `request_id`, for dedupe.
    pub async fn by_request_id(&self, id: String) -> Result<Option<CommandRecord>, StoreError> {
        self.0.call(move |db| db.command_by_request_id(&id)).await
    }

    /// Whether our own successful `deploy_template` on `repo` (`owner/name`) wrote `sha`.
    pub async fn template_deploy_wrote(
        &self,
        repo: String,
        sha: String,
    ) -> Result<bool, StoreError> {
        self.0
            .call(move |db| db.command_wrote(&repo, "deploy_template", &sha))
            .await
    }

    /// The newest `limit` entries, newest first.
    pub async fn recent(&self, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        self.0.call(move |db| db.recent_commands(limit)).await
    }
}
