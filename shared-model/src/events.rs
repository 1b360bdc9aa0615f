//! Domain events: the immutable facts an order is made of.
//!
//! The edge decides a command (e.g. [`crate::Order::add_line`]) into an event, applies it and
//! stores it as an op in the same transaction. The hub applies the same events with the same
//! [`crate::Order::apply`], so both sides hold the same order. Corrections are new events,
//! never edits of old ones.

use crate::ids::{LineId, OrderId};
use crate::money::Currency;
use crate::order::{OrderDiscount, OrderLine, OrderType, Payment, Refund, Tip};
use crate::pricing::ServiceCharge;
use crate::promotions::AppliedPromotion;
use crate::tax::TaxPolicy;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
// `LineAdded` carries a whole line and is much larger than the rest. Boxing it would change
// the public shape the edge and the hub build and match on; an event is decided once and
// moved into storage, so the extra bytes per event cost nothing measurable.
/// One fact about an order. Variants are only ever added (at the end of the wire mirror
/// too), never changed.
#[allow(clippy::large_enum_variant)]
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
    /// The unsent lines went to the kitchen / bar.
    Sent {
        order_id: OrderId,
        sent_at_ms: i64,
    },
    /// One line taken off the bill; after it was sent it stays visible as waste.
    LineVoided {
        order_id: OrderId,
        line_id: LineId,
        reason: String,
        after_send: bool,
        voided_at_ms: i64,
    },
    DiscountApplied {
        order_id: OrderId,
        discount: OrderDiscount,
    },
    /// Replaces the promotions on the order with a fresh evaluation of its lines.
    PromotionsApplied {
        order_id: OrderId,
        promotions: Vec<AppliedPromotion>,
        applied_at_ms: i64,
    },
    /// Sets (or, with `None`, removes) the service charge.
    ServiceChargeSet {
        order_id: OrderId,
        charge: Option<ServiceCharge>,
        set_at_ms: i64,
    },
    TipAdded {
        order_id: OrderId,
        tip: Tip,
    },
    Refunded {
        order_id: OrderId,
        refund: Refund,
    },
    /// Lines moved in from another order (tables joined).
    LinesMerged {
        order_id: OrderId,
        from_order_id: OrderId,
        lines: Vec<OrderLine>,
        merged_at_ms: i64,
    },
    /// This order's lines moved to another; it is finished.
    MergedInto {
        order_id: OrderId,
        into_order_id: OrderId,
        merged_at_ms: i64,
    },
    /// The tenant's tax rounding for this order, set before any payment.
    TaxPolicySet {
        order_id: OrderId,
        policy: TaxPolicy,
    },
    /// The cash rounding line: what is due in cash moved to a collectable amount.
    CashRoundingApplied {
        order_id: OrderId,
        adjustment_minor: i64,
        applied_at_ms: i64,
    },
    /// These lines went to the kitchen (a course fired, the rest held): voiding one of them
    /// from now on is a void after send.
    LinesSent {
        order_id: OrderId,
        line_ids: Vec<LineId>,
        sent_at_ms: i64,
    },
}

impl OrderEvent {
    /// The order this fact is about.
    pub fn order_id(&self) -> OrderId {
        match self {
            OrderEvent::Opened { order_id, .. }
            | OrderEvent::LineAdded { order_id, .. }
            | OrderEvent::PaymentTaken { order_id, .. }
            | OrderEvent::Closed { order_id, .. }
            | OrderEvent::Voided { order_id, .. }
            | OrderEvent::Sent { order_id, .. }
            | OrderEvent::LineVoided { order_id, .. }
            | OrderEvent::DiscountApplied { order_id, .. }
            | OrderEvent::PromotionsApplied { order_id, .. }
            | OrderEvent::ServiceChargeSet { order_id, .. }
            | OrderEvent::TipAdded { order_id, .. }
            | OrderEvent::Refunded { order_id, .. }
            | OrderEvent::LinesMerged { order_id, .. }
            | OrderEvent::MergedInto { order_id, .. }
            | OrderEvent::TaxPolicySet { order_id, .. }
            | OrderEvent::CashRoundingApplied { order_id, .. }
            | OrderEvent::LinesSent { order_id, .. } => *order_id,
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
            OrderEvent::Sent { .. } => "order.sent",
            OrderEvent::LineVoided { .. } => "order.line_voided",
            OrderEvent::DiscountApplied { .. } => "order.discount_applied",
            OrderEvent::PromotionsApplied { .. } => "order.promotions_applied",
            OrderEvent::ServiceChargeSet { .. } => "order.service_charge_set",
            OrderEvent::TipAdded { .. } => "order.tip_added",
            OrderEvent::Refunded { .. } => "order.refunded",
            OrderEvent::LinesMerged { .. } => "order.lines_merged",
            OrderEvent::MergedInto { .. } => "order.merged_into",
            OrderEvent::TaxPolicySet { .. } => "order.tax_policy_set",
            OrderEvent::CashRoundingApplied { .. } => "order.cash_rounding_applied",
            OrderEvent::LinesSent { .. } => "order.lines_sent",
        }
    }
}
