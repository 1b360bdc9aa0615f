//! Orders and their state machine.
//!
//! Commands (`add_line`, `take_payment`, `close`, `void`) check the rules against the current
//! state and return the [`OrderEvent`] that records the decision; they never mutate. `apply`
//! folds an event into the order. The edge calls both; the hub only applies, so a total
//! computed at the edge is the total the hub reports.
//!
//! ```text
//!  open ──send──▶ sent ──pay part──▶ partially_paid ──pay rest──▶ paid ──close──▶ closed
//!   │  ◀─lines─┘  │                                   ▲            │               │
//!   │              │                                   │            └── refund ─────┴─▶ refunded
//!   ├──────────────┴── void (no payments) ──▶ voided   └── pay in full (from open/sent)
//!   └──────────────┴── merge into another ──▶ merged
//! ```
//!
//! Lines, discounts, promotions and the service charge change only while the order is open or
//! sent; sending fires the unsent lines to the kitchen, and a line voided after it was sent
//! stays on the order (as waste) with its reason. Refunds, partial or whole, are new facts on
//! a paid or closed order; a whole refund ends in `refunded`. Every command returns its own
//! typed error when the transition is not allowed; [`Order::apply`] re-checks the same rules.
//!
//! The commands added for issue 3 live in submodules: [`adjustments`] (send, line voids,
//! discounts, promotions, service charge, tips, tax policy, detailed lines), [`refunds`] and
//! [`merge`].

pub mod adjustments;
pub mod merge;
pub mod refunds;

pub use adjustments::{
    CashRoundingError, DiscountError, LineRequest, LineRequestError, LineVoidError,
    PromotionsError, SendError, ServiceChargeError, TaxPolicyError, TipError,
};
pub use merge::MergeError;
pub use refunds::{RefundError, RefundRequest};

use crate::allocation::allocate_largest_remainder;
use crate::catalog::CatalogItem;
use crate::events::OrderEvent;
use crate::ids::{DiscountId, LineId, OrderId, PaymentId, RefundId, TipId};
use crate::modifiers::ChosenModifier;
use crate::money::Currency;
use crate::pricebook::PriceSource;
use crate::pricing::{DiscountKind, Quantity, ServiceCharge};
use crate::promotions::AppliedPromotion;
use crate::tax::{
    RoundingMode, TaxMode, TaxPolicy, TaxPortion, TaxRate, TaxRoundingLevel, TaxableAmount,
    tax_amount, tax_invoice,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most units of one item on one line. Why: a fat-fingered "1000000" must not become a
/// receipt; real baskets stay far below this.
pub const LINE_QUANTITY_MAX: i64 = 9_999;
/// Most lines on one order. Why: bounds the work per request and the size of an order op.
pub const ORDER_LINES_MAX: usize = 500;
/// Most payments on one order (split tenders).
pub const ORDER_PAYMENTS_MAX: usize = 50;
/// Longest free-text reason or reference kept on an order.
pub const TEXT_LEN_MAX: usize = 200;
/// Most discounts on one order. Why: a bill with more is an abuse pattern to escalate, not to
/// compute; it also bounds the totals pass.
pub const ORDER_DISCOUNTS_MAX: usize = 20;
/// Most tips on one order (one per card, or per split share).
pub const ORDER_TIPS_MAX: usize = 50;
/// Most refunds on one order.
pub const ORDER_REFUNDS_MAX: usize = 50;
/// Highest seat number. Why: the largest banquet table seen is far below; it bounds split-by-seat.
pub const SEAT_MAX: u16 = 500;

/// How the order is served; drives channel price books and kitchen routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    DineIn,
    BarTab,
    TakeOut,
    Delivery,
    EcommercePickup,
    DriveThru,
    Kiosk,
}

impl OrderType {
    /// The price channel the order type sells through (price books scoped by channel).
    pub fn price_channel(&self) -> crate::pricebook::Channel {
        use crate::pricebook::Channel;
        match self {
            OrderType::DineIn | OrderType::BarTab => Channel::DineIn,
            OrderType::TakeOut | OrderType::DriveThru | OrderType::Kiosk => Channel::TakeOut,
            OrderType::Delivery => Channel::Delivery,
            OrderType::EcommercePickup => Channel::Ecommerce,
        }
    }

    /// Every order type, in display order.
    pub const ALL: [OrderType; 7] = [
        OrderType::DineIn,
        OrderType::BarTab,
        OrderType::TakeOut,
        OrderType::Delivery,
        OrderType::EcommercePickup,
        OrderType::DriveThru,
        OrderType::Kiosk,
    ];

    /// The stable snake_case name used in APIs and storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderType::DineIn => "dine_in",
            OrderType::BarTab => "bar_tab",
            OrderType::TakeOut => "take_out",
            OrderType::Delivery => "delivery",
            OrderType::EcommercePickup => "ecommerce_pickup",
            OrderType::DriveThru => "drive_thru",
            OrderType::Kiosk => "kiosk",
        }
    }

    /// Parses [`OrderType::as_str`]'s output.
    pub fn parse(text: &str) -> Option<OrderType> {
        OrderType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Where an order is in its life; see the module diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Open,
    Sent,
    PartiallyPaid,
    Paid,
    Closed,
    Voided,
    /// Everything paid was refunded.
    Refunded,
    /// The lines moved to another order.
    Merged,
}

