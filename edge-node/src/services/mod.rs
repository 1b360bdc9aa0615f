//! The edge's use cases: no HTTP, no SQL strings. Handlers call these; these call the store.

pub mod catalog;
pub mod devices;
pub mod orders;
pub mod receipts;
pub mod wipe;

use crate::store::StoreError;

/// Runs blocking store work off the async runtime.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Corrupt(format!("store task failed: {e}")))?
}
