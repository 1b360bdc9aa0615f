//! Loyalty points and vouchers: the rules the hub's ledger and the till share.
//!
//! A tenant runs one program: a member earns a point for every `earn_minor_per_point` paid in
//! money on a closed sale (points and vouchers earn nothing), and burns points at the till at
//! `point_value_minor` each. The hub holds the ledger; as with gift cards, each outlet may burn,
//! without asking, up to an offline allowance of points per member (`min(allowance, balance)`),
//! net of what it burned since the hub last counted, so two outlets offline at once overspend a
//! member by at most `(outlets − 1) × allowance`, and the hub reports every overspend.
//!
//! What an order is worth in points is a function of the order alone ([`order_points`]): the
//! hub enters the difference between that and what the ledger already holds for the order, so a
//! re-sent op, a late refund or an order re-folded twice moves the balance exactly once.
//!
//! A voucher is a single-use code worth a fixed amount; paying with it takes `min(value,
//! balance due)` and what is left of its value is forfeited (no change on a voucher). Outlets
//! may each redeem a voucher the hub sent them while offline; a second redemption elsewhere
//! before the hub's word arrives is entered all the same and reported.

use crate::gift_card::allowance_remaining;
use crate::order::{Order, OrderState, Tender};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Default offline allowance per member and outlet, in points. Why 5,000: at the default value
/// of 1.00 a point, a good meal; an overspend it allows is cheap.
pub const OFFLINE_BURN_POINTS_DEFAULT: i64 = 5_000;
/// Largest balance, adjustment and burn, in points: a typo guard far above any real member.
pub const POINTS_MAX: i64 = 100_000_000;
/// Largest voucher value. Why 100,000.00: above any promotional voucher a shop hands out.
pub const VOUCHER_VALUE_MINOR_MAX: i64 = 10_000_000;

/// A tenant's program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyProgram {
    pub currency: String,
    /// Money paid for one point (e.g. 10000: a point per 100.00).
    pub earn_minor_per_point: i64,
    /// What a point is worth when burned (e.g. 100: 1.00).
    pub point_value_minor: i64,
    /// What each outlet may burn per member without the hub.
    pub offline_burn_points: i64,
}

/// What an order is worth to its member, in points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderPoints {
    /// Earned on what was paid in money and not refunded, once the order is paid.
    pub earned: i64,
    /// Given back because a payment made with points was refunded.
    pub restored: i64,
}

impl LoyaltyProgram {
    /// The money `points` are worth (saturating: the caller bounds `points`).
    pub fn value_of(&self, points: i64) -> i64 {
        points.saturating_mul(self.point_value_minor)
    }

    /// What `order` is worth to its member now. Nothing is earned before the order is paid, nor
    /// on an order voided or merged away; refunds of money take back the points they earned,
    /// and refunds of a points payment give points back (rounded down: a refund never makes
    /// points).
    pub fn order_points(&self, order: &Order) -> OrderPoints {
        let money = |tender: Tender| tender.earns_points();
        let paid_money: i64 = order
            .payments
            .iter()
            .filter(|payment| money(payment.tender))
            .map(|payment| payment.amount_minor)
            .sum();
        let refunded_money: i64 = order
            .refunds
            .iter()
            .filter(|refund| money(refund.tender))
            .map(|refund| refund.amount_minor)
            .sum();
        let refunded_points_minor: i64 = order
            .refunds
            .iter()
            .filter(|refund| refund.tender == Tender::LoyaltyPoints)
            .map(|refund| refund.amount_minor)
            .sum();
        let settled = matches!(
            order.state,
            OrderState::Paid | OrderState::Closed | OrderState::Refunded
        );
        let earned = if settled && self.earn_minor_per_point > 0 {
            (paid_money - refunded_money).max(0) / self.earn_minor_per_point
        } else {
            0
        };
        let restored = if self.point_value_minor > 0 {
            refunded_points_minor.max(0) / self.point_value_minor
        } else {
            0
        };
        OrderPoints { earned, restored }
    }
}

/// What the hub allows an outlet on one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAllowance {
    pub code: String,
    pub name: String,
    /// False once the member is closed at the hub.
    pub active: bool,
    /// The member's balance when the hub sent this (for the till to show).
    pub balance_points: i64,
    /// What the outlet may burn beyond the burns the hub had counted.
    pub allowance_points: i64,
    /// The outlet's burns on this member the hub had counted.
    pub outlet_burned_points: i64,
}

/// Why a burn at an outlet was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BurnError {
    #[error("the loyalty member is closed")]
    Inactive,
    #[error("points must be between 1 and {POINTS_MAX}")]
    BadPoints,
    #[error(
        "this outlet may burn at most {remaining_points} points for this member until the hub confirms the balance"
    )]
    OverAllowance { remaining_points: i64 },
}

