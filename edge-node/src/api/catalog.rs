//! Catalog routes.

use super::AppState;
use super::dto::CatalogItemDto;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;

#[utoipa::path(get, path = "/v1/catalog/items",
    responses((status = 200, body = [CatalogItemDto])), security(("device_token" = [])))]
pub async fn list_items(
    State(state): State<AppState>,
) -> Result<Json<Vec<CatalogItemDto>>, ApiError> {
    let items = crate::services::catalog::list(state.store.clone()).await?;
    Ok(Json(
        items
            .into_iter()
            .map(|(item, groups)| {
                let mut dto = CatalogItemDto::from(&item);
                dto.modifier_groups = groups;
                dto
            })
            .collect(),
    ))
}
