//! Payment intents at the hub: created by the ingest of a till's request, driven by the
//! payment worker and the treasury's callbacks. Every state change is checked against
//! `shared-model`'s rules and goes down the outlet's feed in the same transaction.

use super::feed::append;
use super::{StoreError, TenantId};
use shared_model::payment_intent::IntentState;
use sync_protocol::feed::{FeedBody, PaymentIntentUpdateV1};
use uuid::Uuid;

/// A till's request, as the ingest stores it.
#[derive(Debug, Clone)]
pub struct NewIntent {
    pub tenant: TenantId,
    pub id: Uuid,
    pub outlet_id: Uuid,
    pub device_id: Uuid,
    pub order_id: Uuid,
    pub method: &'static str,
    pub msisdn: Option<String>,
    pub terminal_ref: Option<String>,
    /// The M-Pesa receipt code a cashier typed (method `mpesa_receipt`).
    pub receipt: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
}

/// Stores requests inside the ingest transaction; one already held is left as it is.
pub async fn insert_requested(
    tx: &mut sqlx::PgConnection,
    intents: &[NewIntent],
) -> Result<(), StoreError> {
    for intent in intents {
        sqlx::query(
            "INSERT INTO payment_intents (tenant_id, id, outlet_id, device_id, order_id, method,
                 msisdn, terminal_ref, amount_minor, currency, state, receipt)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requested', $11)
             ON CONFLICT DO NOTHING",
        )
        .bind(intent.tenant.0)
        .bind(intent.id)
        .bind(intent.outlet_id)
        .bind(intent.device_id)
        .bind(intent.order_id)
        .bind(intent.method)
        .bind(&intent.msisdn)
        .bind(&intent.terminal_ref)
        .bind(intent.amount_minor)
        .bind(&intent.currency)
        .bind(&intent.receipt)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// An intent the worker should send to the treasury now.
#[derive(Debug, Clone)]
pub struct DueIntent {
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub outlet_code: String,
    pub id: Uuid,
    pub order_id: Uuid,
    pub method: String,
    pub msisdn: Option<String>,
    pub terminal_ref: Option<String>,
    pub receipt: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub attempts: i32,
}

type DueRow = (
    Uuid,
    String,
    String,
    Uuid,
    Uuid,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
    i32,
);

/// Claims up to `limit` requested intents whose next attempt is due, skipping rows another hub
/// replica holds. The claim lasts as long as the transaction.
pub async fn claim_due(
    tx: &mut sqlx::PgConnection,
    limit: i64,
) -> Result<Vec<DueIntent>, StoreError> {
    let rows: Vec<DueRow> = sqlx::query_as(
        "SELECT i.tenant_id, t.slug, o.code, i.id, i.order_id, i.method, i.msisdn,
                i.terminal_ref, i.receipt, i.amount_minor, i.currency, i.attempts
         FROM payment_intents i
         JOIN tenants t ON t.id = i.tenant_id
         JOIN outlets o ON o.tenant_id = i.tenant_id AND o.id = i.outlet_id
         WHERE i.state = 'requested' AND i.next_attempt_at <= now()
         ORDER BY i.next_attempt_at
         LIMIT $1
         FOR UPDATE OF i SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                tenant,
                slug,
                code,
                id,
                order_id,
                method,
                msisdn,
                terminal_ref,
                receipt,
                amount,
                currency,
                attempts,
            )| {
                DueIntent {
                    tenant: TenantId(tenant),
                    tenant_slug: slug,
                    outlet_code: code,
                    id,
                    order_id,
                    method,
                    msisdn,
                    terminal_ref,
                    receipt,
                    amount_minor: amount,
                    currency,
                    attempts,
                }
            },
        )
        .collect())
}

/// The queue these rows are retried in (`QUEUE.reschedule(...)` puts one back for later).
pub const QUEUE: super::outbound::OutboundQueue = super::outbound::OutboundQueue::PaymentIntents;

/// A change the treasury (or the clock) decided.
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    pub provider_ref: Option<&'a str>,
    pub receipt: Option<&'a str>,
    pub detail: &'a str,
    /// For `Prompted`: how long to wait for the treasury's word.
    pub deadline_ms: Option<i64>,
}

/// What a transition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Applied {
        from: IntentState,
    },
    /// The rules refuse it (a duplicate, or an answer the intent is past); nothing changed.
    Ignored {
        current: IntentState,
    },
    NotFound,
}

/// state, outlet, order, amount, provider ref, receipt.
type LockedIntent = (String, Uuid, Uuid, i64, Option<String>, Option<String>);

