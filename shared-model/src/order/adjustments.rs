//! Order commands beyond add/pay/close/void: sending to the kitchen, voiding a line,
//! detailed lines (weights, modifiers, seats, courses, instructions, price books), discounts,
//! promotions, the service charge, tips and the tax policy.
//!
//! As in the parent module, each command decides an [`OrderEvent`] without mutating, and
//! [`Order::apply`] re-runs the same check before folding the event in.

use super::{
    AddLineError, DiscountTarget, LineVoid, ORDER_DISCOUNTS_MAX, ORDER_TIPS_MAX, Order,
    OrderDiscount, OrderLine, OrderState, SEAT_MAX, TEXT_LEN_MAX, Tip,
};
use crate::cash_rounding::{CASH_ROUNDING_INCREMENT_MAX_MINOR, CashRounding};
use crate::catalog::CatalogItem;
use crate::events::OrderEvent;
use crate::ids::{DiscountId, LineId, PaymentId, TipId};
use crate::modifiers::{ModifierChoice, ModifierError, resolve_modifiers};
use crate::pricebook::{PriceContext, resolve_price};
use crate::pricing::{
    DiscountKind, PricingRules, Quantity, ServiceCharge, ServiceChargeKind, UNIT_PRICE_MINOR_MAX,
};
use crate::promotions::{AppliedPromotion, PromoLine, PromotionContext, apply_promotions};
use crate::tax::{BPS_WHOLE, TaxPolicy, tax_amount};
use thiserror::Error;

/// Largest tip accepted, in minor units. Why: a tip above this is a keying error (an extra
/// zero or two), and refunding a mistaken tip is far costlier than re-entering it.
pub const TIP_MINOR_MAX: i64 = 10_000_000;

fn check_reason(reason: &str) -> bool {
    let reason = reason.trim();
    !reason.is_empty() && reason.chars().count() <= TEXT_LEN_MAX
}

/// The share of a line or a bill a cashier may discount without a supervisor, in basis points,
/// where the outlet set none. Why 10%: a regular's courtesy or a damaged-box markdown fits;
/// more is a decision a supervisor signs.
pub const DISCOUNT_THRESHOLD_BPS_DEFAULT: u32 = 1_000;

/// What a terminal asks for when it adds a detailed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRequest {
    pub quantity: Quantity,
    pub modifiers: Vec<ModifierChoice>,
    pub seat: Option<u16>,
    pub course: Option<u8>,
    pub instructions: Option<String>,
    /// The price on a price-embedded scale label, which replaces the computed price.
    pub label_price_minor: Option<i64>,
    /// A combo component (see [`crate::pricing::CartLine::combo`]): promotions skip it.
    pub exclude_from_promotions: bool,
    /// A price override: this unit price replaces the price book's (modifiers included).
    /// Granting one is a high-risk action the caller clears and audits.
    pub unit_price_override_minor: Option<i64>,
}

impl LineRequest {
    /// A request for `quantity` with no modifiers or details.
    pub fn new(quantity: Quantity) -> LineRequest {
        LineRequest {
            quantity,
            modifiers: Vec::new(),
            seat: None,
            course: None,
            instructions: None,
            label_price_minor: None,
            exclude_from_promotions: false,
            unit_price_override_minor: None,
        }
    }
}

/// Why a detailed line could not be added.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineRequestError {
    #[error(transparent)]
    AddLine(#[from] AddLineError),
    #[error(transparent)]
    Modifier(#[from] ModifierError),
    #[error("quantity does not fit the item's unit or is out of range")]
    BadQuantity,
    #[error("seat must be between 1 and {SEAT_MAX}")]
    BadSeat,
    #[error("instructions must be 1 to {TEXT_LEN_MAX} characters")]
    BadInstructions,
    #[error("unit price must be between 0 and {UNIT_PRICE_MINOR_MAX}")]
    BadPrice,
}

/// Why the order could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    #[error("order is {0}; only an open or sent order can send lines")]
    NotSendable(&'static str),
    #[error("there are no unsent lines")]
    NothingToSend,
    #[error("a line sent is not an unsent live line of the order")]
    NotUnsent,
}

/// Why a line could not be voided.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineVoidError {
    #[error("order is {0}; lines can only be voided while it is open or sent")]
    NotOpen(&'static str),
    #[error("no such line on the order")]
    UnknownLine,
    #[error("the line is already voided")]
    AlreadyVoided,
    #[error("a line void needs a reason of 1 to {TEXT_LEN_MAX} characters")]
    BadReason,
    #[error("the recorded void contradicts the order")]
    Contradicts,
}

/// Why a discount was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiscountError {
    #[error("order is {0}; discounts are given while it is open or sent")]
    NotOpen(&'static str),
    #[error("no such live line on the order")]
    UnknownLine,
    #[error("a discount needs a reason of 1 to {TEXT_LEN_MAX} characters")]
    BadReason,
    #[error("a discount must be a positive amount or a percentage up to 100 %")]
    BadAmount,
    #[error("an order holds at most {ORDER_DISCOUNTS_MAX} discounts")]
    TooMany,
    #[error("a discount with this id is already on the order")]
    DuplicateDiscount,
}

/// Why a promotion evaluation could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PromotionsError {
    #[error("order is {0}; promotions are evaluated while it is open or sent")]
    NotOpen(&'static str),
    #[error("a promotion names a line that is not live on the order")]
    UnknownLine,
    #[error("a promotion's amounts are negative or do not add up")]
    Inconsistent,
}

/// Why a service charge was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceChargeError {
    #[error("order is {0}; the service charge is set while it is open or sent")]
    NotOpen(&'static str),
    #[error("a service charge needs a name of 1 to {TEXT_LEN_MAX} characters")]
    BadName,
    #[error("a service charge must be a non-negative amount or a percentage up to 100 %")]
    BadAmount,
}

/// Why a tip was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TipError {
    #[error("order is {0}; it does not take tips")]
    NotTippable(&'static str),
    #[error("a tip must be between 1 and {TIP_MINOR_MAX}")]
    BadAmount,
    #[error("the tip names no card payment on this order")]
    UnknownPayment,
    #[error("an order holds at most {ORDER_TIPS_MAX} tips")]
    TooMany,
    #[error("a tip with this id is already on the order")]
    DuplicateTip,
}

/// Why a cash rounding line was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CashRoundingError {
    #[error("order is {0}; cash rounding applies while payment is due")]
    NotPayable(&'static str),
    #[error(
        "a cash rounding line is at most {CASH_ROUNDING_INCREMENT_MAX_MINOR} either way and leaves something due"
    )]
    OutOfRange,
}

