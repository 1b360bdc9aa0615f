//! The edge's use cases: no HTTP, no SQL strings. Handlers call these; these call the store.

pub mod catalog;
pub mod devices;
pub mod drawers;
pub mod kitchen;
pub mod order_notes;
pub mod orders;
pub mod payments;
pub mod printing;
pub mod receipts;
pub mod reports;
pub mod staff;
pub mod stream;
pub mod tables;
pub mod tips;
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

/// [`blocking`] for work that fails with a use case's own error type.
pub(crate) async fn blocking_with<T, E, F>(work: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| E::from(StoreError::Corrupt(format!("store task failed: {e}"))))?
}
