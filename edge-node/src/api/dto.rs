//! Request and response bodies of the LAN API: the contract terminal makers build against.
//! Amounts are integer minor units named `*_minor`.

use serde::{Deserialize, Serialize};
use shared_model::tax::TaxPortion;
use shared_model::{CatalogItem, Order};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenOrderRequest {
    /// One of `dine_in`, `bar_tab`, `take_out`, `delivery`, `ecommerce_pickup`, `drive_thru`,
    /// `kiosk`.
    #[serde(rename = "type")]
    pub order_type: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineRequest {
    pub item_id: String,
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// `cash`, `card`, `mpesa` or `gift_card`.
    pub tender: String,
    /// What the customer handed over; for cash this may exceed the balance (change is given).
    pub amount_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxDto {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

impl From<&TaxPortion> for TaxDto {
    fn from(portion: &TaxPortion) -> Self {
        TaxDto {
            code: portion.code.clone(),
            rate_bps: portion.rate_bps,
            taxable_minor: portion.taxable_minor,
            tax_minor: portion.tax_minor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogItemDto {
    pub id: String,
    pub name: String,
    pub category: String,
    pub price_minor: i64,
    /// `inclusive` when the price includes tax.
    pub tax_mode: String,
    pub tax_codes: Vec<String>,
}

impl From<&CatalogItem> for CatalogItemDto {
    fn from(item: &CatalogItem) -> Self {
        CatalogItemDto {
            id: item.id.0.clone(),
            name: item.name.clone(),
            category: item.category.clone(),
            price_minor: item.price_minor,
            tax_mode: match item.tax_mode {
                shared_model::TaxMode::Inclusive => "inclusive".into(),
                shared_model::TaxMode::Exclusive => "exclusive".into(),
            },
            tax_codes: item.tax_rates.iter().map(|r| r.code.clone()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineDto {
    pub id: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub taxes: Vec<TaxDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    pub id: String,
    pub tender: String,
    pub tendered_minor: i64,
    pub amount_minor: i64,
    pub change_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: String,
    pub number: u64,
    #[serde(rename = "type")]
    pub order_type: String,
    /// `open`, `sent`, `partially_paid`, `paid`, `closed` or `voided`.
    pub state: String,
    pub currency: String,
    pub lines: Vec<LineDto>,
    pub taxes: Vec<TaxDto>,
    pub payments: Vec<PaymentDto>,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub paid_minor: i64,
    pub change_minor: i64,
    pub balance_due_minor: i64,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
}

fn tender_name(tender: shared_model::Tender) -> String {
    match tender {
        shared_model::Tender::Cash => "cash",
        shared_model::Tender::Card => "card",
        shared_model::Tender::Mpesa => "mpesa",
        shared_model::Tender::GiftCard => "gift_card",
    }
    .to_owned()
}

pub fn parse_tender(text: &str) -> Option<shared_model::Tender> {
    match text {
        "cash" => Some(shared_model::Tender::Cash),
        "card" => Some(shared_model::Tender::Card),
        "mpesa" => Some(shared_model::Tender::Mpesa),
        "gift_card" => Some(shared_model::Tender::GiftCard),
        _ => None,
    }
}

impl From<&Order> for OrderDto {
    fn from(order: &Order) -> Self {
        let totals = order.totals();
        OrderDto {
            id: order.id.to_string(),
            number: order.number,
            order_type: order.order_type.as_str().to_owned(),
            state: order.state.as_str().to_owned(),
            currency: order.currency.code().to_owned(),
            lines: order
                .lines
                .iter()
                .map(|line| LineDto {
                    id: line.id.to_string(),
                    item_id: line.item_id.0.clone(),
                    name: line.name.clone(),
                    quantity: line.quantity,
                    unit_price_minor: line.unit_price_minor,
                    net_minor: line.net_minor,
                    tax_minor: line.tax_minor,
                    total_minor: line.gross_minor,
                    taxes: line.taxes.iter().map(TaxDto::from).collect(),
                })
                .collect(),
            taxes: totals.taxes.iter().map(TaxDto::from).collect(),
            payments: order
                .payments
                .iter()
                .map(|p| PaymentDto {
                    id: p.id.to_string(),
                    tender: tender_name(p.tender),
                    tendered_minor: p.tendered_minor,
                    amount_minor: p.amount_minor,
                    change_minor: p.change_minor,
                })
                .collect(),
            net_minor: totals.net_minor,
            tax_minor: totals.tax_minor,
            total_minor: totals.total_minor,
            paid_minor: totals.paid_minor,
            change_minor: totals.change_minor,
            balance_due_minor: totals.balance_due_minor,
            opened_at_ms: order.opened_at_ms,
            closed_at_ms: order.closed_at_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResponse {
    pub payment_id: String,
    /// Cash to hand back to the customer.
    pub change_due_minor: i64,
    pub order: OrderDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptDto {
    pub order_id: String,
    /// The receipt as printed, one line per `\n`.
    pub text: String,
    pub order: OrderDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStatusDto {
    pub enrolled: bool,
    pub connected: bool,
    pub hub: Option<String>,
    pub node_id: String,
    pub ops_pending: u64,
    pub last_seq: u64,
    pub last_acked_seq: u64,
    /// Age of the oldest op the hub has not acknowledged.
    pub oldest_pending_age_ms: Option<i64>,
    /// True when the oldest un-synced op is older than an hour: the hub has been out of reach
    /// for long enough that a manager should look.
    pub backlog_alert: bool,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
}
