//! Payment intents as other services and managers see them at the hub.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::payment_intents::by_id;
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentIntentDto {
    pub id: String,
    pub order_id: String,
    /// `mpesa_stk` or `card`.
    pub method: String,
    pub amount_minor: i64,
    pub currency: String,
    /// `requested`, `prompted`, `captured`, `failed` or `timed_out`.
    pub state: String,
    pub provider_ref: Option<String>,
    pub receipt: Option<String>,
    pub detail: String,
    /// Calls made to the treasury so far.
    pub attempts: i32,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/payment-intents/{id}",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = PaymentIntentDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<PaymentIntentDto>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "analyst", "auditor"])?;
    let id = uuid::Uuid::parse_str(&path.1).map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let intent = by_id(&mut tx, context.tenant.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(PaymentIntentDto {
        id: intent.id.to_string(),
        order_id: intent.order_id.to_string(),
        method: intent.method,
        amount_minor: intent.amount_minor,
        currency: intent.currency,
        state: intent.state,
        provider_ref: intent.provider_ref,
        receipt: intent.receipt,
        detail: intent.detail,
        attempts: intent.attempts,
    }))
}
