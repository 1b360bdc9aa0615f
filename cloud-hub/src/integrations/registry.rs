//! The business's tenant registry, the authority on which tenants and outlets exist.
//!
//! When a token or a path names a tenant or an outlet the hub does not know, the hub asks the
//! registry before creating anything: `GET {base}/tenants/{slug}` answers `{"slug", "name"}`
//! and `GET {base}/tenants/{slug}/outlets/{code}` answers `{"code", "name", "timezone",
//! "currency"}`; `404` means the registry does not know it either, and the hub refuses.

use crate::services::admin::{self, AdminError};
use crate::store::tenants::{Outlet, Tenant};
use sqlx::PgPool;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DiscoveryError {
    #[error("the tenant registry does not know {0}")]
    Unknown(String),
    #[error("the tenant registry could not be reached: {0}")]
    Unavailable(String),
    #[error("the tenant registry's record of {0} is not usable: {1}")]
    BadRecord(String, String),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// Longest registry answer read.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

pub struct TenantRegistry {
    base_url: String,
    client: reqwest::Client,
}

impl TenantRegistry {
    pub fn new(base_url: &str) -> Result<TenantRegistry, reqwest::Error> {
        Ok(TenantRegistry {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    async fn fetch(&self, path: &str, what: &str) -> Result<serde_json::Value, DiscoveryError> {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .map_err(|e| DiscoveryError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(DiscoveryError::Unknown(what.to_owned()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| DiscoveryError::Unavailable(e.to_string()))?;
        if !status.is_success() || bytes.len() > ANSWER_BYTES_MAX {
            return Err(DiscoveryError::Unavailable(format!("HTTP {status}")));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| DiscoveryError::BadRecord(what.to_owned(), e.to_string()))
    }

    /// The tenant `slug`, created from the registry's record if the hub did not have it.
    pub async fn ensure_tenant(&self, pool: &PgPool, slug: &str) -> Result<Tenant, DiscoveryError> {
        if let Ok(tenant) = admin::find_tenant(pool, slug).await {
            return Ok(tenant);
        }
        // Only well-formed slugs are looked up (the path is the caller's).
        admin::parse_identifier("slug", slug)?;
        let what = format!("tenant {slug}");
        let record = self.fetch(&format!("/tenants/{slug}"), &what).await?;
        if record["slug"] != slug {
            return Err(DiscoveryError::BadRecord(what, "slug differs".into()));
        }
        let name = record["name"].as_str().unwrap_or(slug);
        match admin::create_tenant(pool, slug, name).await {
            Ok(tenant) => {
                tracing::info!(tenant = slug, "tenant created from the registry's record");
                Ok(tenant)
            }
            // Another request created it meanwhile.
            Err(AdminError::TenantExists(_)) => Ok(admin::find_tenant(pool, slug).await?),
            Err(error) => Err(error.into()),
        }
    }

    /// The outlet `code` of tenant `slug`, created from the registry's record if needed.
    pub async fn ensure_outlet(
        &self,
        pool: &PgPool,
        slug: &str,
        code: &str,
    ) -> Result<Outlet, DiscoveryError> {
        let tenant = self.ensure_tenant(pool, slug).await?;
        if let Some(outlet) = outlet(pool, &tenant, code).await? {
            return Ok(outlet);
        }
        admin::parse_identifier("outlet", code)?;
        let what = format!("outlet {code} of {slug}");
        let record = self
            .fetch(&format!("/tenants/{slug}/outlets/{code}"), &what)
            .await?;
        if record["code"] != code {
            return Err(DiscoveryError::BadRecord(what, "code differs".into()));
        }
        let field = |name: &str| {
            record[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| DiscoveryError::BadRecord(what.clone(), format!("no {name}")))
        };
        let (name, timezone, currency) = (field("name")?, field("timezone")?, field("currency")?);
        match admin::create_outlet(pool, slug, code, &name, &timezone, &currency).await {
            Ok(outlet) => {
                tracing::info!(
                    tenant = slug,
                    outlet = code,
                    "outlet created from the registry's record"
                );
                Ok(outlet)
            }
            Err(AdminError::OutletExists { .. }) => outlet(pool, &tenant, code)
                .await?
                .ok_or_else(|| DiscoveryError::Unknown(what)),
            Err(error) => Err(error.into()),
        }
    }
}

async fn outlet(
    pool: &PgPool,
    tenant: &Tenant,
    code: &str,
) -> Result<Option<Outlet>, DiscoveryError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| AdminError::from(crate::store::StoreError::from(e)))?;
    Ok(
        crate::store::tenants::outlet_by_code(&mut conn, tenant.id, code)
            .await
            .map_err(AdminError::from)?,
    )
}
