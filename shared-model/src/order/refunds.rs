//! Refunds: money given back on a paid or closed order, as new facts.
//!
//! A refund never edits a payment. It records the tender, the amount, the lines it covers
//! (if any) and the reason. Refunds never exceed what was paid; once everything paid has been
//! refunded the order is `refunded`.

use super::{ORDER_REFUNDS_MAX, Order, OrderState, Refund, TEXT_LEN_MAX, Tender};
use crate::events::OrderEvent;
use crate::ids::{LineId, RefundId};
use thiserror::Error;

/// What to give back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundRequest {
    /// Everything still refundable.
    Whole,
    /// These lines at what the customer paid for them (after discounts, with their share of
    /// the service charge).
    Lines(Vec<LineId>),
    /// An amount, e.g. a goodwill gesture.
    Amount(i64),
}

/// Why a refund was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RefundError {
    #[error("order is {0}; only a paid or closed order can be refunded")]
    NotRefundable(&'static str),
    #[error("a refund must be positive and at most the {refundable_minor} still refundable")]
    BadAmount { refundable_minor: i64 },
    #[error("no such live line on the order")]
    UnknownLine,
    #[error("a line was already refunded")]
    LineAlreadyRefunded,
    #[error("a refund needs a reason of 1 to {TEXT_LEN_MAX} characters")]
    BadReason,
    #[error("an order holds at most {ORDER_REFUNDS_MAX} refunds")]
    TooMany,
    #[error("a refund with this id is already on the order")]
    DuplicateRefund,
    /// A voucher is single-use: what it paid is not given back (head office can issue a new
    /// one).
    #[error("a voucher's value is not given back; head office can issue a new voucher")]
    VoucherNotRefundable,
    #[error(
        "money goes back to the tender it came from: at most {refundable_in_tender_minor} can still be refunded as {}",
        tender.as_str()
    )]
    NotPaidInTender {
        tender: Tender,
        refundable_in_tender_minor: i64,
    },
}

impl Order {
    /// What can still be refunded: paid minus already refunded.
    pub fn refundable_minor(&self) -> i64 {
        let totals = self.totals();
        (totals.paid_minor - totals.refunded_minor).max(0)
    }

    /// What can still be refunded to `tender`: what was paid with it minus what was already
    /// refunded to it (never more than [`Order::refundable_minor`]).
    pub fn refundable_in_minor(&self, tender: Tender) -> i64 {
        let paid_minor: i64 = self
            .payments
            .iter()
            .filter(|payment| payment.tender == tender)
            .map(|payment| payment.amount_minor)
            .sum();
        let refunded_minor: i64 = self
            .refunds
            .iter()
            .filter(|refund| refund.tender == tender)
            .map(|refund| refund.amount_minor)
            .sum();
        (paid_minor - refunded_minor)
            .max(0)
            .min(self.refundable_minor())
    }

    /// Decides a refund. Money goes back to the tender it came from: a refund to `tender` is
    /// at most what was paid with it and not yet refunded to it ([`RefundRequest::Whole`]
    /// means all of that).
    ///
    /// ```
    /// use shared_model::order::RefundRequest;
    /// use shared_model::ids::RefundId;
    /// use shared_model::tax::RoundingMode;
    /// use shared_model::*;
    /// # use uuid::Uuid;
    /// let mut order = Order::from_opened(&OrderEvent::Opened { order_id: OrderId(Uuid::from_u128(1)), number: 1,
    ///     order_type: OrderType::TakeOut, currency: Currency::kes(), opened_at_ms: 0 }).expect("opened");
    /// let tea = CatalogItem::simple("tea", "Tea", "tea", 15_000, TaxMode::Inclusive, vec![]);
    /// for event in [order.add_line(LineId(Uuid::from_u128(2)), &tea, 2, RoundingMode::HalfUp).expect("line")] { order.apply(&event).expect("apply"); }
    /// let pay = order.take_payment(PaymentId(Uuid::from_u128(3)), Tender::Cash, 30_000, 1).expect("pay");
    /// order.apply(&pay).expect("apply");
    /// let refund = order.refund(RefundId(Uuid::from_u128(4)), RefundRequest::Amount(5_000), Tender::Cash, "cold tea", 2).expect("refund");
    /// order.apply(&refund).expect("apply");
    /// assert_eq!(order.refundable_minor(), 25_000);
    /// assert_eq!(order.state, OrderState::Paid);
    /// ```
    pub fn refund(
        &self,
        refund_id: RefundId,
        request: RefundRequest,
        tender: Tender,
        reason: &str,
        refunded_at_ms: i64,
    ) -> Result<OrderEvent, RefundError> {
        let refundable_minor = self.refundable_minor();
        let (amount_minor, line_ids) = match request {
            RefundRequest::Whole => (self.refundable_in_minor(tender), Vec::new()),
            RefundRequest::Amount(amount) => (amount, Vec::new()),
            RefundRequest::Lines(line_ids) => {
                let totals = self.totals();
                let mut amount = 0_i64;
                for line_id in &line_ids {
                    let line = totals
                        .lines
                        .iter()
                        .find(|line| line.line_id == *line_id)
                        .ok_or(RefundError::UnknownLine)?;
                    amount += line.gross_minor + line.service_charge_share_minor;
                }
                (amount.min(refundable_minor), line_ids)
            }
        };
        let refund = Refund {
            id: refund_id,
            tender,
            amount_minor,
            line_ids,
            reason: reason.trim().to_owned(),
            refunded_at_ms,
        };
        self.check_refund(&refund)?;
        Ok(OrderEvent::Refunded {
            order_id: self.id,
            refund,
        })
    }

