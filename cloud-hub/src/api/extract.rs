//! The tenant guard: a verified token whose tenant matches the path.

use super::AppState;
use super::error::ApiError;
use crate::auth::{AuthError, Claims};
use crate::store::tenants::{Tenant, tenant_by_slug};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use std::collections::HashMap;

/// The caller, proven to act for the tenant named in the path.
pub struct TenantContext {
    pub tenant: Tenant,
    pub claims: Claims,
}

impl TenantContext {
    /// Refuses unless the caller holds one of `roles`.
    pub fn require_any_role(&self, roles: &[&str]) -> Result<(), ApiError> {
        if self
            .claims
            .roles
            .iter()
            .any(|role| roles.contains(&role.as_str()))
        {
            Ok(())
        } else {
            Err(ApiError::forbidden("your role may not do this"))
        }
    }
}

impl FromRequestParts<AppState> for TenantContext {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AuthError::Missing)?;
        let claims = state.auth.verify(token).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        let slug = params.get("tenant").ok_or_else(ApiError::not_found)?;
        // Another tenant's path looks exactly like a tenant that does not exist.
        if claims.tenant != *slug {
            return Err(ApiError::not_found());
        }
        let tenant = match tenant_by_slug(&state.pool, slug).await? {
            Some(tenant) => tenant,
            // The token is for this tenant (checked above), but the hub has never heard of it:
            // the registry is the authority.
            None => match &state.registry {
                Some(registry) => registry
                    .ensure_tenant(&state.pool, slug)
                    .await
                    .map_err(super::outlets::discovery_error)?,
                None => return Err(ApiError::not_found()),
            },
        };
        Ok(TenantContext { tenant, claims })
    }
}