/// Why the tax policy could not be set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaxPolicyError {
    #[error("order is {0}; the tax policy is fixed once payment starts")]
    NotOpen(&'static str),
    #[error("the order already has payments")]
    HasPayments,
}

impl Order {
    /// Decides a detailed line: price book, modifiers, weight, seat, course, instructions.
    ///
    /// ```
    /// use shared_model::order::LineRequest;
    /// use shared_model::pricebook::PriceContext;
    /// use shared_model::pricing::{PricingRules, Quantity};
    /// use shared_model::{CatalogItem, Currency, LineId, Order, OrderEvent, OrderId, OrderType, TaxMode, Unit};
    /// # use uuid::Uuid;
    /// let mut order = Order::from_opened(&OrderEvent::Opened { order_id: OrderId(Uuid::from_u128(1)), number: 1,
    ///     order_type: OrderType::TakeOut, currency: Currency::kes(), opened_at_ms: 0 }).expect("opened");
    /// let mut bananas = CatalogItem::simple("bananas", "Bananas", "produce", 16_000, TaxMode::Inclusive, vec![]);
    /// bananas.unit = Unit::Kilogram;
    /// let event = order.add_line_with(LineId(Uuid::from_u128(2)), &bananas, &LineRequest::new(Quantity::Grams(1_235)),
    ///     &PricingRules::default(), &PriceContext::default()).expect("line");
    /// order.apply(&event).expect("apply");
    /// assert_eq!(order.totals().total_minor, 19_760);
    /// ```
    pub fn add_line_with(
        &self,
        line_id: LineId,
        item: &CatalogItem,
        request: &LineRequest,
        rules: &PricingRules,
        price_context: &PriceContext,
    ) -> Result<OrderEvent, LineRequestError> {
        if !self.state.accepts_lines() {
            return Err(AddLineError::NotOpen(self.state.as_str()).into());
        }
        let quantity_ok = match (request.quantity, item.unit) {
            (Quantity::Each(count), crate::catalog::Unit::Each) => {
                (1..=super::LINE_QUANTITY_MAX).contains(&count)
            }
            (Quantity::Grams(amount), crate::catalog::Unit::Kilogram)
            | (Quantity::Millilitres(amount), crate::catalog::Unit::Litre) => {
                (1..=crate::pricing::MEASURED_QUANTITY_MAX).contains(&amount)
            }
            _ => false,
        };
        if !quantity_ok {
            return Err(LineRequestError::BadQuantity);
        }
        if request
            .seat
            .is_some_and(|seat| !(1..=SEAT_MAX).contains(&seat))
        {
            return Err(LineRequestError::BadSeat);
        }
        if request
            .instructions
            .as_deref()
            .is_some_and(|text| !check_reason(text))
        {
            return Err(LineRequestError::BadInstructions);
        }
        let offered: Vec<_> = rules
            .modifier_groups
            .iter()
            .filter(|group| item.modifier_group_ids.contains(&group.id))
            .collect();
        let modifiers = resolve_modifiers(&offered, &request.modifiers)?;
        let resolved = resolve_price(&rules.price_books, item, price_context);
        let unit_price_minor = match request.unit_price_override_minor {
            Some(price) => Some(price),
            None => resolved
                .unit_price_minor
                .checked_add(modifiers.price_delta_minor),
        }
        .filter(|price| (0..=UNIT_PRICE_MINOR_MAX).contains(price))
        .ok_or(LineRequestError::BadPrice)?;
        let rounding = self.tax_policy.rounding;
        let amount_minor = match request.label_price_minor {
            Some(label) if (0..=UNIT_PRICE_MINOR_MAX).contains(&label) => label,
            Some(_) => return Err(LineRequestError::BadPrice),
            None => match request.quantity {
                Quantity::Each(count) => unit_price_minor * count,
                Quantity::Grams(thousandths) | Quantity::Millilitres(thousandths) => {
                    i64::try_from(crate::tax::divide_rounded(
                        i128::from(unit_price_minor) * i128::from(thousandths),
                        i128::from(crate::pricing::THOUSANDTHS_PER_UNIT),
                        rounding,
                    ))
                    .map_err(|_| LineRequestError::BadPrice)?
                }
            },
        };
        let taxed = tax_amount(amount_minor, &item.tax_rates, item.tax_mode, rounding);
        let measured = match request.quantity {
            Quantity::Each(_) => None,
            other => Some(other),
        };
        let line = OrderLine {
            id: line_id,
            item_id: item.id.clone(),
            name: item.name.clone(),
            quantity: request.quantity.units(),
            unit_price_minor,
            tax_mode: item.tax_mode,
            tax_rates: item.tax_rates.clone(),
            net_minor: taxed.net_minor,
            tax_minor: taxed.tax_minor,
            gross_minor: taxed.gross_minor,
            taxes: taxed.portions,
            category: item.category.clone(),
            measured,
            modifiers: modifiers.chosen,
            price_source: resolved.source,
            seat: request.seat,
            course: request.course,
            instructions: request
                .instructions
                .as_ref()
                .map(|text| text.trim().to_owned()),
            age_restricted: item.age_restricted,
            exclude_from_promotions: request.exclude_from_promotions,
            sent: false,
            voided: None,
        };
        self.check_line(&line)?;
        Ok(OrderEvent::LineAdded {
            order_id: self.id,
            line,
        })
    }

    /// Decides sending the unsent lines to the kitchen.
    pub fn send(&self, sent_at_ms: i64) -> Result<OrderEvent, SendError> {
        if !matches!(self.state, OrderState::Open | OrderState::Sent) {
            return Err(SendError::NotSendable(self.state.as_str()));
        }
        if !self.lines.iter().any(|line| line.is_live() && !line.sent) {
            return Err(SendError::NothingToSend);
        }
        Ok(OrderEvent::Sent {
            order_id: self.id,
            sent_at_ms,
        })
    }

