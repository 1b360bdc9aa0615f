//! Cash-drawer routes for the terminal the request comes from.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::drawers::Movement;
use crate::services::staff::Caller;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::drawer::{DrawerReport, DrawerSession, TenderCount};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDrawerRequest {
    /// Cash put in the drawer at the start (0 allowed).
    pub float_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashMovementRequest {
    pub amount_minor: i64,
    /// Why (required for pay-ins and pay-outs).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderCountDto {
    pub tender: String,
    pub counted_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    pub counts: Vec<TenderCountDto>,
}

/// What the terminal sees of its drawer: never the expected takings (the count is blind).
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawerDto {
    pub session_id: String,
    /// `open`, `counted` or `closed`.
    pub state: String,
    pub float_minor: i64,
    /// Set once closed: the Z report's number.
    pub z_number: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AmountByTender {
    pub tender: String,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountedByTender {
    pub tender: String,
    pub counted_minor: i64,
    /// counted − expected.
    pub variance_minor: i64,
}

/// An X report (open drawer) or the Z report (at close).
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawerReportDto {
    pub float_minor: i64,
    pub taken: Vec<AmountByTender>,
    pub refunded: Vec<AmountByTender>,
    pub paid_in_minor: i64,
    pub paid_out_minor: i64,
    pub dropped_minor: i64,
    pub no_sales: u32,
    pub expected: Vec<AmountByTender>,
    pub counted: Vec<CountedByTender>,
    pub z_number: Option<u64>,
}

impl From<&DrawerSession> for DrawerDto {
    fn from(session: &DrawerSession) -> Self {
        DrawerDto {
            session_id: session.id.to_string(),
            state: session.state.as_str().to_owned(),
            float_minor: session.float_minor,
            z_number: session.report().z_number,
        }
    }
}

impl From<DrawerReport> for DrawerReportDto {
    fn from(report: DrawerReport) -> Self {
        let by_tender = |rows: Vec<(shared_model::Tender, i64)>| {
            rows.into_iter()
                .map(|(tender, amount_minor)| AmountByTender {
                    tender: tender.as_str().to_owned(),
                    amount_minor,
                })
                .collect()
        };
        DrawerReportDto {
            float_minor: report.float_minor,
            taken: by_tender(report.taken),
            refunded: by_tender(report.refunded),
            paid_in_minor: report.paid_in_minor,
            paid_out_minor: report.paid_out_minor,
            dropped_minor: report.dropped_minor,
            no_sales: report.no_sales,
            expected: by_tender(report.expected),
            counted: report
                .counted
                .into_iter()
                .map(|(tender, counted_minor, variance_minor)| CountedByTender {
                    tender: tender.as_str().to_owned(),
                    counted_minor,
                    variance_minor,
                })
                .collect(),
            z_number: report.z_number,
        }
    }
}

#[utoipa::path(post, path = "/v1/drawer", request_body = OpenDrawerRequest,
    responses((status = 201, body = DrawerDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn open(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<OpenDrawerRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<DrawerDto>), ApiError> {
    let Json(request) = body?;
    let session = state
        .drawers
        .open(caller, request.float_minor, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(DrawerDto::from(&session))))
}

async fn movement(
    state: AppState,
    caller: Caller,
    movement: Movement,
) -> Result<Json<DrawerDto>, ApiError> {
    let session = state.drawers.change(caller, movement, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok(Json(DrawerDto::from(&session)))
}

#[utoipa::path(post, path = "/v1/drawer/pay-ins", request_body = CashMovementRequest,
    responses((status = 200, body = DrawerDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pay_in(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CashMovementRequest>, JsonRejection>,
) -> Result<Json<DrawerDto>, ApiError> {
    let Json(request) = body?;
    let reason = request.reason.unwrap_or_default();
    movement(
        state,
        caller,
        Movement::PayIn {
            amount_minor: request.amount_minor,
            reason,
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/drawer/pay-outs", request_body = CashMovementRequest,
    responses((status = 200, body = DrawerDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pay_out(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CashMovementRequest>, JsonRejection>,
) -> Result<Json<DrawerDto>, ApiError> {
    let Json(request) = body?;
    let reason = request.reason.unwrap_or_default();
    movement(
        state,
        caller,
        Movement::PayOut {
            amount_minor: request.amount_minor,
            reason,
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/drawer/drops", request_body = CashMovementRequest,
    responses((status = 200, body = DrawerDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn drop_to_safe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CashMovementRequest>, JsonRejection>,
) -> Result<Json<DrawerDto>, ApiError> {
    let Json(request) = body?;
    movement(
        state,
        caller,
        Movement::Drop {
            amount_minor: request.amount_minor,
        },
    )
    .await
}

/// The blind count: the answer says only that the count is recorded.
#[utoipa::path(post, path = "/v1/drawer/count", request_body = CountRequest,
    responses((status = 200, body = DrawerDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn count(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CountRequest>, JsonRejection>,
) -> Result<Json<DrawerDto>, ApiError> {
    let Json(request) = body?;
    let counts = request
        .counts
        .iter()
        .map(|count| {
            let tender = shared_model::Tender::parse(&count.tender).ok_or_else(|| {
                ApiError::invalid("counts", format!("unknown tender {:?}", count.tender))
            })?;
            Ok(TenderCount {
                tender,
                counted_minor: count.counted_minor,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    movement(state, caller, Movement::Count(counts)).await
}

/// Closes a counted drawer and returns its numbered Z report.
#[utoipa::path(post, path = "/v1/drawer/close",
    responses((status = 200, body = DrawerReportDto), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn close(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<DrawerReportDto>, ApiError> {
    let session = state
        .drawers
        .change(caller, Movement::Close, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok(Json(DrawerReportDto::from(session.report())))
}

/// The X report of this terminal's open drawer (supervisors and managers only).
#[utoipa::path(get, path = "/v1/drawer",
    responses((status = 200, body = DrawerReportDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<DrawerReportDto>, ApiError> {
    Ok(Json(DrawerReportDto::from(
        state.drawers.report(caller).await?,
    )))
}
