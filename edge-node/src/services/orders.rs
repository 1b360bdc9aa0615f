//! Order use cases: open, add a line, take a payment, close, void.
//!
//! Each one decides with `shared-model`'s rules and commits the new state and its op in one
//! SQLite transaction before returning, so an answer to a terminal is always durable.

use super::staff::{AccessError, Caller, Clearance, OverrideRequest, clear_high_risk};
use crate::store::AuditEntry;
use crate::store::{NewOrderNumber, OrderFilter, Store, StoreError};
use shared_model::order::adjustments::DISCOUNT_THRESHOLD_BPS_DEFAULT;
use shared_model::order::{
    AddLineError, CloseError, DiscountError, DiscountTarget, LineVoidError, MergeError,
    OrderDiscount, PaymentError, RefundError, RefundRequest, VoidError,
};
use shared_model::order::{LineRequest, LineRequestError};
use shared_model::outlet::{OutletConfig, fixed_offset_minutes};
use shared_model::pricebook::PriceContext;
use shared_model::pricing::DiscountKind;
use shared_model::promotions::PromotionContext;
use shared_model::split::{BillShare, SplitError};
use shared_model::staff::{Action, AuditReason, AuthorizeError};
use shared_model::{
    Currency, ItemId, LineId, Order, OrderEvent, OrderId, OrderType, PaymentId, PricingRules,
    Quantity, Tender,
};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Most orders one recall returns. Why 200: a terminal's open-orders screen shows a busy
/// evening's worth; older orders are found by number.
pub const ORDERS_LIST_MAX: usize = 200;

