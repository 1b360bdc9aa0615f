//! Cash rounding: what a cashier can actually collect when the smallest coins are gone.
//!
//! Kenya has not circulated cents for years, so a KES 1,234.57 bill is collected as 1,235 in
//! cash (or 1,235 rounded to the nearest 5 in some shops). Cash rounding applies to the
//! amount *collected in cash*, never to the tax base, and is printed as its own receipt line
//! so the books reconcile: `total + cash rounding == cash due`.

use crate::tax::{RoundingMode, divide_rounded};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest rounding step accepted, in minor units. Why: 1,000.00 in a two-decimal currency is
/// far above any coin or note step in use; a bigger step is a configuration typo.
pub const CASH_ROUNDING_INCREMENT_MAX_MINOR: i64 = 100_000;

/// Which way a cash amount moves to the nearest step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CashRoundingMode {
    /// To the nearest step; exact halves away from zero.
    #[default]
    Nearest,
    /// Always in the customer's favour (toward zero).
    Down,
    /// Always away from zero.
    Up,
}

/// A tenant's cash rounding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CashRounding {
    increment_minor: i64,
    #[serde(default)]
    mode: CashRoundingMode,
}

/// Why a cash rounding rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CashRoundingError {
    #[error(
        "cash rounding step must be between 1 and {CASH_ROUNDING_INCREMENT_MAX_MINOR} minor units"
    )]
    IncrementOutOfRange,
}

/// The result of rounding an amount for cash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CashRounded {
    /// What the drawer collects.
    pub due_minor: i64,
    /// `due − amount`: the receipt's "cash rounding" line (negative when rounded down).
    pub adjustment_minor: i64,
}

impl CashRounding {
    /// A rule rounding to multiples of `increment_minor`.
    ///
    /// ```
    /// use shared_model::cash_rounding::{CashRounding, CashRoundingMode};
    /// let whole_shillings = CashRounding::new(100, CashRoundingMode::Nearest).expect("valid");
    /// let rounded = whole_shillings.round(123_457);
    /// assert_eq!((rounded.due_minor, rounded.adjustment_minor), (123_500, 43));
    /// ```
    pub fn new(increment_minor: i64, mode: CashRoundingMode) -> Result<Self, CashRoundingError> {
        if !(1..=CASH_ROUNDING_INCREMENT_MAX_MINOR).contains(&increment_minor) {
            return Err(CashRoundingError::IncrementOutOfRange);
        }
        Ok(CashRounding {
            increment_minor,
            mode,
        })
    }

    /// No rounding: every minor unit is collectable.
    pub fn none() -> Self {
        CashRounding {
            increment_minor: 1,
            mode: CashRoundingMode::Nearest,
        }
    }

    /// The step cash amounts are rounded to, in minor units.
    pub fn increment_minor(&self) -> i64 {
        self.increment_minor
    }

    /// Which way amounts move to a step.
    pub fn mode(&self) -> CashRoundingMode {
        self.mode
    }

    /// Rounds `amount_minor` to a collectable cash amount. Negative amounts (cash refunds)
    /// round symmetrically.
    pub fn round(&self, amount_minor: i64) -> CashRounded {
        // A deserialised rule skipped `new`'s check; treat a nonsense step as "no rounding".
        let step = if (1..=CASH_ROUNDING_INCREMENT_MAX_MINOR).contains(&self.increment_minor) {
            i128::from(self.increment_minor)
        } else {
            1
        };
        let amount = i128::from(amount_minor);
        let magnitude = amount.abs();
        let steps = match self.mode {
            CashRoundingMode::Nearest => divide_rounded(magnitude, step, RoundingMode::HalfUp),
            CashRoundingMode::Down => magnitude / step,
            CashRoundingMode::Up => (magnitude + step - 1) / step,
        };
        let due = steps * step * amount.signum();
        let due_minor = i64::try_from(due).unwrap_or(amount_minor);
        CashRounded {
            due_minor,
            adjustment_minor: due_minor - amount_minor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_kes_bill_rounds_to_the_nearest_shilling_and_to_the_nearest_five() {
        let one = CashRounding::new(100, CashRoundingMode::Nearest).expect("valid");
        assert_eq!(one.round(123_449).due_minor, 123_400);
        assert_eq!(one.round(123_450).due_minor, 123_500);
        let five = CashRounding::new(500, CashRoundingMode::Nearest).expect("valid");
        assert_eq!(five.round(123_249).adjustment_minor, -249);
        assert_eq!(five.round(123_250).adjustment_minor, 250);
    }

    #[test]
    fn rounding_down_favours_the_customer_and_refunds_round_symmetrically() {
        let down = CashRounding::new(100, CashRoundingMode::Down).expect("valid");
        assert_eq!(down.round(199).due_minor, 100);
        assert_eq!(down.round(-199).due_minor, -100);
        let up = CashRounding::new(100, CashRoundingMode::Up).expect("valid");
        assert_eq!(up.round(101).due_minor, 200);
        assert_eq!(up.round(-101).due_minor, -200);
        assert_eq!(up.round(0).due_minor, 0);
    }

    #[test]
    fn a_step_of_zero_or_a_huge_step_is_refused() {
        assert!(CashRounding::new(0, CashRoundingMode::Nearest).is_err());
        assert!(
            CashRounding::new(
                CASH_ROUNDING_INCREMENT_MAX_MINOR + 1,
                CashRoundingMode::Nearest
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn cash_due_is_a_whole_step_within_a_step_of_the_amount(
            amount in -100_000_000_i64..100_000_000,
            step in 1_i64..10_000,
            mode in prop_oneof![Just(CashRoundingMode::Nearest), Just(CashRoundingMode::Down), Just(CashRoundingMode::Up)],
        ) {
            let rule = CashRounding::new(step, mode).expect("valid");
            let rounded = rule.round(amount);
            prop_assert_eq!(rounded.due_minor % step, 0);
            prop_assert_eq!(rounded.due_minor - amount, rounded.adjustment_minor);
            prop_assert!(rounded.adjustment_minor.abs() < step);
            if mode == CashRoundingMode::Nearest {
                prop_assert!(rounded.adjustment_minor.abs() * 2 <= step);
            }
        }
    }
}
