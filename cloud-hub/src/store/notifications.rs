//! Messages for the notifications service, queued in the transaction of what asked for them
//! and sent by the notification worker: SQL only.

use super::{StoreError, TenantId};
use uuid::Uuid;

/// Queues "your order is ready" for the customer of a cloud order, by the first channel of
/// their preference (default sms, email, push) they left a contact for; nothing for an order
/// without one. `id` is the ready event's, so a re-sent op queues once.
pub async fn queue_order_ready(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    order_id: Uuid,
    number: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notifications (tenant_id, id, outlet_id, order_id, channel, recipient,
            template, data)
         SELECT c.tenant_id, $2, c.outlet_id, c.order_id, way.channel, way.recipient,
                'order_ready',
                jsonb_build_object('order_number', $3::bigint, 'external_ref', c.external_ref,
                                   'customer_name', c.customer_name, 'outlet', o.code,
                                   'outlet_name', o.name)
         FROM cloud_orders c JOIN outlets o ON o.tenant_id = c.tenant_id AND o.id = c.outlet_id
         CROSS JOIN LATERAL (
            SELECT p.channel, p.preference,
                   CASE p.channel WHEN 'sms' THEN c.customer_phone
                                  WHEN 'email' THEN c.customer_email
                                  WHEN 'push' THEN c.customer_push_token END AS recipient
            FROM unnest(coalesce(c.notify_by, ARRAY['sms', 'email', 'push']))
                 WITH ORDINALITY AS p(channel, preference)) way
         WHERE c.tenant_id = $1 AND c.order_id = $4 AND way.recipient IS NOT NULL
         ORDER BY way.preference
         LIMIT 1
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(number as i64)
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A message the worker has claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueNotification {
    pub tenant_id: Uuid,
    pub slug: String,
    pub id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub template: String,
    pub data: serde_json::Value,
    pub attempts: i32,
}

/// Claims up to `limit` due messages across tenants (`SKIP LOCKED`: hubs share the work).
pub async fn claim_due(
    tx: &mut sqlx::PgConnection,
    limit: i64,
) -> Result<Vec<DueNotification>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT n.tenant_id, t.slug, n.id, n.channel, n.recipient, n.template, n.data, n.attempts
         FROM notifications n JOIN tenants t ON t.id = n.tenant_id
         WHERE n.state = 'pending' AND n.next_attempt_at <= now()
         ORDER BY n.next_attempt_at LIMIT $1
         FOR UPDATE OF n SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?)
}

/// Settles a message (`sent` or `failed`) with what the service said.
pub async fn settle(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    state: &str,
    provider_ref: Option<&str>,
    detail: &str,
    attempts: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE notifications SET state = $3, provider_ref = $4, detail = $5, attempts = $6,
            updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(state)
    .bind(provider_ref)
    .bind(detail)
    .bind(attempts)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The queue these rows are retried in (`QUEUE.reschedule(...)` puts one back for later).
pub const QUEUE: super::outbound::OutboundQueue = super::outbound::OutboundQueue::Notifications;
