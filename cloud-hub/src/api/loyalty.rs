//! Loyalty points and vouchers: the tenant's program, members (enrol, read with their ledger,
//! adjust), vouchers (issue, read with their redemptions, cancel). Outlets burn points and take
//! vouchers at the till within what the hub sends them; sales earn points when they reach the
//! hub (`shared_model::loyalty`).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use super::gift_cards::{body, parse_code};
use crate::store::loyalty::{
    self, LedgerEntry, LoyaltyChangeError, Member, StoredVoucher, VoucherRedemption,
};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::loyalty::{
    LoyaltyProgram, OFFLINE_BURN_POINTS_DEFAULT, POINTS_MAX, VOUCHER_VALUE_MINOR_MAX, Voucher,
};
use utoipa::ToSchema;

/// Roles that set the program, enrol and adjust members, issue and cancel vouchers (head
/// office, the CRM or web shop as a service).
pub const LOYALTY_WRITERS: &[&str] = &["admin", "manager", "service"];
/// Roles that read members, their ledgers and vouchers.
pub const LOYALTY_READERS: &[&str] = &["admin", "manager", "service", "auditor", "analyst"];
/// Longest member name. Why 120: a full name as a CRM stores it, with room to spare.
pub const MEMBER_NAME_CHARS_MAX: usize = 120;
/// Longest adjustment reason. Why 500: a sentence or two for the auditor.
pub const REASON_CHARS_MAX: usize = 500;
/// Largest money per point (earn) or per point value. Why 10,000,000: a point per 100,000.00
/// is already far beyond any program; bigger is a typo.
pub const RATE_MINOR_MAX: i64 = 10_000_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoyaltyProgramRequest {
    /// ISO 4217 currency the rates are in.
    pub currency: String,
    /// Money paid (in money tenders, not refunded) for one point, e.g. 10000: a point per 100.00.
    pub earn_minor_per_point: i64,
    /// What one point pays at the till, e.g. 100: 1.00.
    pub point_value_minor: i64,
    /// What each outlet may burn per member without the hub; default 5000.
    pub offline_burn_points: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoyaltyProgramDto {
    pub currency: String,
    pub earn_minor_per_point: i64,
    pub point_value_minor: i64,
    pub offline_burn_points: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollMemberRequest {
    /// The member's card or phone-based code: 6 to 32 letters, digits or `-`, at least one
    /// letter.
    pub code: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustPointsRequest {
    /// Signed: a goodwill credit is positive, a correction may be negative (never below zero).
    pub points: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointsEntryDto {
    pub id: String,
    /// `earn`, `burn`, `restore` or `adjust`.
    pub kind: String,
    /// Signed: burns are negative; an `earn` entry is negative when a refund took points back.
    pub points: i64,
    pub balance_after_points: i64,
    pub outlet: Option<String>,
    pub order_id: Option<String>,
    pub reason: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    pub code: String,
    pub name: String,
    /// Negative when outlets offline at once burned more than the balance (see
    /// `offline-event-replay`).
    pub balance_points: i64,
    /// `active` or `closed`.
    pub state: String,
    /// Newest 100 entries, oldest first (absent on writes).
    pub ledger: Option<Vec<PointsEntryDto>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueVoucherRequest {
    /// Printed on the voucher: 6 to 32 letters, digits or `-`, at least one letter.
    pub code: String,
    pub currency: String,
    /// What the voucher pays, once; what a smaller bill leaves of it is forfeited.
    pub value_minor: i64,
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherRedemptionDto {
    pub id: String,
    pub outlet: Option<String>,
    pub order_id: String,
    pub amount_minor: i64,
    /// Taken after the voucher was already used or cancelled (an outlet that had not heard).
    pub duplicate: bool,
    pub at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherDto {
    pub code: String,
    pub currency: String,
    pub value_minor: i64,
    /// `active`, `redeemed` or `cancelled`.
    pub state: String,
    pub expires_at_ms: Option<i64>,
    /// Every redemption outlets reported, oldest first (absent on writes).
    pub redemptions: Option<Vec<VoucherRedemptionDto>>,
}

fn program_dto(program: &LoyaltyProgram) -> LoyaltyProgramDto {
    LoyaltyProgramDto {
        currency: program.currency.clone(),
        earn_minor_per_point: program.earn_minor_per_point,
        point_value_minor: program.point_value_minor,
        offline_burn_points: program.offline_burn_points,
    }
}

fn member_dto(member: &Member, ledger: Option<&[LedgerEntry]>) -> MemberDto {
    MemberDto {
        code: member.code.clone(),
        name: member.name.clone(),
        balance_points: member.balance_points,
        state: member.state.clone(),
        ledger: ledger.map(|entries| {
            entries
                .iter()
                .map(|entry| PointsEntryDto {
                    id: entry.id.to_string(),
                    kind: entry.kind.clone(),
                    points: entry.points,
                    balance_after_points: entry.balance_after_points,
                    outlet: entry.outlet_code.clone(),
                    order_id: entry.order_id.map(|id| id.to_string()),
                    reason: entry.reason.clone(),
                    at_ms: entry.at_ms,
                })
                .collect()
        }),
    }
}

fn voucher_dto(stored: &StoredVoucher, redemptions: Option<&[VoucherRedemption]>) -> VoucherDto {
    VoucherDto {
        code: stored.voucher.code.clone(),
        currency: stored.voucher.currency.clone(),
        value_minor: stored.voucher.value_minor,
        state: stored.state.clone(),
        expires_at_ms: stored.voucher.expires_at_ms,
        redemptions: redemptions.map(|entries| {
            entries
                .iter()
                .map(|entry| VoucherRedemptionDto {
                    id: entry.id.to_string(),
                    outlet: entry.outlet_code.clone(),
                    order_id: entry.order_id.to_string(),
                    amount_minor: entry.amount_minor,
                    duplicate: entry.duplicate,
                    at_ms: entry.at_ms,
                })
                .collect()
        }),
    }
}

fn change_error(error: LoyaltyChangeError) -> ApiError {
    let message = error.to_string();
    match error {
        LoyaltyChangeError::NoProgram => {
            ApiError::new(StatusCode::CONFLICT, "no_loyalty_program", message, None)
        }
        LoyaltyChangeError::DuplicateMember | LoyaltyChangeError::DuplicateVoucher => {
            ApiError::new(
                StatusCode::CONFLICT,
                "duplicate_code",
                message,
                Some("code"),
            )
        }
        LoyaltyChangeError::NotFound => ApiError::not_found(),
        LoyaltyChangeError::BelowZero { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "points_below_zero",
            message,
            Some("points"),
        ),
        LoyaltyChangeError::VoucherNotActive(_) => {
            ApiError::new(StatusCode::CONFLICT, "voucher_not_active", message, None)
        }
        LoyaltyChangeError::Store(error) => error.into(),
    }
}

fn code_field(code: &str) -> Result<String, ApiError> {
    parse_code(code).ok_or_else(|| {
        ApiError::invalid(
            "code",
            "6 to 32 letters, digits or '-', at least one letter",
        )
    })
}

fn text_field(field: &str, text: &str, chars_max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > chars_max || text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("1 to {chars_max} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

fn rate(field: &str, value: i64) -> Result<i64, ApiError> {
    if !(1..=RATE_MINOR_MAX).contains(&value) {
        return Err(ApiError::invalid(
            field,
            format!("must be between 1 and {RATE_MINOR_MAX}"),
        ));
    }
    Ok(value)
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/loyalty/program",
    params(("tenant" = String, Path)), request_body = LoyaltyProgramRequest,
    responses((status = 200, body = LoyaltyProgramDto), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_program(
    State(state): State<AppState>,
    context: TenantContext,
    request: Result<Json<LoyaltyProgramRequest>, JsonRejection>,
) -> Result<Json<LoyaltyProgramDto>, ApiError> {
    context.require_any_role(LOYALTY_WRITERS)?;
    let request = body(request)?;
    let currency = shared_model::Currency::parse(&request.currency)
        .map_err(|e| ApiError::invalid("currency", e.to_string()))?;
    let offline_burn_points = request
        .offline_burn_points
        .unwrap_or(OFFLINE_BURN_POINTS_DEFAULT);
    if !(0..=POINTS_MAX).contains(&offline_burn_points) {
        return Err(ApiError::invalid(
            "offline_burn_points",
            format!("must be between 0 and {POINTS_MAX}"),
        ));
    }
    let program = LoyaltyProgram {
        currency: currency.code().to_owned(),
        earn_minor_per_point: rate("earn_minor_per_point", request.earn_minor_per_point)?,
        point_value_minor: rate("point_value_minor", request.point_value_minor)?,
        offline_burn_points,
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    loyalty::set_program(&mut tx, context.tenant.id, &program).await?;
    super::commit(tx).await?;
    Ok(Json(program_dto(&program)))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/loyalty/program",
    params(("tenant" = String, Path)),
    responses((status = 200, body = LoyaltyProgramDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_program(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<LoyaltyProgramDto>, ApiError> {
    context.require_any_role(LOYALTY_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let program = loyalty::program(&mut tx, context.tenant.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(program_dto(&program)))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/loyalty/members",
    params(("tenant" = String, Path)), request_body = EnrollMemberRequest,
    responses((status = 201, body = MemberDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn enroll(
    State(state): State<AppState>,
    context: TenantContext,
    request: Result<Json<EnrollMemberRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MemberDto>), ApiError> {
    context.require_any_role(LOYALTY_WRITERS)?;
    let request = body(request)?;
    let code = code_field(&request.code)?;
    let name = text_field("name", &request.name, MEMBER_NAME_CHARS_MAX)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let member = loyalty::enroll(&mut tx, context.tenant.id, &code, &name)
        .await
        .map_err(change_error)?;
    super::commit(tx).await?;
    Ok((StatusCode::CREATED, Json(member_dto(&member, None))))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/loyalty/members/{code}",
    params(("tenant" = String, Path), ("code" = String, Path)),
    responses((status = 200, body = MemberDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_member(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<MemberDto>, ApiError> {
    context.require_any_role(LOYALTY_READERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let (member, ledger) = loyalty::get_member(&mut tx, context.tenant.id, &code)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(member_dto(&member, Some(&ledger))))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/loyalty/members/{code}/adjustments",
    params(("tenant" = String, Path), ("code" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "send one: a retried adjustment is then applied once")),
    request_body = AdjustPointsRequest,
    responses((status = 200, body = MemberDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn adjust(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    request: Result<Json<AdjustPointsRequest>, JsonRejection>,
) -> Result<Json<MemberDto>, ApiError> {
    context.require_any_role(LOYALTY_WRITERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let request = body(request)?;
    if request.points == 0 || request.points.abs() > POINTS_MAX {
        return Err(ApiError::invalid(
            "points",
            format!("must be non-zero and at most {POINTS_MAX} either way"),
        ));
    }
    let reason = text_field("reason", &request.reason, REASON_CHARS_MAX)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let member = loyalty::adjust(
        &mut tx,
        context.tenant.id,
        &code,
        request.points,
        &reason,
        crate::now_ms(),
    )
    .await
    .map_err(change_error)?;
    super::commit(tx).await?;
    Ok(Json(member_dto(&member, None)))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/vouchers",
    params(("tenant" = String, Path)), request_body = IssueVoucherRequest,
    responses((status = 201, body = VoucherDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue_voucher(
    State(state): State<AppState>,
    context: TenantContext,
    request: Result<Json<IssueVoucherRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<VoucherDto>), ApiError> {
    context.require_any_role(LOYALTY_WRITERS)?;
    let request = body(request)?;
    let code = code_field(&request.code)?;
    let currency = shared_model::Currency::parse(&request.currency)
        .map_err(|e| ApiError::invalid("currency", e.to_string()))?;
    if !(1..=VOUCHER_VALUE_MINOR_MAX).contains(&request.value_minor) {
        return Err(ApiError::invalid(
            "value_minor",
            format!("must be between 1 and {VOUCHER_VALUE_MINOR_MAX}"),
        ));
    }
    if request
        .expires_at_ms
        .is_some_and(|at| at <= crate::now_ms())
    {
        return Err(ApiError::invalid("expires_at_ms", "must be in the future"));
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let stored = loyalty::issue_voucher(
        &mut tx,
        context.tenant.id,
        &Voucher {
            code,
            currency: currency.code().to_owned(),
            value_minor: request.value_minor,
            active: true,
            expires_at_ms: request.expires_at_ms,
        },
    )
    .await
    .map_err(change_error)?;
    super::commit(tx).await?;
    Ok((StatusCode::CREATED, Json(voucher_dto(&stored, None))))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/vouchers/{code}",
    params(("tenant" = String, Path), ("code" = String, Path)),
    responses((status = 200, body = VoucherDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_voucher(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<VoucherDto>, ApiError> {
    context.require_any_role(LOYALTY_READERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let (stored, redemptions) = loyalty::get_voucher(&mut tx, context.tenant.id, &code)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(voucher_dto(&stored, Some(&redemptions))))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/vouchers/{code}/cancel",
    params(("tenant" = String, Path), ("code" = String, Path)),
    responses((status = 200, body = VoucherDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel_voucher(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<VoucherDto>, ApiError> {
    context.require_any_role(LOYALTY_WRITERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let stored = loyalty::cancel_voucher(&mut tx, context.tenant.id, &code)
        .await
        .map_err(change_error)?;
    super::commit(tx).await?;
    Ok(Json(voucher_dto(&stored, None)))
}
