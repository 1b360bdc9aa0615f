//! Domain events: the immutable facts an order is made of.
//!
//! The edge decides a command (e.g. [`crate::Order::add_line`]) into an event, applies it and
//! stores it as an op in the same transaction. The hub applies the same events with the same
//! [`crate::Order::apply`], so both sides hold the same order. Corrections are new events,
//! never edits of old ones.

use crate::ids::OrderId;
use crate::money::Currency;
use crate::order::{OrderLine, OrderType, Payment};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OrderEvent {
    Opened {
        order_id: OrderId,
        /// Human-facing order number, monotonic per edge.
        number: u64,
        order_type: OrderType,
        currency: Currency,
        opened_at_ms: i64,
    },
    LineAdded {
        order_id: OrderId,
        line: OrderLine,
    },
    PaymentTaken {
        order_id: OrderId,
        payment: Payment,
    },
    Closed {
        order_id: OrderId,
        closed_at_ms: i64,
    },
    Voided {
        order_id: OrderId,
        reason: String,
        voided_at_ms: i64,
    },
}

impl OrderEvent {
    pub fn order_id(&self) -> OrderId {
        match self {
            OrderEvent::Opened { order_id, .. }
            | OrderEvent::LineAdded { order_id, .. }
            | OrderEvent::PaymentTaken { order_id, .. }
            | OrderEvent::Closed { order_id, .. }
            | OrderEvent::Voided { order_id, .. } => *order_id,
        }
    }

    /// A stable short name, used for op kinds and event subjects.
    pub fn kind(&self) -> &'static str {
        match self {
            OrderEvent::Opened { .. } => "order.opened",
            OrderEvent::LineAdded { .. } => "order.line_added",
            OrderEvent::PaymentTaken { .. } => "order.payment_taken",
            OrderEvent::Closed { .. } => "order.closed",
            OrderEvent::Voided { .. } => "order.voided",
        }
    }
}
