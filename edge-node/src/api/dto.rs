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
    /// The catalog item; or give `barcode` instead.
    #[serde(default)]
    pub item_id: Option<String>,
    /// A scanned product code (EAN-13/UPC, check digit verified) of a catalog item.
    #[serde(default)]
    pub barcode: Option<String>,
    /// Units, for an item sold by the piece. Default 1.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// The scale's reading for an item sold by the kilogram (instead of `quantity`).
    #[serde(default)]
    pub grams: Option<i64>,
    /// The measure for an item sold by the litre (instead of `quantity`).
    #[serde(default)]
    pub millilitres: Option<i64>,
    /// Seat number at the table, 1–99.
    #[serde(default)]
    pub seat: Option<u16>,
    /// Course to fire it with (1 = starters …).
    #[serde(default)]
    pub course: Option<u8>,
    /// "No onions", "allergic to nuts".
    #[serde(default)]
    pub instructions: Option<String>,
    /// The cashier checked the customer's age; required for age-restricted items, and audited.
    #[serde(default)]
    pub age_verified: bool,
    /// A price override: this unit price instead of the price book's. High-risk: it needs
    /// `price_override_reason` and the permission or an `approval`, and is audited.
    #[serde(default)]
    pub unit_price_minor: Option<i64>,
    #[serde(default)]
    pub price_override_reason: Option<String>,
    /// Choices in the item's modifier groups: `[{"group_id": "milk", "option_id": "oat",
    /// "nested": []}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub modifiers: Vec<shared_model::modifiers::ModifierChoice>,
    /// A supervisor's override for a price override the signed-in role may not make.
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
}

impl AddLineRequest {
    /// The line's quantity: exactly one of `quantity`, `grams`, `millilitres` (or none: one
    /// unit). Errors name the field.
    pub fn quantity(&self) -> Result<shared_model::Quantity, (&'static str, &'static str)> {
        use shared_model::Quantity;
        match (self.quantity, self.grams, self.millilitres) {
            (None, None, None) => Ok(Quantity::Each(1)),
            (Some(units), None, None) => Ok(Quantity::Each(units)),
            (None, Some(grams), None) => Ok(Quantity::Grams(grams)),
            (None, None, Some(ml)) => Ok(Quantity::Millilitres(ml)),
            _ => Err((
                "quantity",
                "give one of quantity, grams or millilitres, not several",
            )),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// `cash`, `card` or `mpesa` (gift cards, points and vouchers have their own routes).
    pub tender: String,
    /// What the customer handed over; for cash this may exceed the balance (change is given).
    pub amount_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    pub reason: String,
    /// A supervisor's override, needed to void an order already sent to the kitchen when the
    /// signed-in staff member's role does not allow it.
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestDto {
    /// `cash`, `card`, `mpesa`, `gift_card` or `loyalty_points` (the tender it was paid
    /// with; a voucher's value is not given back).
    pub tender: String,
    /// An amount to give back; omit it (and `line_ids`) to refund everything still refundable.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// Lines to refund at what the customer paid for them.
    #[serde(default)]
    pub line_ids: Option<Vec<String>>,
    pub reason: String,
    /// A supervisor's override when the signed-in staff member may not refund.
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
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
    /// The choices the item offers (`min_choices` 1 or more: required), as the hub set them;
    /// send choices as `modifiers` when adding a line.
    #[schema(value_type = Vec<Object>)]
    pub modifier_groups: Vec<shared_model::modifiers::ModifierGroup>,
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
            modifier_groups: Vec::new(),
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
    pub seat: Option<u16>,
    pub course: Option<u8>,
    /// The choices made, with what each added to the unit price.
    pub modifiers: Vec<ModifierDto>,
    /// Sent to the kitchen.
    pub sent: bool,
    /// Voided lines stay on the order (struck through) and count for nothing.
    pub voided: bool,
    pub void_reason: Option<String>,
}

/// A modifier chosen on a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModifierDto {
    pub group_id: String,
    pub option_id: String,
    pub name: String,
    pub price_delta_minor: i64,
}

/// A cashier's discount on a line or on the bill.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscountDto {
    pub id: String,
    /// The line discounted; absent for a discount on the bill.
    pub line_id: Option<String>,
    /// A percentage in basis points (1000 = 10%), or
    pub percent_bps: Option<u32>,
    /// a fixed amount.
    pub amount_minor: Option<i64>,
    pub reason: String,
    pub applied_at_ms: i64,
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
    pub discounts: Vec<DiscountDto>,
    /// The live lines before discounts and promotions.
    pub subtotal_minor: i64,
    /// What discounts and promotions take off.
    pub discount_minor: i64,
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
                    seat: line.seat,
                    course: line.course,
                    modifiers: line
                        .modifiers
                        .iter()
                        .map(|chosen| ModifierDto {
                            group_id: chosen.group_id.clone(),
                            option_id: chosen.option_id.clone(),
                            name: chosen.name.clone(),
                            price_delta_minor: chosen.price_delta_minor,
                        })
                        .collect(),
                    sent: line.sent,
                    voided: line.voided.is_some(),
                    void_reason: line.voided.as_ref().map(|void| void.reason.clone()),
                })
                .collect(),
            taxes: totals.taxes.iter().map(TaxDto::from).collect(),
            payments: order
                .payments
                .iter()
                .map(|p| PaymentDto {
                    id: p.id.to_string(),
                    tender: p.tender.as_str().to_owned(),
                    tendered_minor: p.tendered_minor,
                    amount_minor: p.amount_minor,
                    change_minor: p.change_minor,
                })
                .collect(),
            discounts: order
                .discounts
                .iter()
                .map(|discount| {
                    let (percent_bps, amount_minor) = match discount.kind {
                        shared_model::pricing::DiscountKind::Percent { percent_bps } => {
                            (Some(percent_bps), None)
                        }
                        shared_model::pricing::DiscountKind::Amount { amount_minor } => {
                            (None, Some(amount_minor))
                        }
                    };
                    DiscountDto {
                        id: discount.id.0.to_string(),
                        line_id: match discount.target {
                            shared_model::order::DiscountTarget::Line { line_id } => {
                                Some(line_id.to_string())
                            }
                            shared_model::order::DiscountTarget::Order => None,
                        },
                        percent_bps,
                        amount_minor,
                        reason: discount.reason.clone(),
                        applied_at_ms: discount.applied_at_ms,
                    }
                })
                .collect(),
            subtotal_minor: totals.subtotal_minor,
            discount_minor: totals.discount_minor,
            net_minor: totals.net_minor,
            tax_minor: totals.tax_minor,
            total_minor: totals.total_minor,
            paid_minor: totals.paid_minor,
            change_minor: totals.change_minor,
            balance_due_minor: totals.balance_due_minor,
            refunded_minor: totals.refunded_minor,
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
    /// How far this box has applied the hub's feed for its outlet (catalog, prices, staff,
    /// configuration); compare with `feed_through_seq` of a hub write to know it arrived.
    pub feed_through_seq: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
}

