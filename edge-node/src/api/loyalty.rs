//! Loyalty and vouchers at the till: name the member an order earns for, pay with points within
//! what the hub allows this outlet on the member, pay with a voucher, look either up. Works with
//! the internet down; points are earned at the hub once the sale reaches it.

use super::AppState;
use super::dto::OrderDto;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::staff::Caller;
use crate::store::{LoyaltyPaymentError, MemberView, StoreError, VoucherView};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::OrderId;
use shared_model::loyalty::{BurnError, VoucherError};
use utoipa::ToSchema;

/// Longest member or voucher code. Why 32: the hub's limit for printed codes and QR payloads.
pub const LOYALTY_CODE_CHARS_MAX: usize = 32;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachMemberRequest {
    /// The member's code (card, app QR or phone-based code).
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsPaymentRequest {
    pub code: String,
    /// Points to burn; they pay `points × point_value_minor`, at most the balance due.
    pub points: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoucherPaymentRequest {
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoyaltyMemberDto {
    pub code: String,
    pub name: String,
    pub active: bool,
    /// The balance when the hub last sent it, less what this outlet burned since.
    pub balance_points: i64,
    /// What this outlet may still burn for the member before the hub confirms the balance.
    pub remaining_points: i64,
    /// Burned here and not yet counted by the hub.
    pub unconfirmed_points: i64,
    /// What one point pays here (absent until the hub sends the program).
    pub point_value_minor: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherDto {
    pub code: String,
    pub currency: String,
    pub value_minor: i64,
    /// False once used (here or, as far as the hub told this outlet, anywhere) or cancelled.
    pub usable: bool,
    pub expires_at_ms: Option<i64>,
    /// The order this outlet took it on.
    pub redeemed_on_order_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachMemberResponse {
    pub order_id: String,
    pub member: LoyaltyMemberDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointsPaymentResponse {
    pub order: OrderDto,
    pub member: LoyaltyMemberDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherPaymentResponse {
    pub order: OrderDto,
    pub voucher: VoucherDto,
}

fn member_dto(view: &MemberView, point_value_minor: Option<i64>) -> LoyaltyMemberDto {
    LoyaltyMemberDto {
        code: view.allowance.code.clone(),
        name: view.allowance.name.clone(),
        active: view.allowance.active,
        balance_points: view.allowance.balance_points - view.unconfirmed_points(),
        remaining_points: view.remaining_points(),
        unconfirmed_points: view.unconfirmed_points(),
        point_value_minor,
    }
}

fn voucher_dto(view: &VoucherView) -> VoucherDto {
    VoucherDto {
        code: view.voucher.code.clone(),
        currency: view.voucher.currency.clone(),
        value_minor: view.voucher.value_minor,
        usable: view.voucher.active && view.redeemed_on.is_none(),
        expires_at_ms: view.voucher.expires_at_ms,
        redeemed_on_order_id: view.redeemed_on.map(|id| id.0.to_string()),
    }
}

/// A code as printed: letters, digits and `-`, upper-cased.
fn parse_code(code: &str) -> Result<String, ApiError> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > LOYALTY_CODE_CHARS_MAX
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::invalid(
            "code",
            format!("1 to {LOYALTY_CODE_CHARS_MAX} letters, digits or '-'"),
        ));
    }
    Ok(code)
}

fn order_id(path: Result<Path<String>, PathRejection>) -> Result<OrderId, ApiError> {
    let Path(id) = path?;
    id.parse()
        .map_err(|_| ApiError::from(LoyaltyPaymentError::OrderNotFound))
}

impl From<LoyaltyPaymentError> for ApiError {
    fn from(error: LoyaltyPaymentError) -> Self {
        let message = error.to_string();
        let conflict = |code: &str, field: Option<&str>| {
            ApiError::new(StatusCode::CONFLICT, code, message.clone(), field)
        };
        match error {
            LoyaltyPaymentError::OrderNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            LoyaltyPaymentError::UnknownMember => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_loyalty_member",
                message,
                Some("code"),
            ),
            LoyaltyPaymentError::UnknownVoucher => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_voucher",
                message,
                Some("code"),
            ),
            LoyaltyPaymentError::NoProgram => conflict("no_loyalty_program", None),
            LoyaltyPaymentError::NotPayable(_) => conflict("order_not_payable", None),
            LoyaltyPaymentError::NotOpenForMembers(_) => conflict("order_not_open", None),
            LoyaltyPaymentError::BadAmount { .. } => ApiError::invalid("points", message),
            LoyaltyPaymentError::Currency { .. } => conflict("currency_mismatch", None),
            LoyaltyPaymentError::Burn(BurnError::BadPoints) => ApiError::invalid("points", message),
            LoyaltyPaymentError::Burn(BurnError::OverAllowance { .. }) => {
                conflict("loyalty_allowance_exceeded", Some("points"))
            }
            LoyaltyPaymentError::Burn(BurnError::Inactive) => {
                conflict("loyalty_member_closed", Some("code"))
            }
            LoyaltyPaymentError::Voucher(VoucherError::NothingDue) => {
                conflict("order_not_payable", None)
            }
            LoyaltyPaymentError::Voucher(_) => conflict("voucher_not_usable", Some("code")),
        }
    }
}

fn point_value(state: &AppState) -> Result<Option<i64>, StoreError> {
    Ok(state
        .store
        .loyalty_program()?
        .map(|program| program.point_value_minor))
}

#[utoipa::path(put, path = "/v1/orders/{id}/loyalty-member", params(("id" = String, Path)),
    request_body = AttachMemberRequest,
    responses((status = 200, body = AttachMemberResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn attach_member(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AttachMemberRequest>, JsonRejection>,
) -> Result<Json<AttachMemberResponse>, ApiError> {
    let order_id = order_id(path)?;
    let Json(request) = body?;
    let code = parse_code(&request.code)?;
    let state_in = state.clone();
    let (view, point_value_minor) = crate::services::blocking_with(move || {
        match state_in.store.attach_member(order_id, &code, now_ms())? {
            Ok(view) => Ok(Ok((view, point_value(&state_in)?))),
            Err(refusal) => Ok::<_, StoreError>(Err(refusal)),
        }
    })
    .await??;
    state.sync.notify_new_ops();
    Ok(Json(AttachMemberResponse {
        order_id: order_id.0.to_string(),
        member: member_dto(&view, point_value_minor),
    }))
}

#[utoipa::path(post, path = "/v1/orders/{id}/loyalty-payments", params(("id" = String, Path)),
    request_body = PointsPaymentRequest,
    responses((status = 201, body = PointsPaymentResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pay_with_points(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PointsPaymentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PointsPaymentResponse>), ApiError> {
    let order_id = order_id(path)?;
    let Json(request) = body?;
    let code = parse_code(&request.code)?;
    let terminal = caller.device.id;
    let state_in = state.clone();
    let ((order, view), point_value_minor) = crate::services::blocking_with(move || match state_in
        .store
        .burn_points(order_id, &code, request.points, terminal, now_ms())?
    {
        Ok(paid) => Ok(Ok((paid, point_value(&state_in)?))),
        Err(refusal) => Ok::<_, StoreError>(Err(refusal)),
    })
    .await??;
    state.sync.notify_new_ops();
    Ok((
        StatusCode::CREATED,
        Json(PointsPaymentResponse {
            order: OrderDto::from(&order),
            member: member_dto(&view, point_value_minor),
        }),
    ))
}

#[utoipa::path(post, path = "/v1/orders/{id}/voucher-payments", params(("id" = String, Path)),
    request_body = VoucherPaymentRequest,
    responses((status = 201, body = VoucherPaymentResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pay_with_voucher(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<VoucherPaymentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<VoucherPaymentResponse>), ApiError> {
    let order_id = order_id(path)?;
    let Json(request) = body?;
    let code = parse_code(&request.code)?;
    let terminal = caller.device.id;
    let store = state.store.clone();
    let (order, view) = crate::services::blocking_with(move || {
        store.redeem_voucher(order_id, &code, terminal, now_ms())
    })
    .await??;
    state.sync.notify_new_ops();
    Ok((
        StatusCode::CREATED,
        Json(VoucherPaymentResponse {
            order: OrderDto::from(&order),
            voucher: voucher_dto(&view),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/loyalty/members/{code}", params(("code" = String, Path)),
    responses((status = 200, body = LoyaltyMemberDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn get_member(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<LoyaltyMemberDto>, ApiError> {
    let Path(code) = path?;
    let code = parse_code(&code)?;
    let (view, point_value_minor) = crate::services::blocking(move || {
        Ok::<_, StoreError>((state.store.loyalty_member(&code)?, point_value(&state)?))
    })
    .await?;
    let view = view.ok_or_else(|| ApiError::from(LoyaltyPaymentError::UnknownMember))?;
    Ok(Json(member_dto(&view, point_value_minor)))
}

#[utoipa::path(get, path = "/v1/vouchers/{code}", params(("code" = String, Path)),
    responses((status = 200, body = VoucherDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn get_voucher(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<VoucherDto>, ApiError> {
    let Path(code) = path?;
    let code = parse_code(&code)?;
    let store = state.store.clone();
    let view = crate::services::blocking(move || store.voucher(&code))
        .await?
        .ok_or_else(|| ApiError::from(LoyaltyPaymentError::UnknownVoucher))?;
    Ok(Json(voucher_dto(&view)))
}