impl MemberAllowance {
    /// The allowance the hub gives each outlet on a member with `balance_points`.
    pub fn outlet_allowance(balance_points: i64, offline_burn_points: i64) -> i64 {
        balance_points.min(offline_burn_points).max(0)
    }

    /// What the outlet may still burn, given everything it ever burned for the member.
    pub fn remaining_points(&self, local_burned_points: i64) -> i64 {
        allowance_remaining(
            self.allowance_points,
            self.outlet_burned_points,
            local_burned_points,
        )
    }

    pub fn admit(&self, points: i64, local_burned_points: i64) -> Result<(), BurnError> {
        if !self.active {
            return Err(BurnError::Inactive);
        }
        if !(1..=POINTS_MAX).contains(&points) {
            return Err(BurnError::BadPoints);
        }
        let remaining_points = self.remaining_points(local_burned_points);
        if points > remaining_points {
            return Err(BurnError::OverAllowance { remaining_points });
        }
        Ok(())
    }
}

/// A voucher as the hub sends it to outlets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    pub code: String,
    pub currency: String,
    pub value_minor: i64,
    /// False once redeemed (anywhere the hub knows of) or cancelled.
    pub active: bool,
    pub expires_at_ms: Option<i64>,
}

/// Why a voucher was refused at the till.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VoucherError {
    #[error("the voucher was already used or cancelled")]
    Used,
    #[error("the voucher expired")]
    Expired,
    #[error("the voucher is in {voucher}, the order in {order}")]
    Currency { voucher: String, order: String },
    #[error("nothing is due on the order")]
    NothingDue,
}

