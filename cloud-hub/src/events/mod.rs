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
pub const KNOWN_EVENT_TYPES: &[&str] = &[ORDER_CREATED, ORDER_CLOSED, ORDER_VOIDED, ORDER_REFUNDED];

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
    let digest = Sha256::new()
        .chain_update(order.id.0.as_bytes())
        .chain_update(event_type.as_bytes())
        .finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
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
