//! Split bills: by item, by seat, evenly N ways, or by amount.
//!
//! A split divides an order's [`crate::OrderTotals::total_minor`] into shares that each guest
//! pays separately. Every split conserves the total exactly: line amounts carry their
//! discounts and their share of the service charge, and tips and remainders are spread by
//! largest remainder, so the shares always add up to the bill to the last cent.

use crate::allocation::allocate_largest_remainder;
use crate::ids::LineId;
use crate::order::Order;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most shares one bill splits into. Why: a table of fifty is a banquet; past that a split is
/// a keying error, and the limit bounds the work.
pub const SPLIT_WAYS_MAX: usize = 50;

/// One guest's part of the bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillShare {
    /// The seat this share is for, in a split by seat.
    pub seat: Option<u16>,
    /// The lines wholly in this share (empty for even and amount splits).
    pub line_ids: Vec<LineId>,
    pub amount_minor: i64,
}

/// Why a bill could not be split that way.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SplitError {
    #[error("the order has no live lines to split")]
    EmptyOrder,
    #[error("a bill splits into 1 to {SPLIT_WAYS_MAX} shares")]
    BadWays,
    #[error("line {0} is not in any share")]
    LineMissing(LineId),
    #[error("line {0} is in more than one share")]
    LineTwice(LineId),
    #[error("line {0} is not a live line of the order")]
    UnknownLine(LineId),
    #[error("every amount must be positive")]
    NonPositiveAmount,
    #[error("the amounts add up to more than the {total_minor} total")]
    AmountsExceedTotal { total_minor: i64 },
}

fn check_ways(ways: usize) -> Result<(), SplitError> {
    if (1..=SPLIT_WAYS_MAX).contains(&ways) {
        Ok(())
    } else {
        Err(SplitError::BadWays)
    }
}

/// Splits by item: each group of line ids is one share; every live line must be in exactly
/// one group. Tips are spread over the shares in proportion to their amounts.
///
/// ```
/// # use shared_model::*; use shared_model::tax::RoundingMode; use uuid::Uuid;
/// use shared_model::split::split_by_items;
/// let mut order = Order::from_opened(&OrderEvent::Opened { order_id: OrderId(Uuid::from_u128(1)), number: 1,
///     order_type: OrderType::DineIn, currency: Currency::kes(), opened_at_ms: 0 }).expect("opened");
/// let tea = CatalogItem::simple("tea", "Tea", "tea", 15_000, TaxMode::Inclusive, vec![]);
/// for n in [2, 3] {
///     let event = order.add_line(LineId(Uuid::from_u128(n)), &tea, 1, RoundingMode::HalfUp).expect("line");
///     order.apply(&event).expect("apply");
/// }
/// let shares = split_by_items(&order, &[vec![LineId(Uuid::from_u128(2))], vec![LineId(Uuid::from_u128(3))]]).expect("split");
/// assert_eq!(shares.iter().map(|s| s.amount_minor).collect::<Vec<_>>(), vec![15_000, 15_000]);
/// ```
pub fn split_by_items(order: &Order, groups: &[Vec<LineId>]) -> Result<Vec<BillShare>, SplitError> {
    check_ways(groups.len())?;
    let totals = order.totals();
    if totals.lines.is_empty() {
        return Err(SplitError::EmptyOrder);
    }
    let mut seen: Vec<LineId> = Vec::new();
    let mut amounts = Vec::with_capacity(groups.len());
    for group in groups {
        let mut amount = 0_i64;
        for line_id in group {
            let line = totals
                .lines
                .iter()
                .find(|line| line.line_id == *line_id)
                .ok_or(SplitError::UnknownLine(*line_id))?;
            if seen.contains(line_id) {
                return Err(SplitError::LineTwice(*line_id));
            }
            seen.push(*line_id);
            amount += line.gross_minor + line.service_charge_share_minor;
        }
        amounts.push(amount);
    }
    if let Some(missing) = totals
        .lines
        .iter()
        .find(|line| !seen.contains(&line.line_id))
    {
        return Err(SplitError::LineMissing(missing.line_id));
    }
    let weights: Vec<u64> = amounts.iter().map(|a| a.unsigned_abs()).collect();
    let tips = allocate_largest_remainder(totals.tip_minor, &weights);
    Ok(groups
        .iter()
        .zip(amounts)
        .zip(tips)
        .map(|((group, amount), tip)| BillShare {
            seat: None,
            line_ids: group.clone(),
            amount_minor: amount + tip,
        })
        .collect())
}

