//! Delivers webhook events to tenant endpoints, signed, with exponential backoff and a
//! dead-letter list.

use super::signing::{SIGNATURE_HEADER, sign};
use crate::store::webhooks::{DueDelivery, claim_due, mark_delivered, mark_failed};
use sqlx::PgPool;
use std::time::Duration;

/// Deliveries attempted per round (concurrently).
pub const ROUND_DELIVERIES_MAX: i64 = 32;
/// A claimed attempt is leased this long; if the hub dies mid-attempt it is retried after.
pub const LEASE_SECS: i64 = 60;
/// Idle wait between rounds when nothing is due.
pub const IDLE_POLL_MS: u64 = 200;
/// Longest wait between two attempts.
pub const BACKOFF_MAX_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Attempts before a delivery is dead-lettered.
    pub attempts_max: i32,
    /// Wait after the first failure; doubles each time, capped at [`BACKOFF_MAX_MS`].
    pub backoff_base_ms: i64,
    /// Time allowed for one HTTP attempt.
    pub timeout_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            attempts_max: 8,
            backoff_base_ms: 1_000,
            timeout_ms: 10_000,
        }
    }
}

/// Delay before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff_ms(settings: &WebhookSettings, attempts: i32) -> i64 {
    let exponent = (attempts.max(1) - 1).min(20) as u32;
    settings
        .backoff_base_ms
        .saturating_mul(1_i64 << exponent)
        .min(BACKOFF_MAX_MS)
}

pub struct WebhookWorker {
    pub pool: PgPool,
    /// Opens sealed signing secrets.
    pub keys: crate::envelope::MasterKeys,
    pub client: reqwest::Client,
    pub settings: WebhookSettings,
}

impl WebhookWorker {
    pub fn new(
        pool: PgPool,
        keys: crate::envelope::MasterKeys,
        settings: WebhookSettings,
    ) -> WebhookWorker {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        WebhookWorker {
            pool,
            keys,
            client,
            settings,
        }
    }

    async fn attempt(&self, delivery: DueDelivery) {
        let secret = match &delivery.secret {
            Ok(secret) => secret.clone(),
            Err(error) => {
                tracing::error!(delivery = %delivery.id, %error, "webhook secret cannot be opened");
                if let Err(error) = self
                    .failed(&delivery, None, "signing secret unavailable")
                    .await
                {
                    tracing::error!(%error, "could not record a webhook attempt");
                }
                return;
            }
        };
        let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
        let now_secs = crate::now_ms() / 1000;
        let result = self
            .client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, sign(&secret, now_secs, &body))
            .header("kibanda-event-id", delivery.event_id.to_string())
            .header("kibanda-event-type", &delivery.event_type)
            .header("kibanda-delivery-id", delivery.id.to_string())
            .body(body)
            .send()
            .await;
        let outcome = match result {
            Ok(response) if response.status().is_success() => {
                mark_delivered(&self.pool, &delivery, response.status().as_u16()).await
            }
            Ok(response) => {
                self.failed(
                    &delivery,
                    Some(response.status().as_u16()),
                    "non-2xx answer",
                )
                .await
            }
            Err(error) => {
                let reason = if error.is_timeout() {
                    "timed out"
                } else {
                    "connection failed"
                };
                self.failed(&delivery, None, reason).await
            }
        };
        if let Err(error) = outcome {
            tracing::error!(%error, "could not record a webhook attempt");
        }
    }

    async fn failed(
        &self,
        delivery: &DueDelivery,
        status: Option<u16>,
        reason: &str,
    ) -> Result<(), crate::store::StoreError> {
        let dead = delivery.attempts >= self.settings.attempts_max;
        if dead {
            tracing::warn!(delivery = %delivery.id, attempts = delivery.attempts, "webhook delivery dead-lettered");
            metrics::counter!("kibanda_webhook_dead_letters_total").increment(1);
        }
        metrics::counter!("kibanda_webhook_failures_total").increment(1);
        mark_failed(
            &self.pool,
            delivery,
            status,
            reason,
            backoff_ms(&self.settings, delivery.attempts),
            dead,
        )
        .await
    }

    /// One round; returns how many deliveries it attempted.
    pub async fn deliver_once(&self) -> Result<usize, crate::store::StoreError> {
        let due = claim_due(&self.pool, &self.keys, ROUND_DELIVERIES_MAX, LEASE_SECS).await?;
        let count = due.len();
        futures_util::future::join_all(due.into_iter().map(|delivery| self.attempt(delivery)))
            .await;
        Ok(count)
    }

    pub async fn run(self) {
        loop {
            match self.deliver_once().await {
                Ok(0) => tokio::time::sleep(Duration::from_millis(IDLE_POLL_MS)).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "webhook round failed");
                    tokio::time::sleep(Duration::from_millis(1_000)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let settings = WebhookSettings::default();
        assert_eq!(backoff_ms(&settings, 1), 1_000);
        assert_eq!(backoff_ms(&settings, 2), 2_000);
        assert_eq!(backoff_ms(&settings, 4), 8_000);
        assert_eq!(backoff_ms(&settings, 40), BACKOFF_MAX_MS);
    }
}
