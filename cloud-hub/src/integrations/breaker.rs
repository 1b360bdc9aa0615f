//! A circuit breaker: after `failures_to_open` failures in a row the circuit opens and calls
//! are refused without trying for `cool_down`; then one trial call is let through (half-open):
//! its success closes the circuit, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    failures_to_open: u32,
    cool_down: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(failures_to_open: u32, cool_down: Duration) -> CircuitBreaker {
        CircuitBreaker {
            failures_to_open: failures_to_open.max(1),
            cool_down,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                open_until: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update of two counters; the
        // values are still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May a call go out now? When it returns `Err`, the circuit is open until that instant.
    pub fn try_acquire(&self, now: Instant) -> Result<(), Instant> {
        let mut inner = self.lock();
        match inner.open_until {
            None => Ok(()),
            Some(until) if now < until => Err(until),
            Some(_) if inner.trial_in_flight => Err(now + self.cool_down),
            Some(_) => {
                inner.trial_in_flight = true;
                Ok(())
            }
        }
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        inner.open_until = None;
        inner.trial_in_flight = false;
    }

    pub fn record_failure(&self, now: Instant) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.trial_in_flight || inner.consecutive_failures >= self.failures_to_open {
            inner.open_until = Some(now + self.cool_down);
        }
        inner.trial_in_flight = false;
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        let inner = self.lock();
        match inner.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_after_a_good_trial() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(breaker.try_acquire(t0).is_ok());
            breaker.record_failure(t0);
        }
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        breaker.record_failure(t0);
        assert_eq!(breaker.state(t0), BreakerState::Open);
        assert!(breaker.try_acquire(t0 + Duration::from_secs(5)).is_err());

        // After the cool-down one trial goes through, and only one.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        assert!(breaker.try_acquire(later).is_ok());
        assert!(breaker.try_acquire(later).is_err());
        breaker.record_success();
        assert_eq!(breaker.state(later), BreakerState::Closed);
        assert!(breaker.try_acquire(later).is_ok());
    }

    #[test]
    fn a_failed_trial_opens_the_circuit_again() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(10));
        let t0 = Instant::now();
        breaker.record_failure(t0);
        let later = t0 + Duration::from_secs(11);
        assert!(breaker.try_acquire(later).is_ok());
        breaker.record_failure(later);
        assert_eq!(breaker.state(later), BreakerState::Open);
        assert!(breaker.try_acquire(later + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        breaker.record_failure(t0);
        breaker.record_success();
        breaker.record_failure(t0);
        assert_eq!(breaker.state(t0), BreakerState::Closed);
    }
}
