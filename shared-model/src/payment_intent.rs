//! Payments collected through the treasury service (an M-Pesa STK push, a card at a provider's
//! terminal): an intent the hub drives and the edge follows.
//!
//! The hub is the only side that talks to the treasury, so it owns the intent's state; the edge
//! learns each change over the feed and turns a capture into a payment on the order exactly
//! once. The rules here are the ones both sides agree on: which state may follow which, and
//! what a capture means for an order that moved on meanwhile.

use serde::{Deserialize, Serialize};

/// Where an intent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentState {
    /// Asked for at the till; the hub has not reached the treasury yet.
    Requested,
    /// The treasury accepted it: the customer's phone shows the prompt (or the card terminal
    /// waits for the card).
    Prompted,
    /// The money is taken.
    Captured,
    /// Declined, cancelled by the customer, or refused by the treasury.
    Failed,
    /// No answer in time. Not final: a confirmation that arrives later is still reconciled.
    TimedOut,
}

impl IntentState {
    pub fn as_str(&self) -> &'static str {
        match self {
            IntentState::Requested => "requested",
            IntentState::Prompted => "prompted",
            IntentState::Captured => "captured",
            IntentState::Failed => "failed",
            IntentState::TimedOut => "timed_out",
        }
    }

    pub fn parse(text: &str) -> Option<IntentState> {
        [
            IntentState::Requested,
            IntentState::Prompted,
            IntentState::Captured,
            IntentState::Failed,
            IntentState::TimedOut,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// Whether the state may change to `next`. Money taken is never un-taken by a later
    /// message (a refund is a new fact), and a capture is accepted from any state before it:
    /// a late or out-of-order confirmation must never be lost.
    pub fn may_become(self, next: IntentState) -> bool {
        use IntentState::*;
        match (self, next) {
            (Captured, _) => false,
            (_, Captured) => true,
            (Requested, Prompted | Failed | TimedOut) => true,
            (Prompted, Failed | TimedOut) => true,
            (TimedOut, Failed) => true,
            _ => false,
        }
    }

    /// Still waiting for the treasury's word.
    pub fn is_pending(self) -> bool {
        matches!(self, IntentState::Requested | IntentState::Prompted)
    }
}

/// What the edge does with a capture, given the order as it stands now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureOutcome {
    /// Record the payment on the order.
    Apply,
    /// Already recorded (a duplicate message).
    AlreadyApplied,
    /// The order cannot take it any more (paid another way after a timeout, closed or voided):
    /// the customer paid twice, and a manager must refund this capture.
    NeedsRefund,
}

/// Decides what a capture of `amount_minor` means for an order whose balance due is
/// `balance_due_minor`, which accepts payments or not, and which holds this payment already
/// or not.
pub fn capture_outcome(
    already_applied: bool,
    accepts_payments: bool,
    balance_due_minor: i64,
    amount_minor: i64,
) -> CaptureOutcome {
    if already_applied {
        CaptureOutcome::AlreadyApplied
    } else if accepts_payments && amount_minor > 0 && amount_minor <= balance_due_minor {
        CaptureOutcome::Apply
    } else {
        CaptureOutcome::NeedsRefund
    }
}

/// A Kenyan mobile number for an STK push, normalised to `2547XXXXXXXX` / `2541XXXXXXXX`.
/// Accepts `07…`, `01…`, `+254…` and `254…`, with spaces or dashes.
pub fn normalise_msisdn(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let national = if let Some(rest) = digits.strip_prefix("254") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest.to_owned()
    } else {
        return None;
    };
    (national.len() == 9 && (national.starts_with('7') || national.starts_with('1')))
        .then(|| format!("254{national}"))
}

/// An M-Pesa receipt code as printed on the customer's SMS: 10 upper-case letters and digits.
pub fn valid_mpesa_receipt(code: &str) -> bool {
    code.len() == 10
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [IntentState; 5] = [
        IntentState::Requested,
        IntentState::Prompted,
        IntentState::Captured,
        IntentState::Failed,
        IntentState::TimedOut,
    ];

    #[test]
    fn a_late_capture_is_reconciled_and_a_capture_is_never_undone() {
        assert!(IntentState::TimedOut.may_become(IntentState::Captured));
        assert!(IntentState::Failed.may_become(IntentState::Captured));
        for next in ALL {
            assert!(
                !IntentState::Captured.may_become(next),
                "captured → {next:?}"
            );
        }
        assert!(!IntentState::Failed.may_become(IntentState::Prompted));
        assert!(!IntentState::TimedOut.may_become(IntentState::Prompted));
    }

    #[test]
    fn names_round_trip() {
        for state in ALL {
            assert_eq!(IntentState::parse(state.as_str()), Some(state));
        }
        assert_eq!(IntentState::parse("paid"), None);
    }

    #[test]
    fn phone_numbers_normalise_or_are_refused() {
        for input in [
            "0712345678",
            "+254712345678",
            "254 712 345 678",
            "0712-345-678",
        ] {
            assert_eq!(
                normalise_msisdn(input).as_deref(),
                Some("254712345678"),
                "{input}"
            );
        }
        assert_eq!(
            normalise_msisdn("0112345678").as_deref(),
            Some("254112345678")
        );
        for input in ["12345", "0812345678", "07123456789", "07123x5678", ""] {
            assert_eq!(normalise_msisdn(input), None, "{input}");
        }
    }

    #[test]
    fn receipt_codes() {
        assert!(valid_mpesa_receipt("QJK3H7X9TZ"));
        assert!(!valid_mpesa_receipt("qjk3h7x9tz"));
        assert!(!valid_mpesa_receipt("QJK3H7X9T"));
    }

    fn state() -> impl Strategy<Value = IntentState> {
        proptest::sample::select(ALL.to_vec())
    }

    proptest! {
        /// However messages arrive (late, duplicated, out of order), an intent that saw a
        /// capture ends captured, and one that never did never ends captured.
        #[test]
        fn any_message_order_keeps_a_capture(messages in proptest::collection::vec(state(), 0..20)) {
            let mut current = IntentState::Requested;
            for next in &messages {
                if current.may_become(*next) {
                    current = *next;
                }
            }
            prop_assert_eq!(
                current == IntentState::Captured,
                messages.contains(&IntentState::Captured)
            );
        }

        /// A capture is applied at most once, and only within the balance.
        #[test]
        fn a_capture_applies_once_within_the_balance(
            balance in 0_i64..1_000_000,
            amount in 1_i64..1_000_000,
            open in any::<bool>(),
        ) {
            let first = capture_outcome(false, open, balance, amount);
            prop_assert_eq!(first == CaptureOutcome::Apply, open && amount <= balance);
            prop_assert_eq!(capture_outcome(true, open, balance, amount), CaptureOutcome::AlreadyApplied);
        }
    }
}
