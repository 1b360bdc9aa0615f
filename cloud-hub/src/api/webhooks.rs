//! Tenant webhook endpoints, and the delivery log with its dead-letter list and replay.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::events::KNOWN_EVENT_TYPES;
use crate::store::webhooks::{
    delete_endpoint, deliveries as list_deliveries, endpoints, insert_endpoint,
    replay as replay_delivery,
};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Roles that manage webhooks.
pub const WEBHOOK_ADMINS: &[&str] = &["admin", "service"];
/// Longest endpoint URL.
pub const URL_CHARS_MAX: usize = 2_048;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://...` (or `http://` for private endpoints where allowed).
    pub url: String,
    /// Event types, e.g. `pos.order.created`, `pos.order.closed`, `pos.order.voided`.
    pub events: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
    /// The signing secret: returned once, at creation; redacted afterwards.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
}

fn check_url(url: &str, allow_private: bool) -> Result<(), ApiError> {
    let invalid = |message: &str| ApiError::invalid("url", message.to_owned());
    if url.len() > URL_CHARS_MAX {
        return Err(invalid("URL too long"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid("not a URL"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| invalid("URL has no host"))?;
    let private = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| match ip {
                IpAddr::V4(v4) => {
                    v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
                }
                IpAddr::V6(v6) => {
                    v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
                }
            });
    match (parsed.scheme(), private) {
        (_, true) if !allow_private => {
            Err(invalid("endpoints on private networks are not allowed"))
        }
        ("https", _) => Ok(()),
        ("http", true) => Ok(()),
        _ => Err(invalid("use https")),
    }
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/webhooks", params(("tenant" = String, Path)), request_body = NewWebhook,
    responses((status = 201, body = WebhookDto), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    context: TenantContext,
    body: Result<Json<NewWebhook>, JsonRejection>,
) -> Result<(StatusCode, Json<WebhookDto>), ApiError> {
    context.require_any_role(WEBHOOK_ADMINS)?;
    let Json(request) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    check_url(&request.url, state.webhook_allow_private)?;
    if request.events.is_empty()
        || request
            .events
            .iter()
            .any(|e| !KNOWN_EVENT_TYPES.contains(&e.as_str()))
    {
        return Err(ApiError::invalid(
            "events",
            format!("one or more of {}", KNOWN_EVENT_TYPES.join(", ")),
        ));
    }
    let mut secret_bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret_bytes);
    let secret = format!("whsec_{}", hex::encode(secret_bytes));
    let id = Uuid::now_v7();
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    insert_endpoint(
        &mut tx,
        &state.master_keys,
        context.tenant.id,
        id,
        &request.url,
        &secret,
        &request.events,
    )
    .await?;
    super::commit(tx).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookDto {
            id: id.to_string(),
            url: request.url,
            events: request.events,
            created_at: time::OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            secret: Some(secret),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/webhooks", params(("tenant" = String, Path)),
    responses((status = 200, body = [WebhookDto])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<Vec<WebhookDto>>, ApiError> {
    context.require_any_role(WEBHOOK_ADMINS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let rows = endpoints(&mut tx, context.tenant.id).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| WebhookDto {
                id: row.id.to_string(),
                url: row.url,
                events: row.events,
                created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
                secret: None,
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/v1/{tenant}/pos/webhooks/{id}", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(WEBHOOK_ADMINS)?;
    let id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let deleted = delete_endpoint(&mut tx, context.tenant.id, id).await?;
    super::commit(tx).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/webhooks/deliveries", params(("tenant" = String, Path), DeliveryQuery),
    responses((status = 200, body = [DeliveryDto])), security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    context: TenantContext,
    query: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeliveryDto>>, ApiError> {
    context.require_any_role(WEBHOOK_ADMINS)?;
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    if let Some(status) = &query.status
        && !["pending", "delivered", "dead"].contains(&status.as_str())
    {
        return Err(ApiError::invalid("status", "pending, delivered or dead"));
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let rows = list_deliveries(&mut tx, context.tenant.id, query.status.as_deref(), 200).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| DeliveryDto {
                id: row.id.to_string(),
                endpoint_id: row.endpoint_id.to_string(),
                event_id: row.event_id.to_string(),
                event_type: row.event_type,
                status: row.status,
                attempts: row.attempts,
                last_status: row.last_status,
                last_error: row.last_error,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/webhooks/deliveries/{id}/replay", params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 202), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(WEBHOOK_ADMINS)?;
    let id: Uuid = path.1.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let replayed = replay_delivery(&mut tx, context.tenant.id, id).await?;
    super::commit(tx).await?;
    if replayed {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found())
    }
}