impl OrderState {
    /// Whether an order in this state has redeemed the promotions it carries, for usage
    /// limits: once money is taken (partly paid, paid, closed). An open bill holds none (an
    /// abandoned one must not use up a limit); a voided, merged or wholly refunded one gives its
    /// uses back.
    pub fn redeems_promotions(self) -> bool {
        matches!(
            self,
            OrderState::PartiallyPaid | OrderState::Paid | OrderState::Closed
        )
    }

    /// The stable snake_case name used in APIs and storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Open => "open",
            OrderState::Sent => "sent",
            OrderState::PartiallyPaid => "partially_paid",
            OrderState::Paid => "paid",
            OrderState::Closed => "closed",
            OrderState::Voided => "voided",
            OrderState::Refunded => "refunded",
            OrderState::Merged => "merged",
        }
    }

    /// Whether lines, discounts and promotions may still change (open or sent).
    pub fn accepts_lines(&self) -> bool {
        matches!(self, OrderState::Open | OrderState::Sent)
    }

    pub fn accepts_payments(&self) -> bool {
        matches!(
            self,
            OrderState::Open | OrderState::Sent | OrderState::PartiallyPaid
        )
    }

    /// Not yet closed, voided or merged away: still on the floor.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            OrderState::Open | OrderState::Sent | OrderState::PartiallyPaid | OrderState::Paid
        )
    }
}

/// How a payment was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tender {
    Cash,
    Card,
    Mpesa,
    GiftCard,
    /// Loyalty points burned at their program's value (`shared_model::loyalty`).
    LoyaltyPoints,
    /// A single-use voucher from head office.
    Voucher,
}

impl Tender {
    /// Whether money refunded on this tender goes back through the treasury (the processor
    /// returns it to the card or the M-Pesa account) rather than across the counter or to a
    /// ledger the hub keeps.
    pub fn refunds_through_treasury(self) -> bool {
        matches!(self, Tender::Card | Tender::Mpesa)
    }

    pub const ALL: [Tender; 6] = [
        Tender::Cash,
        Tender::Card,
        Tender::Mpesa,
        Tender::GiftCard,
        Tender::LoyaltyPoints,
        Tender::Voucher,
    ];

    /// The name on the wire of every API: `cash`, `card`, `mpesa`, `gift_card`,
    /// `loyalty_points`, `voucher`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tender::Cash => "cash",
            Tender::Card => "card",
            Tender::Mpesa => "mpesa",
            Tender::GiftCard => "gift_card",
            Tender::LoyaltyPoints => "loyalty_points",
            Tender::Voucher => "voucher",
        }
    }

    /// Whether paying with it earns loyalty points: money does; points and vouchers do not.
    pub fn earns_points(&self) -> bool {
        !matches!(self, Tender::LoyaltyPoints | Tender::Voucher)
    }

    /// Whether the tender's value is a balance the hub's ledger holds (gift cards, points,
    /// vouchers): a till takes it only through its own route, against the hub's allowance,
    /// never as a plain payment.
    pub fn held_in_ledger(&self) -> bool {
        matches!(
            self,
            Tender::GiftCard | Tender::LoyaltyPoints | Tender::Voucher
        )
    }

    pub fn parse(text: &str) -> Option<Tender> {
        Tender::ALL
            .into_iter()
            .find(|tender| tender.as_str() == text)
    }

    /// Only cash can be over-tendered: the drawer gives change. Other tenders are charged
    /// exactly.
    pub fn gives_change(&self) -> bool {
        matches!(self, Tender::Cash)
    }
}

/// One priced line. Prices and taxes are fixed when the line is added: a later price change in
/// the catalog does not reprice a line already on a bill. `net/tax/gross` are the line before
/// any discount; [`Order::totals`] applies discounts and the tax policy on top.
///
/// Fields after `taxes` were added later and default when an older stored document lacks them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: LineId,
    pub item_id: crate::catalog::ItemId,
    pub name: String,
    /// Units; 1 for a measured line (see `measured`).
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub tax_mode: TaxMode,
    pub tax_rates: Vec<TaxRate>,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub taxes: Vec<TaxPortion>,
    #[serde(default)]
    pub category: String,
    /// The scale reading of a weighed or measured line.
    #[serde(default)]
    pub measured: Option<Quantity>,
    #[serde(default)]
    pub modifiers: Vec<ChosenModifier>,
    #[serde(default)]
    pub price_source: PriceSource,
    #[serde(default)]
    pub seat: Option<u16>,
    #[serde(default)]
    pub course: Option<u8>,
    /// "No onions", "allergic to nuts".
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub age_restricted: bool,
    /// A combo component already at a bundle price: promotions skip it.
    #[serde(default)]
    pub exclude_from_promotions: bool,
    /// Set when the order is sent; derived from `Sent` events, never carried by `LineAdded`.
    #[serde(default)]
    pub sent: bool,
    /// Set by `LineVoided`; never carried by `LineAdded`.
    #[serde(default)]
    pub voided: Option<LineVoid>,
}

