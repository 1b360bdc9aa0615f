//! Orders placed in the cloud (a web shop, a delivery platform, click-and-collect) for an
//! outlet to prepare, and the rule for a cancel that reaches the outlet after it acted.
//!
//! The hub creates such an order and sends it down the outlet's feed; from then on the outlet
//! owns it like any order taken at its tills. A cancel from the cloud travels the same way and
//! meets the order in whatever state the outlet left it — possibly paid at the counter while
//! the link was down. [`decide_cancel`] is the one rule both sides rely on: an order that
//! money was taken for is never cancelled by a late cancel; it becomes a refund request for a
//! manager.

use crate::order::{Order, OrderState, OrderType};
use serde::{Deserialize, Serialize};

/// Where a cloud order came from. Each sells through an order type (and so a price channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudChannel {
    /// The tenant's web shop or app, collected or delivered by the shop itself.
    Ecommerce,
    /// A delivery platform; a rider collects it.
    Delivery,
    /// Ordered (and usually paid) online, collected at the counter.
    ClickAndCollect,
}

impl CloudChannel {
    pub const ALL: [CloudChannel; 3] = [
        CloudChannel::Ecommerce,
        CloudChannel::Delivery,
        CloudChannel::ClickAndCollect,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            CloudChannel::Ecommerce => "ecommerce",
            CloudChannel::Delivery => "delivery",
            CloudChannel::ClickAndCollect => "click_and_collect",
        }
    }

    pub fn parse(text: &str) -> Option<CloudChannel> {
        CloudChannel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == text)
    }

    /// The order type the outlet prepares it as.
    pub fn order_type(&self) -> OrderType {
        match self {
            CloudChannel::Ecommerce | CloudChannel::ClickAndCollect => OrderType::EcommercePickup,
            CloudChannel::Delivery => OrderType::Delivery,
        }
    }
}

/// What a cancel from the cloud did to the order it named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum CancelOutcome {
    /// Nothing was paid: the order is voided.
    Cancelled,
    /// Money was taken (at the counter, or online in advance): the order stands and a manager
    /// decides on the refund of `paid_minor`.
    RefundRequested { paid_minor: i64 },
    /// The outlet had voided it already; nothing more to do.
    AlreadyVoided,
    /// The order can no longer be voided and nothing was paid (e.g. a zero-value order already
    /// closed, or merged into another): recorded for a manager, nothing changed.
    TooLate { state: OrderState },
}

impl CancelOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            CancelOutcome::Cancelled => "cancelled",
            CancelOutcome::RefundRequested { .. } => "refund_requested",
            CancelOutcome::AlreadyVoided => "already_voided",
            CancelOutcome::TooLate { .. } => "too_late",
        }
    }

    /// Whether a rule overrode the cancel (a conflict a manager must see).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            CancelOutcome::RefundRequested { .. } | CancelOutcome::TooLate { .. }
        )
    }
}

