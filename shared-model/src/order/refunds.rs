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
}

impl Order {
    /// What can still be refunded: paid minus already refunded.
    pub fn refundable_minor(&self) -> i64 {
        let totals = self.totals();
        (totals.paid_minor - totals.refunded_minor).max(0)
    }

    /// Decides a refund.
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
            RefundRequest::Whole => (refundable_minor, Vec::new()),
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
        let reason = refund.reason.trim();
        if reason.is_empty() || reason.chars().count() > TEXT_LEN_MAX {
            return Err(RefundError::BadReason);
        }
        let refundable_minor = self.refundable_minor();
        if !(1..=refundable_minor).contains(&refund.amount_minor) {
            return Err(RefundError::BadAmount { refundable_minor });
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
