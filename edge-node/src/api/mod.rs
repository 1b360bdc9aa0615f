//! The LAN API that terminals, kiosks and kitchen displays call.
//!
//! Handlers are thin: extract, parse, one service call, map to a DTO. Every route but
//! `/healthz` and `/openapi.json` needs a paired device's bearer token.

pub mod catalog;
pub mod dto;
pub mod error;
pub mod health;
pub mod openapi;
pub mod orders;
pub mod sync;

use crate::services::orders::OrderService;
use crate::store::Store;
use crate::sync::SyncState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use error::ApiError;
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
}

pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/v1/catalog/items", get(catalog::list_items))
        .route("/v1/orders", post(orders::open))
        .route("/v1/orders/{id}", get(orders::get))
        .route("/v1/orders/{id}/lines", post(orders::add_line))
        .route("/v1/orders/{id}/payments", post(orders::take_payment))
        .route("/v1/orders/{id}/close", post(orders::close))
        .route("/v1/orders/{id}/void", post(orders::void))
        .route("/v1/orders/{id}/receipt", get(orders::receipt))
        .route("/v1/sync/status", get(sync::status))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_device,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(authenticated)
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Lets a request through only with a valid device token.
async fn require_device(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("a paired device's bearer token is required"))?
        .to_owned();
    let device = crate::services::devices::authenticate(state.store.clone(), token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or disabled device token"))?;
    request.extensions_mut().insert(device);
    Ok(next.run(request).await)
}
