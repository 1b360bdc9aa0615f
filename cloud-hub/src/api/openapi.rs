//! The hub API's OpenAPI document, generated from the handlers.

use super::{dto, error::ErrorBody};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kibanda hub API", description = "The multi-tenant POS API other services build on. Amounts are integer minor units; every tenant route needs a bearer JWT whose `tenant` claim matches the path."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        super::orders::list,
        super::orders::get,
        super::refunds::list,
        super::audit_log::list,
        super::cloud_orders::place,
        super::cloud_orders::cancel,
        super::order_notes::get,
        super::order_notes::add,
        super::order_notes::patch,
        super::cloud_orders::replay,
        super::gift_cards::issue,
        super::gift_cards::get,
        super::gift_cards::top_up,
        super::gift_cards::expire,
        super::staff::sessions,
        super::loyalty::put_program,
        super::loyalty::get_program,
        super::loyalty::enroll,
        super::loyalty::get_member,
        super::loyalty::adjust,
        super::loyalty::issue_voucher,
        super::loyalty::get_voucher,
        super::loyalty::cancel_voucher,
        super::day_reports::list,
        super::day_reports::get,
        super::catalog::upload,
        super::catalog::list,
        super::catalog::remove,
        super::catalog::put_modifiers,
        super::catalog::get_modifiers,
        super::catalog::put_combo,
        super::catalog::list_combos,
        super::catalog::remove_combo,
        super::outlet_settings::put_price_book,
        super::outlet_settings::list_price_books,
        super::outlet_settings::delete_price_book,
        super::outlet_settings::get_config,
        super::outlet_settings::put_config,
        super::treasury_events::receive,
        super::service_events::inventory,
        super::service_events::logistics,
        super::stock::create_transfer,
        super::promotions::list,
        super::tip_payouts::list,
        super::promotions::put,
        super::promotions::remove,
        super::floor_plan::get,
        super::floor_plan::put,
        super::stock::get_transfer,
        super::stock::stock_alerts,
        super::integrations::events,
        super::subscription::put_subscription,
        super::subscription::get_subscription,
        super::providers::list_providers,
        super::providers::get_config,
        super::providers::put_config,
        super::drawers::list,
        super::payment_intents::get,
        super::staff::upload,
        super::staff::list,
        super::staff::logout,
        super::devices::list,
        super::outlets::list,
        super::outlets::get,
        super::outlets::register,
        super::outlets::enrollment_code,
        super::devices::lan_devices,
        super::devices::revoke,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::remove,
        super::webhooks::deliveries,
        super::webhooks::replay,
        super::sync_audit::list,
        super::sync_audit::chain,
    ),
    components(schemas(ErrorBody, super::outlets::OutletDto, super::outlets::RegisterOutletRequest, super::outlets::EnrollmentCodeRequest, super::outlets::EnrollmentCodeDto, super::catalog::ComboDto, super::tip_payouts::TipPayoutDto, super::catalog::ItemModifiersDto, super::promotions::PromotionRequest, super::promotions::PromotionDto, super::floor_plan::PlanTableDto, super::floor_plan::FloorPlanRequest, super::floor_plan::FloorPlanDto, dto::OrderDto, dto::DeliveryDto, super::service_events::ServiceEventResult, super::service_events::InventoryEvent, super::service_events::LogisticsEvent, super::service_events::RiderDto, super::stock::TransferLine, super::stock::TransferRequest, super::stock::TransferDto, super::stock::StockAlertDto, dto::CloudInfoDto, super::refunds::TreasuryRefundDto, super::audit_log::AuditEntryDto, super::audit_log::AuditPage, dto::ChargebackDto, super::cloud_orders::PlaceCloudOrderRequest, super::cloud_orders::CloudLineRequest, super::cloud_orders::CustomerRequest, super::cloud_orders::PrepaidRequest, super::cloud_orders::PlacedCloudOrderDto, super::cloud_orders::CancelCloudOrderRequest, super::cloud_orders::CancelAnswerDto, super::cloud_orders::ReplayRecordDto, super::order_notes::AddNoteRequest, super::order_notes::ArrivalRequest, super::order_notes::PatchNotesRequest, super::order_notes::OrderNotesAnswer, crate::services::order_notes::OrderNotesDto, crate::services::order_notes::NoteDto, crate::services::order_notes::ArrivalDto, super::gift_cards::IssueGiftCardRequest, super::gift_cards::TopUpRequest, super::gift_cards::GiftCardDto, super::gift_cards::LedgerEntryDto, super::staff::StaffSessionDto, super::loyalty::LoyaltyProgramRequest, super::loyalty::LoyaltyProgramDto, super::loyalty::EnrollMemberRequest, super::loyalty::AdjustPointsRequest, super::loyalty::PointsEntryDto, super::loyalty::MemberDto, super::loyalty::IssueVoucherRequest, super::loyalty::VoucherRedemptionDto, super::loyalty::VoucherDto, super::day_reports::DayReportDto, dto::OrderPage, dto::LineDto, dto::TaxDto, dto::PaymentDto, dto::HealthDto, super::sync_audit::DeviceSyncDto, super::sync_audit::ChainAuditDto, super::catalog::CatalogItemDto, super::catalog::TaxRateDto, super::catalog::CatalogUpload, super::catalog::CatalogUploadResult, super::webhooks::NewWebhook, super::webhooks::WebhookDto, super::webhooks::DeliveryDto,
        super::devices::DeviceDto, super::devices::LanDeviceDto, super::staff::StaffMemberDto, super::staff::StaffUpload, super::staff::StaffUploadResult, super::staff::StaffView,
        super::outlet_settings::PriceBookDto, super::outlet_settings::PriceBookView, super::outlet_settings::WindowDto, super::outlet_settings::PriceDto, super::outlet_settings::FeedWriteResult, super::outlet_settings::OutletConfigDto, super::outlet_settings::OutletConfigView, super::outlet_settings::OfflineCardLimitsDto, super::outlet_settings::CashRoundingDto, super::outlet_settings::TaxPolicyDto,
        super::treasury_events::TreasuryEvent, super::treasury_events::TreasuryEventResult, super::payment_intents::PaymentIntentDto, super::integrations::IntegrationEventDto, super::providers::ProviderConfigRequest, super::providers::ProviderDto, super::subscription::SubscriptionDto,
        super::drawers::ShiftReportDto, super::drawers::DrawerReportDto, super::drawers::OutletTotalsDto, super::drawers::AmountByTender, super::drawers::CountedByTender)),
    modifiers(&Bearer)
)]
pub struct HubApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(HubApiDoc::openapi())
}

/// A documentation page for `/openapi.json` that needs no internet (no CDN): terminal makers on
/// a shop LAN and operators behind a firewall read it as it is.
pub async fn docs_page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../../../docs/api/viewer.html"))
}
