//! The downstream feed: what the hub decided for one outlet (catalog, and in time prices,
//! staff, configuration, cloud orders), as a numbered stream the edge applies in order and
//! resumes from its own durable cursor.
//!
//! Entries carry a versioned body as opaque postcard bytes, like ops. Add variants only at the
//! end of [`FeedBody`].

use crate::op::{OpDecodeError, RoleV1, TaxRateV1};
use serde::{Deserialize, Serialize};
use shared_model::CatalogItem;
use shared_model::Tender;
use shared_model::catalog::ItemId;
use shared_model::catalog::Unit;
use shared_model::cloud_order::CloudChannel;
use shared_model::gift_card::GiftCardAllowance;
use shared_model::loyalty::{LoyaltyProgram, MemberAllowance, Voucher};
use shared_model::outlet::OutletConfig;
use shared_model::payment_intent::IntentState;
use shared_model::pricebook::{Channel, PriceBook, PriceBookScope, WeeklyWindow};
use shared_model::tax::{TaxMode, TaxRate};

/// Most feed entries in one `FeedBatch`. Why: one batch is one SQLite transaction at the edge;
/// 1,000 catalog rows apply in a few milliseconds and fit easily in a frame.
pub const FEED_BATCH_MAX: usize = 1_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub seq: u64,
    /// postcard bytes of [`FeedBody`].
    pub body: Vec<u8>,
}

impl FeedEntry {
    pub fn decode_body(&self) -> Result<FeedBody, OpDecodeError> {
        let (body, rest) = postcard::take_from_bytes::<FeedBody>(&self.body)
            .map_err(|error| OpDecodeError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(OpDecodeError::Malformed("trailing bytes".into()));
        }
        Ok(body)
    }

    /// [`FeedEntry::decode_body`] that tells a kind this version does not know — added by a
    /// newer hub, appended after [`FEED_BODY_KINDS_KNOWN`] — from a corrupt entry: `Ok(None)`
    /// for the former (the edge skips it and keeps syncing), an error for the latter.
    pub fn decode_known(&self) -> Result<Option<FeedBody>, OpDecodeError> {
        match self.decode_body() {
            Ok(body) => Ok(Some(body)),
            Err(error) => match leading_varint(&self.body) {
                Some(kind) if kind >= FEED_BODY_KINDS_KNOWN => Ok(None),
                _ => Err(error),
            },
        }
    }
}

/// How many [`FeedBody`] kinds this version knows (its variant count).
pub const FEED_BODY_KINDS_KNOWN: u32 = 25;

