//! The wait a kiosk or counter quotes when an order goes to the kitchen.
//!
//! A station's pace is read from its own recent work: the typical make time (the median
//! send-to-bump time of its recently bumped tickets) and how fast it has been clearing tickets.
//! The quote is the typical make time, or, when more tickets wait ahead than the recent pace
//! clears in that time, the time to clear them (a queue ahead of the customer's order over the
//! rate the station finishes tickets: Little's law). A station with no history quotes
//! [`QUOTE_DEFAULT_MS`]. Quotes are whole minutes, rounded up, never under one: customers are
//! told minutes, and a quote that is beaten pleases where one that is missed does not.

/// Quote for a station without enough history. Why 10 minutes: a cautious default for a kitchen
/// the till has not watched yet; a few bumps replace it.
pub const QUOTE_DEFAULT_MS: i64 = 600_000;
/// Bumped tickets needed before their median stands for the station.
pub const QUOTE_SAMPLES_MIN: usize = 3;
/// Longest quote given. Why 4 hours: beyond it a number means nothing to a customer.
pub const QUOTE_MAX_MS: i64 = 4 * 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// What a station's recent work says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationPace {
    /// Send-to-bump times of the station's recently bumped tickets, in milliseconds.
    pub recent_make_ms: Vec<i64>,
    /// Tickets the station bumped within the last `window_ms`.
    pub bumped_in_window: u64,
    pub window_ms: i64,
    /// Tickets open at the station ahead of the order being quoted.
    pub tickets_ahead: u64,
}

/// The station's typical make time: the median of recent make times, or `None` without
/// enough of them.
pub fn typical_make_ms(recent_make_ms: &[i64]) -> Option<i64> {
    if recent_make_ms.len() < QUOTE_SAMPLES_MIN {
        return None;
    }
    let mut sorted: Vec<i64> = recent_make_ms.iter().map(|ms| (*ms).max(0)).collect();
    sorted.sort_unstable();
    Some(sorted[sorted.len() / 2])
}

/// The wait to quote at one station, in milliseconds (whole minutes).
pub fn quote_wait_ms(pace: &StationPace) -> i64 {
    let typical = typical_make_ms(&pace.recent_make_ms).unwrap_or(QUOTE_DEFAULT_MS);
    let clearing = if pace.bumped_in_window > 0 && pace.window_ms > 0 {
        // Tickets ahead at the recent rate, in integer milliseconds (no floats near money or
        // time); u128 so no count or window can overflow.
        let ahead = u128::from(pace.tickets_ahead);
        let window = pace.window_ms as u128;
        (ahead * window / u128::from(pace.bumped_in_window)).min(QUOTE_MAX_MS as u128) as i64
    } else {
        0
    };
    whole_minutes(typical.max(clearing))
}

/// The quote for an order whose tickets went to several stations: the slowest one.
pub fn quote_order_wait_ms(stations: &[StationPace]) -> i64 {
    stations
        .iter()
        .map(quote_wait_ms)
        .max()
        .unwrap_or_else(|| whole_minutes(0))
}

fn whole_minutes(ms: i64) -> i64 {
    let capped = ms.clamp(0, QUOTE_MAX_MS);
    let minutes = (capped + MINUTE_MS - 1) / MINUTE_MS;
    minutes.max(1) * MINUTE_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pace(make: &[i64], bumped: u64, ahead: u64) -> StationPace {
        StationPace {
            recent_make_ms: make.to_vec(),
            bumped_in_window: bumped,
            window_ms: 15 * MINUTE_MS,
            tickets_ahead: ahead,
        }
    }

    #[test]
    fn a_station_quotes_its_typical_make_time_or_the_queue_ahead() {
        // No history: the cautious default.
        assert_eq!(quote_wait_ms(&pace(&[], 0, 0)), QUOTE_DEFAULT_MS);
        assert_eq!(
            quote_wait_ms(&pace(&[240_000, 250_000], 0, 0)),
            QUOTE_DEFAULT_MS
        );
        // Median make time of 4:10, rounded up to 5 minutes; an outlier does not move it.
        let grill = [240_000, 250_000, 260_000, 3_600_000, 200_000];
        assert_eq!(quote_wait_ms(&pace(&grill, 5, 0)), 5 * MINUTE_MS);
        // Nine tickets ahead at the 5-in-15-minutes pace take 27 minutes to clear.
        assert_eq!(quote_wait_ms(&pace(&grill, 5, 9)), 27 * MINUTE_MS);
        // An order across the grill and a quiet bar takes the grill's time.
        let bar = pace(&[60_000, 70_000, 65_000], 10, 0);
        assert_eq!(
            quote_order_wait_ms(&[bar, pace(&grill, 5, 9)]),
            27 * MINUTE_MS
        );
        assert_eq!(quote_order_wait_ms(&[]), MINUTE_MS);
    }

    proptest! {
        #[test]
        fn quotes_are_whole_minutes_within_bounds_and_grow_with_the_queue(
            make in proptest::collection::vec(-1_000i64..20_000_000, 0..40),
            bumped in 0u64..500,
            window in -1i64..10_000_000,
            ahead in 0u64..u64::MAX / 2,
            more in 0u64..1_000,
        ) {
            let base = StationPace { recent_make_ms: make, bumped_in_window: bumped, window_ms: window, tickets_ahead: ahead };
            let quote = quote_wait_ms(&base);
            prop_assert!((MINUTE_MS..=QUOTE_MAX_MS).contains(&quote));
            prop_assert_eq!(quote % MINUTE_MS, 0);
            // More tickets ahead never shortens the quote.
            let busier = StationPace { tickets_ahead: ahead + more, ..base.clone() };
            prop_assert!(quote_wait_ms(&busier) >= quote);
            // Never below the typical make time the history shows.
            if let Some(typical) = typical_make_ms(&base.recent_make_ms) {
                prop_assert!(quote >= typical.min(QUOTE_MAX_MS));
            }
        }
    }
}
