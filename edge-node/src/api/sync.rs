//! Sync status: is the hub reachable, and how much is waiting for it.

use super::AppState;
use super::dto::SyncStatusDto;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;

#[utoipa::path(get, path = "/v1/sync/status",
    responses((status = 200, body = SyncStatusDto)), security(("device_token" = [])))]
pub async fn status(State(state): State<AppState>) -> Result<Json<SyncStatusDto>, ApiError> {
    let report = crate::sync::status(state.store.clone(), state.sync.clone()).await?;
    Ok(Json(report))
}
