//! The event fabric: what the hub tells the rest of the business.
//!
//! A change and the events it raises commit in one transaction into the `outbox` table
//! ([`crate::store::outbox`]). The [`dispatcher`] publishes them to NATS JetStream (subjects
//! `pos.<tenant>.<event>`, de-duplicated by event id) and fans them out to the tenant's webhook
//! endpoints, whose deliveries the [`webhooks`] worker sends, signed, with retries, backoff and
//! a dead-letter list an operator can replay.

pub mod dispatcher;
pub mod signing;
pub mod webhooks;

use serde::Serialize;
use sha2::{Digest, Sha256};
use shared_model::{Order, OrderState};
use uuid::Uuid;

/// Event types in the business's standard schema that the hub emits today.
pub const ORDER_CREATED: &str = "pos.order.created";
pub const ORDER_CLOSED: &str = "pos.order.closed";
pub const ORDER_VOIDED: &str = "pos.order.voided";
/// The order was refunded in full (partial refunds show on the order's `refunded_minor`).
pub const ORDER_REFUNDED: &str = "pos.order.refunded";
/// A drawer session was closed (its Z report is the payload).
pub const CASHDRAWER_CLOSED: &str = "pos.cashdrawer.closed";
/// A closed drawer's variance on some tender exceeded the cash-exception threshold.
pub const CASH_EXCEPTION: &str = "pos.cash_exception";
/// Every kitchen station bumped the order: the notifications service tells the customer.
pub const ORDER_READY: &str = "pos.order.ready";
/// A tenant's POS subscription renews soon (raised once per renewal date).
pub const SUBSCRIPTION_RENEWAL_DUE: &str = "pos.subscription.renewal_due";
/// A cancel from the cloud reached an outlet that had already taken payment: the order stands
/// and a manager decides the refund (also in the `offline_event_replay` record).
pub const ORDER_REFUND_REQUESTED: &str = "pos.order.refund_requested";
/// A cancel from the cloud came when the order could no longer be voided.
pub const ORDER_CANCEL_TOO_LATE: &str = "pos.order.cancel_too_late";
/// Outlets redeemed a gift card offline at once and took it below zero.
pub const GIFTCARD_OVERSPENT: &str = "pos.giftcard.overspent";
/// The treasury reported a chargeback on one of an order's payments.
pub const ORDER_CHARGEBACK: &str = "pos.order.chargeback";
/// An outlet's manager paid out a period's tip pool (for payroll).
pub const TIPS_PAID_OUT: &str = "pos.tips.paid_out";
/// The inventory service reported an item running low at an outlet.
pub const INVENTORY_LOW_STOCK: &str = "pos.inventory.low_stock";
/// Logistics reported on a delivery order's rider (assigned, picked up, delivered, failed).
pub const ORDER_DELIVERY_UPDATED: &str = "pos.order.delivery_updated";
/// An outlet closed its business day: its Z report, and whether the hub's orders agree.
pub const DAY_CLOSED: &str = "pos.day.closed";
/// Outlets burned a member's points offline at once and took the balance below zero.
pub const LOYALTY_OVERSPENT: &str = "pos.loyalty.overspent";
/// A sale (or its refund) moved a member's points: earned, taken back or restored.
pub const LOYALTY_POINTS_CHANGED: &str = "pos.loyalty.points_changed";
/// A single-use voucher was taken twice (two outlets offline at once, or after a cancel).
pub const VOUCHER_DOUBLE_REDEEMED: &str = "pos.voucher.double_redeemed";
/// The outlet wrote to a cloud order's notes (a message on the thread, the handoff
/// instructions, the promised ready time, the customer's check-in): the document as merged.
pub const ORDER_NOTES_CHANGED: &str = "pos.order.notes_changed";
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    ORDER_CREATED,
    ORDER_NOTES_CHANGED,
    DAY_CLOSED,
    LOYALTY_OVERSPENT,
    LOYALTY_POINTS_CHANGED,
    VOUCHER_DOUBLE_REDEEMED,
    TIPS_PAID_OUT,
    INVENTORY_LOW_STOCK,
    ORDER_DELIVERY_UPDATED,
    ORDER_CHARGEBACK,
    GIFTCARD_OVERSPENT,
    ORDER_REFUND_REQUESTED,
    ORDER_CANCEL_TOO_LATE,
    ORDER_CLOSED,
    ORDER_VOIDED,
    ORDER_REFUNDED,
    CASHDRAWER_CLOSED,
    CASH_EXCEPTION,
    ORDER_READY,
    SUBSCRIPTION_RENEWAL_DUE,
];

