//! Tax: several rates per item, inclusive or exclusive pricing, explicit rounding.
//!
//! Rates are integer basis points (1600 = 16 %). The arithmetic is exact in `i128` and rounds
//! once, with a named rounding mode, so the same line gives the same tax on every machine.

use crate::allocation::allocate_largest_remainder;
use serde::{Deserialize, Serialize};

/// Basis points in a whole (100 %).
pub const BPS_WHOLE: u32 = 10_000;

/// One tax that applies to an item, e.g. Kenya VAT at 16 % or the 2 % catering levy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaxRate {
    /// Short code printed on receipts and used to group the breakdown (e.g. `"VAT16"`).
    pub code: String,
    /// Rate in basis points; 0 for zero-rated supplies (still reported as taxable).
    pub rate_bps: u32,
}

impl TaxRate {
    /// A rate with its receipt code, e.g. `TaxRate::new("VAT16", 1600)`.
    pub fn new(code: impl Into<String>, rate_bps: u32) -> TaxRate {
        TaxRate {
            code: code.into(),
            rate_bps,
        }
    }
}

/// Whether a shelf price already includes tax (common in Kenya and Europe) or tax is added on
/// top (common in the US).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

/// How a fractional minor unit is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Halves away from zero (the usual receipt convention).
    #[default]
    HalfUp,
    /// Halves to the even neighbour (banker's rounding).
    HalfEven,
}

/// Divides `numerator / denominator` (denominator > 0) rounding by `mode`.
pub fn divide_rounded(numerator: i128, denominator: i128, mode: RoundingMode) -> i128 {
    assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    let twice = remainder * 2;
    let round_up = match twice.cmp(&denominator) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => match mode {
            // Away from zero: for negatives, div_euclid already floored toward -inf, so the
            // half goes down (further from zero) by not rounding up.
            RoundingMode::HalfUp => numerator >= 0,
            RoundingMode::HalfEven => quotient % 2 != 0,
        },
    };
    if round_up { quotient + 1 } else { quotient }
}

/// One rate's share of a taxed amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxPortion {
    pub code: String,
    pub rate_bps: u32,
    /// The net amount this rate was charged on.
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

/// An amount split into net, tax and gross, with the per-rate breakdown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxedAmount {
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub portions: Vec<TaxPortion>,
}

/// Taxes `amount_minor` at `rates`.
///
/// Inclusive: `amount_minor` is the gross; the net is `gross × 10000 / (10000 + Σ rates)`
/// rounded once, and the tax (gross − net) is spread over the rates by largest remainder in
/// proportion to their rates, so `net + tax == gross` exactly.
/// Exclusive: `amount_minor` is the net; each rate's tax is rounded on its own and the gross
/// is their sum.
///
/// ```
/// use shared_model::tax::{tax_amount, RoundingMode, TaxMode, TaxRate};
/// // A KES 116.00 coffee, VAT 16 % inclusive: net 100.00, VAT 16.00.
/// let taxed = tax_amount(11_600, &[TaxRate::new("VAT16", 1600)], TaxMode::Inclusive, RoundingMode::HalfUp);
/// assert_eq!((taxed.net_minor, taxed.tax_minor, taxed.gross_minor), (10_000, 1_600, 11_600));
/// ```
pub fn tax_amount(
    amount_minor: i64,
    rates: &[TaxRate],
    mode: TaxMode,
    rounding: RoundingMode,
) -> TaxedAmount {
    let amount = i128::from(amount_minor);
    let whole = i128::from(BPS_WHOLE);
    match mode {
        TaxMode::Inclusive => {
            let rate_sum: i128 = rates.iter().map(|r| i128::from(r.rate_bps)).sum();
            let net = divide_rounded(amount * whole, whole + rate_sum, rounding);
            let net_minor = clamp_i64(net);
            let tax_minor = amount_minor - net_minor;
            let weights: Vec<u64> = rates.iter().map(|r| u64::from(r.rate_bps)).collect();
            let shares = if rate_sum == 0 {
                vec![0; rates.len()]
            } else {
                allocate_largest_remainder(tax_minor, &weights)
            };
            let portions = rates
                .iter()
                .zip(shares)
                .map(|(rate, tax)| TaxPortion {
                    code: rate.code.clone(),
                    rate_bps: rate.rate_bps,
                    taxable_minor: net_minor,
                    tax_minor: tax,
                })
                .collect();
            TaxedAmount {
                net_minor,
                tax_minor,
                gross_minor: amount_minor,
                portions,
            }
        }
        TaxMode::Exclusive => {
            let portions: Vec<TaxPortion> = rates
                .iter()
                .map(|rate| TaxPortion {
                    code: rate.code.clone(),
                    rate_bps: rate.rate_bps,
                    taxable_minor: amount_minor,
                    tax_minor: clamp_i64(divide_rounded(
                        amount * i128::from(rate.rate_bps),
                        whole,
                        rounding,
                    )),
                })
                .collect();
            let tax_minor = portions.iter().map(|p| p.tax_minor).sum();
            TaxedAmount {
                net_minor: amount_minor,
                tax_minor,
                gross_minor: amount_minor.saturating_add(tax_minor),
                portions,
            }
        }
    }
}

