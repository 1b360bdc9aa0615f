//! Outlets: registering them under the business registry's identifiers, listing them, issuing
//! their edge boxes' enrollment codes, and finding the outlet a path names (asking the tenant
//! registry about one the hub does not know).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::integrations::registry::DiscoveryError;
use crate::services::admin::{self, AdminError, Registration};
use crate::store::tenants::{Outlet, OutletSummary, outlet_by_code, outlet_summaries};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

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

/// Roles that may list and read outlets.
pub const OUTLET_READERS: &[&str] = &["admin", "manager", "auditor", "service"];
/// Roles that may register or rename outlets (the business registry calls as `service`).
pub const OUTLET_REGISTRARS: &[&str] = &["admin", "service"];
/// Roles that may issue enrollment codes for an outlet's edge box.
pub const ENROLLMENT_ISSUERS: &[&str] = &["admin", "manager"];
/// Longest an enrollment code issued over the API may live: a day, for a box shipped to a shop
/// and installed by its manager the next morning.
pub const ENROLLMENT_TTL_MINUTES_MAX: i64 = 24 * 60;

#[derive(Debug, Serialize, ToSchema)]
pub struct OutletDto {
    /// The business registry's identifier of the outlet.
    pub code: String,
    pub name: String,
    /// The time zone it was registered in (its profile may have set another since).
    pub timezone: String,
    pub currency: String,
    pub created_at: String,
    /// Enrolled edge devices whose certificate still works.
    pub edge_devices: i64,
    /// When any of its edges last spoke to the hub.
    pub last_seen_at: Option<String>,
}

impl From<OutletSummary> for OutletDto {
    fn from(outlet: OutletSummary) -> Self {
        OutletDto {
            code: outlet.code,
            name: outlet.name,
            timezone: outlet.timezone,
            currency: outlet.currency,
            created_at: rfc3339(outlet.created_at),
            edge_devices: outlet.edge_devices,
            last_seen_at: outlet.last_seen_at.map(rfc3339),
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterOutletRequest {
    pub name: String,
    /// IANA zone, e.g. `Africa/Nairobi`; fixed once registered (the profile changes it after).
    pub timezone: String,
    /// ISO 4217 code; fixed once registered.
    pub currency: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentCodeRequest {
    /// Minutes the code stays valid: 1 to 1440, 15 when left out.
    pub ttl_minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentCodeDto {
    /// Typed once at the edge box: `edge-node enroll --hub ... --code ...`. Works once.
    pub code: String,
    pub outlet: String,
    pub expires_at: String,
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets", params(("tenant" = String, Path)),
    responses((status = 200, body = [OutletDto])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<Vec<OutletDto>>, ApiError> {
    context.require_any_role(OUTLET_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlets = outlet_summaries(&mut tx, context.tenant.id, None).await?;
    super::commit(tx).await?;
    Ok(Json(outlets.into_iter().map(OutletDto::from).collect()))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}",
    params(("tenant" = String, Path), ("outlet" = String, Path)),
    responses((status = 200, body = OutletDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<OutletDto>, ApiError> {
    context.require_any_role(OUTLET_READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = resolve(&state, &mut tx, &context, &path.1).await?;
    let summary = outlet_summaries(&mut tx, context.tenant.id, Some(outlet.id))
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(summary.into()))
}

/// Registers an outlet under the business registry's identifier (201), or confirms (200) or
/// renames (200) a registered one. With a tenant registry configured, a code the hub does not
/// know is first looked up there and created from its record; unknown there, nothing is created.
#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}",
    params(("tenant" = String, Path), ("outlet" = String, Path)),
    request_body = RegisterOutletRequest,
    responses((status = 201, body = OutletDto), (status = 200, body = OutletDto),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Json<RegisterOutletRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OutletDto>), ApiError> {
    context.require_any_role(OUTLET_REGISTRARS)?;
    let Json(request) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let code = admin::parse_identifier("outlet", &path.1).map_err(admin_error)?;
    let mut status = StatusCode::OK;
    if let Some(registry) = &state.registry {
        let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
        let known = outlet_by_code(&mut tx, context.tenant.id, &code).await?;
        super::commit(tx).await?;
        if known.is_none() {
            registry
                .ensure_outlet(&state.pool, &context.tenant.slug, &code)
                .await
                .map_err(discovery_error)?;
            status = StatusCode::CREATED;
        }
    }
    let (outlet, registration) = admin::register_outlet(
        &state.pool,
        &context.tenant,
        &code,
        &request.name,
        &request.timezone,
        &request.currency,
    )
    .await
    .map_err(admin_error)?;
    if registration == Registration::Created {
        status = StatusCode::CREATED;
    }
    if registration != Registration::Unchanged {
        tracing::info!(tenant = %context.tenant.slug, outlet = %outlet.code, ?registration,
            by = %context.claims.sub, "outlet registered");
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let summary = outlet_summaries(&mut tx, context.tenant.id, Some(outlet.id))
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok((status, Json(summary.into())))
}

/// A one-time code the outlet's edge box enrolls with (`edge-node enroll`); shown once.
#[utoipa::path(post, path = "/v1/{tenant}/pos/outlets/{outlet}/enrollment-codes",
    params(("tenant" = String, Path), ("outlet" = String, Path),
        ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = EnrollmentCodeRequest, description = "optional"),
    responses((status = 201, body = EnrollmentCodeDto), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn enrollment_code(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Option<Json<EnrollmentCodeRequest>>, JsonRejection>,
) -> Result<(StatusCode, Json<EnrollmentCodeDto>), ApiError> {
    context.require_any_role(ENROLLMENT_ISSUERS)?;
    let request = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?
        .map(|Json(request)| request)
        .unwrap_or_default();
    let ttl_minutes = request
        .ttl_minutes
        .unwrap_or(admin::ENROLLMENT_CODE_TTL_MINUTES);
    if !(1..=ENROLLMENT_TTL_MINUTES_MAX).contains(&ttl_minutes) {
        return Err(ApiError::invalid(
            "ttl_minutes",
            format!("must be 1 to {ENROLLMENT_TTL_MINUTES_MAX} minutes"),
        ));
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = resolve(&state, &mut tx, &context, &path.1).await?;
    super::commit(tx).await?;
    let (code, expires_at) =
        admin::enrollment_code_for(&state.pool, &outlet, time::Duration::minutes(ttl_minutes))
            .await
            .map_err(admin_error)?;
    tracing::info!(tenant = %context.tenant.slug, outlet = %outlet.code, code_id = code.code_id(),
        by = %context.claims.sub, "enrollment code issued");
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentCodeDto {
            code: code.display(),
            outlet: outlet.code,
            expires_at: rfc3339(expires_at),
        }),
    ))
}

fn admin_error(error: AdminError) -> ApiError {
    match error {
        AdminError::Invalid { field, message } => ApiError::invalid(field, message),
        AdminError::Fixed { field, message } => ApiError::new(
            StatusCode::CONFLICT,
            "outlet_field_fixed",
            message,
            Some(field),
        ),
        other => {
            tracing::error!(error = %other, "registering an outlet");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the hub could not complete the request",
                None,
            )
        }
    }
}
