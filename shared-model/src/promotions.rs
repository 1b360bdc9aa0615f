//! Promotions: rules that take money off a basket, how they stack, and the record of what
//! each one took.
//!
//! Evaluation is a pure function of the promotions, the basket and a [`PromotionContext`]
//! (time, entered codes, membership, usage so far), so the edge and the hub agree. It is also
//! independent of the order lines arrive in: lines are put in a canonical order (item id, then
//! line id) before any rule runs.
//!
//! Stacking: eligible promotions are sorted by priority (highest first, then id). The
//! non-exclusive ones apply one after another, each on what the previous left. Each exclusive
//! promotion is also tried alone. The customer gets whichever candidate takes the most off
//! (*best for customer*); ties go to the stack, then to the exclusive with the highest priority.
//! No promotion ever takes a line below zero.

use crate::allocation::allocate_largest_remainder;
use crate::catalog::ItemId;
use crate::ids::LineId;
use crate::pricebook::WeeklyWindow;
use crate::tax::{BPS_WHOLE, RoundingMode, divide_rounded};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Most promotions considered for one basket. Why: each is a pass over the lines, and the
/// benchmark budget (50 µs for 50 lines) assumes a handful; a tenant with hundreds of
/// candidates needs targeting at the hub, not a slower till.
pub const PROMOTIONS_CONSIDERED_MAX: usize = 64;

/// What a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum PromotionTarget {
    Item { item_id: ItemId },
    Category { category: String },
    Order,
}

/// How much a promotion takes off.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PromotionRule {
    /// `percent_bps` off each matching line (or off the order, spread over its lines).
    PercentOff {
        target: PromotionTarget,
        percent_bps: u32,
    },
    /// `amount_minor` off each matching unit, or once off the order.
    AmountOff {
        target: PromotionTarget,
        amount_minor: i64,
    },
    /// For every `buy_quantity + get_quantity` matching units, the `get_quantity` cheapest get
    /// `get_percent_bps` off (10000 = free: "3 for 2" is buy 2 get 1 at 10000).
    BuyXGetY {
        target: PromotionTarget,
        buy_quantity: u32,
        get_quantity: u32,
        get_percent_bps: u32,
    },
    /// Every `quantity` matching units cost `price_minor` together ("3 for 100"); the dearest
    /// units are grouped first. Never raises a price.
    BulkPrice {
        target: PromotionTarget,
        quantity: u32,
        price_minor: i64,
    },
}

/// How a promotion is switched on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(tag = "activation", rename_all = "snake_case")]
pub enum Activation {
    /// Applies by itself when its conditions hold.
    #[default]
    Automatic,
    /// Applies only when the code was entered (compared case-insensitively).
    Code { code: String },
}

/// A promotion as the tenant configured it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Promotion {
    pub id: String,
    pub name: String,
    pub rule: PromotionRule,
    #[serde(default)]
    pub activation: Activation,
    /// Higher applies first.
    #[serde(default)]
    pub priority: u32,
    /// An exclusive promotion never combines with another.
    #[serde(default)]
    pub exclusive: bool,
    /// Valid from this instant (inclusive), UTC milliseconds.
    #[serde(default)]
    pub valid_from_ms: Option<i64>,
    /// Valid until this instant (exclusive), UTC milliseconds.
    #[serde(default)]
    pub valid_until_ms: Option<i64>,
    /// Most redemptions in total; the hub counts them and ships `uses_so_far` down. An edge
    /// offline for long may overshoot by what it sells meanwhile.
    #[serde(default)]
    pub usage_limit: Option<u32>,
    /// Only for customers entitled to this membership plan.
    #[serde(default)]
    pub membership_plan: Option<String>,
    /// Only inside one of these weekly windows (happy hour), on the outlet-local minute of
    /// the week; empty means at any time.
    #[serde(default)]
    pub windows: Vec<WeeklyWindow>,
}

impl Promotion {
    /// An automatic, stackable promotion with no limits.
    pub fn automatic(id: &str, name: &str, rule: PromotionRule) -> Promotion {
        Promotion {
            id: id.to_owned(),
            name: name.to_owned(),
            rule,
            activation: Activation::Automatic,
            priority: 0,
            exclusive: false,
            valid_from_ms: None,
            valid_until_ms: None,
            usage_limit: None,
            membership_plan: None,
            windows: Vec::new(),
        }
    }

