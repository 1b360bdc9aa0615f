//! EAN-13 barcodes, including the in-store "variable measure" codes (prefix 20–29) that a
//! scale prints with the price or the weight embedded.
//!
//! A scale label such as `2 01234 0 1250 8` carries an item code (`01234`, looked up as the
//! item's PLU) and a value (`01250`: 12.50 in price, or 1,250 g in weight, depending on how
//! the tenant configured that prefix). Which prefixes mean what is a per-tenant setting, so it
//! is passed in as [`EmbeddedScheme`]s rather than hard-coded.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Digits in an EAN-13 code.
pub const EAN13_LEN: usize = 13;
/// Item-code digits a scheme may use. Why: GS1 variable-measure layouts put 4 to 6 item digits
/// between the 2-digit prefix and the value; fewer leaves no room for a catalog, more no room
/// for a price.
pub const EMBEDDED_ITEM_DIGITS_RANGE: std::ops::RangeInclusive<u8> = 4..=6;

/// Why a scan or a label could not be read or printed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BarcodeError {
    #[error("an EAN-13 code has exactly 13 digits")]
    WrongLength,
    #[error("barcodes contain only the digits 0-9")]
    NotDigits,
    #[error("check digit is {found}, expected {expected}")]
    BadCheckDigit { expected: u8, found: u8 },
    #[error("value {0} does not fit the scheme's digits")]
    ValueOutOfRange(i64),
    #[error("item code {0} does not fit the scheme's digits")]
    ItemCodeOutOfRange(u32),
    #[error("scheme is invalid: prefix must be 20-29 and item digits 4-6")]
    BadScheme,
}

/// GS1 check digit of the first 12 digits: weights 1,3,1,3,… from the left.
///
/// ```
/// use shared_model::barcode::ean13_check_digit;
/// assert_eq!(ean13_check_digit(&[4, 0, 0, 6, 3, 8, 1, 3, 3, 3, 9, 3]), 1);
/// ```
pub fn ean13_check_digit(payload: &[u8; 12]) -> u8 {
    let sum: u32 = payload
        .iter()
        .enumerate()
        .map(|(index, digit)| u32::from(*digit) * if index % 2 == 0 { 1 } else { 3 })
        .sum();
    // `sum % 10` is < 10, so the result fits a u8.
    ((10 - sum % 10) % 10) as u8
}

/// A valid EAN-13 code (13 digits, check digit verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ean13([u8; EAN13_LEN]);

impl Ean13 {
    /// Parses and validates a scanned code.
    ///
    /// ```
    /// use shared_model::barcode::{Ean13, BarcodeError};
    /// assert!(Ean13::parse("4006381333931").is_ok());
    /// assert!(matches!(Ean13::parse("4006381333932"), Err(BarcodeError::BadCheckDigit { .. })));
    /// ```
    pub fn parse(text: &str) -> Result<Ean13, BarcodeError> {
        let text = text.trim();
        if text.len() != EAN13_LEN {
            return Err(BarcodeError::WrongLength);
        }
        let mut digits = [0_u8; EAN13_LEN];
        for (slot, byte) in digits.iter_mut().zip(text.bytes()) {
            if !byte.is_ascii_digit() {
                return Err(BarcodeError::NotDigits);
            }
            *slot = byte - b'0';
        }
        let mut payload = [0_u8; 12];
        payload.copy_from_slice(&digits[..12]);
        let expected = ean13_check_digit(&payload);
        if digits[12] != expected {
            return Err(BarcodeError::BadCheckDigit {
                expected,
                found: digits[12],
            });
        }
        Ok(Ean13(digits))
    }

    /// Builds a code from its first 12 digits, computing the check digit.
    pub fn from_payload(payload: [u8; 12]) -> Result<Ean13, BarcodeError> {
        if payload.iter().any(|digit| *digit > 9) {
            return Err(BarcodeError::NotDigits);
        }
        let mut digits = [0_u8; EAN13_LEN];
        digits[..12].copy_from_slice(&payload);
        digits[12] = ean13_check_digit(&payload);
        Ok(Ean13(digits))
    }

