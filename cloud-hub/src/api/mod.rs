//! The hub's tenant REST API under `/v1/{tenant}/pos/...`, plus health, metrics and OpenAPI.

pub mod audit_log;
pub mod catalog;
pub mod cloud_orders;
pub mod day_reports;
pub mod devices;
pub mod drawers;
pub mod dto;
pub mod error;
pub mod extract;
pub mod floor_plan;
pub mod gift_cards;
pub mod health;
pub mod integrations;
pub mod loyalty;
pub mod middleware;
pub mod openapi;
pub mod order_notes;
pub mod orders;
pub mod outlet_settings;
pub mod outlets;
pub mod payment_intents;
pub mod promotions;
pub mod providers;
pub mod refunds;
pub mod service_events;
pub mod staff;
pub mod stock;
pub mod subscription;
pub mod sync_audit;
pub mod tip_payouts;
pub mod treasury_events;
pub mod webhooks;

use crate::auth::Authenticator;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use error::ApiError;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body. Why 1 MiB: the largest hub request in sight (a catalog page upload)
/// fits; anything larger should be chunked.
pub const REQUEST_BODY_BYTES_MAX: usize = 1024 * 1024;

/// A transaction in which PostgreSQL row-level security confines every query to `tenant`.
pub(crate) async fn tenant_tx(
    state: &AppState,
    tenant: crate::store::TenantId,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ApiError> {
    Ok(crate::store::scoped::begin(&state.pool, tenant).await?)
}

/// Commits a tenant transaction.
pub(crate) async fn commit(tx: sqlx::Transaction<'static, sqlx::Postgres>) -> Result<(), ApiError> {
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(())
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    /// Accept webhook URLs on loopback/private networks (tests and local use only).
    pub webhook_allow_private: bool,
    pub rate_limiter: Arc<middleware::RateLimiter>,
    /// Per calling device or service (the token's `sub`) within a tenant.
    pub device_rate_limiter: Arc<middleware::RateLimiter>,
    /// Secret of the treasury's signed callbacks; `None`: callbacks are refused.
    pub treasury_webhook_secret: Option<Arc<str>>,
    /// The secrets the inventory and logistics services sign their webhooks with.
    pub inventory_webhook_secret: Option<Arc<str>>,
    pub logistics_webhook_secret: Option<Arc<str>>,
    /// Seals tenants' provider secrets.
    pub master_keys: Arc<crate::envelope::MasterKeys>,
    /// Where unknown tenants and outlets are looked up before anything is created.
    pub registry: Option<Arc<crate::integrations::registry::TenantRegistry>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs_page))
        .route("/v1/{tenant}/pos/orders", get(orders::list))
        .route("/v1/{tenant}/pos/orders/{id}", get(orders::get))
        .route("/v1/{tenant}/pos/orders/{id}/refunds", get(refunds::list))
        .route("/v1/{tenant}/pos/audit-log", get(audit_log::list))
        .route(
            "/v1/{tenant}/pos/orders/{id}/cancel",
            post(cloud_orders::cancel),
        )
        .route(
            "/v1/{tenant}/pos/orders/{id}/notes",
            get(order_notes::get)
                .post(order_notes::add)
                .patch(order_notes::patch),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/orders",
            post(cloud_orders::place),
        )
        .route("/v1/{tenant}/pos/gift-cards", post(gift_cards::issue))
        .route("/v1/{tenant}/pos/gift-cards/{code}", get(gift_cards::get))
        .route(
            "/v1/{tenant}/pos/gift-cards/{code}/top-ups",
            post(gift_cards::top_up),
        )
        .route(
            "/v1/{tenant}/pos/gift-cards/{code}/expire",
            post(gift_cards::expire),
        )
        .route(
            "/v1/{tenant}/pos/loyalty/program",
            get(loyalty::get_program).put(loyalty::put_program),
        )
        .route("/v1/{tenant}/pos/loyalty/members", post(loyalty::enroll))
        .route(
            "/v1/{tenant}/pos/loyalty/members/{code}",
            get(loyalty::get_member),
        )
        .route(
            "/v1/{tenant}/pos/loyalty/members/{code}/adjustments",
            post(loyalty::adjust),
        )
        .route("/v1/{tenant}/pos/vouchers", post(loyalty::issue_voucher))
        .route(
            "/v1/{tenant}/pos/vouchers/{code}",
            get(loyalty::get_voucher),
        )
        .route(
            "/v1/{tenant}/pos/vouchers/{code}/cancel",
            post(loyalty::cancel_voucher),
        )
        .route(
            "/v1/{tenant}/pos/offline-event-replay",
            get(cloud_orders::replay),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/catalog/items",
            get(catalog::list).put(catalog::upload),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}",
            delete(catalog::remove),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/price-books",
            get(outlet_settings::list_price_books),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/price-books/{book_id}",
            put(outlet_settings::put_price_book).delete(outlet_settings::delete_price_book),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/drawers",
            get(drawers::list),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/z-reports",
            get(day_reports::list),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/z-reports/{number}",
            get(day_reports::get),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/config",
            get(outlet_settings::get_config).put(outlet_settings::put_config),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/staff",
            get(staff::list).put(staff::upload),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/staff/{staff_id}/logout",
            post(staff::logout),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/staff-sessions",
            get(staff::sessions),
        )
        .route(
            "/v1/{tenant}/integrations/events",
            get(integrations::events),
        )
        .route(
            "/v1/{tenant}/integrations/providers",
            get(providers::list_providers),
        )
        .route(
            "/v1/{tenant}/integrations/providers/{provider}/config",
            get(providers::get_config).put(providers::put_config),
        )
        .route(
            "/v1/{tenant}/pos/integrations/treasury/events",
            post(treasury_events::receive),
        )
        .route(
            "/v1/{tenant}/pos/integrations/inventory/events",
            post(service_events::inventory),
        )
        .route(
            "/v1/{tenant}/pos/integrations/logistics/events",
            post(service_events::logistics),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/floor-plan",
            get(floor_plan::get).put(floor_plan::put),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}/modifiers",
            get(catalog::get_modifiers).put(catalog::put_modifiers),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/tip-payouts",
            get(tip_payouts::list),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/combos",
            get(catalog::list_combos),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/combos/{combo_id}",
            axum::routing::put(catalog::put_combo).delete(catalog::remove_combo),
        )
        .route("/v1/{tenant}/pos/promotions", get(promotions::list))
        .route(
            "/v1/{tenant}/pos/promotions/{id}",
            axum::routing::put(promotions::put).delete(promotions::remove),
        )
        .route("/v1/{tenant}/pos/transfers", post(stock::create_transfer))
        .route("/v1/{tenant}/pos/transfers/{id}", get(stock::get_transfer))
        .route("/v1/{tenant}/pos/stock-alerts", get(stock::stock_alerts))
        .route(
            "/v1/{tenant}/pos/payment-intents/{id}",
            get(payment_intents::get),
        )
        .route(
            "/v1/{tenant}/pos/subscription",
            get(subscription::get_subscription).put(subscription::put_subscription),
        )
        .route("/v1/{tenant}/pos/devices", get(devices::list))
        .route("/v1/{tenant}/pos/outlets", get(outlets::list))
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}",
            get(outlets::get).put(outlets::register),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/enrollment-codes",
            post(outlets::enrollment_code),
        )
        .route(
            "/v1/{tenant}/pos/outlets/{outlet}/devices",
            get(devices::lan_devices),
        )
        .route(
            "/v1/{tenant}/pos/devices/{id}/revoke",
            post(devices::revoke),
        )
        .route(
            "/v1/{tenant}/pos/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/v1/{tenant}/pos/webhooks/{id}", delete(webhooks::remove))
        .route(
            "/v1/{tenant}/pos/webhooks/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/v1/{tenant}/pos/webhooks/deliveries/{id}/replay",
            post(webhooks::replay),
        )
        .route("/v1/{tenant}/pos/sync/devices", get(sync_audit::list))
        .route(
            "/v1/{tenant}/pos/sync/devices/{device_id}/chain",
            get(sync_audit::chain),
        )
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::idempotency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ))
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(axum::middleware::from_fn(refuse_card_numbers))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// JSON keys not searched for card numbers: product barcodes are 13 digits and pass the Luhn
/// check by chance about one time in ten.
const CARD_SCAN_EXEMPT: &[&str] = &["barcodes"];

/// Refuses, before any handler runs, a request whose JSON body carries a payment-card number
/// in any string (see `shared_model::pci`): nothing of it is stored or logged, and the error
/// names the field, never the value.
async fn refuse_card_numbers(request: Request, next: Next) -> Result<Response, ApiError> {
    if matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::DELETE
    ) {
        return Ok(next.run(request).await);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are limited to {REQUEST_BODY_BYTES_MAX} bytes"),
                None,
            )
        })?;
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(field) = shared_model::pci::find_card_number_in_json(&value, CARD_SCAN_EXEMPT)
    {
        tracing::warn!(%field, "refused a request carrying a card number");
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "card_number_refused",
            "this looks like a payment-card number; Kibanda never takes card data (use the card terminal)",
            Some(&field),
        ));
    }
    Ok(next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await)
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(crate::metrics::HTTP_LATENCY, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
