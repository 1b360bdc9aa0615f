//! Finding the outlet a path names, asking the tenant registry about one the hub does not know.

use super::AppState;
use super::error::ApiError;
use super::extract::TenantContext;
use crate::integrations::registry::DiscoveryError;
use crate::store::tenants::{Outlet, outlet_by_code};
use axum::http::StatusCode;

/// The caller's outlet `code`. One the hub does not know is fetched from the tenant registry
/// (when one is configured) and created before anything else happens; unknown there too, or
/// another tenant's, it is not found.
pub(super) async fn resolve(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    context: &TenantContext,
    code: &str,
) -> Result<Outlet, ApiError> {
    if let Some(outlet) = outlet_by_code(tx, context.tenant.id, code).await? {
        return Ok(outlet);
    }
    let Some(registry) = &state.registry else {
        return Err(ApiError::not_found());
    };
    registry
        .ensure_outlet(&state.pool, &context.tenant.slug, code)
        .await
        .map_err(discovery_error)
}

pub(super) fn discovery_error(error: DiscoveryError) -> ApiError {
    match error {
        DiscoveryError::Unknown(what) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_to_registry",
            format!("neither this hub nor the tenant registry knows {what}"),
            None,
        ),
        DiscoveryError::Unavailable(reason) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_registry_unavailable",
            format!("the tenant registry could not be asked ({reason}); nothing was created"),
            None,
        ),
        DiscoveryError::BadRecord(what, reason) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "tenant_registry_bad_record",
            format!("the tenant registry's record of {what} is not usable: {reason}"),
            None,
        ),
        DiscoveryError::Admin(error) => {
            tracing::error!(%error, "creating from the registry's record");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the hub could not complete the request",
                None,
            )
        }
    }
}