impl OrderLine {
    /// The amount in the price's own terms: gross if inclusive, net if exclusive.
    pub fn price_amount_minor(&self) -> i64 {
        match self.tax_mode {
            TaxMode::Inclusive => self.gross_minor,
            TaxMode::Exclusive => self.net_minor,
        }
    }

    /// Whether the line still counts toward the bill.
    pub fn is_live(&self) -> bool {
        self.voided.is_none()
    }

    /// Whether the line carries anything beyond the original (issue 1) line fields.
    pub fn has_details(&self) -> bool {
        !self.category.is_empty()
            || self.measured.is_some()
            || !self.modifiers.is_empty()
            || self.price_source != PriceSource::Shelf
            || self.seat.is_some()
            || self.course.is_some()
            || self.instructions.is_some()
            || self.age_restricted
            || self.exclude_from_promotions
    }
}

/// Why and when a line was voided.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineVoid {
    pub reason: String,
    /// Voided after the kitchen had it: reported as waste.
    pub after_send: bool,
    pub voided_at_ms: i64,
}

/// What a discount applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum DiscountTarget {
    Line { line_id: LineId },
    Order,
}

/// A cashier's discount. The amount is computed in [`Order::totals`] from the lines live at
/// the time, so a percentage keeps applying to what is on the bill.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderDiscount {
    pub id: DiscountId,
    pub target: DiscountTarget,
    pub kind: DiscountKind,
    pub reason: String,
    pub applied_at_ms: i64,
}

/// A tip: before payment it is added to what is due; after payment it is captured against
/// the card payment it names (a tip adjustment) and counts as paid.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tip {
    pub id: TipId,
    pub amount_minor: i64,
    pub payment_id: Option<PaymentId>,
    pub added_at_ms: i64,
}

/// Money given back, with the lines it covers (empty for a refund by amount).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Refund {
    pub id: RefundId,
    pub tender: Tender,
    pub amount_minor: i64,
    pub line_ids: Vec<LineId>,
    pub reason: String,
    pub refunded_at_ms: i64,
}

/// One tender applied to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub tender: Tender,
    /// What the customer handed over.
    pub tendered_minor: i64,
    /// What counts toward the bill (`tendered − change`).
    pub amount_minor: i64,
    pub change_minor: i64,
    pub taken_at_ms: i64,
}

/// Totals of an order, always derived from its lines and payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTotals {
    pub net_minor: i64,
    pub tax_minor: i64,
    /// Lines and service charge after discounts, with tax, plus tips and cash rounding.
    pub total_minor: i64,
    pub taxes: Vec<TaxPortion>,
    /// Payments plus tips captured after payment.
    pub paid_minor: i64,
    pub change_minor: i64,
    pub balance_due_minor: i64,
    /// Live lines before any discount, in their prices' own terms.
    #[serde(default)]
    pub subtotal_minor: i64,
    /// Promotions and discounts together.
    #[serde(default)]
    pub discount_minor: i64,
    /// Service charge with its tax.
    #[serde(default)]
    pub service_charge_minor: i64,
    #[serde(default)]
    pub tip_minor: i64,
    #[serde(default)]
    pub refunded_minor: i64,
    /// The cash rounding line, included in `total_minor`.
    #[serde(default)]
    pub cash_rounding_minor: i64,
    /// Per live line (in line order): its final gross and its share of the service charge,
    /// which is what a split bill divides.
    #[serde(default)]
    pub lines: Vec<LineTotal>,
}

/// One live line's final figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTotal {
    pub line_id: LineId,
    pub seat: Option<u16>,
    pub discount_minor: i64,
    pub gross_minor: i64,
    pub service_charge_share_minor: i64,
}

/// The order aggregate, rebuilt by folding its [`OrderEvent`]s with [`Order::apply`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub number: u64,
    pub order_type: OrderType,
    pub currency: Currency,
    pub state: OrderState,
    pub lines: Vec<OrderLine>,
    pub payments: Vec<Payment>,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub void_reason: Option<String>,
    #[serde(default)]
    pub discounts: Vec<OrderDiscount>,
    #[serde(default)]
    pub promotions: Vec<AppliedPromotion>,
    #[serde(default)]
    pub service_charge: Option<ServiceCharge>,
    #[serde(default)]
    pub tips: Vec<Tip>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default)]
    pub tax_policy: TaxPolicy,
    #[serde(default)]
    pub merged_into: Option<OrderId>,
    /// Sum of the cash rounding lines (negative when rounded down).
    #[serde(default)]
    pub cash_rounding_minor: i64,
}

