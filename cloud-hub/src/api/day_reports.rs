//! The outlets' Z reports (closed business days): each as the outlet closed it, with the figures
//! the hub computed from its own copy of the orders and whether they agree.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::day_reports::{self, DayReport};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use shared_model::day_report::SalesSummary;
use utoipa::ToSchema;

/// Roles that read an outlet's Z reports.
pub const DAY_REPORT_READERS: &[&str] = &["admin", "manager", "analyst", "auditor", "service"];

#[derive(Debug, Serialize, ToSchema)]
pub struct DayReportDto {
    pub outlet: String,
    pub z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub currency: String,
    /// As the outlet closed it: orders closed, gross, discounts, service charge, net, tax (and
    /// per rate), cash rounding, sales total, tips, takings and refunds per tender, voids.
    #[schema(value_type = Object)]
    pub summary: SalesSummary,
    /// The same period computed by the hub from the facts it holds.
    #[schema(value_type = Object)]
    pub hub_summary: SalesSummary,
    /// Whether the two agree to the cent.
    pub matches_hub: bool,
    pub closed_by: String,
    pub closed_at_ms: i64,
}

fn dto(outlet: &str, report: DayReport) -> DayReportDto {
    DayReportDto {
        outlet: outlet.to_owned(),
        z_number: report.z_number,
        from_ms: report.from_ms,
        to_ms: report.to_ms,
        currency: report.currency,
        summary: report.summary,
        hub_summary: report.hub_summary,
        matches_hub: report.matches,
        closed_by: report.closed_by.to_string(),
        closed_at_ms: report.closed_at_ms,
    }
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/z-reports",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    responses((status = 200, body = [DayReportDto]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<DayReportDto>>, ApiError> {
    context.require_any_role(DAY_REPORT_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let reports = day_reports::list(&mut tx, context.tenant.id, outlet.id).await?;
    super::commit(tx).await?;
    Ok(Json(
        reports
            .into_iter()
            .map(|report| dto(&outlet.code, report))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/z-reports/{number}",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code"),
        ("number" = u64, Path)),
    responses((status = 200, body = DayReportDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
) -> Result<Json<DayReportDto>, ApiError> {
    context.require_any_role(DAY_REPORT_READERS)?;
    let number: u64 = path.2.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let report = day_reports::get(&mut tx, context.tenant.id, outlet.id, number)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(dto(&outlet.code, report)))
}
