//! Tip pooling: the tips of a period shared among the staff who worked it, by time worked or by
//! points per role × time worked, every cent allocated (largest remainder).

use crate::allocation::allocate_largest_remainder;
use crate::staff::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How a pool is shared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum TipPoolRule {
    /// In proportion to minutes worked.
    #[default]
    Hours,
    /// In proportion to points × minutes worked; a role without points gets no share.
    Points { points: BTreeMap<Role, u32> },
}

/// One staff member's time in the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TipShareInput {
    pub staff_id: Uuid,
    pub role: Role,
    pub minutes_worked: u64,
}

/// What one staff member takes out of the pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipOut {
    pub staff_id: Uuid,
    pub weight: u64,
    pub amount_minor: i64,
}

/// Shares `pool_minor` among `staff` by `rule`. Every cent goes to someone with a weight; when
/// nobody has one, nothing is allocated (the pool waits for a manager).
pub fn share(pool_minor: i64, staff: &[TipShareInput], rule: &TipPoolRule) -> Vec<TipOut> {
    let weights: Vec<u64> = staff
        .iter()
        .map(|member| match rule {
            TipPoolRule::Hours => member.minutes_worked,
            TipPoolRule::Points { points } => {
                u64::from(points.get(&member.role).copied().unwrap_or(0))
                    .saturating_mul(member.minutes_worked)
            }
        })
        .collect();
    if pool_minor <= 0 || weights.iter().all(|weight| *weight == 0) {
        return staff
            .iter()
            .zip(&weights)
            .map(|(member, weight)| TipOut {
                staff_id: member.staff_id,
                weight: *weight,
                amount_minor: 0,
            })
            .collect();
    }
    let amounts = allocate_largest_remainder(pool_minor, &weights);
    staff
        .iter()
        .zip(weights)
        .zip(amounts)
        .map(|((member, weight), amount_minor)| TipOut {
            staff_id: member.staff_id,
            weight,
            amount_minor,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(n: u128, role: Role, minutes_worked: u64) -> TipShareInput {
        TipShareInput {
            staff_id: Uuid::from_u128(n),
            role,
            minutes_worked,
        }
    }

    #[test]
    fn by_hours_an_eight_hour_shift_takes_twice_a_four_hour_one() {
        let outs = share(
            90_000,
            &[
                member(1, Role::Server, 480),
                member(2, Role::Bartender, 240),
            ],
            &TipPoolRule::Hours,
        );
        assert_eq!(
            outs.iter().map(|o| o.amount_minor).collect::<Vec<_>>(),
            vec![60_000, 30_000]
        );
    }

    #[test]
    fn by_points_a_role_without_points_takes_nothing() {
        let rule = TipPoolRule::Points {
            points: BTreeMap::from([(Role::Server, 10), (Role::Kitchen, 5)]),
        };
        let outs = share(
            100_001,
            &[
                member(1, Role::Server, 300),
                member(2, Role::Kitchen, 300),
                member(3, Role::Manager, 300),
            ],
            &rule,
        );
        assert_eq!(
            outs.iter().map(|o| o.amount_minor).collect::<Vec<_>>(),
            vec![66_667, 33_334, 0]
        );
    }

    proptest! {
        /// Every cent of the pool is shared, nobody gets a negative amount, and nobody with no
        /// weight gets anything.
        #[test]
        fn the_pool_is_shared_to_the_cent(
            pool in 0_i64..10_000_000,
            minutes in proptest::collection::vec(0_u64..1_000, 1..12),
            by_points in any::<bool>(),
        ) {
            let roles = [Role::Server, Role::Bartender, Role::Kitchen, Role::Cashier];
            let staff: Vec<TipShareInput> = minutes
                .iter()
                .enumerate()
                .map(|(i, m)| member(i as u128, roles[i % roles.len()], *m))
                .collect();
            let rule = if by_points {
                TipPoolRule::Points { points: BTreeMap::from([(Role::Server, 3), (Role::Bartender, 2), (Role::Kitchen, 1)]) }
            } else {
                TipPoolRule::Hours
            };
            let outs = share(pool, &staff, &rule);
            prop_assert_eq!(outs.len(), staff.len());
            prop_assert!(outs.iter().all(|o| o.amount_minor >= 0));
            prop_assert!(outs.iter().all(|o| o.weight > 0 || o.amount_minor == 0));
            let total: i64 = outs.iter().map(|o| o.amount_minor).sum();
            if outs.iter().any(|o| o.weight > 0) {
                prop_assert_eq!(total, pool);
            } else {
                prop_assert_eq!(total, 0);
            }
        }
    }
}
