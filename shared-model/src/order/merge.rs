//! Merging two orders: joining tables, or moving a bar tab onto a dinner bill.
//!
//! A merge is two facts: the target gains the source's live lines (`LinesMerged`) and the
//! source is finished (`MergedInto`). Both are decided together by [`Order::merge_from`], so
//! the merged bill's total is exactly the sum of the two.

use super::{ORDER_LINES_MAX, Order, OrderLine, OrderState};
use crate::events::OrderEvent;
use crate::ids::OrderId;
use thiserror::Error;

/// Why two orders could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MergeError {
    #[error("an order cannot be merged with itself")]
    SameOrder,
    #[error("order is {0}; only open or sent orders without payments merge")]
    NotMergeable(&'static str),
    #[error("the orders are in different currencies")]
    CurrencyMismatch,
    #[error(
        "the orders have payments, discounts, promotions, tips or a service charge; settle those first"
    )]
    HasAdjustments,
    #[error("the merged order would exceed {ORDER_LINES_MAX} lines")]
    TooManyLines,
    #[error("a line id appears on both orders")]
    DuplicateLine,
    #[error("the merge facts contradict the order")]
    Contradicts,
}

impl Order {
    fn mergeable(&self) -> Result<(), MergeError> {
        if !self.state.accepts_lines() {
            return Err(MergeError::NotMergeable(self.state.as_str()));
        }
        if !self.payments.is_empty()
            || !self.discounts.is_empty()
            || !self.promotions.is_empty()
            || !self.tips.is_empty()
            || self.service_charge.is_some()
        {
            return Err(MergeError::HasAdjustments);
        }
        Ok(())
    }

    /// Decides merging `source` into this order: returns the event for this order and the
    /// event for `source`, to be committed together.
    pub fn merge_from(
        &self,
        source: &Order,
        merged_at_ms: i64,
    ) -> Result<(OrderEvent, OrderEvent), MergeError> {
        if self.id == source.id {
            return Err(MergeError::SameOrder);
        }
        if self.currency != source.currency {
            return Err(MergeError::CurrencyMismatch);
        }
        source.mergeable()?;
        source.check_merge_away(self.id)?;
        let lines: Vec<OrderLine> = source
            .lines
            .iter()
            .filter(|line| line.is_live())
            .cloned()
            .collect();
        self.check_merge_in(source.id, &lines)?;
        Ok((
            OrderEvent::LinesMerged {
                order_id: self.id,
                from_order_id: source.id,
                lines,
                merged_at_ms,
            },
            OrderEvent::MergedInto {
                order_id: source.id,
                into_order_id: self.id,
                merged_at_ms,
            },
        ))
    }

    pub(crate) fn check_merge_in(
        &self,
        from_order_id: OrderId,
        lines: &[OrderLine],
    ) -> Result<(), MergeError> {
        if from_order_id == self.id {
            return Err(MergeError::SameOrder);
        }
        self.mergeable()?;
        if self.lines.len() + lines.len() > ORDER_LINES_MAX {
            return Err(MergeError::TooManyLines);
        }
        for (index, line) in lines.iter().enumerate() {
            if line.voided.is_some() {
                return Err(MergeError::Contradicts);
            }
            if self.lines.iter().any(|existing| existing.id == line.id)
                || lines[..index].iter().any(|earlier| earlier.id == line.id)
            {
                return Err(MergeError::DuplicateLine);
            }
        }
        Ok(())
    }

    pub(crate) fn check_merge_away(&self, into_order_id: OrderId) -> Result<(), MergeError> {
        if into_order_id == self.id {
            return Err(MergeError::SameOrder);
        }
        if self.state == OrderState::Merged {
            return Err(MergeError::NotMergeable(self.state.as_str()));
        }
        self.mergeable()
    }
}
