//! The provider registry: which payment gateways, card terminals, e-commerce platforms, fiscal
//! devices and services a tenant connected, with their settings. Secrets go in once and never
//! come out: they are sealed with the hub's master key before they are stored, and every read
//! shows only which secrets are set. Sending `secrets` again replaces them (rotation).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::envelope::EnvelopeError;
use crate::store::providers::{ProviderError, ProviderWrite, get, list, put};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

pub const KINDS: &[&str] = &[
    "payment_gateway",
    "payment_terminal",
    "ecommerce",
    "fiscal",
    "treasury",
    "notifications",
    "inventory",
    "logistics",
];
/// Most secrets of one provider, and their size.
pub const SECRETS_MAX: usize = 16;
pub const SECRET_CHARS_MAX: usize = 4_096;
/// Largest settings document, as JSON.
pub const SETTINGS_BYTES_MAX: usize = 16 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfigRequest {
    /// `payment_gateway`, `payment_terminal`, `ecommerce`, `fiscal`, `treasury`,
    /// `notifications`, `inventory` or `logistics`.
    pub kind: String,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Plain settings (endpoints, merchant ids, options): returned as they are.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<serde_json::Value>,
    /// Secrets by name (API keys, signing secrets): sealed, never returned. Omit to keep the
    /// stored ones; send to replace them all.
    #[serde(default)]
    pub secrets: Option<BTreeMap<String, String>>,
}

fn enabled_default() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDto {
    pub provider: String,
    pub kind: String,
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Each stored secret, redacted.
    pub secrets: BTreeMap<String, String>,
    /// The master key its secrets are sealed with.
    pub key_id: Option<String>,
    pub version: i64,
    pub updated_at: String,
}

fn dto(provider: crate::store::providers::Provider) -> ProviderDto {
    ProviderDto {
        secrets: provider
            .secret_names
            .iter()
            .map(|name| (name.clone(), "[redacted]".to_owned()))
            .collect(),
        provider: provider.provider,
        kind: provider.kind,
        enabled: provider.enabled,
        settings: provider.settings,
        key_id: provider.key_id,
        version: provider.version,
        updated_at: provider.updated_at.format(&Rfc3339).unwrap_or_default(),
    }
}

fn valid_name(text: &str) -> bool {
    (1..=40).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn provider_error(error: ProviderError) -> ApiError {
    match error {
        ProviderError::Store(store) => store.into(),
        ProviderError::Envelope(EnvelopeError::NoKey) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "secrets_unavailable",
            "this hub has no master key configured (KIBANDA_MASTER_KEY): secrets cannot be stored",
            Some("secrets"),
        ),
        ProviderError::Envelope(other) => {
            tracing::error!(error = %other, "provider secrets");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "secrets_unavailable",
                "the provider's secrets could not be sealed",
                None,
            )
        }
    }
}

#[utoipa::path(put, path = "/v1/{tenant}/integrations/providers/{provider}/config",
    params(("tenant" = String, Path), ("provider" = String, Path, description = "e.g. `mpesa`, `pesapal`, `pax-terminals`")),
    request_body = ProviderConfigRequest,
    responses((status = 200, body = ProviderDto), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_config(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Json<ProviderConfigRequest>, JsonRejection>,
) -> Result<Json<ProviderDto>, ApiError> {
    context.require_any_role(&["admin"])?;
    let provider = path.1;
    if !valid_name(&provider) {
        return Err(ApiError::invalid(
            "provider",
            "1-40 lower-case letters, digits, '_' or '-'",
        ));
    }
    let Json(request) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    if !KINDS.contains(&request.kind.as_str()) {
        return Err(ApiError::invalid("kind", KINDS.join(", ")));
    }
    let settings = request.settings.unwrap_or_else(|| serde_json::json!({}));
    if !settings.is_object() || settings.to_string().len() > SETTINGS_BYTES_MAX {
        return Err(ApiError::invalid(
            "settings",
            format!("an object of at most {SETTINGS_BYTES_MAX} bytes"),
        ));
    }
    if let Some(secrets) = &request.secrets {
        if secrets.len() > SECRETS_MAX {
            return Err(ApiError::invalid(
                "secrets",
                format!("at most {SECRETS_MAX}"),
            ));
        }
        for (name, value) in secrets {
            if !valid_name(name) {
                return Err(ApiError::invalid(
                    "secrets",
                    format!("secret name {name:?}: 1-40 lower-case letters, digits, '_' or '-'"),
                ));
            }
            if value.is_empty() || value.chars().count() > SECRET_CHARS_MAX {
                return Err(ApiError::invalid(
                    "secrets",
                    format!("secret {name}: 1 to {SECRET_CHARS_MAX} characters"),
                ));
            }
        }
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let stored = put(
        &mut tx,
        &state.master_keys,
        context.tenant.id,
        &provider,
        ProviderWrite {
            kind: &request.kind,
            enabled: request.enabled,
            settings: &settings,
            secrets: request.secrets.as_ref(),
        },
    )
    .await
    .map_err(provider_error)?;
    super::commit(tx).await?;
    Ok(Json(dto(stored)))
}

#[utoipa::path(get, path = "/v1/{tenant}/integrations/providers/{provider}/config",
    params(("tenant" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = ProviderDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_config(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<ProviderDto>, ApiError> {
    context.require_any_role(&["admin", "service", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let provider = get(&mut tx, context.tenant.id, &path.1)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(dto(provider)))
}

#[utoipa::path(get, path = "/v1/{tenant}/integrations/providers",
    params(("tenant" = String, Path)),
    responses((status = 200, body = [ProviderDto])),
    security(("bearer" = [])))]
pub async fn list_providers(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<Vec<ProviderDto>>, ApiError> {
    context.require_any_role(&["admin", "service", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let providers = list(&mut tx, context.tenant.id).await?;
    super::commit(tx).await?;
    Ok(Json(providers.into_iter().map(dto).collect()))
}
