//! An outlet's floor plan, edited at head office and in the shop: an automerge document both
//! sides change field by field (see `sync_protocol::docs`), so a table added at the hub and a
//! table re-seated in the shop while the link was down both survive.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::outlet_docs;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sync_protocol::docs::PlanTable;
use utoipa::ToSchema;

/// Roles that read and lay out floor plans.
pub const PLAN_READERS: &[&str] = &["admin", "manager", "service", "auditor", "analyst"];
pub const PLAN_WRITERS: &[&str] = &["admin", "manager"];
/// Most tables on a plan, seats at a table, and characters in a code or area: as at the till.
pub const PLAN_TABLES_MAX: usize = 500;
pub const PLAN_SEATS_MAX: u32 = 99;
pub const PLAN_LABEL_CHARS_MAX: usize = 32;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanTableDto {
    pub code: String,
    pub area: String,
    pub seats: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FloorPlanRequest {
    /// The whole plan, in floor order. Only what differs from the plan as it stands is
    /// written: edits the shop made meanwhile to other tables or fields are kept.
    pub tables: Vec<PlanTableDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FloorPlanDto {
    /// The merged plan, in floor order.
    pub tables: Vec<PlanTableDto>,
    /// The outlet's feed position carrying this change (absent when nothing changed, and on
    /// reads).
    pub feed_through_seq: Option<u64>,
}

fn dto(tables: Vec<PlanTable>, feed_through_seq: Option<u64>) -> FloorPlanDto {
    FloorPlanDto {
        tables: tables
            .into_iter()
            .map(|table| PlanTableDto {
                code: table.code,
                area: table.area,
                seats: table.seats,
            })
            .collect(),
        feed_through_seq,
    }
}

fn label(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > PLAN_LABEL_CHARS_MAX
        || text.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            field,
            format!("1 to {PLAN_LABEL_CHARS_MAX} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

fn checked(tables: Vec<PlanTableDto>) -> Result<Vec<PlanTable>, ApiError> {
    if tables.len() > PLAN_TABLES_MAX {
        return Err(ApiError::invalid(
            "tables",
            format!("at most {PLAN_TABLES_MAX} tables"),
        ));
    }
    let mut plan: Vec<PlanTable> = Vec::with_capacity(tables.len());
    for (index, table) in tables.into_iter().enumerate() {
        let code = label(&format!("tables[{index}].code"), &table.code)?;
        if plan.iter().any(|other| other.code == code) {
            return Err(ApiError::invalid(
                &format!("tables[{index}].code"),
                format!("table {code} appears twice"),
            ));
        }
        if !(1..=PLAN_SEATS_MAX).contains(&table.seats) {
            return Err(ApiError::invalid(
                &format!("tables[{index}].seats"),
                format!("1 to {PLAN_SEATS_MAX}"),
            ));
        }
        plan.push(PlanTable {
            area: label(&format!("tables[{index}].area"), &table.area)?,
            code,
            seats: table.seats,
            position: index as u32,
        });
    }
    Ok(plan)
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/floor-plan",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    responses((status = 200, body = FloorPlanDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<FloorPlanDto>, ApiError> {
    context.require_any_role(PLAN_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let tables = outlet_docs::floor_plan(&mut tx, context.tenant.id, outlet.id).await?;
    super::commit(tx).await?;
    Ok(Json(dto(tables, None)))
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/floor-plan",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    request_body = FloorPlanRequest,
    responses((status = 200, body = FloorPlanDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    request: Result<Json<FloorPlanRequest>, JsonRejection>,
) -> Result<Json<FloorPlanDto>, ApiError> {
    context.require_any_role(PLAN_WRITERS)?;
    let Json(request) = request
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let plan = checked(request.tables)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let (tables, seq) =
        outlet_docs::put_floor_plan(&mut tx, context.tenant.id, outlet.id, &plan).await?;
    super::commit(tx).await?;
    Ok(Json(dto(tables, seq)))
}
