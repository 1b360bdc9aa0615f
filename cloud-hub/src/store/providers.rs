//! Integration providers: plain settings, and secrets sealed by [`crate::envelope`] before they
//! reach the database (the owner — tenant and provider — is the seal's associated data).

use super::{StoreError, TenantId};
use crate::envelope::{EnvelopeError, MasterKeys, Sealed};
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub provider: String,
    pub kind: String,
    pub enabled: bool,
    pub settings: serde_json::Value,
    pub secret_names: Vec<String>,
    pub key_id: Option<String>,
    pub version: i64,
    pub updated_at: time::OffsetDateTime,
}

type Row = (
    String,
    String,
    bool,
    sqlx::types::Json<serde_json::Value>,
    Vec<String>,
    Option<String>,
    i64,
    time::OffsetDateTime,
);

/// key id, wrapped data key, sealed secrets.
type SealedColumns = (Option<String>, Option<Vec<u8>>, Option<Vec<u8>>);
/// tenant, provider, key id, wrapped data key, sealed secrets.
type SealedRow = (Uuid, String, String, Vec<u8>, Vec<u8>);

fn from_row(row: Row) -> Provider {
    let (provider, kind, enabled, settings, secret_names, key_id, version, updated_at) = row;
    Provider {
        provider,
        kind,
        enabled,
        settings: settings.0,
        secret_names,
        key_id,
        version,
        updated_at,
    }
}

fn aad(tenant: TenantId, provider: &str) -> Vec<u8> {
    format!("{}/{provider}", tenant.0).into_bytes()
}

/// Why a provider write failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ProviderError {
    fn from(error: sqlx::Error) -> Self {
        ProviderError::Store(error.into())
    }
}

/// The new configuration of a provider. `secrets: None` keeps the stored ones (a settings-only
/// change); `Some` replaces them all (a rotation).
pub struct ProviderWrite<'a> {
    pub kind: &'a str,
    pub enabled: bool,
    pub settings: &'a serde_json::Value,
    pub secrets: Option<&'a BTreeMap<String, String>>,
}

pub async fn put(
    conn: &mut sqlx::PgConnection,
    keys: &MasterKeys,
    tenant: TenantId,
    provider: &str,
    write: ProviderWrite<'_>,
) -> Result<Provider, ProviderError> {
    let sealed = match write.secrets {
        Some(secrets) => {
            let plaintext =
                serde_json::to_vec(secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Some((
                keys.seal(&plaintext, &aad(tenant, provider))?,
                secrets.keys().cloned().collect::<Vec<_>>(),
            ))
        }
        None => None,
    };
    let row: Row = match sealed {
        Some((sealed, names)) => sqlx::query_as(
            "INSERT INTO integration_providers (tenant_id, provider, kind, enabled, settings,
                 secret_names, key_id, wrapped_key, secrets)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant_id, provider) DO UPDATE SET kind = excluded.kind,
                 enabled = excluded.enabled, settings = excluded.settings,
                 secret_names = excluded.secret_names, key_id = excluded.key_id,
                 wrapped_key = excluded.wrapped_key, secrets = excluded.secrets,
                 version = integration_providers.version + 1, updated_at = now()
             RETURNING provider, kind, enabled, settings, secret_names, key_id, version, updated_at",
        )
        .bind(tenant.0)
        .bind(provider)
        .bind(write.kind)
        .bind(write.enabled)
        .bind(sqlx::types::Json(write.settings))
        .bind(&names)
        .bind(&sealed.key_id)
        .bind(&sealed.wrapped_key)
        .bind(&sealed.ciphertext)
        .fetch_one(&mut *conn)
        .await?,
        None => sqlx::query_as(
            "INSERT INTO integration_providers (tenant_id, provider, kind, enabled, settings)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, provider) DO UPDATE SET kind = excluded.kind,
                 enabled = excluded.enabled, settings = excluded.settings,
                 version = integration_providers.version + 1, updated_at = now()
             RETURNING provider, kind, enabled, settings, secret_names, key_id, version, updated_at",
        )
        .bind(tenant.0)
        .bind(provider)
        .bind(write.kind)
        .bind(write.enabled)
        .bind(sqlx::types::Json(write.settings))
        .fetch_one(&mut *conn)
        .await?,
    };
    Ok(from_row(row))
}

pub async fn list(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Vec<Provider>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT provider, kind, enabled, settings, secret_names, key_id, version, updated_at
         FROM integration_providers WHERE tenant_id = $1 ORDER BY provider",
    )
    .bind(tenant.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn get(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    provider: &str,
) -> Result<Option<Provider>, StoreError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT provider, kind, enabled, settings, secret_names, key_id, version, updated_at
         FROM integration_providers WHERE tenant_id = $1 AND provider = $2",
    )
    .bind(tenant.0)
    .bind(provider)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(from_row))
}

/// The provider's secrets in clear, for the hub's own calls to it (never for the API).
pub async fn secrets(
    conn: &mut sqlx::PgConnection,
    keys: &MasterKeys,
    tenant: TenantId,
    provider: &str,
) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    let row: Option<SealedColumns> = sqlx::query_as(
        "SELECT key_id, wrapped_key, secrets FROM integration_providers
         WHERE tenant_id = $1 AND provider = $2",
    )
    .bind(tenant.0)
    .bind(provider)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((Some(key_id), Some(wrapped_key), Some(ciphertext))) = row else {
        return Ok(None);
    };
    let plaintext = keys.open(
        &Sealed {
            key_id,
            wrapped_key,
            ciphertext,
        },
        &aad(tenant, provider),
    )?;
    Ok(Some(
        serde_json::from_slice(&plaintext).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    ))
}

/// Re-wraps every provider's data key under the current master key (after a rotation).
/// Returns how many rows changed. Hub-internal: runs as the owner, across tenants.
pub async fn rewrap_all(pool: &PgPool, keys: &MasterKeys) -> Result<usize, ProviderError> {
    let Some(current) = keys.current_id() else {
        return Ok(0);
    };
    let rows: Vec<SealedRow> = sqlx::query_as(
        "SELECT tenant_id, provider, key_id, wrapped_key, secrets FROM integration_providers
         WHERE key_id IS NOT NULL AND key_id <> $1",
    )
    .bind(current)
    .fetch_all(pool)
    .await?;
    let mut changed = 0;
    for (tenant, provider, key_id, wrapped_key, ciphertext) in rows {
        let sealed = Sealed {
            key_id,
            wrapped_key,
            ciphertext,
        };
        if let Some(rewrapped) = keys.rewrap(&sealed, &aad(TenantId(tenant), &provider))? {
            sqlx::query(
                "UPDATE integration_providers SET key_id = $3, wrapped_key = $4
                 WHERE tenant_id = $1 AND provider = $2 AND key_id = $5",
            )
            .bind(tenant)
            .bind(&provider)
            .bind(&rewrapped.key_id)
            .bind(&rewrapped.wrapped_key)
            .bind(&sealed.key_id)
            .execute(pool)
            .await?;
            changed += 1;
        }
    }
    Ok(changed)
}
