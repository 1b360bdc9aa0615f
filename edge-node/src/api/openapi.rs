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
        super::orders::list,
        super::orders::get,
        super::cloud_orders::list,
        super::cloud_orders::notes,
        super::cloud_orders::add_note,
        super::cloud_orders::patch_notes,
        super::gift_cards::pay,
        super::gift_cards::get,
        super::gift_cards::get_hold,
        super::gift_cards::cancel_hold,
        super::loyalty::attach_member,
        super::loyalty::pay_with_points,
        super::loyalty::pay_with_voucher,
        super::loyalty::get_member,
        super::loyalty::get_voucher,
        super::reports::day,
        super::reports::close_day,
        super::reports::z_reports,
        super::reports::z_report,
        super::tips::add,
        super::tips::pool,
        super::tips::pay_out,
        super::tips::payouts,
        super::tips::set_rule,
        super::cloud_orders::refund_requests,
        super::payments::request,
        super::payments::get,
        super::payments::list,
        super::payments::record_receipt,
        super::payments::record_offline_card,
        super::payments::offline_card_risk,
        super::orders::add_line,
        super::orders::take_payment,
        super::orders::close,
        super::orders::void,
        super::order_adjustments::void_line,
        super::order_adjustments::discount,
        super::order_adjustments::merge,
        super::order_adjustments::add_combo,
        super::order_adjustments::combos,
        super::order_adjustments::scale_labels,
        super::order_adjustments::set_scale_labels,
        super::order_adjustments::promo_code,
        super::order_adjustments::split,
        super::order_adjustments::discount_policy,
        super::order_adjustments::set_discount_policy,
        super::orders::refund,
        super::orders::refunds,
        super::drawers::open,
        super::drawers::pay_in,
        super::drawers::pay_out,
        super::drawers::drop_to_safe,
        super::drawers::count,
        super::drawers::close,
        super::drawers::report,
        super::orders::receipt,
        super::sync::status,
        super::staff::list,
        super::staff::add,
        super::staff::sign_in,
        super::staff::current,
        super::staff::heartbeat,
        super::staff::sign_out,
        super::staff::open_sessions,
        super::staff::force_logout,
        super::staff::audit,
        super::staff::no_sale,
        super::devices::start_pairing,
        super::devices::register,
        super::devices::list,
        super::devices::update,
        super::devices::remove,
        super::kitchen::send,
        super::kitchen::routes,
        super::kitchen::replace_routes,
        super::kitchen::tickets,
        super::kitchen::all_day,
        super::kitchen::ticket_action,
        super::kitchen::stream,
        super::kitchen::stations,
        super::kitchen::set_station_limit,
        super::printing::add,
        super::printing::list,
        super::printing::jobs,
        super::printing::template,
        super::printing::put_template,
        super::printing::print_receipt,
        super::tables::floor,
        super::tables::replace,
        super::tables::seat,
        super::tables::transfer,
        super::tables::open_tab,
        super::tables::tabs,
    ),
    components(schemas(ErrorBody, super::orders::RefundStatusDto, super::order_adjustments::ScaleLabelsDto, super::order_adjustments::ComboRequest, super::order_adjustments::ComboDto, super::tips::PayoutRequest, super::tips::TipPayoutDto, dto::ModifierDto, super::order_adjustments::PromoCodeRequest, super::order_adjustments::LineVoidRequest, super::order_adjustments::DiscountRequest, super::order_adjustments::MergeRequest, super::order_adjustments::SplitRequest, super::order_adjustments::BillShareDto, super::order_adjustments::SplitDto, super::order_adjustments::DiscountPolicyDto, dto::DiscountDto, super::cloud_orders::CloudOrderDto, super::cloud_orders::CloudCancelDto, super::cloud_orders::OrderNotesDto, super::cloud_orders::NoteDto, super::cloud_orders::ArrivalDto, super::cloud_orders::AddNoteRequest, super::cloud_orders::ArrivalRequest, super::cloud_orders::PatchNotesRequest, super::gift_cards::GiftCardPaymentRequest, super::gift_cards::GiftCardDto, super::gift_cards::GiftCardPaymentResponse, super::gift_cards::GiftCardHoldDto, super::gift_cards::GiftCardHoldResponse, super::loyalty::AttachMemberRequest, super::loyalty::PointsPaymentRequest, super::loyalty::VoucherPaymentRequest, super::loyalty::LoyaltyMemberDto, super::loyalty::VoucherDto, super::loyalty::AttachMemberResponse, super::loyalty::PointsPaymentResponse, super::loyalty::VoucherPaymentResponse, super::reports::TaxLineDto, super::reports::TenderLineDto, super::reports::SalesSummaryDto, super::reports::XReportDto, super::reports::ZReportDto, super::tips::TipRequest, super::tips::TipOutDto, super::tips::TipPoolDto, super::payments::PaymentIntentRequest, super::payments::PaymentIntentDto, super::payments::MpesaReceiptRequest, super::payments::RecordedPaymentResponse, super::payments::OfflineCardRequest, super::payments::OfflineCardRiskDto, super::payments::OfflineCardLimitsDto, dto::OrderDto, dto::LineDto, dto::TaxDto, dto::PaymentDto,
        dto::CatalogItemDto, dto::OpenOrderRequest, dto::AddLineRequest, dto::PaymentRequest,
        dto::VoidRequest, dto::RefundRequestDto, super::drawers::OpenDrawerRequest, super::drawers::CashMovementRequest, super::drawers::TenderCountDto, super::drawers::CountRequest, super::drawers::DrawerDto, super::drawers::AmountByTender, super::drawers::CountedByTender, super::drawers::DrawerReportDto, dto::PaymentResponse, dto::ReceiptDto, dto::SyncStatusDto, dto::HealthDto,
        dto::ApprovalDto, dto::SignInRequest, dto::AddStaffRequest, dto::StaffDto, dto::SessionDto,
        dto::AuditEntryDto, dto::NoSaleRequest, dto::StartPairingRequest, dto::PairingCodeDto,
        dto::RegisterDeviceRequest, dto::RegisteredDeviceDto, dto::DeviceDto,
        dto::UpdateDeviceRequest, dto::KitchenRouteDto, dto::KitchenRoutesRequest,
        dto::TicketLineDto, dto::TicketDto, dto::SendResponse, dto::TicketActionRequest,
        dto::TicketActionResponse, dto::AllDayCountDto, dto::AddPrinterRequest, dto::PrinterDto,
        dto::PrintJobDto, dto::PrintReceiptRequest, dto::PrintReceiptResponse,
        dto::ReceiptTemplateDto, dto::FloorTableDto, dto::FloorPlanRequest, dto::TableDto,
        dto::SeatRequest, dto::TransferRequest, dto::OpenTabRequest, dto::TabDto, dto::SendRequest,
        dto::StationLimitRequest, dto::StationLoadDto)),
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

/// A documentation page for `/openapi.json` that needs no internet (no CDN): terminal makers on
/// a shop LAN and operators behind a firewall read it as it is.
pub async fn docs_page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../../../docs/api/viewer.html"))
}
