//! Orders placed in the cloud for this outlet (web shop, delivery platforms, click-and-collect)
//! and the refund requests their late cancels became.
//!
//! The orders themselves are worked like any other (`/v1/orders/{id}/...`): sent to the
//! kitchen, paid at the counter, closed. These routes are the outlet's view of where they came
//! from and what a cancel from the cloud did.

use super::AppState;
use super::dto::OrderDto;
use super::error::ApiError;
use crate::store::{CloudCancel, CloudOrder};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared_model::cloud_order::CancelOutcome;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct CloudCancelDto {
    /// `cancelled` (voided, nothing was paid), `refund_requested` (money was taken: the order
    /// stands and a manager decides the refund), `already_voided` or `too_late`.
    pub outcome: String,
    /// For `refund_requested`: what the outlet had taken when the cancel came.
    pub paid_minor: Option<i64>,
    pub reason: String,
    pub requested_at_ms: i64,
    pub resolved_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CloudOrderDto {
    pub order: OrderDto,
    /// `ecommerce`, `delivery` or `click_and_collect`.
    pub channel: String,
    /// The web shop's or platform's own reference, for the rider or the customer at the counter.
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub notes: Option<String>,
    pub cancel: Option<CloudCancelDto>,
    /// The cancel became a refund request and the order is not yet refunded in full.
    pub refund_pending: bool,
}

impl From<&CloudCancel> for CloudCancelDto {
    fn from(cancel: &CloudCancel) -> Self {
        CloudCancelDto {
            outcome: cancel.outcome.as_str().to_owned(),
            paid_minor: match cancel.outcome {
                CancelOutcome::RefundRequested { paid_minor } => Some(paid_minor),
                _ => None,
            },
            reason: cancel.reason.clone(),
            requested_at_ms: cancel.requested_at_ms,
            resolved_at_ms: cancel.resolved_at_ms,
        }
    }
}

impl From<&CloudOrder> for CloudOrderDto {
    fn from(cloud: &CloudOrder) -> Self {
        CloudOrderDto {
            order: OrderDto::from(&cloud.order),
            channel: cloud.channel.as_str().to_owned(),
            external_ref: cloud.external_ref.clone(),
            customer_name: cloud.customer_name.clone(),
            customer_phone: cloud.customer_phone.clone(),
            notes: cloud.notes.clone(),
            cancel: cloud.cancel.as_ref().map(CloudCancelDto::from),
            refund_pending: cloud.refund_pending(),
        }
    }
}

#[utoipa::path(get, path = "/v1/cloud-orders",
    responses((status = 200, body = [CloudOrderDto])),
    security(("device_token" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<CloudOrderDto>>, ApiError> {
    let store = state.store.clone();
    let orders = crate::services::blocking(move || store.cloud_orders(false)).await?;
    Ok(Json(orders.iter().map(CloudOrderDto::from).collect()))
}

#[utoipa::path(get, path = "/v1/refund-requests",
    responses((status = 200, body = [CloudOrderDto])),
    security(("device_token" = [])))]
pub async fn refund_requests(
    State(state): State<AppState>,
) -> Result<Json<Vec<CloudOrderDto>>, ApiError> {
    let store = state.store.clone();
    let orders = crate::services::blocking(move || store.cloud_orders(true)).await?;
    Ok(Json(orders.iter().map(CloudOrderDto::from).collect()))
}