/// postcard's enum discriminant: the varint at the start of the body.
fn leading_varint(bytes: &[u8]) -> Option<u32> {
    let mut value: u32 = 0;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedBody {
    CatalogItemUpserted(CatalogItemV1),
    CatalogItemRemoved {
        item_id: String,
    },
    /// A staff member as the hub knows them, with the PIN only as its argon2 PHC string.
    StaffUpserted(StaffV1),
    /// A forced logout from the hub: every open session of this staff member ends.
    StaffLoggedOut {
        staff_id: [u8; 16],
    },
    // Variants below were added with price books and outlet configuration; append only.
    PriceBookUpserted(PriceBookV1),
    PriceBookRemoved {
        book_id: String,
    },
    OutletConfigSet(OutletConfigV1),
    /// The treasury's word on a payment the till asked for.
    PaymentIntentUpdated(PaymentIntentUpdateV1),
    /// An order placed in the cloud for this outlet to prepare.
    CloudOrderPlaced(CloudOrderV1),
    /// The cloud asks to cancel an order it placed; the edge applies the cancel rule
    /// (`shared_model::cloud_order::decide_cancel`) to the order as it stands.
    CloudOrderCancelRequested {
        order_id: [u8; 16],
        reason: String,
        requested_at_ms: i64,
    },
    /// What this outlet may redeem on a gift card without asking (see
    /// `shared_model::gift_card`); sent whenever the card's balance or state changes.
    GiftCardAllowanceSet(GiftCardAllowanceV1),
    /// Automerge changes the hub made to a document the outlet also edits (the floor plan).
    DocChanged(crate::docs::DocChangeV1),
    /// A promotion the outlet applies (automatic, or when its code is entered).
    PromotionUpserted(crate::promotions::PromotionV1),
    /// A promotion the outlet no longer applies.
    PromotionRemoved {
        promotion_id: String,
    },
    /// The modifier groups a catalog item offers (empty: none), replacing what it had.
    ItemModifiersSet {
        item_id: String,
        groups: Vec<crate::modifiers::ModifierGroupV1>,
    },
    /// A combo the outlet sells (slots of items at one price), replacing one of the same id.
    ComboUpserted(crate::modifiers::ComboV1),
    ComboRemoved {
        combo_id: String,
    },
    /// The tenant's loyalty program (earn and burn rates), replacing the one before.
    LoyaltyProgramSet(LoyaltyProgramV1),
    /// What this outlet may burn for a member without asking (see `shared_model::loyalty`);
    /// sent whenever the member's balance or state changes.
    LoyaltyMemberSet(LoyaltyMemberV1),
    /// A voucher the outlet may take, or, once used or cancelled, may no longer take.
    VoucherSet(VoucherV1),
    /// The hub's answer to a gift-card hold the outlet asked for (`GiftCardOpV1::HoldRequested`).
    GiftCardHoldDecided {
        hold_id: [u8; 16],
        approved: bool,
        /// Why it was declined (empty when approved).
        reason: String,
    },
    /// The rest of the outlet's profile (cash rounding, tax rounding, operating hours), sent
    /// right after every `OutletConfigSet`: an edge that does not know this kind keeps the
    /// profile `OutletConfigSet` carries.
    OutletProfileSet(OutletProfileV1),
    /// Automerge changes the cloud side made to one of its orders' notes documents (the order
    /// itself came earlier in the feed).
    OrderDocChanged(crate::docs::OrderDocChangeV1),
    /// The treasury's last word on a refund the till gave on a tender it processes (card,
    /// M-Pesa): the money is back with the customer, or it is not and the till must refund
    /// them by hand. Sent once, when the hub settles the refund.
    TreasuryRefundSettled(TreasuryRefundSettledV1),
    /// How many times the tenant's other outlets have used a promotion with a usage limit, as
    /// the hub last counted (the outlet counts its own); sent whenever that count moves.
    PromotionUsesSet {
        promotion_id: String,
        uses_elsewhere: u32,
    },
}

/// Wire form of a settled treasury refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreasuryRefundSettledV1 {
    pub refund_id: [u8; 16],
    pub order_id: [u8; 16],
    /// `true`: processed (the money is back); `false`: failed.
    pub processed: bool,
    /// What the treasury said, for the cashier (at most [`REFUND_DETAIL_CHARS_MAX`]).
    pub detail: String,
    pub settled_at_ms: i64,
}

/// Longest refund detail sent to a till.
pub const REFUND_DETAIL_CHARS_MAX: usize = 300;

/// Wire form of the profile parts of [`shared_model::outlet::OutletConfig`] that
/// [`OutletConfigV1`] does not carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutletProfileV1 {
    /// Step in minor units (100: whole shillings) and how to round.
    pub cash_rounding: Option<(i64, CashRoundingModeV1)>,
    /// How tax is rounded: half-even (not half-up), and per invoice (not per line).
    pub tax_half_even: bool,
    pub tax_per_invoice: bool,
    pub operating_hours: Vec<WeeklyWindowV1>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CashRoundingModeV1 {
    Nearest,
    Down,
    Up,
}

impl From<&OutletConfig> for OutletProfileV1 {
    fn from(config: &OutletConfig) -> Self {
        use shared_model::cash_rounding::CashRoundingMode;
        use shared_model::tax::{RoundingMode, TaxRoundingLevel};
        let policy = config.tax_policy.unwrap_or_default();
        OutletProfileV1 {
            cash_rounding: config.cash_rounding.map(|rule| {
                (
                    rule.increment_minor(),
                    match rule.mode() {
                        CashRoundingMode::Nearest => CashRoundingModeV1::Nearest,
                        CashRoundingMode::Down => CashRoundingModeV1::Down,
                        CashRoundingMode::Up => CashRoundingModeV1::Up,
                    },
                )
            }),
            tax_half_even: policy.rounding == RoundingMode::HalfEven,
            tax_per_invoice: policy.level == TaxRoundingLevel::PerInvoice,
            operating_hours: config
                .operating_hours
                .iter()
                .map(|window| WeeklyWindowV1 {
                    days_mask: window.days_mask,
                    start_minute: window.start_minute,
                    end_minute: window.end_minute,
                })
                .collect(),
        }
    }
}

