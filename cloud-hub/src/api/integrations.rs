//! The integrations monitor: what the hub's connectors did lately — calls that failed, answers
//! that were declined, callbacks applied, refused or repeated — so a failing connector is seen
//! before a shop calls about it.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::payment_intents::integration_events;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

/// Most events one page returns.
pub const EVENTS_PAGE_MAX: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this outcome: `applied`, `ignored`, `call_failed`, `amount_mismatch`, ...
    pub outcome: Option<String>,
    /// At most this many, newest first (default 100, at most 500).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationEventDto {
    pub id: i64,
    /// The connector, e.g. `treasury`.
    pub provider: String,
    /// The provider's id of a callback, when it sent one.
    pub event_id: Option<String>,
    /// `payment_captured`, `payment_failed` (callbacks), `payment_request`, `receipt_lookup`
    /// (calls the hub made).
    pub event_type: String,
    pub outcome: String,
    pub detail: String,
    pub at: String,
}

#[utoipa::path(get, path = "/v1/{tenant}/integrations/events", params(("tenant" = String, Path), EventsQuery),
    responses((status = 200, body = [IntegrationEventDto]), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    context: TenantContext,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<Vec<IntegrationEventDto>>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "auditor"])?;
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=EVENTS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("1 to {EVENTS_PAGE_MAX}"),
        ));
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let rows =
        integration_events(&mut tx, context.tenant.id, query.outcome.as_deref(), limit).await?;
    super::commit(tx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| IntegrationEventDto {
                id: row.id,
                provider: row.provider,
                event_id: row.event_id,
                event_type: row.event_type,
                outcome: row.outcome,
                detail: row.detail,
                at: row.received_at.format(&Rfc3339).unwrap_or_default(),
            })
            .collect(),
    ))
}