    /// Decides sending `line_ids` (unsent live lines) to the kitchen: a course fired while
    /// the rest are held, or everything unsent.
    pub fn send_lines(
        &self,
        line_ids: &[LineId],
        sent_at_ms: i64,
    ) -> Result<OrderEvent, SendError> {
        if !matches!(self.state, OrderState::Open | OrderState::Sent) {
            return Err(SendError::NotSendable(self.state.as_str()));
        }
        if line_ids.is_empty() {
            return Err(SendError::NothingToSend);
        }
        for (index, line_id) in line_ids.iter().enumerate() {
            let unsent = self
                .lines
                .iter()
                .any(|line| line.id == *line_id && line.is_live() && !line.sent);
            if !unsent || line_ids[..index].contains(line_id) {
                return Err(SendError::NotUnsent);
            }
        }
        Ok(OrderEvent::LinesSent {
            order_id: self.id,
            line_ids: line_ids.to_vec(),
            sent_at_ms,
        })
    }

    /// Decides voiding one line, before or after it was sent.
    pub fn void_line(
        &self,
        line_id: LineId,
        reason: &str,
        voided_at_ms: i64,
    ) -> Result<OrderEvent, LineVoidError> {
        if !self.state.accepts_lines() {
            return Err(LineVoidError::NotOpen(self.state.as_str()));
        }
        let line = self
            .lines
            .iter()
            .find(|line| line.id == line_id)
            .ok_or(LineVoidError::UnknownLine)?;
        if line.voided.is_some() {
            return Err(LineVoidError::AlreadyVoided);
        }
        if !check_reason(reason) {
            return Err(LineVoidError::BadReason);
        }
        Ok(OrderEvent::LineVoided {
            order_id: self.id,
            line_id,
            reason: reason.trim().to_owned(),
            after_send: line.sent,
            voided_at_ms,
        })
    }

    /// Decides a cashier's discount on a line or on the whole order.
    pub fn discount(
        &self,
        discount_id: DiscountId,
        target: DiscountTarget,
        kind: DiscountKind,
        reason: &str,
        applied_at_ms: i64,
    ) -> Result<OrderEvent, DiscountError> {
        let discount = OrderDiscount {
            id: discount_id,
            target,
            kind,
            reason: reason.trim().to_owned(),
            applied_at_ms,
        };
        self.check_discount(&discount)?;
        Ok(OrderEvent::DiscountApplied {
            order_id: self.id,
            discount,
        })
    }

    /// What the cashiers' discounts (not the promotions) take off the bill as it stands.
    pub fn cashier_discount_minor(&self) -> i64 {
        if self.discounts.is_empty() {
            return 0;
        }
        let mut bare = self.clone();
        bare.discounts.clear();
        self.totals().discount_minor - bare.totals().discount_minor
    }

    /// Whether `discount` goes beyond what a cashier may give alone: more than `threshold_bps`
    /// of what it applies to (the line, or the bill), or, with the discounts already on the
    /// bill, cashier discounts above `threshold_bps` of the subtotal (so a big discount cannot
    /// be keyed as several small ones). Above it, the discount is a high-risk action.
    pub fn discount_above_threshold(&self, discount: &OrderDiscount, threshold_bps: u32) -> bool {
        let threshold = i128::from(threshold_bps);
        let whole = i128::from(BPS_WHOLE);
        let live = || self.lines.iter().filter(|line| line.is_live());
        let base_minor = match discount.target {
            DiscountTarget::Line { line_id } => live()
                .find(|line| line.id == line_id)
                .map_or(0, |line| line.price_amount_minor().max(0)),
            DiscountTarget::Order => live().map(|line| line.price_amount_minor().max(0)).sum(),
        };
        let own_too_big = match discount.kind {
            DiscountKind::Percent { percent_bps } => percent_bps > threshold_bps,
            DiscountKind::Amount { amount_minor } => {
                i128::from(amount_minor) * whole > threshold * i128::from(base_minor)
            }
        };
        if own_too_big {
            return true;
        }
        let mut after = self.clone();
        after.discounts.push(discount.clone());
        let subtotal_minor: i64 = live().map(|line| line.price_amount_minor().max(0)).sum();
        i128::from(after.cashier_discount_minor()) * whole > threshold * i128::from(subtotal_minor)
    }

    pub(crate) fn check_discount(&self, discount: &OrderDiscount) -> Result<(), DiscountError> {
        if !self.state.accepts_lines() {
            return Err(DiscountError::NotOpen(self.state.as_str()));
        }
        if !check_reason(&discount.reason) {
            return Err(DiscountError::BadReason);
        }
        let amount_ok = match discount.kind {
            DiscountKind::Percent { percent_bps } => (1..=BPS_WHOLE).contains(&percent_bps),
            DiscountKind::Amount { amount_minor } => {
                (1..=UNIT_PRICE_MINOR_MAX).contains(&amount_minor)
            }
        };
        if !amount_ok {
            return Err(DiscountError::BadAmount);
        }
        if let DiscountTarget::Line { line_id } = discount.target
            && !self
                .lines
                .iter()
                .any(|line| line.id == line_id && line.is_live())
        {
            return Err(DiscountError::UnknownLine);
        }
        if self.discounts.len() >= ORDER_DISCOUNTS_MAX {
            return Err(DiscountError::TooMany);
        }
        if self
            .discounts
            .iter()
            .any(|existing| existing.id == discount.id)
        {
            return Err(DiscountError::DuplicateDiscount);
        }
        Ok(())
    }

    /// Decides the promotions for the order as it stands: a fresh evaluation that replaces
    /// the previous one. The edge calls this after each basket change, before payment.
    pub fn apply_promotions(
        &self,
        rules: &PricingRules,
        context: &PromotionContext,
        applied_at_ms: i64,
    ) -> Result<OrderEvent, PromotionsError> {
        if !self.state.accepts_lines() {
            return Err(PromotionsError::NotOpen(self.state.as_str()));
        }
        let lines: Vec<PromoLine> = self
            .lines
            .iter()
            .filter(|line| line.is_live())
            .map(|line| PromoLine {
                line_id: line.id,
                item_id: &line.item_id,
                category: &line.category,
                units: line.quantity,
                amount_minor: if line.exclude_from_promotions {
                    0
                } else {
                    line.price_amount_minor()
                },
            })
            .collect();
        let outcome = apply_promotions(&rules.promotions, &lines, context);
        let event = OrderEvent::PromotionsApplied {
            order_id: self.id,
            promotions: outcome.applied,
            applied_at_ms,
        };
        if let OrderEvent::PromotionsApplied { promotions, .. } = &event {
            self.check_promotions(promotions)?;
        }
        Ok(event)
    }