impl OutletProfileV1 {
    /// Sets these parts of `config`. A cash-rounding step out of range (a newer hub's rule
    /// this version cannot hold) leaves cash to the cent.
    pub fn apply_to(&self, config: &mut OutletConfig) {
        use shared_model::cash_rounding::{CashRounding, CashRoundingMode};
        use shared_model::tax::{RoundingMode, TaxPolicy, TaxRoundingLevel};
        config.cash_rounding = self.cash_rounding.and_then(|(increment_minor, mode)| {
            let mode = match mode {
                CashRoundingModeV1::Nearest => CashRoundingMode::Nearest,
                CashRoundingModeV1::Down => CashRoundingMode::Down,
                CashRoundingModeV1::Up => CashRoundingMode::Up,
            };
            CashRounding::new(increment_minor, mode).ok()
        });
        let policy = TaxPolicy {
            rounding: if self.tax_half_even {
                RoundingMode::HalfEven
            } else {
                RoundingMode::HalfUp
            },
            level: if self.tax_per_invoice {
                TaxRoundingLevel::PerInvoice
            } else {
                TaxRoundingLevel::PerLine
            },
        };
        config.tax_policy = (policy != TaxPolicy::default()).then_some(policy);
        config.operating_hours = self
            .operating_hours
            .iter()
            .map(|window| shared_model::pricebook::WeeklyWindow {
                days_mask: window.days_mask,
                start_minute: window.start_minute,
                end_minute: window.end_minute,
            })
            .collect();
    }
}

/// Wire form of [`shared_model::loyalty::LoyaltyProgram`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyProgramV1 {
    pub currency: String,
    pub earn_minor_per_point: i64,
    pub point_value_minor: i64,
    pub offline_burn_points: i64,
}

/// Wire form of [`shared_model::loyalty::MemberAllowance`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyMemberV1 {
    pub code: String,
    pub name: String,
    pub active: bool,
    pub balance_points: i64,
    pub allowance_points: i64,
    pub outlet_burned_points: i64,
}

/// Wire form of [`shared_model::loyalty::Voucher`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherV1 {
    pub code: String,
    pub currency: String,
    pub value_minor: i64,
    pub active: bool,
    pub expires_at_ms: Option<i64>,
}

impl From<&LoyaltyProgram> for LoyaltyProgramV1 {
    fn from(program: &LoyaltyProgram) -> Self {
        LoyaltyProgramV1 {
            currency: program.currency.clone(),
            earn_minor_per_point: program.earn_minor_per_point,
            point_value_minor: program.point_value_minor,
            offline_burn_points: program.offline_burn_points,
        }
    }
}

impl From<&LoyaltyProgramV1> for LoyaltyProgram {
    fn from(wire: &LoyaltyProgramV1) -> Self {
        LoyaltyProgram {
            currency: wire.currency.clone(),
            earn_minor_per_point: wire.earn_minor_per_point,
            point_value_minor: wire.point_value_minor,
            offline_burn_points: wire.offline_burn_points,
        }
    }
}

impl From<&MemberAllowance> for LoyaltyMemberV1 {
    fn from(word: &MemberAllowance) -> Self {
        LoyaltyMemberV1 {
            code: word.code.clone(),
            name: word.name.clone(),
            active: word.active,
            balance_points: word.balance_points,
            allowance_points: word.allowance_points,
            outlet_burned_points: word.outlet_burned_points,
        }
    }
}

impl From<&LoyaltyMemberV1> for MemberAllowance {
    fn from(wire: &LoyaltyMemberV1) -> Self {
        MemberAllowance {
            code: wire.code.clone(),
            name: wire.name.clone(),
            active: wire.active,
            balance_points: wire.balance_points,
            allowance_points: wire.allowance_points,
            outlet_burned_points: wire.outlet_burned_points,
        }
    }
}

