//! Webhook endpoints and their deliveries.

use super::{StoreError, TenantId};
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

pub async fn insert_endpoint(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    url: &str,
    secret: &str,
    events: &[String],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO webhook_endpoints (tenant_id, id, url, secret, events) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant.0)
        .bind(id)
        .bind(url)
        .bind(secret)
        .bind(events)
        .execute(&mut *conn)
        .await?;
    Ok(())
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
    pub secret: String,
}

/// Claims due deliveries for one attempt each: the attempt is counted and the delivery leased
/// for `lease_secs`, so a hub that dies mid-attempt does not lose it and two replicas do not
/// send it at once.
pub async fn claim_due(
    pool: &PgPool,
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
        String,
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
         RETURNING d.tenant_id, d.id, d.event_id, d.event_type, d.payload, d.attempts, e.url, e.secret",
    )
    .bind(limit)
    .bind(lease_secs as f64)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DueDelivery {
            tenant_id: TenantId(r.0),
            id: r.1,
            event_id: r.2,
            event_type: r.3,
            payload: r.4,
            attempts: r.5,
            url: r.6,
            secret: r.7,
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
