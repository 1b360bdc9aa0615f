//! Order routes.

use super::AppState;
use super::dto::{
    AddLineRequest, OpenOrderRequest, OrderDto, PaymentRequest, PaymentResponse, ReceiptDto,
    VoidRequest,
};
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::orders::{ItemRef, LineInput, PriceOverrideInput};
use crate::services::staff::Caller;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use shared_model::{ItemId, OrderId, OrderType};

pub(crate) fn order_id(path: Result<Path<String>, PathRejection>) -> Result<OrderId, ApiError> {
    let Path(text) = path?;
    text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "order not found",
            None,
        )
    })
}

#[utoipa::path(post, path = "/v1/orders", request_body = OpenOrderRequest,
    responses((status = 201, body = OrderDto), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn open(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<OpenOrderRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let Json(request) = body?;
    let order_type = OrderType::parse(&request.order_type).ok_or_else(|| {
        ApiError::invalid(
            "type",
            format!("unknown order type {:?}", request.order_type),
        )
    })?;
    // The signed-in server or bartender serves the order they open.
    let server = caller.staff.as_ref().map(|session| session.staff_id);
    let order = state.orders.open_by(server, order_type, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// The order number shown on the ticket or receipt.
    pub number: Option<u64>,
    /// `open`, `sent`, `partially_paid`, `paid`, `closed` or `voided`.
    pub state: Option<String>,
    /// Only the orders this staff member serves ("my tables", "my tabs").
    pub server_id: Option<String>,
    /// Part of the customer's name or phone (cloud orders), a tab's name, a loyalty member's
    /// name or code, or a cloud order's reference; any case, 2 to 80 characters.
    pub customer: Option<String>,
}

/// Longest customer search text.
const CUSTOMER_SEARCH_CHARS_MAX: usize = 80;

/// Order recall: by number, state (e.g. every open order), server and/or customer, newest
/// first.
#[utoipa::path(get, path = "/v1/orders", params(OrderQuery),
    responses((status = 200, body = [OrderDto]), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    query: Result<axum::extract::Query<OrderQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<OrderDto>>, ApiError> {
    let axum::extract::Query(query) = query?;
    let order_state =
        match query.state.as_deref() {
            None => None,
            Some(text) => Some(parse_order_state(text).ok_or_else(|| {
                ApiError::invalid("state", format!("unknown order state {text:?}"))
            })?),
        };
    let server = query
        .server_id
        .as_deref()
        .map(|text| {
            text.parse::<uuid::Uuid>()
                .map_err(|_| ApiError::invalid("server_id", "staff ids are UUIDs"))
        })
        .transpose()?;
    let customer = match query.customer.as_deref().map(str::trim) {
        None => None,
        Some(text)
            if (2..=CUSTOMER_SEARCH_CHARS_MAX).contains(&text.chars().count())
                && !text.chars().any(char::is_control) =>
        {
            Some(text.to_owned())
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "customer",
                format!("search with 2 to {CUSTOMER_SEARCH_CHARS_MAX} printable characters"),
            ));
        }
    };
    let orders = state
        .orders
        .find(crate::store::OrderFilter {
            number: query.number,
            state: order_state,
            server,
            customer,
        })
        .await?;
    Ok(Json(orders.iter().map(OrderDto::from).collect()))
}

fn parse_order_state(text: &str) -> Option<shared_model::OrderState> {
    use shared_model::OrderState::*;
    [Open, Sent, PartiallyPaid, Paid, Closed, Voided]
        .into_iter()
        .find(|candidate| candidate.as_str() == text)
}

#[utoipa::path(get, path = "/v1/orders/{id}", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderDto>, ApiError> {
    let order = state.orders.get(order_id(path)?).await?;
    Ok(Json(OrderDto::from(&order)))
}