// ---- staff -----------------------------------------------------------------------------------

/// A second staff member's PIN, sent with a high-risk request to approve it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDto {
    pub staff_id: String,
    pub pin: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub staff_id: String,
    pub pin: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddStaffRequest {
    pub name: String,
    /// `cashier`, `bartender`, `server`, `kitchen`, `supervisor`, `manager` or
    /// `inventory_clerk`.
    pub role: String,
    /// 4 to 8 digits; stored only as an argon2 hash.
    pub pin: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffDto {
    pub id: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDto {
    pub id: String,
    pub staff_id: String,
    pub staff_name: String,
    pub role: String,
    pub device_id: String,
    pub started_at_ms: i64,
    pub last_seen_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: String,
    /// e.g. `void_after_send`, `reprint_paid_receipt`, `drawer_no_sale`.
    pub action: String,
    pub actor_staff_id: Option<String>,
    pub approver_staff_id: Option<String>,
    pub device_id: String,
    pub subject: String,
    pub reason: String,
    pub at_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoSaleRequest {
    pub reason: String,
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
}

// ---- devices ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartPairingRequest {
    /// `terminal`, `kds`, `kiosk` or `printer`.
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairingCodeDto {
    /// Six digits, single use.
    pub code: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredDeviceDto {
    pub device_id: String,
    pub name: String,
    pub kind: String,
    /// Send as `Authorization: Bearer <token>`; shown once.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceDto {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created_at_ms: i64,
    pub disabled: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDeviceRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

// ---- kitchen ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KitchenRouteDto {
    /// `item` or `category`.
    #[serde(rename = "match")]
    pub match_kind: String,
    /// The item id or category name matched.
    pub value: String,
    /// e.g. `grill`, `fryer`, `bar`, `expo`.
    pub station: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KitchenRoutesRequest {
    pub routes: Vec<KitchenRouteDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketLineDto {
    pub line_id: String,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    /// Voided after it was sent: shown struck through, not to be made.
    pub voided: bool,
    /// The choices to make it with, nested ones indented.
    pub modifiers: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDto {
    pub id: String,
    pub order_id: String,
    pub order_number: u64,
    pub station: String,
    /// `new`, `paused` or `bumped`.
    pub state: String,
    pub priority: bool,
    pub remake_of: Option<String>,
    pub lines: Vec<TicketLineDto>,
    pub created_at_ms: i64,
    pub bumped_at_ms: Option<i64>,
    /// How long the ticket has been (or was) in the kitchen: the KDS timer.
    pub age_ms: i64,
}

impl TicketDto {
    pub fn from_ticket(ticket: &crate::store::Ticket, now_ms: i64) -> TicketDto {
        TicketDto {
            id: ticket.id.to_string(),
            order_id: ticket.order_id.to_string(),
            order_number: ticket.order_number,
            station: ticket.station.clone(),
            state: ticket.state.as_str().to_owned(),
            priority: ticket.priority,
            remake_of: ticket.remake_of.map(|id| id.to_string()),
            lines: ticket
                .lines
                .iter()
                .map(|line| TicketLineDto {
                    line_id: line.line_id.to_string(),
                    item_id: line.item_id.clone(),
                    name: line.name.clone(),
                    quantity: line.quantity,
                    voided: line.voided,
                    modifiers: line.modifiers.clone(),
                })
                .collect(),
            created_at_ms: ticket.created_at_ms,
            bumped_at_ms: ticket.bumped_at_ms,
            age_ms: ticket.bumped_at_ms.unwrap_or(now_ms) - ticket.created_at_ms,
        }
    }
}

/// Optional body of a send: fire only these lines (a course) and hold the rest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Absent (or no body at all): every unsent line.
    #[serde(default)]
    pub line_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendResponse {
    pub tickets: Vec<TicketDto>,
    /// The wait to tell the customer, in whole minutes (as milliseconds): the slowest of the
    /// stations the order went to, from their recent make times and the tickets ahead of it.
    pub quoted_wait_ms: i64,
    pub quoted_ready_at_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketActionRequest {
    /// `bump`, `recall`, `remake`, `pause`, `resume` or `priority`.
    pub action: String,
    /// For `priority`: rush (`true`) or normal (`false`).
    #[serde(default)]
    pub priority: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketActionResponse {
    /// The ticket changed, or the new ticket of a remake.
    pub ticket: TicketDto,
    /// Every ticket of the order is bumped: the order is ready.
    pub order_ready: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllDayCountDto {
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
}

// ---- printing --------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPrinterRequest {
    pub name: String,
    /// IP address, optionally `:port` (default 9100).
    pub addr: String,
    /// `receipt` or `kitchen`.
    pub role: String,
    /// For kitchen printers: the station whose tickets it prints.
    #[serde(default)]
    pub station: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterDto {
    pub id: String,
    pub name: String,
    pub addr: String,
    pub role: String,
    pub station: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrintJobDto {
    pub id: i64,
    pub printer_id: String,
    pub kind: String,
    pub subject: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintReceiptRequest {
    /// Required for a reprint of a paid receipt.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub approval: Option<ApprovalDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrintReceiptResponse {
    pub queued: bool,
    /// This print was a reprint of a paid receipt (audited).
    pub reprint: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptTemplateDto {
    #[serde(default)]
    pub header_lines: Vec<String>,
    #[serde(default)]
    pub footer_lines: Vec<String>,
    /// Fiscal fields (e.g. control unit number); blank space is printed when empty.
    #[serde(default)]
    pub fiscal_lines: Vec<String>,
}

// ---- tables ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FloorTableDto {
    pub area: String,
    /// The table's label, e.g. `T4`; unique.
    pub code: String,
    pub seats: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FloorPlanRequest {
    pub tables: Vec<FloorTableDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableDto {
    pub code: String,
    pub area: String,
    pub seats: u32,
    /// `free`, `seated`, `ordered` or `paying`.
    pub status: String,
    pub order_id: Option<String>,
    pub guests: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatRequest {
    pub guests: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The code of a free table to move the order to; or
    #[serde(default)]
    pub table: Option<String>,
    /// the staff member to hand the order (a table's bill, a bar tab) to.
    #[serde(default)]
    pub server_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTabRequest {
    pub name: String,
    /// The most the tab may run up to.
    #[serde(default)]
    pub limit_minor: Option<i64>,
    /// The card terminal's pre-authorisation reference, when a card secures the tab.
    #[serde(default)]
    pub preauth_ref: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TabDto {
    pub name: String,
    pub limit_minor: Option<i64>,
    pub preauth_ref: Option<String>,
    pub order: OrderDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationLimitRequest {
    /// Open tickets at which kiosk sends to this station are refused; `null` clears the limit.
    pub active_tickets_max: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationLoadDto {
    pub station: String,
    pub active_tickets: u64,
    pub active_tickets_max: Option<u64>,
    /// Age of the oldest open ticket.
    pub oldest_ticket_age_ms: Option<i64>,
    /// The wait a kiosk would quote for an order sent here now (whole minutes, as ms).
    pub quoted_wait_ms: i64,
}