/// `pos.subscription.renewal_due` for `tenant_slug`'s renewal at `renews_at` (id stable per
/// tenant and renewal date).
pub fn renewal_due_event(
    tenant_slug: &str,
    plan: &str,
    renews_at: time::OffsetDateTime,
    days_left: i64,
) -> OutboxEvent {
    let digest = Sha256::new()
        .chain_update(tenant_slug.as_bytes())
        .chain_update(SUBSCRIPTION_RENEWAL_DUE.as_bytes())
        .chain_update(renews_at.unix_timestamp().to_be_bytes())
        .finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_custom_bytes(bytes).into_uuid();
    let renews_at_ms = (renews_at.unix_timestamp_nanos() / 1_000_000) as i64;
    event(
        tenant_slug,
        "",
        id,
        SUBSCRIPTION_RENEWAL_DUE,
        crate::now_ms(),
        serde_json::json!({"plan": plan, "renews_at_ms": renews_at_ms, "days_left": days_left}),
    )
}

/// `pos.order.refund_requested` (or `pos.order.cancel_too_late`) for a cancel an outlet's rule
/// overrode; its id is the replay record's, so a re-sent op raises it once.
pub fn cloud_cancel_conflict_event(
    tenant_slug: &str,
    outlet_code: &str,
    replay_id: Uuid,
    resolved: &crate::store::cloud_orders::CancelResolved,
) -> OutboxEvent {
    use sync_protocol::op::CancelOutcomeV1;
    let (event_type, data) = match &resolved.outcome {
        CancelOutcomeV1::RefundRequested { paid_minor } => (
            ORDER_REFUND_REQUESTED,
            serde_json::json!({"order_id": resolved.order_id.to_string(), "paid_minor": paid_minor,
                "cancel_reason": resolved.reason, "replay_id": replay_id.to_string()}),
        ),
        other => (
            ORDER_CANCEL_TOO_LATE,
            serde_json::json!({"order_id": resolved.order_id.to_string(), "outcome": other.as_str(),
                "cancel_reason": resolved.reason, "replay_id": replay_id.to_string()}),
        ),
    };
    event(
        tenant_slug,
        outlet_code,
        replay_id,
        event_type,
        resolved.resolved_at_ms,
        data,
    )
}

/// `pos.order.chargeback` (id: the chargeback's).
#[allow(clippy::too_many_arguments)]
pub fn chargeback_event(
    tenant_slug: &str,
    outlet_code: &str,
    chargeback_id: Uuid,
    order_id: Uuid,
    number: u64,
    amount_minor: i64,
    reason: &str,
    occurred_at_ms: i64,
) -> OutboxEvent {
    event(
        tenant_slug,
        outlet_code,
        chargeback_id,
        ORDER_CHARGEBACK,
        occurred_at_ms,
        serde_json::json!({"order_id": order_id.to_string(), "number": number,
            "amount_minor": amount_minor, "reason": reason}),
    )
}

/// `pos.giftcard.overspent` (id: the ledger entry's, so a re-sent op raises it once).
pub fn gift_card_overspent_event(
    tenant_slug: &str,
    outlet_code: &str,
    entry_id: Uuid,
    code: &str,
    order_id: Uuid,
    overspent_minor: i64,
    occurred_at_ms: i64,
) -> OutboxEvent {
    event(
        tenant_slug,
        outlet_code,
        entry_id,
        GIFTCARD_OVERSPENT,
        occurred_at_ms,
        serde_json::json!({"code": code, "order_id": order_id.to_string(), "overspent_minor": overspent_minor}),
    )
}

