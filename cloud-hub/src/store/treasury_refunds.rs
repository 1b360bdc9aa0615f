//! Refunds to a card or M-Pesa payment, sent back through the treasury: SQL only.
//!
//! A till's refund on such a tender is a fact on the order (it reaches the hub as an op, like
//! every refund); ingest queues it here in the same transaction, once per refund id, and only
//! when the order's rules accepted it. The payment worker sends it (`Idempotency-Key`: the refund
//! id); the treasury's `refund_processed` / `refund_failed` callbacks settle it.

use super::{StoreError, TenantId};
use shared_model::{OrderEvent, Tender};
use sync_protocol::feed::{FeedBody, REFUND_DETAIL_CHARS_MAX, TreasuryRefundSettledV1};
use uuid::Uuid;

/// A refund as the hub tracks it with the treasury.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreasuryRefund {
    pub id: Uuid,
    pub order_id: Uuid,
    pub tender: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    /// `requested`, `submitted`, `processed` or `failed`.
    pub state: String,
    pub provider_ref: Option<String>,
    pub detail: String,
    pub attempts: i32,
}

/// A refund the worker has claimed, with what the treasury needs.
#[derive(Debug, Clone)]
pub struct DueRefund {
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub outlet_code: String,
    pub refund: TreasuryRefund,
    /// The treasury's id of the order's payment in that tender, when it collected one.
    pub payment_ref: Option<String>,
}

/// Whether a refund on `tender` goes back through the treasury.
pub fn through_treasury(tender: Tender) -> bool {
    tender.refunds_through_treasury()
}

/// Queues the refunds among `events` (of one device) that go through the treasury, if the
/// order as folded holds them (a refund the rules refused is an anomaly, never sent).
pub async fn queue(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    device_id: Uuid,
    events: &[&OrderEvent],
) -> Result<(), StoreError> {
    for event in events {
        let OrderEvent::Refunded { order_id, refund } = event else {
            continue;
        };
        if !through_treasury(refund.tender) {
            continue;
        }
        sqlx::query(
            "INSERT INTO treasury_refunds (tenant_id, id, outlet_id, device_id, order_id, tender,
                amount_minor, currency, reason)
             SELECT $1, $2, $3, $4, $5, $6, $7, o.currency, $8 FROM orders o
             WHERE o.tenant_id = $1 AND o.id = $5
               AND EXISTS (SELECT 1 FROM jsonb_array_elements(o.doc->'refunds') r
                           WHERE r->>'id' = $2::text)
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(refund.id.0)
        .bind(outlet_id)
        .bind(device_id)
        .bind(order_id.0)
        .bind(refund.tender.as_str())
        .bind(refund.amount_minor)
        .bind(&refund.reason)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

type RefundRow = (
    Uuid,
    Uuid,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    i32,
);

const REFUND_COLUMNS: &str = "r.id, r.order_id, r.tender, r.amount_minor, r.currency, r.reason, \
    r.state, r.provider_ref, r.detail, r.attempts";

fn refund(row: RefundRow) -> TreasuryRefund {
    TreasuryRefund {
        id: row.0,
        order_id: row.1,
        tender: row.2,
        amount_minor: row.3,
        currency: row.4,
        reason: row.5,
        state: row.6,
        provider_ref: row.7,
        detail: row.8,
        attempts: row.9,
    }
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    order_id: Uuid,
    tender: String,
    amount_minor: i64,
    currency: String,
    reason: String,
    state: String,
    provider_ref: Option<String>,
    detail: String,
    attempts: i32,
    tenant_id: Uuid,
    slug: String,
    code: String,
    payment_ref: Option<String>,
}

/// Claims up to `limit` refunds due for a treasury call, across tenants (the worker's own
/// transaction; `SKIP LOCKED` so two hubs share the work).
pub async fn claim_due(
    tx: &mut sqlx::PgConnection,
    limit: i64,
) -> Result<Vec<DueRefund>, StoreError> {
    let rows: Vec<DueRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS}, r.tenant_id, t.slug, o.code,
                (SELECT i.provider_ref FROM payment_intents i
                 WHERE i.tenant_id = r.tenant_id AND i.order_id = r.order_id
                   AND i.state = 'captured' AND i.provider_ref IS NOT NULL
                   AND i.method = ANY(CASE r.tender
                       WHEN 'card' THEN ARRAY['card', 'card_offline']
                       ELSE ARRAY['mpesa_stk', 'mpesa_receipt'] END)
                 ORDER BY i.created_at LIMIT 1) AS payment_ref
         FROM treasury_refunds r
         JOIN tenants t ON t.id = r.tenant_id
         JOIN outlets o ON o.tenant_id = r.tenant_id AND o.id = r.outlet_id
         WHERE r.state = 'requested' AND r.next_attempt_at <= now()
         ORDER BY r.next_attempt_at
         LIMIT $1
         FOR UPDATE OF r SKIP LOCKED"
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| DueRefund {
            tenant: TenantId(row.tenant_id),
            tenant_slug: row.slug,
            outlet_code: row.code,
            payment_ref: row.payment_ref,
            refund: TreasuryRefund {
                id: row.id,
                order_id: row.order_id,
                tender: row.tender,
                amount_minor: row.amount_minor,
                currency: row.currency,
                reason: row.reason,
                state: row.state,
                provider_ref: row.provider_ref,
                detail: row.detail,
                attempts: row.attempts,
            },
        })
        .collect())
}

/// Moves a refund on: `state` with `detail` (and the treasury's id when it gave one). A refund
/// already settled (`processed`, `failed`) does not move again; `false` then. Settling it
/// sends the outcome down its outlet's feed in the same transaction, so the till that gave
/// the refund can tell the customer (or refund them by hand).
pub async fn settle(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    state: &str,
    provider_ref: Option<&str>,
    detail: &str,
) -> Result<bool, StoreError> {
    let moved: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE treasury_refunds SET state = $3, provider_ref = coalesce($4, provider_ref),
            detail = $5, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND state NOT IN ('processed', 'failed')
         RETURNING outlet_id, order_id",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(state)
    .bind(provider_ref)
    .bind(detail)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((outlet_id, order_id)) = moved else {
        return Ok(false);
    };
    if matches!(state, "processed" | "failed") {
        let settled = FeedBody::TreasuryRefundSettled(TreasuryRefundSettledV1 {
            refund_id: *id.as_bytes(),
            order_id: *order_id.as_bytes(),
            processed: state == "processed",
            detail: detail.chars().take(REFUND_DETAIL_CHARS_MAX).collect(),
            settled_at_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
        });
        super::feed::append(
            tx,
            tenant,
            outlet_id,
            &[("refund.settled".into(), id.to_string(), settled.encode())],
        )
        .await?;
    }
    Ok(true)
}

/// The queue these rows are retried in (`QUEUE.reschedule(...)` puts one back for later).
pub const QUEUE: super::outbound::OutboundQueue = super::outbound::OutboundQueue::TreasuryRefunds;

pub async fn by_id(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<TreasuryRefund>, StoreError> {
    let row: Option<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM treasury_refunds r WHERE r.tenant_id = $1 AND r.id = $2"
    )))
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(refund))
}

/// The treasury refunds of an order, oldest first.
pub async fn of_order(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<Vec<TreasuryRefund>, StoreError> {
    let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM treasury_refunds r
         WHERE r.tenant_id = $1 AND r.order_id = $2 ORDER BY r.created_at, r.id"
    )))
    .bind(tenant.0)
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(refund).collect())
}
