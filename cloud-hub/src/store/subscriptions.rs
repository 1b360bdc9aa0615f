//! Tenants' POS subscriptions and the renewal notices they raise.

use super::{StoreError, TenantId};
use crate::events::OutboxEvent;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub plan: String,
    pub renews_at: OffsetDateTime,
    pub notice_days: i32,
}

pub async fn put(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    subscription: &Subscription,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tenant_subscriptions (tenant_id, plan, renews_at, notice_days)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET plan = excluded.plan,
             renews_at = excluded.renews_at, notice_days = excluded.notice_days, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(&subscription.plan)
    .bind(subscription.renews_at)
    .bind(subscription.notice_days)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Option<Subscription>, StoreError> {
    let row: Option<(String, OffsetDateTime, i32)> = sqlx::query_as(
        "SELECT plan, renews_at, notice_days FROM tenant_subscriptions WHERE tenant_id = $1",
    )
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(plan, renews_at, notice_days)| Subscription {
        plan,
        renews_at,
        notice_days,
    }))
}

/// Raises `pos.subscription.renewal_due` for every subscription whose renewal date is within its
/// notice period and was not noticed yet, in the transaction that records the notice (so each
/// renewal date raises it once). Hub-internal, across tenants. Returns how many were raised.
pub async fn raise_renewal_notices(
    pool: &PgPool,
    event: impl Fn(&str, &str, OffsetDateTime, i64) -> OutboxEvent,
) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await?;
    let due: Vec<(Uuid, String, String, OffsetDateTime, i64)> = sqlx::query_as(
        "SELECT s.tenant_id, t.slug, s.plan, s.renews_at,
                greatest(0, ceil(extract(epoch FROM s.renews_at - now()) / 86400))::bigint
         FROM tenant_subscriptions s JOIN tenants t ON t.id = s.tenant_id
         WHERE s.renews_at - make_interval(days => s.notice_days) <= now()
           AND s.notice_sent_for IS DISTINCT FROM s.renews_at
         FOR UPDATE OF s SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut events = Vec::with_capacity(due.len());
    for (tenant, slug, plan, renews_at, days_left) in &due {
        sqlx::query(
            "UPDATE tenant_subscriptions SET notice_sent_for = renews_at WHERE tenant_id = $1",
        )
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
        events.push((TenantId(*tenant), event(slug, plan, *renews_at, *days_left)));
    }
    super::outbox::insert_many(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(due.len())
}
