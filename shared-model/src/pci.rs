//! Card numbers never enter Kibanda: no field takes one, and any text that carries a
//! payment-card number (a Luhn-valid run of 13–19 digits starting like a card network's, plain
//! or in groups split by single spaces or dashes, as a cashier would type it from a card) is refused at the door, so it
//! cannot reach a column, a log line, an op or a crash report.

/// Shortest and longest card number (ISO/IEC 7812).
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;
/// Card numbers are grouped in 3 to 6 digits when typed with separators (4-4-4-4, 4-6-5 …).
const GROUP_DIGITS_MAX: usize = 6;

/// The Luhn check over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0_u32;
    for (index, digit) in digits.iter().rev().enumerate() {
        let mut value = u32::from(digit - b'0');
        if index % 2 == 1 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Whether `text` carries something that looks like a payment-card number.
///
/// ```
/// use shared_model::pci::contains_card_number;
/// assert!(contains_card_number("card 4111 1111 1111 1111 exp 12/29"));
/// assert!(contains_card_number("4111-1111-1111-1111"));
/// assert!(!contains_card_number("4111 1111 1111 1112")); // fails Luhn
/// assert!(!contains_card_number("0193a0e4-0000-7000-8000-000000000001")); // a UUID
/// assert!(!contains_card_number("call 0712 345 678"));
/// ```
pub fn contains_card_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Split into digit groups with the single separator (if any) that follows each.
    let mut groups: Vec<(usize, usize)> = Vec::new(); // (start, end) of digit groups
    let mut runs: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let group = (start, i);
        // Digits glued to letters are part of a word or an id (a UUID's "a0e4"), not of a
        // number someone typed: they end any run and start none.
        let glued = (start > 0 && bytes[start - 1].is_ascii_alphabetic())
            || bytes.get(i).is_some_and(u8::is_ascii_alphabetic);
        if glued {
            if !groups.is_empty() {
                runs.push(std::mem::take(&mut groups));
            }
            continue;
        }
        let joined = groups.last().is_some_and(|&(_, previous_end)| {
            previous_end + 1 == start && matches!(bytes[previous_end], b' ' | b'-')
        });
        if joined {
            groups.push(group);
        } else {
            if !groups.is_empty() {
                runs.push(std::mem::take(&mut groups));
            }
            groups.push(group);
        }
    }
    if !groups.is_empty() {
        runs.push(groups);
    }
    runs.iter().any(|run| run_has_pan(bytes, run))
}

/// Card length, a major-industry digit of the card networks (2 Mastercard, 3 Amex/JCB/Diners,
/// 4 Visa, 5 Mastercard, 6 Discover/UnionPay), and the Luhn check.
fn looks_like_pan(digits: &[u8]) -> bool {
    PAN_DIGITS.contains(&digits.len())
        && matches!(digits.first(), Some(b'2'..=b'6'))
        && luhn_valid(digits)
}

fn run_has_pan(bytes: &[u8], run: &[(usize, usize)]) -> bool {
    // A whole unseparated run of card length. (Windows inside longer runs are not searched:
    // nearly every 16-digit reference contains some Luhn-valid 13-digit window.)
    let unseparated = |&(start, end): &(usize, usize)| looks_like_pan(&bytes[start..end]);
    if run.iter().any(unseparated) {
        return true;
    }
    // Typed in groups: consecutive short groups that together make a valid number.
    for first in 0..run.len() {
        let mut digits = Vec::with_capacity(19);
        for &(start, end) in &run[first..] {
            if end - start > GROUP_DIGITS_MAX {
                break;
            }
            digits.extend_from_slice(&bytes[start..end]);
            if digits.len() > *PAN_DIGITS.end() {
                break;
            }
            if looks_like_pan(&digits) {
                return true;
            }
        }
    }
    false
}

/// The first string value in `value` (searched recursively) that carries a card number, with
/// its JSON path for the error's `field`. Keys in `exempt` (e.g. `barcodes`: product codes
/// are 13 digits and often pass Luhn by chance) are not searched.
pub fn find_card_number_in_json(value: &serde_json::Value, exempt: &[&str]) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &str, exempt: &[&str]) -> Option<String> {
        match value {
            serde_json::Value::String(text) => {
                contains_card_number(text).then(|| path.trim_start_matches('.').to_owned())
            }
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(index, item)| walk(item, &format!("{path}[{index}]"), exempt)),
            serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
                if exempt.contains(&key.as_str()) {
                    None
                } else {
                    walk(item, &format!("{path}.{key}"), exempt)
                }
            }),
            _ => None,
        }
    }
    walk(value, "", exempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Luhn-valid number of `length` digits starting with `prefix`.
    fn with_check_digit(body: &str) -> String {
        (0..10)
            .map(|digit| format!("{body}{digit}"))
            .find(|candidate| luhn_valid(candidate.as_bytes()))
            .expect("one check digit fits")
    }

    #[test]
    fn test_cards_of_every_brand_are_caught_in_every_typing() {
        for pan in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "4222222222222",
        ] {
            assert!(contains_card_number(pan), "{pan}");
            let spaced: String = pan
                .as_bytes()
                .chunks(4)
                .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                contains_card_number(&format!("card: {spaced}, exp 12/29")),
                "{spaced}"
            );
            assert!(contains_card_number(&spaced.replace(' ', "-")), "{spaced}");
        }
        // Amex as printed: 4-6-5.
        assert!(contains_card_number("3782 822463 10005"));
    }

    #[test]
    fn ordinary_numbers_are_not_card_numbers() {
        for text in [
            "0193a0e4-0000-7000-8000-000000000001",
            // Hex segments that happen to be digits, with a digit at the end of the first.
            "019ab9e4-7123-8456-9012-3a5b6c7d8e9f",
            "254712345678",
            "order 42, table 7, 3 x chai",
            "4111 1111 1111 1112",
            "QJK3H7X9TZ",
            "12:30 - 14:45",
            "",
        ] {
            assert!(!contains_card_number(text), "{text}");
        }
    }

    #[test]
    fn json_paths_name_the_field_and_exempt_keys_are_skipped() {
        let body = serde_json::json!({
            "items": [{"name": "Chai", "barcodes": ["4111111111111111"]},
                      {"name": "paid with 4111 1111 1111 1111"}]
        });
        assert_eq!(
            find_card_number_in_json(&body, &["barcodes"]).as_deref(),
            Some("items[1].name")
        );
        let clean =
            serde_json::json!({"items": [{"name": "Chai", "barcodes": ["4111111111111111"]}]});
        assert_eq!(find_card_number_in_json(&clean, &["barcodes"]), None);
    }

    proptest! {
        /// No UUID is ever taken for a card number, whatever its digits.
        #[test]
        fn no_uuid_is_a_card_number(bits in any::<u128>()) {
            let id = uuid::Uuid::from_u128(bits).to_string();
            prop_assert!(!contains_card_number(&id), "{}", id);
        }

        /// Any Luhn-valid 13–19 digit number is caught inside any surrounding text.
        #[test]
        fn any_card_number_in_any_text_is_caught(
            body in "[2-6][0-9]{11,17}",
            before in "[a-z ]{0,10}",
            after in "[a-z ]{0,10}",
        ) {
            let pan = with_check_digit(&body);
            let text = format!("{before} {pan} {after}");
            prop_assert!(contains_card_number(&text));
        }
    }
}
