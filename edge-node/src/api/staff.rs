//! Staff routes: the sign-in list, PIN sign-in sessions bound to the calling device, forced
//! logout, adding staff, the audit trail, and the drawer no-sale.

use super::AppState;
use super::dto::{
    AddStaffRequest, ApprovalDto, AuditEntryDto, NoSaleRequest, SessionDto, SignInRequest, StaffDto,
};
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::staff::{self, Caller, OverrideRequest};
use crate::store::{StaffMember, StaffSession};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use uuid::Uuid;

pub(crate) fn uuid_field(text: &str, field: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::invalid(field, format!("{field} is not a UUID")))
}

pub(crate) fn uuid_path(
    path: Result<Path<String>, PathRejection>,
    code: &str,
    what: &str,
) -> Result<Uuid, ApiError> {
    let Path(text) = path?;
    Uuid::parse_str(&text).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            code,
            format!("{what} not found"),
            None,
        )
    })
}

pub(crate) fn approval(dto: Option<ApprovalDto>) -> Result<Option<OverrideRequest>, ApiError> {
    dto.map(|dto| {
        Ok(OverrideRequest {
            staff_id: uuid_field(&dto.staff_id, "approval.staff_id")?,
            pin: dto.pin,
        })
    })
    .transpose()
}

fn staff_dto(member: &StaffMember) -> StaffDto {
    StaffDto {
        id: member.id.to_string(),
        name: member.name.clone(),
        role: member.role.as_str().to_owned(),
        disabled: member.disabled,
    }
}

fn session_dto(session: &StaffSession) -> SessionDto {
    SessionDto {
        id: session.id.to_string(),
        staff_id: session.staff_id.to_string(),
        staff_name: session.staff_name.clone(),
        role: session.role.as_str().to_owned(),
        device_id: session.device_id.to_string(),
        started_at_ms: session.started_at_ms,
        last_seen_at_ms: session.last_seen_at_ms,
    }
}

#[utoipa::path(get, path = "/v1/staff", responses((status = 200, body = [StaffDto])),
    security(("device_token" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<StaffDto>>, ApiError> {
    let members = staff::list_staff(state.store.clone()).await?;
    Ok(Json(members.iter().map(staff_dto).collect()))
}

#[utoipa::path(post, path = "/v1/staff", request_body = AddStaffRequest,
    responses((status = 201, body = StaffDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<AddStaffRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<StaffDto>), ApiError> {
    let Json(request) = body?;
    let member = staff::add_staff(
        state.store.clone(),
        caller,
        request.name,
        request.role,
        request.pin,
        now_ms(),
    )
    .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(staff_dto(&member))))
}

#[utoipa::path(post, path = "/v1/staff/sessions", request_body = SignInRequest,
    responses((status = 201, body = SessionDto), (status = 401, body = ErrorBody), (status = 423, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<SignInRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SessionDto>), ApiError> {
    let Json(request) = body?;
    let staff_id = uuid_field(&request.staff_id, "staff_id")?;
    let session = staff::sign_in(
        state.store.clone(),
        caller.device.id,
        staff_id,
        request.pin,
        now_ms(),
    )
    .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(session_dto(&session))))
}

#[utoipa::path(get, path = "/v1/staff/sessions/current",
    responses((status = 200, body = SessionDto), (status = 401, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn current(Extension(caller): Extension<Caller>) -> Result<Json<SessionDto>, ApiError> {
    let session = caller
        .staff
        .as_ref()
        .ok_or(crate::services::staff::StaffError::NotSignedIn)?;
    Ok(Json(session_dto(session)))
}

#[utoipa::path(post, path = "/v1/staff/sessions/current/heartbeat",
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    staff::heartbeat(state.store.clone(), caller, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/staff/sessions/current",
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    staff::sign_out(state.store.clone(), caller, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/staff/sessions",
    responses((status = 200, body = [SessionDto]), (status = 403, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn open_sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<SessionDto>>, ApiError> {
    let sessions = staff::open_sessions(state.store.clone(), caller).await?;
    Ok(Json(sessions.iter().map(session_dto).collect()))
}

#[utoipa::path(delete, path = "/v1/staff/sessions/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn force_logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let session_id = uuid_path(path, "session_not_found", "session")?;
    staff::force_logout(state.store.clone(), caller, session_id, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/audit",
    responses((status = 200, body = [AuditEntryDto]), (status = 403, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<AuditEntryDto>>, ApiError> {
    let entries = staff::audit_trail(state.store.clone(), caller).await?;
    Ok(Json(
        entries
            .iter()
            .map(|entry| AuditEntryDto {
                id: entry.id.to_string(),
                action: entry.action.as_str().to_owned(),
                actor_staff_id: entry.actor_staff_id.map(|id| id.to_string()),
                approver_staff_id: entry.approver_staff_id.map(|id| id.to_string()),
                device_id: entry.device_id.to_string(),
                subject: entry.subject.clone(),
                reason: entry.reason.clone(),
                at_ms: entry.at_ms,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/drawer/no-sale", request_body = NoSaleRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn no_sale(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NoSaleRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(request) = body?;
    let approval = approval(request.approval)?;
    state
        .printing
        .drawer_no_sale(caller, request.reason, approval, now_ms())
        .await?;
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}
