//! Health, readiness and metrics.

use super::AppState;
use super::dto::HealthDto;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = HealthDto)))]
pub async fn healthz() -> Json<HealthDto> {
    Json(HealthDto {
        status: "ok".into(),
    })
}

/// Ready when PostgreSQL answers.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = HealthDto), (status = 503, body = super::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthDto>, ApiError> {
    crate::store::ping(&state.pool).await.map_err(|error| {
        tracing::warn!(%error, "not ready");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "database unreachable",
            None,
        )
    })?;
    Ok(Json(HealthDto {
        status: "ready".into(),
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics() -> (StatusCode, String) {
    match crate::metrics::handle() {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (StatusCode::OK, String::new()),
    }
}
