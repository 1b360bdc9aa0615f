//! The outlet's sales report for a period: the X report (mid-day, as of now) and the Z report
//! (closing the business day, numbered, immutable).
//!
//! A report is a function of the orders alone ([`SalesSummary::of`]), so the edge that closes the
//! day and the hub that folded the same facts compute the same figures to the cent. What belongs
//! to a period is decided by when each fact happened, never by when it was reported:
//!
//! - sales (gross, discounts, service charge, net, taxes by rate, totals, cash rounding): orders
//!   closed in the period;
//! - takings by tender: payments taken in the period, plus tips added to a payment after it was
//!   taken;
//! - refunds by tender: refunds given in the period, whatever day the sale was;
//! - voids: orders voided, and lines voided after the kitchen had them, in the period.
//!
//! So consecutive periods add up: the report of `[a, c)` is the sum of those of `[a, b)` and
//! `[b, c)` (a property test below), and no fact is counted in two Z reports.

use crate::order::{Order, OrderState, Tender};
use serde::{Deserialize, Serialize};

/// Taxes charged at one rate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

/// Money of one tender: how many movements and how much.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderLine {
    pub tender: Tender,
    pub count: u32,
    pub amount_minor: i64,
}

/// An outlet's sales for a period. Every amount is in the outlet's currency, in minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesSummary {
    /// Orders closed in the period.
    pub orders_closed: u32,
    /// Their live lines before any discount.
    pub gross_sales_minor: i64,
    /// Promotions and discounts on them.
    pub discounts_minor: i64,
    /// Service charge with its tax.
    pub service_charge_minor: i64,
    pub net_sales_minor: i64,
    pub tax_minor: i64,
    /// Per tax code and rate, in code order.
    pub taxes: Vec<TaxLine>,
    /// Cash rounding lines (negative when rounded down).
    pub cash_rounding_minor: i64,
    /// What those orders came to: lines and service charge after discounts, with tax, tips and
    /// rounding.
    pub sales_total_minor: i64,
    /// Tips added in the period.
    pub tips_minor: i64,
    /// Taken in the period, per tender (in `Tender::ALL` order, tenders with nothing left out).
    pub payments: Vec<TenderLine>,
    /// Given back in the period, per tender.
    pub refunds: Vec<TenderLine>,
    /// Payments minus refunds.
    pub net_takings_minor: i64,
    pub voided_orders: u32,
    /// What the voided orders came to.
    pub voided_orders_minor: i64,
    /// Lines voided after the kitchen had them (waste).
    pub voided_lines: u32,
    pub voided_lines_minor: i64,
}

fn within(at_ms: i64, from_ms: i64, to_ms: i64) -> bool {
    (from_ms..to_ms).contains(&at_ms)
}

fn add(lines: &mut Vec<TenderLine>, tender: Tender, count: u32, amount_minor: i64) {
    match lines.iter_mut().find(|line| line.tender == tender) {
        Some(line) => {
            line.count += count;
            line.amount_minor += amount_minor;
        }
        None => lines.push(TenderLine {
            tender,
            count,
            amount_minor,
        }),
    }
}

fn in_tender_order(lines: &mut [TenderLine]) {
    lines.sort_by_key(|line| Tender::ALL.iter().position(|t| *t == line.tender));
}

