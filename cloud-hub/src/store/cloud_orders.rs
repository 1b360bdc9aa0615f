//! Orders placed in the cloud for an outlet, cancels sent after them, and the
//! `offline_event_replay` record of conflicts a merge rule resolved: SQL only.
//!
//! Placing an order writes, in one transaction, the order (as `orders` holds every order), its
//! cloud record, `pos.order.created` in the outbox and the outlet's feed entry that carries it
//! down. A cancel is a feed entry too: the outlet decides it against the order as it stands and
//! answers with an op, which [`apply_cancel_outcomes`] records at ingest.

use super::{StoreError, TenantId};
use crate::events::OutboxEvent;
use shared_model::Order;
use shared_model::cloud_order::CloudChannel;
use sync_protocol::feed::{CloudOrderV1, FeedBody};
use sync_protocol::op::CancelOutcomeV1;
use uuid::Uuid;

/// Cloud order numbers start above this, so a ticket's number tells the kitchen and the
/// customer it came from the cloud. Why 900,000: a till's own numbers (one counter per outlet)
/// would take decades to reach it.
pub const CLOUD_ORDER_NUMBER_BASE: u64 = 900_000;

/// Where a cloud order came from and what became of a cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudInfo {
    pub channel: String,
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub notes: Option<String>,
    /// `requested`, then the outlet's outcome (`cancelled`, `refund_requested`, ...).
    pub cancel_state: Option<String>,
    pub cancel_reason: Option<String>,
    pub refund_requested_minor: Option<i64>,
}

pub(super) type CloudInfoRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

pub(super) fn cloud_info(row: CloudInfoRow) -> Option<CloudInfo> {
    let (channel, external_ref, customer_name, customer_phone, notes, state, reason, refund) = row;
    Some(CloudInfo {
        channel: channel?,
        external_ref: external_ref?,
        customer_name,
        customer_phone,
        notes,
        cancel_state: state,
        cancel_reason: reason,
        refund_requested_minor: refund,
    })
}

/// A cloud order ready to be stored: the order folded from `wire.events`, and who it is for.
pub struct NewCloudOrder<'a> {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub order: &'a Order,
    pub channel: CloudChannel,
    pub delivery_address: Option<&'a str>,
    /// How to reach the customer beyond the phone number (kept at the hub).
    pub contact: CustomerContact<'a>,
    pub wire: &'a CloudOrderV1,
    /// `pos.order.created` (and whatever else the new order raises).
    pub events: &'a [OutboxEvent],
}

/// A cloud order customer's email, push token and preferred channels, kept at the hub only.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerContact<'a> {
    pub email: Option<&'a str>,
    pub push_token: Option<&'a str>,
    pub notify_by: Option<&'a [String]>,
}