    /// Whether this promotion may apply under `context`, and if not, why.
    pub fn check_eligible(&self, context: &PromotionContext) -> Result<(), Ineligible> {
        if self.valid_from_ms.is_some_and(|from| context.now_ms < from)
            || self
                .valid_until_ms
                .is_some_and(|until| context.now_ms >= until)
        {
            return Err(Ineligible::OutsideValidity);
        }
        if !self.windows.is_empty()
            && !self
                .windows
                .iter()
                .any(|window| window.contains(context.minute_of_week))
        {
            return Err(Ineligible::OutsideValidity);
        }
        if let Activation::Code { code } = &self.activation
            && !context
                .codes
                .iter()
                .any(|entered| entered.trim().eq_ignore_ascii_case(code))
        {
            return Err(Ineligible::CodeNotEntered);
        }
        if let Some(limit) = self.usage_limit
            && context.uses_so_far.get(&self.id).copied().unwrap_or(0) >= limit
        {
            return Err(Ineligible::UsageLimitReached);
        }
        if let Some(plan) = &self.membership_plan
            && !context.membership_plans.contains(plan)
        {
            return Err(Ineligible::NotEntitled);
        }
        Ok(())
    }
}

/// Why a promotion does not apply (shown when a customer's code is refused).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Ineligible {
    #[error("the promotion is not valid at this time")]
    OutsideValidity,
    #[error("the promotion needs a code")]
    CodeNotEntered,
    #[error("the promotion has been used up")]
    UsageLimitReached,
    #[error("the customer's membership does not include this promotion")]
    NotEntitled,
}

/// Everything outside the basket a promotion depends on.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PromotionContext {
    pub now_ms: i64,
    /// Outlet-local minute of the week, for promotions with windows (see
    /// [`crate::pricebook::minute_of_week`]).
    #[serde(default)]
    pub minute_of_week: u32,
    /// Codes the customer entered.
    pub codes: Vec<String>,
    pub membership_plans: Vec<String>,
    /// Redemptions so far, per promotion id.
    pub uses_so_far: BTreeMap<String, u32>,
}

/// A basket line as promotions see it (borrowing from the caller's lines: evaluation runs
/// on every basket change, so it copies nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromoLine<'a> {
    pub line_id: LineId,
    pub item_id: &'a ItemId,
    pub category: &'a str,
    /// Countable units (a weighed line counts as one).
    pub units: i64,
    /// The line's amount before promotions, in the price's own terms (gross if inclusive).
    pub amount_minor: i64,
}

/// What one promotion took from one line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PromotionAllocation {
    pub line_id: LineId,
    pub amount_minor: i64,
}

/// A promotion as recorded on the order: what it took in total and from which lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppliedPromotion {
    pub promotion_id: String,
    pub name: String,
    pub amount_minor: i64,
    pub allocations: Vec<PromotionAllocation>,
}

/// The result of evaluating promotions on a basket.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PromotionOutcome {
    /// In the order they were applied.
    pub applied: Vec<AppliedPromotion>,
    /// Discount per input line, aligned with the `lines` given.
    pub line_discounts_minor: Vec<i64>,
    pub total_minor: i64,
}