fn clamp_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Adds `portion` into a per-rate breakdown, merging by code and rate.
pub fn merge_portion(breakdown: &mut Vec<TaxPortion>, portion: &TaxPortion) {
    match breakdown
        .iter_mut()
        .find(|p| p.code == portion.code && p.rate_bps == portion.rate_bps)
    {
        Some(existing) => {
            existing.taxable_minor += portion.taxable_minor;
            existing.tax_minor += portion.tax_minor;
        }
        None => breakdown.push(portion.clone()),
    }
}

/// Where tax is rounded: on every line, or once per tax group on the invoice. A tenant setting,
/// because tax authorities differ (Kenya's eTIMS accepts per-line figures; many EU invoices
/// round per rate on the invoice total).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaxRoundingLevel {
    /// Each line's tax is rounded on its own; the invoice sums the rounded figures.
    #[default]
    PerLine,
    /// Lines sharing a mode and a rate set are summed, taxed and rounded once; the group's
    /// tax is then spread back over its lines by largest remainder, so lines still add up.
    PerInvoice,
}

/// A tenant's tax rounding setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct TaxPolicy {
    #[serde(default)]
    pub rounding: RoundingMode,
    #[serde(default)]
    pub level: TaxRoundingLevel,
}

/// One amount on an invoice to be taxed: a line, or a taxable service charge.
#[derive(Clone, Copy, Debug)]
pub struct TaxableAmount<'a> {
    /// Gross for inclusive pricing, net for exclusive pricing.
    pub amount_minor: i64,
    pub rates: &'a [TaxRate],
    pub mode: TaxMode,
}

/// An invoice's tax: one [`TaxedAmount`] per input (in input order) and the per-rate
/// breakdown printed on receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTax {
    pub lines: Vec<TaxedAmount>,
    pub breakdown: Vec<TaxPortion>,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
}

