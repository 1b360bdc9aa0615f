//! Operator actions: tenants, outlets, enrollment codes.

use crate::store::devices::insert_enrollment_code;
use crate::store::tenants::{
    Outlet, Tenant, insert_outlet, insert_tenant, outlet_by_code, rename_outlet, tenant_by_slug,
};
use crate::store::{StoreError, TenantId};
use rand::RngCore;
use sqlx::PgPool;
use sync_protocol::enroll::EnrollmentCode;
use thiserror::Error;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Default lifetime of an enrollment code: long enough to walk to the back office and type it,
/// short enough that a code on a sticky note is useless by tomorrow.
pub const ENROLLMENT_CODE_TTL_MINUTES: i64 = 15;
const SLUG_CHARS_MAX: usize = 63;
const NAME_CHARS_MAX: usize = 120;

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("tenant {0:?} already exists")]
    TenantExists(String),
    #[error("outlet {code:?} already exists in tenant {tenant:?}")]
    OutletExists { tenant: String, code: String },
    #[error("no tenant {0:?}")]
    UnknownTenant(String),
    #[error("no outlet {code:?} in tenant {tenant:?}")]
    UnknownOutlet { tenant: String, code: String },
    /// A registered outlet's field that cannot change this way.
    #[error("{field}: {message}")]
    Fixed {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        field,
        message: message.into(),
    }
}

/// Slugs and outlet codes: lowercase letters, digits and dashes, as the business registry
/// issues them, so they are safe in URLs, subjects (`pos.<tenant>.…`) and file names.
pub fn parse_identifier(field: &'static str, text: &str) -> Result<String, AdminError> {
    let ok_chars = text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if text.is_empty()
        || text.len() > SLUG_CHARS_MAX
        || !ok_chars
        || text.starts_with('-')
        || text.ends_with('-')
    {
        return Err(invalid(
            field,
            format!("must be 1-{SLUG_CHARS_MAX} lowercase letters, digits or inner dashes"),
        ));
    }
    Ok(text.to_owned())
}

