//! Allocation that conserves every minor unit (largest-remainder method).
//!
//! Used wherever one amount is spread over several parts: splitting a bill N ways, spreading an
//! order discount over lines, spreading one inclusive tax amount over several rates.

/// Splits `total_minor` over `weights` in proportion, so that the parts sum to exactly
/// `total_minor`. Each part is first the floor of its exact share; the units left over go one
/// each to the parts with the largest remainders (earlier parts win ties, so the result is
/// deterministic).
///
/// Negative totals are allocated symmetrically (the negation of allocating the magnitude).
/// When every weight is zero (or there are none), the total is spread evenly instead.
///
/// ```
/// use shared_model::allocate_largest_remainder;
/// assert_eq!(allocate_largest_remainder(100, &[1, 1, 1]), vec![34, 33, 33]);
/// assert_eq!(allocate_largest_remainder(-100, &[1, 1, 1]), vec![-34, -33, -33]);
/// ```
pub fn allocate_largest_remainder(total_minor: i64, weights: &[u64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    if total_minor < 0 {
        return allocate_largest_remainder(total_minor.saturating_neg(), weights)
            .into_iter()
            .map(|part| -part)
            .collect();
    }
    let weight_sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    let even;
    let (weights, weight_sum) = if weight_sum == 0 {
        even = vec![1_u64; weights.len()];
        (&even[..], even.len() as u128)
    } else {
        (weights, weight_sum)
    };
    let total = total_minor.unsigned_abs() as u128;
    let mut parts = Vec::with_capacity(weights.len());
    let mut allocated: u128 = 0;
    for weight in weights {
        let part = total * u128::from(*weight) / weight_sum;
        allocated += part;
        parts.push(part);
    }
    // Fewer than `weights.len()` units are left over; none when every share was exact.
    let leftover = (total - allocated) as usize;
    if leftover > 0 {
        let mut remainders: Vec<(u128, usize)> = weights
            .iter()
            .enumerate()
            .map(|(index, weight)| ((total * u128::from(*weight)) % weight_sum, index))
            .collect();
        // Largest remainder first; ties broken by position for determinism. Only the set of
        // the `leftover` first matters, so a selection is enough.
        let by_remainder = |a: &(u128, usize), b: &(u128, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if leftover < remainders.len() {
            remainders.select_nth_unstable_by(leftover - 1, by_remainder);
        }
        for (_, index) in &remainders[..leftover] {
            parts[*index] += 1;
        }
    }
    parts
        .into_iter()
        .map(|part| i64::try_from(part).unwrap_or(i64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_bill_of_1000_split_three_ways_gives_the_extra_cent_to_the_first() {
        assert_eq!(
            allocate_largest_remainder(1000, &[1, 1, 1]),
            vec![334, 333, 333]
        );
    }

    #[test]
    fn zero_weights_spread_evenly() {
        assert_eq!(allocate_largest_remainder(10, &[0, 0, 0]), vec![4, 3, 3]);
    }

    #[test]
    fn proportional_weights_are_exact_when_they_can_be() {
        assert_eq!(
            allocate_largest_remainder(600, &[1, 2, 3]),
            vec![100, 200, 300]
        );
    }

    proptest! {
        #[test]
        fn allocation_conserves_every_minor_unit(
            total in -1_000_000_000_i64..1_000_000_000,
            weights in prop::collection::vec(0_u64..1_000_000, 1..40),
        ) {
            let parts = allocate_largest_remainder(total, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
        }

        #[test]
        fn each_part_is_within_one_unit_of_its_exact_share(
            total in 0_i64..1_000_000_000,
            weights in prop::collection::vec(1_u64..1_000_000, 1..40),
        ) {
            let parts = allocate_largest_remainder(total, &weights);
            let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            for (part, weight) in parts.iter().zip(&weights) {
                let exact_floor = i128::from(total) * i128::from(*weight) / weight_sum;
                let part = i128::from(*part);
                prop_assert!(part == exact_floor || part == exact_floor + 1);
            }
        }
    }
}
