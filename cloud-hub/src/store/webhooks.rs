//! Webhook endpoints and their deliveries.

use super::{StoreError, TenantId};
use crate::envelope::{MasterKeys, Sealed};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: OffsetDateTime,
}

fn secret_aad(tenant: TenantId, endpoint: Uuid) -> Vec<u8> {
    format!("{}/webhook/{endpoint}", tenant.0).into_bytes()
}

/// Stores an endpoint; its signing secret sealed when the hub has a master key, in clear
/// otherwise (a hub run without one, e.g. on its embedded default).
pub async fn insert_endpoint(
    conn: &mut sqlx::PgConnection,
    keys: &MasterKeys,
    tenant: TenantId,
    id: Uuid,
    url: &str,
    secret: &str,
    events: &[String],
) -> Result<(), StoreError> {
    let sealed = match keys.current_id() {
        Some(_) => Some(
            keys.seal(secret.as_bytes(), &secret_aad(tenant, id))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        ),
        None => None,
    };
    sqlx::query(
        "INSERT INTO webhook_endpoints (tenant_id, id, url, secret, events, secret_key_id,
             secret_wrapped, secret_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(url)
    .bind(sealed.is_none().then_some(secret))
    .bind(events)
    .bind(sealed.as_ref().map(|s| s.key_id.clone()))
    .bind(sealed.as_ref().map(|s| s.wrapped_key.clone()))
    .bind(sealed.as_ref().map(|s| s.ciphertext.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// endpoint's tenant, id, clear secret, and the sealed one's key id, wrapped key, ciphertext.
type SecretRow = (
    Uuid,
    Uuid,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Seals every clear or old-key secret under the current master key (a hub given a master key
/// for the first time, or after a rotation). Hub-internal, across tenants.
pub async fn seal_secrets(pool: &PgPool, keys: &MasterKeys) -> Result<usize, StoreError> {
    let Some(current) = keys.current_id() else {
        return Ok(0);
    };
    let rows: Vec<SecretRow> = sqlx::query_as(
        "SELECT tenant_id, id, secret, secret_key_id, secret_wrapped, secret_sealed
             FROM webhook_endpoints WHERE secret_key_id IS DISTINCT FROM $1",
    )
    .bind(current)
    .fetch_all(pool)
    .await?;
    let mut changed = 0;
    for (tenant, id, clear, key_id, wrapped, sealed) in rows {
        let aad = secret_aad(TenantId(tenant), id);
        let new = match (clear, key_id, wrapped, sealed) {
            (Some(clear), ..) => keys.seal(clear.as_bytes(), &aad),
            (None, Some(key_id), Some(wrapped_key), Some(ciphertext)) => keys
                .rewrap(
                    &Sealed {
                        key_id,
                        wrapped_key,
                        ciphertext,
                    },
                    &aad,
                )
                .map(|rewrapped| rewrapped.unwrap_or_else(|| unreachable!("filtered on key id"))),
            _ => continue,
        }
        .map_err(|e| StoreError::Corrupt(format!("webhook {id}: {e}")))?;
        sqlx::query(
            "UPDATE webhook_endpoints SET secret = NULL, secret_key_id = $3, secret_wrapped = $4,
                 secret_sealed = $5
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(&new.key_id)
        .bind(&new.wrapped_key)
        .bind(&new.ciphertext)
        .execute(pool)
        .await?;
        changed += 1;
    }
    Ok(changed)
}

pub async fn endpoints(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Vec<Endpoint>, StoreError> {
    let rows: Vec<(Uuid, String, Vec<String>, OffsetDateTime)> = sqlx::query_as(
        "SELECT id, url, events, created_at FROM webhook_endpoints
         WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY created_at",
    )
    .bind(tenant.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, url, events, created_at)| Endpoint {
            id,
            url,
            events,
            created_at,
        })
        .collect())
}

pub async fn delete_endpoint(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// A delivery claimed for an attempt.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub url: String,
    /// The signing secret, opened; an error if it cannot be (its master key is gone).
    pub secret: Result<String, String>,
}

/// Claims due deliveries for one attempt each: the attempt is counted and the delivery leased
/// for `lease_secs`, so a hub that dies mid-attempt does not lose it and two replicas do not
/// send it at once.
pub async fn claim_due(
    pool: &PgPool,
    keys: &MasterKeys,
    limit: i64,
    lease_secs: i64,
) -> Result<Vec<DueDelivery>, StoreError> {
    type Row = (
        Uuid,
        Uuid,
        Uuid,
        String,
        serde_json::Value,
        i32,
        String,
        Uuid,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "WITH due AS (
            SELECT tenant_id, id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries d
            SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
           FROM due, webhook_endpoints e
          WHERE d.tenant_id = due.tenant_id AND d.id = due.id
            AND e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
         RETURNING d.tenant_id, d.id, d.event_id, d.event_type, d.payload, d.attempts, e.url,
                   e.id, e.secret, e.secret_key_id, e.secret_wrapped, e.secret_sealed",
    )
    .bind(limit)
    .bind(lease_secs as f64)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let secret = match (r.8, r.9, r.10, r.11) {
                (Some(clear), ..) => Ok(clear),
                (None, Some(key_id), Some(wrapped_key), Some(ciphertext)) => keys
                    .open(
                        &Sealed {
                            key_id,
                            wrapped_key,
                            ciphertext,
                        },
                        &secret_aad(TenantId(r.0), r.7),
                    )
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string())),
                _ => Err("the endpoint has no secret".to_owned()),
            };
            DueDelivery {
                tenant_id: TenantId(r.0),
                id: r.1,
                event_id: r.2,
                event_type: r.3,
                payload: r.4,
                attempts: r.5,
                url: r.6,
                secret,
            }
        })
        .collect())
}

pub async fn mark_delivered(
    pool: &PgPool,
    delivery: &DueDelivery,
    status: u16,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_status = $3, last_error = NULL
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(delivery.tenant_id.0)
    .bind(delivery.id)
    .bind(i32::from(status))
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed attempt: retry after `retry_in_ms`, or dead-letter when `dead`.
pub async fn mark_failed(
    pool: &PgPool,
    delivery: &DueDelivery,
    status: Option<u16>,
    error: &str,
    retry_in_ms: i64,
    dead: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries
            SET status = CASE WHEN $5 THEN 'dead' ELSE 'pending' END,
                next_attempt_at = now() + make_interval(secs => $6),
                last_status = $3, last_error = $4
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(delivery.tenant_id.0)
    .bind(delivery.id)
    .bind(status.map(i32::from))
    .bind(error)
    .bind(dead)
    .bind(retry_in_ms as f64 / 1000.0)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

pub async fn deliveries(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    type Row = (
        Uuid,
        Uuid,
        Uuid,
        String,
        String,
        i32,
        Option<i32>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, endpoint_id, event_id, event_type, status, attempts, last_status, last_error
         FROM webhook_deliveries WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
         ORDER BY created_at DESC LIMIT $3",
    )
    .bind(tenant.0)
    .bind(status)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeliveryRow {
            id: r.0,
            endpoint_id: r.1,
            event_id: r.2,
            event_type: r.3,
            status: r.4,
            attempts: r.5,
            last_status: r.6,
            last_error: r.7,
        })
        .collect())
}

/// Puts a dead (or delivered) delivery back in the queue for a fresh round of attempts.
pub async fn replay(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
                last_error = NULL
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