/// Taxes every amount of an invoice under `policy`.
///
/// The per-line figures always add up to the invoice figures, and for each line
/// `net + tax == gross`, whichever [`TaxRoundingLevel`] is chosen.
///
/// ```
/// use shared_model::tax::{tax_invoice, TaxableAmount, TaxPolicy, TaxRoundingLevel, TaxMode, TaxRate, RoundingMode};
/// let vat = [TaxRate::new("VAT16", 1600)];
/// // Three items at 0.10 net each, tax exclusive: per line 0.016 rounds to 0.02 each (0.06);
/// // per invoice 0.30 × 16 % = 0.048 rounds once to 0.05.
/// let lines = [TaxableAmount { amount_minor: 10, rates: &vat, mode: TaxMode::Exclusive }; 3];
/// let per_line = tax_invoice(&lines, TaxPolicy { rounding: RoundingMode::HalfUp, level: TaxRoundingLevel::PerLine });
/// let per_invoice = tax_invoice(&lines, TaxPolicy { rounding: RoundingMode::HalfUp, level: TaxRoundingLevel::PerInvoice });
/// assert_eq!((per_line.tax_minor, per_invoice.tax_minor), (6, 5));
/// ```
pub fn tax_invoice(amounts: &[TaxableAmount<'_>], policy: TaxPolicy) -> InvoiceTax {
    let mut lines: Vec<TaxedAmount> = Vec::with_capacity(amounts.len());
    match policy.level {
        TaxRoundingLevel::PerLine => {
            for amount in amounts {
                lines.push(tax_amount(
                    amount.amount_minor,
                    amount.rates,
                    amount.mode,
                    policy.rounding,
                ));
            }
        }
        TaxRoundingLevel::PerInvoice => {
            // Placeholders, each overwritten by its group below.
            lines.resize(
                amounts.len(),
                TaxedAmount {
                    net_minor: 0,
                    tax_minor: 0,
                    gross_minor: 0,
                    portions: Vec::new(),
                },
            );
            let mut done = vec![false; amounts.len()];
            for first in 0..amounts.len() {
                if done[first] {
                    continue;
                }
                let leader = amounts[first];
                let members: Vec<usize> = (first..amounts.len())
                    .filter(|&index| {
                        !done[index]
                            && amounts[index].mode == leader.mode
                            && amounts[index].rates == leader.rates
                    })
                    .collect();
                let group_amount_minor = members.iter().fold(0_i64, |sum, &index| {
                    sum.saturating_add(amounts[index].amount_minor)
                });
                let group = tax_amount(
                    group_amount_minor,
                    leader.rates,
                    leader.mode,
                    policy.rounding,
                );
                let weights: Vec<u64> = members
                    .iter()
                    .map(|&index| amounts[index].amount_minor.unsigned_abs())
                    .collect();
                let mut line_portions: Vec<Vec<TaxPortion>> = vec![Vec::new(); members.len()];
                for portion in &group.portions {
                    let tax_shares = allocate_largest_remainder(portion.tax_minor, &weights);
                    let base_shares = allocate_largest_remainder(portion.taxable_minor, &weights);
                    for (slot, (tax_share, base_share)) in
                        tax_shares.into_iter().zip(base_shares).enumerate()
                    {
                        line_portions[slot].push(TaxPortion {
                            code: portion.code.clone(),
                            rate_bps: portion.rate_bps,
                            taxable_minor: base_share,
                            tax_minor: tax_share,
                        });
                    }
                }
                for (slot, &index) in members.iter().enumerate() {
                    done[index] = true;
                    let amount_minor = amounts[index].amount_minor;
                    let portions = std::mem::take(&mut line_portions[slot]);
                    let tax_minor: i64 = portions.iter().map(|p| p.tax_minor).sum();
                    lines[index] = match leader.mode {
                        TaxMode::Inclusive => TaxedAmount {
                            net_minor: amount_minor - tax_minor,
                            tax_minor,
                            gross_minor: amount_minor,
                            portions,
                        },
                        TaxMode::Exclusive => TaxedAmount {
                            net_minor: amount_minor,
                            tax_minor,
                            gross_minor: amount_minor.saturating_add(tax_minor),
                            portions,
                        },
                    };
                }
            }
        }
    }
    let mut breakdown = Vec::new();
    let (mut net_minor, mut tax_minor, mut gross_minor) = (0_i64, 0_i64, 0_i64);
    for line in &lines {
        net_minor = net_minor.saturating_add(line.net_minor);
        tax_minor = tax_minor.saturating_add(line.tax_minor);
        gross_minor = gross_minor.saturating_add(line.gross_minor);
        for portion in &line.portions {
            merge_portion(&mut breakdown, portion);
        }
    }
    InvoiceTax {
        lines,
        breakdown,
        net_minor,
        tax_minor,
        gross_minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vat() -> TaxRate {
        TaxRate::new("VAT16", 1600)
    }

    #[test]
    fn half_up_and_half_even_differ_only_on_exact_halves() {
        assert_eq!(divide_rounded(5, 2, RoundingMode::HalfUp), 3);
        assert_eq!(divide_rounded(5, 2, RoundingMode::HalfEven), 2);
        assert_eq!(divide_rounded(7, 2, RoundingMode::HalfEven), 4);
        assert_eq!(divide_rounded(-5, 2, RoundingMode::HalfUp), -3);
        assert_eq!(divide_rounded(-5, 2, RoundingMode::HalfEven), -2);
        assert_eq!(divide_rounded(10, 3, RoundingMode::HalfUp), 3);
        assert_eq!(divide_rounded(11, 3, RoundingMode::HalfUp), 4);
    }

    #[test]
    fn a_kes_250_tea_with_vat_and_catering_levy_inclusive() {
        // KES 250.00 inclusive of VAT 16 % and catering levy 2 %: net = 25000 / 1.18 = 21186.44
        let taxed = tax_amount(
            25_000,
            &[vat(), TaxRate::new("CTL2", 200)],
            TaxMode::Inclusive,
            RoundingMode::HalfUp,
        );
        assert_eq!(taxed.net_minor, 21_186);
        assert_eq!(taxed.tax_minor, 3_814);
        let vat_part = &taxed.portions[0];
        let levy_part = &taxed.portions[1];
        assert_eq!(vat_part.tax_minor + levy_part.tax_minor, 3_814);
        assert_eq!(vat_part.tax_minor, 3_390);
        assert_eq!(levy_part.tax_minor, 424);
    }

    #[test]
    fn exclusive_tax_is_added_on_top() {
        let taxed = tax_amount(
            1_999,
            &[TaxRate::new("STATE", 625)],
            TaxMode::Exclusive,
            RoundingMode::HalfUp,
        );
        // 19.99 × 6.25 % = 1.249375 → 1.25
        assert_eq!(taxed.tax_minor, 125);
        assert_eq!(taxed.gross_minor, 2_124);
    }

    #[test]
    fn zero_rated_items_are_taxable_at_zero() {
        let taxed = tax_amount(
            5_000,
            &[TaxRate::new("ZERO", 0)],
            TaxMode::Inclusive,
            RoundingMode::HalfUp,
        );
        assert_eq!(taxed.tax_minor, 0);
        assert_eq!(taxed.portions[0].taxable_minor, 5_000);
    }

    proptest! {
        #[test]
        fn inclusive_tax_always_adds_back_to_the_gross(
            gross in -10_000_000_i64..100_000_000,
            bps in prop::collection::vec(0_u32..3_000, 0..4),
        ) {
            let rates: Vec<TaxRate> = bps.iter().enumerate().map(|(i, b)| TaxRate::new(format!("T{i}"), *b)).collect();
            let taxed = tax_amount(gross, &rates, TaxMode::Inclusive, RoundingMode::HalfUp);
            prop_assert_eq!(taxed.net_minor + taxed.tax_minor, gross);
            let portion_sum: i64 = taxed.portions.iter().map(|p| p.tax_minor).sum();
            if !rates.is_empty() { prop_assert_eq!(portion_sum, taxed.tax_minor); }
        }

        #[test]
        fn invoice_tax_adds_up_per_line_and_per_rate_at_either_level(
            amounts in prop::collection::vec((0_i64..1_000_000, 0_usize..3, any::<bool>()), 1..30),
            per_invoice in any::<bool>(),
            half_even in any::<bool>(),
        ) {
            let rate_sets = [
                vec![TaxRate::new("VAT16", 1600)],
                vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
                vec![TaxRate::new("ZERO", 0)],
            ];
            let inputs: Vec<TaxableAmount> = amounts.iter().map(|(amount, set, inclusive)| TaxableAmount {
                amount_minor: *amount,
                rates: &rate_sets[*set],
                mode: if *inclusive { TaxMode::Inclusive } else { TaxMode::Exclusive },
            }).collect();
            let policy = TaxPolicy {
                rounding: if half_even { RoundingMode::HalfEven } else { RoundingMode::HalfUp },
                level: if per_invoice { TaxRoundingLevel::PerInvoice } else { TaxRoundingLevel::PerLine },
            };
            let invoice = tax_invoice(&inputs, policy);
            prop_assert_eq!(invoice.net_minor + invoice.tax_minor, invoice.gross_minor);
            for (line, input) in invoice.lines.iter().zip(&inputs) {
                prop_assert_eq!(line.net_minor + line.tax_minor, line.gross_minor);
                match input.mode {
                    TaxMode::Inclusive => prop_assert_eq!(line.gross_minor, input.amount_minor),
                    TaxMode::Exclusive => prop_assert_eq!(line.net_minor, input.amount_minor),
                }
                prop_assert!(line.tax_minor >= 0);
            }
            let breakdown_tax: i64 = invoice.breakdown.iter().map(|p| p.tax_minor).sum();
            prop_assert_eq!(breakdown_tax, invoice.tax_minor);
        }

        #[test]
        fn per_invoice_rounding_differs_from_exact_tax_by_less_than_one_unit_per_group(
            nets in prop::collection::vec(0_i64..100_000, 1..30),
        ) {
            // Exclusive VAT rounded once on the invoice is within half a unit of the exact
            // figure, whereas per-line rounding may drift by half a unit per line.
            let vat = [TaxRate::new("VAT16", 1600)];
            let inputs: Vec<TaxableAmount> = nets.iter().map(|n| TaxableAmount { amount_minor: *n, rates: &vat, mode: TaxMode::Exclusive }).collect();
            let invoice = tax_invoice(&inputs, TaxPolicy { rounding: RoundingMode::HalfUp, level: TaxRoundingLevel::PerInvoice });
            let exact_times_10000: i128 = nets.iter().map(|n| i128::from(*n) * 1600).sum();
            let diff = (i128::from(invoice.tax_minor) * 10_000 - exact_times_10000).abs();
            prop_assert!(diff <= 5_000);
        }

        #[test]
        fn exclusive_then_inclusive_recovers_the_net_for_a_single_rate(
            net in 0_i64..100_000_000,
            bps in 0_u32..3_000,
        ) {
            // Taxing a net exclusively and then reading the gross back inclusively gives the
            // net again, within one minor unit of rounding.
            let rates = [TaxRate::new("T", bps)];
            let exclusive = tax_amount(net, &rates, TaxMode::Exclusive, RoundingMode::HalfUp);
            let inclusive = tax_amount(exclusive.gross_minor, &rates, TaxMode::Inclusive, RoundingMode::HalfUp);
            prop_assert!((inclusive.net_minor - net).abs() <= 1);
        }
    }
}