/// Why an order command was refused. Each maps to one structured API error.
#[derive(Debug, Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    #[error("item {0} is not in the catalog")]
    UnknownItem(String),
    #[error(transparent)]
    AddLine(#[from] AddLineError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Close(#[from] CloseError),
    #[error(transparent)]
    Void(#[from] VoidError),
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error(transparent)]
    Tip(#[from] shared_model::order::TipError),
    #[error(
        "the drawer holds {available_minor} in cash; a cash refund of {requested_minor} cannot come out of it"
    )]
    DrawerShort {
        available_minor: i64,
        requested_minor: i64,
    },
    #[error("not a valid product code: {0}")]
    BadBarcode(String),
    #[error("no catalog item has the code {0}")]
    UnknownBarcode(String),
    #[error("{0} is age-restricted: confirm the customer's age (age_verified) to sell it")]
    AgeVerificationRequired(String),
    #[error(transparent)]
    Line(#[from] LineRequestError),
    #[error("this outlet does not take that tender (see its configuration at the hub)")]
    TenderNotAccepted,
    #[error(transparent)]
    CashRounding(#[from] shared_model::order::CashRoundingError),
    #[error(transparent)]
    TaxPolicy(#[from] shared_model::order::TaxPolicyError),
    #[error(
        "{} is taken through its own route, against what the hub allows (gift-card-payments, loyalty-payments, voucher-payments)",
        .0.as_str()
    )]
    TenderNeedsItsRoute(Tender),
    #[error("this line would take the tab over its limit of {limit_minor}")]
    TabLimit { limit_minor: i64 },
    #[error(transparent)]
    Discount(#[from] DiscountError),
    #[error(transparent)]
    LineVoid(#[from] LineVoidError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error("order {0} not found")]
    MergeSourceNotFound(OrderId),
    #[error("a price override needs a reason of 1 to 200 characters")]
    OverrideReason,
    #[error("discount_threshold_bps must be between 0 and 10000")]
    BadThreshold,
    #[error("a scale label's code does not fit {0}, which is not sold by that measure")]
    LabelNotForItem(String),
    #[error(
        "a scale label scheme needs a prefix from 20 to 29, 4 to 6 item digits, and one scheme per prefix"
    )]
    BadLabelScheme,
    #[error("no combo {0:?} is sold here")]
    UnknownCombo(String),
    #[error(transparent)]
    Combo(#[from] shared_model::modifiers::ComboError),
    #[error("server_id is not an active staff member who takes orders")]
    NotAServer,
    #[error("no promotion here has the code {0:?}")]
    UnknownCode(String),
    #[error("order is {0}; codes are entered before payment")]
    CodeTooLate(&'static str),
    #[error(transparent)]
    CodeNotEligible(shared_model::promotions::Ineligible),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A unit price the cashier keys over the price book's, and why. A high-risk action.
#[derive(Debug, Clone)]
pub struct PriceOverrideInput {
    pub unit_price_minor: i64,
    pub reason: String,
}

/// How a bill is to be split (see `shared_model::split`).
#[derive(Debug, Clone)]
pub enum SplitAsk {
    BySeat,
    Evenly(usize),
    ByItems(Vec<Vec<LineId>>),
    ByAmounts(Vec<i64>),
}

/// The settings key of the outlet's scale-label layouts.
const SCALE_LABELS_SETTING: &str = "scale_label_schemes";

/// How this outlet's scales print labels (which 2x prefixes carry a weight or a price); none
/// until a manager sets them, so every code is then an ordinary product code.
pub fn scale_label_schemes(
    store: &Store,
) -> Result<Vec<shared_model::barcode::EmbeddedScheme>, StoreError> {
    match store.setting(SCALE_LABELS_SETTING)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("scale label schemes: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// The settings key of the outlet's discount threshold.
const DISCOUNT_THRESHOLD_SETTING: &str = "discount_threshold_bps";

/// The share of a bill a cashier may discount alone here (see
/// [`Order::discount_above_threshold`]).
pub fn discount_threshold_bps(store: &Store) -> Result<u32, StoreError> {
    Ok(store
        .setting(DISCOUNT_THRESHOLD_SETTING)?
        .and_then(|text| text.parse().ok())
        .unwrap_or(DISCOUNT_THRESHOLD_BPS_DEFAULT))
}

/// The outcome of a payment, for the terminal's display.
#[derive(Debug, Clone)]
pub struct PaymentOutcome {
    pub order: Order,
    pub payment_id: PaymentId,
    pub change_due_minor: i64,
}

/// How the till names the item of a line.
#[derive(Debug, Clone)]
pub enum ItemRef {
    Id(ItemId),
    /// A scanned product code.
    Barcode(String),
}

/// One line as a terminal asks for it.
#[derive(Debug, Clone)]
pub struct LineInput {
    pub item: ItemRef,
    /// Units, or grams/millilitres for an item sold by weight or volume.
    pub quantity: Quantity,
    pub seat: Option<u16>,
    pub course: Option<u8>,
    pub instructions: Option<String>,
    /// The cashier checked the customer's age (required for age-restricted items).
    pub age_verified: bool,
    /// A keyed price instead of the price book's.
    pub price_override: Option<PriceOverrideInput>,
    /// Choices in the item's modifier groups ("oat milk", "no onions").
    pub modifiers: Vec<shared_model::modifiers::ModifierChoice>,
}

impl LineInput {
    /// `count` units of `item_id`, nothing else.
    pub fn units(item_id: &str, count: i64) -> LineInput {
        LineInput {
            item: ItemRef::Id(ItemId(item_id.to_owned())),
            quantity: Quantity::Each(count),
            seat: None,
            course: None,
            instructions: None,
            age_verified: false,
            price_override: None,
            modifiers: Vec::new(),
        }
    }
}

/// The outlet's price books and its local time now. Before the hub ever sent a configuration,
/// the enrolled outlet's time zone is used (or East Africa Time on a box never enrolled).
fn pricing_setup(store: &Store, now_ms: i64) -> Result<(PricingRules, PriceContext), StoreError> {
    let enrollment = store.enrollment()?;
    let config = match store.outlet_config()? {
        Some(config) => config,
        None => {
            let zone = enrollment
                .as_ref()
                .map_or("Africa/Nairobi", |enrollment| enrollment.timezone.as_str());
            OutletConfig::in_zone(zone, fixed_offset_minutes(zone).unwrap_or(0))
        }
    };
    let context = config.price_context(
        enrollment
            .as_ref()
            .map(|enrollment| enrollment.outlet_code.as_str()),
        now_ms,
    );
    let rules = PricingRules {
        price_books: store.price_books()?,
        promotions: store.promotions()?,
        ..PricingRules::default()
    };
    Ok((rules, context))
}

/// What promotions see of `order_id` at `now_ms`: the outlet-local time, the codes entered
/// (`codes`, or those stored on the order) and how often each usage-limited promotion has been
/// used elsewhere (here and at the other outlets).
fn promotion_context(
    price: &PriceContext,
    tx: &NewOrderNumber,
    order_id: OrderId,
    rules: &PricingRules,
    codes: Option<Vec<String>>,
    now_ms: i64,
) -> Result<PromotionContext, StoreError> {
    let codes = match codes {
        Some(codes) => codes,
        None => tx.order_codes(order_id)?,
    };
    Ok(PromotionContext {
        now_ms,
        minute_of_week: price.minute_of_week,
        codes,
        membership_plans: price.membership_plans.clone(),
        uses_so_far: tx.promotion_uses(order_id, &rules.promotions)?,
    })
}

/// The promotions re-evaluated on `order` after a basket change, if they differ from the ones
/// it carries (nothing once payment has started: the bill is then fixed).
fn repriced(
    order: &Order,
    rules: &PricingRules,
    context: &PromotionContext,
    now_ms: i64,
) -> Option<OrderEvent> {
    if !order.state.accepts_lines() || (rules.promotions.is_empty() && order.promotions.is_empty())
    {
        return None;
    }
    match order.apply_promotions(rules, context, now_ms) {
        Ok(event @ OrderEvent::PromotionsApplied { .. }) => match &event {
            OrderEvent::PromotionsApplied { promotions, .. } if *promotions != order.promotions => {
                Some(event)
            }
            _ => None,
        },
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, order = %order.id, "promotions could not be re-evaluated");
            None
        }
    }
}

/// `order` after `event`, for deciding what follows it in the same transaction.
fn after(order: &Order, event: &OrderEvent) -> Result<Order, StoreError> {
    let mut after = order.clone();
    after
        .apply(event)
        .map_err(|error| StoreError::Corrupt(format!("a decided event does not apply: {error}")))?;
    Ok(after)
}

pub struct OrderService {
    store: Arc<Store>,
    currency: Currency,
}

impl OrderService {
    pub fn new(store: Arc<Store>, currency: Currency) -> OrderService {
        OrderService { store, currency }
    }

    /// The outlet's currency: every order here is in it.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub async fn open(&self, order_type: OrderType, now_ms: i64) -> Result<Order, OrderError> {
        self.open_by(None, order_type, now_ms).await
    }

    /// Opens an order; a signed-in `server` becomes the order's server in the same transaction.
    pub async fn open_by(
        &self,
        server: Option<Uuid>,
        order_type: OrderType,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        let currency = self.currency;
        let order_id = OrderId(Uuid::now_v7());
        super::blocking_with(move || {
            // The outlet's tax rounding (if not the default) is fixed on the order from the start.
            let policy = store
                .outlet_config()?
                .and_then(|config| config.tax_policy)
                .filter(|policy| *policy != shared_model::tax::TaxPolicy::default());
            let committed = store.commit_order_events(order_id, now_ms, |_, numbers| {
                if let Some(server) = server {
                    numbers.assign_server(order_id, server, None)?;
                }
                let opened = OrderEvent::Opened {
                    order_id,
                    number: numbers.take()?,
                    order_type,
                    currency,
                    opened_at_ms: now_ms,
                };
                let mut events = vec![opened];
                if let Some(policy) = policy {
                    let order = Order::from_opened(&events[0]).ok_or_else(|| {
                        OrderError::Store(StoreError::Corrupt("an order did not open".into()))
                    })?;
                    events.push(order.set_tax_policy(policy)?);
                }
                Ok::<_, OrderError>((events, Vec::new()))
            })?;
            Ok::<_, StoreError>(committed.map(|(order, _)| order))
        })
        .await?
    }

    /// Hands an order (a table's bill, a bar tab) to another staff member who takes orders. The
    /// order's own server hands it over; anyone else needs the floor-running permission
    /// (supervisor, manager).
    pub async fn hand_over(
        &self,
        order_id: OrderId,
        to_staff: Uuid,
        caller: Caller,
        now_ms: i64,
    ) -> Result<(), OrderError> {
        let session = caller.require(Action::TakeOrders)?.clone();
        let store = self.store.clone();
        super::blocking_with(move || {
            let member = store
                .staff_member(to_staff)?
                .filter(|member| !member.disabled && member.role.permits(Action::TakeOrders))
                .ok_or(OrderError::NotAServer)?;
            let committed = store.commit_order_events(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                if matches!(
                    order.state,
                    shared_model::OrderState::Closed
                        | shared_model::OrderState::Voided
                        | shared_model::OrderState::Merged
                ) {
                    return Err(OrderError::CodeTooLate(order.state.as_str()));
                }
                if context.server_of(order_id)? != Some(session.staff_id) {
                    caller.require(Action::ManageFloorPlan)?;
                }
                context.assign_server(order_id, member.id, Some(session.staff_id))?;
                Ok((Vec::new(), Vec::new()))
            })?;
            committed.map(|_| ())
        })
        .await
    }

    /// Adds a line priced by the outlet's price books (happy hour, channel, region …) at
    /// `now_ms` outlet-local time. An age-restricted item needs the caller to confirm the
    /// customer's age; the confirmation is audited with the line, in the same transaction.
    ///
    /// A price override is a high-risk action: the caller's role or `approval` must allow it,
    /// and the audit entry (book price, keyed price, reason, who approved) commits with the
    /// line.
    pub async fn add_line(
        &self,
        caller: Caller,
        order_id: OrderId,
        input: LineInput,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        run(move || {
            let clearance = match &input.price_override {
                Some(price) => {
                    if AuditReason::parse(&price.reason).is_err() {
                        return Ok(Err(OrderError::OverrideReason));
                    }
                    match clear(
                        &store,
                        &caller,
                        approval.as_ref(),
                        Action::PriceOverride,
                        now_ms,
                    )? {
                        Ok(clearance) => Some(clearance),
                        Err(error) => return Ok(Err(error)),
                    }
                }
                None => None,
            };
            Ok(decide_line(
                &store,
                &caller,
                order_id,
                &input,
                clearance.as_ref(),
                now_ms,
            ))
        })
        .await
        .map(|(order, _)| order)
    }

    /// Voids one line. A line already sent to the kitchen is "void after send", a high-risk
    /// action: the caller's role or `approval` must allow it, the audit entry commits with the
    /// void, and the kitchen's tickets show the line struck through. Returns the order and the
    /// live-stream sequence to announce, if a ticket changed.
    pub async fn void_line(
        &self,
        order_id: OrderId,
        line_id: LineId,
        reason: String,
        caller: Caller,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<(Order, Option<u64>), OrderError> {
        if AuditReason::parse(&reason).is_err() {
            return Err(OrderError::LineVoid(LineVoidError::BadReason));
        }
        let store = self.store.clone();
        super::blocking_with(move || {
            let mut announced = None;
            // Argon2 is slow: check a PIN only when the line was sent; the decision re-reads
            // the order inside the transaction.
            let sent = store
                .order(order_id)?
                .and_then(|order| order.lines.into_iter().find(|line| line.id == line_id))
                .is_some_and(|line| line.sent)
                || store.order_line_sent_to_kitchen(order_id, line_id)?;
            let clearance = if sent {
                Some(clear(
                    &store,
                    &caller,
                    approval.as_ref(),
                    Action::VoidAfterSend,
                    now_ms,
                )??)
            } else {
                None
            };
            let (rules, price) = pricing_setup(&store, now_ms)?;
            // The stations' printers get a VOID chit for a line they already printed.
            let printers = if sent { store.printers()? } else { Vec::new() };
            let result = store.commit_order_events(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                let event = order.void_line(line_id, &reason, now_ms)?;
                let OrderEvent::LineVoided { after_send, .. } = &event else {
                    return Err(OrderError::Store(StoreError::Corrupt(
                        "a line void decided another event".into(),
                    )));
                };
                let after_send = *after_send;
                // A void drops the promotions evaluated with the line; they are evaluated
                // again on what is left.
                let mut events = vec![event.clone()];
                let without = after(order, &event)?;
                let promotions =
                    promotion_context(&price, context, order_id, &rules, None, now_ms)?;
                events.extend(repriced(&without, &rules, &promotions, now_ms));
                // Lines sent before the order recorded its sends are known by the kitchen's
                // own record.
                if !after_send && !context.line_sent_to_kitchen(order_id, line_id)? {
                    return Ok((events, Vec::new()));
                }
                let audit = cleared_audit(
                    clearance.as_ref(),
                    Action::VoidAfterSend,
                    format!("order:{order_id}/line:{line_id}"),
                    &reason,
                    OrderError::LineVoid(LineVoidError::BadReason),
                    now_ms,
                )?;
                announced = context.void_on_tickets(order_id, line_id, now_ms, |ticket| {
                    super::kitchen::void_chit_jobs(&printers, ticket, line_id.0, &reason)
                })?;
                Ok((events, vec![audit]))
            })?;
            let (order, _) = result?;
            Ok((order, announced))
        })
        .await
    }

    /// Gives a discount on a line or on the bill. Above the outlet's threshold (see
    /// [`discount_threshold_bps`]) it is a high-risk action: the caller's role or `approval`
    /// must allow it and the audit entry commits with the discount.
    #[allow(clippy::too_many_arguments)]
    pub async fn discount(
        &self,
        order_id: OrderId,
        target: DiscountTarget,
        kind: DiscountKind,
        reason: String,
        caller: Caller,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        let discount = OrderDiscount {
            id: shared_model::DiscountId(Uuid::now_v7()),
            target,
            kind,
            reason: reason.trim().to_owned(),
            applied_at_ms: now_ms,
        };
        run(move || {
            let threshold_bps = discount_threshold_bps(&store)?;
            // Decide outside the transaction whether a PIN must be checked (argon2 is slow),
            // and again inside it, so a line added in between cannot change the answer.
            let above = store
                .order(order_id)?
                .is_some_and(|order| order.discount_above_threshold(&discount, threshold_bps));
            let clearance = if above || approval.is_some() {
                match clear(
                    &store,
                    &caller,
                    approval.as_ref(),
                    Action::DiscountAboveThreshold,
                    now_ms,
                ) {
                    Ok(Ok(clearance)) => Some(clearance),
                    // An approval sent with a discount that needs none is not held against it.
                    _ if !above => None,
                    Err(error) => return Err(error),
                    Ok(Err(error)) => return Ok(Err(error)),
                }
            } else {
                None
            };
            store.commit_order_change_audited(order_id, now_ms, |order, _| {
                let order = order.ok_or(OrderError::NotFound)?;
                let event = order.discount(
                    discount.id,
                    discount.target,
                    discount.kind,
                    &discount.reason,
                    now_ms,
                )?;
                if !order.discount_above_threshold(&discount, threshold_bps) {
                    return Ok((event, Vec::new()));
                }
                let audit = cleared_audit(
                    clearance.as_ref(),
                    Action::DiscountAboveThreshold,
                    format!("order:{order_id}"),
                    &discount.reason,
                    OrderError::Discount(DiscountError::BadReason),
                    now_ms,
                )?;
                Ok((event, vec![audit]))
            })
        })
        .await
        .map(|(order, _)| order)
    }

    /// Merges order `from` into `into`: `into` gains `from`'s live lines (sent lines stay
    /// sent) and `from` is finished as merged. Both commit together.
    pub async fn merge(
        &self,
        into: OrderId,
        from: OrderId,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        super::blocking(move || {
            store.commit_merge(into, from, now_ms, |target, source| {
                let target = target.ok_or(OrderError::NotFound)?;
                let source = source.ok_or(OrderError::MergeSourceNotFound(from))?;
                Ok(target.merge_from(source, now_ms)?)
            })
        })
        .await?
    }

    /// How the bill would be split: each guest's share, conserving the total to the cent.
    /// Nothing changes; each guest then pays their share as a payment on the order.
    pub async fn split(
        &self,
        order_id: OrderId,
        ask: SplitAsk,
    ) -> Result<Vec<BillShare>, OrderError> {
        let order = self.get(order_id).await?;
        let shares = match ask {
            SplitAsk::BySeat => shared_model::split::split_by_seat(&order),
            SplitAsk::Evenly(ways) => shared_model::split::split_evenly(&order, ways),
            SplitAsk::ByItems(groups) => shared_model::split::split_by_items(&order, &groups),
            SplitAsk::ByAmounts(amounts) => shared_model::split::split_by_amounts(&order, &amounts),
        }?;
        Ok(shares)
    }

    /// Adds a combo: one line per slot at its share of the combo price (plus upcharges), each
    /// taxed at its own rates and left out of promotions, all committed together with the
    /// promotions re-evaluated. An age-restricted component needs `age_verified`.
    pub async fn add_combo(
        &self,
        caller: Caller,
        order_id: OrderId,
        combo_id: String,
        choices: Vec<shared_model::modifiers::ComboChoice>,
        age_verified: bool,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        super::blocking_with(move || {
            let combo = store
                .combo(&combo_id)?
                .ok_or_else(|| OrderError::UnknownCombo(combo_id.clone()))?;
            let mut items = Vec::new();
            for choice in &choices {
                if let Some(item) = store.catalog_item(&choice.item_id)? {
                    items.push(item);
                }
            }
            let priced = shared_model::modifiers::price_combo(&combo, &choices, |id| {
                items
                    .iter()
                    .find(|item| &item.id == id)
                    .map(|item| item.price_minor)
            })?;
            let mut age_checked = Vec::new();
            for component in &priced.components {
                let item = items
                    .iter()
                    .find(|item| item.id == component.item_id)
                    .ok_or_else(|| OrderError::UnknownItem(component.item_id.0.clone()))?;
                if item.age_restricted {
                    if !age_verified {
                        return Err(OrderError::AgeVerificationRequired(item.name.clone()));
                    }
                    age_checked.push(caller.require(Action::SellAgeRestricted)?.staff_id);
                }
            }
            let (rules, mut context) = pricing_setup(&store, now_ms)?;
            let committed = store.commit_order_events(order_id, now_ms, |order, tx| {
                let mut current = order.ok_or(OrderError::NotFound)?.clone();
                context.channel = Some(current.order_type.price_channel());
                let mut events = Vec::new();
                let mut audits = Vec::new();
                for component in &priced.components {
                    let item = items
                        .iter()
                        .find(|item| item.id == component.item_id)
                        .ok_or_else(|| OrderError::UnknownItem(component.item_id.0.clone()))?;
                    let quantity = match item.unit {
                        shared_model::Unit::Each => Quantity::Each(1),
                        shared_model::Unit::Kilogram => {
                            Quantity::Grams(shared_model::pricing::THOUSANDTHS_PER_UNIT)
                        }
                        shared_model::Unit::Litre => {
                            Quantity::Millilitres(shared_model::pricing::THOUSANDTHS_PER_UNIT)
                        }
                    };
                    let mut request = LineRequest::new(quantity);
                    request.label_price_minor = Some(component.allocated_minor);
                    request.exclude_from_promotions = true;
                    let line_id = LineId(Uuid::now_v7());
                    let event = current.add_line_with(line_id, item, &request, &rules, &context)?;
                    current = after(&current, &event)?;
                    events.push(event);
                    if let Some(staff_id) = item
                        .age_restricted
                        .then(|| age_checked.first().copied())
                        .flatten()
                    {
                        audits.push(age_check_audit(
                            staff_id, &caller, order_id, line_id, &item.name, now_ms,
                        ));
                    }
                }
                let promotions = promotion_context(&context, tx, order_id, &rules, None, now_ms)?;
                events.extend(repriced(&current, &rules, &promotions, now_ms));
                Ok((events, audits))
            })?;
            committed.map(|(order, _)| order)
        })
        .await
    }

    /// Enters a customer's promotion code on an open order: it must be the code of one of the
    /// outlet's promotions, valid now; the order's promotions are evaluated again with it, in
    /// the same transaction.
    pub async fn enter_code(
        &self,
        order_id: OrderId,
        code: String,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let code = code.trim().to_ascii_uppercase();
        if code.is_empty() || code.len() > 64 || code.chars().any(char::is_control) {
            return Err(OrderError::UnknownCode(code));
        }
        let store = self.store.clone();
        super::blocking_with(move || {
            let (rules, price) = pricing_setup(&store, now_ms)?;
            let promotion = rules
                .promotions
                .iter()
                .find(|promotion| {
                    matches!(&promotion.activation,
                        shared_model::promotions::Activation::Code { code: wanted }
                            if wanted.eq_ignore_ascii_case(&code))
                })
                .ok_or_else(|| OrderError::UnknownCode(code.clone()))?;
            let committed = store.commit_order_events(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                if !order.state.accepts_lines() {
                    return Err(OrderError::CodeTooLate(order.state.as_str()));
                }
                let mut codes = context.order_codes(order_id)?;
                codes.push(code.clone());
                let promotions =
                    promotion_context(&price, context, order_id, &rules, Some(codes), now_ms)?;
                promotion
                    .check_eligible(&promotions)
                    .map_err(OrderError::CodeNotEligible)?;
                context.enter_code(order_id, &code, now_ms)?;
                Ok((
                    repriced(order, &rules, &promotions, now_ms)
                        .into_iter()
                        .collect(),
                    Vec::new(),
                ))
            })?;
            committed.map(|(order, _)| order)
        })
        .await
    }

    /// The outlet's scale-label layouts.
    pub async fn label_schemes(
        &self,
    ) -> Result<Vec<shared_model::barcode::EmbeddedScheme>, OrderError> {
        let store = self.store.clone();
        Ok(super::blocking(move || scale_label_schemes(&store)).await?)
    }

    /// Sets how the outlet's scales print labels (inventory clerks, supervisors, managers).
    pub async fn set_label_schemes(
        &self,
        caller: &Caller,
        schemes: Vec<shared_model::barcode::EmbeddedScheme>,
    ) -> Result<Vec<shared_model::barcode::EmbeddedScheme>, OrderError> {
        caller.require(Action::ManageInventory)?;
        let fits = schemes.iter().enumerate().all(|(index, scheme)| {
            (20..=29).contains(&scheme.prefix)
                && shared_model::barcode::EMBEDDED_ITEM_DIGITS_RANGE.contains(&scheme.item_digits)
                && !schemes[..index]
                    .iter()
                    .any(|other| other.prefix == scheme.prefix)
        });
        if !fits || schemes.len() > 10 {
            return Err(OrderError::BadLabelScheme);
        }
        let text = serde_json::to_string(&schemes)
            .map_err(|e| StoreError::Corrupt(format!("scale label schemes: {e}")))?;
        let store = self.store.clone();
        super::blocking(move || store.put_setting(SCALE_LABELS_SETTING, &text)).await?;
        Ok(schemes)
    }

    /// The outlet's discount threshold in basis points.
    pub async fn discount_threshold(&self) -> Result<u32, OrderError> {
        let store = self.store.clone();
        Ok(super::blocking(move || discount_threshold_bps(&store)).await?)
    }

    /// Sets the outlet's discount threshold; a manager's decision.
    pub async fn set_discount_threshold(
        &self,
        caller: &Caller,
        threshold_bps: u32,
    ) -> Result<u32, OrderError> {
        caller.require(Action::ManageStaff)?;
        if threshold_bps > shared_model::tax::BPS_WHOLE {
            return Err(OrderError::BadThreshold);
        }
        let store = self.store.clone();
        super::blocking(move || {
            store.put_setting(DISCOUNT_THRESHOLD_SETTING, &threshold_bps.to_string())
        })
        .await?;
        Ok(threshold_bps)
    }

    pub async fn take_payment(
        &self,
        order_id: OrderId,
        tender: Tender,
        tendered_minor: i64,
        now_ms: i64,
    ) -> Result<PaymentOutcome, OrderError> {
        self.take_payment_at(order_id, tender, tendered_minor, None, now_ms)
            .await
    }

    /// Takes a payment at `terminal`: if that terminal has an open cash drawer, the payment is
    /// recorded in it in the same transaction.
    pub async fn take_payment_at(
        &self,
        order_id: OrderId,
        tender: Tender,
        tendered_minor: i64,
        terminal: Option<Uuid>,
        now_ms: i64,
    ) -> Result<PaymentOutcome, OrderError> {
        let store = self.store.clone();
        let payment_id = PaymentId(Uuid::now_v7());
        if tender.held_in_ledger() {
            return Err(OrderError::TenderNeedsItsRoute(tender));
        }
        let order = super::blocking_with(move || {
            let config = store.outlet_config()?;
            if config
                .as_ref()
                .is_some_and(|config| !config.accepts(tender))
            {
                return Ok(Err(OrderError::TenderNotAccepted));
            }
            // Cash is collected to the outlet's rounding step (e.g. whole shillings): a rounding
            // line first, in the same commit, so the change is counted from what is due.
            let rounding = config
                .map(|config| config.cash_rounding())
                .filter(|rule| tender == Tender::Cash && rule.increment_minor() > 1);
            let committed = store.commit_order_events(order_id, now_ms, |order, context| {
                if let Some(terminal) = terminal {
                    context.record_in_drawer_of(terminal);
                }
                let order = order.ok_or(OrderError::NotFound)?;
                let mut events = Vec::new();
                let mut due = order.clone();
                if let Some(rule) = &rounding
                    && let Some(event) = order.round_for_cash(rule, now_ms)?
                {
                    due = after(order, &event)?;
                    events.push(event);
                }
                events.push(due.take_payment(payment_id, tender, tendered_minor, now_ms)?);
                Ok((events, Vec::new()))
            })?;
            Ok::<_, StoreError>(committed.map(|(order, _)| order))
        })
        .await??;
        let change_due_minor = order
            .payments
            .iter()
            .find(|p| p.id == payment_id)
            .map(|p| p.change_minor)
            .unwrap_or(0);
        Ok(PaymentOutcome {
            order,
            payment_id,
            change_due_minor,
        })
    }

    pub async fn close(&self, order_id: OrderId, now_ms: i64) -> Result<Order, OrderError> {
        let store = self.store.clone();
        run(move || {
            store.commit_order_change(order_id, now_ms, |order, _| {
                let order = order.ok_or(OrderError::NotFound)?;
                Ok(order.close(now_ms)?)
            })
        })
        .await
        .map(|(order, _)| order)
    }

    /// Adds a tip to the order (on a card payment when `payment_id` names one).
    pub async fn add_tip(
        &self,
        order_id: OrderId,
        amount_minor: i64,
        payment_id: Option<PaymentId>,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        let tip_id = shared_model::TipId(Uuid::now_v7());
        run(move || {
            store.commit_order_change(order_id, now_ms, |order, _| {
                let order = order.ok_or(OrderError::NotFound)?;
                Ok(order.add_tip(tip_id, amount_minor, payment_id, now_ms)?)
            })
        })
        .await
        .map(|(order, _)| order)
    }

    /// Voids an order. Once any of its lines went to the kitchen this is "void after send", a
    /// high-risk action: the caller's role or an override must allow it, and the audit entry
    /// commits with the void.
    pub async fn void(
        &self,
        order_id: OrderId,
        reason: String,
        caller: Caller,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        run(move || {
            // Argon2 is slow: check an override PIN only when the order was already sent. The
            // decision below re-reads "sent" inside the transaction, so a send that races in
            // between is caught there.
            let clearance = if store.order_sent_to_kitchen(order_id)? {
                match clear(
                    &store,
                    &caller,
                    approval.as_ref(),
                    Action::VoidAfterSend,
                    now_ms,
                )? {
                    Ok(clearance) => Some(clearance),
                    Err(error) => return Ok(Err(error)),
                }
            } else {
                None
            };
            store.commit_order_change_audited(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                let event = order.void(&reason, now_ms)?;
                if !context.sent_to_kitchen(order_id)? {
                    return Ok((event, Vec::new()));
                }
                let audit = cleared_audit(
                    clearance.as_ref(),
                    Action::VoidAfterSend,
                    format!("order:{order_id}"),
                    &reason,
                    OrderError::Void(VoidError::BadReason),
                    now_ms,
                )?;
                Ok((event, vec![audit]))
            })
        })
        .await
        .map(|(order, _)| order)
    }

    /// Refunds (part of) a paid order to `tender`. Always a high-risk action: the caller's role
    /// or an override in the same request must allow it, and the audit entry commits with the
    /// refund, which is a new fact on the order (the sale itself is never edited).
    #[allow(clippy::too_many_arguments)]
    pub async fn refund(
        &self,
        order_id: OrderId,
        request: RefundRequest,
        tender: Tender,
        reason: String,
        caller: Caller,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        let terminal = caller.device.id;
        let refund_id = shared_model::RefundId(Uuid::now_v7());
        run(move || {
            let clearance = match clear(&store, &caller, approval.as_ref(), Action::Refund, now_ms)?
            {
                Ok(clearance) => clearance,
                Err(error) => return Ok(Err(error)),
            };
            store.commit_order_change_audited(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                let event = order.refund(refund_id, request, tender, &reason, now_ms)?;
                // A refund at a terminal with an open drawer comes out of that drawer; cash that
                // is not there cannot be handed back.
                if let (Tender::Cash, OrderEvent::Refunded { refund, .. }) = (tender, &event)
                    && let Some(available_minor) = context.drawer_cash_of(terminal)?
                    && refund.amount_minor > available_minor
                {
                    return Err(OrderError::DrawerShort {
                        available_minor,
                        requested_minor: refund.amount_minor,
                    });
                }
                context.record_in_drawer_of(terminal);
                let audit = cleared_audit(
                    Some(&clearance),
                    Action::Refund,
                    format!("order:{order_id}"),
                    &reason,
                    OrderError::Refund(RefundError::BadReason),
                    now_ms,
                )?;
                Ok((event, vec![audit]))
            })
        })
        .await
        .map(|(order, _)| order)
    }

    /// Order recall: by number, state, server and/or customer, newest first, at most
    /// [`ORDERS_LIST_MAX`].
    pub async fn find(&self, filter: OrderFilter) -> Result<Vec<Order>, OrderError> {
        let store = self.store.clone();
        Ok(super::blocking(move || store.orders_matching(&filter, ORDERS_LIST_MAX)).await?)
    }

    pub async fn get(&self, order_id: OrderId) -> Result<Order, OrderError> {
        let store = self.store.clone();
        super::blocking(move || store.order(order_id))
            .await?
            .ok_or(OrderError::NotFound)
    }
}

