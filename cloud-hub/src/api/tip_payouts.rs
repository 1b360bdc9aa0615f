//! Tip payouts the outlets' managers made: who got what for which period, for payroll.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

/// Roles that read payouts.
pub const PAYOUT_READERS: &[&str] = &["admin", "manager", "auditor", "analyst", "service"];
/// Most payouts one read returns (a year of daily payouts).
pub const PAYOUTS_LIMIT: i64 = 366;

#[derive(Debug, Serialize, ToSchema)]
pub struct TipPayoutDto {
    pub id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tips_minor: i64,
    /// `[{"staff_id", "weight", "amount_minor"}]`; the amounts add up to `tips_minor`.
    #[schema(value_type = Vec<Object>)]
    pub shares: serde_json::Value,
    pub by_staff_id: String,
    pub paid_at_ms: i64,
    /// How the staff are paid: `cash_from_drawer` (handed out at the outlet, from
    /// `drawer_session_id`) or `treasury` (sent to `POST /v1/{tenant}/payouts`).
    pub paid_by: String,
    pub drawer_session_id: Option<String>,
    /// The treasury call: `pending`, `sent` or `failed` (see the integrations monitor).
    pub treasury_state: Option<String>,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/tip-payouts",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    responses((status = 200, body = [TipPayoutDto]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<TipPayoutDto>>, ApiError> {
    context.require_any_role(PAYOUT_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let rows =
        crate::store::tip_payouts::list(&mut tx, context.tenant.id, outlet.id, PAYOUTS_LIMIT)
            .await?;
    let ids: Vec<uuid::Uuid> = rows.iter().map(|row| row.id).collect();
    let states =
        crate::store::tip_payouts::treasury_states(&mut tx, context.tenant.id, &ids).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| TipPayoutDto {
                paid_by: if row.drawer_session_id.is_some() {
                    "cash_from_drawer".into()
                } else {
                    "treasury".into()
                },
                drawer_session_id: row.drawer_session_id.map(|id| id.to_string()),
                treasury_state: states.get(&row.id).cloned(),
                id: row.id.to_string(),
                from_ms: row.from_ms,
                to_ms: row.to_ms,
                tips_minor: row.tips_minor,
                shares: row.shares,
                by_staff_id: row.by_staff_id.to_string(),
                paid_at_ms: row.paid_at_ms,
            })
            .collect(),
    ))
}
