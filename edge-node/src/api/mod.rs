//! The LAN API that terminals, kiosks and kitchen displays call.
//!
//! Handlers are thin: extract, parse, one service call, map to a DTO. Every route but
//! `/healthz`, `/openapi.json`, `/docs`, the browser KDS page (`/kds`) and device registration
//! needs a paired device's bearer token.

pub mod catalog;
pub mod cloud_orders;
pub mod devices;
pub mod drawers;
pub mod dto;
pub mod error;
pub mod gift_cards;
pub mod health;
pub mod kds;
pub mod kitchen;
pub mod loyalty;
pub mod openapi;
pub mod order_adjustments;
pub mod orders;
pub mod payments;
pub mod printing;
pub mod reports;
pub mod staff;
pub mod sync;
pub mod tables;
pub mod tips;

use crate::printers::queue::{PrintQueue, PrintQueueLimits};
use crate::services::kitchen::KitchenService;
use crate::services::orders::OrderService;
use crate::services::printing::PrintService;
use crate::services::staff::SESSION_IDLE_TIMEOUT_MS_DEFAULT;
use crate::services::stream::EventBus;
use crate::services::tables::TableService;
use crate::store::{Store, StoreError};
use crate::sync::SyncState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use error::ApiError;
use shared_model::Currency;
use std::sync::Arc;

/// Largest request body. Why 64 KiB: the biggest LAN request (an order line with modifiers
/// and notes) is a few KiB; anything larger is a mistake or an attack.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub orders: Arc<OrderService>,
    pub sync: Arc<SyncState>,
    pub outlet_name: Arc<str>,
    pub kitchen: Arc<KitchenService>,
    pub tables: Arc<TableService>,
    pub printing: Arc<PrintService>,
    pub drawers: Arc<crate::services::drawers::DrawerService>,
    pub events: Arc<EventBus>,
    /// A staff session not heartbeating for this long is signed out.
    pub staff_idle_timeout_ms: i64,
    /// Permits for open live streams ([`kitchen::STREAM_CONNECTIONS_MAX`]).
    pub streams: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// The state of an edge serving `store`: the print queue's worker is not started here (see
    /// [`crate::startup::App::run`]), so tests choose whether printers are driven.
    pub fn new(
        store: Arc<Store>,
        currency: Currency,
        outlet_name: Arc<str>,
        print_limits: PrintQueueLimits,
    ) -> Result<AppState, StoreError> {
        let events = Arc::new(EventBus::new(&store)?);
        let queue = PrintQueue::new(store.clone(), print_limits);
        let sync = Arc::new(SyncState::default());
        sync.attach_events(events.clone());
        Ok(AppState {
            orders: Arc::new(OrderService::new(store.clone(), currency)),
            kitchen: Arc::new(KitchenService::new(store.clone(), events.clone())),
            tables: Arc::new(TableService::new(store.clone(), currency)),
            printing: Arc::new(PrintService::new(store.clone(), queue, outlet_name.clone())),
            drawers: Arc::new(crate::services::drawers::DrawerService::new(store.clone())),
            events,
            sync,
            outlet_name,
            store,
            staff_idle_timeout_ms: SESSION_IDLE_TIMEOUT_MS_DEFAULT,
            streams: Arc::new(tokio::sync::Semaphore::new(kitchen::STREAM_CONNECTIONS_MAX)),
        })
    }
}

pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/v1/catalog/items", get(catalog::list_items))
        .route("/v1/orders", get(orders::list).post(orders::open))
        .route("/v1/orders/{id}", get(orders::get))
        .route("/v1/orders/{id}/lines", post(orders::add_line))
        .route("/v1/orders/{id}/payments", post(orders::take_payment))
        .route("/v1/orders/{id}/payment-intents", post(payments::request))
        .route(
            "/v1/orders/{id}/mpesa-receipts",
            post(payments::record_receipt),
        )
        .route(
            "/v1/orders/{id}/offline-card-payments",
            post(payments::record_offline_card),
        )
        .route(
            "/v1/offline-card-payments",
            get(payments::offline_card_risk),
        )
        .route("/v1/orders/{id}/gift-card-payments", post(gift_cards::pay))
        .route(
            "/v1/orders/{id}/loyalty-member",
            axum::routing::put(loyalty::attach_member),
        )
        .route(
            "/v1/orders/{id}/loyalty-payments",
            post(loyalty::pay_with_points),
        )
        .route(
            "/v1/orders/{id}/voucher-payments",
            post(loyalty::pay_with_voucher),
        )
        .route("/v1/loyalty/members/{code}", get(loyalty::get_member))
        .route("/v1/vouchers/{code}", get(loyalty::get_voucher))
        .route("/v1/orders/{id}/tips", post(tips::add))
        .route("/v1/tips/pool", get(tips::pool))
        .route("/v1/tips/payouts", get(tips::payouts).post(tips::pay_out))
        .route("/v1/tips/rule", axum::routing::put(tips::set_rule))
        .route("/v1/gift-cards/{code}", get(gift_cards::get))
        .route("/v1/gift-card-holds/{id}", get(gift_cards::get_hold))
        .route(
            "/v1/gift-card-holds/{id}/cancel",
            post(gift_cards::cancel_hold),
        )
        .route("/v1/cloud-orders", get(cloud_orders::list))
        .route("/v1/refund-requests", get(cloud_orders::refund_requests))
        .route("/v1/payment-intents", get(payments::list))
        .route("/v1/payment-intents/{id}", get(payments::get))
        .route("/v1/orders/{id}/close", post(orders::close))
        .route("/v1/orders/{id}/void", post(orders::void))
        .route(
            "/v1/orders/{id}/lines/{line_id}/void",
            post(order_adjustments::void_line),
        )
        .route(
            "/v1/orders/{id}/discounts",
            post(order_adjustments::discount),
        )
        .route("/v1/orders/{id}/merge", post(order_adjustments::merge))
        .route("/v1/orders/{id}/combos", post(order_adjustments::add_combo))
        .route("/v1/combos", get(order_adjustments::combos))
        .route(
            "/v1/settings/scale-labels",
            get(order_adjustments::scale_labels).put(order_adjustments::set_scale_labels),
        )
        .route(
            "/v1/orders/{id}/promo-codes",
            post(order_adjustments::promo_code),
        )
        .route("/v1/orders/{id}/split", post(order_adjustments::split))
        .route(
            "/v1/settings/discount-policy",
            get(order_adjustments::discount_policy).put(order_adjustments::set_discount_policy),
        )
        .route(
            "/v1/orders/{id}/refunds",
            get(orders::refunds).post(orders::refund),
        )
        .route("/v1/orders/{id}/receipt", get(orders::receipt))
        .route(
            "/v1/orders/{id}/notes",
            get(cloud_orders::notes)
                .post(cloud_orders::add_note)
                .patch(cloud_orders::patch_notes),
        )
        .route("/v1/sync/status", get(sync::status))
        // staff and the audit trail
        .route("/v1/staff", get(staff::list).post(staff::add))
        .route(
            "/v1/staff/sessions",
            get(staff::open_sessions).post(staff::sign_in),
        )
        .route(
            "/v1/staff/sessions/current",
            get(staff::current).delete(staff::sign_out),
        )
        .route(
            "/v1/staff/sessions/current/heartbeat",
            post(staff::heartbeat),
        )
        .route(
            "/v1/staff/sessions/{id}",
            axum::routing::delete(staff::force_logout),
        )
        .route("/v1/audit", get(staff::audit))
        .route("/v1/reports/day", get(reports::day))
        .route("/v1/reports/day/close", post(reports::close_day))
        .route("/v1/reports/z", get(reports::z_reports))
        .route("/v1/reports/z/{number}", get(reports::z_report))
        .route("/v1/drawer/no-sale", post(staff::no_sale))
        .route("/v1/drawer", get(drawers::report).post(drawers::open))
        .route("/v1/drawer/pay-ins", post(drawers::pay_in))
        .route("/v1/drawer/pay-outs", post(drawers::pay_out))
        .route("/v1/drawer/drops", post(drawers::drop_to_safe))
        .route("/v1/drawer/count", post(drawers::count))
        .route("/v1/drawer/close", post(drawers::close))
        // devices
        .route("/v1/devices", get(devices::list))
        .route("/v1/devices/pairing-codes", post(devices::start_pairing))
        .route(
            "/v1/devices/{id}",
            axum::routing::patch(devices::update).delete(devices::remove),
        )
        // kitchen
        .route("/v1/orders/{id}/send", post(kitchen::send))
        .route(
            "/v1/kitchen/routes",
            get(kitchen::routes).put(kitchen::replace_routes),
        )
        .route("/v1/kitchen/tickets", get(kitchen::tickets))
        .route(
            "/v1/kitchen/tickets/{id}/actions",
            post(kitchen::ticket_action),
        )
        .route("/v1/kitchen/all-day", get(kitchen::all_day))
        .route("/v1/kitchen/stations", get(kitchen::stations))
        .route(
            "/v1/kitchen/stations/{station}/limit",
            axum::routing::put(kitchen::set_station_limit),
        )
        .route("/v1/stream", get(kitchen::stream))
        // tables
        .route("/v1/floor-plan", get(tables::floor).put(tables::replace))
        .route("/v1/tables/{code}/orders", post(tables::seat))
        .route("/v1/orders/{id}/transfer", post(tables::transfer))
        .route("/v1/tabs", get(tables::tabs).post(tables::open_tab))
        // printing
        .route("/v1/printers", get(printing::list).post(printing::add))
        .route("/v1/print-jobs", get(printing::jobs))
        .route(
            "/v1/settings/receipt-template",
            get(printing::template).put(printing::put_template),
        )
        .route(
            "/v1/orders/{id}/receipt/print",
            post(printing::print_receipt),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_device,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs_page))
        // The browser kitchen display's page (it pairs itself, then calls the API).
        .route("/kds", get(kds::page))
        .route("/kds/kds.js", get(kds::script))
        .route("/kds/kds.css", get(kds::stylesheet))
        // The one route for a device that has no token yet: it brings a pairing code.
        .route("/v1/devices/register", post(devices::register))
        .merge(authenticated)
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            durable_answers,
        ))
        .layer(axum::middleware::from_fn(refuse_card_numbers))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Holds the answer to a request that may have changed something until the change is on disk
