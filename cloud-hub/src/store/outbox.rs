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
    /// Its place in the outbox (unique; the order events are published in).
    pub seq: i64,
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
    let rows: Vec<(i64, Uuid, Uuid, String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT seq, tenant_id, id, event_type, subject, payload FROM outbox
         WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, tenant_id, id, event_type, subject, payload)| PendingEvent {
                seq,
                tenant_id: TenantId(tenant_id),
                id,
                event_type,
                subject,
                payload,
            },
        )
        .collect())
}

/// Marks events published and creates a delivery for every matching webhook endpoint: two
/// statements for the whole round.
pub async fn mark_published(
    tx: &mut sqlx::PgConnection,
    events: &[PendingEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = events.iter().map(|e| e.tenant_id.0).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, payload)
         SELECT w.tenant_id, gen_random_uuid(), w.id, ev.id, ev.event_type, ev.payload
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[])
              WITH ORDINALITY AS ev(tenant_id, id, event_type, payload, n)
         JOIN webhook_endpoints w
           ON w.tenant_id = ev.tenant_id AND w.disabled_at IS NULL AND ev.event_type = ANY(w.events)
         ORDER BY ev.n
         ON CONFLICT DO NOTHING",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(&types)
    .bind(&payloads)
    .execute(&mut *tx)
    .await?;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    // By `seq` under the unpublished index (the rows are locked by the claim).
    sqlx::query(
        "UPDATE outbox SET published_at = now() WHERE published_at IS NULL AND seq = ANY($1)",
    )
    .bind(&seqs)
    .execute(&mut *tx)
    .await?;
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
