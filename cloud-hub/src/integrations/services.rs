//! The inventory and logistics services, as the hub calls them, and the worker that sends the
//! calls queued for them (see [`crate::store::service_calls`]).
//!
//! `POST {base}/v1/{tenant}{path}` with `Idempotency-Key: <call id>` and the queued JSON body:
//! - inventory `/inventory/consumption` (a closed sale: lines sold and kitchen waste),
//!   inventory `/transfers` (stock moved between outlets);
//! - logistics `/handoff/{orderId}` (a delivery order ready at its outlet).
//!
//! `2xx {"id"}`: taken. `4xx` (but 408/429) `{"reason"}`: refused for good. `5xx`, 408, 429,
//! timeouts and connection errors: unavailable, retried with exponential backoff behind a
//! circuit breaker per service, failed after the configured attempts. Every failed call is
//! also recorded for the integrations monitor (`GET /v1/{tenant}/integrations/events`).

use super::breaker::CircuitBreaker;
use crate::store::service_calls::{DueCall, QUEUE, Service, claim_due, settle};
use crate::store::{StoreError, TenantId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Calls sent per round.
const BATCH: i64 = 16;
/// Pause between rounds when there was nothing to send.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Longest delay between two attempts at one call.
const RETRY_DELAY_MAX_MS: i64 = 60_000;
/// Longest answer read. Why: an answer is a few fields; a bigger one is an error page.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// e.g. `https://inventory.internal`; `None`: inventory calls wait, unsent.
    pub inventory_url: Option<String>,
    /// e.g. `https://logistics.internal`; `None`: handoffs wait, unsent.
    pub logistics_url: Option<String>,
    /// The secrets inventory and logistics sign their webhooks with.
    pub inventory_webhook_secret: Option<String>,
    pub logistics_webhook_secret: Option<String>,
    pub request_timeout: Duration,
    pub attempts_max: u32,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    pub breaker_failures: u32,
    pub breaker_cool_down: Duration,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            inventory_url: None,
            logistics_url: None,
            inventory_webhook_secret: None,
            logistics_webhook_secret: None,
            request_timeout: Duration::from_secs(5),
            attempts_max: 8,
            retry_base: Duration::from_millis(500),
            breaker_failures: 5,
            breaker_cool_down: Duration::from_secs(30),
        }
    }
}

/// What a service said to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAnswer {
    Taken { remote_ref: String },
    Refused { reason: String },
}

/// One service's HTTP client behind its own circuit breaker.
pub struct ServiceClient {
    service: Service,
    base_url: String,
    client: reqwest::Client,
    breaker: CircuitBreaker,
}

impl ServiceClient {
    pub fn new(
        service: Service,
        base_url: &str,
        config: &ServicesConfig,
    ) -> Result<ServiceClient, reqwest::Error> {
        Ok(ServiceClient {
            service,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .timeout(config.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            breaker: CircuitBreaker::new(config.breaker_failures, config.breaker_cool_down),
        })
    }

    async fn post(&self, call: &DueCall) -> Result<CallAnswer, String> {
        let response = self
            .client
            .post(format!("{}/v1/{}{}", self.base_url, call.slug, call.path))
            .header("Idempotency-Key", call.id.to_string())
            .json(&call.body)
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
            Ok(CallAnswer::Taken {
                remote_ref: text("id", "", 128),
            })
        } else if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
            Ok(CallAnswer::Refused {
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

    /// Sends one call behind the breaker: `Err(Some(retry_at))` while it is open, `Err(None)`
    /// with the failure counted when the service is unavailable.
    async fn send(&self, call: &DueCall) -> Result<CallAnswer, (Option<Instant>, String)> {
        self.breaker
            .try_acquire(Instant::now())
            .map_err(|retry_at| {
                (
                    Some(retry_at),
                    format!("{} service unavailable", self.service.as_str()),
                )
            })?;
        match self.post(call).await {
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

/// Sends the queued calls of every configured service.
pub struct ServiceCallWorker {
    pub pool: PgPool,
    pub clients: HashMap<&'static str, Arc<ServiceClient>>,
    pub config: ServicesConfig,
}

impl ServiceCallWorker {
    /// The worker for the services `config` names a URL for.
    pub fn new(pool: PgPool, config: &ServicesConfig) -> Result<ServiceCallWorker, reqwest::Error> {
        let mut clients = HashMap::new();
        for (service, url) in [
            (Service::Inventory, &config.inventory_url),
            (Service::Logistics, &config.logistics_url),
        ] {
            match url {
                Some(url) => {
                    clients.insert(
                        service.as_str(),
                        Arc::new(ServiceClient::new(service, url, config)?),
                    );
                }
                None => tracing::warn!(
                    service = service.as_str(),
                    "no {} service configured: its calls wait in the queue",
                    service.as_str()
                ),
            }
        }
        Ok(ServiceCallWorker {
            pool,
            clients,
            config: config.clone(),
        })
    }

    pub async fn run(self) {
        if self.clients.is_empty() {
            return;
        }
        loop {
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::error!(%error, "service call round failed");
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
    pub async fn round(&self) -> Result<bool, StoreError> {
        let services: Vec<&str> = self.clients.keys().copied().collect();
        let mut tx = self.pool.begin().await?;
        let due = claim_due(&mut tx, &services, BATCH).await?;
        for call in &due {
            let Some(client) = self.clients.get(call.service.as_str()) else {
                continue;
            };
            let tenant = TenantId(call.tenant_id);
            let attempts = call.attempts + 1;
            match client.send(call).await {
                Ok(CallAnswer::Taken { remote_ref }) => {
                    settle(
                        &mut tx,
                        tenant,
                        call.id,
                        "sent",
                        Some(&remote_ref),
                        "taken",
                        attempts,
                    )
                    .await?;
                }
                Ok(CallAnswer::Refused { reason }) => {
                    let detail = format!("refused: {reason}");
                    settle(&mut tx, tenant, call.id, "failed", None, &detail, attempts).await?;
                    monitor(&mut tx, tenant, call, &detail).await?;
                }
                Err((Some(retry_at), detail)) => {
                    let delay = retry_at.saturating_duration_since(Instant::now());
                    QUEUE
                        .reschedule(
                            &mut tx,
                            tenant,
                            call.id,
                            call.attempts,
                            delay.as_millis() as i64,
                            &detail,
                        )
                        .await?;
                }
                Err((None, error)) => {
                    if attempts >= self.config.attempts_max as i32 {
                        let detail = format!("could not be reached: {error}");
                        settle(&mut tx, tenant, call.id, "failed", None, &detail, attempts).await?;
                        monitor(&mut tx, tenant, call, &detail).await?;
                    } else {
                        QUEUE
                            .reschedule(
                                &mut tx,
                                tenant,
                                call.id,
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

/// A call given up on, for the integrations monitor.
async fn monitor(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    call: &DueCall,
    detail: &str,
) -> Result<(), StoreError> {
    crate::store::payment_intents::record_integration_event(
        tx,
        tenant,
        &call.service,
        Some(&call.id.to_string()),
        &call.kind,
        "failed",
        detail,
    )
    .await?;
    Ok(())
}