/// Why a line could not be added.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddLineError {
    #[error("order is {0}; lines can only be added while it is open or sent")]
    NotOpen(&'static str),
    #[error("quantity must be between 1 and {LINE_QUANTITY_MAX}")]
    QuantityOutOfRange,
    #[error("an order holds at most {ORDER_LINES_MAX} lines")]
    TooManyLines,
    #[error("a line with this id is already on the order")]
    DuplicateLine,
    #[error("item price is negative")]
    NegativePrice,
    #[error("line amount out of range")]
    Overflow,
    #[error("a new line cannot already be sent or voided")]
    BadLine,
}

/// Why a payment could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaymentError {
    #[error("order is {0}; it does not take payments")]
    NotPayable(&'static str),
    #[error("order has no lines to pay for")]
    EmptyOrder,
    #[error("amount must be positive")]
    NonPositiveAmount,
    #[error("{tender:?} cannot exceed the balance due of {balance_due_minor}")]
    Overtender {
        tender: Tender,
        balance_due_minor: i64,
    },
    #[error("an order holds at most {ORDER_PAYMENTS_MAX} payments")]
    TooManyPayments,
    #[error("a payment with this id is already on the order")]
    DuplicatePayment,
}

/// Why an order could not be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CloseError {
    #[error("order is {0}; only a fully paid order can be closed")]
    NotPaid(&'static str),
}

/// Why an order could not be voided.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VoidError {
    #[error("order is {0}; only an open or sent order can be voided")]
    NotVoidable(&'static str),
    #[error("order has payments; refund them instead of voiding")]
    HasPayments,
    #[error("a void needs a reason of 1 to {TEXT_LEN_MAX} characters")]
    BadReason,
}

