//! The notifications service, as the hub calls it, and the worker that sends queued messages.
//!
//! `POST {base}/v1/{tenant}/notify` with `Idempotency-Key: <message id>` and
//! `{"notification_id", "channel": "sms"|"email"|"push", "to", "template", "data"}`.
//! `2xx {"id"}`: taken. `4xx` (but 408/429) `{"reason"}`: refused for good (a bad number).
//! `5xx`, 408, 429, timeouts, connection errors: unavailable, retried with backoff behind a
//! circuit breaker, failed after the configured attempts.

use super::outbound::{Next, OutboundClient, RetryPolicy};
use crate::store::StoreError;
use crate::store::TenantId;
use crate::store::notifications::{QUEUE, claim_due, settle};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// Messages sent per round.
const BATCH: i64 = 16;

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

impl NotificationsConfig {
    /// The client for the configured service, if there is one.
    pub fn client(&self) -> Result<Option<OutboundClient>, reqwest::Error> {
        self.base_url
            .as_deref()
            .map(|url| {
                OutboundClient::new(
                    "notifications",
                    url,
                    self.request_timeout,
                    self.breaker_failures,
                    self.breaker_cool_down,
                )
            })
            .transpose()
    }
}

pub struct NotificationWorker {
    pub pool: PgPool,
    pub notifier: Option<Arc<OutboundClient>>,
    pub config: NotificationsConfig,
}

impl NotificationWorker {
    pub async fn run(self) {
        let Some(notifier) = self.notifier.clone() else {
            // Without a service, messages stay queued for a hub that has one.
            return;
        };
        super::outbound::run_rounds("notifications", || self.round(&notifier)).await
    }

    /// One round: send what is due. `true` if there was anything.
    pub async fn round(&self, notifier: &OutboundClient) -> Result<bool, StoreError> {
        let policy = RetryPolicy {
            attempts_max: self.config.attempts_max,
            retry_base: self.config.retry_base,
        };
        let mut tx = self.pool.begin().await?;
        let due = claim_due(&mut tx, BATCH).await?;
        for message in &due {
            let tenant = TenantId(message.tenant_id);
            let body = serde_json::json!({
                "notification_id": message.id, "channel": message.channel, "to": message.recipient,
                "template": message.template, "data": message.data,
            });
            let attempt = notifier
                .send(&message.slug, "/notify", &message.id.to_string(), &body)
                .await;
            match policy.next(attempt, message.attempts) {
                Next::Settle {
                    state,
                    remote_ref,
                    detail,
                    attempts,
                    ..
                } => {
                    settle(
                        &mut tx,
                        tenant,
                        message.id,
                        state,
                        remote_ref.as_deref(),
                        &detail,
                        attempts,
                    )
                    .await?;
                }
                Next::Retry {
                    attempts,
                    delay_ms,
                    detail,
                } => {
                    QUEUE
                        .reschedule(&mut tx, tenant, message.id, attempts, delay_ms, &detail)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(!due.is_empty())
    }
}
