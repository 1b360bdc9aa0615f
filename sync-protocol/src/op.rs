//! Ops on the wire: an origin's numbered, hash-chained facts, and their versioned bodies.
//!
//! An op id is `(origin, seq)`: the origin is the edge's node id (which becomes its device id
//! at enrollment) and `seq` counts from 1 without gaps. Each op names the hash of the one
//! before it, so the hub can prove it holds an origin's complete, untampered history.
//!
//! The body is carried as opaque postcard bytes of [`OpBody`]: the hub stores exactly what the
//! edge hashed, and decodes it separately from the envelope.

use crate::hlc::Hlc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared_model::ids::{DiscountId, RefundId, TipId};
use shared_model::modifiers::ChosenModifier;
use shared_model::order::{DiscountTarget, OrderDiscount, OrderLine, Payment, Refund, Tip};
use shared_model::pricebook::PriceSource;
use shared_model::pricing::{DiscountKind, Quantity, ServiceCharge, ServiceChargeKind};
use shared_model::promotions::{AppliedPromotion, PromotionAllocation};
use shared_model::staff::{Action, Role};
use shared_model::tax::{RoundingMode, TaxMode, TaxPolicy, TaxPortion, TaxRate, TaxRoundingLevel};
use shared_model::{Currency, ItemId, LineId, OrderEvent, OrderId, OrderType, PaymentId, Tender};
use thiserror::Error;
use uuid::Uuid;

/// Hash of "no previous op", the start of every chain.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireOp {
    pub origin: [u8; 16],
    pub seq: u64,
    pub hlc: Hlc,
    pub prev_hash: [u8; 32],
    /// postcard bytes of [`OpBody`].
    pub body: Vec<u8>,
}

impl WireOp {
    /// This op's link in its origin's chain: `sha256(prev_hash ‖ origin ‖ seq ‖ hlc ‖ body)`.
    pub fn chain_hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash);
        hasher.update(self.origin);
        hasher.update(self.seq.to_be_bytes());
        hasher.update(self.hlc.wall_ms.to_be_bytes());
        hasher.update(self.hlc.logical.to_be_bytes());
        hasher.update((self.body.len() as u64).to_be_bytes());
        hasher.update(&self.body);
        hasher.finalize().into()
    }

    pub fn origin_uuid(&self) -> Uuid {
        Uuid::from_bytes(self.origin)
    }

    pub fn decode_body(&self) -> Result<OpBody, OpDecodeError> {
        let (body, rest) = postcard::take_from_bytes::<OpBody>(&self.body)
            .map_err(|error| OpDecodeError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(OpDecodeError::Malformed("trailing bytes".into()));
        }
        Ok(body)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum OpDecodeError {
    #[error("malformed op body: {0}")]
    Malformed(String),
    #[error("invalid value in op body: {0}")]
    Invalid(String),
}

/// What an op says. Add variants only at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpBody {
    Order(OrderEventV1),
    /// A high-risk action and who allowed it (the edge's audit trail).
    Audit(AuditEventV1),
    /// A change to the edge's list of paired devices.
    Device(DeviceEventV1),
    /// Staff created at the edge, and staff sessions starting and ending.
    Staff(StaffEventV1),
    /// Orders sent to the kitchen and orders ready for pickup.
    Kitchen(KitchenEventV1),
    /// Guests seated at a table with a new order, and orders moved between tables.
    Table(TableEventV1),
    /// Bar tabs opened by name.
    Tab(TabEventV1),
    /// A cash-drawer session's facts (float, movements, blind count, close).
    Drawer(DrawerOpV1),
    /// A payment the till asked the treasury to collect (through the hub), or an M-Pesa receipt
    /// code typed in while the link was down.
    Payment(PaymentOpV1),
    /// What the outlet did with an order placed in the cloud (a cancel it honoured or, by
    /// rule, turned into a refund request).
    CloudOrder(CloudOrderOpV1),
    /// Value taken off a gift card at the till (within the outlet's allowance for it).
    GiftCard(GiftCardOpV1),
    /// Automerge changes the outlet made to a document the hub also edits (the floor plan).
    Doc(crate::docs::DocChangeV1),
    /// A period's tip pool paid out to the staff who worked it (a manager closed it).
    TipPayout(TipPayoutV1),
    /// A loyalty member named on an order, points burned as a payment, a voucher redeemed.
    Loyalty(LoyaltyOpV1),
    /// The outlet's business day closed: its numbered Z report.
    DayClosed(DayClosedV1),
    /// Automerge changes the outlet made to a cloud order's notes document.
    OrderDoc(crate::docs::OrderDocChangeV1),
    /// The tip payout that follows (same commit, next op) was handed out in cash from this
    /// drawer session: the hub does not ask the treasury to pay it.
    TipPayoutInCash {
        payout_id: [u8; 16],
        drawer_session_id: [u8; 16],
    },
}

