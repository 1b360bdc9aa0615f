//! Gift cards: the hub holds the ledger; each outlet may redeem, without asking, up to an
//! offline allowance per card.
//!
//! The hub tells every outlet, per card, its allowance (`min(offline allowance, balance)`) and
//! how much of that outlet's redemptions it had already counted when it computed it. The outlet
//! subtracts what it redeemed since (its own total minus the hub's count), so an allowance is
//! never spent twice at one outlet, however late the hub's next word comes. Two outlets offline
//! at once can each spend their allowance: the card can be overspent by at most
//! `(outlets − 1) × allowance`, the bound a tenant chooses when it sets the allowance; the hub
//! reports every overspend when the redemptions reach it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The default offline allowance per card and outlet. Why 2,000.00: a family's meal at a café;
/// large enough that a card works through an outage, small enough that an overspend is cheap.
pub const OFFLINE_ALLOWANCE_MINOR_DEFAULT: i64 = 200_000;
/// Largest gift-card value and top-up. Why 1,000,000.00: above any retail gift card, below
/// where a card becomes a bank account (and its regulation).
pub const GIFT_CARD_VALUE_MINOR_MAX: i64 = 100_000_000;

/// What the hub allows an outlet on one card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftCardAllowance {
    pub code: String,
    pub currency: String,
    /// False once the card is cancelled or expired at the hub.
    pub active: bool,
    pub expires_at_ms: Option<i64>,
    /// What the outlet may redeem beyond the redemptions the hub had counted.
    pub allowance_minor: i64,
    /// The outlet's redemptions on this card the hub had counted when it set the allowance.
    pub outlet_redeemed_minor: i64,
}

/// Why a redemption at an outlet was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RedeemError {
    #[error("the gift card is no longer active")]
    Inactive,
    #[error("the gift card expired")]
    Expired,
    #[error("amount must be positive")]
    NonPositive,
    #[error("the card is in {card}, the order in {order}")]
    Currency { card: String, order: String },
    #[error(
        "this outlet may take at most {remaining_minor} on this card until the hub confirms its balance"
    )]
    OverAllowance { remaining_minor: i64 },
}

impl GiftCardAllowance {
    /// What the outlet may still redeem, given everything it ever redeemed on the card.
    pub fn remaining_minor(&self, local_redeemed_minor: i64) -> i64 {
        allowance_remaining(
            self.allowance_minor,
            self.outlet_redeemed_minor,
            local_redeemed_minor,
        )
    }

    /// Admits a redemption of `amount_minor` at `now_ms` (card currency checked against the
    /// order's).
    pub fn admit(
        &self,
        amount_minor: i64,
        order_currency: &str,
        local_redeemed_minor: i64,
        now_ms: i64,
    ) -> Result<(), RedeemError> {
        if !self.active {
            return Err(RedeemError::Inactive);
        }
        if self.expires_at_ms.is_some_and(|expires| now_ms >= expires) {
            return Err(RedeemError::Expired);
        }
        if amount_minor <= 0 {
            return Err(RedeemError::NonPositive);
        }
        if self.currency != order_currency {
            return Err(RedeemError::Currency {
                card: self.currency.clone(),
                order: order_currency.to_owned(),
            });
        }
        let remaining_minor = self.remaining_minor(local_redeemed_minor);
        if amount_minor > remaining_minor {
            return Err(RedeemError::OverAllowance { remaining_minor });
        }
        Ok(())
    }
}

/// What is left of an offline allowance: the hub allowed `allowance` beyond the `counted` part
/// of the outlet's spending it knew of; the outlet has spent `local` in all. Shared by gift cards
/// and loyalty points.
pub fn allowance_remaining(allowance: i64, counted: i64, local: i64) -> i64 {
    let uncounted = (local - counted).max(0);
    (allowance - uncounted).max(0)
}

/// The allowance the hub gives each outlet on a card with `balance_minor` left.
pub fn outlet_allowance(balance_minor: i64, offline_allowance_minor: i64) -> i64 {
    balance_minor.min(offline_allowance_minor).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn allowance(allowance_minor: i64, counted: i64) -> GiftCardAllowance {
        GiftCardAllowance {
            code: "GIFT-1".into(),
            currency: "KES".into(),
            active: true,
            expires_at_ms: Some(10_000),
            allowance_minor,
            outlet_redeemed_minor: counted,
        }
    }

    #[test]
    fn redemptions_since_the_hubs_count_use_up_the_allowance() {
        let word = allowance(5_000, 2_000);
        // 2,000 counted by the hub, 3,000 more redeemed since: 2,000 left.
        assert_eq!(word.remaining_minor(5_000), 2_000);
        assert_eq!(
            word.admit(2_500, "KES", 5_000, 1),
            Err(RedeemError::OverAllowance {
                remaining_minor: 2_000
            })
        );
        assert_eq!(word.admit(2_000, "KES", 5_000, 1), Ok(()));
    }

    #[test]
    fn an_expired_inactive_or_foreign_card_is_refused() {
        let word = allowance(5_000, 0);
        assert_eq!(word.admit(100, "KES", 0, 10_000), Err(RedeemError::Expired));
        assert!(matches!(
            word.admit(100, "UGX", 0, 1),
            Err(RedeemError::Currency { .. })
        ));
        let mut off = word.clone();
        off.active = false;
        assert_eq!(off.admit(100, "KES", 0, 1), Err(RedeemError::Inactive));
        assert_eq!(word.admit(0, "KES", 0, 1), Err(RedeemError::NonPositive));
    }

    proptest! {
        /// Outlets cut off from the hub, each redeeming whatever its allowance admits, never
        /// take more than the allowance each, and so overspend the card by at most
        /// `(outlets − 1) × allowance` when the balance covers one allowance.
        #[test]
        fn offline_outlets_overspend_a_card_by_at_most_the_other_outlets_allowances(
            balance in 0_i64..50_000,
            offline_allowance in 1_i64..20_000,
            attempts in proptest::collection::vec((0_usize..4, 1_i64..10_000), 0..60),
        ) {
            const OUTLETS: usize = 4;
            let per_outlet = outlet_allowance(balance, offline_allowance);
            let words: Vec<GiftCardAllowance> =
                (0..OUTLETS).map(|_| allowance(per_outlet, 0)).collect();
            let mut redeemed = [0_i64; OUTLETS];
            for (outlet, amount) in attempts {
                if words[outlet].admit(amount, "KES", redeemed[outlet], 1).is_ok() {
                    redeemed[outlet] += amount;
                }
            }
            for spent in redeemed {
                prop_assert!(spent <= per_outlet);
            }
            let total: i64 = redeemed.iter().sum();
            let overspend = (total - balance).max(0);
            prop_assert!(overspend <= (OUTLETS as i64 - 1) * per_outlet);
            if balance >= offline_allowance {
                prop_assert!(overspend <= (OUTLETS as i64 - 1) * offline_allowance);
            }
        }

        /// A fresh word from the hub that counts everything the outlet redeemed restores the
        /// full allowance; one that counts less keeps the uncounted part spent.
        #[test]
        fn the_hubs_count_is_what_frees_the_allowance(
            allowance_minor in 0_i64..100_000,
            counted in 0_i64..100_000,
            since in 0_i64..100_000,
        ) {
            let word = allowance(allowance_minor, counted);
            prop_assert_eq!(word.remaining_minor(counted), allowance_minor);
            prop_assert_eq!(
                word.remaining_minor(counted + since),
                (allowance_minor - since).max(0)
            );
        }
    }
}
