//! The hub's transactional outbox.

use super::{StoreError, TenantId};
use crate::events::OutboxEvent;
use sqlx::PgPool;
use uuid::Uuid;

/// Writes events inside the caller's transaction; an event already written is skipped.
pub async fn insert(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    events: &[OutboxEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let subjects: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    write(
        tx,
        &vec![tenant.0; events.len()],
        &ids,
        &types,
        &subjects,
        &payloads,
    )
    .await
}

/// Writes the events of several tenants (a group-committed ingest) in one statement.
pub async fn insert_many(
    tx: &mut sqlx::PgConnection,
    events: &[(TenantId, OutboxEvent)],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = events.iter().map(|(t, _)| t.0).collect();
    let ids: Vec<Uuid> = events.iter().map(|(_, e)| e.id).collect();
    let types: Vec<&str> = events.iter().map(|(_, e)| e.event_type).collect();
    let subjects: Vec<&str> = events.iter().map(|(_, e)| e.subject.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|(_, e)| &e.payload).collect();
    write(tx, &tenants, &ids, &types, &subjects, &payloads).await
}

async fn write(
    tx: &mut sqlx::PgConnection,
    tenants: &[Uuid],
    ids: &[Uuid],
    types: &[&str],
    subjects: &[&str],
    payloads: &[&serde_json::Value],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (tenant_id, id, event_type, subject, payload)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[])
         ON CONFLICT DO NOTHING",
    )
    .bind(tenants)
    .bind(ids)
    .bind(types)
    .bind(subjects)
    .bind(payloads)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub event_type: String,
    pub subject: String,
    pub payload: serde_json::Value,
}

/// Claims up to `limit` unpublished events, oldest first, skipping rows another hub replica
/// holds. The claim lasts as long as the transaction.
pub async fn claim(
    tx: &mut sqlx::PgConnection,
    limit: i64,
) -> Result<Vec<PendingEvent>, StoreError> {
    let rows: Vec<(Uuid, Uuid, String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT tenant_id, id, event_type, subject, payload FROM outbox
         WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(tenant_id, id, event_type, subject, payload)| PendingEvent {
                tenant_id: TenantId(tenant_id),
                id,
                event_type,
                subject,
                payload,
            },
        )
        .collect())
}

/// Marks events published and creates a delivery for every matching webhook endpoint.
pub async fn mark_published(
    tx: &mut sqlx::PgConnection,
    events: &[PendingEvent],
) -> Result<(), StoreError> {
    for event in events {
        sqlx::query(
            "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, payload)
             SELECT tenant_id, gen_random_uuid(), id, $2, $3, $4 FROM webhook_endpoints
             WHERE tenant_id = $1 AND disabled_at IS NULL AND $3 = ANY(events)
             ON CONFLICT DO NOTHING",
        )
        .bind(event.tenant_id.0)
        .bind(event.id)
        .bind(&event.event_type)
        .bind(&event.payload)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE outbox SET published_at = now() WHERE tenant_id = $1 AND id = $2")
            .bind(event.tenant_id.0)
            .bind(event.id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Events not yet published (the outbox depth).
pub async fn depth(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(pool)
            .await?,
    )
}