/// Why a cloud order was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("an order with external reference {0} already exists")]
    DuplicateExternalRef(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The next cloud order number of an outlet (locks the outlet's counter row until commit, so
/// numbers are unique and in commit order).
pub async fn next_number(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<u64, StoreError> {
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO cloud_order_numbers (tenant_id, outlet_id, last_number) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, outlet_id)
            DO UPDATE SET last_number = cloud_order_numbers.last_number + 1
         RETURNING last_number",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind((CLOUD_ORDER_NUMBER_BASE + 1) as i64)
    .fetch_one(&mut *tx)
    .await?;
    Ok(last as u64)
}

/// Stores a placed order with its outbox event and feed entry; returns the feed position that
/// carries it to the outlet.
pub async fn insert(
    tx: &mut sqlx::PgConnection,
    new: &NewCloudOrder<'_>,
) -> Result<u64, PlaceError> {
    let taken: Option<Uuid> = sqlx::query_scalar(
        "SELECT order_id FROM cloud_orders WHERE tenant_id = $1 AND external_ref = $2",
    )
    .bind(new.tenant.0)
    .bind(&new.wire.external_ref)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    if taken.is_some() {
        return Err(PlaceError::DuplicateExternalRef(
            new.wire.external_ref.clone(),
        ));
    }
    let order = new.order;
    let totals = order.totals();
    let last_activity_ms = order.last_activity_ms();
    sqlx::query(
        "INSERT INTO orders (tenant_id, outlet_id, device_id, id, number, order_type, state,
            currency, net_minor, tax_minor, total_minor, paid_minor, opened_at_ms, closed_at_ms, doc,
            last_activity_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(new.tenant.0)
    .bind(new.outlet_id)
    // No device took it: the cloud did.
    .bind(Uuid::nil())
    .bind(order.id.0)
    .bind(order.number as i64)
    .bind(order.order_type.as_str())
    .bind(order.state.as_str())
    .bind(order.currency.code())
    .bind(totals.net_minor)
    .bind(totals.tax_minor)
    .bind(totals.total_minor)
    .bind(totals.paid_minor)
    .bind(order.opened_at_ms)
    .bind(order.closed_at_ms)
    .bind(sqlx::types::Json(order))
    .bind(last_activity_ms)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    sqlx::query(
        "INSERT INTO cloud_orders (tenant_id, order_id, outlet_id, channel, external_ref,
            customer_name, customer_phone, notes, delivery_address, customer_email,
            customer_push_token, notify_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(new.tenant.0)
    .bind(order.id.0)
    .bind(new.outlet_id)
    .bind(new.channel.as_str())
    .bind(&new.wire.external_ref)
    .bind(&new.wire.customer_name)
    .bind(&new.wire.customer_phone)
    .bind(&new.wire.notes)
    .bind(new.delivery_address)
    .bind(new.contact.email)
    .bind(new.contact.push_token)
    .bind(new.contact.notify_by)
    .execute(&mut *tx)
    .await
    .map_err(|error| match StoreError::from(error) {
        error if error.is_unique_violation() => {
            PlaceError::DuplicateExternalRef(new.wire.external_ref.clone())
        }
        error => PlaceError::Store(error),
    })?;
    super::outbox::insert(&mut *tx, new.tenant, new.events).await?;
    let body = FeedBody::CloudOrderPlaced(new.wire.clone()).encode();
    let seq = super::feed::append(
        &mut *tx,
        new.tenant,
        new.outlet_id,
        &[("cloud_order.placed".into(), order.id.to_string(), body)],
    )
    .await?;
    Ok(seq)
}

/// What asking to cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelRequest {
    /// Sent to the outlet (feed position); its rule decides.
    Sent {
        feed_through_seq: u64,
    },
    /// A cancel was already asked; its state now.
    AlreadyAsked {
        cancel_state: String,
    },
    /// Not an order placed in the cloud: the outlet's own orders are voided at its tills.
    NotCloudOrder,
    NotFound,
}

/// Sends a cancel for a cloud order to its outlet, once.
pub async fn request_cancel(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
    reason: &str,
    now_ms: i64,
) -> Result<CancelRequest, StoreError> {
    let known: Option<Uuid> =
        sqlx::query_scalar("SELECT outlet_id FROM orders WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    if known.is_none() {
        return Ok(CancelRequest::NotFound);
    }
    let cloud: Option<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT outlet_id, cancel_state FROM cloud_orders
         WHERE tenant_id = $1 AND order_id = $2 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (outlet_id, state) = match cloud {
        None => return Ok(CancelRequest::NotCloudOrder),
        Some(row) => row,
    };
    if let Some(cancel_state) = state {
        return Ok(CancelRequest::AlreadyAsked { cancel_state });
    }
    sqlx::query(
        "UPDATE cloud_orders SET cancel_state = 'requested', cancel_reason = $3,
            cancel_requested_at_ms = $4
         WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(tenant.0)
    .bind(order_id)
    .bind(reason)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let body = FeedBody::CloudOrderCancelRequested {
        order_id: *order_id.as_bytes(),
        reason: reason.to_owned(),
        requested_at_ms: now_ms,
    }
    .encode();
    let feed_through_seq = super::feed::append(
        &mut *tx,
        tenant,
        outlet_id,
        &[(
            "cloud_order.cancel_requested".into(),
            order_id.to_string(),
            body,
        )],
    )
    .await?;
    Ok(CancelRequest::Sent { feed_through_seq })
}

/// An outlet's word on a cancel, as ingest decoded it.
#[derive(Debug, Clone)]
pub struct CancelResolved {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub device_id: Uuid,
    pub op_seq: u64,
    pub order_id: Uuid,
    pub outcome: CancelOutcomeV1,
    pub reason: String,
    pub resolved_at_ms: i64,
}

/// Records the outlets' outcomes (inside ingest's transaction): the cloud record's state, and
/// for every outcome a rule forced (a refund request instead of a cancel, a cancel too late)
/// an `offline_event_replay` row; returns the events those raise. A re-sent op records
/// nothing twice (the row's id is derived from the op).
pub async fn apply_cancel_outcomes(
    tx: &mut sqlx::PgConnection,
    resolved: &[CancelResolved],
) -> Result<Vec<(TenantId, Uuid, CancelResolved)>, StoreError> {
    let mut conflicts = Vec::new();
    for outcome in resolved {
        let refund_minor = match outcome.outcome {
            CancelOutcomeV1::RefundRequested { paid_minor } => Some(paid_minor),
            _ => None,
        };
        let updated = sqlx::query(
            "UPDATE cloud_orders SET cancel_state = $3, cancel_resolved_at_ms = $4,
                refund_requested_minor = $5
             WHERE tenant_id = $1 AND order_id = $2 AND outlet_id = $6",
        )
        .bind(outcome.tenant.0)
        .bind(outcome.order_id)
        .bind(outcome.outcome.as_str())
        .bind(outcome.resolved_at_ms)
        .bind(refund_minor)
        .bind(outcome.outlet_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            tracing::warn!(order_id = %outcome.order_id, "a cancel outcome for an order that is not this outlet's cloud order");
            continue;
        }
        let conflict = matches!(
            outcome.outcome,
            CancelOutcomeV1::RefundRequested { .. } | CancelOutcomeV1::TooLate { .. }
        );
        if !conflict {
            continue;
        }
        let id = replay_id(outcome.device_id, outcome.op_seq);
        let detail = match &outcome.outcome {
            CancelOutcomeV1::RefundRequested { paid_minor } => serde_json::json!({
                "cancel_reason": outcome.reason, "paid_minor": paid_minor,
                "explanation": "the outlet had taken payment before the cancel reached it; the order stands and a manager decides the refund",
            }),
            CancelOutcomeV1::TooLate { state } => serde_json::json!({
                "cancel_reason": outcome.reason, "order_state": state,
                "explanation": "the order could no longer be voided when the cancel reached the outlet",
            }),
            _ => serde_json::Value::Null,
        };
        let inserted = record_replay(
            &mut *tx,
            &ReplayEntry {
                tenant: outcome.tenant,
                id,
                outlet_id: outcome.outlet_id,
                order_id: Some(outcome.order_id),
                rule: "paid_order_late_cancel",
                resolution: outcome.outcome.as_str(),
                detail,
                device_id: Some(outcome.device_id),
                op_seq: Some(outcome.op_seq),
                occurred_at_ms: outcome.resolved_at_ms,
            },
        )
        .await?;
        if inserted {
            conflicts.push((outcome.tenant, id, outcome.clone()));
        }
    }
    Ok(conflicts)
}

/// The stable id of the replay record an op gave rise to.
fn replay_id(device_id: Uuid, op_seq: u64) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"offline_event_replay")
        .chain_update(device_id.as_bytes())
        .chain_update(op_seq.to_be_bytes())
        .finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// One conflict a rule resolved.
#[derive(Debug, Clone)]
pub struct ReplayEntry {
    pub tenant: TenantId,
    pub id: Uuid,
    pub outlet_id: Uuid,
    pub order_id: Option<Uuid>,
    pub rule: &'static str,
    pub resolution: &'static str,
    pub detail: serde_json::Value,
    pub device_id: Option<Uuid>,
    pub op_seq: Option<u64>,
    pub occurred_at_ms: i64,
}

/// Records a resolved conflict; `false` if it was recorded before (same id).
pub async fn record_replay(
    tx: &mut sqlx::PgConnection,
    entry: &ReplayEntry,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO offline_event_replay (tenant_id, id, outlet_id, order_id, rule, resolution,
            detail, device_id, op_seq, occurred_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
    )
    .bind(entry.tenant.0)
    .bind(entry.id)
    .bind(entry.outlet_id)
    .bind(entry.order_id)
    .bind(entry.rule)
    .bind(entry.resolution)
    .bind(&entry.detail)
    .bind(entry.device_id)
    .bind(entry.op_seq.map(|seq| seq as i64))
    .bind(entry.occurred_at_ms)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A replay record as managers read it.
#[derive(Debug, Clone)]
pub struct ReplayRecord {
    pub id: Uuid,
    pub outlet_code: String,
    pub order_id: Option<Uuid>,
    pub rule: String,
    pub resolution: String,
    pub detail: serde_json::Value,
    pub device_id: Option<Uuid>,
    pub op_seq: Option<i64>,
    pub occurred_at_ms: i64,
}

type ReplayRow = (
    Uuid,
    String,
    Option<Uuid>,
    String,
    String,
    serde_json::Value,
    Option<Uuid>,
    Option<i64>,
    i64,
);

/// The tenant's replay records, newest first, optionally of one outlet.
pub async fn replay_records(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_code: Option<&str>,
    limit: i64,
) -> Result<Vec<ReplayRecord>, StoreError> {
    let rows: Vec<ReplayRow> = sqlx::query_as(
        "SELECT r.id, o.code, r.order_id, r.rule, r.resolution, r.detail, r.device_id, r.op_seq,
                r.occurred_at_ms
         FROM offline_event_replay r
         JOIN outlets o ON o.tenant_id = r.tenant_id AND o.id = r.outlet_id
         WHERE r.tenant_id = $1 AND ($2::text IS NULL OR o.code = $2)
         ORDER BY r.occurred_at_ms DESC, r.id DESC LIMIT $3",
    )
    .bind(tenant.0)
    .bind(outlet_code)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, outlet_code, order_id, rule, resolution, detail, device_id, op_seq, at)| {
                ReplayRecord {
                    id,
                    outlet_code,
                    order_id,
                    rule,
                    resolution,
                    detail,
                    device_id,
                    op_seq,
                    occurred_at_ms: at,
                }
            },
        )
        .collect())
}
