//! The inventory and logistics services and the treasury's payouts, as the hub calls them, and the worker that sends the
//! calls queued for them (see [`crate::store::service_calls`]).
//!
//! `POST {base}/v1/{tenant}{path}` with `Idempotency-Key: <call id>` and the queued JSON body:
//! - inventory `/inventory/consumption` (a closed sale: lines sold and kitchen waste),
//!   inventory `/transfers` (stock moved between outlets);
//! - logistics `/handoff/{orderId}` (a delivery order ready at its outlet);
//! - treasury `/payouts` (a tip pool closed at an outlet and not handed out in cash: each staff
//!   member's share).
//!
//! `2xx {"id"}`: taken. `4xx` (but 408/429) `{"reason"}`: refused for good. `5xx`, 408, 429,
//! timeouts and connection errors: unavailable, retried with exponential backoff behind a
//! circuit breaker per service, failed after the configured attempts. Every failed call is
//! also recorded for the integrations monitor (`GET /v1/{tenant}/integrations/events`).

use super::outbound::{Next, OutboundClient, RetryPolicy};
use crate::store::service_calls::{QUEUE, Service, claim_due, settle};
use crate::store::{StoreError, TenantId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Calls sent per round.
const BATCH: i64 = 16;

#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// e.g. `https://inventory.internal`; `None`: inventory calls wait, unsent.
    pub inventory_url: Option<String>,
    /// e.g. `https://logistics.internal`; `None`: handoffs wait, unsent.
    pub logistics_url: Option<String>,
    /// The treasury, for payouts (filled from the treasury's URL at startup); `None`: payouts
    /// wait, unsent.
    pub treasury_url: Option<String>,
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
            treasury_url: None,
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

/// Sends the queued calls of every configured service.
pub struct ServiceCallWorker {
    pub pool: PgPool,
    pub clients: HashMap<&'static str, Arc<OutboundClient>>,
    pub config: ServicesConfig,
}

impl ServiceCallWorker {
    /// The worker for the services `config` names a URL for.
    pub fn new(pool: PgPool, config: &ServicesConfig) -> Result<ServiceCallWorker, reqwest::Error> {
        let mut clients = HashMap::new();
        for (service, url) in [
            (Service::Inventory, &config.inventory_url),
            (Service::Logistics, &config.logistics_url),
            (Service::Treasury, &config.treasury_url),
        ] {
            match url {
                Some(url) => {
                    let client = OutboundClient::new(
                        service.as_str(),
                        url,
                        config.request_timeout,
                        config.breaker_failures,
                        config.breaker_cool_down,
                    )?;
                    clients.insert(service.as_str(), Arc::new(client));
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
        super::outbound::run_rounds("service calls", || self.round()).await
    }

    /// One round: send what is due. `true` if there was anything.
    pub async fn round(&self) -> Result<bool, StoreError> {
        let policy = RetryPolicy {
            attempts_max: self.config.attempts_max,
            retry_base: self.config.retry_base,
        };
        let services: Vec<&str> = self.clients.keys().copied().collect();
        let mut tx = self.pool.begin().await?;
        let due = claim_due(&mut tx, &services, BATCH).await?;
        for call in &due {
            let Some(client) = self.clients.get(call.service.as_str()) else {
                continue;
            };
            let tenant = TenantId(call.tenant_id);
            let attempt = client
                .send(&call.slug, &call.path, &call.id.to_string(), &call.body)
                .await;
            match policy.next(attempt, call.attempts) {
                Next::Settle {
                    state,
                    remote_ref,
                    detail,
                    attempts,
                    failed,
                } => {
                    settle(
                        &mut tx,
                        tenant,
                        call.id,
                        state,
                        remote_ref.as_deref(),
                        &detail,
                        attempts,
                    )
                    .await?;
                    if failed {
                        // Given up on: the connector monitor shows it.
                        crate::store::payment_intents::record_integration_event(
                            &mut tx,
                            tenant,
                            &call.service,
                            Some(&call.id.to_string()),
                            &call.kind,
                            "failed",
                            &detail,
                        )
                        .await?;
                    }
                }
                Next::Retry {
                    attempts,
                    delay_ms,
                    detail,
                } => {
                    QUEUE
                        .reschedule(&mut tx, tenant, call.id, attempts, delay_ms, &detail)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(!due.is_empty())
    }
}