/// Splits by seat: each seat pays its lines; lines with no seat (a shared starter) are
/// spread evenly over the seats. With no seated lines at all, the whole bill is one share.
pub fn split_by_seat(order: &Order) -> Result<Vec<BillShare>, SplitError> {
    let totals = order.totals();
    if totals.lines.is_empty() {
        return Err(SplitError::EmptyOrder);
    }
    let mut seats: Vec<u16> = totals.lines.iter().filter_map(|line| line.seat).collect();
    seats.sort_unstable();
    seats.dedup();
    if seats.is_empty() {
        return Ok(vec![BillShare {
            seat: None,
            line_ids: totals.lines.iter().map(|line| line.line_id).collect(),
            amount_minor: totals.total_minor,
        }]);
    }
    check_ways(seats.len())?;
    let mut shares: Vec<BillShare> = seats
        .iter()
        .map(|seat| BillShare {
            seat: Some(*seat),
            line_ids: Vec::new(),
            amount_minor: 0,
        })
        .collect();
    let mut shared_minor = 0_i64;
    for line in &totals.lines {
        let amount = line.gross_minor + line.service_charge_share_minor;
        match line
            .seat
            .and_then(|seat| seats.iter().position(|s| *s == seat))
        {
            Some(index) => {
                shares[index].line_ids.push(line.line_id);
                shares[index].amount_minor += amount;
            }
            None => shared_minor += amount,
        }
    }
    let even = vec![1_u64; shares.len()];
    for (share, part) in shares
        .iter_mut()
        .zip(allocate_largest_remainder(shared_minor, &even))
    {
        share.amount_minor += part;
    }
    let weights: Vec<u64> = shares
        .iter()
        .map(|s| s.amount_minor.unsigned_abs())
        .collect();
    for (share, tip) in shares
        .iter_mut()
        .zip(allocate_largest_remainder(totals.tip_minor, &weights))
    {
        share.amount_minor += tip;
    }
    Ok(shares)
}

/// Splits the total evenly `ways` ways; the first shares take the odd cents.
pub fn split_evenly(order: &Order, ways: usize) -> Result<Vec<BillShare>, SplitError> {
    check_ways(ways)?;
    let totals = order.totals();
    if totals.lines.is_empty() {
        return Err(SplitError::EmptyOrder);
    }
    Ok(
        allocate_largest_remainder(totals.total_minor, &vec![1; ways])
            .into_iter()
            .map(|amount_minor| BillShare {
                seat: None,
                line_ids: Vec::new(),
                amount_minor,
            })
            .collect(),
    )
}

