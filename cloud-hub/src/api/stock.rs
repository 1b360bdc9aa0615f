//! Stock: transfers between a tenant's outlets (sent to the inventory service) and the
//! low-stock alerts it reports.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::StoreError;
use crate::store::service_calls::{self, NewTransfer, StockAlertRow, TransferRow};
use crate::store::tenants::outlet_by_code;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Roles that move stock between outlets.
pub const STOCK_WRITERS: &[&str] = &["admin", "manager", "inventory_clerk", "service"];
/// Roles that read transfers and stock alerts.
pub const STOCK_READERS: &[&str] = &[
    "admin",
    "manager",
    "inventory_clerk",
    "service",
    "auditor",
    "analyst",
];
/// Most lines on one transfer. Why 500: a full store replenishment; more is a file import.
pub const TRANSFER_LINES_MAX: usize = 500;
/// Largest quantity on a line (units, or grams / millilitres): a typo guard.
pub const TRANSFER_QUANTITY_MAX: i64 = 100_000_000;
/// Most alerts one read returns.
pub const ALERTS_LIMIT_MAX: i64 = 500;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferLine {
    pub item_id: String,
    pub quantity: i64,
    /// `each` (default), `g` or `ml`.
    #[serde(default)]
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Outlet codes.
    pub from_outlet: String,
    pub to_outlet: String,
    pub lines: Vec<TransferLine>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferDto {
    pub id: String,
    pub from_outlet: String,
    pub to_outlet: String,
    pub lines: Vec<TransferLine>,
    pub note: Option<String>,
    /// The call to the inventory service: `pending`, `sent` or `failed`.
    pub state: String,
    pub detail: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockAlertDto {
    pub event_id: String,
    pub outlet: Option<String>,
    pub item_id: String,
    pub on_hand: i64,
    pub reorder_level: Option<i64>,
    pub unit: String,
    pub raised_at_ms: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only this outlet's alerts (outlet code).
    pub outlet: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<i64>,
}

fn transfer_dto(row: TransferRow) -> Result<TransferDto, ApiError> {
    Ok(TransferDto {
        id: row.id.to_string(),
        from_outlet: row.from_outlet,
        to_outlet: row.to_outlet,
        lines: serde_json::from_value(row.lines).map_err(|e| {
            ApiError::from(StoreError::Corrupt(format!(
                "a stored transfer does not read: {e}"
            )))
        })?,
        note: row.note,
        state: row.state,
        detail: row.detail,
        created_at_ms: row.created_at_ms,
    })
}

fn checked_lines(lines: Vec<TransferLine>) -> Result<Vec<TransferLine>, ApiError> {
    if lines.is_empty() || lines.len() > TRANSFER_LINES_MAX {
        return Err(ApiError::invalid(
            "lines",
            format!("1 to {TRANSFER_LINES_MAX} lines"),
        ));
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(index, line)| {
            let item = line.item_id.trim();
            if item.is_empty() || item.chars().count() > 64 || item.chars().any(char::is_control) {
                return Err(ApiError::invalid(
                    &format!("lines[{index}].item_id"),
                    "1 to 64 printable characters",
                ));
            }
            if !(1..=TRANSFER_QUANTITY_MAX).contains(&line.quantity) {
                return Err(ApiError::invalid(
                    &format!("lines[{index}].quantity"),
                    format!("between 1 and {TRANSFER_QUANTITY_MAX}"),
                ));
            }
            let unit = line.unit.unwrap_or_else(|| "each".to_owned());
            if !matches!(unit.as_str(), "each" | "g" | "ml") {
                return Err(ApiError::invalid(
                    &format!("lines[{index}].unit"),
                    "each, g or ml",
                ));
            }
            Ok(TransferLine {
                item_id: item.to_owned(),
                quantity: line.quantity,
                unit: Some(unit),
            })
        })
        .collect()
}

/// The tenant's outlet `code` as (id, code), or a 422 naming `field`.
async fn outlet_ref(
    tx: &mut sqlx::PgConnection,
    tenant: crate::store::TenantId,
    field: &str,
    code: &str,
) -> Result<(Uuid, String), ApiError> {
    outlet_by_code(tx, tenant, code)
        .await?
        .map(|outlet| (outlet.id, outlet.code))
        .ok_or_else(|| ApiError::invalid(field, format!("no outlet {code:?}")))
}

/// Moves stock from one outlet to another: recorded here and sent to the inventory service
/// (`POST /v1/{tenant}/transfers`, retried until it is taken).
#[utoipa::path(post, path = "/v1/{tenant}/pos/transfers",
    params(("tenant" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "send one: a retried request records one transfer")),
    request_body = TransferRequest,
    responses((status = 201, body = TransferDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_transfer(
    State(state): State<AppState>,
    context: TenantContext,
    request: Result<Json<TransferRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TransferDto>), ApiError> {
    context.require_any_role(STOCK_WRITERS)?;
    let Json(request) = request
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    if request.from_outlet == request.to_outlet {
        return Err(ApiError::invalid(
            "to_outlet",
            "a transfer goes to another outlet",
        ));
    }
    let note = match request.note.as_deref().map(str::trim) {
        Some(note) if note.chars().count() > 500 || note.chars().any(char::is_control) => {
            return Err(ApiError::invalid(
                "note",
                "at most 500 printable characters",
            ));
        }
        Some("") | None => None,
        Some(note) => Some(note.to_owned()),
    };
    let lines = checked_lines(request.lines)?;
    let tenant = context.tenant.id;
    let mut tx = super::tenant_tx(&state, tenant).await?;
    let from_outlet = outlet_ref(&mut tx, tenant, "from_outlet", &request.from_outlet).await?;
    let to_outlet = outlet_ref(&mut tx, tenant, "to_outlet", &request.to_outlet).await?;
    let id = Uuid::now_v7();
    service_calls::insert_transfer(
        &mut tx,
        tenant,
        &NewTransfer {
            id,
            from_outlet,
            to_outlet,
            lines: serde_json::to_value(&lines).map_err(|e| {
                ApiError::from(StoreError::Corrupt(format!("lines do not serialise: {e}")))
            })?,
            note,
        },
    )
    .await?;
    let row = service_calls::transfer(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| {
            ApiError::from(StoreError::Corrupt(
                "a transfer just written is gone".into(),
            ))
        })?;
    super::commit(tx).await?;
    Ok((StatusCode::CREATED, Json(transfer_dto(row)?)))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/transfers/{id}",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = TransferDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_transfer(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<TransferDto>, ApiError> {
    context.require_any_role(STOCK_READERS)?;
    let id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let row = service_calls::transfer(&mut tx, context.tenant.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(transfer_dto(row)?))
}

/// The newest low-stock reports from the inventory service.
#[utoipa::path(get, path = "/v1/{tenant}/pos/stock-alerts",
    params(("tenant" = String, Path), AlertQuery),
    responses((status = 200, body = [StockAlertDto]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stock_alerts(
    State(state): State<AppState>,
    context: TenantContext,
    query: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Json<Vec<StockAlertDto>>, ApiError> {
    context.require_any_role(STOCK_READERS)?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            e.body_text(),
            None,
        )
    })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=ALERTS_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("1 to {ALERTS_LIMIT_MAX}"),
        ));
    }
    let tenant = context.tenant.id;
    let mut tx = super::tenant_tx(&state, tenant).await?;
    let outlet = match query.outlet {
        Some(code) => Some(
            outlet_by_code(&mut tx, tenant, &code)
                .await?
                .ok_or_else(ApiError::not_found)?
                .id,
        ),
        None => None,
    };
    let rows = service_calls::stock_alerts(&mut tx, tenant, outlet, limit).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row: StockAlertRow| StockAlertDto {
                event_id: row.event_id,
                outlet: row.outlet,
                item_id: row.item_id,
                on_hand: row.on_hand,
                reorder_level: row.reorder_level,
                unit: row.unit,
                raised_at_ms: row.raised_at_ms,
            })
            .collect(),
    ))
}