#[utoipa::path(post, path = "/v1/orders/{id}/lines", params(("id" = String, Path)), request_body = AddLineRequest,
    responses((status = 201, body = OrderDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn add_line(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AddLineRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let quantity = request
        .quantity()
        .map_err(|(field, message)| ApiError::invalid(field, message))?;
    let item = match (request.item_id, request.barcode) {
        (Some(id), None) => ItemRef::Id(ItemId(id)),
        (None, Some(code)) => ItemRef::Barcode(code),
        _ => {
            return Err(ApiError::invalid(
                "item_id",
                "give the item as item_id or as a scanned barcode, one of them",
            ));
        }
    };
    let price_override = match (request.unit_price_minor, request.price_override_reason) {
        (None, None) => None,
        (Some(unit_price_minor), Some(reason)) => Some(PriceOverrideInput {
            unit_price_minor,
            reason,
        }),
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "price_override_reason",
                "a price override needs a reason",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "unit_price_minor",
                "a price override reason without a price",
            ));
        }
    };
    let approval = super::staff::approval(request.approval)?;
    let input = LineInput {
        item,
        quantity,
        seat: request.seat,
        course: request.course,
        instructions: request.instructions,
        age_verified: request.age_verified,
        price_override,
        modifiers: request.modifiers,
    };
    let order = state
        .orders
        .add_line(caller, id, input, approval, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

#[utoipa::path(post, path = "/v1/orders/{id}/payments", params(("id" = String, Path)), request_body = PaymentRequest,
    responses((status = 201, body = PaymentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn take_payment(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PaymentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PaymentResponse>), ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let tender = shared_model::Tender::parse(&request.tender).ok_or_else(|| {
        ApiError::invalid("tender", format!("unknown tender {:?}", request.tender))
    })?;
    let outcome = state
        .orders
        .take_payment_at(
            id,
            tender,
            request.amount_minor,
            Some(caller.device.id),
            now_ms(),
        )
        .await?;
    state.sync.notify_new_ops();
    Ok((
        StatusCode::CREATED,
        Json(PaymentResponse {
            payment_id: outcome.payment_id.to_string(),
            change_due_minor: outcome.change_due_minor,
            order: OrderDto::from(&outcome.order),
        }),
    ))
}

#[utoipa::path(post, path = "/v1/orders/{id}/close", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn close(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderDto>, ApiError> {
    let order = state.orders.close(order_id(path)?, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok(Json(OrderDto::from(&order)))
}

#[utoipa::path(post, path = "/v1/orders/{id}/void", params(("id" = String, Path)), request_body = VoidRequest,
    responses((status = 200, body = OrderDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn void(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<VoidRequest>, JsonRejection>,
) -> Result<Json<OrderDto>, ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let approval = super::staff::approval(request.approval)?;
    let order = state
        .orders
        .void(id, request.reason, caller, approval, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok(Json(OrderDto::from(&order)))
}

#[utoipa::path(post, path = "/v1/orders/{id}/refunds", params(("id" = String, Path)), request_body = super::dto::RefundRequestDto,
    responses((status = 201, body = OrderDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn refund(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<super::dto::RefundRequestDto>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let tender = shared_model::Tender::parse(&request.tender).ok_or_else(|| {
        ApiError::invalid("tender", format!("unknown tender {:?}", request.tender))
    })?;
    let what = match (request.amount_minor, request.line_ids) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "amount_minor",
                "give an amount or lines, not both",
            ));
        }
        (Some(amount), None) => shared_model::order::RefundRequest::Amount(amount),
        (None, Some(lines)) => {
            let ids = lines
                .iter()
                .map(|line| line.parse().map(shared_model::LineId))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ApiError::invalid("line_ids", "line ids are UUIDs"))?;
            if ids.is_empty() {
                return Err(ApiError::invalid("line_ids", "name at least one line"));
            }
            shared_model::order::RefundRequest::Lines(ids)
        }
        (None, None) => shared_model::order::RefundRequest::Whole,
    };
    let approval = super::staff::approval(request.approval)?;
    let order = state
        .orders
        .refund(id, what, tender, request.reason, caller, approval, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

/// The order's refunds and where each stands: given at the till (cash, gift card, points,
/// vouchers), or, on card and M-Pesa, `pending` until the treasury's word reaches the till,
/// then `processed` (the money is back with the customer) or `failed` (refund them by hand).
#[utoipa::path(get, path = "/v1/orders/{id}/refunds", params(("id" = String, Path)),
    responses((status = 200, body = [RefundStatusDto]), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn refunds(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<RefundStatusDto>>, ApiError> {
    let id = order_id(path)?;
    let order = state.orders.get(id).await?;
    let store = state.store.clone();
    let outcomes = crate::services::blocking(move || store.refund_outcomes_of(id.0)).await?;
    Ok(Json(
        order
            .refunds
            .iter()
            .map(|refund| {
                let outcome = outcomes.iter().find(|o| o.refund_id == refund.id.0);
                let settlement = match (refund.tender.refunds_through_treasury(), outcome) {
                    (false, _) => "at_the_till",
                    (true, None) => "pending",
                    (true, Some(outcome)) if outcome.processed => "processed",
                    (true, Some(_)) => "failed",
                };
                RefundStatusDto {
                    id: refund.id.to_string(),
                    tender: refund.tender.as_str().to_owned(),
                    amount_minor: refund.amount_minor,
                    line_ids: refund
                        .line_ids
                        .iter()
                        .map(|line| line.0.to_string())
                        .collect(),
                    reason: refund.reason.clone(),
                    refunded_at_ms: refund.refunded_at_ms,
                    settlement: settlement.to_owned(),
                    detail: outcome.map(|o| o.detail.clone()),
                    settled_at_ms: outcome.map(|o| o.settled_at_ms),
                }
            })
            .collect(),
    ))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RefundStatusDto {
    pub id: String,
    pub tender: String,
    pub amount_minor: i64,
    /// The lines refunded, when the refund named lines.
    pub line_ids: Vec<String>,
    pub reason: String,
    pub refunded_at_ms: i64,
    /// `at_the_till` (cash, gift card, points, voucher: done when given), or for card and
    /// M-Pesa `pending`, `processed` or `failed`.
    pub settlement: String,
    /// The treasury's words, once settled.
    pub detail: Option<String>,
    pub settled_at_ms: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orders/{id}/receipt", params(("id" = String, Path)),
    responses((status = 200, body = ReceiptDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn receipt(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ReceiptDto>, ApiError> {
    let order = state.orders.get(order_id(path)?).await?;
    Ok(Json(ReceiptDto {
        order_id: order.id.to_string(),
        text: crate::services::receipts::render(&order, &state.outlet_name),
        order: OrderDto::from(&order),
    }))
}
