//! Sales reports at the LAN: the X report of the day so far, closing the day with its numbered
//! Z report, and the Z reports of earlier days.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::reports::{self, ReportError};
use crate::services::staff::Caller;
use crate::store::{CloseDayError, XReport, ZReport};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use shared_model::day_report::{SalesSummary, TenderLine};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxLineDto {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenderLineDto {
    /// `cash`, `card`, `mpesa`, `gift_card`, `loyalty_points` or `voucher`.
    pub tender: String,
    pub count: u32,
    pub amount_minor: i64,
}

/// An outlet's sales in a period (see `shared_model::day_report`): sales by when orders closed,
/// takings and refunds by when they happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesSummaryDto {
    pub orders_closed: u32,
    pub gross_sales_minor: i64,
    pub discounts_minor: i64,
    pub service_charge_minor: i64,
    pub net_sales_minor: i64,
    pub tax_minor: i64,
    pub taxes: Vec<TaxLineDto>,
    pub cash_rounding_minor: i64,
    pub sales_total_minor: i64,
    pub tips_minor: i64,
    pub payments: Vec<TenderLineDto>,
    pub refunds: Vec<TenderLineDto>,
    pub net_takings_minor: i64,
    pub voided_orders: u32,
    pub voided_orders_minor: i64,
    /// Lines voided after the kitchen had them.
    pub voided_lines: u32,
    pub voided_lines_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct XReportDto {
    /// The number this day's Z report will take.
    pub next_z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub summary: SalesSummaryDto,
    /// Orders still on the floor (they land in the day they close).
    pub open_orders: u32,
    pub open_orders_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZReportDto {
    pub z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub currency: String,
    pub summary: SalesSummaryDto,
    pub closed_by: String,
    pub closed_at_ms: i64,
}

fn tender_lines(lines: &[TenderLine]) -> Vec<TenderLineDto> {
    lines
        .iter()
        .map(|line| TenderLineDto {
            tender: line.tender.as_str().to_owned(),
            count: line.count,
            amount_minor: line.amount_minor,
        })
        .collect()
}

impl From<&SalesSummary> for SalesSummaryDto {
    fn from(summary: &SalesSummary) -> Self {
        SalesSummaryDto {
            orders_closed: summary.orders_closed,
            gross_sales_minor: summary.gross_sales_minor,
            discounts_minor: summary.discounts_minor,
            service_charge_minor: summary.service_charge_minor,
            net_sales_minor: summary.net_sales_minor,
            tax_minor: summary.tax_minor,
            taxes: summary
                .taxes
                .iter()
                .map(|line| TaxLineDto {
                    code: line.code.clone(),
                    rate_bps: line.rate_bps,
                    taxable_minor: line.taxable_minor,
                    tax_minor: line.tax_minor,
                })
                .collect(),
            cash_rounding_minor: summary.cash_rounding_minor,
            sales_total_minor: summary.sales_total_minor,
            tips_minor: summary.tips_minor,
            payments: tender_lines(&summary.payments),
            refunds: tender_lines(&summary.refunds),
            net_takings_minor: summary.net_takings_minor,
            voided_orders: summary.voided_orders,
            voided_orders_minor: summary.voided_orders_minor,
            voided_lines: summary.voided_lines,
            voided_lines_minor: summary.voided_lines_minor,
        }
    }
}

impl From<&ZReport> for ZReportDto {
    fn from(report: &ZReport) -> Self {
        ZReportDto {
            z_number: report.z_number,
            from_ms: report.from_ms,
            to_ms: report.to_ms,
            currency: report.currency.clone(),
            summary: SalesSummaryDto::from(&report.summary),
            closed_by: report.closed_by.to_string(),
            closed_at_ms: report.closed_at_ms,
        }
    }
}

impl From<&XReport> for XReportDto {
    fn from(report: &XReport) -> Self {
        XReportDto {
            next_z_number: report.next_z_number,
            from_ms: report.from_ms,
            to_ms: report.to_ms,
            summary: SalesSummaryDto::from(&report.summary),
            open_orders: report.open_orders,
            open_orders_minor: report.open_orders_minor,
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> Self {
        let message = error.to_string();
        match error {
            ReportError::Access(access) => access.into(),
            ReportError::Close(CloseDayError::DrawersOpen(_)) => {
                ApiError::new(StatusCode::CONFLICT, "drawers_open", message, None)
            }
            ReportError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "z_report_not_found", message, None)
            }
            ReportError::Store(store) => store.into(),
        }
    }
}

#[utoipa::path(get, path = "/v1/reports/day",
    responses((status = 200, body = XReportDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn day(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<XReportDto>, ApiError> {
    let report = reports::x_report(state.store.clone(), caller, now_ms()).await?;
    Ok(Json(XReportDto::from(&report)))
}

#[utoipa::path(post, path = "/v1/reports/day/close",
    responses((status = 201, body = ZReportDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn close_day(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<(StatusCode, Json<ZReportDto>), ApiError> {
    let report = reports::close_day(
        state.store.clone(),
        caller,
        state.orders.currency(),
        now_ms(),
    )
    .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(ZReportDto::from(&report))))
}

#[utoipa::path(get, path = "/v1/reports/z",
    responses((status = 200, body = [ZReportDto]), (status = 403, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn z_reports(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<ZReportDto>>, ApiError> {
    let reports = reports::z_reports(state.store.clone(), caller).await?;
    Ok(Json(reports.iter().map(ZReportDto::from).collect()))
}

#[utoipa::path(get, path = "/v1/reports/z/{number}", params(("number" = u64, Path)),
    responses((status = 200, body = ZReportDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn z_report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ZReportDto>, ApiError> {
    let Path(number) = path?;
    let number: u64 = number
        .parse()
        .map_err(|_| ApiError::from(ReportError::NotFound))?;
    let report = reports::z_report(state.store.clone(), caller, number).await?;
    Ok(Json(ZReportDto::from(&report)))
}