/// Splits by amount: each guest names an amount; if they add up to less than the total, a
/// last share takes the rest.
pub fn split_by_amounts(order: &Order, amounts: &[i64]) -> Result<Vec<BillShare>, SplitError> {
    check_ways(amounts.len())?;
    let totals = order.totals();
    if totals.lines.is_empty() {
        return Err(SplitError::EmptyOrder);
    }
    if amounts.iter().any(|amount| *amount <= 0) {
        return Err(SplitError::NonPositiveAmount);
    }
    let named: i64 = amounts.iter().fold(0_i64, |sum, a| sum.saturating_add(*a));
    if named > totals.total_minor {
        return Err(SplitError::AmountsExceedTotal {
            total_minor: totals.total_minor,
        });
    }
    let mut shares: Vec<BillShare> = amounts
        .iter()
        .map(|amount_minor| BillShare {
            seat: None,
            line_ids: Vec::new(),
            amount_minor: *amount_minor,
        })
        .collect();
    if named < totals.total_minor {
        check_ways(amounts.len() + 1)?;
        shares.push(BillShare {
            seat: None,
            line_ids: Vec::new(),
            amount_minor: totals.total_minor - named,
        });
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogItem;
    use crate::events::OrderEvent;
    use crate::ids::{DiscountId, OrderId, TipId};
    use crate::money::Currency;
    use crate::order::{DiscountTarget, LineRequest, OrderType};
    use crate::pricebook::PriceContext;
    use crate::pricing::{DiscountKind, PricingRules, Quantity, ServiceCharge, ServiceChargeKind};
    use crate::tax::{TaxMode, TaxRate};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn order_with(
        lines: &[(i64, Option<u16>)],
        service_bps: u32,
        order_off_bps: u32,
        tip: i64,
    ) -> Order {
        let mut order = Order::from_opened(&OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(1)),
            number: 1,
            order_type: OrderType::DineIn,
            currency: Currency::kes(),
            opened_at_ms: 0,
        })
        .expect("opened");
        for (n, (price, seat)) in lines.iter().enumerate() {
            let item = CatalogItem::simple(
                "dish",
                "Dish",
                "food",
                *price,
                TaxMode::Inclusive,
                vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
            );
            let mut request = LineRequest::new(Quantity::Each(1));
            request.seat = *seat;
            let event = order
                .add_line_with(
                    LineId(Uuid::from_u128(100 + n as u128)),
                    &item,
                    &request,
                    &PricingRules::default(),
                    &PriceContext::default(),
                )
                .expect("line");
            order.apply(&event).expect("apply");
        }
        if order_off_bps > 0 {
            let event = order
                .discount(
                    DiscountId(Uuid::from_u128(7)),
                    DiscountTarget::Order,
                    DiscountKind::Percent {
                        percent_bps: order_off_bps,
                    },
                    "promo",
                    1,
                )
                .expect("discount");
            order.apply(&event).expect("apply");
        }
        if service_bps > 0 {
            let event = order
                .set_service_charge(
                    Some(ServiceCharge {
                        name: "Service".into(),
                        kind: ServiceChargeKind::Percent {
                            percent_bps: service_bps,
                        },
                        taxable: false,
                        tax_rates: vec![],
                        tax_mode: TaxMode::Inclusive,
                    }),
                    1,
                )
                .expect("service");
            order.apply(&event).expect("apply");
        }
        if tip > 0 {
            let event = order
                .add_tip(TipId(Uuid::from_u128(8)), tip, None, 2)
                .expect("tip");
            order.apply(&event).expect("apply");
        }
        order
    }

    fn sum(shares: &[BillShare]) -> i64 {
        shares.iter().map(|s| s.amount_minor).sum()
    }

    #[test]
    fn three_friends_split_by_seat_and_share_the_starter_evenly() {
        // Seats 1-3 each had a main; the 100.00 starter (no seat) is shared.
        let order = order_with(
            &[
                (50_000, Some(1)),
                (60_000, Some(2)),
                (70_000, Some(3)),
                (10_000, None),
            ],
            0,
            0,
            0,
        );
        let shares = split_by_seat(&order).expect("split");
        let amounts: Vec<i64> = shares.iter().map(|s| s.amount_minor).collect();
        assert_eq!(amounts, vec![53_334, 63_333, 73_333]);
        assert_eq!(sum(&shares), order.totals().total_minor);
    }

    #[test]
    fn a_line_left_out_or_named_twice_is_refused() {
        let order = order_with(&[(1_000, None), (2_000, None)], 0, 0, 0);
        let a = LineId(Uuid::from_u128(100));
        let b = LineId(Uuid::from_u128(101));
        assert_eq!(
            split_by_items(&order, &[vec![a]]),
            Err(SplitError::LineMissing(b))
        );
        assert_eq!(
            split_by_items(&order, &[vec![a, b], vec![a]]),
            Err(SplitError::LineTwice(a))
        );
        let stranger = LineId(Uuid::from_u128(999));
        assert_eq!(
            split_by_items(&order, &[vec![a, b, stranger]]),
            Err(SplitError::UnknownLine(stranger))
        );
    }

    #[test]
    fn amounts_beyond_the_total_are_refused_and_a_shortfall_becomes_a_last_share() {
        let order = order_with(&[(10_000, None)], 0, 0, 0);
        assert!(matches!(
            split_by_amounts(&order, &[6_000, 5_000]),
            Err(SplitError::AmountsExceedTotal { .. })
        ));
        let shares = split_by_amounts(&order, &[6_000]).expect("split");
        assert_eq!(
            shares.iter().map(|s| s.amount_minor).collect::<Vec<_>>(),
            vec![6_000, 4_000]
        );
        assert_eq!(split_evenly(&order, 0), Err(SplitError::BadWays));
    }

    proptest! {
        #[test]
        fn every_split_conserves_the_total_exactly(
            lines in prop::collection::vec((1_i64..100_000, prop::option::of(1_u16..6)), 1..15),
            service_bps in 0_u32..2_000,
            order_off_bps in 0_u32..5_000,
            tip in 0_i64..50_000,
            ways in 1_usize..12,
            cut in 1_i64..1_000,
        ) {
            let order = order_with(&lines, service_bps, order_off_bps, tip);
            let total = order.totals().total_minor;
            let ids: Vec<LineId> = order.lines.iter().map(|l| l.id).collect();
            let by_items = split_by_items(&order, &ids.chunks(2).map(|c| c.to_vec()).collect::<Vec<_>>()).expect("items");
            prop_assert_eq!(sum(&by_items), total);
            let by_seat = split_by_seat(&order).expect("seat");
            prop_assert_eq!(sum(&by_seat), total);
            let even = split_evenly(&order, ways).expect("even");
            prop_assert_eq!(sum(&even), total);
            let max = even.iter().map(|s| s.amount_minor).max().unwrap_or(0);
            let min = even.iter().map(|s| s.amount_minor).min().unwrap_or(0);
            prop_assert!(max - min <= 1);
            let first = (total * cut / 1_000).max(1).min(total);
            let by_amount = split_by_amounts(&order, &[first]).expect("amount");
            prop_assert_eq!(sum(&by_amount), total);
        }
    }
}
