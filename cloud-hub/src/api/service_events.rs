//! Webhooks from the inventory and logistics services: `inventory.low_stock`,
//! `logistics.task.assigned` and `logistics.status.changed`. Signed like the treasury's
//! callbacks (`Kibanda-Signature: t=…,v1=…`, HMAC-SHA256 over `"<t>.<body>"` with the service's
//! shared secret, five minutes' tolerance), applied once per `event_id`, each recorded for the
//! integrations monitor, and raised as `pos.inventory.low_stock` / `pos.order.delivery_updated`.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::events::signing::{SIGNATURE_HEADER, verify};
use crate::store::payment_intents::{already_applied, record_integration_event};
use crate::store::service_calls::{self, DeliveryReport, LowStock};
use crate::store::tenants::{outlet_by_code, tenant_by_slug};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Delivery statuses logistics may report after assigning a rider.
pub const DELIVERY_STATUSES: &[&str] = &[
    "assigned",
    "picked_up",
    "in_transit",
    "delivered",
    "failed",
    "cancelled",
];
/// Longest id or text field taken from a service. Why 128: the services' ids are UUIDs or
/// short codes; anything longer is a mistake.
const FIELD_CHARS_MAX: usize = 128;

/// Refuses a webhook unless `headers` carry a valid signature of `body` under `secret`.
fn check_signature(
    provider: &str,
    secret: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(secret) = secret else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "integration_not_configured",
            format!("this hub has no {provider} secret configured"),
            None,
        ));
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !verify(secret, signature, body, crate::now_ms() / 1000) {
        tracing::warn!(provider, "webhook with a bad signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the Kibanda-Signature header does not verify",
            Some("Kibanda-Signature"),
        ));
    }
    Ok(())
}

/// A signed webhook from `provider` for the tenant in the path: the signature checked against
/// `secret` first (nothing is read before it verifies), then the tenant and the body.
pub(crate) async fn verified<T: serde::de::DeserializeOwned>(
    state: &AppState,
    provider: &str,
    secret: Option<&str>,
    tenant_slug: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(crate::store::tenants::Tenant, T), ApiError> {
    check_signature(provider, secret, headers, body)?;
    let tenant = tenant_by_slug(&state.pool, tenant_slug)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let event = serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            error.to_string(),
            None,
        )
    })?;
    Ok((tenant, event))
}

/// A webhook event as the integrations monitor records it.
struct Seen<'a> {
    provider: &'static str,
    event_id: &'a str,
    event_type: &'a str,
}

/// Records what became of a webhook event for the integrations monitor, commits, and answers.
async fn answer(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    tenant: crate::store::TenantId,
    seen: Seen<'_>,
    outcome: &str,
    detail: &str,
) -> Result<Json<ServiceEventResult>, ApiError> {
    record_integration_event(
        &mut tx,
        tenant,
        seen.provider,
        Some(seen.event_id),
        seen.event_type,
        outcome,
        detail,
    )
    .await?;
    super::commit(tx).await?;
    Ok(Json(ServiceEventResult {
        outcome: outcome.to_owned(),
    }))
}

