//! The hub's PostgreSQL store: the only module with SQL.

pub mod audit;
pub mod audit_log;
pub mod cloud_orders;
pub mod copy_binary;
pub mod day_reports;
pub mod devices;
pub mod drawers;
pub mod feed;
pub mod gift_cards;
pub mod idempotency;
pub mod ingest;
pub mod lan_devices;
pub mod loyalty;
pub mod notifications;
pub mod order_notes;
pub mod orders;
pub mod outbound;
pub mod outbox;
pub mod outlet_docs;
pub mod outlet_settings;
pub mod payment_intents;
pub mod promotions;
pub mod providers;
pub mod scoped;
pub mod secrets;
pub mod service_calls;
pub mod staff_sessions;
pub mod subscriptions;
pub mod tenants;
pub mod tip_payouts;
pub mod treasury_refunds;
pub mod webhooks;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use thiserror::Error;
use uuid::Uuid;

/// A tenant's id. Tenant-scoped queries take one, so a query cannot forget its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(pub Uuid);

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the error is a unique-constraint violation (a duplicate key).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505"))
    }
}

/// Connects to `database_url` and applies the embedded migrations.
pub async fn connect(database_url: &str, connections_max: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(database_url)?;
    let pool = PgPoolOptions::new()
        .max_connections(connections_max)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// `SELECT 1`, for readiness.
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
