//! The notifications service, as the hub calls it, and the worker that sends queued messages.
//!
//! `POST {base}/v1/{tenant}/notify` with `Idempotency-Key: <message id>` and
//! `{"notification_id", "channel": "sms"|"email"|"push", "to", "template", "data"}`.
//! `2xx {"id"}`: taken. `4xx` (but 408/429) `{"reason"}`: refused for good (a bad number).
//! `5xx`, 408, 429, timeouts, connection errors: unavailable, retried with backoff behind a
//! circuit breaker, failed after the configured attempts.

use super::breaker::CircuitBreaker;
use crate::store::StoreError;
use crate::store::TenantId;
use crate::store::notifications::{DueNotification, QUEUE, claim_due, settle};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages sent per round.
const BATCH: i64 = 16;
/// Pause between rounds when there was nothing to send.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Longest delay between two attempts at one message.
const RETRY_DELAY_MAX_MS: i64 = 60_000;
/// Longest answer read. Why: an answer is a few fields; a bigger one is an error page.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    /// e.g. `https://notify.internal`; `None`: messages wait, unsent.
    pub base_url: Option<String>,
    pub request_timeout: Duration,
    pub attempts_max: u32,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    pub breaker_failures: u32,
    pub breaker_cool_down: Duration,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            base_url: None,
            request_timeout: Duration::from_secs(5),
            attempts_max: 5,
            retry_base: Duration::from_millis(500),
            breaker_failures: 5,
            breaker_cool_down: Duration::from_secs(30),
        }
    }
}

/// What the service said to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyAnswer {
    Sent { provider_ref: String },
    Refused { reason: String },
}

pub struct HttpNotifier {
    base_url: String,
    client: reqwest::Client,
    breaker: CircuitBreaker,
}

impl HttpNotifier {
    pub fn new(
        base_url: &str,
        config: &NotificationsConfig,
    ) -> Result<HttpNotifier, reqwest::Error> {
        Ok(HttpNotifier {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .timeout(config.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            breaker: CircuitBreaker::new(config.breaker_failures, config.breaker_cool_down),
        })
    }

    async fn post(&self, message: &DueNotification) -> Result<NotifyAnswer, String> {
        let response = self
            .client
            .post(format!("{}/v1/{}/notify", self.base_url, message.slug))
            .header("Idempotency-Key", message.id.to_string())
            .json(&serde_json::json!({
                "notification_id": message.id, "channel": message.channel, "to": message.recipient,
                "template": message.template, "data": message.data,
            }))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|error| error.to_string())?;
        if bytes.len() > ANSWER_BYTES_MAX {
            return Err(format!("answer of {} bytes", bytes.len()));
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status.is_success() {
            Ok(NotifyAnswer::Sent {
                provider_ref: answer["id"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(128)
                    .collect(),
            })
        } else if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
            Ok(NotifyAnswer::Refused {
                reason: answer["reason"]
                    .as_str()
                    .unwrap_or(status.canonical_reason().unwrap_or("refused"))
                    .chars()
                    .take(200)
                    .collect(),
            })
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    /// Sends one message behind the circuit breaker: `Err(Some(retry_at))` while it is open,
    /// `Err(None)` with the failure counted when the service is unavailable.
    async fn send(
        &self,
        message: &DueNotification,
    ) -> Result<NotifyAnswer, (Option<Instant>, String)> {
        self.breaker
            .try_acquire(Instant::now())
            .map_err(|retry_at| {
                (
                    Some(retry_at),
                    "notifications service unavailable".to_owned(),
                )
            })?;
        match self.post(message).await {
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

pub struct NotificationWorker {
    pub pool: PgPool,
    pub notifier: Option<Arc<HttpNotifier>>,
    pub config: NotificationsConfig,
}

impl NotificationWorker {
    pub async fn run(self) {
        let Some(notifier) = self.notifier.clone() else {
            // Without a service, messages stay queued for a hub that has one.
            return;
        };
        loop {
            let busy = match self.round(&notifier).await {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::error!(%error, "notification worker round failed");
                    false
                }
            };
            if !busy {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }

    fn retry_delay_ms(&self, attempts: i32) -> i64 {
        let base = self.config.retry_base.as_millis() as i64;
        base.saturating_mul(1_i64 << (attempts - 1).clamp(0, 20))
            .min(RETRY_DELAY_MAX_MS)
    }

    /// One round: send what is due. `true` if there was anything.
    pub async fn round(&self, notifier: &HttpNotifier) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let due = claim_due(&mut tx, BATCH).await?;
        for message in &due {
            let tenant = TenantId(message.tenant_id);
            let attempts = message.attempts + 1;
            match notifier.send(message).await {
                Ok(NotifyAnswer::Sent { provider_ref }) => {
                    settle(
                        &mut tx,
                        tenant,
                        message.id,
                        "sent",
                        Some(&provider_ref),
                        "sent",
                        attempts,
                    )
                    .await?;
                }
                Ok(NotifyAnswer::Refused { reason }) => {
                    settle(
                        &mut tx,
                        tenant,
                        message.id,
                        "failed",
                        None,
                        &format!("refused: {reason}"),
                        attempts,
                    )
                    .await?;
                }
                Err((Some(retry_at), detail)) => {
                    let delay = retry_at.saturating_duration_since(Instant::now());
                    QUEUE
                        .reschedule(
                            &mut tx,
                            tenant,
                            message.id,
                            message.attempts,
                            delay.as_millis() as i64,
                            &detail,
                        )
                        .await?;
                }
                Err((None, error)) => {
                    if attempts >= self.config.attempts_max as i32 {
                        settle(
                            &mut tx,
                            tenant,
                            message.id,
                            "failed",
                            None,
                            &format!("the notifications service could not be reached: {error}"),
                            attempts,
                        )
                        .await?;
                    } else {
                        QUEUE
                            .reschedule(
                                &mut tx,
                                tenant,
                                message.id,
                                attempts,
                                self.retry_delay_ms(attempts),
                                &error,
                            )
                            .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(!due.is_empty())
    }
}