    pub(crate) fn check_promotions(
        &self,
        promotions: &[AppliedPromotion],
    ) -> Result<(), PromotionsError> {
        if !self.state.accepts_lines() {
            return Err(PromotionsError::NotOpen(self.state.as_str()));
        }
        for promotion in promotions {
            let mut sum = 0_i64;
            for allocation in &promotion.allocations {
                if allocation.amount_minor < 0 {
                    return Err(PromotionsError::Inconsistent);
                }
                if !self
                    .lines
                    .iter()
                    .any(|line| line.id == allocation.line_id && line.is_live())
                {
                    return Err(PromotionsError::UnknownLine);
                }
                sum = sum.saturating_add(allocation.amount_minor);
            }
            if sum != promotion.amount_minor {
                return Err(PromotionsError::Inconsistent);
            }
        }
        Ok(())
    }

    /// Decides setting (or with `None` removing) the service charge.
    pub fn set_service_charge(
        &self,
        charge: Option<ServiceCharge>,
        set_at_ms: i64,
    ) -> Result<OrderEvent, ServiceChargeError> {
        self.check_service_charge(charge.as_ref())?;
        Ok(OrderEvent::ServiceChargeSet {
            order_id: self.id,
            charge,
            set_at_ms,
        })
    }

    pub(crate) fn check_service_charge(
        &self,
        charge: Option<&ServiceCharge>,
    ) -> Result<(), ServiceChargeError> {
        if !self.state.accepts_lines() {
            return Err(ServiceChargeError::NotOpen(self.state.as_str()));
        }
        if let Some(charge) = charge {
            if !check_reason(&charge.name) {
                return Err(ServiceChargeError::BadName);
            }
            let ok = match charge.kind {
                ServiceChargeKind::Percent { percent_bps } => percent_bps <= BPS_WHOLE,
                ServiceChargeKind::Fixed { amount_minor } => {
                    (0..=UNIT_PRICE_MINOR_MAX).contains(&amount_minor)
                }
            };
            if !ok {
                return Err(ServiceChargeError::BadAmount);
            }
        }
        Ok(())
    }

    /// Decides a tip. With `payment_id` it is a tip adjustment on that card payment, allowed
    /// once the order is paid; without, it is added to what is due before payment completes.
    pub fn add_tip(
        &self,
        tip_id: TipId,
        amount_minor: i64,
        payment_id: Option<PaymentId>,
        added_at_ms: i64,
    ) -> Result<OrderEvent, TipError> {
        let tip = Tip {
            id: tip_id,
            amount_minor,
            payment_id,
            added_at_ms,
        };
        self.check_tip(&tip)?;
        Ok(OrderEvent::TipAdded {
            order_id: self.id,
            tip,
        })
    }

    pub(crate) fn check_tip(&self, tip: &Tip) -> Result<(), TipError> {
        let state_ok = match tip.payment_id {
            None => self.state.accepts_payments(),
            Some(_) => matches!(self.state, OrderState::PartiallyPaid | OrderState::Paid),
        };
        if !state_ok {
            return Err(TipError::NotTippable(self.state.as_str()));
        }
        if !(1..=TIP_MINOR_MAX).contains(&tip.amount_minor) {
            return Err(TipError::BadAmount);
        }
        if let Some(payment_id) = tip.payment_id
            && !self
                .payments
                .iter()
                .any(|payment| payment.id == payment_id && payment.tender == super::Tender::Card)
        {
            return Err(TipError::UnknownPayment);
        }
        if self.tips.len() >= ORDER_TIPS_MAX {
            return Err(TipError::TooMany);
        }
        if self.tips.iter().any(|existing| existing.id == tip.id) {
            return Err(TipError::DuplicateTip);
        }
        Ok(())
    }

    /// Decides the tax rounding for this order (a tenant setting), before any payment.
    pub fn set_tax_policy(&self, policy: TaxPolicy) -> Result<OrderEvent, TaxPolicyError> {
        if !self.state.accepts_lines() {
            return Err(TaxPolicyError::NotOpen(self.state.as_str()));
        }
        if !self.payments.is_empty() {
            return Err(TaxPolicyError::HasPayments);
        }
        Ok(OrderEvent::TaxPolicySet {
            order_id: self.id,
            policy,
        })
    }

    /// Decides the cash rounding line before a cash payment: the balance due moves to what
    /// the drawer can collect under `rule`. `Ok(None)` when it is already collectable. The
    /// edge calls this before taking cash, so card and M-Pesa payments are never rounded.
    ///
    /// ```
    /// # use shared_model::*; use shared_model::tax::RoundingMode; use uuid::Uuid;
    /// use shared_model::cash_rounding::{CashRounding, CashRoundingMode};
    /// let mut order = Order::from_opened(&OrderEvent::Opened { order_id: OrderId(Uuid::from_u128(1)), number: 1,
    ///     order_type: OrderType::TakeOut, currency: Currency::kes(), opened_at_ms: 0 }).expect("opened");
    /// let bread = CatalogItem::simple("bread", "Bread", "bakery", 6_530, TaxMode::Inclusive, vec![]);
    /// let line = order.add_line(LineId(Uuid::from_u128(2)), &bread, 1, RoundingMode::HalfUp).expect("line");
    /// order.apply(&line).expect("apply");
    /// let whole_shillings = CashRounding::new(100, CashRoundingMode::Nearest).expect("valid");
    /// let rounding = order.round_for_cash(&whole_shillings, 1).expect("allowed").expect("65.30 is not collectable");
    /// order.apply(&rounding).expect("apply");
    /// assert_eq!((order.totals().cash_rounding_minor, order.totals().balance_due_minor), (-30, 6_500));
    /// ```
    pub fn round_for_cash(
        &self,
        rule: &CashRounding,
        applied_at_ms: i64,
    ) -> Result<Option<OrderEvent>, CashRoundingError> {
        if !self.state.accepts_payments() {
            return Err(CashRoundingError::NotPayable(self.state.as_str()));
        }
        let rounded = rule.round(self.totals().balance_due_minor);
        if rounded.adjustment_minor == 0 {
            return Ok(None);
        }
        self.check_cash_rounding(rounded.adjustment_minor)?;
        Ok(Some(OrderEvent::CashRoundingApplied {
            order_id: self.id,
            adjustment_minor: rounded.adjustment_minor,
            applied_at_ms,
        }))
    }