    /// The 13 digits, check digit last.
    pub fn digits(&self) -> &[u8; EAN13_LEN] {
        &self.0
    }

    /// The 2-digit GS1 prefix as a number (20–29 are in-store variable-measure codes).
    pub fn prefix(&self) -> u8 {
        self.0[0] * 10 + self.0[1]
    }

    fn number(&self, range: std::ops::Range<usize>) -> i64 {
        self.0[range]
            .iter()
            .fold(0_i64, |acc, digit| acc * 10 + i64::from(*digit))
    }
}

impl std::fmt::Display for Ean13 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for digit in self.0 {
            write!(f, "{digit}")?;
        }
        Ok(())
    }
}

/// What the value digits of an embedded code mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddedKind {
    /// The label's price in the outlet currency's minor units.
    Price,
    /// The weight in grams.
    WeightGrams,
}

/// How one variable-measure prefix is laid out: `PP IIIII VVVVV C` with `item_digits` item
/// digits and `10 − item_digits` value digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmbeddedScheme {
    /// 20–29.
    pub prefix: u8,
    pub item_digits: u8,
    pub kind: EmbeddedKind,
}

impl EmbeddedScheme {
    fn check(&self) -> Result<(), BarcodeError> {
        if (20..=29).contains(&self.prefix)
            && EMBEDDED_ITEM_DIGITS_RANGE.contains(&self.item_digits)
        {
            Ok(())
        } else {
            Err(BarcodeError::BadScheme)
        }
    }

    fn value_digits(&self) -> u8 {
        10 - self.item_digits
    }

    /// Prints a scale label's code: the inverse of [`decode_scan`].
    pub fn encode(&self, item_code: u32, value: i64) -> Result<Ean13, BarcodeError> {
        self.check()?;
        let item_limit = 10_u32.pow(u32::from(self.item_digits));
        if item_code >= item_limit {
            return Err(BarcodeError::ItemCodeOutOfRange(item_code));
        }
        let value_limit = 10_i64.pow(u32::from(self.value_digits()));
        if !(0..value_limit).contains(&value) {
            return Err(BarcodeError::ValueOutOfRange(value));
        }
        let mut payload = [0_u8; 12];
        payload[0] = self.prefix / 10;
        payload[1] = self.prefix % 10;
        let item_end = 2 + usize::from(self.item_digits);
        write_digits(&mut payload[2..item_end], i64::from(item_code));
        write_digits(&mut payload[item_end..12], value);
        Ean13::from_payload(payload)
    }
}

fn write_digits(slots: &mut [u8], mut value: i64) {
    for slot in slots.iter_mut().rev() {
        // `value % 10` is 0..=9 for the non-negative values written here.
        *slot = (value % 10) as u8;
        value /= 10;
    }
}

/// What a scan means.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scan {
    /// An ordinary product code: look the whole code up among item barcodes.
    Product {
        code: String,
    },
    /// A scale label: look `plu` up among item PLUs, then use the embedded value.
    Price {
        plu: String,
        price_minor: i64,
    },
    Weight {
        plu: String,
        grams: i64,
    },
}

