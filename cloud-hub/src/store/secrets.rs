//! Hub-wide secrets: the device CA (its key sealed under the master key when one is
//! configured, see `crate::pki`) and the dev-token signing key.
//!
//! Stored in PostgreSQL so every hub replica (and the admin commands) share them. They are
//! created once, race-free: the first writer wins and everyone reads the winner.

use super::StoreError;
use sqlx::PgPool;

pub async fn get(pool: &PgPool, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM hub_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

/// Stores `value` under `name` unless one exists; returns the value now stored.
pub async fn get_or_insert(pool: &PgPool, name: &str, value: &str) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO hub_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(value)
    .execute(pool)
    .await?;
    get(pool, name)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("secret {name} vanished")))
}

/// Replaces `name`'s value with `new` only if it still is `old` (another replica may have
/// changed it meanwhile); returns whether it did.
pub async fn replace(pool: &PgPool, name: &str, old: &str, new: &str) -> Result<bool, StoreError> {
    let updated = sqlx::query("UPDATE hub_secrets SET value = $3 WHERE name = $1 AND value = $2")
        .bind(name)
        .bind(old)
        .bind(new)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(updated == 1)
}