/// Decides and commits one line (see [`OrderService::add_line`]).
fn decide_line(
    store: &Store,
    caller: &Caller,
    order_id: OrderId,
    input: &LineInput,
    price_clearance: Option<&Clearance>,
    now_ms: i64,
) -> Result<(Order, crate::store::OpRecord), OrderError> {
    // A scale label carries the weight or the price in its code: it sets the quantity (or the
    // line's price) instead of the request.
    let mut quantity = input.quantity;
    let mut label_price_minor = None;
    let item = match &input.item {
        ItemRef::Id(id) => store
            .catalog_item(id)?
            .ok_or_else(|| OrderError::UnknownItem(id.0.clone()))?,
        ItemRef::Barcode(code) => {
            use shared_model::barcode::{Scan, decode_scan};
            match decode_scan(code, &scale_label_schemes(store)?)
                .map_err(|error| OrderError::BadBarcode(error.to_string()))?
            {
                Scan::Product { code } => store
                    .catalog_item_by_barcode(&code)?
                    .ok_or(OrderError::UnknownBarcode(code))?,
                Scan::Weight { plu, grams } => {
                    let item = store
                        .catalog_item_by_plu(&plu)?
                        .ok_or(OrderError::UnknownBarcode(plu))?;
                    quantity = match item.unit {
                        shared_model::Unit::Kilogram => Quantity::Grams(grams),
                        _ => return Err(OrderError::LabelNotForItem(item.name.clone())),
                    };
                    item
                }
                Scan::Price { plu, price_minor } => {
                    let item = store
                        .catalog_item_by_plu(&plu)?
                        .ok_or(OrderError::UnknownBarcode(plu))?;
                    // The label's price stands; the quantity is what that price buys.
                    quantity = match item.unit {
                        shared_model::Unit::Each => Quantity::Each(1),
                        shared_model::Unit::Kilogram | shared_model::Unit::Litre
                            if item.price_minor > 0 =>
                        {
                            let thousandths = (i128::from(price_minor)
                                * i128::from(shared_model::pricing::THOUSANDTHS_PER_UNIT)
                                / i128::from(item.price_minor))
                            .clamp(1, i128::from(shared_model::pricing::MEASURED_QUANTITY_MAX))
                                as i64;
                            if item.unit == shared_model::Unit::Kilogram {
                                Quantity::Grams(thousandths)
                            } else {
                                Quantity::Millilitres(thousandths)
                            }
                        }
                        _ => return Err(OrderError::LabelNotForItem(item.name.clone())),
                    };
                    label_price_minor = Some(price_minor);
                    item
                }
            }
        }
    };
    let age_check = if item.age_restricted {
        if !input.age_verified {
            return Err(OrderError::AgeVerificationRequired(item.name.clone()));
        }
        let session = caller.require(Action::SellAgeRestricted)?;
        Some(session.staff_id)
    } else {
        None
    };
    let (mut rules, mut context) = pricing_setup(store, now_ms)?;
    // The item offers the groups the hub sent for it; choices are checked and priced with them.
    let mut item = item;
    rules.modifier_groups = store.item_modifiers(&item.id)?;
    item.modifier_group_ids = rules
        .modifier_groups
        .iter()
        .map(|group| group.id.clone())
        .collect();
    let request = LineRequest {
        quantity,
        modifiers: input.modifiers.clone(),
        seat: input.seat,
        course: input.course,
        instructions: input.instructions.clone(),
        label_price_minor,
        exclude_from_promotions: false,
        unit_price_override_minor: input.price_override.as_ref().map(|p| p.unit_price_minor),
    };
    let line_id = LineId(Uuid::now_v7());
    let committed = store.commit_order_events(order_id, now_ms, |order, tabs| {
        let order = order.ok_or(OrderError::NotFound)?;
        context.channel = Some(order.order_type.price_channel());
        let event = order.add_line_with(line_id, &item, &request, &rules, &context)?;
        let mut events = vec![event.clone()];
        let with_line = after(order, &event)?;
        let promotions = promotion_context(&context, tabs, order_id, &rules, None, now_ms)?;
        let with_promotions = match repriced(&with_line, &rules, &promotions, now_ms) {
            Some(repriced) => {
                let with_promotions = after(&with_line, &repriced)?;
                events.push(repriced);
                with_promotions
            }
            None => with_line,
        };
        // A bar tab with a limit refuses the line that would take it over the limit.
        if let Some(limit_minor) = tabs.tab_limit_minor(order_id)?
            && with_promotions.totals().total_minor > limit_minor
        {
            return Err(OrderError::TabLimit { limit_minor });
        }
        let mut audits: Vec<AuditEntry> = age_check
            .map(|staff_id| {
                age_check_audit(staff_id, caller, order_id, line_id, &item.name, now_ms)
            })
            .into_iter()
            .collect();
        if let (Some(clearance), Some(price)) = (price_clearance, &input.price_override) {
            // The audit names the price the book would have charged and the one keyed.
            let mut booked = request.clone();
            booked.unit_price_override_minor = None;
            let book_price = match order.add_line_with(line_id, &item, &booked, &rules, &context) {
                Ok(OrderEvent::LineAdded { line, .. }) => Some(line.unit_price_minor),
                _ => None,
            };
            let reason =
                AuditReason::parse(&price.reason).map_err(|_| OrderError::OverrideReason)?;
            let mut audit = clearance.audit(
                format!("order:{}/line:{}", order_id.0, line_id.0),
                &reason,
                now_ms,
            );
            audit.subject = match book_price {
                Some(book) => format!(
                    "{}/price:{}->{}",
                    audit.subject, book, price.unit_price_minor
                ),
                None => format!("{}/price:{}", audit.subject, price.unit_price_minor),
            };
            audits.push(audit);
        }
        Ok((events, audits))
    })?;
    committed.and_then(|(order, mut ops)| {
        ops.pop()
            .map(|op| (order, op))
            .ok_or(OrderError::Store(StoreError::Corrupt(
                "a line wrote no op".into(),
            )))
    })
}