/// Moves an intent to `next` if the rules allow it, and tells its outlet over the feed.
pub async fn transition(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    next: IntentState,
    change: &Change<'_>,
    now_ms: i64,
) -> Result<Transition, StoreError> {
    let row: Option<LockedIntent> = sqlx::query_as(
        "SELECT state, outlet_id, order_id, amount_minor, provider_ref, receipt FROM payment_intents
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((state, outlet_id, order_id, amount_minor, provider_ref, receipt)) = row else {
        return Ok(Transition::NotFound);
    };
    let current = IntentState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("payment intent state {state}")))?;
    if !current.may_become(next) {
        return Ok(Transition::Ignored { current });
    }
    let provider_ref = change.provider_ref.map(str::to_owned).or(provider_ref);
    let receipt = change.receipt.map(str::to_owned).or(receipt);
    sqlx::query(
        "UPDATE payment_intents SET state = $3, provider_ref = $4, receipt = $5, detail = $6,
            deadline_at = CASE WHEN $7::bigint IS NULL THEN deadline_at
                               ELSE now() + make_interval(secs => $7::double precision / 1000) END,
            updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(next.as_str())
    .bind(&provider_ref)
    .bind(&receipt)
    .bind(change.detail)
    .bind(change.deadline_ms)
    .execute(&mut *tx)
    .await?;
    let body = FeedBody::PaymentIntentUpdated(PaymentIntentUpdateV1 {
        intent_id: *id.as_bytes(),
        order_id: *order_id.as_bytes(),
        state: next.into(),
        amount_minor,
        provider_ref,
        receipt,
        detail: change.detail.to_owned(),
        at_ms: now_ms,
    })
    .encode();
    append(
        &mut *tx,
        tenant,
        outlet_id,
        &[("payment.intent_updated".into(), id.to_string(), body)],
    )
    .await?;
    Ok(Transition::Applied { from: current })
}

/// Prompted intents past their deadline, across tenants (for the worker to time out).
pub async fn overdue(
    tx: &mut sqlx::PgConnection,
    limit: i64,
) -> Result<Vec<(TenantId, Uuid)>, StoreError> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT tenant_id, id FROM payment_intents
         WHERE state = 'prompted' AND deadline_at < now()
         ORDER BY deadline_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, id)| (TenantId(tenant), id))
        .collect())
}

/// Records a callback from an integration; `false` when the same event was already applied.
pub async fn record_integration_event(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    provider: &str,
    event_id: Option<&str>,
    event_type: &str,
    outcome: &str,
    detail: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO integration_events (tenant_id, provider, event_id, event_type, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(outcome)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// An intent as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub method: String,
    pub amount_minor: i64,
    pub currency: String,
    pub state: String,
    pub provider_ref: Option<String>,
    pub receipt: Option<String>,
    pub detail: String,
    pub attempts: i32,
}

pub async fn by_id(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<IntentRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, order_id, method, amount_minor, currency, state, provider_ref, receipt, detail,
                attempts
         FROM payment_intents WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Whether an integration's event was already applied (a repeated delivery).
pub async fn already_applied(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    provider: &str,
    event_id: &str,
) -> Result<bool, StoreError> {
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM integration_events
         WHERE tenant_id = $1 AND provider = $2 AND event_id = $3 AND outcome = 'applied'",
    )
    .bind(tenant.0)
    .bind(provider)
    .bind(event_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(seen.is_some())
}

/// Whether another intent of the tenant already captured with this M-Pesa receipt code (the
/// same SMS shown at two tills).
pub async fn receipt_used_elsewhere(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    receipt_code: &str,
) -> Result<bool, StoreError> {
    let other: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM payment_intents
         WHERE tenant_id = $1 AND id <> $2 AND receipt = $3 AND state = 'captured' LIMIT 1",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(receipt_code)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(other.is_some())
}

/// One entry of the integrations monitor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntegrationEvent {
    pub id: i64,
    pub provider: String,
    pub event_id: Option<String>,
    pub event_type: String,
    pub outcome: String,
    pub detail: String,
    pub received_at: time::OffsetDateTime,
}

/// The newest connector events of a tenant, optionally of one outcome, newest first.
pub async fn integration_events(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outcome: Option<&str>,
    limit: i64,
) -> Result<Vec<IntegrationEvent>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, provider, event_id, event_type, outcome, detail, received_at
         FROM integration_events
         WHERE tenant_id = $1 AND ($2::text IS NULL OR outcome = $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(tenant.0)
    .bind(outcome)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}
