//! Sync completeness for managers and auditors: per device, how far the hub's copy of its op
//! log is complete and whether every link of its hash chain verifies.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::audit::{audit_chain, devices};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

/// Roles that may see sync state.
pub const SYNC_READERS: &[&str] = &["admin", "manager", "auditor", "service"];

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSyncDto {
    pub device_id: String,
    pub outlet: String,
    /// The hub holds (and has acknowledged) every op of this device through this sequence.
    pub acked_through_seq: i64,
    /// The hub's orders, events, ledgers and reports reflect every op of this device through
    /// this sequence. Equal to `acked_through_seq` all day long (a trickle is projected with its
    /// ack); below it while the hub projects a backlog (an edge back after days offline), so a
    /// report that does not match yet says why.
    pub projected_through_seq: i64,
    /// Ops stored but not yet projected (`acked_through_seq - projected_through_seq`).
    pub projection_behind_ops: i64,
    pub ops_held: i64,
    pub last_seen_at: Option<String>,
    pub revoked: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChainAuditDto {
    pub device_id: String,
    /// Every op from 1 through this sequence is present and its hash link verifies.
    pub complete_through_seq: u64,
    pub chain_intact: bool,
    pub ops_checked: u64,
    /// Where the log first fails, if it does.
    pub first_break_seq: Option<u64>,
    pub acked_through_seq: u64,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/sync/devices",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = [DeviceSyncDto]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<Vec<DeviceSyncDto>>, ApiError> {
    context.require_any_role(SYNC_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let rows = devices(&mut tx, context.tenant.id).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| DeviceSyncDto {
                device_id: row.device_id.to_string(),
                outlet: row.outlet_code,
                acked_through_seq: row.acked_through_seq,
                projected_through_seq: row.projected_through_seq,
                projection_behind_ops: (row.acked_through_seq - row.projected_through_seq).max(0),
                ops_held: row.ops_held,
                last_seen_at: row.last_seen_at.and_then(|at| at.format(&Rfc3339).ok()),
                revoked: row.revoked,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/sync/devices/{device_id}/chain",
    params(("tenant" = String, Path, description = "tenant slug"), ("device_id" = String, Path)),
    responses((status = 200, body = ChainAuditDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn chain(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<ChainAuditDto>, ApiError> {
    context.require_any_role(SYNC_READERS)?;
    let device_id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let audit = audit_chain(&mut tx, context.tenant.id, device_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    if let Some(seq) = audit.first_break_seq {
        tracing::error!(tenant = %context.tenant.slug, device = %device_id, seq, "op chain broken at the hub");
        metrics::counter!("kibanda_sync_chain_breaks_total").increment(1);
    }
    Ok(Json(ChainAuditDto {
        device_id: device_id.to_string(),
        complete_through_seq: audit.complete_through_seq,
        chain_intact: audit.first_break_seq.is_none(),
        ops_checked: audit.ops_checked,
        first_break_seq: audit.first_break_seq,
        acked_through_seq: audit.acked_through_seq,
    }))
}
