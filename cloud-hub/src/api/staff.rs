//! Outlet staff managed at the hub: who may sign in at an outlet, with what role and PIN, and
//! forced logouts. Changes reach the outlet's edge over the downstream feed; PINs travel and
//! rest only as argon2id hashes, and no read ever returns one.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::feed::{
    StaffRecord, force_logout, staff as list_staff, staff_pin_hashes, upsert_staff,
};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::staff::{Pin, Role, StaffName};
use utoipa::ToSchema;
use uuid::Uuid;

/// Roles that manage outlet staff.
pub const STAFF_ADMINS: &[&str] = &["admin", "manager", "service"];
/// Most staff per upload. Why: a PIN given in clear is hashed here (argon2 is deliberately
/// slow, tens of milliseconds each), so one request stays within a few seconds.
pub const STAFF_PER_UPLOAD_MAX: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMemberDto {
    pub id: String,
    pub name: String,
    /// cashier, bartender, server, kitchen, supervisor, manager or inventory_clerk.
    pub role: String,
    /// 4–8 digits, hashed here; or give `pin_hash` (argon2id PHC string) from the auth service.
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub pin_hash: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUpload {
    pub staff: Vec<StaffMemberDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffUploadResult {
    pub changed: usize,
    pub unchanged: usize,
    /// The outlet feed's sequence after this upload.
    pub feed_through_seq: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
}

/// How a member's PIN arrives: in clear (hash it) or already hashed.
enum PinInput {
    Clear(Pin),
    Hashed(String),
}

fn parse_member(
    index: usize,
    dto: &StaffMemberDto,
) -> Result<(Uuid, String, Role, PinInput, bool), ApiError> {
    let field = |name: &str| format!("staff[{index}].{name}");
    let id: Uuid = dto
        .id
        .parse()
        .map_err(|_| ApiError::invalid(&field("id"), "a UUID"))?;
    let name = StaffName::parse(&dto.name)
        .map_err(|e| ApiError::invalid(&field("name"), e.to_string()))?;
    let role = Role::parse(&dto.role).ok_or_else(|| {
        ApiError::invalid(
            &field("role"),
            "cashier, bartender, server, kitchen, supervisor, manager or inventory_clerk",
        )
    })?;
    let pin = match (&dto.pin, &dto.pin_hash) {
        (Some(pin), None) => PinInput::Clear(
            Pin::parse(pin).map_err(|e| ApiError::invalid(&field("pin"), e.to_string()))?,
        ),
        (None, Some(hash)) => {
            let valid =
                PasswordHash::new(hash).is_ok_and(|parsed| parsed.algorithm.as_str() == "argon2id");
            if !valid {
                return Err(ApiError::invalid(
                    &field("pin_hash"),
                    "an argon2id PHC string",
                ));
            }
            PinInput::Hashed(hash.clone())
        }
        _ => {
            return Err(ApiError::invalid(
                &field("pin"),
                "give exactly one of pin and pin_hash",
            ));
        }
    };
    Ok((id, name.as_str().to_owned(), role, pin, dto.disabled))
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/staff",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    request_body = StaffUpload,
    responses((status = 200, body = StaffUploadResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Json<StaffUpload>, JsonRejection>,
) -> Result<Json<StaffUploadResult>, ApiError> {
    context.require_any_role(STAFF_ADMINS)?;
    let Json(upload) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    if upload.staff.is_empty() || upload.staff.len() > STAFF_PER_UPLOAD_MAX {
        return Err(ApiError::invalid(
            "staff",
            format!("1 to {STAFF_PER_UPLOAD_MAX} staff per upload"),
        ));
    }
    let parsed = upload
        .staff
        .iter()
        .enumerate()
        .map(|(index, dto)| parse_member(index, dto))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let ids: Vec<Uuid> = parsed.iter().map(|member| member.0).collect();
    let held = staff_pin_hashes(&mut tx, context.tenant.id, outlet, &ids).await?;
    // Hash clear PINs off the runtime; keep the stored hash when it already matches the PIN, so
    // re-uploading the same staff list changes nothing.
    let records = tokio::task::spawn_blocking(move || {
        parsed
            .into_iter()
            .map(|(id, name, role, pin, disabled)| {
                let pin_hash = match pin {
                    PinInput::Hashed(hash) => hash,
                    PinInput::Clear(pin) => match held.get(&id) {
                        Some(stored)
                            if PasswordHash::new(stored).is_ok_and(|hash| {
                                Argon2::default()
                                    .verify_password(pin.as_bytes(), &hash)
                                    .is_ok()
                            }) =>
                        {
                            stored.clone()
                        }
                        _ => Argon2::default()
                            .hash_password(pin.as_bytes())
                            .map(|hash| hash.to_string())
                            .map_err(|e| {
                                ApiError::new(
                                    StatusCode::INTERNAL_SERVER_ERROR,
                                    "internal",
                                    e.to_string(),
                                    None,
                                )
                            })?,
                    },
                };
                Ok(StaffRecord {
                    id,
                    name,
                    role,
                    pin_hash,
                    disabled,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "hashing failed",
            None,
        )
    })??;
    let outcome = upsert_staff(&mut tx, context.tenant.id, outlet, &records).await?;
    super::commit(tx).await?;
    Ok(Json(StaffUploadResult {
        changed: outcome.changed,
        unchanged: outcome.unchanged,
        feed_through_seq: outcome.feed_through_seq,
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/staff",
    params(("tenant" = String, Path), ("outlet" = String, Path)),
    responses((status = 200, body = [StaffView]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<StaffView>>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let rows = list_staff(&mut tx, context.tenant.id, outlet).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, name, role, disabled)| StaffView {
                id: id.to_string(),
                name,
                role,
                disabled,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/outlets/{outlet}/staff/{staff_id}/logout",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("staff_id" = String, Path)),
    responses((status = 202), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(STAFF_ADMINS)?;
    let staff_id: Uuid = path.2.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let sent = force_logout(&mut tx, context.tenant.id, outlet, staff_id).await?;
    super::commit(tx).await?;
    if sent {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    /// `true`: only the sessions still open (who is signed in now).
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffSessionDto {
    pub session_id: String,
    pub staff_id: String,
    pub staff_name: Option<String>,
    /// The till, KDS or kiosk it was opened on.
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    /// `sign_out`, `idle_timeout`, `forced`, `replaced` or `forced_by_hub`.
    pub end_reason: Option<String>,
    /// Who forced it to end, for a forced logout at the till.
    pub ended_by: Option<String>,
}

/// The staff sessions an outlet's tills reported: who is signed in where, and how each session
/// ended (newest first, at most 200).
#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/staff-sessions",
    params(("tenant" = String, Path), ("outlet" = String, Path), SessionsQuery),
    responses((status = 200, body = [StaffSessionDto]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sessions(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    query: Result<axum::extract::Query<SessionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<StaffSessionDto>>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "auditor"])?;
    let axum::extract::Query(query) =
        query.map_err(|e| ApiError::invalid("active", e.body_text()))?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let sessions = crate::store::staff_sessions::list(
        &mut tx,
        context.tenant.id,
        outlet,
        query.active.unwrap_or(false),
    )
    .await?;
    super::commit(tx).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|session| StaffSessionDto {
                session_id: session.id.to_string(),
                staff_id: session.staff_id.to_string(),
                staff_name: session.staff_name,
                device_id: session.device_id.map(|id| id.to_string()),
                device_name: session.device_name,
                started_at_ms: session.started_at_ms,
                ended_at_ms: session.ended_at_ms,
                end_reason: session.end_reason,
                ended_by: session.ended_by.map(|id| id.to_string()),
            })
            .collect(),
    ))
}