/// A Z report as the outlet closed it (`shared_model::day_report`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayClosedV1 {
    pub z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub currency: String,
    pub summary: SalesSummaryV1,
    pub closed_by_staff_id: [u8; 16],
    pub closed_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesSummaryV1 {
    pub orders_closed: u32,
    pub gross_sales_minor: i64,
    pub discounts_minor: i64,
    pub service_charge_minor: i64,
    pub net_sales_minor: i64,
    pub tax_minor: i64,
    pub taxes: Vec<TaxLineV1>,
    pub cash_rounding_minor: i64,
    pub sales_total_minor: i64,
    pub tips_minor: i64,
    pub payments: Vec<TenderLineV1>,
    pub refunds: Vec<TenderLineV1>,
    pub net_takings_minor: i64,
    pub voided_orders: u32,
    pub voided_orders_minor: i64,
    pub voided_lines: u32,
    pub voided_lines_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLineV1 {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderLineV1 {
    pub tender: TenderV1,
    pub count: u32,
    pub amount_minor: i64,
}

impl From<&shared_model::day_report::SalesSummary> for SalesSummaryV1 {
    fn from(summary: &shared_model::day_report::SalesSummary) -> Self {
        let tenders = |lines: &[shared_model::day_report::TenderLine]| {
            lines
                .iter()
                .map(|line| TenderLineV1 {
                    tender: tender_to_wire(line.tender),
                    count: line.count,
                    amount_minor: line.amount_minor,
                })
                .collect()
        };
        SalesSummaryV1 {
            orders_closed: summary.orders_closed,
            gross_sales_minor: summary.gross_sales_minor,
            discounts_minor: summary.discounts_minor,
            service_charge_minor: summary.service_charge_minor,
            net_sales_minor: summary.net_sales_minor,
            tax_minor: summary.tax_minor,
            taxes: summary
                .taxes
                .iter()
                .map(|line| TaxLineV1 {
                    code: line.code.clone(),
                    rate_bps: line.rate_bps,
                    taxable_minor: line.taxable_minor,
                    tax_minor: line.tax_minor,
                })
                .collect(),
            cash_rounding_minor: summary.cash_rounding_minor,
            sales_total_minor: summary.sales_total_minor,
            tips_minor: summary.tips_minor,
            payments: tenders(&summary.payments),
            refunds: tenders(&summary.refunds),
            net_takings_minor: summary.net_takings_minor,
            voided_orders: summary.voided_orders,
            voided_orders_minor: summary.voided_orders_minor,
            voided_lines: summary.voided_lines,
            voided_lines_minor: summary.voided_lines_minor,
        }
    }
}

impl From<&SalesSummaryV1> for shared_model::day_report::SalesSummary {
    fn from(wire: &SalesSummaryV1) -> Self {
        let tenders = |lines: &[TenderLineV1]| {
            lines
                .iter()
                .map(|line| shared_model::day_report::TenderLine {
                    tender: tender_from_wire(&line.tender),
                    count: line.count,
                    amount_minor: line.amount_minor,
                })
                .collect()
        };
        shared_model::day_report::SalesSummary {
            orders_closed: wire.orders_closed,
            gross_sales_minor: wire.gross_sales_minor,
            discounts_minor: wire.discounts_minor,
            service_charge_minor: wire.service_charge_minor,
            net_sales_minor: wire.net_sales_minor,
            tax_minor: wire.tax_minor,
            taxes: wire
                .taxes
                .iter()
                .map(|line| shared_model::day_report::TaxLine {
                    code: line.code.clone(),
                    rate_bps: line.rate_bps,
                    taxable_minor: line.taxable_minor,
                    tax_minor: line.tax_minor,
                })
                .collect(),
            cash_rounding_minor: wire.cash_rounding_minor,
            sales_total_minor: wire.sales_total_minor,
            tips_minor: wire.tips_minor,
            payments: tenders(&wire.payments),
            refunds: tenders(&wire.refunds),
            net_takings_minor: wire.net_takings_minor,
            voided_orders: wire.voided_orders,
            voided_orders_minor: wire.voided_orders_minor,
            voided_lines: wire.voided_lines,
            voided_lines_minor: wire.voided_lines_minor,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoyaltyOpV1 {
    /// The member whose points the order earns (the last one named wins).
    MemberAttached {
        order_id: [u8; 16],
        member_code: String,
        attached_at_ms: i64,
    },
    /// `entry_id` is also the order payment's id: the hub's ledger entry for it, written once.
    PointsBurned {
        entry_id: [u8; 16],
        member_code: String,
        order_id: [u8; 16],
        points: i64,
        amount_minor: i64,
        burned_at_ms: i64,
    },
    /// `entry_id` is also the order payment's id.
    VoucherRedeemed {
        entry_id: [u8; 16],
        code: String,
        order_id: [u8; 16],
        amount_minor: i64,
        currency: String,
        redeemed_at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipShareV1 {
    pub staff_id: [u8; 16],
    /// Minutes worked, or points × minutes.
    pub weight: u64,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipPayoutV1 {
    pub payout_id: [u8; 16],
    pub from_ms: i64,
    pub to_ms: i64,
    pub tips_minor: i64,
    pub shares: Vec<TipShareV1>,
    pub by_staff_id: [u8; 16],
    pub paid_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GiftCardOpV1 {
    /// `entry_id` is also the order payment's id: the hub's ledger entry for it, written once.
    Redeemed {
        entry_id: [u8; 16],
        code: String,
        order_id: [u8; 16],
        amount_minor: i64,
        currency: String,
        redeemed_at_ms: i64,
    },
    // Appended with online holds; append only.
    /// The till asks the hub to take `amount_minor` off the card now (beyond what it may take
    /// offline). The hub answers with `FeedBody::GiftCardHoldDecided`; an approved hold is the
    /// ledger's redemption, with `hold_id` as its entry id (and the payment's id).
    HoldRequested {
        hold_id: [u8; 16],
        code: String,
        order_id: [u8; 16],
        amount_minor: i64,
        currency: String,
        requested_at_ms: i64,
    },
    /// The till will not use the hold (the cashier gave up, or the order no longer takes the
    /// payment): the hub gives the value back if it had approved it.
    HoldReleased {
        hold_id: [u8; 16],
        code: String,
        released_at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloudOrderOpV1 {
    /// A cancel from the cloud met the order; `outcome` is what the rule decided.
    CancelResolved {
        order_id: [u8; 16],
        outcome: CancelOutcomeV1,
        reason: String,
        resolved_at_ms: i64,
    },
}

/// Wire form of [`shared_model::cloud_order::CancelOutcome`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelOutcomeV1 {
    Cancelled,
    RefundRequested {
        paid_minor: i64,
    },
    AlreadyVoided,
    /// `state`: the order state's API name.
    TooLate {
        state: String,
    },
}

impl From<&shared_model::cloud_order::CancelOutcome> for CancelOutcomeV1 {
    fn from(outcome: &shared_model::cloud_order::CancelOutcome) -> Self {
        use shared_model::cloud_order::CancelOutcome;
        match outcome {
            CancelOutcome::Cancelled => CancelOutcomeV1::Cancelled,
            CancelOutcome::RefundRequested { paid_minor } => CancelOutcomeV1::RefundRequested {
                paid_minor: *paid_minor,
            },
            CancelOutcome::AlreadyVoided => CancelOutcomeV1::AlreadyVoided,
            CancelOutcome::TooLate { state } => CancelOutcomeV1::TooLate {
                state: state.as_str().to_owned(),
            },
        }
    }
}

impl CancelOutcomeV1 {
    /// The outcome's API name (`cancelled`, `refund_requested`, `already_voided`, `too_late`).
    pub fn as_str(&self) -> &'static str {
        match self {
            CancelOutcomeV1::Cancelled => "cancelled",
            CancelOutcomeV1::RefundRequested { .. } => "refund_requested",
            CancelOutcomeV1::AlreadyVoided => "already_voided",
            CancelOutcomeV1::TooLate { .. } => "too_late",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentMethodV1 {
    /// A prompt on the customer's phone; `msisdn` normalised (`2547…`).
    MpesaStk { msisdn: String },
    /// A card at a terminal the treasury's provider drives.
    Card { terminal_ref: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentOpV1 {
    IntentRequested {
        intent_id: [u8; 16],
        order_id: [u8; 16],
        method: PaymentMethodV1,
        amount_minor: i64,
        currency: String,
        requested_at_ms: i64,
    },
    /// The customer paid the till from their own phone (the link may have been down); the
    /// payment is on the order, to be confirmed or flagged against the treasury's records.
    ReceiptCodeRecorded {
        intent_id: [u8; 16],
        order_id: [u8; 16],
        receipt_code: String,
        amount_minor: i64,
        currency: String,
        recorded_at_ms: i64,
    },
    /// A card payment the card terminal approved offline (store-and-forward): only its
    /// reference, last four digits and brand, never the card number.
    OfflineCardRecorded {
        intent_id: [u8; 16],
        order_id: [u8; 16],
        offline_ref: String,
        last4: String,
        brand: String,
        amount_minor: i64,
        currency: String,
        recorded_at_ms: i64,
    },
    /// The treasury confirmed a payment after the order was settled another way: the edge did
    /// not take it twice; the customer is owed a refund of it (a conflict a rule resolved).
    CaptureNeedsRefund {
        intent_id: [u8; 16],
        order_id: [u8; 16],
        amount_minor: i64,
        detected_at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawerOpV1 {
    pub session_id: [u8; 16],
    pub event: DrawerEventV1,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderCountV1 {
    pub tender: TenderV1,
    pub counted_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DrawerEventV1 {
    Opened {
        terminal_id: String,
        cashier_id: String,
        float_minor: i64,
        at_ms: i64,
    },
    Taken {
        tender: TenderV1,
        amount_minor: i64,
        at_ms: i64,
    },
    Refunded {
        tender: TenderV1,
        amount_minor: i64,
        at_ms: i64,
    },
    PaidIn {
        amount_minor: i64,
        reason: String,
        at_ms: i64,
    },
    PaidOut {
        amount_minor: i64,
        reason: String,
        at_ms: i64,
    },
    Dropped {
        amount_minor: i64,
        at_ms: i64,
    },
    NoSale {
        reason: String,
        at_ms: i64,
    },
    Counted {
        counts: Vec<TenderCountV1>,
        at_ms: i64,
    },
    Closed {
        z_number: u64,
        at_ms: i64,
    },
}

fn drawer_event_to_wire(event: &shared_model::drawer::DrawerEvent) -> DrawerEventV1 {
    use shared_model::drawer::DrawerEvent as E;
    match event {
        E::Opened {
            terminal_id,
            cashier_id,
            float_minor,
            at_ms,
            ..
        } => DrawerEventV1::Opened {
            terminal_id: terminal_id.clone(),
            cashier_id: cashier_id.clone(),
            float_minor: *float_minor,
            at_ms: *at_ms,
        },
        E::Taken {
            tender,
            amount_minor,
            at_ms,
        } => DrawerEventV1::Taken {
            tender: tender_to_wire(*tender),
            amount_minor: *amount_minor,
            at_ms: *at_ms,
        },
        E::Refunded {
            tender,
            amount_minor,
            at_ms,
        } => DrawerEventV1::Refunded {
            tender: tender_to_wire(*tender),
            amount_minor: *amount_minor,
            at_ms: *at_ms,
        },
        E::PaidIn {
            amount_minor,
            reason,
            at_ms,
        } => DrawerEventV1::PaidIn {
            amount_minor: *amount_minor,
            reason: reason.clone(),
            at_ms: *at_ms,
        },
        E::PaidOut {
            amount_minor,
            reason,
            at_ms,
        } => DrawerEventV1::PaidOut {
            amount_minor: *amount_minor,
            reason: reason.clone(),
            at_ms: *at_ms,
        },
        E::Dropped {
            amount_minor,
            at_ms,
        } => DrawerEventV1::Dropped {
            amount_minor: *amount_minor,
            at_ms: *at_ms,
        },
        E::NoSale { reason, at_ms } => DrawerEventV1::NoSale {
            reason: reason.clone(),
            at_ms: *at_ms,
        },
        E::Counted { counts, at_ms } => DrawerEventV1::Counted {
            counts: counts
                .iter()
                .map(|c| TenderCountV1 {
                    tender: tender_to_wire(c.tender),
                    counted_minor: c.counted_minor,
                })
                .collect(),
            at_ms: *at_ms,
        },
        E::Closed { z_number, at_ms } => DrawerEventV1::Closed {
            z_number: *z_number,
            at_ms: *at_ms,
        },
    }
}

impl DrawerOpV1 {
    /// The wire form of `event` for session `session_id` (events after `Opened` do not carry
    /// the session id in the domain; the op does).
    pub fn for_session(
        session_id: shared_model::DrawerSessionId,
        event: &shared_model::drawer::DrawerEvent,
    ) -> DrawerOpV1 {
        DrawerOpV1 {
            session_id: *session_id.0.as_bytes(),
            event: drawer_event_to_wire(event),
        }
    }

    /// The domain event this op carries.
    pub fn to_domain(&self) -> shared_model::drawer::DrawerEvent {
        use shared_model::drawer::{DrawerEvent as E, TenderCount};
        match &self.event {
            DrawerEventV1::Opened {
                terminal_id,
                cashier_id,
                float_minor,
                at_ms,
            } => E::Opened {
                session_id: shared_model::DrawerSessionId(Uuid::from_bytes(self.session_id)),
                terminal_id: terminal_id.clone(),
                cashier_id: cashier_id.clone(),
                float_minor: *float_minor,
                at_ms: *at_ms,
            },
            DrawerEventV1::Taken {
                tender,
                amount_minor,
                at_ms,
            } => E::Taken {
                tender: tender_from_wire(tender),
                amount_minor: *amount_minor,
                at_ms: *at_ms,
            },
            DrawerEventV1::Refunded {
                tender,
                amount_minor,
                at_ms,
            } => E::Refunded {
                tender: tender_from_wire(tender),
                amount_minor: *amount_minor,
                at_ms: *at_ms,
            },
            DrawerEventV1::PaidIn {
                amount_minor,
                reason,
                at_ms,
            } => E::PaidIn {
                amount_minor: *amount_minor,
                reason: reason.clone(),
                at_ms: *at_ms,
            },
            DrawerEventV1::PaidOut {
                amount_minor,
                reason,
                at_ms,
            } => E::PaidOut {
                amount_minor: *amount_minor,
                reason: reason.clone(),
                at_ms: *at_ms,
            },
            DrawerEventV1::Dropped {
                amount_minor,
                at_ms,
            } => E::Dropped {
                amount_minor: *amount_minor,
                at_ms: *at_ms,
            },
            DrawerEventV1::NoSale { reason, at_ms } => E::NoSale {
                reason: reason.clone(),
                at_ms: *at_ms,
            },
            DrawerEventV1::Counted { counts, at_ms } => E::Counted {
                counts: counts
                    .iter()
                    .map(|c| TenderCount {
                        tender: tender_from_wire(&c.tender),
                        counted_minor: c.counted_minor,
                    })
                    .collect(),
                at_ms: *at_ms,
            },
            DrawerEventV1::Closed { z_number, at_ms } => E::Closed {
                z_number: *z_number,
                at_ms: *at_ms,
            },
        }
    }
}

impl OpBody {
    pub fn encode(&self) -> Vec<u8> {
        // Serialising these plain structs into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderTypeV1 {
    DineIn,
    BarTab,
    TakeOut,
    Delivery,
    EcommercePickup,
    DriveThru,
    Kiosk,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenderV1 {
    Cash,
    Card,
    Mpesa,
    GiftCard,
    // Appended with loyalty; append only.
    LoyaltyPoints,
    Voucher,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRateV1 {
    pub code: String,
    pub rate_bps: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxPortionV1 {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineV1 {
    pub id: [u8; 16],
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub tax_inclusive: bool,
    pub tax_rates: Vec<TaxRateV1>,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub taxes: Vec<TaxPortionV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentV1 {
    pub id: [u8; 16],
    pub tender: TenderV1,
    pub tendered_minor: i64,
    pub amount_minor: i64,
    pub change_minor: i64,
    pub taken_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEventV1 {
    Opened {
        order_id: [u8; 16],
        number: u64,
        order_type: OrderTypeV1,
        currency: String,
        opened_at_ms: i64,
    },
    LineAdded {
        order_id: [u8; 16],
        line: OrderLineV1,
    },
    PaymentTaken {
        order_id: [u8; 16],
        payment: PaymentV1,
    },
    Closed {
        order_id: [u8; 16],
        closed_at_ms: i64,
    },
    Voided {
        order_id: [u8; 16],
        reason: String,
        voided_at_ms: i64,
    },
    // Variants below were added for issue 3; append only.
    /// A line with the details `OrderLineV1` cannot carry. Plain lines still travel as
    /// `LineAdded`.
    LineAddedDetailed {
        order_id: [u8; 16],
        line: OrderLineV1,
        details: LineDetailsV1,
    },
    Sent {
        order_id: [u8; 16],
        sent_at_ms: i64,
    },
    LineVoided {
        order_id: [u8; 16],
        line_id: [u8; 16],
        reason: String,
        after_send: bool,
        voided_at_ms: i64,
    },
    DiscountApplied {
        order_id: [u8; 16],
        discount: DiscountV1,
    },
    PromotionsApplied {
        order_id: [u8; 16],
        promotions: Vec<AppliedPromotionV1>,
        applied_at_ms: i64,
    },
    ServiceChargeSet {
        order_id: [u8; 16],
        charge: Option<ServiceChargeV1>,
        set_at_ms: i64,
    },
    TipAdded {
        order_id: [u8; 16],
        tip: TipV1,
    },
    Refunded {
        order_id: [u8; 16],
        refund: RefundV1,
    },
    LinesMerged {
        order_id: [u8; 16],
        from_order_id: [u8; 16],
        lines: Vec<MergedLineV1>,
        merged_at_ms: i64,
    },
    MergedInto {
        order_id: [u8; 16],
        into_order_id: [u8; 16],
        merged_at_ms: i64,
    },
    TaxPolicySet {
        order_id: [u8; 16],
        rounding: RoundingModeV1,
        per_invoice: bool,
    },
    CashRoundingApplied {
        order_id: [u8; 16],
        adjustment_minor: i64,
        applied_at_ms: i64,
    },
    // Appended with per-line kitchen sends.
    LinesSent {
        order_id: [u8; 16],
        line_ids: Vec<[u8; 16]>,
        sent_at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuantityV1 {
    Each(i64),
    Grams(i64),
    Millilitres(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenModifierV1 {
    pub group_id: String,
    pub option_id: String,
    pub name: String,
    pub price_delta_minor: i64,
    pub depth: u8,
}

/// The line fields added after `OrderLineV1` was frozen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDetailsV1 {
    pub category: String,
    pub measured: Option<QuantityV1>,
    pub modifiers: Vec<ChosenModifierV1>,
    /// The price book the unit price came from; `None` for the shelf price.
    pub price_book_id: Option<String>,
    pub seat: Option<u16>,
    pub course: Option<u8>,
    pub instructions: Option<String>,
    pub age_restricted: bool,
    pub exclude_from_promotions: bool,
    /// Only ever true on merged lines the source had already sent.
    pub sent: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedLineV1 {
    pub line: OrderLineV1,
    pub details: LineDetailsV1,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscountKindV1 {
    Percent(u32),
    Amount(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountV1 {
    pub id: [u8; 16],
    /// `None` for an order-level discount.
    pub line_id: Option<[u8; 16]>,
    pub kind: DiscountKindV1,
    pub reason: String,
    pub applied_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionAllocationV1 {
    pub line_id: [u8; 16],
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPromotionV1 {
    pub promotion_id: String,
    pub name: String,
    pub amount_minor: i64,
    pub allocations: Vec<PromotionAllocationV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceChargeKindV1 {
    Percent(u32),
    Fixed(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChargeV1 {
    pub name: String,
    pub kind: ServiceChargeKindV1,
    pub taxable: bool,
    pub tax_rates: Vec<TaxRateV1>,
    pub tax_inclusive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipV1 {
    pub id: [u8; 16],
    pub amount_minor: i64,
    pub payment_id: Option<[u8; 16]>,
    pub added_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundV1 {
    pub id: [u8; 16],
    pub tender: TenderV1,
    pub amount_minor: i64,
    pub line_ids: Vec<[u8; 16]>,
    pub reason: String,
    pub refunded_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoundingModeV1 {
    HalfUp,
    HalfEven,
}

fn uuid_bytes(id: uuid::Uuid) -> [u8; 16] {
    *id.as_bytes()
}

fn tax_rates_to_wire(rates: &[TaxRate]) -> Vec<TaxRateV1> {
    rates
        .iter()
        .map(|r| TaxRateV1 {
            code: r.code.clone(),
            rate_bps: r.rate_bps,
        })
        .collect()
}

fn tax_rates_from_wire(rates: &[TaxRateV1]) -> Vec<TaxRate> {
    rates
        .iter()
        .map(|r| TaxRate::new(r.code.clone(), r.rate_bps))
        .collect()
}

fn details_to_wire(line: &OrderLine) -> LineDetailsV1 {
    LineDetailsV1 {
        category: line.category.clone(),
        measured: line.measured.map(|quantity| match quantity {
            Quantity::Each(n) => QuantityV1::Each(n),
            Quantity::Grams(n) => QuantityV1::Grams(n),
            Quantity::Millilitres(n) => QuantityV1::Millilitres(n),
        }),
        modifiers: line
            .modifiers
            .iter()
            .map(|m| ChosenModifierV1 {
                group_id: m.group_id.clone(),
                option_id: m.option_id.clone(),
                name: m.name.clone(),
                price_delta_minor: m.price_delta_minor,
                depth: m.depth,
            })
            .collect(),
        price_book_id: match &line.price_source {
            PriceSource::Shelf => None,
            PriceSource::Book { book_id } => Some(book_id.clone()),
        },
        seat: line.seat,
        course: line.course,
        instructions: line.instructions.clone(),
        age_restricted: line.age_restricted,
        exclude_from_promotions: line.exclude_from_promotions,
        sent: line.sent,
    }
}

fn detailed_line_from_wire(line: &OrderLineV1, details: &LineDetailsV1) -> OrderLine {
    OrderLine {
        category: details.category.clone(),
        measured: details.measured.as_ref().map(|quantity| match quantity {
            QuantityV1::Each(n) => Quantity::Each(*n),
            QuantityV1::Grams(n) => Quantity::Grams(*n),
            QuantityV1::Millilitres(n) => Quantity::Millilitres(*n),
        }),
        modifiers: details
            .modifiers
            .iter()
            .map(|m| ChosenModifier {
                group_id: m.group_id.clone(),
                option_id: m.option_id.clone(),
                name: m.name.clone(),
                price_delta_minor: m.price_delta_minor,
                depth: m.depth,
            })
            .collect(),
        price_source: match &details.price_book_id {
            None => PriceSource::Shelf,
            Some(book_id) => PriceSource::Book {
                book_id: book_id.clone(),
            },
        },
        seat: details.seat,
        course: details.course,
        instructions: details.instructions.clone(),
        age_restricted: details.age_restricted,
        exclude_from_promotions: details.exclude_from_promotions,
        sent: details.sent,
        ..line_from_wire(line)
    }
}

fn discount_to_wire(discount: &OrderDiscount) -> DiscountV1 {
    DiscountV1 {
        id: uuid_bytes(discount.id.0),
        line_id: match discount.target {
            DiscountTarget::Line { line_id } => Some(uuid_bytes(line_id.0)),
            DiscountTarget::Order => None,
        },
        kind: match discount.kind {
            DiscountKind::Percent { percent_bps } => DiscountKindV1::Percent(percent_bps),
            DiscountKind::Amount { amount_minor } => DiscountKindV1::Amount(amount_minor),
        },
        reason: discount.reason.clone(),
        applied_at_ms: discount.applied_at_ms,
    }
}

fn discount_from_wire(discount: &DiscountV1) -> OrderDiscount {
    OrderDiscount {
        id: DiscountId(Uuid::from_bytes(discount.id)),
        target: match discount.line_id {
            Some(bytes) => DiscountTarget::Line {
                line_id: LineId(Uuid::from_bytes(bytes)),
            },
            None => DiscountTarget::Order,
        },
        kind: match discount.kind {
            DiscountKindV1::Percent(percent_bps) => DiscountKind::Percent { percent_bps },
            DiscountKindV1::Amount(amount_minor) => DiscountKind::Amount { amount_minor },
        },
        reason: discount.reason.clone(),
        applied_at_ms: discount.applied_at_ms,
    }
}

fn promotion_to_wire(promotion: &AppliedPromotion) -> AppliedPromotionV1 {
    AppliedPromotionV1 {
        promotion_id: promotion.promotion_id.clone(),
        name: promotion.name.clone(),
        amount_minor: promotion.amount_minor,
        allocations: promotion
            .allocations
            .iter()
            .map(|a| PromotionAllocationV1 {
                line_id: uuid_bytes(a.line_id.0),
                amount_minor: a.amount_minor,
            })
            .collect(),
    }
}

fn promotion_from_wire(promotion: &AppliedPromotionV1) -> AppliedPromotion {
    AppliedPromotion {
        promotion_id: promotion.promotion_id.clone(),
        name: promotion.name.clone(),
        amount_minor: promotion.amount_minor,
        allocations: promotion
            .allocations
            .iter()
            .map(|a| PromotionAllocation {
                line_id: LineId(Uuid::from_bytes(a.line_id)),
                amount_minor: a.amount_minor,
            })
            .collect(),
    }
}

fn service_charge_to_wire(charge: &ServiceCharge) -> ServiceChargeV1 {
    ServiceChargeV1 {
        name: charge.name.clone(),
        kind: match charge.kind {
            ServiceChargeKind::Percent { percent_bps } => ServiceChargeKindV1::Percent(percent_bps),
            ServiceChargeKind::Fixed { amount_minor } => ServiceChargeKindV1::Fixed(amount_minor),
        },
        taxable: charge.taxable,
        tax_rates: tax_rates_to_wire(&charge.tax_rates),
        tax_inclusive: charge.tax_mode == TaxMode::Inclusive,
    }
}

fn service_charge_from_wire(charge: &ServiceChargeV1) -> ServiceCharge {
    ServiceCharge {
        name: charge.name.clone(),
        kind: match charge.kind {
            ServiceChargeKindV1::Percent(percent_bps) => ServiceChargeKind::Percent { percent_bps },
            ServiceChargeKindV1::Fixed(amount_minor) => ServiceChargeKind::Fixed { amount_minor },
        },
        taxable: charge.taxable,
        tax_rates: tax_rates_from_wire(&charge.tax_rates),
        tax_mode: if charge.tax_inclusive {
            TaxMode::Inclusive
        } else {
            TaxMode::Exclusive
        },
    }
}

fn order_type_to_wire(value: OrderType) -> OrderTypeV1 {
    match value {
        OrderType::DineIn => OrderTypeV1::DineIn,
        OrderType::BarTab => OrderTypeV1::BarTab,
        OrderType::TakeOut => OrderTypeV1::TakeOut,
        OrderType::Delivery => OrderTypeV1::Delivery,
        OrderType::EcommercePickup => OrderTypeV1::EcommercePickup,
        OrderType::DriveThru => OrderTypeV1::DriveThru,
        OrderType::Kiosk => OrderTypeV1::Kiosk,
    }
}

fn order_type_from_wire(value: &OrderTypeV1) -> OrderType {
    match value {
        OrderTypeV1::DineIn => OrderType::DineIn,
        OrderTypeV1::BarTab => OrderType::BarTab,
        OrderTypeV1::TakeOut => OrderType::TakeOut,
        OrderTypeV1::Delivery => OrderType::Delivery,
        OrderTypeV1::EcommercePickup => OrderType::EcommercePickup,
        OrderTypeV1::DriveThru => OrderType::DriveThru,
        OrderTypeV1::Kiosk => OrderType::Kiosk,
    }
}

fn tender_to_wire(value: Tender) -> TenderV1 {
    match value {
        Tender::Cash => TenderV1::Cash,
        Tender::Card => TenderV1::Card,
        Tender::Mpesa => TenderV1::Mpesa,
        Tender::GiftCard => TenderV1::GiftCard,
        Tender::LoyaltyPoints => TenderV1::LoyaltyPoints,
        Tender::Voucher => TenderV1::Voucher,
    }
}

fn tender_from_wire(value: &TenderV1) -> Tender {
    match value {
        TenderV1::Cash => Tender::Cash,
        TenderV1::Card => Tender::Card,
        TenderV1::Mpesa => Tender::Mpesa,
        TenderV1::GiftCard => Tender::GiftCard,
        TenderV1::LoyaltyPoints => Tender::LoyaltyPoints,
        TenderV1::Voucher => Tender::Voucher,
    }
}

fn line_to_wire(line: &OrderLine) -> OrderLineV1 {
    OrderLineV1 {
        id: *line.id.0.as_bytes(),
        item_id: line.item_id.0.clone(),
        name: line.name.clone(),
        quantity: line.quantity,
        unit_price_minor: line.unit_price_minor,
        tax_inclusive: line.tax_mode == TaxMode::Inclusive,
        tax_rates: line
            .tax_rates
            .iter()
            .map(|r| TaxRateV1 {
                code: r.code.clone(),
                rate_bps: r.rate_bps,
            })
            .collect(),
        net_minor: line.net_minor,
        tax_minor: line.tax_minor,
        gross_minor: line.gross_minor,
        taxes: line
            .taxes
            .iter()
            .map(|p| TaxPortionV1 {
                code: p.code.clone(),
                rate_bps: p.rate_bps,
                taxable_minor: p.taxable_minor,
                tax_minor: p.tax_minor,
            })
            .collect(),
    }
}

fn line_from_wire(line: &OrderLineV1) -> OrderLine {
    OrderLine {
        id: LineId(Uuid::from_bytes(line.id)),
        item_id: ItemId(line.item_id.clone()),
        name: line.name.clone(),
        quantity: line.quantity,
        unit_price_minor: line.unit_price_minor,
        tax_mode: if line.tax_inclusive {
            TaxMode::Inclusive
        } else {
            TaxMode::Exclusive
        },
        tax_rates: line
            .tax_rates
            .iter()
            .map(|r| TaxRate::new(r.code.clone(), r.rate_bps))
            .collect(),
        net_minor: line.net_minor,
        tax_minor: line.tax_minor,
        gross_minor: line.gross_minor,
        taxes: line
            .taxes
            .iter()
            .map(|p| TaxPortion {
                code: p.code.clone(),
                rate_bps: p.rate_bps,
                taxable_minor: p.taxable_minor,
                tax_minor: p.tax_minor,
            })
            .collect(),
        category: String::new(),
        measured: None,
        modifiers: Vec::new(),
        price_source: PriceSource::Shelf,
        seat: None,
        course: None,
        instructions: None,
        age_restricted: false,
        exclude_from_promotions: false,
        sent: false,
        voided: None,
    }
}

impl From<&OrderEvent> for OrderEventV1 {
    fn from(event: &OrderEvent) -> Self {
        match event {
            OrderEvent::Opened {
                order_id,
                number,
                order_type,
                currency,
                opened_at_ms,
            } => OrderEventV1::Opened {
                order_id: *order_id.0.as_bytes(),
                number: *number,
                order_type: order_type_to_wire(*order_type),
                currency: currency.code().to_owned(),
                opened_at_ms: *opened_at_ms,
            },
            OrderEvent::LineAdded { order_id, line } if line.has_details() => {
                OrderEventV1::LineAddedDetailed {
                    order_id: *order_id.0.as_bytes(),
                    line: line_to_wire(line),
                    details: details_to_wire(line),
                }
            }
            OrderEvent::LineAdded { order_id, line } => OrderEventV1::LineAdded {
                order_id: *order_id.0.as_bytes(),
                line: line_to_wire(line),
            },
            OrderEvent::PaymentTaken { order_id, payment } => OrderEventV1::PaymentTaken {
                order_id: *order_id.0.as_bytes(),
                payment: PaymentV1 {
                    id: *payment.id.0.as_bytes(),
                    tender: tender_to_wire(payment.tender),
                    tendered_minor: payment.tendered_minor,
                    amount_minor: payment.amount_minor,
                    change_minor: payment.change_minor,
                    taken_at_ms: payment.taken_at_ms,
                },
            },
            OrderEvent::Closed {
                order_id,
                closed_at_ms,
            } => OrderEventV1::Closed {
                order_id: *order_id.0.as_bytes(),
                closed_at_ms: *closed_at_ms,
            },
            OrderEvent::Voided {
                order_id,
                reason,
                voided_at_ms,
            } => OrderEventV1::Voided {
                order_id: *order_id.0.as_bytes(),
                reason: reason.clone(),
                voided_at_ms: *voided_at_ms,
            },
            OrderEvent::Sent {
                order_id,
                sent_at_ms,
            } => OrderEventV1::Sent {
                order_id: uuid_bytes(order_id.0),
                sent_at_ms: *sent_at_ms,
            },
            OrderEvent::LineVoided {
                order_id,
                line_id,
                reason,
                after_send,
                voided_at_ms,
            } => OrderEventV1::LineVoided {
                order_id: uuid_bytes(order_id.0),
                line_id: uuid_bytes(line_id.0),
                reason: reason.clone(),
                after_send: *after_send,
                voided_at_ms: *voided_at_ms,
            },
            OrderEvent::DiscountApplied { order_id, discount } => OrderEventV1::DiscountApplied {
                order_id: uuid_bytes(order_id.0),
                discount: discount_to_wire(discount),
            },
            OrderEvent::PromotionsApplied {
                order_id,
                promotions,
                applied_at_ms,
            } => OrderEventV1::PromotionsApplied {
                order_id: uuid_bytes(order_id.0),
                promotions: promotions.iter().map(promotion_to_wire).collect(),
                applied_at_ms: *applied_at_ms,
            },
            OrderEvent::ServiceChargeSet {
                order_id,
                charge,
                set_at_ms,
            } => OrderEventV1::ServiceChargeSet {
                order_id: uuid_bytes(order_id.0),
                charge: charge.as_ref().map(service_charge_to_wire),
                set_at_ms: *set_at_ms,
            },
            OrderEvent::TipAdded { order_id, tip } => OrderEventV1::TipAdded {
                order_id: uuid_bytes(order_id.0),
                tip: TipV1 {
                    id: uuid_bytes(tip.id.0),
                    amount_minor: tip.amount_minor,
                    payment_id: tip.payment_id.map(|id| uuid_bytes(id.0)),
                    added_at_ms: tip.added_at_ms,
                },
            },
            OrderEvent::Refunded { order_id, refund } => OrderEventV1::Refunded {
                order_id: uuid_bytes(order_id.0),
                refund: RefundV1 {
                    id: uuid_bytes(refund.id.0),
                    tender: tender_to_wire(refund.tender),
                    amount_minor: refund.amount_minor,
                    line_ids: refund.line_ids.iter().map(|id| uuid_bytes(id.0)).collect(),
                    reason: refund.reason.clone(),
                    refunded_at_ms: refund.refunded_at_ms,
                },
            },
            OrderEvent::LinesMerged {
                order_id,
                from_order_id,
                lines,
                merged_at_ms,
            } => OrderEventV1::LinesMerged {
                order_id: uuid_bytes(order_id.0),
                from_order_id: uuid_bytes(from_order_id.0),
                lines: lines
                    .iter()
                    .map(|line| MergedLineV1 {
                        line: line_to_wire(line),
                        details: details_to_wire(line),
                    })
                    .collect(),
                merged_at_ms: *merged_at_ms,
            },
            OrderEvent::MergedInto {
                order_id,
                into_order_id,
                merged_at_ms,
            } => OrderEventV1::MergedInto {
                order_id: uuid_bytes(order_id.0),
                into_order_id: uuid_bytes(into_order_id.0),
                merged_at_ms: *merged_at_ms,
            },
            OrderEvent::TaxPolicySet { order_id, policy } => OrderEventV1::TaxPolicySet {
                order_id: uuid_bytes(order_id.0),
                rounding: match policy.rounding {
                    RoundingMode::HalfUp => RoundingModeV1::HalfUp,
                    RoundingMode::HalfEven => RoundingModeV1::HalfEven,
                },
                per_invoice: policy.level == TaxRoundingLevel::PerInvoice,
            },
            OrderEvent::CashRoundingApplied {
                order_id,
                adjustment_minor,
                applied_at_ms,
            } => OrderEventV1::CashRoundingApplied {
                order_id: uuid_bytes(order_id.0),
                adjustment_minor: *adjustment_minor,
                applied_at_ms: *applied_at_ms,
            },
            OrderEvent::LinesSent {
                order_id,
                line_ids,
                sent_at_ms,
            } => OrderEventV1::LinesSent {
                order_id: uuid_bytes(order_id.0),
                line_ids: line_ids.iter().map(|line| uuid_bytes(line.0)).collect(),
                sent_at_ms: *sent_at_ms,
            },
        }
    }
}

impl TryFrom<&OrderEventV1> for OrderEvent {
    type Error = OpDecodeError;

    fn try_from(event: &OrderEventV1) -> Result<Self, Self::Error> {
        let id = |bytes: &[u8; 16]| OrderId(Uuid::from_bytes(*bytes));
        Ok(match event {
            OrderEventV1::Opened {
                order_id,
                number,
                order_type,
                currency,
                opened_at_ms,
            } => OrderEvent::Opened {
                order_id: id(order_id),
                number: *number,
                order_type: order_type_from_wire(order_type),
                currency: Currency::parse(currency)
                    .map_err(|error| OpDecodeError::Invalid(error.to_string()))?,
                opened_at_ms: *opened_at_ms,
            },
            OrderEventV1::LineAdded { order_id, line } => OrderEvent::LineAdded {
                order_id: id(order_id),
                line: line_from_wire(line),
            },
            OrderEventV1::PaymentTaken { order_id, payment } => OrderEvent::PaymentTaken {
                order_id: id(order_id),
                payment: Payment {
                    id: PaymentId(Uuid::from_bytes(payment.id)),
                    tender: tender_from_wire(&payment.tender),
                    tendered_minor: payment.tendered_minor,
                    amount_minor: payment.amount_minor,
                    change_minor: payment.change_minor,
                    taken_at_ms: payment.taken_at_ms,
                },
            },
            OrderEventV1::Closed {
                order_id,
                closed_at_ms,
            } => OrderEvent::Closed {
                order_id: id(order_id),
                closed_at_ms: *closed_at_ms,
            },
            OrderEventV1::Voided {
                order_id,
                reason,
                voided_at_ms,
            } => OrderEvent::Voided {
                order_id: id(order_id),
                reason: reason.clone(),
                voided_at_ms: *voided_at_ms,
            },
            OrderEventV1::LineAddedDetailed {
                order_id,
                line,
                details,
            } => OrderEvent::LineAdded {
                order_id: id(order_id),
                line: detailed_line_from_wire(line, details),
            },
            OrderEventV1::Sent {
                order_id,
                sent_at_ms,
            } => OrderEvent::Sent {
                order_id: id(order_id),
                sent_at_ms: *sent_at_ms,
            },
            OrderEventV1::LineVoided {
                order_id,
                line_id,
                reason,
                after_send,
                voided_at_ms,
            } => OrderEvent::LineVoided {
                order_id: id(order_id),
                line_id: LineId(Uuid::from_bytes(*line_id)),
                reason: reason.clone(),
                after_send: *after_send,
                voided_at_ms: *voided_at_ms,
            },
            OrderEventV1::DiscountApplied { order_id, discount } => OrderEvent::DiscountApplied {
                order_id: id(order_id),
                discount: discount_from_wire(discount),
            },
            OrderEventV1::PromotionsApplied {
                order_id,
                promotions,
                applied_at_ms,
            } => OrderEvent::PromotionsApplied {
                order_id: id(order_id),
                promotions: promotions.iter().map(promotion_from_wire).collect(),
                applied_at_ms: *applied_at_ms,
            },
            OrderEventV1::ServiceChargeSet {
                order_id,
                charge,
                set_at_ms,
            } => OrderEvent::ServiceChargeSet {
                order_id: id(order_id),
                charge: charge.as_ref().map(service_charge_from_wire),
                set_at_ms: *set_at_ms,
            },
            OrderEventV1::TipAdded { order_id, tip } => OrderEvent::TipAdded {
                order_id: id(order_id),
                tip: Tip {
                    id: TipId(Uuid::from_bytes(tip.id)),
                    amount_minor: tip.amount_minor,
                    payment_id: tip
                        .payment_id
                        .map(|bytes| PaymentId(Uuid::from_bytes(bytes))),
                    added_at_ms: tip.added_at_ms,
                },
            },
            OrderEventV1::Refunded { order_id, refund } => OrderEvent::Refunded {
                order_id: id(order_id),
                refund: Refund {
                    id: RefundId(Uuid::from_bytes(refund.id)),
                    tender: tender_from_wire(&refund.tender),
                    amount_minor: refund.amount_minor,
                    line_ids: refund
                        .line_ids
                        .iter()
                        .map(|bytes| LineId(Uuid::from_bytes(*bytes)))
                        .collect(),
                    reason: refund.reason.clone(),
                    refunded_at_ms: refund.refunded_at_ms,
                },
            },
            OrderEventV1::LinesMerged {
                order_id,
                from_order_id,
                lines,
                merged_at_ms,
            } => OrderEvent::LinesMerged {
                order_id: id(order_id),
                from_order_id: id(from_order_id),
                lines: lines
                    .iter()
                    .map(|merged| detailed_line_from_wire(&merged.line, &merged.details))
                    .collect(),
                merged_at_ms: *merged_at_ms,
            },
            OrderEventV1::MergedInto {
                order_id,
                into_order_id,
                merged_at_ms,
            } => OrderEvent::MergedInto {
                order_id: id(order_id),
                into_order_id: id(into_order_id),
                merged_at_ms: *merged_at_ms,
            },
            OrderEventV1::TaxPolicySet {
                order_id,
                rounding,
                per_invoice,
            } => OrderEvent::TaxPolicySet {
                order_id: id(order_id),
                policy: TaxPolicy {
                    rounding: match rounding {
                        RoundingModeV1::HalfUp => RoundingMode::HalfUp,
                        RoundingModeV1::HalfEven => RoundingMode::HalfEven,
                    },
                    level: if *per_invoice {
                        TaxRoundingLevel::PerInvoice
                    } else {
                        TaxRoundingLevel::PerLine
                    },
                },
            },
            OrderEventV1::CashRoundingApplied {
                order_id,
                adjustment_minor,
                applied_at_ms,
            } => OrderEvent::CashRoundingApplied {
                order_id: id(order_id),
                adjustment_minor: *adjustment_minor,
                applied_at_ms: *applied_at_ms,
            },
            OrderEventV1::LinesSent {
                order_id,
                line_ids,
                sent_at_ms,
            } => OrderEvent::LinesSent {
                order_id: id(order_id),
                line_ids: line_ids
                    .iter()
                    .map(|line| shared_model::LineId(Uuid::from_bytes(*line)))
                    .collect(),
                sent_at_ms: *sent_at_ms,
            },
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableEventV1 {
    Seated {
        table: String,
        order_id: [u8; 16],
        guests: u32,
        at_ms: i64,
    },
    Transferred {
        order_id: [u8; 16],
        from_table: String,
        to_table: String,
        at_ms: i64,
    },
    // Appended: who serves the order (set when a signed-in server opens it, then handed over).
    ServerAssigned {
        order_id: [u8; 16],
        staff_id: [u8; 16],
        /// Who handed it over; `None` when the order was opened.
        by_staff_id: Option<[u8; 16]>,
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabEventV1 {
    Opened {
        order_id: [u8; 16],
        name: String,
        /// The most the tab may run up to, in minor units.
        limit_minor: Option<i64>,
        /// The card terminal's pre-authorisation reference, when a card secures the tab.
        preauth_ref: Option<String>,
        at_ms: i64,
    },
}

// ---- edge facts: staff, audit, devices, kitchen ----------------------------------------------
//
// These are facts the hub stores and reports on; it does not fold them into orders.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleV1 {
    Cashier,
    Bartender,
    Server,
    Kitchen,
    Supervisor,
    Manager,
    InventoryClerk,
}

impl From<Role> for RoleV1 {
    fn from(role: Role) -> Self {
        match role {
            Role::Cashier => RoleV1::Cashier,
            Role::Bartender => RoleV1::Bartender,
            Role::Server => RoleV1::Server,
            Role::Kitchen => RoleV1::Kitchen,
            Role::Supervisor => RoleV1::Supervisor,
            Role::Manager => RoleV1::Manager,
            Role::InventoryClerk => RoleV1::InventoryClerk,
        }
    }
}

impl From<RoleV1> for Role {
    fn from(role: RoleV1) -> Self {
        match role {
            RoleV1::Cashier => Role::Cashier,
            RoleV1::Bartender => Role::Bartender,
            RoleV1::Server => Role::Server,
            RoleV1::Kitchen => Role::Kitchen,
            RoleV1::Supervisor => Role::Supervisor,
            RoleV1::Manager => Role::Manager,
            RoleV1::InventoryClerk => Role::InventoryClerk,
        }
    }
}

/// The high-risk actions of [`shared_model::staff::Action::HIGH_RISK`] on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditActionV1 {
    VoidAfterSend,
    Refund,
    PriceOverride,
    DiscountAboveThreshold,
    DrawerNoSale,
    ReprintPaidReceipt,
    // Appended; older edges never send it.
    SellAgeRestricted,
}

impl TryFrom<Action> for AuditActionV1 {
    type Error = OpDecodeError;

    /// Only high-risk actions are audited; anything else is a programming error of the caller,
    /// reported as a value so the wire layer never panics.
    fn try_from(action: Action) -> Result<Self, Self::Error> {
        Ok(match action {
            Action::VoidAfterSend => AuditActionV1::VoidAfterSend,
            Action::Refund => AuditActionV1::Refund,
            Action::PriceOverride => AuditActionV1::PriceOverride,
            Action::DiscountAboveThreshold => AuditActionV1::DiscountAboveThreshold,
            Action::DrawerNoSale => AuditActionV1::DrawerNoSale,
            Action::ReprintPaidReceipt => AuditActionV1::ReprintPaidReceipt,
            Action::SellAgeRestricted => AuditActionV1::SellAgeRestricted,
            other => {
                return Err(OpDecodeError::Invalid(format!(
                    "{} is not an audited action",
                    other.as_str()
                )));
            }
        })
    }
}

impl From<AuditActionV1> for Action {
    fn from(action: AuditActionV1) -> Self {
        match action {
            AuditActionV1::VoidAfterSend => Action::VoidAfterSend,
            AuditActionV1::Refund => Action::Refund,
            AuditActionV1::PriceOverride => Action::PriceOverride,
            AuditActionV1::DiscountAboveThreshold => Action::DiscountAboveThreshold,
            AuditActionV1::DrawerNoSale => Action::DrawerNoSale,
            AuditActionV1::ReprintPaidReceipt => Action::ReprintPaidReceipt,
            AuditActionV1::SellAgeRestricted => Action::SellAgeRestricted,
        }
    }
}

/// One audit-trail entry: who did what, when, why, and who approved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventV1 {
    pub audit_id: [u8; 16],
    pub action: AuditActionV1,
    /// The signed-in staff member who asked, if any.
    pub actor_staff_id: Option<[u8; 16]>,
    /// The staff member whose override PIN allowed it, if the actor's role did not.
    pub approver_staff_id: Option<[u8; 16]>,
    pub device_id: [u8; 16],
    /// What was acted on, e.g. `order:<uuid>` or `drawer`.
    pub subject: String,
    pub reason: String,
    pub at_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKindV1 {
    Terminal,
    Kds,
    Kiosk,
    Printer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceEventV1 {
    Registered {
        device_id: [u8; 16],
        name: String,
        kind: DeviceKindV1,
        at_ms: i64,
    },
    Renamed {
        device_id: [u8; 16],
        name: String,
        at_ms: i64,
    },
    Disabled {
        device_id: [u8; 16],
        at_ms: i64,
    },
    Enabled {
        device_id: [u8; 16],
        at_ms: i64,
    },
    Removed {
        device_id: [u8; 16],
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StaffEventV1 {
    /// A staff member created at the edge (a box that was never online). The PIN travels only
    /// as its argon2 PHC string.
    Created {
        staff_id: [u8; 16],
        name: String,
        role: RoleV1,
        pin_hash_phc: String,
        at_ms: i64,
    },
    SignedIn {
        session_id: [u8; 16],
        staff_id: [u8; 16],
        device_id: [u8; 16],
        at_ms: i64,
    },
    SignedOut {
        session_id: [u8; 16],
        staff_id: [u8; 16],
        /// `sign_out`, `idle_timeout`, `forced`, `replaced` or `forced_by_hub`.
        reason: String,
        /// Who forced it, for a forced logout.
        by_staff_id: Option<[u8; 16]>,
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenLineV1 {
    pub line_id: [u8; 16],
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenTicketV1 {
    pub ticket_id: [u8; 16],
    pub station: String,
    pub lines: Vec<KitchenLineV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KitchenEventV1 {
    SentToKitchen {
        order_id: [u8; 16],
        order_number: u64,
        tickets: Vec<KitchenTicketV1>,
        at_ms: i64,
    },
    /// Every station has bumped its tickets: the hub turns this into a customer notification.
    OrderReady {
        order_id: [u8; 16],
        order_number: u64,
        at_ms: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_model::{CatalogItem, Order};

    #[test]
    fn order_events_survive_the_wire_unchanged() {
        let opened = OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(1)),
            number: 7,
            order_type: OrderType::BarTab,
            currency: Currency::kes(),
            opened_at_ms: 1_700_000_000_000,
        };
        let order = Order::from_opened(&opened).expect("opened");
        let item = CatalogItem::simple(
            "sku-tusker",
            "Tusker 500ml",
            "beer",
            35_000,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
        );
        let line = order
            .add_line(LineId(Uuid::from_u128(2)), &item, 3, RoundingMode::HalfUp)
            .expect("line");
        for event in [opened, line] {
            let body = OpBody::Order(OrderEventV1::from(&event)).encode();
            let op = WireOp {
                origin: [1; 16],
                seq: 1,
                hlc: Hlc::default(),
                prev_hash: GENESIS_HASH,
                body,
            };
            let OpBody::Order(wire) = op.decode_body().expect("decode") else {
                panic!("an order op decoded as another kind");
            };
            assert_eq!(OrderEvent::try_from(&wire).expect("convert"), event);
        }
    }

    fn wire_round_trip(event: &OrderEvent) -> OrderEvent {
        let body = OpBody::Order(OrderEventV1::from(event)).encode();
        let op = WireOp {
            origin: [1; 16],
            seq: 1,
            hlc: Hlc::default(),
            prev_hash: GENESIS_HASH,
            body,
        };
        let OpBody::Order(wire) = op.decode_body().expect("decode") else {
            panic!("an order op");
        };
        OrderEvent::try_from(&wire).expect("convert")
    }

    /// Drives a bar tab through every issue-3 event and checks each one survives the wire.
    #[test]
    fn every_issue_3_order_event_survives_the_wire_unchanged() {
        use shared_model::modifiers::{ModifierChoice, ModifierGroup, ModifierOption};
        use shared_model::order::{DiscountTarget, LineRequest, RefundRequest};
        use shared_model::pricebook::{PriceBook, PriceBookScope, PriceContext};
        use shared_model::pricing::{PricingRules, Quantity};
        use shared_model::promotions::{PromotionContext, PromotionRule, PromotionTarget};
        use shared_model::{Promotion, Unit};

        let uuid = Uuid::from_u128;
        let open = |n: u128| OrderEvent::Opened {
            order_id: OrderId(uuid(n)),
            number: 7,
            order_type: OrderType::BarTab,
            currency: Currency::kes(),
            opened_at_ms: 1,
        };
        let mut order = Order::from_opened(&open(1)).expect("opened");
        let mut other = Order::from_opened(&open(2)).expect("opened");
        let mut events = vec![open(1)];
        let step = |order: &mut Order, event: OrderEvent, events: &mut Vec<OrderEvent>| {
            order.apply(&event).expect("a decided event applies");
            events.push(event);
        };

        let mut burger = CatalogItem::simple(
            "burger",
            "Burger",
            "food",
            80_000,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600)],
        );
        burger.modifier_group_ids = vec!["cook".into()];
        burger.age_restricted = true;
        let mut nyama = CatalogItem::simple(
            "nyama",
            "Nyama choma",
            "food",
            150_000,
            TaxMode::Inclusive,
            vec![],
        );
        nyama.unit = Unit::Kilogram;
        let rules = PricingRules {
            modifier_groups: vec![ModifierGroup {
                id: "cook".into(),
                name: "Cooking".into(),
                min_choices: 1,
                max_choices: 1,
                options: vec![ModifierOption {
                    id: "medium".into(),
                    name: "Medium".into(),
                    price_delta_minor: 500,
                    nested_groups: vec![],
                }],
            }],
            price_books: vec![PriceBook {
                id: "bar".into(),
                name: "Bar".into(),
                scope: PriceBookScope::Base,
                priority: 0,
                prices: [(ItemId("burger".into()), 75_000)].into(),
            }],
            promotions: vec![Promotion::automatic(
                "food5",
                "5% food",
                PromotionRule::PercentOff {
                    target: PromotionTarget::Category {
                        category: "food".into(),
                    },
                    percent_bps: 500,
                },
            )],
            ..PricingRules::default()
        };
        let mut request = LineRequest::new(Quantity::Each(2));
        request.modifiers = vec![ModifierChoice::new("cook", "medium")];
        request.seat = Some(3);
        request.course = Some(2);
        request.exclude_from_promotions = true;
        request.instructions = Some("no onions".into());
        let line = order
            .add_line_with(
                LineId(uuid(10)),
                &burger,
                &request,
                &rules,
                &PriceContext::default(),
            )
            .expect("line");
        step(&mut order, line, &mut events);
        let weighed = order
            .add_line_with(
                LineId(uuid(11)),
                &nyama,
                &LineRequest::new(Quantity::Grams(750)),
                &rules,
                &PriceContext::default(),
            )
            .expect("line");
        step(&mut order, weighed, &mut events);
        let policy = order
            .set_tax_policy(TaxPolicy {
                rounding: RoundingMode::HalfEven,
                level: TaxRoundingLevel::PerInvoice,
            })
            .expect("policy");
        step(&mut order, policy, &mut events);
        let sent = order.send(2).expect("send");
        step(&mut order, sent, &mut events);
        let extra = order
            .add_line(LineId(uuid(12)), &burger, 1, RoundingMode::HalfUp)
            .expect("line");
        step(&mut order, extra, &mut events);
        let void = order
            .void_line(LineId(uuid(12)), "sent by mistake", 3)
            .expect("void");
        step(&mut order, void, &mut events);
        let line_discount = order
            .discount(
                DiscountId(uuid(20)),
                DiscountTarget::Line {
                    line_id: LineId(uuid(10)),
                },
                DiscountKind::Amount {
                    amount_minor: 1_000,
                },
                "late",
                4,
            )
            .expect("discount");
        step(&mut order, line_discount, &mut events);
        let order_discount = order
            .discount(
                DiscountId(uuid(21)),
                DiscountTarget::Order,
                DiscountKind::Percent { percent_bps: 500 },
                "regular",
                4,
            )
            .expect("discount");
        step(&mut order, order_discount, &mut events);
        let promotions = order
            .apply_promotions(&rules, &PromotionContext::default(), 5)
            .expect("promotions");
        step(&mut order, promotions, &mut events);
        let service = order
            .set_service_charge(
                Some(ServiceCharge {
                    name: "Service".into(),
                    kind: ServiceChargeKind::Percent { percent_bps: 1_000 },
                    taxable: true,
                    tax_rates: vec![TaxRate::new("VAT16", 1600)],
                    tax_mode: TaxMode::Exclusive,
                }),
                5,
            )
            .expect("service");
        step(&mut order, service, &mut events);
        let tip = order.add_tip(TipId(uuid(30)), 2_000, None, 6).expect("tip");
        step(&mut order, tip, &mut events);
        let mut cash_order = Order::from_opened(&open(4)).expect("opened");
        let chai = CatalogItem::simple("chai", "Chai", "tea", 6_530, TaxMode::Inclusive, vec![]);
        let chai_line = cash_order
            .add_line(LineId(uuid(70)), &chai, 1, RoundingMode::HalfUp)
            .expect("line");
        cash_order.apply(&chai_line).expect("apply");
        let whole_shillings = shared_model::cash_rounding::CashRounding::new(
            100,
            shared_model::cash_rounding::CashRoundingMode::Nearest,
        )
        .expect("rule");
        let rounding = cash_order
            .round_for_cash(&whole_shillings, 6)
            .expect("allowed")
            .expect("65.30 rounds");
        cash_order.apply(&rounding).expect("apply");
        events.push(rounding);
        let due = order.totals().balance_due_minor;
        let pay = order
            .take_payment(PaymentId(uuid(40)), Tender::Card, due, 7)
            .expect("pay");
        step(&mut order, pay, &mut events);
        let tip_adjust = order
            .add_tip(TipId(uuid(31)), 1_500, Some(PaymentId(uuid(40))), 8)
            .expect("tip");
        step(&mut order, tip_adjust, &mut events);
        let refund = order
            .refund(
                RefundId(uuid(50)),
                RefundRequest::Lines(vec![LineId(uuid(11))]),
                Tender::Card,
                "overcooked",
                9,
            )
            .expect("refund");
        step(&mut order, refund, &mut events);

        let line = other
            .add_line(LineId(uuid(60)), &burger, 1, RoundingMode::HalfUp)
            .expect("line");
        other.apply(&line).expect("apply");
        let mut target = Order::from_opened(&open(3)).expect("opened");
        let (merged_in, merged_away) = target.merge_from(&other, 10).expect("merge");
        target.apply(&merged_in).expect("apply");
        other.apply(&merged_away).expect("apply");
        events.push(merged_in);
        events.push(merged_away);

        for event in &events {
            assert_eq!(&wire_round_trip(event), event, "{}", event.kind());
        }
        // Replaying the wire copies rebuilds the same order, totals included.
        let mut replayed = Order::from_opened(&wire_round_trip(&events[0])).expect("opened");
        for event in events.iter().skip(1).filter(|e| e.order_id() == order.id) {
            replayed.apply(&wire_round_trip(event)).expect("replay");
        }
        assert_eq!(replayed, order);
        assert_eq!(replayed.totals(), order.totals());
    }

    #[test]
    fn old_variants_keep_their_wire_positions_and_new_ones_come_after() {
        let tag = |event: &OrderEvent| OpBody::Order(OrderEventV1::from(event)).encode()[1];
        let order_id = OrderId(Uuid::from_u128(1));
        assert_eq!(
            tag(&OrderEvent::Closed {
                order_id,
                closed_at_ms: 0
            }),
            3
        );
        assert_eq!(
            tag(&OrderEvent::Voided {
                order_id,
                reason: "x".into(),
                voided_at_ms: 0
            }),
            4
        );
        assert_eq!(
            tag(&OrderEvent::Sent {
                order_id,
                sent_at_ms: 0
            }),
            6
        );
        assert_eq!(
            tag(&OrderEvent::TaxPolicySet {
                order_id,
                policy: TaxPolicy::default()
            }),
            15
        );
        assert_eq!(
            tag(&OrderEvent::CashRoundingApplied {
                order_id,
                adjustment_minor: -30,
                applied_at_ms: 0
            }),
            16
        );
        assert_eq!(
            tag(&OrderEvent::LinesSent {
                order_id,
                line_ids: vec![],
                sent_at_ms: 0
            }),
            17
        );
    }

    #[test]
    fn edge_facts_survive_the_wire_unchanged() {
        let bodies = [
            OpBody::Audit(AuditEventV1 {
                audit_id: [9; 16],
                action: AuditActionV1::try_from(Action::DrawerNoSale).expect("audited"),
                actor_staff_id: Some([1; 16]),
                approver_staff_id: Some([2; 16]),
                device_id: [3; 16],
                subject: "drawer".into(),
                reason: "change for a float".into(),
                at_ms: 5,
            }),
            OpBody::Device(DeviceEventV1::Registered {
                device_id: [3; 16],
                name: "kds-grill".into(),
                kind: DeviceKindV1::Kds,
                at_ms: 6,
            }),
            OpBody::Staff(StaffEventV1::Created {
                staff_id: [1; 16],
                name: "Wanjiru".into(),
                role: RoleV1::from(Role::Supervisor),
                pin_hash_phc: "$argon2id$v=19$...".into(),
                at_ms: 7,
            }),
            OpBody::Kitchen(KitchenEventV1::SentToKitchen {
                order_id: [4; 16],
                order_number: 12,
                tickets: vec![KitchenTicketV1 {
                    ticket_id: [5; 16],
                    station: "grill".into(),
                    lines: vec![KitchenLineV1 {
                        line_id: [6; 16],
                        item_id: "sku-burger".into(),
                        name: "Burger".into(),
                        quantity: 2,
                    }],
                }],
                at_ms: 8,
            }),
            OpBody::Table(TableEventV1::Transferred {
                order_id: [4; 16],
                from_table: "T1".into(),
                to_table: "T7".into(),
                at_ms: 9,
            }),
            OpBody::Tab(TabEventV1::Opened {
                order_id: [5; 16],
                name: "Otieno".into(),
                limit_minor: Some(500_000),
                preauth_ref: Some("PA-1234".into()),
                at_ms: 10,
            }),
        ];
        for body in bodies {
            let op = WireOp {
                origin: [1; 16],
                seq: 1,
                hlc: Hlc::default(),
                prev_hash: GENESIS_HASH,
                body: body.encode(),
            };
            assert_eq!(op.decode_body().expect("decode"), body);
        }
        for role in Role::ALL {
            assert_eq!(Role::from(RoleV1::from(role)), role);
        }
        for action in Action::AUDITED {
            let wire = AuditActionV1::try_from(action).expect("high-risk actions are audited");
            assert_eq!(Action::from(wire), action);
        }
        assert!(AuditActionV1::try_from(Action::TakeOrders).is_err());
    }

    #[test]
    fn the_chain_hash_covers_every_field() {
        let op = WireOp {
            origin: [1; 16],
            seq: 1,
            hlc: Hlc::default(),
            prev_hash: GENESIS_HASH,
            body: vec![1, 2, 3],
        };
        let base = op.chain_hash();
        let mut changed = op.clone();
        changed.seq = 2;
        assert_ne!(changed.chain_hash(), base);
        let mut changed = op.clone();
        changed.body[0] = 9;
        assert_ne!(changed.chain_hash(), base);
        let mut changed = op;
        changed.prev_hash[0] = 1;
        assert_ne!(changed.chain_hash(), base);
    }

    #[test]
    fn drawer_events_survive_the_wire_unchanged() {
        use shared_model::drawer::{DrawerSession, TenderCount};
        let session_id = shared_model::DrawerSessionId(Uuid::from_u128(9));
        let opened = DrawerSession::open(session_id, "till-1", "amina", 50_000, 1).expect("open");
        let mut drawer = DrawerSession::from_opened(&opened).expect("opened");
        let mut events = vec![opened];
        for event in [
            drawer.take(Tender::Mpesa, 12_000, 2).expect("take"),
            drawer.pay_in(1_000, "change", 3).expect("pay in"),
            drawer.no_sale("check", 4).expect("no sale"),
        ] {
            drawer.apply(&event).expect("apply");
            events.push(event);
        }
        let count = drawer
            .count(
                vec![TenderCount {
                    tender: Tender::Cash,
                    counted_minor: 51_000,
                }],
                5,
            )
            .expect("count");
        drawer.apply(&count).expect("apply");
        events.push(count);
        events.push(drawer.close(7, 6).expect("close"));
        for event in events {
            let body = OpBody::Drawer(DrawerOpV1::for_session(session_id, &event)).encode();
            let op = WireOp {
                origin: [1; 16],
                seq: 1,
                hlc: Hlc::default(),
                prev_hash: GENESIS_HASH,
                body,
            };
            let OpBody::Drawer(wire) = op.decode_body().expect("decode") else {
                panic!("a drawer op");
            };
            assert_eq!(wire.session_id, *session_id.0.as_bytes());
            assert_eq!(wire.to_domain(), event);
        }
    }
}
