//! Drawer sessions and shift reports at the hub: each drawer's X or Z report as the hub rebuilt
//! it from the edge's drawer ops (the same `shared-model` rules the edge used, so the figures
//! match the edge's to the cent), and the outlet's totals over them.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::drawers::sessions_of_outlet;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use shared_model::Tender;
use shared_model::drawer::{DrawerReport, DrawerSession};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DrawersQuery {
    /// `closed`: only Z reports; absent: every session.
    pub state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AmountByTender {
    /// `cash`, `card`, `mpesa` or `gift_card`.
    pub tender: String,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountedByTender {
    pub tender: String,
    pub counted_minor: i64,
    /// Counted − expected.
    pub variance_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DrawerReportDto {
    pub session_id: String,
    pub terminal_id: String,
    pub cashier_id: String,
    /// `open`, `counted` or `closed`.
    pub state: String,
    /// The Z number of a closed drawer.
    pub z_number: Option<u64>,
    pub float_minor: i64,
    pub taken: Vec<AmountByTender>,
    pub refunded: Vec<AmountByTender>,
    pub paid_in_minor: i64,
    pub paid_out_minor: i64,
    pub dropped_minor: i64,
    pub no_sales: u32,
    pub expected: Vec<AmountByTender>,
    pub counted: Vec<CountedByTender>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutletTotalsDto {
    pub drawers: usize,
    pub float_minor: i64,
    pub taken: Vec<AmountByTender>,
    pub refunded: Vec<AmountByTender>,
    pub paid_in_minor: i64,
    pub paid_out_minor: i64,
    pub dropped_minor: i64,
    pub no_sales: u32,
    pub expected: Vec<AmountByTender>,
    pub counted: Vec<CountedByTender>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftReportDto {
    pub outlet: String,
    pub drawers: Vec<DrawerReportDto>,
    /// The sums over `drawers`, by tender.
    pub totals: OutletTotalsDto,
}

fn by_tender(rows: &[(Tender, i64)]) -> Vec<AmountByTender> {
    rows.iter()
        .map(|(tender, amount_minor)| AmountByTender {
            tender: tender.as_str().to_owned(),
            amount_minor: *amount_minor,
        })
        .collect()
}

fn drawer_dto(session: &DrawerSession, report: &DrawerReport) -> DrawerReportDto {
    DrawerReportDto {
        session_id: session.id.to_string(),
        terminal_id: session.terminal_id.clone(),
        cashier_id: session.cashier_id.clone(),
        state: session.state.as_str().to_owned(),
        z_number: report.z_number,
        float_minor: report.float_minor,
        taken: by_tender(&report.taken),
        refunded: by_tender(&report.refunded),
        paid_in_minor: report.paid_in_minor,
        paid_out_minor: report.paid_out_minor,
        dropped_minor: report.dropped_minor,
        no_sales: report.no_sales,
        expected: by_tender(&report.expected),
        counted: report
            .counted
            .iter()
            .map(|(tender, counted_minor, variance_minor)| CountedByTender {
                tender: tender.as_str().to_owned(),
                counted_minor: *counted_minor,
                variance_minor: *variance_minor,
            })
            .collect(),
    }
}

fn totals(reports: &[DrawerReport]) -> OutletTotalsDto {
    let sum = |pick: &dyn Fn(&DrawerReport) -> &Vec<(Tender, i64)>| {
        let mut by: BTreeMap<String, i64> = BTreeMap::new();
        for report in reports {
            for (tender, amount) in pick(report) {
                *by.entry(tender.as_str().to_owned()).or_default() += amount;
            }
        }
        by.into_iter()
            .map(|(tender, amount_minor)| AmountByTender {
                tender,
                amount_minor,
            })
            .collect::<Vec<_>>()
    };
    let mut counted: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for report in reports {
        for (tender, count, variance) in &report.counted {
            let entry = counted.entry(tender.as_str().to_owned()).or_default();
            entry.0 += count;
            entry.1 += variance;
        }
    }
    OutletTotalsDto {
        drawers: reports.len(),
        float_minor: reports.iter().map(|r| r.float_minor).sum(),
        taken: sum(&|r| &r.taken),
        refunded: sum(&|r| &r.refunded),
        paid_in_minor: reports.iter().map(|r| r.paid_in_minor).sum(),
        paid_out_minor: reports.iter().map(|r| r.paid_out_minor).sum(),
        dropped_minor: reports.iter().map(|r| r.dropped_minor).sum(),
        no_sales: reports.iter().map(|r| r.no_sales).sum(),
        expected: sum(&|r| &r.expected),
        counted: counted
            .into_iter()
            .map(
                |(tender, (counted_minor, variance_minor))| CountedByTender {
                    tender,
                    counted_minor,
                    variance_minor,
                },
            )
            .collect(),
    }
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/drawers",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code"), DrawersQuery),
    responses((status = 200, body = ShiftReportDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    query: Result<Query<DrawersQuery>, QueryRejection>,
) -> Result<Json<ShiftReportDto>, ApiError> {
    context.require_any_role(&["admin", "manager", "analyst", "auditor", "service"])?;
    let Query(query) = query.map_err(|e| ApiError::invalid("state", e.body_text()))?;
    let closed_only = match query.state.as_deref() {
        None => false,
        Some("closed") => true,
        Some(_) => return Err(ApiError::invalid("state", "closed, or leave it out")),
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let sessions = sessions_of_outlet(&mut tx, context.tenant.id, outlet.id, closed_only).await?;
    super::commit(tx).await?;
    let reports: Vec<DrawerReport> = sessions.iter().map(DrawerSession::report).collect();
    Ok(Json(ShiftReportDto {
        outlet: outlet.code,
        drawers: sessions
            .iter()
            .zip(&reports)
            .map(|(session, report)| drawer_dto(session, report))
            .collect(),
        totals: totals(&reports),
    }))
}
