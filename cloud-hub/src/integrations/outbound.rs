//! What the hub's outbound HTTP integrations share (notifications, inventory, logistics): a JSON
//! client to one service behind its circuit breaker, the reading of its answer, and the decision
//! after each attempt (settle, or retry with exponential backoff, or give up).
//!
//! `POST {base}/v1/{tenant}{path}` with `Idempotency-Key: <id>`. `2xx {"id"}`: taken. `4xx`
//! (but 408/429) `{"reason"}`: refused for good. `5xx`, 408, 429, timeouts and connection
//! errors: unavailable.

use super::breaker::CircuitBreaker;
use std::time::{Duration, Instant};

/// Longest answer read. Why: an answer is a few fields; a bigger one is an error page.
const ANSWER_BYTES_MAX: usize = 64 * 1024;
/// Longest delay between two attempts at one call.
const RETRY_DELAY_MAX_MS: i64 = 60_000;

/// What a service said to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Taken { remote_ref: String },
    Refused { reason: String },
}

/// An attempt's outcome: the answer, or why there was none (`Some(retry_at)` while the breaker
/// is open).
pub type Attempt = Result<Answer, (Option<Instant>, String)>;

/// A JSON-over-HTTP client to one service, behind its own circuit breaker.
pub struct OutboundClient {
    name: &'static str,
    base_url: String,
    client: reqwest::Client,
    breaker: CircuitBreaker,
}

impl OutboundClient {
    pub fn new(
        name: &'static str,
        base_url: &str,
        request_timeout: Duration,
        breaker_failures: u32,
        breaker_cool_down: Duration,
    ) -> Result<OutboundClient, reqwest::Error> {
        Ok(OutboundClient {
            name,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .timeout(request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            breaker: CircuitBreaker::new(breaker_failures, breaker_cool_down),
        })
    }

    async fn post(
        &self,
        tenant_slug: &str,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<Answer, String> {
        let response = self
            .client
            .post(format!("{}/v1/{tenant_slug}{path}", self.base_url))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|error| error.to_string())?;
        if bytes.len() > ANSWER_BYTES_MAX {
            return Err(format!("answer of {} bytes", bytes.len()));
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let text = |field: &str, default: &str, max: usize| -> String {
            answer[field]
                .as_str()
                .unwrap_or(default)
                .chars()
                .take(max)
                .collect()
        };
        if status.is_success() {
            Ok(Answer::Taken {
                remote_ref: text("id", "", 128),
            })
        } else if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
            Ok(Answer::Refused {
                reason: text(
                    "reason",
                    status.canonical_reason().unwrap_or("refused"),
                    200,
                ),
            })
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    /// Sends one call behind the breaker, counting its success or failure.
    pub async fn send(
        &self,
        tenant_slug: &str,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Attempt {
        self.breaker
            .try_acquire(Instant::now())
            .map_err(|retry_at| (Some(retry_at), format!("{} service unavailable", self.name)))?;
        match self.post(tenant_slug, path, key, body).await {
            Ok(answer) => {
                self.breaker.record_success();
                Ok(answer)
            }
            Err(error) => {
                self.breaker.record_failure(Instant::now());
                Err((None, error))
            }
        }
    }
}

/// Pause between rounds when a queue had nothing due.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Drives a queue worker forever: a round right after a busy one, a short pause after an idle
/// one or a failed one (logged as `worker`'s).
pub async fn run_rounds<F, Fut>(worker: &str, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, crate::store::StoreError>>,
{
    loop {
        let busy = match round().await {
            Ok(busy) => busy,
            Err(error) => {
                tracing::error!(%error, worker, "worker round failed");
                false
            }
        };
        if !busy {
            tokio::time::sleep(IDLE_POLL).await;
        }
    }
}

/// How many attempts a queued call gets and how long between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts_max: u32,
    /// First retry delay; doubles per attempt, up to a minute.
    pub retry_base: Duration,
}

/// What to do with a queued call after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Done: `sent` or `failed`, with what the service said.
    Settle {
        state: &'static str,
        remote_ref: Option<String>,
        detail: String,
        attempts: i32,
        /// Worth showing in the connector monitor.
        failed: bool,
    },
    /// Try again in `delay_ms`.
    Retry {
        attempts: i32,
        delay_ms: i64,
        detail: String,
    },
}

impl RetryPolicy {
    fn delay_ms(&self, attempts: i32) -> i64 {
        let base = self.retry_base.as_millis() as i64;
        base.saturating_mul(1_i64 << (attempts - 1).clamp(0, 20))
            .min(RETRY_DELAY_MAX_MS)
    }

    /// Decides what follows `attempt`, the attempt after `attempts_so_far` earlier ones. An
    /// open breaker does not count as an attempt: the call waits for it.
    pub fn next(&self, attempt: Attempt, attempts_so_far: i32) -> Next {
        let attempts = attempts_so_far + 1;
        match attempt {
            Ok(Answer::Taken { remote_ref }) => Next::Settle {
                state: "sent",
                remote_ref: Some(remote_ref),
                detail: "taken".into(),
                attempts,
                failed: false,
            },
            Ok(Answer::Refused { reason }) => Next::Settle {
                state: "failed",
                remote_ref: None,
                detail: format!("refused: {reason}"),
                attempts,
                failed: true,
            },
            Err((Some(retry_at), detail)) => Next::Retry {
                attempts: attempts_so_far,
                delay_ms: retry_at
                    .saturating_duration_since(Instant::now())
                    .as_millis() as i64,
                detail,
            },
            Err((None, error)) if attempts >= self.attempts_max as i32 => Next::Settle {
                state: "failed",
                remote_ref: None,
                detail: format!("could not be reached: {error}"),
                attempts,
                failed: true,
            },
            Err((None, error)) => Next::Retry {
                attempts,
                delay_ms: self.delay_ms(attempts),
                detail: error,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_then_give_up_and_an_open_breaker_costs_no_attempt() {
        let policy = RetryPolicy {
            attempts_max: 3,
            retry_base: Duration::from_millis(100),
        };
        let down = || Err((None, "HTTP 503".to_owned()));
        assert!(matches!(
            policy.next(down(), 0),
            Next::Retry {
                attempts: 1,
                delay_ms: 100,
                ..
            }
        ));
        assert!(matches!(
            policy.next(down(), 1),
            Next::Retry {
                attempts: 2,
                delay_ms: 200,
                ..
            }
        ));
        assert!(matches!(
            policy.next(down(), 2),
            Next::Settle {
                state: "failed",
                attempts: 3,
                failed: true,
                ..
            }
        ));
        let open = Err((
            Some(Instant::now() + Duration::from_secs(1)),
            "open".to_owned(),
        ));
        assert!(matches!(
            policy.next(open, 2),
            Next::Retry { attempts: 2, .. }
        ));
        let taken = Ok(Answer::Taken {
            remote_ref: "r-1".into(),
        });
        assert_eq!(
            policy.next(taken, 1),
            Next::Settle {
                state: "sent",
                remote_ref: Some("r-1".into()),
                detail: "taken".into(),
                attempts: 2,
                failed: false
            }
        );
    }
}