impl SalesSummary {
    /// The figures of `[from_ms, to_ms)` from `orders`; orders with nothing in the period add
    /// nothing, so the caller may pass more than it needs (see [`Order::last_activity_ms`]).
    pub fn of<'a>(orders: impl IntoIterator<Item = &'a Order>, from_ms: i64, to_ms: i64) -> Self {
        let mut summary = SalesSummary::default();
        for order in orders {
            summary.add_order(order, from_ms, to_ms);
        }
        summary
            .taxes
            .sort_by(|a, b| (&a.code, a.rate_bps).cmp(&(&b.code, b.rate_bps)));
        in_tender_order(&mut summary.payments);
        in_tender_order(&mut summary.refunds);
        let paid: i64 = summary.payments.iter().map(|line| line.amount_minor).sum();
        let refunded: i64 = summary.refunds.iter().map(|line| line.amount_minor).sum();
        summary.net_takings_minor = paid - refunded;
        summary
    }

    fn add_order(&mut self, order: &Order, from_ms: i64, to_ms: i64) {
        let closed_in_period = order
            .closed_at_ms
            .is_some_and(|at| within(at, from_ms, to_ms));
        let sold = matches!(order.state, OrderState::Closed | OrderState::Refunded);
        let needs_totals = closed_in_period && (sold || order.state == OrderState::Voided);
        let totals = needs_totals.then(|| order.totals());
        if let Some(totals) = totals.as_ref() {
            if order.state == OrderState::Voided {
                self.voided_orders += 1;
                self.voided_orders_minor += totals.total_minor;
            } else {
                self.orders_closed += 1;
                self.gross_sales_minor += totals.subtotal_minor;
                self.discounts_minor += totals.discount_minor;
                self.service_charge_minor += totals.service_charge_minor;
                self.net_sales_minor += totals.net_minor;
                self.tax_minor += totals.tax_minor;
                self.cash_rounding_minor += totals.cash_rounding_minor;
                self.sales_total_minor += totals.total_minor;
                for portion in &totals.taxes {
                    match self
                        .taxes
                        .iter_mut()
                        .find(|line| line.code == portion.code && line.rate_bps == portion.rate_bps)
                    {
                        Some(line) => {
                            line.taxable_minor += portion.taxable_minor;
                            line.tax_minor += portion.tax_minor;
                        }
                        None => self.taxes.push(TaxLine {
                            code: portion.code.clone(),
                            rate_bps: portion.rate_bps,
                            taxable_minor: portion.taxable_minor,
                            tax_minor: portion.tax_minor,
                        }),
                    }
                }
            }
        }
        for payment in &order.payments {
            if within(payment.taken_at_ms, from_ms, to_ms) {
                add(&mut self.payments, payment.tender, 1, payment.amount_minor);
            }
        }
        for tip in &order.tips {
            if !within(tip.added_at_ms, from_ms, to_ms) {
                continue;
            }
            self.tips_minor += tip.amount_minor;
            // A tip on a payment already taken is more money in that tender; a tip added before
            // paying is part of the bill its payments cover.
            if let Some(payment) = tip
                .payment_id
                .and_then(|id| order.payments.iter().find(|payment| payment.id == id))
            {
                add(&mut self.payments, payment.tender, 0, tip.amount_minor);
            }
        }
        for refund in &order.refunds {
            if within(refund.refunded_at_ms, from_ms, to_ms) {
                add(&mut self.refunds, refund.tender, 1, refund.amount_minor);
            }
        }
        for line in &order.lines {
            if let Some(void) = &line.voided
                && void.after_send
                && within(void.voided_at_ms, from_ms, to_ms)
            {
                self.voided_lines += 1;
                self.voided_lines_minor += line.gross_minor;
            }
        }
    }

    /// What one tender took in the period.
    pub fn taken_in(&self, tender: Tender) -> i64 {
        self.payments
            .iter()
            .filter(|line| line.tender == tender)
            .map(|line| line.amount_minor)
            .sum()
    }
}

