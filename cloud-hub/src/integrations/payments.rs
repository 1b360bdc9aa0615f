//! The payment worker: sends requested intents to the treasury (retrying with backoff, behind
//! the circuit breaker) and times out prompts the treasury never answered. The treasury's own
//! answers come in through the inbound webhook (`api::treasury_events`).

use super::treasury::{
    Method, PaymentLookup, PaymentRequest, ReceiptAnswer, RefundRequest, Treasury, TreasuryAnswer,
    TreasuryConfig, TreasuryError,
};
use crate::store::StoreError;
use crate::store::payment_intents::{
    Change, DueIntent, QUEUE as INTENTS, claim_due, overdue, receipt_used_elsewhere,
    record_integration_event, transition,
};
use crate::store::treasury_refunds as refunds;
use shared_model::payment_intent::{IntentState, valid_mpesa_receipt};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How connector events of this worker are named in the integrations monitor.
const PROVIDER: &str = "treasury";
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
        let refunds = self.send_refunds().await?;
        Ok(busy || refunds > 0)
    }

    /// Sends due refunds to the treasury; how many it claimed.
    async fn send_refunds(&self) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let due = refunds::claim_due(&mut tx, BATCH).await?;
        for refund in &due {
            self.send_refund(&mut tx, refund).await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }

    async fn send_refund(
        &self,
        tx: &mut sqlx::PgConnection,
        due: &refunds::DueRefund,
    ) -> Result<(), StoreError> {
        let refund = &due.refund;
        let Some(treasury) = &self.treasury else {
            refunds::settle(
                tx,
                due.tenant,
                refund.id,
                "failed",
                None,
                "no payment service is configured for this hub: refund the customer by hand",
            )
            .await?;
            return Ok(());
        };
        let request = RefundRequest {
            refund_id: refund.id,
            order_id: refund.order_id,
            outlet: due.outlet_code.clone(),
            tender: refund.tender.clone(),
            payment_id: due.payment_ref.clone(),
            amount_minor: refund.amount_minor,
            currency: refund.currency.clone(),
            reason: refund.reason.clone(),
        };
        let attempts = refund.attempts + 1;
        match treasury.request_refund(&due.tenant_slug, &request).await {
            Ok(TreasuryAnswer::Accepted { provider_ref }) => {
                refunds::settle(
                    tx,
                    due.tenant,
                    refund.id,
                    "submitted",
                    Some(&provider_ref),
                    "accepted by the treasury; waiting for it to be processed",
                )
                .await?;
            }
            Ok(TreasuryAnswer::Declined { reason }) => {
                refunds::settle(
                    tx,
                    due.tenant,
                    refund.id,
                    "failed",
                    None,
                    &format!("declined: {reason}"),
                )
                .await?;
            }
            Err(TreasuryError::CircuitOpen { retry_at }) => {
                let delay = retry_at.saturating_duration_since(Instant::now());
                refunds::QUEUE
                    .reschedule(
                        tx,
                        due.tenant,
                        refund.id,
                        refund.attempts,
                        delay.as_millis() as i64,
                        "payment service unavailable",
                    )
                    .await?;
            }
            Err(TreasuryError::Unavailable(error)) => {
                record_integration_event(
                    tx,
                    due.tenant,
                    PROVIDER,
                    None,
                    "refund_request",
                    "call_failed",
                    &format!("refund {}: {error}", refund.id),
                )
                .await?;
                if attempts >= self.config.attempts_max as i32 {
                    refunds::settle(
                        tx,
                        due.tenant,
                        refund.id,
                        "failed",
                        None,
                        "the payment service could not be reached: refund the customer by hand",
                    )
                    .await?;
                } else {
                    let delay = self.retry_delay_ms(attempts);
                    refunds::QUEUE
                        .reschedule(tx, due.tenant, refund.id, attempts, delay, &error)
                        .await?;
                }
            }
        }
        Ok(())
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

    fn retry_delay_ms(&self, attempts: i32) -> i64 {
        let base = self.config.retry_base.as_millis() as i64;
        base.saturating_mul(1_i64 << (attempts - 1).clamp(0, 20))
            .min(RETRY_DELAY_MAX_MS)
    }

    /// An M-Pesa receipt code typed at the till: the payment is already on the order; confirm
    /// it against the treasury's records, or flag it. An outage never flags it: it waits.
    async fn verify_receipt(
        &self,
        tx: &mut sqlx::PgConnection,
        intent: &DueIntent,
    ) -> Result<(), StoreError> {
        let offline_card = intent.method == "card_offline";
        let Some(code) = intent.receipt.as_deref().filter(|code| {
            if offline_card {
                !code.is_empty()
            } else {
                valid_mpesa_receipt(code)
            }
        }) else {
            return self
                .fail(tx, intent, "no valid receipt code was recorded")
                .await;
        };
        let lookup = if offline_card {
            PaymentLookup::OfflineCard(code)
        } else {
            PaymentLookup::MpesaReceipt(code)
        };
        if !offline_card && receipt_used_elsewhere(tx, intent.tenant, intent.id, code).await? {
            return self
                .fail(tx, intent, "this receipt code already paid another order")
                .await;
        }
        let Some(treasury) = &self.treasury else {
            return self
                .fail(tx, intent, "no payment service is configured for this hub")
                .await;
        };
        let attempts = intent.attempts + 1;
        match treasury.find_payment(&intent.tenant_slug, lookup).await {
            Ok(ReceiptAnswer::Found {
                provider_ref,
                amount_minor,
            }) if amount_minor == intent.amount_minor => {
                transition(
                    tx,
                    intent.tenant,
                    intent.id,
                    IntentState::Captured,
                    &Change {
                        provider_ref: Some(&provider_ref),
                        receipt: Some(code),
                        detail: "confirmed by the treasury",
                        deadline_ms: None,
                    },
                    crate::now_ms(),
                )
                .await?;
            }
            Ok(ReceiptAnswer::Declined { reason }) => {
                self.fail(tx, intent, &format!("declined: {reason}"))
                    .await?;
            }
            // A card terminal forwards its offline approvals when it can, hours later maybe:
            // keep looking (the edge flags it for a manager past the outlet's age limit).
            Ok(ReceiptAnswer::NotFound) if offline_card => {
                let delay = self.retry_delay_ms(attempts.min(8));
                INTENTS
                    .reschedule(
                        tx,
                        intent.tenant,
                        intent.id,
                        attempts,
                        delay,
                        "not forwarded to the processor yet",
                    )
                    .await?;
            }
            Ok(ReceiptAnswer::Found { amount_minor, .. }) => {
                let detail = format!(
                    "the treasury received {amount_minor} with this receipt, not {}",
                    intent.amount_minor
                );
                self.fail(tx, intent, &detail).await?;
            }
            // Payments reach the treasury's records with some delay: look again a few times.
            Ok(ReceiptAnswer::NotFound) if attempts < self.config.attempts_max as i32 => {
                let delay = self.retry_delay_ms(attempts);
                INTENTS
                    .reschedule(
                        tx,
                        intent.tenant,
                        intent.id,
                        attempts,
                        delay,
                        "not in the treasury's records yet",
                    )
                    .await?;
            }
            Ok(ReceiptAnswer::NotFound) => {
                self.fail(
                    tx,
                    intent,
                    "the treasury has no payment with this receipt code",
                )
                .await?;
            }
            Err(TreasuryError::CircuitOpen { retry_at }) => {
                let delay = retry_at.saturating_duration_since(Instant::now());
                INTENTS
                    .reschedule(
                        tx,
                        intent.tenant,
                        intent.id,
                        intent.attempts,
                        delay.as_millis() as i64,
                        "payment service unavailable",
                    )
                    .await?;
            }
            Err(TreasuryError::Unavailable(error)) => {
                record_integration_event(
                    tx,
                    intent.tenant,
                    PROVIDER,
                    None,
                    "receipt_lookup",
                    "call_failed",
                    &format!("intent {}: {error}", intent.id),
                )
                .await?;
                let delay = self.retry_delay_ms(attempts);
                INTENTS
                    .reschedule(tx, intent.tenant, intent.id, intent.attempts, delay, &error)
                    .await?;
            }
        }
        Ok(())
    }

    async fn send(
        &self,
        tx: &mut sqlx::PgConnection,
        intent: &DueIntent,
    ) -> Result<(), StoreError> {
        if intent.method == "mpesa_receipt" || intent.method == "card_offline" {
            return self.verify_receipt(tx, intent).await;
        }
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
                INTENTS
                    .reschedule(
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
                record_integration_event(
                    tx,
                    intent.tenant,
                    PROVIDER,
                    None,
                    "payment_request",
                    "call_failed",
                    &format!("intent {}: {error}", intent.id),
                )
                .await?;
                if attempts >= self.config.attempts_max as i32 {
                    self.fail(tx, intent, "the payment service could not be reached")
                        .await?;
                } else {
                    let delay = self.retry_delay_ms(attempts);
                    INTENTS
                        .reschedule(tx, intent.tenant, intent.id, attempts, delay, &error)
                        .await?;
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
