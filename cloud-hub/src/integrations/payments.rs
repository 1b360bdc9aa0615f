//! The payment worker: sends requested intents to the treasury (retrying with backoff, behind
//! the circuit breaker) and times out prompts the treasury never answered. The treasury's own
//! answers come in through the inbound webhook (`api::treasury_events`).

use super::treasury::{
    Method, PaymentRequest, Treasury, TreasuryAnswer, TreasuryConfig, TreasuryError,
};
use crate::store::StoreError;
use crate::store::payment_intents::{
    Change, DueIntent, claim_due, overdue, reschedule, transition,
};
use shared_model::payment_intent::IntentState;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Intents sent per round.
const BATCH: i64 = 16;
/// Pause between rounds when there was nothing to do.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Longest delay between two attempts at one intent.
const RETRY_DELAY_MAX_MS: i64 = 60_000;

pub struct PaymentWorker<T: Treasury> {
    pub pool: PgPool,
    pub treasury: Option<Arc<T>>,
    pub config: TreasuryConfig,
}

impl<T: Treasury> PaymentWorker<T> {
    pub async fn run(self) {
        loop {
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::error!(%error, "payment worker round failed");
                    false
                }
            };
            if !busy {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }

    /// One round: time out what is overdue, then send what is due. `true` if it did work.
    pub async fn round(&self) -> Result<bool, StoreError> {
        let timed_out = self.time_out_overdue().await?;
        let mut tx = self.pool.begin().await?;
        let due = claim_due(&mut tx, BATCH).await?;
        let busy = timed_out > 0 || !due.is_empty();
        for intent in &due {
            self.send(&mut tx, intent).await?;
        }
        tx.commit().await?;
        Ok(busy)
    }

    async fn time_out_overdue(&self) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let overdue = overdue(&mut tx, BATCH).await?;
        for (tenant, id) in &overdue {
            tracing::warn!(tenant = %tenant.0, intent = %id, "payment prompt timed out");
            transition(
                &mut tx,
                *tenant,
                *id,
                IntentState::TimedOut,
                &Change {
                    detail: "no answer from the payment service in time; if the customer was charged it will still be reconciled",
                    ..Change::default()
                },
                crate::now_ms(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(overdue.len())
    }

    async fn send(
        &self,
        tx: &mut sqlx::PgConnection,
        intent: &DueIntent,
    ) -> Result<(), StoreError> {
        let method = match (intent.method.as_str(), &intent.msisdn, &intent.terminal_ref) {
            ("mpesa_stk", Some(msisdn), _) => Method::MpesaStk {
                msisdn: msisdn.clone(),
            },
            ("card", _, Some(terminal_ref)) => Method::Card {
                terminal_ref: terminal_ref.clone(),
            },
            _ => {
                return self
                    .fail(tx, intent, "the payment request is incomplete")
                    .await;
            }
        };
        let Some(treasury) = &self.treasury else {
            return self
                .fail(tx, intent, "no payment service is configured for this hub")
                .await;
        };
        let request = PaymentRequest {
            intent_id: intent.id,
            order_id: intent.order_id,
            outlet_code: intent.outlet_code.clone(),
            method,
            amount_minor: intent.amount_minor,
            currency: intent.currency.clone(),
        };
        let attempts = intent.attempts + 1;
        match treasury
            .request_payment(&intent.tenant_slug, &request)
            .await
        {
            Ok(TreasuryAnswer::Accepted { provider_ref }) => {
                transition(
                    tx,
                    intent.tenant,
                    intent.id,
                    IntentState::Prompted,
                    &Change {
                        provider_ref: Some(&provider_ref),
                        detail: "waiting for the customer",
                        deadline_ms: Some(self.config.prompt_timeout.as_millis() as i64),
                        ..Change::default()
                    },
                    crate::now_ms(),
                )
                .await?;
            }
            Ok(TreasuryAnswer::Declined { reason }) => {
                self.fail(tx, intent, &format!("declined: {reason}"))
                    .await?;
            }
            Err(TreasuryError::CircuitOpen { retry_at }) => {
                // Not an attempt: the treasury was not called.
                let delay = retry_at.saturating_duration_since(Instant::now());
                reschedule(
                    tx,
                    intent.tenant,
                    intent.id,
                    intent.attempts,
                    delay.as_millis() as i64,
                    "payment service unavailable; waiting before trying again",
                )
                .await?;
            }
            Err(TreasuryError::Unavailable(error)) => {
                tracing::warn!(intent = %intent.id, attempts, %error, "treasury call failed");
                if attempts >= self.config.attempts_max as i32 {
                    self.fail(tx, intent, "the payment service could not be reached")
                        .await?;
                } else {
                    let base = self.config.retry_base.as_millis() as i64;
                    let delay = base
                        .saturating_mul(1_i64 << (attempts - 1).clamp(0, 20))
                        .min(RETRY_DELAY_MAX_MS);
                    reschedule(tx, intent.tenant, intent.id, attempts, delay, &error).await?;
                }
            }
        }
        Ok(())
    }

    async fn fail(
        &self,
        tx: &mut sqlx::PgConnection,
        intent: &DueIntent,
        detail: &str,
    ) -> Result<(), StoreError> {
        transition(
            tx,
            intent.tenant,
            intent.id,
            IntentState::Failed,
            &Change {
                detail,
                ..Change::default()
            },
            crate::now_ms(),
        )
        .await?;
        Ok(())
    }
}
