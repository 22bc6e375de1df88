//! The poller's ETags (`etags` table): conditional requests survive a restart.

use super::{Store, StoreError};

/// The door to the stored ETags, owned by the poller.
#[derive(Clone)]
pub struct Etags(Store);

impl Etags {
    pub fn new(store: &Store) -> Self {
        Etags(store.clone())
    }

    /// Every stored `(url, etag)`.
    pub async fn load(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.0.call(|db| db.etags()).await
    }

    /// Saves these, in one transaction's worth of statements; `None` forgets a URL's ETag.
    pub async fn save(&self, etags: Vec<(String, Option<String>)>) -> Result<(), StoreError> {
        self.0
            .call(move |db| {
                for (url, etag) in &etags {
                    db.set_etag(url, etag.as_deref())?;
                }
                Ok(())
            })
            .await
    }
}