/// `pos.tips.paid_out` (id: the payout's, so a re-sent op raises it once).
pub fn tips_paid_out_event(
    tenant_slug: &str,
    outlet_code: &str,
    payout: &sync_protocol::op::TipPayoutV1,
) -> OutboxEvent {
    event(
        tenant_slug,
        outlet_code,
        Uuid::from_bytes(payout.payout_id),
        TIPS_PAID_OUT,
        payout.paid_at_ms,
        serde_json::json!({"from_ms": payout.from_ms, "to_ms": payout.to_ms,
            "tips_minor": payout.tips_minor,
            "shares": payout.shares.iter().map(|share| serde_json::json!({
                "staff_id": Uuid::from_bytes(share.staff_id).to_string(),
                "amount_minor": share.amount_minor})).collect::<Vec<_>>()}),
    )
}

/// `pos.order.notes_changed` for a cloud order whose notes the outlet changed (id stable per
/// merged state, so re-merging the same changes raises it once).
pub fn order_notes_changed_event(
    tenant_slug: &str,
    outlet_code: &str,
    merged: &crate::store::order_notes::MergedNotes,
) -> OutboxEvent {
    event(
        tenant_slug,
        outlet_code,
        merged.state_id,
        ORDER_NOTES_CHANGED,
        crate::now_ms(),
        serde_json::json!({
            "order_id": merged.order.order_id.to_string(),
            "external_ref": merged.order.external_ref,
            "notes": crate::services::order_notes::OrderNotesDto::from(&merged.notes),
        }),
    )
}

/// `pos.order.ready` for an order the kitchen finished (id stable per order, so a re-sent op
/// raises it once).
pub fn order_ready_event(
    tenant_slug: &str,
    outlet_code: &str,
    order_id: Uuid,
    number: u64,
    ready_at_ms: i64,
) -> OutboxEvent {
    event(
        tenant_slug,
        outlet_code,
        derived_id(order_id, ORDER_READY),
        ORDER_READY,
        ready_at_ms,
        serde_json::json!({"order_id": order_id.to_string(), "number": number, "ready_at_ms": ready_at_ms}),
    )
}

/// Variance (in minor units, either way) beyond which a closed drawer raises
/// [`CASH_EXCEPTION`]. Why 500.00: above the coin-level noise of a shift, below anything a
/// manager would let pass; a per-tenant setting comes with the outlet configuration profiles.
pub const CASH_EXCEPTION_THRESHOLD_MINOR: i64 = 50_000;

/// The events a drawer session raises when it closes: always `pos.cashdrawer.closed`, and
/// `pos.cash_exception` when a variance exceeds `threshold_minor`.
pub fn drawer_closed_events(
    tenant_slug: &str,
    outlet_code: &str,
    session: &shared_model::drawer::DrawerSession,
    threshold_minor: i64,
) -> Vec<OutboxEvent> {
    let report = session.report();
    let occurred_at_ms = session.closed_at_ms.unwrap_or(session.opened_at_ms);
    let counted: Vec<serde_json::Value> = report
        .counted
        .iter()
        .map(|(tender, counted_minor, variance_minor)| {
            serde_json::json!({"tender": tender.as_str().to_owned(), "counted_minor": counted_minor, "variance_minor": variance_minor})
        })
        .collect();
    let expected: Vec<serde_json::Value> = report
        .expected
        .iter()
        .map(|(tender, amount_minor)| serde_json::json!({"tender": tender.as_str().to_owned(), "amount_minor": amount_minor}))
        .collect();
    let mut events = vec![(
        CASHDRAWER_CLOSED,
        serde_json::json!({
            "session_id": session.id.to_string(), "terminal_id": session.terminal_id,
            "cashier_id": session.cashier_id, "z_number": report.z_number,
            "float_minor": report.float_minor, "paid_in_minor": report.paid_in_minor,
            "paid_out_minor": report.paid_out_minor, "dropped_minor": report.dropped_minor,
            "no_sales": report.no_sales, "expected": expected, "counted": counted,
        }),
    )];
    if let Some((tender, variance_minor)) = session.exception(threshold_minor) {
        events.push((
            CASH_EXCEPTION,
            serde_json::json!({
                "session_id": session.id.to_string(), "terminal_id": session.terminal_id,
                "cashier_id": session.cashier_id, "z_number": report.z_number,
                "tender": tender.as_str().to_owned(), "variance_minor": variance_minor,
                "threshold_minor": threshold_minor,
            }),
        ));
    }
    events
        .into_iter()
        .map(|(event_type, data)| {
            event(
                tenant_slug,
                outlet_code,
                derived_id(session.id.0, event_type),
                event_type,
                occurred_at_ms,
                data,
            )
        })
        .collect()
}

