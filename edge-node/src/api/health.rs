//! Liveness.

use super::dto::HealthDto;
use axum::Json;

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = HealthDto)))]
pub async fn healthz() -> Json<HealthDto> {
    Json(HealthDto {
        status: "ok".into(),
    })
}