/// Validates a scanned EAN-13 and splits scale labels by the tenant's `schemes`.
///
/// ```
/// use shared_model::barcode::{decode_scan, EmbeddedKind, EmbeddedScheme, Scan};
/// let schemes = [EmbeddedScheme { prefix: 21, item_digits: 5, kind: EmbeddedKind::WeightGrams }];
/// let label = schemes[0].encode(1234, 1_250).expect("fits").to_string();
/// assert_eq!(decode_scan(&label, &schemes), Ok(Scan::Weight { plu: "01234".into(), grams: 1_250 }));
/// ```
pub fn decode_scan(text: &str, schemes: &[EmbeddedScheme]) -> Result<Scan, BarcodeError> {
    let code = Ean13::parse(text)?;
    let scheme = schemes
        .iter()
        .find(|scheme| scheme.prefix == code.prefix() && scheme.check().is_ok());
    let Some(scheme) = scheme else {
        return Ok(Scan::Product {
            code: code.to_string(),
        });
    };
    let item_end = 2 + usize::from(scheme.item_digits);
    let plu: String = code.0[2..item_end]
        .iter()
        .map(|digit| char::from(b'0' + digit))
        .collect();
    let value = code.number(item_end..12);
    Ok(match scheme.kind {
        EmbeddedKind::Price => Scan::Price {
            plu,
            price_minor: value,
        },
        EmbeddedKind::WeightGrams => Scan::Weight { plu, grams: value },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_real_product_code_is_accepted_and_one_wrong_digit_is_caught() {
        assert_eq!(
            decode_scan("5000112637922", &[]),
            Ok(Scan::Product {
                code: "5000112637922".into()
            })
        );
        assert!(matches!(
            Ean13::parse("5000112637923"),
            Err(BarcodeError::BadCheckDigit { expected: 2, .. })
        ));
        assert_eq!(Ean13::parse("500011263792"), Err(BarcodeError::WrongLength));
        assert_eq!(Ean13::parse("50001126379x2"), Err(BarcodeError::NotDigits));
    }

    #[test]
    fn a_price_embedded_scale_label_gives_the_plu_and_the_price() {
        let schemes = [EmbeddedScheme {
            prefix: 20,
            item_digits: 5,
            kind: EmbeddedKind::Price,
        }];
        // 20 00042 00875 + check: PLU 00042, KES 8.75.
        let label = schemes[0].encode(42, 875).expect("fits");
        assert_eq!(label.to_string().len(), 13);
        assert_eq!(
            decode_scan(&label.to_string(), &schemes),
            Ok(Scan::Price {
                plu: "00042".into(),
                price_minor: 875
            })
        );
        // The same code with no scheme for prefix 20 is an ordinary product code.
        assert!(matches!(
            decode_scan(&label.to_string(), &[]),
            Ok(Scan::Product { .. })
        ));
    }

    #[test]
    fn values_that_do_not_fit_the_layout_are_refused() {
        let scheme = EmbeddedScheme {
            prefix: 22,
            item_digits: 6,
            kind: EmbeddedKind::WeightGrams,
        };
        assert_eq!(
            scheme.encode(1, 10_000),
            Err(BarcodeError::ValueOutOfRange(10_000))
        );
        assert_eq!(
            scheme.encode(1_000_000, 1),
            Err(BarcodeError::ItemCodeOutOfRange(1_000_000))
        );
        let bad = EmbeddedScheme {
            prefix: 40,
            ..scheme
        };
        assert_eq!(bad.encode(1, 1), Err(BarcodeError::BadScheme));
    }

    proptest! {
        #[test]
        fn embedded_labels_round_trip_through_print_and_scan(
            prefix in 20_u8..=29,
            item_digits in 4_u8..=6,
            weight in any::<bool>(),
            item_seed in any::<u32>(),
            value_seed in any::<i64>(),
        ) {
            let kind = if weight { EmbeddedKind::WeightGrams } else { EmbeddedKind::Price };
            let scheme = EmbeddedScheme { prefix, item_digits, kind };
            let item_code = item_seed % 10_u32.pow(u32::from(item_digits));
            let value = value_seed.rem_euclid(10_i64.pow(u32::from(10 - item_digits)));
            let label = scheme.encode(item_code, value).expect("fits").to_string();
            let plu = format!("{item_code:0width$}", width = usize::from(item_digits));
            let expected = if weight { Scan::Weight { plu, grams: value } } else { Scan::Price { plu, price_minor: value } };
            prop_assert_eq!(decode_scan(&label, &[scheme]), Ok(expected));
        }

        #[test]
        fn any_single_digit_error_is_detected(payload in prop::array::uniform12(0_u8..10), position in 0_usize..13, delta in 1_u8..10) {
            let code = Ean13::from_payload(payload).expect("digits").to_string();
            let mut bytes = code.into_bytes();
            bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
            let corrupted = String::from_utf8(bytes).expect("ascii");
            let is_bad_check = matches!(Ean13::parse(&corrupted), Err(BarcodeError::BadCheckDigit { .. }));
            prop_assert!(is_bad_check);
        }
    }
}