    pub(crate) fn check_cash_rounding(
        &self,
        adjustment_minor: i64,
    ) -> Result<(), CashRoundingError> {
        if !self.state.accepts_payments() {
            return Err(CashRoundingError::NotPayable(self.state.as_str()));
        }
        let balance_due_minor = self.totals().balance_due_minor;
        if adjustment_minor.abs() > CASH_ROUNDING_INCREMENT_MAX_MINOR
            || balance_due_minor + adjustment_minor < 0
        {
            return Err(CashRoundingError::OutOfRange);
        }
        Ok(())
    }

    /// The line void record of `line_id`, if it was voided.
    pub fn line_void(&self, line_id: LineId) -> Option<&LineVoid> {
        self.lines
            .iter()
            .find(|line| line.id == line_id)
            .and_then(|line| line.voided.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        ApplyError, CloseError, MergeError, PaymentError, RefundError, RefundRequest, Tender,
        VoidError,
    };
    use super::*;
    use crate::ids::{OrderId, RefundId};
    use crate::money::Currency;
    use crate::order::OrderType;
    use crate::promotions::{Promotion, PromotionRule, PromotionTarget};
    use crate::tax::{RoundingMode, TaxMode, TaxRate};
    use uuid::Uuid;

    fn uuid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn open(n: u128) -> Order {
        Order::from_opened(&OrderEvent::Opened {
            order_id: OrderId(uuid(n)),
            number: 1,
            order_type: OrderType::DineIn,
            currency: Currency::kes(),
            opened_at_ms: 0,
        })
        .expect("opened")
    }

    fn chips() -> CatalogItem {
        CatalogItem::simple(
            "chips",
            "Chips",
            "food",
            11_600,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600)],
        )
    }

    fn apply(order: &mut Order, event: OrderEvent) {
        order.apply(&event).expect("a decided event applies");
    }

    fn with_line(n: u128) -> Order {
        let mut order = open(n);
        let line = order
            .add_line(LineId(uuid(10)), &chips(), 1, RoundingMode::HalfUp)
            .expect("line");
        apply(&mut order, line);
        order
    }

    fn paid(n: u128) -> Order {
        let mut order = with_line(n);
        let pay = order
            .take_payment(PaymentId(uuid(20)), Tender::Card, 11_600, 1)
            .expect("pay");
        apply(&mut order, pay);
        order
    }

    /// Each reachable state with the commands it must accept (`true`) or refuse.
    #[test]
    fn the_state_machine_allows_exactly_the_documented_transitions() {
        let mut sent = with_line(1);
        let event = sent.send(1).expect("send");
        apply(&mut sent, event);
        let mut partially_paid = with_line(2);
        let event = partially_paid
            .take_payment(PaymentId(uuid(20)), Tender::Cash, 1_000, 1)
            .expect("pay");
        apply(&mut partially_paid, event);
        let mut closed = paid(3);
        let event = closed.close(2).expect("close");
        apply(&mut closed, event);
        let mut voided = with_line(4);
        let event = voided.void("walked out", 1).expect("void");
        apply(&mut voided, event);
        let mut refunded = paid(5);
        let event = refunded
            .refund(
                RefundId(uuid(30)),
                RefundRequest::Whole,
                Tender::Card,
                "wrong order",
                2,
            )
            .expect("refund");
        apply(&mut refunded, event);

        // (order, state, add line, send, pay, close, void, refund, discount)
        let table = [
            (
                with_line(6),
                "open",
                true,
                true,
                true,
                false,
                true,
                false,
                true,
            ),
            (sent, "sent", true, false, true, false, true, false, true),
            (
                partially_paid,
                "partially_paid",
                false,
                false,
                true,
                false,
                false,
                false,
                false,
            ),
            (
                paid(7),
                "paid",
                false,
                false,
                false,
                true,
                false,
                true,
                false,
            ),
            (
                closed, "closed", false, false, false, false, false, true, false,
            ),
            (
                voided, "voided", false, false, false, false, false, false, false,
            ),
            (
                refunded, "refunded", false, false, false, false, false, false, false,
            ),
        ];
        for (order, state, add, send, pay, close, void, refund, discount) in table {
            assert_eq!(order.state.as_str(), state);
            let ok = |allowed: bool, result: bool, what: &str| {
                assert_eq!(result, allowed, "{what} in {state}");
            };
            ok(
                add,
                order
                    .add_line(LineId(uuid(99)), &chips(), 1, RoundingMode::HalfUp)
                    .is_ok(),
                "add line",
            );
            // "sent" with nothing new to send refuses with NothingToSend.
            ok(send, order.send(9).is_ok(), "send");
            ok(
                pay,
                order
                    .take_payment(PaymentId(uuid(98)), Tender::Cash, 100, 9)
                    .is_ok(),
                "pay",
            );
            ok(close, order.close(9).is_ok(), "close");
            ok(void, order.void("reason", 9).is_ok(), "void");
            ok(
                refund,
                order
                    .refund(
                        RefundId(uuid(97)),
                        RefundRequest::Amount(100),
                        // The paid orders of this table were paid by card.
                        Tender::Card,
                        "r",
                        9,
                    )
                    .is_ok(),
                "refund",
            );
            ok(
                discount,
                order
                    .discount(
                        DiscountId(uuid(96)),
                        DiscountTarget::Order,
                        DiscountKind::Amount { amount_minor: 100 },
                        "r",
                        9,
                    )
                    .is_ok(),
                "discount",
            );
        }
    }

    #[test]
    fn a_sent_order_sends_only_new_lines_and_a_partially_paid_one_cannot_be_voided() {
        let mut order = with_line(1);
        let event = order.send(1).expect("send");
        apply(&mut order, event);
        assert_eq!(order.send(2), Err(SendError::NothingToSend));
        let extra = order
            .add_line(LineId(uuid(11)), &chips(), 1, RoundingMode::HalfUp)
            .expect("line");
        apply(&mut order, extra);
        assert!(order.send(2).is_ok());
        let pay = order
            .take_payment(PaymentId(uuid(20)), Tender::Cash, 100, 3)
            .expect("pay");
        apply(&mut order, pay);
        assert_eq!(
            order.void("x", 4),
            Err(VoidError::NotVoidable("partially_paid"))
        );
        assert_eq!(order.close(4), Err(CloseError::NotPaid("partially_paid")));
    }

    #[test]
    fn a_line_voided_before_sending_drops_out_and_one_voided_after_is_kept_as_waste() {
        let mut order = with_line(1);
        let before = order
            .void_line(LineId(uuid(10)), "keyed twice", 1)
            .expect("void");
        assert!(matches!(
            before,
            OrderEvent::LineVoided {
                after_send: false,
                ..
            }
        ));
        apply(&mut order, before);
        assert_eq!(order.totals().total_minor, 0);
        assert_eq!(
            order.void_line(LineId(uuid(10)), "again", 2),
            Err(LineVoidError::AlreadyVoided)
        );

        let mut order = with_line(2);
        let sent = order.send(1).expect("send");
        apply(&mut order, sent);
        let after = order
            .void_line(LineId(uuid(10)), "dropped on the floor", 2)
            .expect("void");
        assert!(matches!(
            after,
            OrderEvent::LineVoided {
                after_send: true,
                ..
            }
        ));
        apply(&mut order, after);
        assert!(
            order
                .line_void(LineId(uuid(10)))
                .is_some_and(|v| v.after_send)
        );
        assert_eq!(
            order.lines.len(),
            1,
            "the line stays on the order for the waste report"
        );
        assert_eq!(order.totals().total_minor, 0);
        assert_eq!(
            order.void_line(LineId(uuid(10)), "  ", 3),
            Err(LineVoidError::AlreadyVoided)
        );
        assert_eq!(
            order.void_line(LineId(uuid(77)), "x", 3),
            Err(LineVoidError::UnknownLine)
        );
    }

    #[test]
    fn a_void_recorded_with_the_wrong_send_flag_is_refused_on_apply() {
        let mut order = with_line(1);
        let forged = OrderEvent::LineVoided {
            order_id: order.id,
            line_id: LineId(uuid(10)),
            reason: "x".into(),
            after_send: true,
            voided_at_ms: 1,
        };
        assert_eq!(
            order.apply(&forged),
            Err(ApplyError::LineVoid(LineVoidError::Contradicts))
        );
    }

    #[test]
    fn discounts_reduce_the_taxed_amount_and_are_recorded_with_their_reason() {
        let mut order = with_line(1);
        let line_off = order
            .discount(
                DiscountId(uuid(1)),
                DiscountTarget::Line {
                    line_id: LineId(uuid(10)),
                },
                DiscountKind::Amount {
                    amount_minor: 1_600,
                },
                "burnt",
                1,
            )
            .expect("discount");
        apply(&mut order, line_off);
        // 116.00 − 16.00 = 100.00 inclusive of 16 % VAT: tax 13.79.
        let totals = order.totals();
        assert_eq!(
            (totals.total_minor, totals.tax_minor, totals.discount_minor),
            (10_000, 1_379, 1_600)
        );
        let order_off = order
            .discount(
                DiscountId(uuid(2)),
                DiscountTarget::Order,
                DiscountKind::Percent { percent_bps: 5_000 },
                "staff",
                2,
            )
            .expect("discount");
        apply(&mut order, order_off);
        assert_eq!(order.totals().total_minor, 5_000);
        assert_eq!(order.discounts[1].reason, "staff");
        assert_eq!(
            order.discount(
                DiscountId(uuid(3)),
                DiscountTarget::Order,
                DiscountKind::Percent {
                    percent_bps: 10_001
                },
                "x",
                3
            ),
            Err(DiscountError::BadAmount)
        );
        assert_eq!(
            order.discount(
                DiscountId(uuid(3)),
                DiscountTarget::Order,
                DiscountKind::Amount { amount_minor: 5 },
                "",
                3
            ),
            Err(DiscountError::BadReason)
        );
        assert_eq!(
            order.discount(
                DiscountId(uuid(2)),
                DiscountTarget::Order,
                DiscountKind::Amount { amount_minor: 5 },
                "x",
                3
            ),
            Err(DiscountError::DuplicateDiscount)
        );
        // A discount bigger than the bill takes the bill to zero, never below.
        let huge = order
            .discount(
                DiscountId(uuid(4)),
                DiscountTarget::Order,
                DiscountKind::Amount {
                    amount_minor: 1_000_000,
                },
                "comp",
                4,
            )
            .expect("discount");
        apply(&mut order, huge);
        assert_eq!(order.totals().total_minor, 0);
    }

    #[test]
    fn promotions_are_recorded_with_what_they_took_and_reevaluation_replaces_them() {
        let mut order = open(1);
        for n in 0..3 {
            let line = order
                .add_line(LineId(uuid(10 + n)), &chips(), 1, RoundingMode::HalfUp)
                .expect("line");
            apply(&mut order, line);
        }
        let rules = PricingRules {
            promotions: vec![Promotion::automatic(
                "chips-3for2",
                "Chips 3 for 2",
                PromotionRule::BuyXGetY {
                    target: PromotionTarget::Category {
                        category: "food".into(),
                    },
                    buy_quantity: 2,
                    get_quantity: 1,
                    get_percent_bps: 10_000,
                },
            )],
            ..PricingRules::default()
        };
        let event = order
            .apply_promotions(&rules, &PromotionContext::default(), 1)
            .expect("promotions");
        apply(&mut order, event);
        assert_eq!(order.promotions.len(), 1);
        assert_eq!(order.promotions[0].amount_minor, 11_600);
        assert_eq!(order.totals().total_minor, 23_200);
        let void = order
            .void_line(LineId(uuid(12)), "changed mind", 2)
            .expect("void");
        apply(&mut order, void);
        assert!(
            order.promotions.is_empty(),
            "a void drops promotions until they are re-evaluated"
        );
        let event = order
            .apply_promotions(&rules, &PromotionContext::default(), 3)
            .expect("promotions");
        apply(&mut order, event);
        assert!(
            order.promotions.is_empty(),
            "two chips no longer make a 3-for-2"
        );
        assert_eq!(order.totals().total_minor, 23_200);
    }

    #[test]
    fn a_pre_payment_tip_is_due_and_a_post_payment_tip_is_captured_on_the_card() {
        let mut order = with_line(1);
        let tip = order.add_tip(TipId(uuid(1)), 1_000, None, 1).expect("tip");
        apply(&mut order, tip);
        assert_eq!(order.totals().balance_due_minor, 12_600);
        let pay = order
            .take_payment(PaymentId(uuid(20)), Tender::Card, 12_600, 2)
            .expect("pay");
        apply(&mut order, pay);
        assert_eq!(order.state, OrderState::Paid);
        let adjust = order
            .add_tip(TipId(uuid(2)), 500, Some(PaymentId(uuid(20))), 3)
            .expect("tip");
        apply(&mut order, adjust);
        let totals = order.totals();
        assert_eq!(
            (
                totals.tip_minor,
                totals.total_minor,
                totals.balance_due_minor
            ),
            (1_500, 13_100, 0)
        );
        assert_eq!(order.state, OrderState::Paid);
        assert_eq!(
            order.add_tip(TipId(uuid(3)), 500, Some(PaymentId(uuid(99))), 4),
            Err(TipError::UnknownPayment)
        );
        assert_eq!(
            order.add_tip(TipId(uuid(3)), 0, None, 4),
            Err(TipError::NotTippable("paid"))
        );
        assert_eq!(
            order.add_tip(TipId(uuid(2)), 5, Some(PaymentId(uuid(20))), 4),
            Err(TipError::DuplicateTip)
        );
    }

    #[test]
    fn refunds_are_new_facts_never_exceed_what_was_paid_and_a_whole_refund_ends_the_order() {
        let mut order = open(1);
        for n in 0..2 {
            let line = order
                .add_line(LineId(uuid(10 + n)), &chips(), 1, RoundingMode::HalfUp)
                .expect("line");
            apply(&mut order, line);
        }
        let pay = order
            .take_payment(PaymentId(uuid(20)), Tender::Mpesa, 23_200, 1)
            .expect("pay");
        apply(&mut order, pay);
        let close = order.close(2).expect("close");
        apply(&mut order, close);
        let partial = order
            .refund(
                RefundId(uuid(1)),
                RefundRequest::Lines(vec![LineId(uuid(10))]),
                Tender::Mpesa,
                "cold",
                3,
            )
            .expect("refund");
        apply(&mut order, partial);
        assert_eq!(order.state, OrderState::Closed);
        assert_eq!(order.refundable_minor(), 11_600);
        assert_eq!(
            order.refund(
                RefundId(uuid(2)),
                RefundRequest::Lines(vec![LineId(uuid(10))]),
                Tender::Mpesa,
                "again",
                4
            ),
            Err(RefundError::LineAlreadyRefunded)
        );
        assert_eq!(
            order.refund(
                RefundId(uuid(2)),
                RefundRequest::Amount(11_601),
                Tender::Mpesa,
                "too much",
                4
            ),
            Err(RefundError::BadAmount {
                refundable_minor: 11_600
            })
        );
        let rest = order
            .refund(
                RefundId(uuid(2)),
                RefundRequest::Whole,
                Tender::Mpesa,
                "closing down",
                5,
            )
            .expect("refund");
        apply(&mut order, rest);
        assert_eq!(order.state, OrderState::Refunded);
        assert_eq!(order.totals().refunded_minor, 23_200);
        assert!(matches!(
            order.take_payment(PaymentId(uuid(21)), Tender::Cash, 1, 6),
            Err(PaymentError::NotPayable("refunded"))
        ));
    }

    #[test]
    fn merging_two_tables_moves_every_live_line_and_keeps_every_cent() {
        let mut table_1 = with_line(1);
        let mut table_2 = open(2);
        let line = table_2
            .add_line(LineId(uuid(50)), &chips(), 3, RoundingMode::HalfUp)
            .expect("line");
        apply(&mut table_2, line);
        let voided_line = table_2
            .add_line(LineId(uuid(51)), &chips(), 1, RoundingMode::HalfUp)
            .expect("line");
        apply(&mut table_2, voided_line);
        let void = table_2
            .void_line(LineId(uuid(51)), "wrong table", 1)
            .expect("void");
        apply(&mut table_2, void);
        let before = table_1.totals().total_minor + table_2.totals().total_minor;
        let (into, away) = table_1.merge_from(&table_2, 2).expect("merge");
        apply(&mut table_1, into);
        apply(&mut table_2, away);
        assert_eq!(table_1.totals().total_minor, before);
        assert_eq!(table_1.lines.len(), 2);
        assert_eq!(table_2.state, OrderState::Merged);
        assert_eq!(table_2.merged_into, Some(table_1.id));
        assert_eq!(
            table_1.merge_from(&table_1.clone(), 3),
            Err(MergeError::SameOrder)
        );
        let paid_order = paid(3);
        assert_eq!(
            table_1.merge_from(&paid_order, 3),
            Err(MergeError::NotMergeable("paid"))
        );
    }

    #[test]
    fn a_cash_payment_after_rounding_to_five_shillings_settles_the_bill_with_a_rounding_line() {
        use crate::cash_rounding::{CashRounding, CashRoundingMode};
        let mut order = open(1);
        let meal = CatalogItem::simple(
            "meal",
            "Meal",
            "food",
            98_230,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600)],
        );
        let line = order
            .add_line(LineId(uuid(10)), &meal, 1, RoundingMode::HalfUp)
            .expect("line");
        apply(&mut order, line);
        let fives = CashRounding::new(500, CashRoundingMode::Nearest).expect("rule");
        let rounding = order
            .round_for_cash(&fives, 1)
            .expect("allowed")
            .expect("not collectable");
        apply(&mut order, rounding);
        assert_eq!(
            order.round_for_cash(&fives, 2),
            Ok(None),
            "already collectable"
        );
        let pay = order
            .take_payment(PaymentId(uuid(20)), Tender::Cash, 100_000, 3)
            .expect("pay");
        apply(&mut order, pay);
        let totals = order.totals();
        assert_eq!(order.state, OrderState::Paid);
        assert_eq!(
            (
                totals.cash_rounding_minor,
                totals.total_minor,
                totals.change_minor
            ),
            (-230, 98_000, 2_000)
        );
        assert_eq!(
            totals.net_minor + totals.tax_minor + totals.cash_rounding_minor,
            totals.total_minor
        );
        assert_eq!(
            order.round_for_cash(&fives, 4),
            Err(CashRoundingError::NotPayable("paid"))
        );
    }

    #[test]
    fn an_order_stored_before_issue_3_still_loads_and_totals_the_same() {
        let stored = r#"{"id":"00000000-0000-0000-0000-000000000001","number":1,"order_type":"take_out",
            "currency":"KES","state":"paid","lines":[{"id":"00000000-0000-0000-0000-00000000000a",
            "item_id":"sku-coffee","name":"Coffee","quantity":2,"unit_price_minor":25000,
            "tax_mode":"inclusive","tax_rates":[{"code":"VAT16","rate_bps":1600}],"net_minor":43103,
            "tax_minor":6897,"gross_minor":50000,"taxes":[{"code":"VAT16","rate_bps":1600,
            "taxable_minor":43103,"tax_minor":6897}]}],"payments":[{"id":"00000000-0000-0000-0000-000000000014",
            "tender":"cash","tendered_minor":100000,"amount_minor":50000,"change_minor":50000,
            "taken_at_ms":5}],"opened_at_ms":0,"closed_at_ms":null,"void_reason":null}"#;
        let order: Order = serde_json::from_str(stored).expect("old document loads");
        let totals = order.totals();
        assert_eq!(
            (
                totals.net_minor,
                totals.tax_minor,
                totals.total_minor,
                totals.paid_minor,
                totals.balance_due_minor
            ),
            (43_103, 6_897, 50_000, 50_000, 0)
        );
        assert!(order.close(6).is_ok());
    }

    fn cashier_discount(
        order: &Order,
        n: u128,
        target: DiscountTarget,
        kind: DiscountKind,
    ) -> OrderDiscount {
        let discount = OrderDiscount {
            id: DiscountId(uuid(n)),
            target,
            kind,
            reason: "regular".into(),
            applied_at_ms: 3,
        };
        order.check_discount(&discount).expect("a valid discount");
        discount
    }

    #[test]
    fn a_discount_above_the_threshold_of_its_line_or_of_the_bill_needs_clearance() {
        let order = with_line(1); // one line of 116.00
        let line = DiscountTarget::Line {
            line_id: LineId(uuid(10)),
        };
        let ten = cashier_discount(
            &order,
            30,
            line,
            DiscountKind::Percent { percent_bps: 1_000 },
        );
        assert!(!order.discount_above_threshold(&ten, 1_000));
        let eleven = cashier_discount(
            &order,
            31,
            line,
            DiscountKind::Percent { percent_bps: 1_100 },
        );
        assert!(order.discount_above_threshold(&eleven, 1_000));
        // 11.60 is exactly 10% of 116.00; a cent more is above it.
        let at = cashier_discount(
            &order,
            32,
            DiscountTarget::Order,
            DiscountKind::Amount {
                amount_minor: 1_160,
            },
        );
        assert!(!order.discount_above_threshold(&at, 1_000));
        let over = cashier_discount(
            &order,
            33,
            DiscountTarget::Order,
            DiscountKind::Amount {
                amount_minor: 1_161,
            },
        );
        assert!(order.discount_above_threshold(&over, 1_000));
        // Two 6% discounts: the first is within 10%, the second takes the bill past it.
        let mut order = order;
        let six = cashier_discount(
            &order,
            34,
            DiscountTarget::Order,
            DiscountKind::Percent { percent_bps: 600 },
        );
        assert!(!order.discount_above_threshold(&six, 1_000));
        let event = order
            .discount(six.id, six.target, six.kind, &six.reason, 3)
            .expect("discount");
        apply(&mut order, event);
        let again = cashier_discount(&order, 35, line, DiscountKind::Percent { percent_bps: 600 });
        assert!(order.discount_above_threshold(&again, 1_000));
        assert_eq!(order.cashier_discount_minor(), 696);
    }

    #[test]
    fn a_price_override_replaces_the_price_book_price() {
        let order = open(1);
        let mut request = LineRequest::new(Quantity::Each(2));
        request.unit_price_override_minor = Some(9_000);
        let event = order
            .add_line_with(
                LineId(uuid(10)),
                &chips(),
                &request,
                &PricingRules::default(),
                &PriceContext::default(),
            )
            .expect("line");
        let OrderEvent::LineAdded { line, .. } = event else {
            panic!("a line event")
        };
        assert_eq!((line.unit_price_minor, line.gross_minor), (9_000, 18_000));
        request.unit_price_override_minor = Some(-1);
        assert_eq!(
            order.add_line_with(
                LineId(uuid(11)),
                &chips(),
                &request,
                &PricingRules::default(),
                &PriceContext::default()
            ),
            Err(LineRequestError::BadPrice)
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// However a cashier keys discounts, those let through without a supervisor never take
        /// more than the threshold off the bill (line voids aside, which shrink the base).
        #[test]
        fn discounts_let_through_never_exceed_the_threshold(
            prices in proptest::collection::vec(1_i64..=500_000, 1..6),
            asks in proptest::collection::vec((any::<bool>(), 0_usize..6, any::<bool>(), 1_u32..=3_000, 1_i64..=100_000), 1..12),
            threshold_bps in 0_u32..=5_000,
        ) {
            let mut order = open(1);
            for (n, price) in prices.iter().enumerate() {
                let item = CatalogItem::simple("x", "X", "food", *price, TaxMode::Inclusive, vec![TaxRate::new("VAT16", 1600)]);
                let event = order.add_line(LineId(uuid(100 + n as u128)), &item, 1, RoundingMode::HalfUp).expect("line");
                apply(&mut order, event);
            }
            for (n, (on_line, index, percent, bps, amount)) in asks.into_iter().enumerate() {
                let target = if on_line {
                    DiscountTarget::Line { line_id: LineId(uuid(100 + (index % prices.len()) as u128)) }
                } else {
                    DiscountTarget::Order
                };
                let kind = if percent { DiscountKind::Percent { percent_bps: bps } } else { DiscountKind::Amount { amount_minor: amount } };
                let discount = OrderDiscount { id: DiscountId(uuid(1_000 + n as u128)), target, kind, reason: "r".into(), applied_at_ms: 1 };
                if order.check_discount(&discount).is_err() || order.discount_above_threshold(&discount, threshold_bps) {
                    continue;
                }
                let event = order.discount(discount.id, target, kind, "r", 1).expect("checked");
                apply(&mut order, event);
            }
            let subtotal = order.totals().subtotal_minor;
            prop_assert!(i128::from(order.cashier_discount_minor()) * 10_000 <= i128::from(threshold_bps) * i128::from(subtotal));
        }
    }
}