impl Voucher {
    /// What the voucher pays on a bill with `balance_due_minor` left, if this outlet may still
    /// take it (`redeemed_here`: it already did).
    pub fn pays(
        &self,
        balance_due_minor: i64,
        order_currency: &str,
        redeemed_here: bool,
        now_ms: i64,
    ) -> Result<i64, VoucherError> {
        if !self.active || redeemed_here {
            return Err(VoucherError::Used);
        }
        if self.expires_at_ms.is_some_and(|expires| now_ms >= expires) {
            return Err(VoucherError::Expired);
        }
        if self.currency != order_currency {
            return Err(VoucherError::Currency {
                voucher: self.currency.clone(),
                order: order_currency.to_owned(),
            });
        }
        if balance_due_minor <= 0 {
            return Err(VoucherError::NothingDue);
        }
        Ok(self.value_minor.min(balance_due_minor))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::order::{Payment, Refund};
    use crate::{Currency, OrderId, OrderType, PaymentId, RefundId};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn program() -> LoyaltyProgram {
        LoyaltyProgram {
            currency: "KES".into(),
            earn_minor_per_point: 10_000,
            point_value_minor: 100,
            offline_burn_points: 5_000,
        }
    }

    fn order(state: OrderState, payments: &[(Tender, i64)], refunds: &[(Tender, i64)]) -> Order {
        let mut order = Order::from_opened(&crate::OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(1)),
            number: 1,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: 0,
        })
        .unwrap();
        order.state = state;
        order.payments = payments
            .iter()
            .enumerate()
            .map(|(i, (tender, amount))| Payment {
                id: PaymentId(Uuid::from_u128(i as u128 + 10)),
                tender: *tender,
                tendered_minor: *amount,
                amount_minor: *amount,
                change_minor: 0,
                taken_at_ms: 1,
            })
            .collect();
        order.refunds = refunds
            .iter()
            .enumerate()
            .map(|(i, (tender, amount))| Refund {
                id: RefundId(Uuid::from_u128(i as u128 + 100)),
                tender: *tender,
                amount_minor: *amount,
                line_ids: vec![],
                reason: "returned".into(),
                refunded_at_ms: 2,
            })
            .collect();
        order
    }

    #[test]
    fn money_earns_once_paid_and_points_or_vouchers_earn_nothing() {
        let paid = order(
            OrderState::Paid,
            &[
                (Tender::Cash, 250_000),
                (Tender::LoyaltyPoints, 40_000),
                (Tender::Voucher, 50_000),
                (Tender::Card, 19_999),
            ],
            &[],
        );
        // 269,999 paid in money: 26 points (rounded down).
        assert_eq!(program().order_points(&paid).earned, 26);
        let open = order(OrderState::PartiallyPaid, &[(Tender::Cash, 250_000)], &[]);
        assert_eq!(program().order_points(&open), OrderPoints::default());
    }

    #[test]
    fn refunds_take_back_earned_points_and_give_back_burned_ones() {
        let refunded = order(
            OrderState::Refunded,
            &[(Tender::Cash, 100_000), (Tender::LoyaltyPoints, 30_050)],
            &[(Tender::Cash, 100_000), (Tender::LoyaltyPoints, 30_050)],
        );
        assert_eq!(
            program().order_points(&refunded),
            OrderPoints {
                earned: 0,
                restored: 300
            }
        );
    }

    #[test]
    fn a_burn_beyond_the_allowance_or_on_a_closed_member_is_refused() {
        let word = MemberAllowance {
            code: "M-1".into(),
            name: "Amina".into(),
            active: true,
            balance_points: 9_000,
            allowance_points: 5_000,
            outlet_burned_points: 1_000,
        };
        assert_eq!(word.remaining_points(3_000), 3_000);
        assert_eq!(
            word.admit(3_001, 3_000),
            Err(BurnError::OverAllowance {
                remaining_points: 3_000
            })
        );
        assert_eq!(word.admit(3_000, 3_000), Ok(()));
        assert_eq!(word.admit(0, 0), Err(BurnError::BadPoints));
        let closed = MemberAllowance {
            active: false,
            ..word
        };
        assert_eq!(closed.admit(1, 0), Err(BurnError::Inactive));
    }

    #[test]
    fn a_voucher_pays_up_to_its_value_once_in_its_currency_before_it_expires() {
        let voucher = Voucher {
            code: "VCH-1".into(),
            currency: "KES".into(),
            value_minor: 50_000,
            active: true,
            expires_at_ms: Some(1_000),
        };
        assert_eq!(voucher.pays(80_000, "KES", false, 1), Ok(50_000));
        assert_eq!(voucher.pays(20_000, "KES", false, 1), Ok(20_000));
        assert_eq!(
            voucher.pays(20_000, "KES", true, 1),
            Err(VoucherError::Used)
        );
        assert_eq!(
            voucher.pays(20_000, "KES", false, 1_000),
            Err(VoucherError::Expired)
        );
        assert!(matches!(
            voucher.pays(20_000, "UGX", false, 1),
            Err(VoucherError::Currency { .. })
        ));
        assert_eq!(
            voucher.pays(0, "KES", false, 1),
            Err(VoucherError::NothingDue)
        );
    }

    fn tender() -> impl Strategy<Value = Tender> {
        proptest::sample::select(Tender::ALL.to_vec())
    }

    proptest! {
        /// Points are never negative, never exceed what the money paid buys, and a refund of
        /// everything paid in money takes every earned point back.
        #[test]
        fn earned_points_are_bounded_by_the_money_kept(
            payments in proptest::collection::vec((tender(), 1_i64..1_000_000), 0..8),
            refund_share in 0_i64..=100,
            earn in 1_i64..50_000,
        ) {
            let program = LoyaltyProgram { earn_minor_per_point: earn, ..program() };
            let money: i64 = payments.iter().filter(|(t, _)| t.earns_points()).map(|(_, a)| a).sum();
            let refunds = [(Tender::Cash, money * refund_share / 100)];
            let points = program.order_points(&order(OrderState::Paid, &payments, &refunds));
            prop_assert!(points.earned >= 0);
            prop_assert!(points.earned * earn <= money - refunds[0].1);
            prop_assert!((points.earned + 1) * earn > money - refunds[0].1);
            let all_back = program.order_points(&order(OrderState::Refunded, &payments, &[(Tender::Cash, money)]));
            prop_assert_eq!(all_back.earned, 0);
        }

        /// Paying more in money never earns fewer points.
        #[test]
        fn more_money_never_earns_fewer_points(a in 0_i64..10_000_000, extra in 0_i64..10_000_000) {
            let program = program();
            let less = program.order_points(&order(OrderState::Paid, &[(Tender::Cash, a)], &[]));
            let more = program.order_points(&order(OrderState::Paid, &[(Tender::Cash, a + extra)], &[]));
            prop_assert!(more.earned >= less.earned);
        }

        /// Outlets cut off from the hub, each burning whatever its allowance admits, never
        /// burn more than the allowance each.
        #[test]
        fn offline_outlets_burn_at_most_their_allowance(
            balance in 0_i64..50_000,
            offline in 1_i64..20_000,
            attempts in proptest::collection::vec((0_usize..3, 1_i64..10_000), 0..60),
        ) {
            let per_outlet = MemberAllowance::outlet_allowance(balance, offline);
            let word = MemberAllowance {
                code: "M".into(), name: "M".into(), active: true, balance_points: balance,
                allowance_points: per_outlet, outlet_burned_points: 0,
            };
            let mut burned = [0_i64; 3];
            for (outlet, points) in attempts {
                if word.admit(points, burned[outlet]).is_ok() {
                    burned[outlet] += points;
                }
            }
            for spent in burned {
                prop_assert!(spent <= per_outlet && spent <= balance.max(0));
            }
        }
    }
}