/// An event ready for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event_type: &'static str,
    pub subject: String,
    pub payload: serde_json::Value,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: &'a str,
    tenant: &'a str,
    outlet: &'a str,
    occurred_at_ms: i64,
    data: T,
}

#[derive(Serialize)]
struct OrderData<'a> {
    order_id: String,
    number: u64,
    order_type: &'a str,
    state: &'a str,
    currency: &'a str,
    net_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    paid_minor: i64,
    lines: usize,
}

/// A stable id for "this order reached this event", so a re-applied batch or a re-published
/// outbox row can be recognised downstream (JetStream de-duplicates on it).
pub fn event_id(order: &Order, event_type: &str) -> Uuid {
    derived_id(order.id.0, event_type)
}

/// A stable id for what `cause` (an order, a transfer) raises under `kind`: the same cause
/// always gives the same id, so a re-sent op raises or queues it once.
pub fn derived_id(cause: Uuid, kind: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(cause.as_bytes())
        .chain_update(kind.as_bytes())
        .finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// An event of `event_type` with `id`, for `tenant_slug` (and `outlet_code` when it concerns
/// one outlet), carrying `data`.
pub fn event(
    tenant_slug: &str,
    outlet_code: &str,
    id: Uuid,
    event_type: &'static str,
    occurred_at_ms: i64,
    data: serde_json::Value,
) -> OutboxEvent {
    let payload = serde_json::to_value(Envelope {
        id,
        event_type,
        tenant: tenant_slug,
        outlet: outlet_code,
        occurred_at_ms,
        data,
    })
    .unwrap_or(serde_json::Value::Null);
    OutboxEvent {
        id,
        event_type,
        subject: subject(tenant_slug, event_type),
        payload,
    }
}

/// The subject of `event_type` for `tenant`: `pos.order.created` → `pos.acme.order.created`.
pub fn subject(tenant_slug: &str, event_type: &str) -> String {
    let rest = event_type.strip_prefix("pos.").unwrap_or(event_type);
    format!("pos.{tenant_slug}.{rest}")
}

/// The events an order's change raises: created when the hub first sees it, then closed or
/// voided when it reaches that state.
pub fn order_events(
    tenant_slug: &str,
    outlet_code: &str,
    order: &Order,
    first_seen: bool,
    previous_state: Option<OrderState>,
) -> Vec<OutboxEvent> {
    let mut types = Vec::new();
    if first_seen {
        types.push((ORDER_CREATED, order.opened_at_ms));
    }
    if previous_state != Some(order.state) {
        match order.state {
            OrderState::Closed => types.push((
                ORDER_CLOSED,
                order.closed_at_ms.unwrap_or(order.opened_at_ms),
            )),
            OrderState::Refunded => types.push((
                ORDER_REFUNDED,
                order.closed_at_ms.unwrap_or(order.opened_at_ms),
            )),
            OrderState::Voided => types.push((
                ORDER_VOIDED,
                order.closed_at_ms.unwrap_or(order.opened_at_ms),
            )),
            _ => {}
        }
    }
    let totals = order.totals();
    types
        .into_iter()
        .map(|(event_type, occurred_at_ms)| {
            let id = event_id(order, event_type);
            let payload = serde_json::to_value(Envelope {
                id,
                event_type,
                tenant: tenant_slug,
                outlet: outlet_code,
                occurred_at_ms,
                data: OrderData {
                    order_id: order.id.to_string(),
                    number: order.number,
                    order_type: order.order_type.as_str(),
                    state: order.state.as_str(),
                    currency: order.currency.code(),
                    net_minor: totals.net_minor,
                    tax_minor: totals.tax_minor,
                    total_minor: totals.total_minor,
                    paid_minor: totals.paid_minor,
                    lines: order.lines.len(),
                },
            })
            .unwrap_or(serde_json::Value::Null);
            OutboxEvent {
                id,
                event_type,
                subject: subject(tenant_slug, event_type),
                payload,
            }
        })
        .collect()
}
