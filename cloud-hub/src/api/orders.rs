//! Orders as the edges reported them.

use super::AppState;
use super::dto::{OrderDto, OrderPage};
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::orders::{ListCursor, OrderFilter, get as get_order, list as list_orders};
use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Roles that may read orders.
pub const ORDER_READERS: &[&str] = &["admin", "manager", "analyst", "service", "auditor"];
/// Largest page. Why 200: a page of full orders stays well under a megabyte.
pub const PAGE_LIMIT_MAX: i64 = 200;
pub const PAGE_LIMIT_DEFAULT: i64 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this outlet's orders (outlet code).
    pub outlet: Option<String>,
    /// Only orders in this state (`open`, `paid`, `closed`, ...).
    pub state: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

fn encode_cursor(cursor: ListCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{}", cursor.opened_at_ms, cursor.id))
}

fn decode_cursor(text: &str) -> Option<ListCursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once(':')?;
    Some(ListCursor {
        opened_at_ms: at.parse().ok()?,
        id: id.parse().ok()?,
    })
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/orders",
    params(("tenant" = String, Path, description = "tenant slug"), ListParams),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OrderPage>, ApiError> {
    context.require_any_role(ORDER_READERS)?;
    let Query(params) = params.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = params.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    if !(1..=PAGE_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {PAGE_LIMIT_MAX}"),
        ));
    }
    let after = match params.cursor.as_deref() {
        Some(text) => Some(
            decode_cursor(text)
                .ok_or_else(|| ApiError::invalid("cursor", "not a cursor from this API"))?,
        ),
        None => None,
    };
    let filter = OrderFilter {
        outlet_code: params.outlet,
        state: params.state,
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let orders = list_orders(&mut tx, context.tenant.id, &filter, after, limit).await?;
    super::commit(tx).await?;
    let next_cursor = (orders.len() as i64 == limit)
        .then(|| orders.last())
        .flatten()
        .map(|last| {
            encode_cursor(ListCursor {
                opened_at_ms: last.order.opened_at_ms,
                id: last.order.id.0,
            })
        });
    Ok(Json(OrderPage {
        orders: orders.iter().map(OrderDto::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/orders/{id}",
    params(("tenant" = String, Path, description = "tenant slug"), ("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<OrderDto>, ApiError> {
    let (_, id) = path;
    context.require_any_role(ORDER_READERS)?;
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let order = get_order(&mut tx, context.tenant.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let chargebacks =
        crate::store::audit_log::chargebacks_of(&mut tx, context.tenant.id, id).await?;
    let delivery = crate::store::service_calls::delivery(&mut tx, context.tenant.id, id).await?;
    super::commit(tx).await?;
    let mut dto = OrderDto::from(&order);
    dto.chargebacks = Some(chargebacks.iter().map(Into::into).collect());
    dto.delivery = delivery.as_ref().map(Into::into);
    Ok(Json(dto))
}
