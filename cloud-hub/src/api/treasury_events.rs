//! The treasury's callbacks: `payment_captured` and `payment_failed` for the payments the hub
//! asked it to collect. Signed like the hub's own webhooks (`Kibanda-Signature: t=…,v1=…`,
//! HMAC-SHA256 over `"<t>.<body>"` with the shared treasury secret, five minutes' tolerance),
//! applied exactly once (a repeated `event_id`, or an answer the intent is already past,
//! changes nothing), and each recorded for the integrations monitor.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::store::payment_intents::{
    Change, Transition, already_applied, by_id, record_integration_event, transition,
};
use crate::store::treasury_refunds as refunds;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use shared_model::payment_intent::{IntentState, valid_mpesa_receipt};
use utoipa::ToSchema;
use uuid::Uuid;

const PROVIDER: &str = "treasury";

#[derive(Debug, Deserialize, ToSchema)]
pub struct TreasuryEvent {
    /// The treasury's id for this event; a repeat is recognised by it.
    pub event_id: Option<String>,
    /// `payment_captured`, `payment_failed`, `refund_processed`, `refund_failed` or
    /// `chargeback`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// For payments: the hub's payment intent id (the idempotency key of the payment request).
    pub intent_id: Option<Uuid>,
    /// For refunds: the till's refund id (the idempotency key of the refund request).
    pub refund_id: Option<Uuid>,
    /// For a chargeback: the order whose payment was charged back (or give `intent_id`).
    pub order_id: Option<Uuid>,
    /// The treasury's payment id.
    pub payment_id: Option<String>,
    pub amount_minor: Option<i64>,
    /// The M-Pesa receipt code (or card approval code) of a capture.
    pub receipt: Option<String>,
    /// Why a payment failed.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TreasuryEventResult {
    /// `applied`, `duplicate` (seen before) or `ignored` (the intent is past this answer).
    pub outcome: String,
    /// The intent's state after this event.
    pub state: String,
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/integrations/treasury/events",
    params(("tenant" = String, Path), ("Kibanda-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    request_body = TreasuryEvent,
    responses((status = 200, body = TreasuryEventResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn receive(
    State(state): State<AppState>,
    Path(tenant_slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TreasuryEventResult>, ApiError> {
    let (tenant, event): (_, TreasuryEvent) = super::service_events::verified(
        &state,
        PROVIDER,
        state.treasury_webhook_secret.as_deref(),
        &tenant_slug,
        &headers,
        &body,
    )
    .await?;
    let next = match event.event_type.as_str() {
        "payment_captured" => IntentState::Captured,
        "payment_failed" => IntentState::Failed,
        "refund_processed" | "refund_failed" => {
            return receive_refund_event(&state, tenant.id, &event).await;
        }
        "chargeback" => {
            return receive_chargeback(&state, &tenant, &event).await;
        }
        _ => {
            return Err(ApiError::invalid(
                "type",
                "payment_captured, payment_failed, refund_processed, refund_failed or chargeback",
            ));
        }
    };
    let intent_id = event
        .intent_id
        .ok_or_else(|| ApiError::invalid("intent_id", "required for a payment event"))?;
    if let Some(receipt) = &event.receipt
        && receipt.len() > 64
    {
        return Err(ApiError::invalid("receipt", "at most 64 characters"));
    }
    let mut tx = super::tenant_tx(&state, tenant.id).await?;
    let intent = by_id(&mut tx, tenant.id, intent_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if next == IntentState::Captured && event.amount_minor != Some(intent.amount_minor) {
        record_integration_event(
            &mut tx,
            tenant.id,
            PROVIDER,
            event.event_id.as_deref(),
            &event.event_type,
            "amount_mismatch",
            &format!(
                "captured {:?}, asked {}",
                event.amount_minor, intent.amount_minor
            ),
        )
        .await?;
        super::commit(tx).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "amount_mismatch",
            "the captured amount is not the amount asked for; flagged for a manager",
            Some("amount_minor"),
        ));
    }
    if let Some(event_id) = event.event_id.as_deref()
        && already_applied(&mut tx, tenant.id, PROVIDER, event_id).await?
    {
        super::commit(tx).await?;
        return Ok(Json(TreasuryEventResult {
            outcome: "duplicate".into(),
            state: intent.state,
        }));
    }
    let receipt = event
        .receipt
        .as_deref()
        .filter(|code| intent.method != "mpesa_stk" || valid_mpesa_receipt(code));
    let detail = match next {
        IntentState::Captured => "paid".to_owned(),
        _ => event
            .reason
            .as_deref()
            .unwrap_or("the payment did not go through")
            .chars()
            .take(200)
            .collect(),
    };
    let outcome = transition(
        &mut tx,
        tenant.id,
        intent_id,
        next,
        &Change {
            provider_ref: event.payment_id.as_deref(),
            receipt,
            detail: &detail,
            deadline_ms: None,
        },
        crate::now_ms(),
    )
    .await?;
    let (outcome, state) = match outcome {
        Transition::Applied { from } => {
            if from == IntentState::TimedOut || from == IntentState::Failed {
                tracing::warn!(intent = %intent_id, from = from.as_str(), "late payment confirmation reconciled");
            }
            ("applied", next)
        }
        Transition::Ignored { current } => ("ignored", current),
        Transition::NotFound => return Err(ApiError::not_found()),
    };
    record_integration_event(
        &mut tx,
        tenant.id,
        PROVIDER,
        event.event_id.as_deref(),
        &event.event_type,
        outcome,
        &detail,
    )
    .await?;
    super::commit(tx).await?;
    Ok(Json(TreasuryEventResult {
        outcome: outcome.into(),
        state: state.as_str().into(),
    }))
}

/// `refund_processed` / `refund_failed` for a refund the hub sent: applied once (a settled
/// refund does not move again), recorded for the integrations monitor.
async fn receive_refund_event(
    state: &AppState,
    tenant: crate::store::TenantId,
    event: &TreasuryEvent,
) -> Result<Json<TreasuryEventResult>, ApiError> {
    let refund_id = event
        .refund_id
        .ok_or_else(|| ApiError::invalid("refund_id", "required for a refund event"))?;
    let mut tx = super::tenant_tx(state, tenant).await?;
    let refund = refunds::by_id(&mut tx, tenant, refund_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Some(event_id) = event.event_id.as_deref()
        && already_applied(&mut tx, tenant, PROVIDER, event_id).await?
    {
        super::commit(tx).await?;
        return Ok(Json(TreasuryEventResult {
            outcome: "duplicate".into(),
            state: refund.state,
        }));
    }
    let processed = event.event_type == "refund_processed";
    if processed && event.amount_minor != Some(refund.amount_minor) {
        record_integration_event(
            &mut tx,
            tenant,
            PROVIDER,
            event.event_id.as_deref(),
            &event.event_type,
            "amount_mismatch",
            &format!(
                "refunded {:?}, asked {}",
                event.amount_minor, refund.amount_minor
            ),
        )
        .await?;
        super::commit(tx).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "amount_mismatch",
            "the refunded amount is not the amount asked for; flagged for a manager",
            Some("amount_minor"),
        ));
    }
    let (next, detail) = if processed {
        (
            "processed",
            "the money is back with the customer".to_owned(),
        )
    } else {
        (
            "failed",
            format!(
                "the treasury could not refund ({}): refund the customer by hand",
                event
                    .reason
                    .as_deref()
                    .unwrap_or("no reason given")
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        )
    };
    let applied = refunds::settle(
        &mut tx,
        tenant,
        refund_id,
        next,
        event.payment_id.as_deref(),
        &detail,
    )
    .await?;
    let outcome = if applied { "applied" } else { "ignored" };
    record_integration_event(
        &mut tx,
        tenant,
        PROVIDER,
        event.event_id.as_deref(),
        &event.event_type,
        outcome,
        &detail,
    )
    .await?;
    let state_now = if applied {
        next.to_owned()
    } else {
        refund.state
    };
    super::commit(tx).await?;
    Ok(Json(TreasuryEventResult {
        outcome: outcome.into(),
        state: state_now,
    }))
}

/// A chargeback on one of an order's payments: recorded on the order and in the audit log,
/// raised as `pos.order.chargeback`, once per `event_id`.
async fn receive_chargeback(
    state: &AppState,
    tenant: &crate::store::tenants::Tenant,
    event: &TreasuryEvent,
) -> Result<Json<TreasuryEventResult>, ApiError> {
    let Some(event_id) = event.event_id.as_deref() else {
        return Err(ApiError::invalid("event_id", "required for a chargeback"));
    };
    let amount_minor = event
        .amount_minor
        .filter(|amount| *amount > 0)
        .ok_or_else(|| ApiError::invalid("amount_minor", "a positive amount is required"))?;
    let reason: String = event
        .reason
        .as_deref()
        .unwrap_or("chargeback")
        .chars()
        .take(200)
        .collect();
    let mut tx = super::tenant_tx(state, tenant.id).await?;
    if already_applied(&mut tx, tenant.id, PROVIDER, event_id).await? {
        super::commit(tx).await?;
        return Ok(Json(TreasuryEventResult {
            outcome: "duplicate".into(),
            state: "chargeback".into(),
        }));
    }
    let order_id = match (event.order_id, event.intent_id) {
        (Some(order_id), _) => order_id,
        (None, Some(intent_id)) => {
            by_id(&mut tx, tenant.id, intent_id)
                .await?
                .ok_or_else(ApiError::not_found)?
                .order_id
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "order_id",
                "name the order (order_id) or the payment (intent_id)",
            ));
        }
    };
    let now_ms = crate::now_ms();
    let recorded = crate::store::audit_log::record_chargeback(
        &mut tx,
        tenant.id,
        &crate::store::audit_log::NewChargeback {
            order_id,
            event_id: Some(event_id),
            amount_minor,
            reason: &reason,
            provider_ref: event.payment_id.as_deref(),
            received_at_ms: now_ms,
        },
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    crate::store::outbox::insert(
        &mut tx,
        tenant.id,
        &[crate::events::chargeback_event(
            &tenant.slug,
            &recorded.outlet_code,
            recorded.chargeback.id,
            order_id,
            recorded.order_number,
            amount_minor,
            &reason,
            now_ms,
        )],
    )
    .await?;
    record_integration_event(
        &mut tx,
        tenant.id,
        PROVIDER,
        Some(event_id),
        "chargeback",
        "applied",
        &format!("order {order_id}: {amount_minor} charged back ({reason})"),
    )
    .await?;
    super::commit(tx).await?;
    Ok(Json(TreasuryEventResult {
        outcome: "applied".into(),
        state: "chargeback".into(),
    }))
}
