//! Tips: entered on an order (on a card payment, or in the jar), and pooled among the staff
//! who worked a period by the outlet's rule.

use super::AppState;
use super::dto::OrderDto;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::staff::Caller;
use crate::services::tips::{self, TipPoolError};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::tips::TipPoolRule;
use shared_model::{OrderId, PaymentId};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TipRequest {
    pub amount_minor: i64,
    /// The card payment the tip was added on, if any.
    pub payment_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PoolQuery {
    /// Start of the period (epoch ms), inclusive.
    pub from_ms: i64,
    /// End of the period (epoch ms), exclusive; at most 31 days after `from_ms`.
    pub to_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TipOutDto {
    pub staff_id: String,
    /// Minutes worked, or points × minutes under a points rule.
    pub weight: u64,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TipPoolDto {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Tips added on the outlet's orders in the period (voided orders excluded).
    pub tips_minor: i64,
    /// `{"basis": "hours"}` or `{"basis": "points", "points": {"server": 10, ...}}`.
    #[schema(value_type = Object)]
    pub rule: TipPoolRule,
    /// Each staff member signed in during the period and their share; the shares add up to
    /// `tips_minor` to the cent (or are all zero when nobody has a weight).
    pub shares: Vec<TipOutDto>,
}

impl From<TipPoolError> for ApiError {
    fn from(error: TipPoolError) -> Self {
        match error {
            TipPoolError::BadPeriod | TipPoolError::PeriodNotOver => {
                ApiError::invalid("to_ms", error.to_string())
            }
            TipPoolError::NothingToPay => ApiError::new(
                StatusCode::CONFLICT,
                "nothing_to_pay_out",
                error.to_string(),
                None,
            ),
            TipPoolError::AlreadyPaidOut => ApiError::new(
                StatusCode::CONFLICT,
                "tips_already_paid_out",
                error.to_string(),
                None,
            ),
            TipPoolError::Drawer(refused) => {
                crate::services::drawers::DrawerServiceError::Change(refused).into()
            }
            TipPoolError::Access(error) => error.into(),
            TipPoolError::Store(error) => error.into(),
        }
    }
}

#[utoipa::path(post, path = "/v1/orders/{id}/tips", params(("id" = String, Path)), request_body = TipRequest,
    responses((status = 201, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn add(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<TipRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let Path(id) = path?;
    let order_id: OrderId = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "order not found",
            None,
        )
    })?;
    let Json(request) = body?;
    let payment_id = match request.payment_id.as_deref() {
        Some(text) => {
            Some(PaymentId(text.parse().map_err(|_| {
                ApiError::invalid("payment_id", "not a payment id")
            })?))
        }
        None => None,
    };
    let order = state
        .orders
        .add_tip(order_id, request.amount_minor, payment_id, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

#[utoipa::path(get, path = "/v1/tips/pool", params(PoolQuery),
    responses((status = 200, body = TipPoolDto), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pool(
    State(state): State<AppState>,
    query: Result<Query<PoolQuery>, QueryRejection>,
) -> Result<Json<TipPoolDto>, ApiError> {
    let Query(query) = query?;
    let pool = tips::pool(state.store.clone(), query.from_ms, query.to_ms, now_ms()).await?;
    Ok(Json(TipPoolDto {
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        tips_minor: pool.tips_minor,
        rule: pool.rule,
        shares: pool
            .outs
            .into_iter()
            .map(|out| TipOutDto {
                staff_id: out.staff_id.to_string(),
                weight: out.weight,
                amount_minor: out.amount_minor,
            })
            .collect(),
    }))
}

#[utoipa::path(put, path = "/v1/tips/rule",
    request_body(content = Object, description = "`{\"basis\": \"hours\"}` or `{\"basis\": \"points\", \"points\": {\"server\": 10, \"kitchen\": 5}}`"),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn set_rule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<TipPoolRule>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(rule) = body?;
    tips::set_rule(state.store.clone(), &caller, rule).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// The period to close, `[from_ms, to_ms)`; it must be over.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Hand the shares out in cash from this terminal's open drawer: the total leaves the
    /// drawer as a pay-out in the same commit (refused, with nothing recorded, when the
    /// terminal has no open drawer or not enough cash in it). Otherwise they go to payroll.
    #[serde(default)]
    pub in_cash_from_drawer: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TipPayoutDto {
    pub id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tips_minor: i64,
    pub shares: Vec<TipOutDto>,
    /// The manager who closed the period.
    pub by_staff_id: String,
    pub paid_at_ms: i64,
    /// The drawer session it was handed out from in cash; `null`: left to payroll.
    pub paid_from_drawer_session: Option<String>,
}

/// Pays out a period's tip pool: shares it by the outlet's rule and records who gets what,
/// once (a period overlapping an earlier payout is refused), as a fact for the hub and payroll.
/// Managers only.
#[utoipa::path(post, path = "/v1/tips/payouts", request_body = PayoutRequest,
    responses((status = 201, body = TipPayoutDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pay_out(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PayoutRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TipPayoutDto>), ApiError> {
    let Json(request) = body?;
    let (row, pool) = tips::pay_out(
        state.store.clone(),
        &caller,
        request.from_ms,
        request.to_ms,
        request.in_cash_from_drawer,
        now_ms(),
    )
    .await?;
    state.sync.notify_new_ops();
    Ok((
        StatusCode::CREATED,
        Json(TipPayoutDto {
            id: row.id.to_string(),
            from_ms: row.from_ms,
            to_ms: row.to_ms,
            tips_minor: row.tips_minor,
            shares: pool
                .outs
                .into_iter()
                .map(|out| TipOutDto {
                    staff_id: out.staff_id.to_string(),
                    weight: out.weight,
                    amount_minor: out.amount_minor,
                })
                .collect(),
            by_staff_id: row.by_staff_id.to_string(),
            paid_at_ms: row.paid_at_ms,
            paid_from_drawer_session: row.drawer_session_id,
        }),
    ))
}

/// The payouts made here, newest period first (at most 200).
#[utoipa::path(get, path = "/v1/tips/payouts",
    responses((status = 200, body = [TipPayoutDto])),
    security(("device_token" = [])))]
pub async fn payouts(State(state): State<AppState>) -> Result<Json<Vec<TipPayoutDto>>, ApiError> {
    let store = state.store.clone();
    let rows = crate::services::blocking(move || store.tip_payouts(200)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| TipPayoutDto {
                id: row.id.to_string(),
                from_ms: row.from_ms,
                to_ms: row.to_ms,
                tips_minor: row.tips_minor,
                shares: serde_json::from_value::<Vec<serde_json::Value>>(row.shares)
                    .unwrap_or_default()
                    .iter()
                    .map(|share| TipOutDto {
                        staff_id: share["staff_id"].as_str().unwrap_or_default().to_owned(),
                        weight: share["weight"].as_u64().unwrap_or_default(),
                        amount_minor: share["amount_minor"].as_i64().unwrap_or_default(),
                    })
                    .collect(),
                by_staff_id: row.by_staff_id.to_string(),
                paid_at_ms: row.paid_at_ms,
                paid_from_drawer_session: row.drawer_session_id,
            })
            .collect(),
    ))
}
