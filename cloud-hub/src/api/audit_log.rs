//! The tenant's audit log: every high-risk action its tills audited (who, what, when, why, who
//! approved), and what the treasury reported on orders (chargebacks), newest first.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::audit_log::{AuditCursor, list as list_entries};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Roles that read the audit log.
pub const AUDIT_READERS: &[&str] = &["admin", "manager", "auditor"];
/// Largest page. Why 500: a busy outlet's day of audited actions.
pub const PAGE_LIMIT_MAX: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this outlet's entries (outlet code).
    pub outlet: Option<String>,
    /// Only this action (`void_after_send`, `refund`, `price_override`, `drawer_no_sale`,
    /// `chargeback`, ...).
    pub action: Option<String>,
    /// 1 to 500, default 100.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: String,
    pub outlet: Option<String>,
    /// `till` or `treasury`.
    pub source: String,
    pub action: String,
    /// The signed-in staff member who asked, and the one whose override PIN allowed it.
    pub actor_staff_id: Option<String>,
    pub approver_staff_id: Option<String>,
    pub device_id: Option<String>,
    /// What was acted on, e.g. `order:<id>` or `drawer`.
    pub subject: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(cursor: AuditCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{}", cursor.at_ms, cursor.id))
}

fn decode_cursor(text: &str) -> Option<AuditCursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once(':')?;
    Some(AuditCursor {
        at_ms: at.parse().ok()?,
        id: id.parse().ok()?,
    })
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/audit-log",
    params(("tenant" = String, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    context.require_any_role(AUDIT_READERS)?;
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=PAGE_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {PAGE_LIMIT_MAX}"),
        ));
    }
    let after = match query.cursor.as_deref() {
        Some(text) => Some(
            decode_cursor(text)
                .ok_or_else(|| ApiError::invalid("cursor", "not a cursor from this API"))?,
        ),
        None => None,
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let entries = list_entries(
        &mut tx,
        context.tenant.id,
        query.outlet.as_deref(),
        query.action.as_deref(),
        after,
        limit,
    )
    .await?;
    super::commit(tx).await?;
    let next_cursor = (entries.len() as i64 == limit)
        .then(|| entries.last())
        .flatten()
        .map(|last| {
            encode_cursor(AuditCursor {
                at_ms: last.at_ms,
                id: last.id,
            })
        });
    Ok(Json(AuditPage {
        entries: entries
            .into_iter()
            .map(|entry| AuditEntryDto {
                id: entry.id.to_string(),
                outlet: entry.outlet_code,
                source: entry.source,
                action: entry.action,
                actor_staff_id: entry.actor_staff_id.map(|id| id.to_string()),
                approver_staff_id: entry.approver_staff_id.map(|id| id.to_string()),
                device_id: entry.device_id.map(|id| id.to_string()),
                subject: entry.subject,
                reason: entry.reason,
                detail: entry.detail,
                at_ms: entry.at_ms,
            })
            .collect(),
        next_cursor,
    }))
}