fn short(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > FIELD_CHARS_MAX
        || text.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            field,
            format!("1 to {FIELD_CHARS_MAX} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceEventResult {
    /// `applied`, `duplicate` (this event id was applied before) or `ignored` (older than what
    /// the hub already has).
    pub outcome: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InventoryEvent {
    pub event_id: String,
    /// `inventory.low_stock`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The outlet's code; absent for a warehouse-wide alert.
    pub outlet: Option<String>,
    pub item_id: String,
    pub on_hand: i64,
    pub reorder_level: Option<i64>,
    /// `each` (default), `g` or `ml`.
    pub unit: Option<String>,
    pub occurred_at_ms: i64,
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/integrations/inventory/events",
    params(("tenant" = String, Path), ("Kibanda-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    request_body = InventoryEvent,
    responses((status = 200, body = ServiceEventResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn inventory(
    State(state): State<AppState>,
    Path(tenant_slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ServiceEventResult>, ApiError> {
    const PROVIDER: &str = "inventory";
    let (tenant, event): (_, InventoryEvent) = verified(
        &state,
        PROVIDER,
        state.inventory_webhook_secret.as_deref(),
        &tenant_slug,
        &headers,
        &body,
    )
    .await?;
    if event.event_type != "inventory.low_stock" {
        return Err(ApiError::invalid("type", "inventory.low_stock"));
    }
    let event_id = short("event_id", &event.event_id)?;
    let item_id = short("item_id", &event.item_id)?;
    let unit = event.unit.unwrap_or_else(|| "each".to_owned());
    if !matches!(unit.as_str(), "each" | "g" | "ml") {
        return Err(ApiError::invalid("unit", "each, g or ml"));
    }
    let mut tx = super::tenant_tx(&state, tenant.id).await?;
    let outlet = match &event.outlet {
        Some(code) => Some(
            outlet_by_code(&mut tx, tenant.id, code)
                .await?
                .ok_or_else(|| ApiError::invalid("outlet", format!("no outlet {code:?}")))?,
        ),
        None => None,
    };
    let alert = LowStock {
        event_id: event_id.clone(),
        outlet_id: outlet.as_ref().map(|outlet| outlet.id),
        item_id: item_id.clone(),
        on_hand: event.on_hand,
        reorder_level: event.reorder_level,
        unit: unit.clone(),
        raised_at_ms: event.occurred_at_ms,
    };
    let outcome = if service_calls::record_low_stock(&mut tx, tenant.id, &alert).await? {
        let code = outlet.as_ref().map_or("", |outlet| outlet.code.as_str());
        let raised = crate::events::event(
            &tenant.slug,
            code,
            crate::events::derived_id(tenant.id.0, &format!("{PROVIDER}:{event_id}")),
            crate::events::INVENTORY_LOW_STOCK,
            event.occurred_at_ms,
            serde_json::json!({"item_id": item_id, "on_hand": event.on_hand,
                "reorder_level": event.reorder_level, "unit": unit}),
        );
        crate::store::outbox::insert_many(&mut tx, &[(tenant.id, raised)]).await?;
        "applied"
    } else {
        "duplicate"
    };
    let seen = Seen {
        provider: PROVIDER,
        event_id: &event_id,
        event_type: &event.event_type,
    };
    answer(tx, tenant.id, seen, outcome, &item_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RiderDto {
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LogisticsEvent {
    pub event_id: String,
    /// `logistics.task.assigned` or `logistics.status.changed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The order handed off (`POST /v1/{tenant}/handoff/{orderId}`).
    pub order_id: Uuid,
    pub task_id: String,
    /// For `logistics.status.changed`: `picked_up`, `in_transit`, `delivered`, `failed` or
    /// `cancelled`.
    pub status: Option<String>,
    pub rider: Option<RiderDto>,
    /// When the rider is expected at the customer.
    pub eta_ms: Option<i64>,
    pub occurred_at_ms: i64,
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/integrations/logistics/events",
    params(("tenant" = String, Path), ("Kibanda-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    request_body = LogisticsEvent,
    responses((status = 200, body = ServiceEventResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn logistics(
    State(state): State<AppState>,
    Path(tenant_slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ServiceEventResult>, ApiError> {
    const PROVIDER: &str = "logistics";
    let (tenant, event): (_, LogisticsEvent) = verified(
        &state,
        PROVIDER,
        state.logistics_webhook_secret.as_deref(),
        &tenant_slug,
        &headers,
        &body,
    )
    .await?;
    let status = match (event.event_type.as_str(), event.status.as_deref()) {
        ("logistics.task.assigned", _) => "assigned".to_owned(),
        ("logistics.status.changed", Some(status))
            if DELIVERY_STATUSES.contains(&status) && status != "assigned" =>
        {
            status.to_owned()
        }
        ("logistics.status.changed", _) => {
            return Err(ApiError::invalid(
                "status",
                "picked_up, in_transit, delivered, failed or cancelled",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "type",
                "logistics.task.assigned or logistics.status.changed",
            ));
        }
    };
    let event_id = short("event_id", &event.event_id)?;
    let task_id = short("task_id", &event.task_id)?;
    let rider_name = event
        .rider
        .as_ref()
        .and_then(|rider| rider.name.as_deref())
        .map(|name| short("rider.name", name))
        .transpose()?;
    let rider_phone = event
        .rider
        .as_ref()
        .and_then(|rider| rider.phone.as_deref())
        .map(|phone| short("rider.phone", phone))
        .transpose()?;
    let mut tx = super::tenant_tx(&state, tenant.id).await?;
    let seen = Seen {
        provider: PROVIDER,
        event_id: &event_id,
        event_type: &event.event_type,
    };
    if already_applied(&mut tx, tenant.id, PROVIDER, &event_id).await? {
        return answer(tx, tenant.id, seen, "duplicate", "").await;
    }
    let report = DeliveryReport {
        order_id: event.order_id,
        task_id,
        status,
        rider_name,
        rider_phone,
        eta_ms: event.eta_ms,
        reported_at_ms: event.occurred_at_ms,
    };
    let outcome = match service_calls::apply_delivery_report(&mut tx, tenant.id, &report).await? {
        None => return Err(ApiError::not_found()),
        Some(false) => "ignored",
        Some(true) => {
            let delivery = service_calls::delivery(&mut tx, tenant.id, event.order_id)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let code = service_calls::order_outlet_code(&mut tx, tenant.id, event.order_id)
                .await?
                .unwrap_or_default();
            let raised = crate::events::event(
                &tenant.slug,
                &code,
                crate::events::derived_id(tenant.id.0, &format!("{PROVIDER}:{event_id}")),
                crate::events::ORDER_DELIVERY_UPDATED,
                event.occurred_at_ms,
                serde_json::json!({"order_id": event.order_id.to_string(),
                    "task_id": delivery.task_id, "status": delivery.status,
                    "rider": {"name": delivery.rider_name, "phone": delivery.rider_phone},
                    "eta_ms": delivery.eta_ms}),
            );
            crate::store::outbox::insert_many(&mut tx, &[(tenant.id, raised)]).await?;
            "applied"
        }
    };
    answer(tx, tenant.id, seen, outcome, &report.status).await
}