impl Order {
    /// When the last fact about the order happened (opened, a payment, a tip, a refund, a void,
    /// closed): a report of a period starting after it has nothing from this order.
    pub fn last_activity_ms(&self) -> i64 {
        let mut last = self.opened_at_ms.max(self.closed_at_ms.unwrap_or(i64::MIN));
        for payment in &self.payments {
            last = last.max(payment.taken_at_ms);
        }
        for tip in &self.tips {
            last = last.max(tip.added_at_ms);
        }
        for refund in &self.refunds {
            last = last.max(refund.refunded_at_ms);
        }
        for line in &self.lines {
            if let Some(void) = &line.voided {
                last = last.max(void.voided_at_ms);
            }
        }
        last
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::{LineId, PaymentId, RefundId};
    use crate::order::RefundRequest;
    use crate::tax::{RoundingMode, TaxRate};
    use crate::{CatalogItem, Currency, OrderEvent, OrderId, OrderType, TaxMode};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn item(id: &str, price_minor: i64) -> CatalogItem {
        CatalogItem::simple(
            id,
            id,
            "food",
            price_minor,
            TaxMode::Inclusive,
            vec![TaxRate {
                code: "VAT16".into(),
                rate_bps: 1600,
            }],
        )
    }

    fn apply(order: &mut Order, event: OrderEvent) {
        order.apply(&event).unwrap();
    }

    /// An order opened at `at`, `quantity` of a 150.00 item, paid in `tender` at `at + 1`,
    /// closed at `at + 2`.
    fn sale(n: u128, at: i64, quantity: i64, tender: Tender) -> Order {
        let mut order = Order::from_opened(&OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(n)),
            number: n as u64,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: at,
        })
        .unwrap();
        let line = order
            .add_line(
                LineId(Uuid::from_u128(n * 1000 + 1)),
                &item("tea", 15_000),
                quantity,
                RoundingMode::HalfUp,
            )
            .unwrap();
        apply(&mut order, line);
        let total = order.totals().total_minor;
        let paid = order
            .take_payment(
                PaymentId(Uuid::from_u128(n * 1000 + 2)),
                tender,
                total,
                at + 1,
            )
            .unwrap();
        apply(&mut order, paid);
        let closed = order.close(at + 2).unwrap();
        apply(&mut order, closed);
        order
    }

    #[test]
    fn a_day_of_sales_refunds_and_a_void_adds_up_by_tender_and_tax() {
        let cash = sale(1, 1_000, 2, Tender::Cash);
        let mut card = sale(2, 2_000, 1, Tender::Card);
        let refund = card
            .refund(
                RefundId(Uuid::from_u128(9)),
                RefundRequest::Amount(5_000),
                Tender::Card,
                "cold",
                2_500,
            )
            .unwrap();
        apply(&mut card, refund);
        let mut voided = Order::from_opened(&OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(3)),
            number: 3,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: 3_000,
        })
        .unwrap();
        let line = voided
            .add_line(
                LineId(Uuid::from_u128(31)),
                &item("cake", 20_000),
                1,
                RoundingMode::HalfUp,
            )
            .unwrap();
        apply(&mut voided, line);
        let void = voided.void("customer left", 3_100).unwrap();
        apply(&mut voided, void);

        let day = SalesSummary::of([&cash, &card, &voided], 0, 10_000);
        assert_eq!(day.orders_closed, 2);
        assert_eq!(day.gross_sales_minor, 45_000);
        assert_eq!(day.sales_total_minor, 45_000);
        assert_eq!(day.net_sales_minor + day.tax_minor, 45_000);
        assert_eq!(day.taxes.len(), 1);
        assert_eq!(day.taxes[0].tax_minor, day.tax_minor);
        assert_eq!(day.taken_in(Tender::Cash), 30_000);
        assert_eq!(day.taken_in(Tender::Card), 15_000);
        assert_eq!(
            day.refunds,
            vec![TenderLine {
                tender: Tender::Card,
                count: 1,
                amount_minor: 5_000
            }]
        );
        assert_eq!(day.net_takings_minor, 40_000);
        assert_eq!((day.voided_orders, day.voided_orders_minor), (1, 20_000));

        // The refund falls on the next day: the sale stays on the first.
        let first = SalesSummary::of([&cash, &card, &voided], 0, 2_400);
        let second = SalesSummary::of([&cash, &card, &voided], 2_400, 10_000);
        assert_eq!(first.refunds, vec![]);
        assert_eq!(second.refunds.len(), 1);
        assert_eq!(second.orders_closed, 0);
        assert_eq!(first.net_takings_minor + second.net_takings_minor, 40_000);
    }

    #[test]
    fn the_last_activity_is_the_latest_fact() {
        let mut card = sale(2, 2_000, 1, Tender::Card);
        assert_eq!(card.last_activity_ms(), 2_002);
        let refund = card
            .refund(
                RefundId(Uuid::from_u128(9)),
                RefundRequest::Whole,
                Tender::Card,
                "cold",
                9_999,
            )
            .unwrap();
        apply(&mut card, refund);
        assert_eq!(card.last_activity_ms(), 9_999);
    }

    fn tender() -> impl Strategy<Value = Tender> {
        proptest::sample::select(vec![Tender::Cash, Tender::Card, Tender::Mpesa])
    }

    /// Sales at random times, some refunded later in part.
    fn orders() -> impl Strategy<Value = Vec<Order>> {
        proptest::collection::vec(
            (
                0_i64..100_000,
                1_i64..5,
                tender(),
                proptest::option::of((1_i64..50_000, 0_i64..100)),
            ),
            0..30,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (at, quantity, tender, refund))| {
                    let mut order = sale(i as u128 + 1, at, quantity, tender);
                    if let Some((after, percent)) = refund {
                        let amount = (order.totals().paid_minor * percent / 100).max(1);
                        let event = order
                            .refund(
                                RefundId(Uuid::from_u128(i as u128 + 10_000)),
                                RefundRequest::Amount(amount),
                                tender,
                                "returned",
                                at + 2 + after,
                            )
                            .unwrap();
                        apply(&mut order, event);
                    }
                    order
                })
                .collect()
        })
    }

    proptest! {
        /// Consecutive periods add up to the whole: no fact is counted twice or lost when the
        /// day is cut anywhere.
        #[test]
        fn consecutive_periods_add_up_to_the_whole(orders in orders(), cut in 0_i64..200_000) {
            let whole = SalesSummary::of(&orders, 0, 200_000);
            let before = SalesSummary::of(&orders, 0, cut);
            let after = SalesSummary::of(&orders, cut, 200_000);
            prop_assert_eq!(before.orders_closed + after.orders_closed, whole.orders_closed);
            prop_assert_eq!(before.sales_total_minor + after.sales_total_minor, whole.sales_total_minor);
            prop_assert_eq!(before.tax_minor + after.tax_minor, whole.tax_minor);
            prop_assert_eq!(before.net_takings_minor + after.net_takings_minor, whole.net_takings_minor);
            for tender in Tender::ALL {
                prop_assert_eq!(before.taken_in(tender) + after.taken_in(tender), whole.taken_in(tender));
            }
        }

        /// Over a period holding everything, takings are what was paid for the sales less what
        /// was refunded, and the tax lines sum to the tax.
        #[test]
        fn takings_equal_sales_less_refunds(orders in orders()) {
            let whole = SalesSummary::of(&orders, i64::MIN, i64::MAX);
            let refunded: i64 = orders.iter().map(|o| o.totals().refunded_minor).sum();
            prop_assert_eq!(whole.net_takings_minor, whole.sales_total_minor - refunded);
            prop_assert_eq!(whole.taxes.iter().map(|t| t.tax_minor).sum::<i64>(), whole.tax_minor);
            prop_assert_eq!(whole.net_sales_minor + whole.tax_minor, whole.sales_total_minor - whole.cash_rounding_minor - whole.tips_minor);
        }
    }
}