impl From<&Voucher> for VoucherV1 {
    fn from(voucher: &Voucher) -> Self {
        VoucherV1 {
            code: voucher.code.clone(),
            currency: voucher.currency.clone(),
            value_minor: voucher.value_minor,
            active: voucher.active,
            expires_at_ms: voucher.expires_at_ms,
        }
    }
}

impl From<&VoucherV1> for Voucher {
    fn from(wire: &VoucherV1) -> Self {
        Voucher {
            code: wire.code.clone(),
            currency: wire.currency.clone(),
            value_minor: wire.value_minor,
            active: wire.active,
            expires_at_ms: wire.expires_at_ms,
        }
    }
}

/// Wire form of [`shared_model::gift_card::GiftCardAllowance`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftCardAllowanceV1 {
    pub code: String,
    pub currency: String,
    pub active: bool,
    pub expires_at_ms: Option<i64>,
    pub allowance_minor: i64,
    pub outlet_redeemed_minor: i64,
}

impl From<&GiftCardAllowance> for GiftCardAllowanceV1 {
    fn from(word: &GiftCardAllowance) -> Self {
        GiftCardAllowanceV1 {
            code: word.code.clone(),
            currency: word.currency.clone(),
            active: word.active,
            expires_at_ms: word.expires_at_ms,
            allowance_minor: word.allowance_minor,
            outlet_redeemed_minor: word.outlet_redeemed_minor,
        }
    }
}

impl From<&GiftCardAllowanceV1> for GiftCardAllowance {
    fn from(wire: &GiftCardAllowanceV1) -> Self {
        GiftCardAllowance {
            code: wire.code.clone(),
            currency: wire.currency.clone(),
            active: wire.active,
            expires_at_ms: wire.expires_at_ms,
            allowance_minor: wire.allowance_minor,
            outlet_redeemed_minor: wire.outlet_redeemed_minor,
        }
    }
}

/// Wire form of [`shared_model::cloud_order::CloudChannel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloudChannelV1 {
    Ecommerce,
    Delivery,
    ClickAndCollect,
}

impl From<CloudChannel> for CloudChannelV1 {
    fn from(channel: CloudChannel) -> Self {
        match channel {
            CloudChannel::Ecommerce => CloudChannelV1::Ecommerce,
            CloudChannel::Delivery => CloudChannelV1::Delivery,
            CloudChannel::ClickAndCollect => CloudChannelV1::ClickAndCollect,
        }
    }
}

impl From<CloudChannelV1> for CloudChannel {
    fn from(channel: CloudChannelV1) -> Self {
        match channel {
            CloudChannelV1::Ecommerce => CloudChannel::Ecommerce,
            CloudChannelV1::Delivery => CloudChannel::Delivery,
            CloudChannelV1::ClickAndCollect => CloudChannel::ClickAndCollect,
        }
    }
}

/// An order placed in the cloud: who it is for, and the order facts the hub decided (opened,
/// its lines priced by the outlet's books, a payment taken online). The edge folds `events`
/// with the same rules the hub did, so both hold the same order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudOrderV1 {
    pub order_id: [u8; 16],
    pub channel: CloudChannelV1,
    /// The web shop's or platform's own order reference.
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub notes: Option<String>,
    pub events: Vec<crate::op::OrderEventV1>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntentStateV1 {
    Requested,
    Prompted,
    Captured,
    Failed,
    TimedOut,
}

impl From<IntentState> for IntentStateV1 {
    fn from(state: IntentState) -> Self {
        match state {
            IntentState::Requested => IntentStateV1::Requested,
            IntentState::Prompted => IntentStateV1::Prompted,
            IntentState::Captured => IntentStateV1::Captured,
            IntentState::Failed => IntentStateV1::Failed,
            IntentState::TimedOut => IntentStateV1::TimedOut,
        }
    }
}

