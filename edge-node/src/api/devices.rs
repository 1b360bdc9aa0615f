//! Device routes: pairing codes, registration with a code, and the manager's device list.

use super::AppState;
use super::dto::{
    DeviceDto, PairingCodeDto, RegisterDeviceRequest, RegisteredDeviceDto, StartPairingRequest,
    UpdateDeviceRequest,
};
use super::error::{ApiError, ErrorBody};
use super::staff::uuid_path;
use crate::now_ms;
use crate::services::devices;
use crate::services::staff::Caller;
use crate::store::DeviceChange;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;

#[utoipa::path(post, path = "/v1/devices/pairing-codes", request_body = StartPairingRequest,
    responses((status = 201, body = PairingCodeDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn start_pairing(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<StartPairingRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PairingCodeDto>), ApiError> {
    let Json(request) = body?;
    let (code, expires_at_ms) =
        devices::start_pairing(state.store.clone(), caller, request.kind, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(PairingCodeDto {
            code,
            expires_at_ms,
        }),
    ))
}

/// The one route a device calls before it has a token.
#[utoipa::path(post, path = "/v1/devices/register", request_body = RegisterDeviceRequest,
    responses((status = 201, body = RegisteredDeviceDto), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    body: Result<Json<RegisterDeviceRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<RegisteredDeviceDto>), ApiError> {
    let Json(request) = body?;
    let (device, token) =
        devices::register(state.store.clone(), request.code, request.name, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok((
        StatusCode::CREATED,
        Json(RegisteredDeviceDto {
            device_id: device.id.to_string(),
            name: device.name,
            kind: device.kind.as_str().to_owned(),
            token,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/devices",
    responses((status = 200, body = [DeviceDto]), (status = 403, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<DeviceDto>>, ApiError> {
    let records = devices::list(state.store.clone(), caller).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|record| DeviceDto {
                id: record.id.to_string(),
                name: record.name,
                kind: record.kind.as_str().to_owned(),
                created_at_ms: record.created_at_ms,
                disabled: record.disabled,
            })
            .collect(),
    ))
}

#[utoipa::path(patch, path = "/v1/devices/{id}", params(("id" = String, Path)), request_body = UpdateDeviceRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<UpdateDeviceRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let device_id = uuid_path(path, "device_not_found", "device")?;
    let Json(request) = body?;
    let changes = match (request.name, request.disabled) {
        (None, None) => {
            return Err(ApiError::invalid("name", "send a new name and/or disabled"));
        }
        (name, disabled) => {
            let mut changes = Vec::new();
            if let Some(name) = name {
                changes.push(DeviceChange::Rename(name));
            }
            match disabled {
                Some(true) => changes.push(DeviceChange::Disable),
                Some(false) => changes.push(DeviceChange::Enable),
                None => {}
            }
            changes
        }
    };
    for change in changes {
        devices::change(
            state.store.clone(),
            caller.clone(),
            device_id,
            change,
            now_ms(),
        )
        .await?;
    }
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/devices/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let device_id = uuid_path(path, "device_not_found", "device")?;
    devices::change(
        state.store.clone(),
        caller,
        device_id,
        DeviceChange::Remove,
        now_ms(),
    )
    .await?;
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}
