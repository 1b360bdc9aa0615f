//! Orders placed in the cloud for an outlet (web shop, delivery platforms, click-and-collect),
//! cancels sent after them, and the `offline_event_replay` record of conflicts a rule resolved.

use super::AppState;
use super::dto::OrderDto;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::services::cloud_orders::{
    self, CancelError, PlaceLine, PlaceOrder, PlaceOrderError, Prepaid,
};
use crate::store::cloud_orders::{CancelRequest, replay_records};
use crate::store::orders::get as get_order;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::cloud_order::CloudChannel;
use shared_model::{Quantity, Tender};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Roles that place and cancel cloud orders: the web shop's and delivery platforms'
/// integrations (`service`), and people at head office.
pub const CLOUD_ORDER_WRITERS: &[&str] = &["admin", "manager", "service"];
/// Roles that read the replay record of resolved conflicts.
pub const REPLAY_READERS: &[&str] = &["admin", "manager", "auditor"];
/// Largest page of replay records. Why 500: a month of conflicts at a busy tenant.
pub const REPLAY_LIMIT_MAX: i64 = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Where a delivery order goes; handed to logistics with the order, never sent to the
    /// outlet.
    pub address: Option<String>,
    /// For the "order ready" email; kept at the hub.
    pub email: Option<String>,
    /// The shop app's push token for this customer's device; kept at the hub.
    pub push_token: Option<String>,
    /// How the customer wants to be told the order is ready, in order of preference: `sms`,
    /// `email`, `push`. The first with a contact given is used, once. Default: sms, email,
    /// push.
    pub notify_by: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudLineRequest {
    /// An item of the outlet's catalog.
    pub item_id: String,
    /// Units; or `grams` / `millilitres` for an item sold by weight or volume.
    pub quantity: Option<i64>,
    pub grams: Option<i64>,
    pub millilitres: Option<i64>,
    /// For the kitchen, e.g. "no onions".
    pub instructions: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepaidRequest {
    /// How the customer paid online: `card`, `mpesa` or `gift_card`.
    pub tender: String,
    /// Must equal the order's total as the outlet prices it.
    pub amount_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceCloudOrderRequest {
    /// `ecommerce`, `delivery` or `click_and_collect`.
    pub channel: String,
    /// The shop's or platform's own order reference; unique within the tenant.
    pub external_ref: String,
    pub customer: Option<CustomerRequest>,
    pub notes: Option<String>,
    pub lines: Vec<CloudLineRequest>,
    /// Present when the customer already paid online.
    pub prepaid: Option<PrepaidRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlacedCloudOrderDto {
    pub order: OrderDto,
    /// The outlet's feed position that carries the order down.
    pub feed_through_seq: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelCloudOrderRequest {
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelAnswerDto {
    /// `requested` (sent to the outlet, whose rule decides: `cancelled` if nothing was paid,
    /// `refund_requested` if money was taken), or the state of a cancel asked before.
    pub cancel_state: String,
    /// The feed position carrying the cancel, when this request sent it.
    pub feed_through_seq: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReplayQuery {
    /// Only this outlet's records (outlet code).
    pub outlet: Option<String>,
    /// 1 to 500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayRecordDto {
    pub id: String,
    pub outlet: String,
    pub order_id: Option<String>,
    /// The merge rule that decided, e.g. `paid_order_late_cancel`.
    pub rule: String,
    /// What it decided, e.g. `refund_requested`.
    pub resolution: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The device whose op carried the decision, and that op's sequence number.
    pub device_id: Option<String>,
    pub op_seq: Option<i64>,
    pub occurred_at_ms: i64,
}

fn place_request(request: PlaceCloudOrderRequest) -> Result<PlaceOrder, ApiError> {
    let channel = CloudChannel::parse(&request.channel)
        .ok_or_else(|| ApiError::invalid("channel", "ecommerce, delivery or click_and_collect"))?;
    let lines = request
        .lines
        .into_iter()
        .enumerate()
        .map(|(index, line)| {
            let quantity = match (line.quantity, line.grams, line.millilitres) {
                (Some(units), None, None) => Quantity::Each(units),
                (None, Some(grams), None) => Quantity::Grams(grams),
                (None, None, Some(ml)) => Quantity::Millilitres(ml),
                (None, None, None) => Quantity::Each(1),
                _ => {
                    return Err(ApiError::invalid(
                        &format!("lines[{index}].quantity"),
                        "give one of quantity, grams or millilitres",
                    ));
                }
            };
            Ok(PlaceLine {
                item_id: line.item_id,
                quantity,
                instructions: line.instructions,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let prepaid = match request.prepaid {
        None => None,
        Some(prepaid) => Some(Prepaid {
            tender: Tender::parse(&prepaid.tender)
                .filter(|tender| *tender != Tender::Cash)
                .ok_or_else(|| ApiError::invalid("prepaid.tender", "card, mpesa or gift_card"))?,
            amount_minor: prepaid.amount_minor,
        }),
    };
    let customer = request.customer.unwrap_or(CustomerRequest {
        name: None,
        phone: None,
        address: None,
        email: None,
        push_token: None,
        notify_by: None,
    });
    Ok(PlaceOrder {
        channel,
        external_ref: request.external_ref,
        customer_name: customer.name,
        customer_phone: customer.phone,
        customer_email: customer.email,
        customer_push_token: customer.push_token,
        notify_by: customer.notify_by,
        delivery_address: customer.address,
        notes: request.notes,
        lines,
        prepaid,
    })
}

fn place_error(error: PlaceOrderError) -> ApiError {
    match error {
        PlaceOrderError::Invalid { field, message } => ApiError::invalid(&field, message),
        PlaceOrderError::UnknownItem { field, item_id } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_item",
            format!("item {item_id} is not in this outlet's catalog"),
            Some(&field),
        ),
        PlaceOrderError::Line { field, source } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_line",
            source.to_string(),
            Some(&field),
        ),
        error @ PlaceOrderError::PrepaidMismatch { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "prepaid_amount_mismatch",
            error.to_string(),
            Some("prepaid.amount_minor"),
        ),
        error @ PlaceOrderError::DuplicateExternalRef(_) => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_external_ref",
            error.to_string(),
            Some("external_ref"),
        ),
        error @ PlaceOrderError::OutletClosed => ApiError::new(
            StatusCode::CONFLICT,
            "outlet_closed",
            error.to_string(),
            None,
        ),
        PlaceOrderError::Store(error) => error.into(),
    }
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/outlets/{outlet}/orders",
    params(("tenant" = String, Path), ("outlet" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "same key and body: the same answer")),
    request_body = PlaceCloudOrderRequest,
    responses((status = 201, body = PlacedCloudOrderDto), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn place(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Json<PlaceCloudOrderRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PlacedCloudOrderDto>), ApiError> {
    context.require_any_role(CLOUD_ORDER_WRITERS)?;
    let Json(request) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let request = place_request(request)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let placed = cloud_orders::place(
        &mut tx,
        &context.tenant.slug,
        &outlet,
        &request,
        crate::now_ms(),
    )
    .await
    .map_err(place_error)?;
    let stored = get_order(&mut tx, context.tenant.id, placed.order.id.0)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok((
        StatusCode::CREATED,
        Json(PlacedCloudOrderDto {
            order: OrderDto::from(&stored),
            feed_through_seq: placed.feed_through_seq,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/orders/{id}/cancel",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = CancelCloudOrderRequest,
    responses((status = 202, body = CancelAnswerDto), (status = 200, body = CancelAnswerDto),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Json<CancelCloudOrderRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CancelAnswerDto>), ApiError> {
    context.require_any_role(CLOUD_ORDER_WRITERS)?;
    let order_id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let Json(request) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let answer = cloud_orders::cancel(
        &mut tx,
        context.tenant.id,
        order_id,
        &request.reason,
        crate::now_ms(),
    )
    .await
    .map_err(|error| match error {
        CancelError::BadReason(message) => ApiError::invalid("reason", message),
        CancelError::NotFound => ApiError::not_found(),
        error @ CancelError::NotCloudOrder => ApiError::new(
            StatusCode::CONFLICT,
            "not_a_cloud_order",
            error.to_string(),
            None,
        ),
        CancelError::Store(error) => error.into(),
    })?;
    super::commit(tx).await?;
    Ok(match answer {
        CancelRequest::Sent { feed_through_seq } => (
            StatusCode::ACCEPTED,
            Json(CancelAnswerDto {
                cancel_state: "requested".into(),
                feed_through_seq: Some(feed_through_seq),
            }),
        ),
        CancelRequest::AlreadyAsked { cancel_state } => (
            StatusCode::OK,
            Json(CancelAnswerDto {
                cancel_state,
                feed_through_seq: None,
            }),
        ),
        CancelRequest::NotFound | CancelRequest::NotCloudOrder => {
            return Err(ApiError::not_found());
        }
    })
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/offline-event-replay",
    params(("tenant" = String, Path), ReplayQuery),
    responses((status = 200, body = [ReplayRecordDto]), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    context: TenantContext,
    query: Result<Query<ReplayQuery>, QueryRejection>,
) -> Result<Json<Vec<ReplayRecordDto>>, ApiError> {
    context.require_any_role(REPLAY_READERS)?;
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=REPLAY_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {REPLAY_LIMIT_MAX}"),
        ));
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let records =
        replay_records(&mut tx, context.tenant.id, query.outlet.as_deref(), limit).await?;
    super::commit(tx).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|record| ReplayRecordDto {
                id: record.id.to_string(),
                outlet: record.outlet_code,
                order_id: record.order_id.map(|id| id.to_string()),
                rule: record.rule,
                resolution: record.resolution,
                detail: record.detail,
                device_id: record.device_id.map(|id| id.to_string()),
                op_seq: record.op_seq,
                occurred_at_ms: record.occurred_at_ms,
            })
            .collect(),
    ))
}