/// (group commit: one fsync for every request waiting; see `store::durability`). Reads answer at
/// once.
async fn durable_answers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let response = next.run(request).await;
    if reads || response.status().is_client_error() {
        // A refused request changed nothing.
        return Ok(response);
    }
    let store = state.store.clone();
    crate::services::blocking(move || store.wait_durable()).await?;
    Ok(response)
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

/// The subprotocol a browser offers to carry its device token on a WebSocket (it cannot set
/// headers there): `kibanda.bearer.<token>`, beside [`kitchen::STREAM_PROTOCOL`].
pub const BEARER_SUBPROTOCOL_PREFIX: &str = "kibanda.bearer.";

/// The caller's device token: `Authorization: Bearer <token>`, or on a WebSocket upgrade, a
/// `kibanda.bearer.<token>` entry of `Sec-WebSocket-Protocol`.
fn device_token(headers: &axum::http::HeaderMap) -> Option<String> {
    use axum::http::header;
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return Some(token.trim().to_owned());
    }
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix(BEARER_SUBPROTOCOL_PREFIX))
        .map(str::to_owned)
}

/// Lets a request through only with a valid device token, and records who is calling: the
/// device and the staff member signed in on it (an idle session is ended here).
async fn require_device(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = device_token(request.headers())
        .ok_or_else(|| ApiError::unauthorized("a paired device's bearer token is required"))?;
    let caller = crate::services::staff::caller(
        state.store.clone(),
        token,
        crate::now_ms(),
        state.staff_idle_timeout_ms,
    )
    .await?
    .ok_or_else(|| ApiError::unauthorized("unknown or disabled device token"))?;
    request.extensions_mut().insert(caller.device.clone());
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}