impl From<IntentStateV1> for IntentState {
    fn from(state: IntentStateV1) -> Self {
        match state {
            IntentStateV1::Requested => IntentState::Requested,
            IntentStateV1::Prompted => IntentState::Prompted,
            IntentStateV1::Captured => IntentState::Captured,
            IntentStateV1::Failed => IntentState::Failed,
            IntentStateV1::TimedOut => IntentState::TimedOut,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntentUpdateV1 {
    pub intent_id: [u8; 16],
    pub order_id: [u8; 16],
    pub state: IntentStateV1,
    pub amount_minor: i64,
    /// The treasury's reference for the payment.
    pub provider_ref: Option<String>,
    /// The M-Pesa receipt code (or card approval code) once captured.
    pub receipt: Option<String>,
    /// Why it failed, in words for the cashier.
    pub detail: String,
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffV1 {
    pub id: [u8; 16],
    pub name: String,
    pub role: RoleV1,
    pub pin_hash_phc: String,
    /// A disabled staff member cannot sign in, and their open sessions end.
    pub disabled: bool,
}

impl FeedBody {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItemV1 {
    pub id: String,
    pub name: String,
    pub category: String,
    pub price_minor: i64,
    pub tax_inclusive: bool,
    pub tax_rates: Vec<TaxRateV1>,
    pub unit: UnitV1,
    pub barcodes: Vec<String>,
    pub plu: Option<String>,
    pub age_restricted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitV1 {
    Each,
    Kilogram,
    Litre,
}

impl From<&CatalogItem> for CatalogItemV1 {
    fn from(item: &CatalogItem) -> Self {
        CatalogItemV1 {
            id: item.id.0.clone(),
            name: item.name.clone(),
            category: item.category.clone(),
            price_minor: item.price_minor,
            tax_inclusive: item.tax_mode == TaxMode::Inclusive,
            tax_rates: item
                .tax_rates
                .iter()
                .map(|rate| TaxRateV1 {
                    code: rate.code.clone(),
                    rate_bps: rate.rate_bps,
                })
                .collect(),
            unit: match item.unit {
                Unit::Each => UnitV1::Each,
                Unit::Kilogram => UnitV1::Kilogram,
                Unit::Litre => UnitV1::Litre,
            },
            barcodes: item.barcodes.clone(),
            plu: item.plu.clone(),
            age_restricted: item.age_restricted,
        }
    }
}

impl From<&CatalogItemV1> for CatalogItem {
    /// Allergen, nutrition and modifier metadata do not travel in v1 of the feed yet.
    fn from(item: &CatalogItemV1) -> Self {
        let mut domain = CatalogItem::simple(
            &item.id,
            &item.name,
            &item.category,
            item.price_minor,
            if item.tax_inclusive {
                TaxMode::Inclusive
            } else {
                TaxMode::Exclusive
            },
            item.tax_rates
                .iter()
                .map(|rate| TaxRate::new(rate.code.clone(), rate.rate_bps))
                .collect(),
        );
        domain.unit = match item.unit {
            UnitV1::Each => Unit::Each,
            UnitV1::Kilogram => Unit::Kilogram,
            UnitV1::Litre => Unit::Litre,
        };
        domain.barcodes = item.barcodes.clone();
        domain.plu = item.plu.clone();
        domain.age_restricted = item.age_restricted;
        domain
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelV1 {
    DineIn,
    TakeOut,
    Delivery,
    Ecommerce,
    Wholesale,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindowV1 {
    pub days_mask: u8,
    pub start_minute: u16,
    pub end_minute: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PriceBookScopeV1 {
    Base,
    Channel(ChannelV1),
    Region(String),
    TimeWindow(Vec<WeeklyWindowV1>),
    Membership(String),
    OutletOverride(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBookV1 {
    pub id: String,
    pub name: String,
    pub scope: PriceBookScopeV1,
    pub priority: u32,
    /// (item id, unit price in minor units), by item id.
    pub prices: Vec<(String, i64)>,
}

impl From<Channel> for ChannelV1 {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::DineIn => ChannelV1::DineIn,
            Channel::TakeOut => ChannelV1::TakeOut,
            Channel::Delivery => ChannelV1::Delivery,
            Channel::Ecommerce => ChannelV1::Ecommerce,
            Channel::Wholesale => ChannelV1::Wholesale,
        }
    }
}

impl From<ChannelV1> for Channel {
    fn from(channel: ChannelV1) -> Self {
        match channel {
            ChannelV1::DineIn => Channel::DineIn,
            ChannelV1::TakeOut => Channel::TakeOut,
            ChannelV1::Delivery => Channel::Delivery,
            ChannelV1::Ecommerce => Channel::Ecommerce,
            ChannelV1::Wholesale => Channel::Wholesale,
        }
    }
}

impl From<&PriceBook> for PriceBookV1 {
    fn from(book: &PriceBook) -> Self {
        let window = |w: &WeeklyWindow| WeeklyWindowV1 {
            days_mask: w.days_mask,
            start_minute: w.start_minute,
            end_minute: w.end_minute,
        };
        PriceBookV1 {
            id: book.id.clone(),
            name: book.name.clone(),
            scope: match &book.scope {
                PriceBookScope::Base => PriceBookScopeV1::Base,
                PriceBookScope::Channel { channel } => PriceBookScopeV1::Channel((*channel).into()),
                PriceBookScope::Region { region } => PriceBookScopeV1::Region(region.clone()),
                PriceBookScope::TimeWindow { windows } => {
                    PriceBookScopeV1::TimeWindow(windows.iter().map(window).collect())
                }
                PriceBookScope::Membership { plan } => PriceBookScopeV1::Membership(plan.clone()),
                PriceBookScope::OutletOverride { outlet } => {
                    PriceBookScopeV1::OutletOverride(outlet.clone())
                }
            },
            priority: book.priority,
            prices: book
                .prices
                .iter()
                .map(|(item, price)| (item.0.clone(), *price))
                .collect(),
        }
    }
}

impl From<&PriceBookV1> for PriceBook {
    fn from(book: &PriceBookV1) -> Self {
        let window = |w: &WeeklyWindowV1| WeeklyWindow {
            days_mask: w.days_mask,
            start_minute: w.start_minute,
            end_minute: w.end_minute,
        };
        PriceBook {
            id: book.id.clone(),
            name: book.name.clone(),
            scope: match &book.scope {
                PriceBookScopeV1::Base => PriceBookScope::Base,
                PriceBookScopeV1::Channel(channel) => PriceBookScope::Channel {
                    channel: (*channel).into(),
                },
                PriceBookScopeV1::Region(region) => PriceBookScope::Region {
                    region: region.clone(),
                },
                PriceBookScopeV1::TimeWindow(windows) => PriceBookScope::TimeWindow {
                    windows: windows.iter().map(window).collect(),
                },
                PriceBookScopeV1::Membership(plan) => {
                    PriceBookScope::Membership { plan: plan.clone() }
                }
                PriceBookScopeV1::OutletOverride(outlet) => PriceBookScope::OutletOverride {
                    outlet: outlet.clone(),
                },
            },
            priority: book.priority,
            prices: book
                .prices
                .iter()
                .map(|(item, price)| (ItemId(item.clone()), *price))
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutletConfigV1 {
    pub timezone: String,
    pub utc_offset_minutes: i32,
    pub region: Option<String>,
    /// `TenderV1` names: `cash`, `card`, `mpesa`, `gift_card`; empty means all.
    pub accepted_tenders: Vec<String>,
    pub receipt_header: String,
    pub receipt_footer: String,
    pub cash_exception_threshold_minor: Option<i64>,
    pub offline_card: Option<OfflineCardLimitsV1>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineCardLimitsV1 {
    pub per_payment_max_minor: i64,
    pub outstanding_max_minor: i64,
    pub max_age_hours: u32,
}

impl From<&OutletConfig> for OutletConfigV1 {
    fn from(config: &OutletConfig) -> Self {
        OutletConfigV1 {
            timezone: config.timezone.clone(),
            utc_offset_minutes: config.utc_offset_minutes,
            region: config.region.clone(),
            accepted_tenders: config
                .accepted_tenders
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            receipt_header: config.receipt_header.clone(),
            receipt_footer: config.receipt_footer.clone(),
            cash_exception_threshold_minor: config.cash_exception_threshold_minor,
            offline_card: config.offline_card.map(|limits| OfflineCardLimitsV1 {
                per_payment_max_minor: limits.per_payment_max_minor,
                outstanding_max_minor: limits.outstanding_max_minor,
                max_age_hours: limits.max_age_hours,
            }),
        }
    }
}

impl From<&OutletConfigV1> for OutletConfig {
    /// A tender name this version does not know (a newer hub) is left out: the edge then
    /// refuses that tender rather than guessing.
    fn from(config: &OutletConfigV1) -> Self {
        OutletConfig {
            timezone: config.timezone.clone(),
            utc_offset_minutes: config.utc_offset_minutes,
            region: config.region.clone(),
            accepted_tenders: config
                .accepted_tenders
                .iter()
                .filter_map(|name| Tender::parse(name))
                .collect(),
            receipt_header: config.receipt_header.clone(),
            receipt_footer: config.receipt_footer.clone(),
            cash_exception_threshold_minor: config.cash_exception_threshold_minor,
            offline_card: config.offline_card.map(|limits| {
                shared_model::outlet::OfflineCardLimits {
                    per_payment_max_minor: limits.per_payment_max_minor,
                    outstanding_max_minor: limits.outstanding_max_minor,
                    max_age_hours: limits.max_age_hours,
                }
            }),
            // Carried by `OutletProfileSet`, which follows.
            cash_rounding: None,
            tax_policy: None,
            operating_hours: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_from_a_newer_hub_is_told_apart_from_a_corrupt_entry() {
        // Every kind this version knows decodes as known.
        let last_known = FeedBody::PromotionUsesSet {
            promotion_id: "welcome".into(),
            uses_elsewhere: 7,
        };
        let entry = FeedEntry {
            seq: 1,
            body: last_known.encode(),
        };
        assert_eq!(
            entry.body[0] as u32,
            FEED_BODY_KINDS_KNOWN - 1,
            "update the count with the enum"
        );
        assert_eq!(entry.decode_known().expect("known"), Some(last_known));
        // A kind appended by a newer hub: skipped, not an error.
        let newer = FeedEntry {
            seq: 2,
            body: vec![FEED_BODY_KINDS_KNOWN as u8, 1, 2, 3],
        };
        assert_eq!(newer.decode_known().expect("skippable"), None);
        // A known kind with a broken body is an error.
        let broken = FeedEntry {
            seq: 3,
            body: vec![0, 0xff],
        };
        assert!(broken.decode_known().is_err());
    }

    #[test]
    fn price_books_and_outlet_config_survive_the_wire_unchanged() {
        let happy = PriceBook {
            id: "happy-hour".into(),
            name: "Happy hour".into(),
            scope: PriceBookScope::TimeWindow {
                windows: vec![WeeklyWindow {
                    days_mask: WeeklyWindow::WEEKDAYS,
                    start_minute: 17 * 60,
                    end_minute: 19 * 60,
                }],
            },
            priority: 3,
            prices: [(ItemId("sku-tusker".into()), 25_000)].into(),
        };
        let channel = PriceBook {
            id: "delivery".into(),
            name: "Delivery".into(),
            scope: PriceBookScope::Channel {
                channel: Channel::Delivery,
            },
            priority: 0,
            prices: [(ItemId("sku-chai".into()), 18_000)].into(),
        };
        for book in [happy, channel] {
            let entry = FeedEntry {
                seq: 1,
                body: FeedBody::PriceBookUpserted(PriceBookV1::from(&book)).encode(),
            };
            match entry.decode_body().expect("decodes") {
                FeedBody::PriceBookUpserted(wire) => assert_eq!(PriceBook::from(&wire), book),
                other => panic!("{other:?}"),
            }
        }
        let mut config = OutletConfig::in_zone("Africa/Nairobi", 180);
        config.accepted_tenders = vec![Tender::Mpesa, Tender::Cash];
        config.receipt_footer = "Asante!".into();
        let entry = FeedEntry {
            seq: 2,
            body: FeedBody::OutletConfigSet(OutletConfigV1::from(&config)).encode(),
        };
        match entry.decode_body().expect("decodes") {
            FeedBody::OutletConfigSet(wire) => assert_eq!(OutletConfig::from(&wire), config),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn staff_entries_survive_the_wire_unchanged() {
        for body in [
            FeedBody::StaffUpserted(StaffV1 {
                id: [7; 16],
                name: "Wanjiru".into(),
                role: RoleV1::Supervisor,
                pin_hash_phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                disabled: false,
            }),
            FeedBody::StaffLoggedOut { staff_id: [7; 16] },
        ] {
            let entry = FeedEntry {
                seq: 1,
                body: body.encode(),
            };
            assert_eq!(entry.decode_body().expect("decode"), body);
        }
    }
}
