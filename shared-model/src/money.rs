//! Money: integer minor units with an ISO 4217 currency.
//!
//! Every amount in Kibanda is an `i64` count of the currency's minor unit (cents, or shillings
//! for currencies quoted without cents in practice). Arithmetic refuses to mix currencies and
//! refuses to overflow, returning an error instead.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// ISO 4217 currencies Kibanda prices in, with their minor-unit exponents.
///
/// Why a closed list: a typo in an outlet's currency must fail at configuration time, not
/// produce receipts in an unknown unit.
const KNOWN_CURRENCIES: &[(&str, u8)] = &[
    ("KES", 2),
    ("UGX", 0),
    ("TZS", 2),
    ("RWF", 0),
    ("ETB", 2),
    ("NGN", 2),
    ("GHS", 2),
    ("ZAR", 2),
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("JPY", 0),
    ("AED", 2),
    ("INR", 2),
    ("BHD", 3),
    ("KWD", 3),
];

/// An ISO 4217 currency known to Kibanda.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_unit_exponent: u8,
}

impl Currency {
    /// Parses a three-letter ISO 4217 code (upper case), e.g. `"KES"`.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        KNOWN_CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(known, exponent)| {
                let bytes = known.as_bytes();
                Currency {
                    code: [bytes[0], bytes[1], bytes[2]],
                    minor_unit_exponent: *exponent,
                }
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(8).collect()))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes come from `KNOWN_CURRENCIES`, which are ASCII.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of decimal places of the minor unit (2 for KES cents, 0 for JPY).
    pub fn minor_unit_exponent(&self) -> u8 {
        self.minor_unit_exponent
    }

    /// Shorthand for the currency most demo data uses.
    pub fn kes() -> Currency {
        Currency {
            code: *b"KES",
            minor_unit_exponent: 2,
        }
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code().to_owned()
    }
}

/// Errors of money arithmetic and parsing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("unknown currency code {0:?}")]
    UnknownCurrency(String),
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount out of range")]
    Overflow,
}

/// An amount of a currency, in integer minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units of `currency`.
    pub fn new(amount_minor: i64, currency: Currency) -> Money {
        Money {
            amount_minor,
            currency,
        }
    }

    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    /// The sum, refusing mixed currencies and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount_minor = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount_minor, self.currency))
    }

    /// The difference, refusing mixed currencies and overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount_minor = self
            .amount_minor
            .checked_sub(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount_minor, self.currency))
    }

    /// Multiplies by an integer quantity (e.g. a unit price by a count of items).
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let amount_minor = self
            .amount_minor
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount_minor, self.currency))
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl std::fmt::Display for Money {
    /// Formats as `KES 1,234.50`-style text without separators: `KES 1234.50`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exponent = u32::from(self.currency.minor_unit_exponent());
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let magnitude = self.amount_minor.unsigned_abs();
        if exponent == 0 {
            return write!(f, "{} {sign}{magnitude}", self.currency);
        }
        let scale = 10_u64.pow(exponent);
        write!(
            f,
            "{} {sign}{}.{:0width$}",
            self.currency,
            magnitude / scale,
            magnitude % scale,
            width = exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_currencies_is_refused() {
        let kes = Money::new(100, Currency::kes());
        let usd = Money::new(100, Currency::parse("USD").expect("known"));
        assert!(matches!(
            kes.checked_add(usd),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let big = Money::new(i64::MAX, Currency::kes());
        assert_eq!(
            big.checked_add(Money::new(1, Currency::kes())),
            Err(MoneyError::Overflow)
        );
        assert_eq!(big.checked_mul(2), Err(MoneyError::Overflow));
    }

    #[test]
    fn unknown_currency_codes_are_refused() {
        assert!(Currency::parse("KSH").is_err());
        assert!(Currency::parse("kes").is_err());
    }

    #[test]
    fn display_uses_the_minor_unit_exponent() {
        assert_eq!(
            Money::new(123_450, Currency::kes()).to_string(),
            "KES 1234.50"
        );
        assert_eq!(
            Money::new(-5, Currency::parse("JPY").expect("known")).to_string(),
            "JPY -5"
        );
        assert_eq!(
            Money::new(1_005, Currency::parse("BHD").expect("known")).to_string(),
            "BHD 1.005"
        );
    }

    #[test]
    fn currency_round_trips_through_json_as_its_code() {
        let json = serde_json_like(&Currency::kes());
        assert_eq!(json, "KES");
    }

    fn serde_json_like(currency: &Currency) -> String {
        String::from(*currency)
    }
}
