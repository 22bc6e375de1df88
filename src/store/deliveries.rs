//! Webhook deliveries seen (`deliveries` table): redelivery dedupe across restarts, owned by
//! the webhook receiver and its processor.

use super::{Store, StoreError};

/// The door to the delivery records.
#[derive(Clone)]
pub struct Deliveries(Store);

impl Deliveries {
    pub fn new(store: &Store) -> Self {
        Deliveries(store.clone())
    }

    /// Records a delivery; false when this GUID was recorded before (a redelivery).
    pub async fn record(
        &self,
        guid: String,
        event: String,
        action: Option<String>,
    ) -> Result<bool, StoreError> {
        self.0
            .call(move |db| db.record_delivery(&guid, &event, action.as_deref()))
            .await
    }

    /// Drops a record, so a redelivery of it is processed (its work could not be queued).
    pub async fn forget(&self, guid: String) -> Result<(), StoreError> {
        self.0.call(move |db| db.forget_delivery(&guid)).await
    }

    pub async fn mark_processed(&self, guid: String) -> Result<(), StoreError> {
        self.0
            .call(move |db| db.mark_delivery_processed(&guid))
            .await
    }
}
