//! Where the refunds of an order stand with the treasury (card and M-Pesa refunds go back
//! through it; cash refunds leave the drawer at the till and are not listed here).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::treasury_refunds::of_order;
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct TreasuryRefundDto {
    /// The till's refund id (also on the order's refunds).
    pub id: String,
    pub order_id: String,
    /// `card` or `mpesa`.
    pub tender: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    /// `requested` (to send), `submitted` (the treasury took it), `processed` (the money is
    /// back with the customer) or `failed` (refund by hand; `detail` says why).
    pub state: String,
    /// The treasury's id of the refund.
    pub provider_ref: Option<String>,
    pub detail: String,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/orders/{id}/refunds",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = [TreasuryRefundDto]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<TreasuryRefundDto>>, ApiError> {
    context.require_any_role(super::orders::ORDER_READERS)?;
    let order_id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    if crate::store::orders::get(&mut tx, context.tenant.id, order_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found());
    }
    let refunds = of_order(&mut tx, context.tenant.id, order_id).await?;
    super::commit(tx).await?;
    Ok(Json(
        refunds
            .into_iter()
            .map(|refund| TreasuryRefundDto {
                id: refund.id.to_string(),
                order_id: refund.order_id.to_string(),
                tender: refund.tender,
                amount_minor: refund.amount_minor,
                currency: refund.currency,
                reason: refund.reason,
                state: refund.state,
                provider_ref: refund.provider_ref,
                detail: refund.detail,
            })
            .collect(),
    ))
}