/// The rule for a cancel that reaches `order` as it stands now.
///
/// ```
/// use shared_model::cloud_order::{decide_cancel, CancelOutcome};
/// use shared_model::{Currency, Order, OrderEvent, OrderId, OrderType, PaymentId, Tender};
/// let opened = OrderEvent::Opened {
///     order_id: OrderId(uuid::Uuid::nil()), number: 1, order_type: OrderType::Delivery,
///     currency: Currency::kes(), opened_at_ms: 0,
/// };
/// let order = Order::from_opened(&opened).expect("opened");
/// assert_eq!(decide_cancel(&order), CancelOutcome::Cancelled);
/// ```
pub fn decide_cancel(order: &Order) -> CancelOutcome {
    if order.state == OrderState::Voided {
        return CancelOutcome::AlreadyVoided;
    }
    let totals = order.totals();
    let kept_minor = totals.paid_minor - totals.refunded_minor;
    if !order.payments.is_empty() && kept_minor > 0 {
        return CancelOutcome::RefundRequested {
            paid_minor: kept_minor,
        };
    }
    match order.state {
        OrderState::Open | OrderState::Sent if order.payments.is_empty() => {
            CancelOutcome::Cancelled
        }
        state => CancelOutcome::TooLate { state },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::CatalogItem;
    use crate::order::Tender;
    use crate::tax::{RoundingMode, TaxMode, TaxRate};
    use crate::{Currency, LineId, OrderEvent, OrderId, PaymentId};
    use proptest::prelude::*;

    fn item(price_minor: i64) -> CatalogItem {
        CatalogItem::simple(
            "chips",
            "Chips",
            "food",
            price_minor,
            TaxMode::Exclusive,
            vec![TaxRate::new("VAT16", 1_600)],
        )
    }

    fn opened() -> Order {
        Order::from_opened(&OrderEvent::Opened {
            order_id: OrderId(uuid::Uuid::from_u128(7)),
            number: 900_001,
            order_type: OrderType::Delivery,
            currency: Currency::kes(),
            opened_at_ms: 1_000,
        })
        .unwrap()
    }

    fn with_line(mut order: Order, price_minor: i64) -> Order {
        let event = order
            .add_line(
                LineId(uuid::Uuid::from_u128(order.lines.len() as u128 + 1)),
                &item(price_minor),
                1,
                RoundingMode::HalfUp,
            )
            .unwrap();
        order.apply(&event).unwrap();
        order
    }

    fn paid(mut order: Order, amount_minor: i64) -> Order {
        let event = order
            .take_payment(
                PaymentId(uuid::Uuid::from_u128(99 + order.payments.len() as u128)),
                Tender::Cash,
                amount_minor,
                3_000,
            )
            .unwrap();
        order.apply(&event).unwrap();
        order
    }

    #[test]
    fn an_unpaid_order_in_the_kitchen_is_cancelled() {
        let mut order = with_line(opened(), 50_000);
        order.apply(&order.send(4_000).unwrap()).unwrap();
        assert_eq!(decide_cancel(&order), CancelOutcome::Cancelled);
        // And the void it leads to is allowed by the order's own rules.
        assert!(order.void("cancelled online", 5_000).is_ok());
    }

    #[test]
    fn a_paid_order_becomes_a_refund_request_never_a_cancel() {
        let order = paid(with_line(opened(), 50_000), 58_000);
        assert_eq!(
            decide_cancel(&order),
            CancelOutcome::RefundRequested { paid_minor: 58_000 }
        );
        assert!(decide_cancel(&order).is_conflict());
    }

    #[test]
    fn a_part_paid_order_is_a_refund_request_for_what_was_taken() {
        let order = paid(with_line(opened(), 50_000), 20_000);
        assert_eq!(order.state, OrderState::PartiallyPaid);
        assert_eq!(
            decide_cancel(&order),
            CancelOutcome::RefundRequested { paid_minor: 20_000 }
        );
    }

    #[test]
    fn a_voided_order_stays_voided_without_a_conflict() {
        let mut order = with_line(opened(), 50_000);
        order
            .apply(&order.void("customer left", 4_000).unwrap())
            .unwrap();
        assert_eq!(decide_cancel(&order), CancelOutcome::AlreadyVoided);
        assert!(!decide_cancel(&order).is_conflict());
    }

    proptest! {
        /// Whatever was paid, a cancel never leads to a void of an order holding money, and
        /// the refund requested is exactly what the outlet kept.
        #[test]
        fn a_cancel_never_voids_an_order_holding_money(
            prices in proptest::collection::vec(1_i64..100_000, 1..5),
            payments in proptest::collection::vec(1_i64..200_000, 0..3),
        ) {
            let mut order = opened();
            for price in &prices {
                order = with_line(order, *price);
            }
            for amount in &payments {
                if order.totals().balance_due_minor <= 0 {
                    break;
                }
                order = paid(order, *amount);
            }
            let totals = order.totals();
            match decide_cancel(&order) {
                CancelOutcome::Cancelled => {
                    prop_assert!(order.payments.is_empty());
                    prop_assert!(order.void("cancelled online", 9_000).is_ok());
                }
                CancelOutcome::RefundRequested { paid_minor } => {
                    prop_assert!(paid_minor > 0);
                    prop_assert_eq!(paid_minor, totals.paid_minor - totals.refunded_minor);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
