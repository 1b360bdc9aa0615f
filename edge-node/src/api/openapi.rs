//! The LAN API's OpenAPI document, generated from the handlers.

use super::dto;
use super::error::ErrorBody;
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kibanda edge LAN API", description = "What terminals, kiosks and kitchen displays call on the outlet's edge node. Amounts are integer minor units."),
    paths(
        super::health::healthz,
        super::catalog::list_items,
        super::orders::open,
        super::orders::get,
        super::orders::add_line,
        super::orders::take_payment,
        super::orders::close,
        super::orders::void,
        super::orders::receipt,
        super::sync::status,
    ),
    components(schemas(ErrorBody, dto::OrderDto, dto::LineDto, dto::TaxDto, dto::PaymentDto,
        dto::CatalogItemDto, dto::OpenOrderRequest, dto::AddLineRequest, dto::PaymentRequest,
        dto::VoidRequest, dto::PaymentResponse, dto::ReceiptDto, dto::SyncStatusDto, dto::HealthDto)),
    modifiers(&DeviceToken)
)]
pub struct EdgeApiDoc;

struct DeviceToken;

impl Modify for DeviceToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(EdgeApiDoc::openapi())
}
