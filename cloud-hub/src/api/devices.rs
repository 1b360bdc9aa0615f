//! Devices of a tenant: list, and revoke (the certificate stops working at once).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::devices::{list as list_devices, revoke as revoke_device};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

/// Roles that may revoke devices.
pub const DEVICE_ADMINS: &[&str] = &["admin", "manager"];
/// Roles that may list devices.
pub const DEVICE_READERS: &[&str] = &["admin", "manager", "auditor", "service"];

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceDto {
    pub id: String,
    pub outlet: String,
    pub kind: String,
    pub software: String,
    pub enrolled_at: String,
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/devices", params(("tenant" = String, Path)),
    responses((status = 200, body = [DeviceDto])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<Vec<DeviceDto>>, ApiError> {
    context.require_any_role(DEVICE_READERS)?;
    let format = |at: time::OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let rows = list_devices(&mut tx, context.tenant.id).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| DeviceDto {
                id: row.id.to_string(),
                outlet: row.outlet_code,
                kind: row.kind,
                software: row.software,
                enrolled_at: format(row.enrolled_at),
                last_seen_at: row.last_seen_at.map(format),
                revoked_at: row.revoked_at.map(format),
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/devices/{id}/revoke", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(DEVICE_ADMINS)?;
    let id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let revoked = revoke_device(&mut tx, context.tenant.id, id).await?;
    super::commit(tx).await?;
    if revoked {
        tracing::warn!(tenant = %context.tenant.slug, device = %id, by = %context.claims.sub, "device revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LanDeviceDto {
    pub id: String,
    pub name: String,
    /// `terminal`, `kds`, `kiosk` or `printer`.
    pub kind: String,
    /// `active`, `disabled` or `removed`.
    pub state: String,
    pub registered_at_ms: i64,
    pub updated_at_ms: i64,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/devices",
    params(("tenant" = String, Path), ("outlet" = String, Path)),
    responses((status = 200, body = [LanDeviceDto]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn lan_devices(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<LanDeviceDto>>, ApiError> {
    context.require_any_role(DEVICE_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let devices =
        crate::store::lan_devices::of_outlet(&mut tx, context.tenant.id, outlet.id).await?;
    super::commit(tx).await?;
    Ok(Json(
        devices
            .into_iter()
            .map(|device| LanDeviceDto {
                id: device.id.to_string(),
                name: device.name,
                kind: device.kind,
                state: device.state,
                registered_at_ms: device.registered_at_ms,
                updated_at_ms: device.updated_at_ms,
            })
            .collect(),
    ))
}