    pub(crate) fn check_refund(&self, refund: &Refund) -> Result<(), RefundError> {
        if !matches!(self.state, OrderState::Paid | OrderState::Closed) {
            return Err(RefundError::NotRefundable(self.state.as_str()));
        }
        if refund.tender == Tender::Voucher {
            return Err(RefundError::VoucherNotRefundable);
        }
        let reason = refund.reason.trim();
        if reason.is_empty() || reason.chars().count() > TEXT_LEN_MAX {
            return Err(RefundError::BadReason);
        }
        let refundable_minor = self.refundable_minor();
        if !(1..=refundable_minor).contains(&refund.amount_minor) {
            return Err(RefundError::BadAmount { refundable_minor });
        }
        let refundable_in_tender_minor = self.refundable_in_minor(refund.tender);
        if refund.amount_minor > refundable_in_tender_minor {
            return Err(RefundError::NotPaidInTender {
                tender: refund.tender,
                refundable_in_tender_minor,
            });
        }
        for (index, line_id) in refund.line_ids.iter().enumerate() {
            if !self
                .lines
                .iter()
                .any(|line| line.id == *line_id && line.is_live())
            {
                return Err(RefundError::UnknownLine);
            }
            let earlier = self
                .refunds
                .iter()
                .flat_map(|refund| refund.line_ids.iter())
                .chain(&refund.line_ids[..index]);
            if earlier.into_iter().any(|earlier| earlier == line_id) {
                return Err(RefundError::LineAlreadyRefunded);
            }
        }
        if self.refunds.len() >= ORDER_REFUNDS_MAX {
            return Err(RefundError::TooMany);
        }
        if self.refunds.iter().any(|existing| existing.id == refund.id) {
            return Err(RefundError::DuplicateRefund);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::PaymentId;
    use crate::tax::{RoundingMode, TaxMode};
    use crate::{CatalogItem, Currency, OrderId, OrderType};
    use proptest::prelude::*;
    use uuid::Uuid;

    /// An order of `price_minor`, paid with `payments` (tender, amount) as far as they go.
    fn paid_with(price_minor: i64, payments: &[(Tender, i64)]) -> Order {
        let mut order = Order::from_opened(&OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(1)),
            number: 1,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: 0,
        })
        .unwrap();
        let item = CatalogItem::simple("x", "X", "x", price_minor, TaxMode::Inclusive, vec![]);
        let line = order
            .add_line(LineId(Uuid::from_u128(2)), &item, 1, RoundingMode::HalfUp)
            .unwrap();
        order.apply(&line).unwrap();
        for (index, (tender, amount)) in payments.iter().enumerate() {
            let due = order.totals().balance_due_minor;
            if due <= 0 {
                break;
            }
            let amount = if *tender == Tender::Cash {
                *amount
            } else {
                (*amount).min(due)
            };
            let pay = order
                .take_payment(
                    PaymentId(Uuid::from_u128(10 + index as u128)),
                    *tender,
                    amount,
                    1,
                )
                .unwrap();
            order.apply(&pay).unwrap();
        }
        order
    }

    #[test]
    fn money_goes_back_to_the_tender_it_came_from() {
        let order = paid_with(10_000, &[(Tender::Card, 6_000), (Tender::Cash, 4_000)]);
        assert_eq!(order.refundable_in_minor(Tender::Card), 6_000);
        assert_eq!(order.refundable_in_minor(Tender::Mpesa), 0);
        let refused = order.refund(
            RefundId(Uuid::from_u128(3)),
            RefundRequest::Amount(7_000),
            Tender::Card,
            "r",
            2,
        );
        assert_eq!(
            refused,
            Err(RefundError::NotPaidInTender {
                tender: Tender::Card,
                refundable_in_tender_minor: 6_000
            })
        );
        let whole = order
            .refund(
                RefundId(Uuid::from_u128(3)),
                RefundRequest::Whole,
                Tender::Card,
                "r",
                2,
            )
            .unwrap();
        let OrderEvent::Refunded { refund, .. } = whole else {
            panic!("a refund")
        };
        assert_eq!(refund.amount_minor, 6_000, "whole means all of that tender");
    }

    proptest! {
        /// Whatever the split of tenders and the refunds asked, no tender gets back more than
        /// it paid, and the refunds never exceed what was paid.
        #[test]
        fn refunds_per_tender_never_exceed_what_that_tender_paid(
            payments in proptest::collection::vec((0_usize..3, 1_i64..20_000), 1..4),
            refunds in proptest::collection::vec((0_usize..3, 1_i64..20_000), 0..6),
        ) {
            const TENDERS: [Tender; 3] = [Tender::Cash, Tender::Card, Tender::Mpesa];
            let payments: Vec<(Tender, i64)> = payments.iter().map(|(t, a)| (TENDERS[*t], *a)).collect();
            let mut order = paid_with(30_000, &payments);
            if order.totals().balance_due_minor > 0 {
                let pay = order.take_payment(PaymentId(Uuid::from_u128(99)), Tender::Cash, 30_000, 1).unwrap();
                order.apply(&pay).unwrap();
            }
            for (index, (tender, amount)) in refunds.iter().enumerate() {
                if let Ok(event) = order.refund(RefundId(Uuid::from_u128(100 + index as u128)),
                    RefundRequest::Amount(*amount), TENDERS[*tender], "r", 2) {
                    order.apply(&event).unwrap();
                }
            }
            for tender in TENDERS {
                let paid: i64 = order.payments.iter().filter(|p| p.tender == tender).map(|p| p.amount_minor).sum();
                let refunded: i64 = order.refunds.iter().filter(|r| r.tender == tender).map(|r| r.amount_minor).sum();
                prop_assert!(refunded <= paid, "{:?}: refunded {} of {}", tender, refunded, paid);
            }
            let totals = order.totals();
            prop_assert!(totals.refunded_minor <= totals.paid_minor);
        }
    }
}
