//! The tenant's POS subscription, as the business's licensing service sets it. A renewal date
//! coming within the notice period raises `pos.subscription.renewal_due` once.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::subscriptions::{Subscription, get, put};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionDto {
    /// The plan's name, e.g. `pos-pro`.
    pub plan: String,
    /// RFC 3339, e.g. `2026-12-31T00:00:00Z`.
    pub renews_at: String,
    /// Days before `renews_at` the notice is raised (1–90, default 7).
    #[serde(default = "notice_days_default")]
    pub notice_days: i32,
}

fn notice_days_default() -> i32 {
    7
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/subscription", params(("tenant" = String, Path)),
    request_body = SubscriptionDto,
    responses((status = 200, body = SubscriptionDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_subscription(
    State(state): State<AppState>,
    context: TenantContext,
    body: Result<Json<SubscriptionDto>, JsonRejection>,
) -> Result<Json<SubscriptionDto>, ApiError> {
    // The licensing service's to set, not the tenant's own admins.
    context.require_any_role(&["service"])?;
    let Json(dto) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let plan = dto.plan.trim();
    if plan.is_empty() || plan.chars().count() > 60 || plan.chars().any(char::is_control) {
        return Err(ApiError::invalid("plan", "1-60 printable characters"));
    }
    let renews_at = OffsetDateTime::parse(&dto.renews_at, &Rfc3339)
        .map_err(|_| ApiError::invalid("renews_at", "an RFC 3339 timestamp"))?;
    if !(1..=90).contains(&dto.notice_days) {
        return Err(ApiError::invalid("notice_days", "1 to 90"));
    }
    let subscription = Subscription {
        plan: plan.to_owned(),
        renews_at,
        notice_days: dto.notice_days,
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    put(&mut tx, context.tenant.id, &subscription).await?;
    super::commit(tx).await?;
    Ok(Json(SubscriptionDto {
        plan: subscription.plan,
        renews_at: renews_at.format(&Rfc3339).unwrap_or_default(),
        notice_days: subscription.notice_days,
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/subscription", params(("tenant" = String, Path)),
    responses((status = 200, body = SubscriptionDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_subscription(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<SubscriptionDto>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let subscription = get(&mut tx, context.tenant.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(SubscriptionDto {
        plan: subscription.plan,
        renews_at: subscription.renews_at.format(&Rfc3339).unwrap_or_default(),
        notice_days: subscription.notice_days,
    }))
}