/// Evaluates `promotions` on `lines` with stacking and best-for-customer.
///
/// ```
/// use shared_model::promotions::*;
/// use shared_model::{ItemId, LineId};
/// # use uuid::Uuid;
/// let soap_id = ItemId("soap".into());
/// let soap = |n: u128| PromoLine { line_id: LineId(Uuid::from_u128(n)), item_id: &soap_id, category: "household", units: 1, amount_minor: 12_000 };
/// let three_for_two = Promotion::automatic("3for2", "Soap 3 for 2", PromotionRule::BuyXGetY {
///     target: PromotionTarget::Item { item_id: ItemId("soap".into()) }, buy_quantity: 2, get_quantity: 1, get_percent_bps: 10_000 });
/// let outcome = apply_promotions(&[three_for_two], &[soap(1), soap(2), soap(3)], &PromotionContext::default());
/// assert_eq!(outcome.total_minor, 12_000);
/// ```
pub fn apply_promotions(
    promotions: &[Promotion],
    lines: &[PromoLine<'_>],
    context: &PromotionContext,
) -> PromotionOutcome {
    let mut canonical: Vec<usize> = (0..lines.len()).collect();
    canonical.sort_by(|&a, &b| {
        (lines[a].item_id, lines[a].line_id).cmp(&(lines[b].item_id, lines[b].line_id))
    });
    let mut eligible: Vec<&Promotion> = promotions
        .iter()
        .filter(|promotion| promotion.check_eligible(context).is_ok())
        .collect();
    eligible.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    eligible.truncate(PROMOTIONS_CONSIDERED_MAX);

    let stack: Vec<&Promotion> = eligible.iter().copied().filter(|p| !p.exclusive).collect();
    let mut best = run_sequence(&stack, lines, &canonical);
    for exclusive in eligible.iter().copied().filter(|p| p.exclusive) {
        let candidate = run_sequence(&[exclusive], lines, &canonical);
        if candidate.total_minor > best.total_minor {
            best = candidate;
        }
    }
    best
}

fn run_sequence(
    sequence: &[&Promotion],
    lines: &[PromoLine<'_>],
    canonical: &[usize],
) -> PromotionOutcome {
    let mut remaining: Vec<i64> = lines.iter().map(|line| line.amount_minor.max(0)).collect();
    let mut applied = Vec::new();
    let mut total_minor = 0_i64;
    for promotion in sequence {
        let mut takes = rule_takes(&promotion.rule, lines, canonical, &remaining);
        let mut allocations = Vec::new();
        let mut amount_minor = 0_i64;
        for (index, take) in takes.iter_mut() {
            // The rules stay within what is left; this cap makes "never below zero" hold
            // even if a rule is wrong.
            let take = (*take).clamp(0, remaining[*index]);
            if take == 0 {
                continue;
            }
            remaining[*index] -= take;
            amount_minor += take;
            allocations.push(PromotionAllocation {
                line_id: lines[*index].line_id,
                amount_minor: take,
            });
        }
        if amount_minor > 0 {
            total_minor += amount_minor;
            applied.push(AppliedPromotion {
                promotion_id: promotion.id.clone(),
                name: promotion.name.clone(),
                amount_minor,
                allocations,
            });
        }
    }
    let line_discounts_minor = lines
        .iter()
        .zip(&remaining)
        .map(|(line, left)| line.amount_minor.max(0) - left)
        .collect();
    PromotionOutcome {
        applied,
        line_discounts_minor,
        total_minor,
    }
}

fn matches(target: &PromotionTarget, line: &PromoLine<'_>) -> bool {
    match target {
        PromotionTarget::Item { item_id } => line.item_id == item_id,
        PromotionTarget::Category { category } => line.category == *category,
        PromotionTarget::Order => true,
    }
}

fn percent_of(amount: i64, percent_bps: u32) -> i64 {
    let percent = i128::from(percent_bps.min(BPS_WHOLE));
    i64::try_from(divide_rounded(
        i128::from(amount) * percent,
        i128::from(BPS_WHOLE),
        RoundingMode::HalfUp,
    ))
    .unwrap_or(0)
}

/// `(line index, amount)` a rule takes, in canonical line order.
fn rule_takes(
    rule: &PromotionRule,
    lines: &[PromoLine<'_>],
    canonical: &[usize],
    remaining: &[i64],
) -> Vec<(usize, i64)> {
    let target = match rule {
        PromotionRule::PercentOff { target, .. }
        | PromotionRule::AmountOff { target, .. }
        | PromotionRule::BuyXGetY { target, .. }
        | PromotionRule::BulkPrice { target, .. } => target,
    };
    let matching: Vec<usize> = canonical
        .iter()
        .copied()
        .filter(|&index| matches(target, &lines[index]) && remaining[index] > 0)
        .collect();
    if matching.is_empty() {
        return Vec::new();
    }
    let units = |index: usize| lines[index].units.max(1);
    match rule {
        PromotionRule::PercentOff {
            target: PromotionTarget::Order,
            percent_bps,
        } => {
            let base: i64 = matching.iter().map(|&index| remaining[index]).sum();
            spread(percent_of(base, *percent_bps), &matching, remaining)
        }
        PromotionRule::PercentOff { percent_bps, .. } => matching
            .iter()
            .map(|&index| (index, percent_of(remaining[index], *percent_bps)))
            .collect(),
        PromotionRule::AmountOff {
            target: PromotionTarget::Order,
            amount_minor,
        } => {
            let base: i64 = matching.iter().map(|&index| remaining[index]).sum();
            spread((*amount_minor).clamp(0, base), &matching, remaining)
        }
        PromotionRule::AmountOff { amount_minor, .. } => matching
            .iter()
            .map(|&index| {
                let off = amount_minor.max(&0).saturating_mul(units(index));
                (index, off.min(remaining[index]))
            })
            .collect(),
        PromotionRule::BuyXGetY {
            buy_quantity,
            get_quantity,
            get_percent_bps,
            ..
        } => {
            let group = i64::from(*buy_quantity) + i64::from(*get_quantity);
            if group == 0 || *get_quantity == 0 {
                return Vec::new();
            }
            let total_units: i64 = matching.iter().map(|&index| units(index)).sum();
            let mut free_units = total_units / group * i64::from(*get_quantity);
            // Cheapest units first; canonical position breaks ties.
            let mut by_price = matching.clone();
            by_price.sort_by(|&a, &b| {
                (i128::from(remaining[a]) * i128::from(units(b)))
                    .cmp(&(i128::from(remaining[b]) * i128::from(units(a))))
            });
            let mut takes = Vec::new();
            for index in by_price {
                if free_units == 0 {
                    break;
                }
                let taken_units = free_units.min(units(index));
                free_units -= taken_units;
                let value = prorate(remaining[index], taken_units, units(index));
                takes.push((index, percent_of(value, *get_percent_bps)));
            }
            takes
        }
        PromotionRule::BulkPrice {
            quantity,
            price_minor,
            ..
        } => {
            let quantity = i64::from(*quantity);
            if quantity == 0 || *price_minor < 0 {
                return Vec::new();
            }
            let total_units: i64 = matching.iter().map(|&index| units(index)).sum();
            let groups = total_units / quantity;
            let mut grouped_units = groups * quantity;
            // Dearest units first, so grouping saves the customer the most.
            let mut by_price = matching.clone();
            by_price.sort_by(|&a, &b| {
                (i128::from(remaining[b]) * i128::from(units(a)))
                    .cmp(&(i128::from(remaining[a]) * i128::from(units(b))))
            });
            let mut portions = Vec::new();
            for index in by_price {
                if grouped_units == 0 {
                    break;
                }
                let taken_units = grouped_units.min(units(index));
                grouped_units -= taken_units;
                portions.push((index, prorate(remaining[index], taken_units, units(index))));
            }
            let regular: i64 = portions.iter().map(|(_, value)| value).sum();
            let discount = regular
                .saturating_sub(groups.saturating_mul(*price_minor))
                .max(0);
            let weights: Vec<u64> = portions
                .iter()
                .map(|(_, value)| value.unsigned_abs())
                .collect();
            portions
                .iter()
                .zip(allocate_largest_remainder(discount, &weights))
                .map(|((index, _), share)| (*index, share))
                .collect()
        }
    }
}

/// The value of `part` of a line's `whole` units.
fn prorate(amount: i64, part: i64, whole: i64) -> i64 {
    i64::try_from(divide_rounded(
        i128::from(amount) * i128::from(part),
        i128::from(whole.max(1)),
        RoundingMode::HalfUp,
    ))
    .unwrap_or(0)
}

/// Spreads an order-level amount over lines in proportion to what is left on each.
fn spread(amount: i64, indices: &[usize], remaining: &[i64]) -> Vec<(usize, i64)> {
    let weights: Vec<u64> = indices
        .iter()
        .map(|&index| remaining[index].unsigned_abs())
        .collect();
    indices
        .iter()
        .copied()
        .zip(allocate_largest_remainder(amount, &weights))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    /// Owned test data that [`PromoLine`]s borrow from.
    #[derive(Clone)]
    struct Owned {
        line_id: LineId,
        item_id: ItemId,
        category: String,
        units: i64,
        amount_minor: i64,
    }

    fn line(n: u128, item: &str, category: &str, units: i64, amount: i64) -> Owned {
        Owned {
            line_id: LineId(Uuid::from_u128(n)),
            item_id: ItemId(item.into()),
            category: category.into(),
            units,
            amount_minor: amount,
        }
    }

    fn view(lines: &[Owned]) -> Vec<PromoLine<'_>> {
        lines
            .iter()
            .map(|line| PromoLine {
                line_id: line.line_id,
                item_id: &line.item_id,
                category: &line.category,
                units: line.units,
                amount_minor: line.amount_minor,
            })
            .collect()
    }

    fn item(id: &str) -> PromotionTarget {
        PromotionTarget::Item {
            item_id: ItemId(id.into()),
        }
    }

    #[test]
    fn three_for_one_hundred_groups_the_dearest_units_and_leaves_the_rest() {
        let bulk = Promotion::automatic(
            "juice",
            "Juice 3 for 100",
            PromotionRule::BulkPrice {
                target: PromotionTarget::Category {
                    category: "juice".into(),
                },
                quantity: 3,
                price_minor: 10_000,
            },
        );
        // 4 juices at 40 each: one group of 3 (120 → 100), the 4th at full price.
        let lines = [line(1, "mango", "juice", 4, 16_000)];
        let outcome = apply_promotions(&[bulk], &view(&lines), &PromotionContext::default());
        assert_eq!(outcome.total_minor, 2_000);
    }

    #[test]
    fn a_bulk_price_above_the_regular_price_takes_nothing() {
        let bulk = Promotion::automatic(
            "bad",
            "3 for 500",
            PromotionRule::BulkPrice {
                target: item("mango"),
                quantity: 3,
                price_minor: 50_000,
            },
        );
        let outcome = apply_promotions(
            &[bulk],
            &view(&[line(1, "mango", "juice", 3, 12_000)]),
            &PromotionContext::default(),
        );
        assert_eq!(outcome.total_minor, 0);
        assert!(outcome.applied.is_empty());
    }

    #[test]
    fn best_for_customer_picks_an_exclusive_deal_over_a_smaller_stack() {
        let lines = [
            line(1, "burger", "food", 2, 160_000),
            line(2, "soda", "drinks", 1, 20_000),
        ];
        let ten_off_food = Promotion::automatic(
            "food10",
            "10% off food",
            PromotionRule::PercentOff {
                target: PromotionTarget::Category {
                    category: "food".into(),
                },
                percent_bps: 1_000,
            },
        );
        let mut half_order = Promotion::automatic(
            "staff50",
            "Staff 50%",
            PromotionRule::PercentOff {
                target: PromotionTarget::Order,
                percent_bps: 5_000,
            },
        );
        half_order.exclusive = true;
        let outcome = apply_promotions(
            &[ten_off_food.clone(), half_order.clone()],
            &view(&lines),
            &PromotionContext::default(),
        );
        assert_eq!(outcome.total_minor, 90_000);
        assert_eq!(outcome.applied.len(), 1);
        assert_eq!(outcome.applied[0].promotion_id, "staff50");
        // Make the exclusive one worse than the stack: the stack wins.
        half_order.rule = PromotionRule::AmountOff {
            target: PromotionTarget::Order,
            amount_minor: 100,
        };
        let outcome = apply_promotions(
            &[ten_off_food, half_order],
            &view(&lines),
            &PromotionContext::default(),
        );
        assert_eq!(outcome.applied[0].promotion_id, "food10");
        assert_eq!(outcome.total_minor, 16_000);
    }

    #[test]
    fn stacked_promotions_apply_in_priority_order_on_what_is_left() {
        let lines = [line(1, "cake", "bakery", 1, 10_000)];
        let mut first = Promotion::automatic(
            "a",
            "50 off",
            PromotionRule::AmountOff {
                target: item("cake"),
                amount_minor: 5_000,
            },
        );
        first.priority = 10;
        let second = Promotion::automatic(
            "b",
            "10%",
            PromotionRule::PercentOff {
                target: PromotionTarget::Order,
                percent_bps: 1_000,
            },
        );
        let outcome = apply_promotions(
            &[second, first],
            &view(&lines),
            &PromotionContext::default(),
        );
        let taken: Vec<(&str, i64)> = outcome
            .applied
            .iter()
            .map(|a| (a.promotion_id.as_str(), a.amount_minor))
            .collect();
        assert_eq!(taken, vec![("a", 5_000), ("b", 500)]);
    }

    #[test]
    fn codes_windows_usage_limits_and_memberships_gate_a_promotion() {
        let mut promo = Promotion::automatic(
            "welcome",
            "Welcome 10%",
            PromotionRule::PercentOff {
                target: PromotionTarget::Order,
                percent_bps: 1_000,
            },
        );
        promo.activation = Activation::Code {
            code: "KARIBU".into(),
        };
        promo.valid_from_ms = Some(1_000);
        promo.valid_until_ms = Some(2_000);
        promo.usage_limit = Some(100);
        promo.membership_plan = Some("gold".into());
        let mut context = PromotionContext {
            now_ms: 1_500,
            minute_of_week: 0,
            codes: vec![" karibu ".into()],
            membership_plans: vec!["gold".into()],
            uses_so_far: BTreeMap::new(),
        };
        assert_eq!(promo.check_eligible(&context), Ok(()));
        context.now_ms = 2_000;
        assert_eq!(
            promo.check_eligible(&context),
            Err(Ineligible::OutsideValidity)
        );
        context.now_ms = 1_500;
        context.uses_so_far.insert("welcome".into(), 100);
        assert_eq!(
            promo.check_eligible(&context),
            Err(Ineligible::UsageLimitReached)
        );
        context.uses_so_far.clear();
        context.codes.clear();
        assert_eq!(
            promo.check_eligible(&context),
            Err(Ineligible::CodeNotEntered)
        );
        context.codes.push("KARIBU".into());
        context.membership_plans.clear();
        assert_eq!(promo.check_eligible(&context), Err(Ineligible::NotEntitled));
        context.membership_plans.push("gold".into());
        // Happy hour 17:00-19:00 on Fridays only.
        promo.windows = vec![WeeklyWindow {
            days_mask: 1 << 4,
            start_minute: 17 * 60,
            end_minute: 19 * 60,
        }];
        context.minute_of_week = 4 * 1_440 + 18 * 60;
        assert_eq!(promo.check_eligible(&context), Ok(()));
        context.minute_of_week = 3 * 1_440 + 18 * 60;
        assert_eq!(
            promo.check_eligible(&context),
            Err(Ineligible::OutsideValidity)
        );
    }

    fn arb_rule() -> impl Strategy<Value = PromotionRule> {
        let target = prop_oneof![
            Just(PromotionTarget::Order),
            (0_u8..3).prop_map(|n| PromotionTarget::Item {
                item_id: ItemId(format!("i{n}"))
            }),
            (0_u8..2).prop_map(|n| PromotionTarget::Category {
                category: format!("c{n}")
            }),
        ];
        (
            target,
            0_u8..4,
            0_u32..20_000,
            0_i64..200_000,
            0_u32..5,
            0_u32..4,
        )
            .prop_map(|(target, kind, bps, amount, x, y)| match kind {
                0 => PromotionRule::PercentOff {
                    target,
                    percent_bps: bps,
                },
                1 => PromotionRule::AmountOff {
                    target,
                    amount_minor: amount,
                },
                2 => PromotionRule::BuyXGetY {
                    target,
                    buy_quantity: x,
                    get_quantity: y,
                    get_percent_bps: bps,
                },
                _ => PromotionRule::BulkPrice {
                    target,
                    quantity: x,
                    price_minor: amount,
                },
            })
    }

    proptest! {
        #[test]
        fn promotions_never_go_below_zero_and_ignore_the_order_lines_arrive_in(
            specs in prop::collection::vec((0_u8..3, 0_u8..2, 1_i64..6, 0_i64..100_000), 1..20),
            rules in prop::collection::vec((arb_rule(), any::<bool>(), 0_u32..3), 1..6),
            seed in any::<u64>(),
        ) {
            let lines: Vec<Owned> = specs.iter().enumerate().map(|(n, (item, category, units, unit_price))| {
                line(n as u128 + 1, &format!("i{item}"), &format!("c{category}"), *units, unit_price * units)
            }).collect();
            let promotions: Vec<Promotion> = rules.into_iter().enumerate().map(|(n, (rule, exclusive, priority))| {
                let mut promo = Promotion::automatic(&format!("p{n}"), "p", rule);
                promo.exclusive = exclusive;
                promo.priority = priority;
                promo
            }).collect();
            let context = PromotionContext::default();
            let outcome = apply_promotions(&promotions, &view(&lines), &context);

            for (line, discount) in lines.iter().zip(&outcome.line_discounts_minor) {
                prop_assert!(*discount >= 0 && *discount <= line.amount_minor);
            }
            prop_assert_eq!(outcome.line_discounts_minor.iter().sum::<i64>(), outcome.total_minor);
            for applied in &outcome.applied {
                prop_assert!(applied.amount_minor > 0);
                prop_assert_eq!(applied.allocations.iter().map(|a| a.amount_minor).sum::<i64>(), applied.amount_minor);
            }

            // Shuffle the lines (a deterministic permutation from the seed) and the promotions.
            let mut shuffled = lines.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut reversed_promotions = promotions.clone();
            reversed_promotions.reverse();
            let again = apply_promotions(&reversed_promotions, &view(&shuffled), &context);
            let by_line = |lines: &[Owned], outcome: &PromotionOutcome| {
                let mut pairs: Vec<(LineId, i64)> = lines.iter().map(|l| l.line_id).zip(outcome.line_discounts_minor.iter().copied()).collect();
                pairs.sort();
                pairs
            };
            prop_assert_eq!(by_line(&lines, &outcome), by_line(&shuffled, &again));
            prop_assert_eq!(outcome.applied, again.applied);
        }
    }
}
