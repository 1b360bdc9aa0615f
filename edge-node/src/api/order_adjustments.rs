//! Changing a bill after its lines are in: line voids, discounts, merging two bills, splitting
//! one, and the outlet's discount threshold.

use super::AppState;
use super::dto::{ApprovalDto, OrderDto};
use super::error::{ApiError, ErrorBody};
use super::orders::order_id;
use crate::now_ms;
use crate::services::orders::SplitAsk;
use crate::services::staff::Caller;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::order::DiscountTarget;
use shared_model::pricing::DiscountKind;
use shared_model::{LineId, OrderId};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineVoidRequest {
    pub reason: String,
    /// A supervisor's override, needed to void a line the kitchen already has when the
    /// signed-in role may not.
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountRequest {
    /// The line to discount; omit it to discount the whole bill.
    #[serde(default)]
    pub line_id: Option<String>,
    /// A percentage in basis points (1000 = 10%); or give `amount_minor`.
    #[serde(default)]
    pub percent_bps: Option<u32>,
    #[serde(default)]
    pub amount_minor: Option<i64>,
    pub reason: String,
    /// A supervisor's override for a discount above the outlet's threshold.
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The order whose lines move onto this one; it ends as `merged`.
    pub from_order_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// `seat`, `evenly`, `items` or `amounts`.
    pub by: String,
    /// For `evenly`: how many ways.
    #[serde(default)]
    pub ways: Option<usize>,
    /// For `items`: the line ids of each share; every live line in exactly one.
    #[serde(default)]
    pub groups: Option<Vec<Vec<String>>>,
    /// For `amounts`: what each guest pays; the last share takes the rest.
    #[serde(default)]
    pub amounts_minor: Option<Vec<i64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillShareDto {
    pub seat: Option<u16>,
    pub line_ids: Vec<String>,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SplitDto {
    pub order_id: String,
    pub total_minor: i64,
    /// Each guest's share; they add up to `total_minor` exactly. Each is paid as a payment on
    /// the order.
    pub shares: Vec<BillShareDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCodeRequest {
    /// The code the customer gives (case does not matter).
    pub code: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountPolicyDto {
    /// The share of a line or of the bill a cashier may discount without a supervisor, in
    /// basis points (default 1000 = 10%).
    pub threshold_bps: u32,
}

fn line_id(text: &str, field: &str) -> Result<LineId, ApiError> {
    text.parse()
        .map(LineId)
        .map_err(|_| ApiError::invalid(field, "line ids are UUIDs"))
}

/// Voids one line; a line the kitchen already has is "void after send" (high-risk, audited,
/// struck through on the kitchen's tickets).
#[utoipa::path(post, path = "/v1/orders/{id}/lines/{line_id}/void",
    params(("id" = String, Path), ("line_id" = String, Path)), request_body = LineVoidRequest,
    responses((status = 200, body = OrderDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn void_line(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<LineVoidRequest>, JsonRejection>,
) -> Result<Json<OrderDto>, ApiError> {
    let Path((order, line)) = path?;
    let order_id: OrderId = order.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "order not found",
            None,
        )
    })?;
    let line_id = line_id(&line, "line_id")?;
    let Json(request) = body?;
    let approval = super::staff::approval(request.approval)?;
    let (order, announced) = state
        .orders
        .void_line(
            order_id,
            line_id,
            request.reason,
            caller,
            approval,
            now_ms(),
        )
        .await?;
    if let Some(seq) = announced {
        state.events.published(seq);
    }
    state.sync.notify_new_ops();
    Ok(Json(OrderDto::from(&order)))
}

/// A discount on a line or on the bill, with a reason. Above the outlet's threshold it needs
/// the permission or an `approval`, and is audited.
#[utoipa::path(post, path = "/v1/orders/{id}/discounts", params(("id" = String, Path)),
    request_body = DiscountRequest,
    responses((status = 201, body = OrderDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn discount(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<DiscountRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let kind = match (request.percent_bps, request.amount_minor) {
        (Some(percent_bps), None) => DiscountKind::Percent { percent_bps },
        (None, Some(amount_minor)) => DiscountKind::Amount { amount_minor },
        _ => {
            return Err(ApiError::invalid(
                "percent_bps",
                "give percent_bps or amount_minor, one of them",
            ));
        }
    };
    let target = match request.line_id.as_deref() {
        Some(text) => DiscountTarget::Line {
            line_id: line_id(text, "line_id")?,
        },
        None => DiscountTarget::Order,
    };
    let approval = super::staff::approval(request.approval)?;
    let order = state
        .orders
        .discount(id, target, kind, request.reason, caller, approval, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleLabelsDto {
    /// `[{"prefix": 21, "item_digits": 5, "kind": "weight_grams"}, {"prefix": 22,
    /// "item_digits": 5, "kind": "price"}]`: a code starting with a listed prefix is a scale
    /// label `PP IIIII VVVVV C` (item PLU, then grams or the price in minor units).
    #[schema(value_type = Vec<Object>)]
    pub schemes: Vec<shared_model::barcode::EmbeddedScheme>,
}

#[utoipa::path(get, path = "/v1/settings/scale-labels",
    responses((status = 200, body = ScaleLabelsDto)),
    security(("device_token" = [])))]
pub async fn scale_labels(State(state): State<AppState>) -> Result<Json<ScaleLabelsDto>, ApiError> {
    Ok(Json(ScaleLabelsDto {
        schemes: state.orders.label_schemes().await?,
    }))
}

/// Sets how the outlet's scales print labels (inventory clerks, supervisors, managers).
#[utoipa::path(put, path = "/v1/settings/scale-labels", request_body = ScaleLabelsDto,
    responses((status = 200, body = ScaleLabelsDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn set_scale_labels(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ScaleLabelsDto>, JsonRejection>,
) -> Result<Json<ScaleLabelsDto>, ApiError> {
    let Json(request) = body?;
    Ok(Json(ScaleLabelsDto {
        schemes: state
            .orders
            .set_label_schemes(&caller, request.schemes)
            .await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComboRequest {
    pub combo_id: String,
    /// One item per slot: `[{"slot_id": "main", "item_id": "sku-burger"}, ...]`.
    #[schema(value_type = Vec<Object>)]
    pub choices: Vec<shared_model::modifiers::ComboChoice>,
    /// The cashier checked the customer's age (needed when a chosen item is age-restricted).
    #[serde(default)]
    pub age_verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComboDto {
    pub id: String,
    pub name: String,
    pub price_minor: i64,
    /// `[{"id", "name", "options": [{"item_id", "upcharge_minor"}]}]`.
    #[schema(value_type = Vec<Object>)]
    pub slots: Vec<shared_model::modifiers::ComboSlot>,
}

/// The combos this outlet sells, as head office set them.
#[utoipa::path(get, path = "/v1/combos",
    responses((status = 200, body = [ComboDto])),
    security(("device_token" = [])))]
pub async fn combos(State(state): State<AppState>) -> Result<Json<Vec<ComboDto>>, ApiError> {
    let store = state.store.clone();
    let combos = crate::services::blocking(move || store.combos()).await?;
    Ok(Json(
        combos
            .into_iter()
            .map(|combo| ComboDto {
                id: combo.id,
                name: combo.name,
                price_minor: combo.price_minor,
                slots: combo.slots,
            })
            .collect(),
    ))
}

/// Adds a combo to the order: one line per slot at its share of the combo price (plus the
/// chosen items' upcharges), each taxed at its own rates, left out of promotions.
#[utoipa::path(post, path = "/v1/orders/{id}/combos", params(("id" = String, Path)),
    request_body = ComboRequest,
    responses((status = 201, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn add_combo(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<ComboRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let order = state
        .orders
        .add_combo(
            caller,
            id,
            request.combo_id,
            request.choices,
            request.age_verified,
            now_ms(),
        )
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

/// Enters a customer's promotion code on an open order; the order's promotions are evaluated
/// again with it (automatic promotions are evaluated on every line change anyway).
#[utoipa::path(post, path = "/v1/orders/{id}/promo-codes", params(("id" = String, Path)),
    request_body = PromoCodeRequest,
    responses((status = 201, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn promo_code(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PromoCodeRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let order = state.orders.enter_code(id, request.code, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

/// Merges another open bill into this one (joining tables, a bar tab moved onto dinner).
#[utoipa::path(post, path = "/v1/orders/{id}/merge", params(("id" = String, Path)),
    request_body = MergeRequest,
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn merge(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> Result<Json<OrderDto>, ApiError> {
    let into = order_id(path)?;
    let Json(request) = body?;
    let from: OrderId = request
        .from_order_id
        .parse()
        .map_err(|_| ApiError::invalid("from_order_id", "order ids are UUIDs"))?;
    let order = state.orders.merge(into, from, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok(Json(OrderDto::from(&order)))
}

/// How the bill splits between guests (by seat, evenly, by items or by amounts). Nothing is
/// changed: each guest pays their share as a payment on the order.
#[utoipa::path(post, path = "/v1/orders/{id}/split", params(("id" = String, Path)),
    request_body = SplitRequest,
    responses((status = 200, body = SplitDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn split(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<SplitRequest>, JsonRejection>,
) -> Result<Json<SplitDto>, ApiError> {
    let id = order_id(path)?;
    let Json(request) = body?;
    let ask = match request.by.as_str() {
        "seat" => SplitAsk::BySeat,
        "evenly" => SplitAsk::Evenly(
            request
                .ways
                .ok_or_else(|| ApiError::invalid("ways", "an even split needs ways"))?,
        ),
        "items" => {
            let groups = request
                .groups
                .ok_or_else(|| ApiError::invalid("groups", "a split by items needs groups"))?;
            SplitAsk::ByItems(
                groups
                    .iter()
                    .map(|group| {
                        group
                            .iter()
                            .map(|text| line_id(text, "groups"))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
        "amounts" => SplitAsk::ByAmounts(request.amounts_minor.ok_or_else(|| {
            ApiError::invalid("amounts_minor", "a split by amounts needs amounts_minor")
        })?),
        other => {
            return Err(ApiError::invalid(
                "by",
                format!("unknown split {other:?}: seat, evenly, items or amounts"),
            ));
        }
    };
    let shares = state.orders.split(id, ask).await?;
    Ok(Json(SplitDto {
        order_id: id.to_string(),
        total_minor: shares.iter().map(|share| share.amount_minor).sum(),
        shares: shares
            .into_iter()
            .map(|share| BillShareDto {
                seat: share.seat,
                line_ids: share.line_ids.iter().map(|id| id.to_string()).collect(),
                amount_minor: share.amount_minor,
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/v1/settings/discount-policy",
    responses((status = 200, body = DiscountPolicyDto)),
    security(("device_token" = [])))]
pub async fn discount_policy(
    State(state): State<AppState>,
) -> Result<Json<DiscountPolicyDto>, ApiError> {
    Ok(Json(DiscountPolicyDto {
        threshold_bps: state.orders.discount_threshold().await?,
    }))
}

/// Sets the discount threshold; managers only.
#[utoipa::path(put, path = "/v1/settings/discount-policy", request_body = DiscountPolicyDto,
    responses((status = 200, body = DiscountPolicyDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn set_discount_policy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<DiscountPolicyDto>, JsonRejection>,
) -> Result<Json<DiscountPolicyDto>, ApiError> {
    let Json(request) = body?;
    Ok(Json(DiscountPolicyDto {
        threshold_bps: state
            .orders
            .set_discount_threshold(&caller, request.threshold_bps)
            .await?,
    }))
}
