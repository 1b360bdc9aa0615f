//! Orders and their state machine.
//!
//! Commands (`add_line`, `take_payment`, `close`, `void`) check the rules against the current
//! state and return the [`OrderEvent`] that records the decision; they never mutate. `apply`
//! folds an event into the order. The edge calls both; the hub only applies, so a total
//! computed at the edge is the total the hub reports.
//!
//! ```text
//!  open ──send──▶ sent ──pay part──▶ partially_paid ──pay rest──▶ paid ──close──▶ closed
//!   │               │                                  ▲
//!   └───────┴── void (no payments) ──▶ voided          └──── pay in full (from open/sent)
//! ```

use crate::catalog::CatalogItem;
use crate::events::OrderEvent;
use crate::ids::{LineId, OrderId, PaymentId};
use crate::money::Currency;
use crate::tax::{RoundingMode, TaxMode, TaxPortion, TaxRate, merge_portion, tax_amount};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most units of one item on one line. Why: a fat-fingered "1000000" must not become a
/// receipt; real baskets stay far below this.
pub const LINE_QUANTITY_MAX: i64 = 9_999;
/// Most lines on one order. Why: bounds the work per request and the size of an order op.
pub const ORDER_LINES_MAX: usize = 500;
/// Most payments on one order (split tenders).
pub const ORDER_PAYMENTS_MAX: usize = 50;
/// Longest free-text reason or reference kept on an order.
pub const TEXT_LEN_MAX: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    DineIn,
    BarTab,
    TakeOut,
    Delivery,
    EcommercePickup,
    DriveThru,
    Kiosk,
}

impl OrderType {
    pub const ALL: [OrderType; 7] = [
        OrderType::DineIn,
        OrderType::BarTab,
        OrderType::TakeOut,
        OrderType::Delivery,
        OrderType::EcommercePickup,
        OrderType::DriveThru,
        OrderType::Kiosk,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrderType::DineIn => "dine_in",
            OrderType::BarTab => "bar_tab",
            OrderType::TakeOut => "take_out",
            OrderType::Delivery => "delivery",
            OrderType::EcommercePickup => "ecommerce_pickup",
            OrderType::DriveThru => "drive_thru",
            OrderType::Kiosk => "kiosk",
        }
    }

    pub fn parse(text: &str) -> Option<OrderType> {
        OrderType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Open,
    Sent,
    PartiallyPaid,
    Paid,
    Closed,
    Voided,
}

