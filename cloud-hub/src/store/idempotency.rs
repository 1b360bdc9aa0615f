//! Stored answers for `Idempotency-Key` requests.

use super::{StoreError, TenantId};
use sqlx::PgPool;

/// What the store knows about a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    /// First use: the caller runs the request and then [`complete`]s or [`release`]s the key.
    Reserved,
    /// A finished request with the same body: replay its answer.
    Replay { status: u16, response: Vec<u8> },
    /// The key was used with a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

pub async fn reserve(
    pool: &PgPool,
    tenant: TenantId,
    key: &str,
    request_hash: &[u8],
) -> Result<Reservation, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(key)
    .bind(request_hash)
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Reservation::Reserved);
    }
    type Row = (Vec<u8>, Option<i32>, Option<Vec<u8>>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
    )
    .bind(tenant.0)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Reservation::InProgress,
        Some((hash, _, _)) if hash != request_hash => Reservation::Mismatch,
        Some((_, Some(status), Some(response))) => Reservation::Replay {
            status: status as u16,
            response,
        },
        Some(_) => Reservation::InProgress,
    })
}

pub async fn complete(
    pool: &PgPool,
    tenant: TenantId,
    key: &str,
    status: u16,
    response: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE tenant_id = $1 AND key = $2",
    )
    .bind(tenant.0)
    .bind(key)
    .bind(i32::from(status))
    .bind(response)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a key whose request did not succeed, so a retry runs again.
pub async fn release(pool: &PgPool, tenant: TenantId, key: &str) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND status IS NULL",
    )
    .bind(tenant.0)
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}
