//! Hybrid logical clocks: a timestamp that follows wall time when it can and stays monotonic
//! when the wall clock jumps backwards or a peer's clock runs ahead.

use serde::{Deserialize, Serialize};

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Hlc {
    pub wall_ms: u64,
    pub logical: u32,
}

/// A node's clock. The caller passes the physical time in; the clock never reads it.
#[derive(Clone, Debug, Default)]
pub struct HybridClock {
    last: Hlc,
}

impl HybridClock {
    /// A clock that will never issue a timestamp at or before `last` (restored from storage).
    pub fn resume(last: Hlc) -> HybridClock {
        HybridClock { last }
    }

    /// A timestamp for a local event at physical time `physical_ms`.
    pub fn tick(&mut self, physical_ms: u64) -> Hlc {
        self.last = if physical_ms > self.last.wall_ms {
            Hlc {
                wall_ms: physical_ms,
                logical: 0,
            }
        } else {
            Hlc {
                wall_ms: self.last.wall_ms,
                logical: self.last.logical.saturating_add(1),
            }
        };
        self.last
    }

    /// Merges a timestamp received from a peer so later local events order after it.
    pub fn observe(&mut self, remote: Hlc, physical_ms: u64) -> Hlc {
        let wall_ms = physical_ms.max(self.last.wall_ms).max(remote.wall_ms);
        let logical = if wall_ms == self.last.wall_ms && wall_ms == remote.wall_ms {
            self.last.logical.max(remote.logical).saturating_add(1)
        } else if wall_ms == self.last.wall_ms {
            self.last.logical.saturating_add(1)
        } else if wall_ms == remote.wall_ms {
            remote.logical.saturating_add(1)
        } else {
            0
        };
        self.last = Hlc { wall_ms, logical };
        self.last
    }

    pub fn last(&self) -> Hlc {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_clock_that_jumps_backwards_still_moves_forward() {
        let mut clock = HybridClock::default();
        let first = clock.tick(10_000);
        let second = clock.tick(5_000);
        assert!(second > first);
        assert_eq!(second.wall_ms, 10_000);
    }

    proptest! {
        #[test]
        fn ticks_are_strictly_increasing_whatever_the_wall_clock_does(
            times in prop::collection::vec(0_u64..1_000_000, 1..200),
            remotes in prop::collection::vec((0_u64..2_000_000, 0_u32..10), 0..50),
        ) {
            let mut clock = HybridClock::default();
            let mut previous = Hlc::default();
            let mut remote_iter = remotes.into_iter();
            for (index, now) in times.into_iter().enumerate() {
                let stamp = if index % 3 == 0 {
                    match remote_iter.next() {
                        Some((wall_ms, logical)) => {
                            let remote = Hlc { wall_ms, logical };
                            let stamp = clock.observe(remote, now);
                            prop_assert!(stamp > remote);
                            stamp
                        }
                        None => clock.tick(now),
                    }
                } else {
                    clock.tick(now)
                };
                prop_assert!(stamp > previous);
                previous = stamp;
            }
        }
    }
}