impl OrderState {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Open => "open",
            OrderState::Sent => "sent",
            OrderState::PartiallyPaid => "partially_paid",
            OrderState::Paid => "paid",
            OrderState::Closed => "closed",
            OrderState::Voided => "voided",
        }
    }

    fn accepts_lines(&self) -> bool {
        matches!(self, OrderState::Open | OrderState::Sent)
    }

    fn accepts_payments(&self) -> bool {
        matches!(
            self,
            OrderState::Open | OrderState::Sent | OrderState::PartiallyPaid
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tender {
    Cash,
    Card,
    Mpesa,
    GiftCard,
}

impl Tender {
    /// Only cash can be over-tendered: the drawer gives change. Other tenders are charged
    /// exactly.
    pub fn gives_change(&self) -> bool {
        matches!(self, Tender::Cash)
    }
}

/// One priced line. Prices and taxes are fixed when the line is added: a later price change in
/// the catalog does not reprice a line already on a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: LineId,
    pub item_id: crate::catalog::ItemId,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub tax_mode: TaxMode,
    pub tax_rates: Vec<TaxRate>,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub taxes: Vec<TaxPortion>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub tender: Tender,
    /// What the customer handed over.
    pub tendered_minor: i64,
    /// What counts toward the bill (`tendered − change`).
    pub amount_minor: i64,
    pub change_minor: i64,
    pub taken_at_ms: i64,
}

/// Totals of an order, always derived from its lines and payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTotals {
    pub net_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub taxes: Vec<TaxPortion>,
    pub paid_minor: i64,
    pub change_minor: i64,
    pub balance_due_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub number: u64,
    pub order_type: OrderType,
    pub currency: Currency,
    pub state: OrderState,
    pub lines: Vec<OrderLine>,
    pub payments: Vec<Payment>,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub void_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddLineError {
    #[error("order is {0}; lines can only be added while it is open or sent")]
    NotOpen(&'static str),
    #[error("quantity must be between 1 and {LINE_QUANTITY_MAX}")]
    QuantityOutOfRange,
    #[error("an order holds at most {ORDER_LINES_MAX} lines")]
    TooManyLines,
    #[error("a line with this id is already on the order")]
    DuplicateLine,
    #[error("item price is negative")]
    NegativePrice,
    #[error("line amount out of range")]
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaymentError {
    #[error("order is {0}; it does not take payments")]
    NotPayable(&'static str),
    #[error("order has no lines to pay for")]
    EmptyOrder,
    #[error("amount must be positive")]
    NonPositiveAmount,
    #[error("{tender:?} cannot exceed the balance due of {balance_due_minor}")]
    Overtender {
        tender: Tender,
        balance_due_minor: i64,
    },
    #[error("an order holds at most {ORDER_PAYMENTS_MAX} payments")]
    TooManyPayments,
    #[error("a payment with this id is already on the order")]
    DuplicatePayment,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CloseError {
    #[error("order is {0}; only a fully paid order can be closed")]
    NotPaid(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VoidError {
    #[error("order is {0}; only an open or sent order can be voided")]
    NotVoidable(&'static str),
    #[error("order has payments; refund them instead of voiding")]
    HasPayments,
    #[error("a void needs a reason of 1 to {TEXT_LEN_MAX} characters")]
    BadReason,
}

/// Why an event could not be folded into an order. At the hub this means the facts from an
/// edge contradict each other, which is recorded, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApplyError {
    #[error("event is for order {event_order}, not {order}")]
    WrongOrder {
        order: OrderId,
        event_order: OrderId,
    },
    #[error("an order can only be opened once")]
    AlreadyOpened,
    #[error(transparent)]
    AddLine(#[from] AddLineError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Close(#[from] CloseError),
    #[error(transparent)]
    Void(#[from] VoidError),
}

impl Order {
    /// Builds the order an `Opened` event describes. Returns `None` for any other event.
    pub fn from_opened(event: &OrderEvent) -> Option<Order> {
        match event {
            OrderEvent::Opened {
                order_id,
                number,
                order_type,
                currency,
                opened_at_ms,
            } => Some(Order {
                id: *order_id,
                number: *number,
                order_type: *order_type,
                currency: *currency,
                state: OrderState::Open,
                lines: Vec::new(),
                payments: Vec::new(),
                opened_at_ms: *opened_at_ms,
                closed_at_ms: None,
                void_reason: None,
            }),
            _ => None,
        }
    }

    /// Decides a new line for `quantity` units of `item` at the item's current price.
    pub fn add_line(
        &self,
        line_id: LineId,
        item: &CatalogItem,
        quantity: i64,
        rounding: RoundingMode,
    ) -> Result<OrderEvent, AddLineError> {
        if !self.state.accepts_lines() {
            return Err(AddLineError::NotOpen(self.state.as_str()));
        }
        if !(1..=LINE_QUANTITY_MAX).contains(&quantity) {
            return Err(AddLineError::QuantityOutOfRange);
        }
        if item.price_minor < 0 {
            return Err(AddLineError::NegativePrice);
        }
        let amount_minor = item
            .price_minor
            .checked_mul(quantity)
            .ok_or(AddLineError::Overflow)?;
        let taxed = tax_amount(amount_minor, &item.tax_rates, item.tax_mode, rounding);
        let line = OrderLine {
            id: line_id,
            item_id: item.id.clone(),
            name: item.name.clone(),
            quantity,
            unit_price_minor: item.price_minor,
            tax_mode: item.tax_mode,
            tax_rates: item.tax_rates.clone(),
            net_minor: taxed.net_minor,
            tax_minor: taxed.tax_minor,
            gross_minor: taxed.gross_minor,
            taxes: taxed.portions,
        };
        self.check_line(&line)?;
        Ok(OrderEvent::LineAdded {
            order_id: self.id,
            line,
        })
    }

    fn check_line(&self, line: &OrderLine) -> Result<(), AddLineError> {
        if !self.state.accepts_lines() {
            return Err(AddLineError::NotOpen(self.state.as_str()));
        }
        if self.lines.len() >= ORDER_LINES_MAX {
            return Err(AddLineError::TooManyLines);
        }
        if self.lines.iter().any(|existing| existing.id == line.id) {
            return Err(AddLineError::DuplicateLine);
        }
        if !(1..=LINE_QUANTITY_MAX).contains(&line.quantity) {
            return Err(AddLineError::QuantityOutOfRange);
        }
        Ok(())
    }

    /// Decides a payment of `tendered_minor` by `tender`. Cash may exceed the balance due (the
    /// excess is change); other tenders may not.
    pub fn take_payment(
        &self,
        payment_id: PaymentId,
        tender: Tender,
        tendered_minor: i64,
        taken_at_ms: i64,
    ) -> Result<OrderEvent, PaymentError> {
        if !self.state.accepts_payments() {
            return Err(PaymentError::NotPayable(self.state.as_str()));
        }
        if self.lines.is_empty() {
            return Err(PaymentError::EmptyOrder);
        }
        if tendered_minor <= 0 {
            return Err(PaymentError::NonPositiveAmount);
        }
        let balance_due_minor = self.totals().balance_due_minor;
        if tendered_minor > balance_due_minor && !tender.gives_change() {
            return Err(PaymentError::Overtender {
                tender,
                balance_due_minor,
            });
        }
        let amount_minor = tendered_minor.min(balance_due_minor);
        let payment = Payment {
            id: payment_id,
            tender,
            tendered_minor,
            amount_minor,
            change_minor: tendered_minor - amount_minor,
            taken_at_ms,
        };
        self.check_payment(&payment)?;
        Ok(OrderEvent::PaymentTaken {
            order_id: self.id,
            payment,
        })
    }

    fn check_payment(&self, payment: &Payment) -> Result<(), PaymentError> {
        if !self.state.accepts_payments() {
            return Err(PaymentError::NotPayable(self.state.as_str()));
        }
        if self.payments.len() >= ORDER_PAYMENTS_MAX {
            return Err(PaymentError::TooManyPayments);
        }
        if self.payments.iter().any(|p| p.id == payment.id) {
            return Err(PaymentError::DuplicatePayment);
        }
        if payment.amount_minor <= 0 {
            return Err(PaymentError::NonPositiveAmount);
        }
        let balance_due_minor = self.totals().balance_due_minor;
        if payment.amount_minor > balance_due_minor {
            return Err(PaymentError::Overtender {
                tender: payment.tender,
                balance_due_minor,
            });
        }
        Ok(())
    }

    /// Decides closing the order: only once it is fully paid.
    pub fn close(&self, closed_at_ms: i64) -> Result<OrderEvent, CloseError> {
        if self.state != OrderState::Paid {
            return Err(CloseError::NotPaid(self.state.as_str()));
        }
        Ok(OrderEvent::Closed {
            order_id: self.id,
            closed_at_ms,
        })
    }

    /// Decides voiding an unpaid order.
    pub fn void(&self, reason: &str, voided_at_ms: i64) -> Result<OrderEvent, VoidError> {
        if !matches!(self.state, OrderState::Open | OrderState::Sent) {
            return Err(VoidError::NotVoidable(self.state.as_str()));
        }
        if !self.payments.is_empty() {
            return Err(VoidError::HasPayments);
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > TEXT_LEN_MAX {
            return Err(VoidError::BadReason);
        }
        Ok(OrderEvent::Voided {
            order_id: self.id,
            reason: reason.to_owned(),
            voided_at_ms,
        })
    }

    /// Folds `event` into the order, re-checking the rules so that contradictory facts are
    /// refused rather than producing an impossible order.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<(), ApplyError> {
        if event.order_id() != self.id {
            return Err(ApplyError::WrongOrder {
                order: self.id,
                event_order: event.order_id(),
            });
        }
        match event {
            OrderEvent::Opened { .. } => return Err(ApplyError::AlreadyOpened),
            OrderEvent::LineAdded { line, .. } => {
                self.check_line(line)?;
                self.lines.push(line.clone());
            }
            OrderEvent::PaymentTaken { payment, .. } => {
                self.check_payment(payment)?;
                self.payments.push(payment.clone());
                self.state = if self.totals().balance_due_minor == 0 {
                    OrderState::Paid
                } else {
                    OrderState::PartiallyPaid
                };
            }
            OrderEvent::Closed { closed_at_ms, .. } => {
                self.close(*closed_at_ms)?;
                self.state = OrderState::Closed;
                self.closed_at_ms = Some(*closed_at_ms);
            }
            OrderEvent::Voided {
                reason,
                voided_at_ms,
                ..
            } => {
                self.void(reason, *voided_at_ms)?;
                self.state = OrderState::Voided;
                self.void_reason = Some(reason.clone());
                self.closed_at_ms = Some(*voided_at_ms);
            }
        }
        Ok(())
    }

    /// Totals derived from lines and payments; the one place an order's figures come from.
    pub fn totals(&self) -> OrderTotals {
        let mut taxes = Vec::new();
        let (mut net_minor, mut tax_minor, mut total_minor) = (0_i64, 0_i64, 0_i64);
        for line in &self.lines {
            net_minor = net_minor.saturating_add(line.net_minor);
            tax_minor = tax_minor.saturating_add(line.tax_minor);
            total_minor = total_minor.saturating_add(line.gross_minor);
            for portion in &line.taxes {
                merge_portion(&mut taxes, portion);
            }
        }
        let paid_minor = self
            .payments
            .iter()
            .fold(0_i64, |sum, p| sum.saturating_add(p.amount_minor));
        let change_minor = self
            .payments
            .iter()
            .fold(0_i64, |sum, p| sum.saturating_add(p.change_minor));
        OrderTotals {
            net_minor,
            tax_minor,
            total_minor,
            taxes,
            paid_minor,
            change_minor,
            balance_due_minor: total_minor.saturating_sub(paid_minor).max(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn item(price_minor: i64) -> CatalogItem {
        CatalogItem::simple(
            "sku-coffee",
            "Coffee",
            "drinks",
            price_minor,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600)],
        )
    }

    fn open_order() -> Order {
        let opened = OrderEvent::Opened {
            order_id: OrderId(id(1)),
            number: 1,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: 0,
        };
        Order::from_opened(&opened).expect("opened event")
    }

    fn decide_and_apply(order: &mut Order, event: OrderEvent) {
        order.apply(&event).expect("a decided event applies");
    }

    #[test]
    fn a_cash_sale_gives_change_and_closes() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(25_000), 2, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        assert_eq!(order.totals().total_minor, 50_000);
        let pay = order
            .take_payment(PaymentId(id(20)), Tender::Cash, 100_000, 5)
            .expect("pay");
        decide_and_apply(&mut order, pay);
        let totals = order.totals();
        assert_eq!(totals.change_minor, 50_000);
        assert_eq!(totals.paid_minor, 50_000);
        assert_eq!(order.state, OrderState::Paid);
        let close = order.close(6).expect("close");
        decide_and_apply(&mut order, close);
        assert_eq!(order.state, OrderState::Closed);
    }

    #[test]
    fn a_card_cannot_pay_more_than_is_due() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        assert!(matches!(
            order.take_payment(PaymentId(id(20)), Tender::Card, 1_001, 0),
            Err(PaymentError::Overtender { .. })
        ));
    }

    #[test]
    fn an_unpaid_order_cannot_close_and_a_closed_one_takes_no_lines() {
        let mut order = open_order();
        assert_eq!(order.close(1), Err(CloseError::NotPaid("open")));
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        let pay = order
            .take_payment(PaymentId(id(20)), Tender::Mpesa, 1_000, 0)
            .expect("pay");
        decide_and_apply(&mut order, pay);
        let close = order.close(1).expect("close");
        decide_and_apply(&mut order, close);
        assert_eq!(
            order.add_line(LineId(id(11)), &item(1_000), 1, RoundingMode::HalfUp),
            Err(AddLineError::NotOpen("closed"))
        );
        assert!(matches!(
            order.take_payment(PaymentId(id(21)), Tender::Cash, 1, 0),
            Err(PaymentError::NotPayable("closed"))
        ));
    }

    #[test]
    fn applying_the_same_line_twice_is_refused() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line.clone());
        assert_eq!(
            order.apply(&line),
            Err(ApplyError::AddLine(AddLineError::DuplicateLine))
        );
    }

    #[test]
    fn quantity_limits_are_enforced() {
        let order = open_order();
        for bad in [0, -1, LINE_QUANTITY_MAX + 1] {
            assert_eq!(
                order.add_line(LineId(id(10)), &item(1_000), bad, RoundingMode::HalfUp),
                Err(AddLineError::QuantityOutOfRange)
            );
        }
    }

    #[test]
    fn a_paid_order_cannot_be_voided() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        let pay = order
            .take_payment(PaymentId(id(20)), Tender::Cash, 500, 0)
            .expect("pay");
        decide_and_apply(&mut order, pay);
        assert_eq!(order.state, OrderState::PartiallyPaid);
        assert_eq!(
            order.void("customer left", 1),
            Err(VoidError::NotVoidable("partially_paid"))
        );
    }

    proptest! {
        #[test]
        fn split_payments_settle_exactly_and_cash_change_is_never_negative(
            prices in prop::collection::vec(1_i64..100_000, 1..10),
            tenders in prop::collection::vec(1_i64..200_000, 1..10),
        ) {
            let mut order = open_order();
            for (n, price) in prices.iter().enumerate() {
                let event = order.add_line(LineId(id(100 + n as u128)), &item(*price), 1, RoundingMode::HalfUp).expect("add");
                order.apply(&event).expect("apply");
            }
            let total = order.totals().total_minor;
            prop_assert_eq!(total, prices.iter().sum::<i64>());
            for (n, tendered) in tenders.iter().enumerate() {
                match order.take_payment(PaymentId(id(1000 + n as u128)), Tender::Cash, *tendered, 0) {
                    Ok(event) => order.apply(&event).expect("apply"),
                    Err(PaymentError::NotPayable(_)) => break,
                    Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
                }
            }
            let totals = order.totals();
            prop_assert!(totals.change_minor >= 0);
            prop_assert_eq!(totals.paid_minor + totals.balance_due_minor, total);
            prop_assert_eq!(order.state == OrderState::Paid, totals.balance_due_minor == 0);
            prop_assert_eq!(totals.net_minor + totals.tax_minor, totals.total_minor);
        }
    }
}