fn parse_name(field: &'static str, text: &str) -> Result<String, AdminError> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > NAME_CHARS_MAX
        || text.chars().any(char::is_control)
    {
        return Err(invalid(
            field,
            format!("must be 1-{NAME_CHARS_MAX} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

/// IANA zone names look like `Africa/Nairobi` or `UTC`.
fn parse_timezone(text: &str) -> Result<String, AdminError> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c))
        && text.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if !ok {
        return Err(invalid(
            "timezone",
            "must be an IANA zone name such as Africa/Nairobi",
        ));
    }
    Ok(text.to_owned())
}

pub async fn create_tenant(pool: &PgPool, slug: &str, name: &str) -> Result<Tenant, AdminError> {
    let tenant = Tenant {
        id: TenantId(Uuid::now_v7()),
        slug: parse_identifier("slug", slug)?,
        name: parse_name("name", name)?,
    };
    match insert_tenant(pool, &tenant).await {
        Err(error) if error.is_unique_violation() => Err(AdminError::TenantExists(tenant.slug)),
        other => other.map(|_| tenant).map_err(AdminError::from),
    }
}

pub async fn find_tenant(pool: &PgPool, slug: &str) -> Result<Tenant, AdminError> {
    tenant_by_slug(pool, slug)
        .await?
        .ok_or_else(|| AdminError::UnknownTenant(slug.to_owned()))
}

pub async fn create_outlet(
    pool: &PgPool,
    tenant_slug: &str,
    code: &str,
    name: &str,
    timezone: &str,
    currency: &str,
) -> Result<Outlet, AdminError> {
    let tenant = find_tenant(pool, tenant_slug).await?;
    let currency =
        shared_model::Currency::parse(currency).map_err(|e| invalid("currency", e.to_string()))?;
    let outlet = Outlet {
        tenant_id: tenant.id,
        id: Uuid::now_v7(),
        code: parse_identifier("code", code)?,
        name: parse_name("name", name)?,
        timezone: parse_timezone(timezone)?,
        currency: currency.code().to_owned(),
    };
    match insert_outlet(pool, &outlet).await {
        Err(error) if error.is_unique_violation() => Err(AdminError::OutletExists {
            tenant: tenant.slug,
            code: outlet.code,
        }),
        other => other.map(|_| outlet).map_err(AdminError::from),
    }
}

/// A one-time enrollment code for an outlet, and when it expires.
pub async fn create_enrollment_code(
    pool: &PgPool,
    tenant_slug: &str,
    outlet_code: &str,
    ttl: Duration,
) -> Result<(EnrollmentCode, OffsetDateTime), AdminError> {
    let tenant = find_tenant(pool, tenant_slug).await?;
    let outlet = outlet_by_code(
        &mut *pool.acquire().await.map_err(StoreError::from)?,
        tenant.id,
        outlet_code,
    )
    .await?
    .ok_or_else(|| AdminError::UnknownOutlet {
        tenant: tenant.slug.clone(),
        code: outlet_code.to_owned(),
    })?;
    enrollment_code_for(pool, &outlet, ttl).await
}

/// A one-time enrollment code for `outlet`, valid for `ttl`.
pub async fn enrollment_code_for(
    pool: &PgPool,
    outlet: &Outlet,
    ttl: Duration,
) -> Result<(EnrollmentCode, OffsetDateTime), AdminError> {
    let mut random = [0_u8; 10];
    rand::rng().fill_bytes(&mut random);
    let code = EnrollmentCode::from_random(random);
    let expires_at = OffsetDateTime::now_utc() + ttl;
    insert_enrollment_code(
        pool,
        outlet.tenant_id,
        Uuid::now_v7(),
        code.code_id(),
        code.as_secret(),
        outlet.id,
        expires_at,
    )
    .await?;
    Ok((code, expires_at))
}

/// What registering an outlet did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Created,
    Renamed,
    Unchanged,
}

/// Registers outlet `code` of `tenant` under the business registry's identifier, or confirms
/// it: a new code is created; a known one may be renamed. Its currency (money has been taken
/// in it) and its time zone (from then on set in the outlet's profile, which the edge
/// follows) do not change here.
pub async fn register_outlet(
    pool: &PgPool,
    tenant: &Tenant,
    code: &str,
    name: &str,
    timezone: &str,
    currency: &str,
) -> Result<(Outlet, Registration), AdminError> {
    let code = parse_identifier("code", code)?;
    let name = parse_name("name", name)?;
    let timezone = parse_timezone(timezone)?;
    let currency = shared_model::Currency::parse(currency)
        .map_err(|e| invalid("currency", e.to_string()))?
        .code()
        .to_owned();
    let existing = outlet_by_code(
        &mut *pool.acquire().await.map_err(StoreError::from)?,
        tenant.id,
        &code,
    )
    .await?;
    let Some(mut outlet) = existing else {
        return match create_outlet(pool, &tenant.slug, &code, &name, &timezone, &currency).await {
            Ok(outlet) => Ok((outlet, Registration::Created)),
            // Registered by a concurrent call meanwhile: confirm against that one.
            Err(AdminError::OutletExists { .. }) => {
                Box::pin(register_outlet(
                    pool, tenant, &code, &name, &timezone, &currency,
                ))
                .await
            }
            Err(error) => Err(error),
        };
    };
    let fixed = |field, message| Err(AdminError::Fixed { field, message });
    if outlet.currency != currency {
        return fixed(
            "currency",
            format!(
                "the outlet trades in {}; its currency cannot change",
                outlet.currency
            ),
        );
    }
    if outlet.timezone != timezone {
        return fixed(
            "timezone",
            format!(
                "the outlet was registered in {}; change its time zone in its profile (PUT .../config)",
                outlet.timezone
            ),
        );
    }
    if outlet.name == name {
        return Ok((outlet, Registration::Unchanged));
    }
    rename_outlet(pool, tenant.id, outlet.id, &name).await?;
    outlet.name = name;
    Ok((outlet, Registration::Renamed))
}