/// Why an event could not be folded into an order. At the hub this means the facts from an
/// edge contradict each other, which is recorded, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApplyError {
    #[error("event is for order {event_order}, not {order}")]
    WrongOrder {
        order: OrderId,
        event_order: OrderId,
    },
    #[error("an order can only be opened once")]
    AlreadyOpened,
    #[error(transparent)]
    AddLine(#[from] AddLineError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Close(#[from] CloseError),
    #[error(transparent)]
    Void(#[from] VoidError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    LineVoid(#[from] LineVoidError),
    #[error(transparent)]
    Discount(#[from] DiscountError),
    #[error(transparent)]
    Promotions(#[from] PromotionsError),
    #[error(transparent)]
    ServiceCharge(#[from] ServiceChargeError),
    #[error(transparent)]
    Tip(#[from] TipError),
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    TaxPolicy(#[from] TaxPolicyError),
    #[error(transparent)]
    CashRounding(#[from] CashRoundingError),
}

impl Order {
    /// Builds the order an `Opened` event describes. Returns `None` for any other event.
    pub fn from_opened(event: &OrderEvent) -> Option<Order> {
        match event {
            OrderEvent::Opened {
                order_id,
                number,
                order_type,
                currency,
                opened_at_ms,
            } => Some(Order {
                id: *order_id,
                number: *number,
                order_type: *order_type,
                currency: *currency,
                state: OrderState::Open,
                lines: Vec::new(),
                payments: Vec::new(),
                opened_at_ms: *opened_at_ms,
                closed_at_ms: None,
                void_reason: None,
                discounts: Vec::new(),
                promotions: Vec::new(),
                service_charge: None,
                tips: Vec::new(),
                refunds: Vec::new(),
                tax_policy: TaxPolicy::default(),
                merged_into: None,
                cash_rounding_minor: 0,
            }),
            _ => None,
        }
    }

    /// Decides a new line for `quantity` units of `item` at the item's current price.
    pub fn add_line(
        &self,
        line_id: LineId,
        item: &CatalogItem,
        quantity: i64,
        rounding: RoundingMode,
    ) -> Result<OrderEvent, AddLineError> {
        if !self.state.accepts_lines() {
            return Err(AddLineError::NotOpen(self.state.as_str()));
        }
        if !(1..=LINE_QUANTITY_MAX).contains(&quantity) {
            return Err(AddLineError::QuantityOutOfRange);
        }
        if item.price_minor < 0 {
            return Err(AddLineError::NegativePrice);
        }
        let amount_minor = item
            .price_minor
            .checked_mul(quantity)
            .ok_or(AddLineError::Overflow)?;
        let taxed = tax_amount(amount_minor, &item.tax_rates, item.tax_mode, rounding);
        let line = OrderLine {
            id: line_id,
            item_id: item.id.clone(),
            name: item.name.clone(),
            quantity,
            unit_price_minor: item.price_minor,
            tax_mode: item.tax_mode,
            tax_rates: item.tax_rates.clone(),
            net_minor: taxed.net_minor,
            tax_minor: taxed.tax_minor,
            gross_minor: taxed.gross_minor,
            taxes: taxed.portions,
            category: item.category.clone(),
            measured: None,
            modifiers: Vec::new(),
            price_source: PriceSource::Shelf,
            seat: None,
            course: None,
            instructions: None,
            age_restricted: item.age_restricted,
            exclude_from_promotions: false,
            sent: false,
            voided: None,
        };
        self.check_line(&line)?;
        Ok(OrderEvent::LineAdded {
            order_id: self.id,
            line,
        })
    }

    pub(crate) fn check_line(&self, line: &OrderLine) -> Result<(), AddLineError> {
        if !self.state.accepts_lines() {
            return Err(AddLineError::NotOpen(self.state.as_str()));
        }
        if line.sent || line.voided.is_some() {
            return Err(AddLineError::BadLine);
        }
        if self.lines.len() >= ORDER_LINES_MAX {
            return Err(AddLineError::TooManyLines);
        }
        if self.lines.iter().any(|existing| existing.id == line.id) {
            return Err(AddLineError::DuplicateLine);
        }
        if !(1..=LINE_QUANTITY_MAX).contains(&line.quantity) {
            return Err(AddLineError::QuantityOutOfRange);
        }
        Ok(())
    }

    /// Decides a payment of `tendered_minor` by `tender`. Cash may exceed the balance due (the
    /// excess is change); other tenders may not.
    pub fn take_payment(
        &self,
        payment_id: PaymentId,
        tender: Tender,
        tendered_minor: i64,
        taken_at_ms: i64,
    ) -> Result<OrderEvent, PaymentError> {
        if !self.state.accepts_payments() {
            return Err(PaymentError::NotPayable(self.state.as_str()));
        }
        if self.lines.is_empty() {
            return Err(PaymentError::EmptyOrder);
        }
        if tendered_minor <= 0 {
            return Err(PaymentError::NonPositiveAmount);
        }
        let balance_due_minor = self.totals().balance_due_minor;
        if tendered_minor > balance_due_minor && !tender.gives_change() {
            return Err(PaymentError::Overtender {
                tender,
                balance_due_minor,
            });
        }
        let amount_minor = tendered_minor.min(balance_due_minor);
        let payment = Payment {
            id: payment_id,
            tender,
            tendered_minor,
            amount_minor,
            change_minor: tendered_minor - amount_minor,
            taken_at_ms,
        };
        self.check_payment(&payment)?;
        Ok(OrderEvent::PaymentTaken {
            order_id: self.id,
            payment,
        })
    }

    fn check_payment(&self, payment: &Payment) -> Result<(), PaymentError> {
        if !self.state.accepts_payments() {
            return Err(PaymentError::NotPayable(self.state.as_str()));
        }
        if self.payments.len() >= ORDER_PAYMENTS_MAX {
            return Err(PaymentError::TooManyPayments);
        }
        if self.payments.iter().any(|p| p.id == payment.id) {
            return Err(PaymentError::DuplicatePayment);
        }
        if payment.amount_minor <= 0 {
            return Err(PaymentError::NonPositiveAmount);
        }
        let balance_due_minor = self.totals().balance_due_minor;
        if payment.amount_minor > balance_due_minor {
            return Err(PaymentError::Overtender {
                tender: payment.tender,
                balance_due_minor,
            });
        }
        Ok(())
    }

    /// Decides closing the order: only once it is fully paid.
    pub fn close(&self, closed_at_ms: i64) -> Result<OrderEvent, CloseError> {
        if self.state != OrderState::Paid {
            return Err(CloseError::NotPaid(self.state.as_str()));
        }
        Ok(OrderEvent::Closed {
            order_id: self.id,
            closed_at_ms,
        })
    }

    /// Decides voiding an unpaid order, before or after it was sent.
    pub fn void(&self, reason: &str, voided_at_ms: i64) -> Result<OrderEvent, VoidError> {
        if !matches!(self.state, OrderState::Open | OrderState::Sent) {
            return Err(VoidError::NotVoidable(self.state.as_str()));
        }
        if !self.payments.is_empty() {
            return Err(VoidError::HasPayments);
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > TEXT_LEN_MAX {
            return Err(VoidError::BadReason);
        }
        Ok(OrderEvent::Voided {
            order_id: self.id,
            reason: reason.to_owned(),
            voided_at_ms,
        })
    }

    /// Folds `event` into the order, re-checking the rules so that contradictory facts are
    /// refused rather than producing an impossible order.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<(), ApplyError> {
        if event.order_id() != self.id {
            return Err(ApplyError::WrongOrder {
                order: self.id,
                event_order: event.order_id(),
            });
        }
        match event {
            OrderEvent::Opened { .. } => return Err(ApplyError::AlreadyOpened),
            OrderEvent::LineAdded { line, .. } => {
                self.check_line(line)?;
                self.lines.push(line.clone());
            }
            OrderEvent::PaymentTaken { payment, .. } => {
                self.check_payment(payment)?;
                self.payments.push(payment.clone());
                self.state = if self.totals().balance_due_minor == 0 {
                    OrderState::Paid
                } else {
                    OrderState::PartiallyPaid
                };
            }
            OrderEvent::Closed { closed_at_ms, .. } => {
                self.close(*closed_at_ms)?;
                self.state = OrderState::Closed;
                self.closed_at_ms = Some(*closed_at_ms);
            }
            OrderEvent::Voided {
                reason,
                voided_at_ms,
                ..
            } => {
                self.void(reason, *voided_at_ms)?;
                self.state = OrderState::Voided;
                self.void_reason = Some(reason.clone());
                self.closed_at_ms = Some(*voided_at_ms);
            }
            OrderEvent::Sent { sent_at_ms, .. } => {
                self.send(*sent_at_ms)?;
                self.state = OrderState::Sent;
                for line in self.lines.iter_mut().filter(|line| line.is_live()) {
                    line.sent = true;
                }
            }
            OrderEvent::LinesSent {
                line_ids,
                sent_at_ms,
                ..
            } => {
                self.send_lines(line_ids, *sent_at_ms)?;
                self.state = OrderState::Sent;
                for line in self
                    .lines
                    .iter_mut()
                    .filter(|line| line_ids.contains(&line.id))
                {
                    line.sent = true;
                }
            }
            OrderEvent::LineVoided {
                line_id,
                reason,
                after_send,
                voided_at_ms,
                ..
            } => {
                let decided = self.void_line(*line_id, reason, *voided_at_ms)?;
                if decided
                    != (OrderEvent::LineVoided {
                        order_id: self.id,
                        line_id: *line_id,
                        reason: reason.clone(),
                        after_send: *after_send,
                        voided_at_ms: *voided_at_ms,
                    })
                {
                    return Err(LineVoidError::Contradicts.into());
                }
                // A promotion evaluated with this line may no longer hold (a 3-for-2 with one
                // of the three gone): drop them all until the edge re-evaluates, so a void can
                // only ever raise the bill, never give something away.
                self.promotions.clear();
                if let Some(line) = self.lines.iter_mut().find(|line| line.id == *line_id) {
                    line.voided = Some(LineVoid {
                        reason: reason.clone(),
                        after_send: *after_send,
                        voided_at_ms: *voided_at_ms,
                    });
                }
            }
            OrderEvent::DiscountApplied { discount, .. } => {
                self.check_discount(discount)?;
                self.discounts.push(discount.clone());
            }
            OrderEvent::PromotionsApplied { promotions, .. } => {
                self.check_promotions(promotions)?;
                self.promotions = promotions.clone();
            }
            OrderEvent::ServiceChargeSet { charge, .. } => {
                self.check_service_charge(charge.as_ref())?;
                self.service_charge = charge.clone();
            }
            OrderEvent::TipAdded { tip, .. } => {
                self.check_tip(tip)?;
                self.tips.push(tip.clone());
                self.settle_state();
            }
            OrderEvent::Refunded { refund, .. } => {
                self.check_refund(refund)?;
                self.refunds.push(refund.clone());
                let totals = self.totals();
                if totals.refunded_minor >= totals.paid_minor {
                    self.state = OrderState::Refunded;
                }
            }
            OrderEvent::LinesMerged {
                from_order_id,
                lines,
                ..
            } => {
                self.check_merge_in(*from_order_id, lines)?;
                self.lines.extend(lines.iter().cloned());
            }
            OrderEvent::MergedInto {
                into_order_id,
                merged_at_ms,
                ..
            } => {
                self.check_merge_away(*into_order_id)?;
                self.state = OrderState::Merged;
                self.merged_into = Some(*into_order_id);
                self.closed_at_ms = Some(*merged_at_ms);
            }
            OrderEvent::TaxPolicySet { policy, .. } => {
                self.set_tax_policy(*policy)?;
                self.tax_policy = *policy;
            }
            OrderEvent::CashRoundingApplied {
                adjustment_minor, ..
            } => {
                self.check_cash_rounding(*adjustment_minor)?;
                self.cash_rounding_minor += adjustment_minor;
                self.settle_state();
            }
        }
        Ok(())
    }

    /// After a tip changes what is due, an order paid in full moves to `paid`, and one that
    /// owes again (a pre-payment tip) is partially paid.
    fn settle_state(&mut self) {
        if !matches!(self.state, OrderState::PartiallyPaid | OrderState::Paid) {
            return;
        }
        self.state = if self.totals().balance_due_minor == 0 {
            OrderState::Paid
        } else {
            OrderState::PartiallyPaid
        };
    }

    /// Totals derived from lines, adjustments and payments; the one place an order's figures
    /// come from.
    ///
    /// Each live line starts from its price amount; promotions take their recorded
    /// allocations (capped at what is left), then line discounts, then order discounts spread
    /// by largest remainder. The service charge is charged on the discounted lines. Tax is
    /// computed with the order's [`TaxPolicy`]; a line no discount touched keeps the tax fixed
    /// when it was added, under per-line rounding.
    pub fn totals(&self) -> OrderTotals {
        let rounding = self.tax_policy.rounding;
        let live: Vec<&OrderLine> = self.lines.iter().filter(|line| line.is_live()).collect();
        let subtotal_minor = live.iter().fold(0_i64, |sum, line| {
            sum.saturating_add(line.price_amount_minor())
        });
        let mut amounts: Vec<i64> = live
            .iter()
            .map(|line| line.price_amount_minor().max(0))
            .collect();
        for promotion in &self.promotions {
            for allocation in &promotion.allocations {
                if let Some(index) = live.iter().position(|line| line.id == allocation.line_id) {
                    amounts[index] -= allocation.amount_minor.clamp(0, amounts[index]);
                }
            }
        }
        for discount in &self.discounts {
            if let DiscountTarget::Line { line_id } = discount.target
                && let Some(index) = live.iter().position(|line| line.id == line_id)
            {
                amounts[index] -= discount.kind.amount_of(amounts[index], rounding);
            }
        }
        for discount in &self.discounts {
            if discount.target == DiscountTarget::Order {
                let base: i64 = amounts.iter().sum();
                let taken = discount.kind.amount_of(base, rounding);
                let weights: Vec<u64> = amounts.iter().map(|a| a.unsigned_abs()).collect();
                for (amount, share) in amounts
                    .iter_mut()
                    .zip(allocate_largest_remainder(taken, &weights))
                {
                    *amount -= share;
                }
            }
        }
        let service_amount_minor = self
            .service_charge
            .as_ref()
            .map(|charge| charge.amount_on(amounts.iter().sum(), rounding));
        let no_rates: [TaxRate; 0] = [];
        let mut taxable: Vec<TaxableAmount> = live
            .iter()
            .zip(&amounts)
            .map(|(line, amount)| TaxableAmount {
                amount_minor: *amount,
                rates: &line.tax_rates,
                mode: line.tax_mode,
            })
            .collect();
        if let (Some(charge), Some(amount_minor)) = (&self.service_charge, service_amount_minor) {
            taxable.push(TaxableAmount {
                amount_minor,
                rates: if charge.taxable {
                    &charge.tax_rates
                } else {
                    &no_rates
                },
                mode: charge.tax_mode,
            });
        }
        let mut invoice = tax_invoice(&taxable, self.tax_policy);
        if self.tax_policy.level == TaxRoundingLevel::PerLine {
            // Lines priced under an older rounding keep the figures they were sold with.
            for ((line, amount), taxed) in live.iter().zip(&amounts).zip(invoice.lines.iter_mut()) {
                if *amount == line.price_amount_minor() {
                    taxed.net_minor = line.net_minor;
                    taxed.tax_minor = line.tax_minor;
                    taxed.gross_minor = line.gross_minor;
                    taxed.portions = line.taxes.clone();
                }
            }
        }
        let mut taxes = Vec::new();
        let (mut net_minor, mut tax_minor, mut gross_minor) = (0_i64, 0_i64, 0_i64);
        for taxed in &invoice.lines {
            net_minor = net_minor.saturating_add(taxed.net_minor);
            tax_minor = tax_minor.saturating_add(taxed.tax_minor);
            gross_minor = gross_minor.saturating_add(taxed.gross_minor);
            for portion in &taxed.portions {
                crate::tax::merge_portion(&mut taxes, portion);
            }
        }
        let service_charge_minor = if service_amount_minor.is_some() {
            invoice.lines.last().map_or(0, |taxed| taxed.gross_minor)
        } else {
            0
        };
        let line_weights: Vec<u64> = invoice.lines[..live.len()]
            .iter()
            .map(|taxed| taxed.gross_minor.unsigned_abs())
            .collect();
        let service_shares = allocate_largest_remainder(service_charge_minor, &line_weights);
        let lines = live
            .iter()
            .zip(&amounts)
            .zip(&invoice.lines)
            .zip(service_shares)
            .map(|(((line, amount), taxed), service_share)| LineTotal {
                line_id: line.id,
                seat: line.seat,
                discount_minor: line.price_amount_minor().max(0) - amount,
                gross_minor: taxed.gross_minor,
                service_charge_share_minor: service_share,
            })
            .collect();
        let tip_minor = self
            .tips
            .iter()
            .fold(0_i64, |sum, tip| sum.saturating_add(tip.amount_minor));
        let captured_tips_minor = self
            .tips
            .iter()
            .filter(|tip| tip.payment_id.is_some())
            .fold(0_i64, |sum, tip| sum.saturating_add(tip.amount_minor));
        let total_minor = gross_minor
            .saturating_add(tip_minor)
            .saturating_add(self.cash_rounding_minor);
        let paid_minor = self.payments.iter().fold(captured_tips_minor, |sum, p| {
            sum.saturating_add(p.amount_minor)
        });
        let change_minor = self
            .payments
            .iter()
            .fold(0_i64, |sum, p| sum.saturating_add(p.change_minor));
        let refunded_minor = self
            .refunds
            .iter()
            .fold(0_i64, |sum, refund| sum.saturating_add(refund.amount_minor));
        OrderTotals {
            net_minor,
            tax_minor,
            total_minor,
            taxes,
            paid_minor,
            change_minor,
            balance_due_minor: total_minor.saturating_sub(paid_minor).max(0),
            subtotal_minor,
            discount_minor: subtotal_minor - amounts.iter().sum::<i64>(),
            service_charge_minor,
            tip_minor,
            refunded_minor,
            cash_rounding_minor: self.cash_rounding_minor,
            lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn item(price_minor: i64) -> CatalogItem {
        CatalogItem::simple(
            "sku-coffee",
            "Coffee",
            "drinks",
            price_minor,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600)],
        )
    }

    fn open_order() -> Order {
        let opened = OrderEvent::Opened {
            order_id: OrderId(id(1)),
            number: 1,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: 0,
        };
        Order::from_opened(&opened).expect("opened event")
    }

    fn decide_and_apply(order: &mut Order, event: OrderEvent) {
        order.apply(&event).expect("a decided event applies");
    }

    #[test]
    fn a_cash_sale_gives_change_and_closes() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(25_000), 2, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        assert_eq!(order.totals().total_minor, 50_000);
        let pay = order
            .take_payment(PaymentId(id(20)), Tender::Cash, 100_000, 5)
            .expect("pay");
        decide_and_apply(&mut order, pay);
        let totals = order.totals();
        assert_eq!(totals.change_minor, 50_000);
        assert_eq!(totals.paid_minor, 50_000);
        assert_eq!(order.state, OrderState::Paid);
        let close = order.close(6).expect("close");
        decide_and_apply(&mut order, close);
        assert_eq!(order.state, OrderState::Closed);
    }

    #[test]
    fn a_card_cannot_pay_more_than_is_due() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        assert!(matches!(
            order.take_payment(PaymentId(id(20)), Tender::Card, 1_001, 0),
            Err(PaymentError::Overtender { .. })
        ));
    }

    #[test]
    fn an_unpaid_order_cannot_close_and_a_closed_one_takes_no_lines() {
        let mut order = open_order();
        assert_eq!(order.close(1), Err(CloseError::NotPaid("open")));
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        let pay = order
            .take_payment(PaymentId(id(20)), Tender::Mpesa, 1_000, 0)
            .expect("pay");
        decide_and_apply(&mut order, pay);
        let close = order.close(1).expect("close");
        decide_and_apply(&mut order, close);
        assert_eq!(
            order.add_line(LineId(id(11)), &item(1_000), 1, RoundingMode::HalfUp),
            Err(AddLineError::NotOpen("closed"))
        );
        assert!(matches!(
            order.take_payment(PaymentId(id(21)), Tender::Cash, 1, 0),
            Err(PaymentError::NotPayable("closed"))
        ));
    }

    #[test]
    fn applying_the_same_line_twice_is_refused() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line.clone());
        assert_eq!(
            order.apply(&line),
            Err(ApplyError::AddLine(AddLineError::DuplicateLine))
        );
    }

    #[test]
    fn quantity_limits_are_enforced() {
        let order = open_order();
        for bad in [0, -1, LINE_QUANTITY_MAX + 1] {
            assert_eq!(
                order.add_line(LineId(id(10)), &item(1_000), bad, RoundingMode::HalfUp),
                Err(AddLineError::QuantityOutOfRange)
            );
        }
    }

    #[test]
    fn a_paid_order_cannot_be_voided() {
        let mut order = open_order();
        let line = order
            .add_line(LineId(id(10)), &item(1_000), 1, RoundingMode::HalfUp)
            .expect("add");
        decide_and_apply(&mut order, line);
        let pay = order
            .take_payment(PaymentId(id(20)), Tender::Cash, 500, 0)
            .expect("pay");
        decide_and_apply(&mut order, pay);
        assert_eq!(order.state, OrderState::PartiallyPaid);
        assert_eq!(
            order.void("customer left", 1),
            Err(VoidError::NotVoidable("partially_paid"))
        );
    }

    proptest! {
        #[test]
        fn split_payments_settle_exactly_and_cash_change_is_never_negative(
            prices in prop::collection::vec(1_i64..100_000, 1..10),
            tenders in prop::collection::vec(1_i64..200_000, 1..10),
        ) {
            let mut order = open_order();
            for (n, price) in prices.iter().enumerate() {
                let event = order.add_line(LineId(id(100 + n as u128)), &item(*price), 1, RoundingMode::HalfUp).expect("add");
                order.apply(&event).expect("apply");
            }
            let total = order.totals().total_minor;
            prop_assert_eq!(total, prices.iter().sum::<i64>());
            for (n, tendered) in tenders.iter().enumerate() {
                match order.take_payment(PaymentId(id(1000 + n as u128)), Tender::Cash, *tendered, 0) {
                    Ok(event) => order.apply(&event).expect("apply"),
                    Err(PaymentError::NotPayable(_)) => break,
                    Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
                }
            }
            let totals = order.totals();
            prop_assert!(totals.change_minor >= 0);
            prop_assert_eq!(totals.paid_minor + totals.balance_due_minor, total);
            prop_assert_eq!(order.state == OrderState::Paid, totals.balance_due_minor == 0);
            prop_assert_eq!(totals.net_minor + totals.tax_minor, totals.total_minor);
        }
    }
}
