//! Order use cases: open, add a line, take a payment, close, void.
//!
//! Each one decides with `shared-model`'s rules and commits the new state and its op in one
//! SQLite transaction before returning, so an answer to a terminal is always durable.

use super::staff::{AccessError, Caller, OverrideRequest, clear_high_risk};
use crate::store::{Store, StoreError};
use shared_model::order::{
    AddLineError, CloseError, PaymentError, RefundError, RefundRequest, VoidError,
};
use shared_model::staff::{Action, AuditReason, AuthorizeError};
use shared_model::tax::RoundingMode;
use shared_model::{
    Currency, ItemId, LineId, Order, OrderEvent, OrderId, OrderType, PaymentId, Tender,
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
    #[error(
        "the drawer holds {available_minor} in cash; a cash refund of {requested_minor} cannot come out of it"
    )]
    DrawerShort {
        available_minor: i64,
        requested_minor: i64,
    },
    #[error("this line would take the tab over its limit of {limit_minor}")]
    TabLimit { limit_minor: i64 },
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of a payment, for the terminal's display.
#[derive(Debug, Clone)]
pub struct PaymentOutcome {
    pub order: Order,
    pub payment_id: PaymentId,
    pub change_due_minor: i64,
}

pub struct OrderService {
    store: Arc<Store>,
    currency: Currency,
    rounding: RoundingMode,
}

impl OrderService {
    pub fn new(store: Arc<Store>, currency: Currency) -> OrderService {
        OrderService {
            store,
            currency,
            rounding: RoundingMode::HalfUp,
        }
    }

    pub async fn open(&self, order_type: OrderType, now_ms: i64) -> Result<Order, OrderError> {
        let store = self.store.clone();
        let currency = self.currency;
        let order_id = OrderId(Uuid::now_v7());
        run(move || {
            store.commit_order_change(order_id, now_ms, |_, numbers| {
                Ok::<_, OrderError>(OrderEvent::Opened {
                    order_id,
                    number: numbers.take()?,
                    order_type,
                    currency,
                    opened_at_ms: now_ms,
                })
            })
        })
        .await
        .map(|(order, _)| order)
    }

    pub async fn add_line(
        &self,
        order_id: OrderId,
        item_id: ItemId,
        quantity: i64,
        now_ms: i64,
    ) -> Result<Order, OrderError> {
        let store = self.store.clone();
        let rounding = self.rounding;
        run(move || {
            let item = store.catalog_item(&item_id)?;
            store.commit_order_change(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                let item = item.ok_or_else(|| OrderError::UnknownItem(item_id.0.clone()))?;
                let event = order.add_line(LineId(Uuid::now_v7()), &item, quantity, rounding)?;
                // A bar tab with a limit refuses the line that would take it over the limit.
                if let Some(limit_minor) = context.tab_limit_minor(order_id)? {
                    let mut after = order.clone();
                    after.apply(&event).map_err(|error| {
                        StoreError::Corrupt(format!("a decided line does not apply: {error}"))
                    })?;
                    if after.totals().total_minor > limit_minor {
                        return Err(OrderError::TabLimit { limit_minor });
                    }
                }
                Ok(event)
            })
        })
        .await
        .map(|(order, _)| order)
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
        let (order, _) = run(move || {
            store.commit_order_change(order_id, now_ms, |order, context| {
                if let Some(terminal) = terminal {
                    context.record_in_drawer_of(terminal);
                }
                let order = order.ok_or(OrderError::NotFound)?;
                Ok(order.take_payment(payment_id, tender, tendered_minor, now_ms)?)
            })
        })
        .await?;
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
                match clear_high_risk(
                    &store,
                    &caller,
                    approval.as_ref(),
                    Action::VoidAfterSend,
                    now_ms,
                ) {
                    Ok(clearance) => Some(clearance),
                    Err(AccessError::Store(error)) => return Err(error),
                    Err(error) => return Ok(Err(OrderError::Access(error))),
                }
            } else {
                None
            };
            store.commit_order_change_audited(order_id, now_ms, |order, context| {
                let order = order.ok_or(OrderError::NotFound)?;
                let event = order.void(&reason, now_ms)?;
                if !context.sent_to_kitchen(order_id)? {
                    return Ok((event, None));
                }
                let clearance =
                    clearance
                        .as_ref()
                        .ok_or(OrderError::Access(AccessError::Denied(
                            AuthorizeError::NotSignedIn(Action::VoidAfterSend.as_str()),
                        )))?;
                let reason = AuditReason::parse(&reason)
                    .map_err(|_| OrderError::Void(VoidError::BadReason))?;
                let audit = clearance.audit(format!("order:{order_id}"), &reason, now_ms);
                Ok((event, Some(audit)))
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
            let clearance =
                match clear_high_risk(&store, &caller, approval.as_ref(), Action::Refund, now_ms) {
                    Ok(clearance) => clearance,
                    Err(AccessError::Store(error)) => return Err(error),
                    Err(error) => return Ok(Err(OrderError::Access(error))),
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
                let reason = AuditReason::parse(&reason)
                    .map_err(|_| OrderError::Refund(RefundError::BadReason))?;
                let audit = clearance.audit(format!("order:{order_id}"), &reason, now_ms);
                Ok((event, Some(audit)))
            })
        })
        .await
        .map(|(order, _)| order)
    }

    /// Order recall: by number and/or state, newest first, at most [`ORDERS_LIST_MAX`].
    pub async fn find(
        &self,
        number: Option<u64>,
        state: Option<shared_model::OrderState>,
    ) -> Result<Vec<Order>, OrderError> {
        let store = self.store.clone();
        Ok(super::blocking(move || {
            store.orders_matching(number, state.map(|s| s.as_str()), ORDERS_LIST_MAX)
        })
        .await?)
    }

    pub async fn get(&self, order_id: OrderId) -> Result<Order, OrderError> {
        let store = self.store.clone();
        super::blocking(move || store.order(order_id))
            .await?
            .ok_or(OrderError::NotFound)
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