/// [`clear_high_risk`] for the order use cases, which run in a [`run`] closure: a store failure
/// stays in the outer layer, a refusal becomes the order error the terminal is answered with.
fn clear(
    store: &Store,
    caller: &Caller,
    approval: Option<&OverrideRequest>,
    action: Action,
    now_ms: i64,
) -> Result<Result<Clearance, OrderError>, StoreError> {
    match clear_high_risk(store, caller, approval, action, now_ms) {
        Ok(clearance) => Ok(Ok(clearance)),
        Err(AccessError::Store(error)) => Err(error),
        Err(error) => Ok(Err(OrderError::Access(error))),
    }
}

/// The audit entry of `action` on `subject`, allowed by `clearance` (decided before the
/// transaction). A decision that turned out high-risk inside the transaction without one (a
/// send that raced in) is refused as needing a signed-in staff member.
fn cleared_audit(
    clearance: Option<&Clearance>,
    action: Action,
    subject: String,
    reason: &str,
    bad_reason: OrderError,
    now_ms: i64,
) -> Result<AuditEntry, OrderError> {
    let clearance = clearance.ok_or(OrderError::Access(AccessError::Denied(
        AuthorizeError::NotSignedIn(action.as_str()),
    )))?;
    let reason = AuditReason::parse(reason).map_err(|_| bad_reason)?;
    Ok(clearance.audit(subject, &reason, now_ms))
}

/// The audit entry of an age check `staff_id` made before selling `item_name` on a line.
fn age_check_audit(
    staff_id: Uuid,
    caller: &Caller,
    order_id: OrderId,
    line_id: LineId,
    item_name: &str,
    now_ms: i64,
) -> AuditEntry {
    AuditEntry {
        id: Uuid::now_v7(),
        action: Action::SellAgeRestricted,
        actor_staff_id: Some(staff_id),
        approver_staff_id: None,
        device_id: caller.device.id,
        subject: format!("order:{}/line:{}", order_id.0, line_id.0),
        reason: format!("customer's age checked for {item_name}"),
        at_ms: now_ms,
    }
}

/// Runs a store transaction off the runtime and flattens its two error layers.
async fn run<F>(work: F) -> Result<(Order, crate::store::OpRecord), OrderError>
where
    F: FnOnce() -> Result<Result<(Order, crate::store::OpRecord), OrderError>, StoreError>
        + Send
        + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| OrderError::Store(StoreError::Corrupt(format!("store task failed: {e}"))))??
}
