//! Response bodies of the hub API. Amounts are integer minor units named `*_minor`.

use crate::store::orders::StoredOrder;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxDto {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
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
    /// The id the edge gave the order.
    pub id: String,
    /// The outlet's code.
    pub outlet: String,
    pub outlet_id: String,
    pub device_id: String,
    pub number: u64,
    #[serde(rename = "type")]
    pub order_type: String,
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
    /// Given back so far by refunds (new facts on the order; the sale itself is unchanged).
    pub refunded_minor: i64,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    /// For an order placed in the cloud: where it came from and what a cancel became.
    pub cloud: Option<CloudInfoDto>,
    /// Chargebacks the treasury reported on the order's payments (on single-order reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chargebacks: Option<Vec<ChargebackDto>>,
    /// A delivery order's rider task, as logistics reports it (on single-order reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub task_id: Option<String>,
    /// `requested` (handed to logistics), `assigned`, `picked_up`, `in_transit`, `delivered`,
    /// `failed` or `cancelled`.
    pub status: String,
    pub rider_name: Option<String>,
    pub rider_phone: Option<String>,
    pub eta_ms: Option<i64>,
    pub reported_at_ms: i64,
}

impl From<&crate::store::service_calls::DeliveryRow> for DeliveryDto {
    fn from(row: &crate::store::service_calls::DeliveryRow) -> Self {
        DeliveryDto {
            task_id: row.task_id.clone(),
            status: row.status.clone(),
            rider_name: row.rider_name.clone(),
            rider_phone: row.rider_phone.clone(),
            eta_ms: row.eta_ms,
            reported_at_ms: row.reported_at_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChargebackDto {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    /// The treasury's payment id.
    pub provider_ref: Option<String>,
    pub received_at_ms: i64,
}

impl From<&crate::store::audit_log::Chargeback> for ChargebackDto {
    fn from(chargeback: &crate::store::audit_log::Chargeback) -> Self {
        ChargebackDto {
            id: chargeback.id.to_string(),
            amount_minor: chargeback.amount_minor,
            currency: chargeback.currency.clone(),
            reason: chargeback.reason.clone(),
            provider_ref: chargeback.provider_ref.clone(),
            received_at_ms: chargeback.received_at_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CloudInfoDto {
    /// `ecommerce`, `delivery` or `click_and_collect`.
    pub channel: String,
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub notes: Option<String>,
    /// Absent until a cancel is asked; `requested` until the outlet decides, then `cancelled`
    /// (voided, nothing was paid), `refund_requested` (money was taken: the order stands and a
    /// manager decides the refund), `already_voided` or `too_late`.
    pub cancel_state: Option<String>,
    pub cancel_reason: Option<String>,
    /// For `refund_requested`: what the outlet had taken.
    pub refund_requested_minor: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn tax(portion: &shared_model::tax::TaxPortion) -> TaxDto {
    TaxDto {
        code: portion.code.clone(),
        rate_bps: portion.rate_bps,
        taxable_minor: portion.taxable_minor,
        tax_minor: portion.tax_minor,
    }
}

impl From<&StoredOrder> for OrderDto {
    fn from(stored: &StoredOrder) -> Self {
        let order = &stored.order;
        let totals = order.totals();
        OrderDto {
            id: order.id.to_string(),
            outlet: stored.outlet_code.clone(),
            outlet_id: stored.outlet_id.to_string(),
            device_id: stored.device_id.to_string(),
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
                    taxes: line.taxes.iter().map(tax).collect(),
                })
                .collect(),
            taxes: totals.taxes.iter().map(tax).collect(),
            payments: order
                .payments
                .iter()
                .map(|p| PaymentDto {
                    id: p.id.to_string(),
                    tender: serde_json::to_value(p.tender)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
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
            refunded_minor: totals.refunded_minor,
            opened_at_ms: order.opened_at_ms,
            closed_at_ms: order.closed_at_ms,
            cloud: stored.cloud.as_ref().map(|cloud| CloudInfoDto {
                channel: cloud.channel.clone(),
                external_ref: cloud.external_ref.clone(),
                customer_name: cloud.customer_name.clone(),
                customer_phone: cloud.customer_phone.clone(),
                notes: cloud.notes.clone(),
                cancel_state: cloud.cancel_state.clone(),
                cancel_reason: cloud.cancel_reason.clone(),
                refund_requested_minor: cloud.refund_requested_minor,
            }),
            chargebacks: None,
            delivery: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
}
