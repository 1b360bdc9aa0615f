//! Payments collected through the hub's treasury link (M-Pesa STK push, card): SQL only.
//!
//! A request and its op commit together; the hub's answers arrive over the feed and are applied
//! in the feed's transaction, so a capture becomes a payment on the order exactly once — or,
//! when the order moved on meanwhile (paid another way after a timeout), a flagged intent a
//! manager must refund.

use super::{Store, StoreError, append_op, append_op_body, load_order, save_order};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::payment_intent::{CaptureOutcome, IntentState, capture_outcome};
use shared_model::{Order, OrderEvent, OrderId, PaymentId, Tender};
use sync_protocol::feed::PaymentIntentUpdateV1;
use sync_protocol::op::{OpBody, PaymentMethodV1, PaymentOpV1};
use uuid::Uuid;

/// A payment intent as the edge knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: Uuid,
    pub order_id: Uuid,
    /// `mpesa_stk` or `card`.
    pub method: String,
    pub amount_minor: i64,
    pub state: IntentState,
    pub provider_ref: Option<String>,
    pub receipt: Option<String>,
    pub detail: String,
    /// What a manager must do about it, if anything: refund a capture that came after the
    /// order was settled another way, or check an M-Pesa receipt the treasury has no record of.
    pub attention: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Why a payment request was refused before anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum IntentRequestError {
    #[error("order not found")]
    NotFound,
    #[error("the order is {0} and takes no payments")]
    NotPayable(&'static str),
    #[error("the amount must be between 1 and the balance due ({balance_due_minor})")]
    BadAmount { balance_due_minor: i64 },
    #[error("a payment prompt for this order is still waiting for an answer")]
    AlreadyPending,
}

/// A payment taken without the treasury, as [`Store::record_unconfirmed`] records it.
struct Unconfirmed<'a> {
    order_id: OrderId,
    /// `mpesa_receipt` or `card_offline`.
    method: &'static str,
    tender: Tender,
    /// The receipt code or offline reference: unique per method at this edge.
    reference: &'a str,
    amount_minor: i64,
    detail: String,
    terminal: Uuid,
    now_ms: i64,
}

/// Why an offline card payment was refused before anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum OfflineCardError {
    #[error(transparent)]
    Request(#[from] IntentRequestError),
    #[error(transparent)]
    Limit(#[from] shared_model::outlet::OfflineCardRefusal),
    #[error("this offline reference was already recorded")]
    AlreadyRecorded,
}

/// What the outlet is carrying in card payments taken offline and not yet confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineCardRisk {
    pub count: u32,
    pub outstanding_minor: i64,
    pub oldest_recorded_at_ms: Option<i64>,
    /// Unconfirmed payments older than the outlet's limit.
    pub expired: u32,
}

/// Why an M-Pesa receipt code was refused before anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error(transparent)]
    Request(#[from] IntentRequestError),
    #[error("this M-Pesa receipt code was already used for a payment here")]
    AlreadyUsed,
}

fn tender_of(method: &str) -> Tender {
    if method == "card" {
        Tender::Card
    } else {
        Tender::Mpesa
    }
}

const COLUMNS: &str = "id, order_id, method, amount_minor, state, provider_ref, receipt, detail, \
     attention, created_at_ms, updated_at_ms";

type Row = (
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    i64,
);

fn from_row(row: Row) -> Result<PaymentIntent, StoreError> {
    let (
        id,
        order_id,
        method,
        amount_minor,
        state,
        provider_ref,
        receipt,
        detail,
        attention,
        created,
        updated,
    ) = row;
    Ok(PaymentIntent {
        id: super::parse_uuid(&id)?,
        order_id: super::parse_uuid(&order_id)?,
        method,
        amount_minor,
        state: IntentState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("payment intent state {state}")))?,
        provider_ref,
        receipt,
        detail,
        attention,
        created_at_ms: created,
        updated_at_ms: updated,
    })
}

impl Store {
    /// Stores a request for the hub to collect `amount_minor` on `order_id`, with its op, after
    /// checking it against the order in the same transaction.
    pub fn request_payment_intent(
        &self,
        order_id: OrderId,
        method: &PaymentMethodV1,
        amount_minor: i64,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<PaymentIntent, IntentRequestError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(order) = load_order(&tx, order_id)? else {
            return Ok(Err(IntentRequestError::NotFound));
        };
        if !order.state.accepts_payments() {
            return Ok(Err(IntentRequestError::NotPayable(order.state.as_str())));
        }
        let balance_due_minor = order.totals().balance_due_minor;
        if amount_minor <= 0 || amount_minor > balance_due_minor {
            return Ok(Err(IntentRequestError::BadAmount { balance_due_minor }));
        }
        let pending: Option<String> = tx
            .query_row(
                "SELECT id FROM payment_intents
                 WHERE order_id = ?1 AND state IN ('requested', 'prompted') LIMIT 1",
                params![order_id.0.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        if pending.is_some() {
            return Ok(Err(IntentRequestError::AlreadyPending));
        }
        let id = Uuid::now_v7();
        let method_name = match method {
            PaymentMethodV1::MpesaStk { .. } => "mpesa_stk",
            PaymentMethodV1::Card { .. } => "card",
        };
        tx.execute(
            "INSERT INTO payment_intents (id, order_id, method, amount_minor, state, detail,
                 created_at_ms, updated_at_ms, terminal_id)
             VALUES (?1, ?2, ?3, ?4, 'requested', 'sending to the payment service', ?5, ?5, ?6)",
            params![
                id.to_string(),
                order_id.0.to_string(),
                method_name,
                amount_minor,
                now_ms,
                terminal.to_string()
            ],
        )?;
        let body = OpBody::Payment(PaymentOpV1::IntentRequested {
            intent_id: *id.as_bytes(),
            order_id: *order_id.0.as_bytes(),
            method: method.clone(),
            amount_minor,
            currency: order.currency.code().to_owned(),
            requested_at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "payment", &body, now_ms)?;
        let intent =
            load(&tx, id)?.ok_or_else(|| StoreError::Corrupt("a stored intent vanished".into()))?;
        tx.commit()?;
        Ok(Ok(intent))
    }

    /// The customer paid the till from their own phone (the link to the hub may be down): the
    /// payment goes on the order now, with the receipt code the cashier typed, and an intent
    /// for the hub to confirm it against the treasury's records once it can.
    pub fn record_mpesa_receipt(
        &self,
        order_id: OrderId,
        receipt_code: &str,
        amount_minor: i64,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<(Order, PaymentIntent), ReceiptError>, StoreError> {
        self.record_unconfirmed(
            Unconfirmed {
                order_id,
                method: "mpesa_receipt",
                tender: Tender::Mpesa,
                reference: receipt_code,
                amount_minor,
                detail: "paid; to be confirmed against the treasury".into(),
                terminal,
                now_ms,
            },
            |_| Ok(Ok(())),
            ReceiptError::AlreadyUsed,
            |intent_id, order_id, currency| PaymentOpV1::ReceiptCodeRecorded {
                intent_id,
                order_id,
                receipt_code: receipt_code.to_owned(),
                amount_minor,
                currency,
                recorded_at_ms: now_ms,
            },
        )
    }

    /// A card payment the card terminal approved offline (store-and-forward): it goes on the
    /// order now, within the outlet's limits (checked in the same transaction), and the hub
    /// reconciles it with the processor once the link returns. Only the terminal's offline
    /// reference, the last four digits and the brand are kept.
    #[allow(clippy::too_many_arguments)]
    pub fn record_offline_card(
        &self,
        order_id: OrderId,
        offline_ref: &str,
        last4: &str,
        brand: &str,
        amount_minor: i64,
        limits: shared_model::outlet::OfflineCardLimits,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<(Order, PaymentIntent), OfflineCardError>, StoreError> {
        self.record_unconfirmed(
            Unconfirmed {
                order_id,
                method: "card_offline",
                tender: Tender::Card,
                reference: offline_ref,
                amount_minor,
                detail: format!(
                    "{brand} ending {last4}, approved offline; to be confirmed by the processor"
                ),
                terminal,
                now_ms,
            },
            |tx| {
                let outstanding_minor: i64 = tx.query_row(
                    "SELECT coalesce(sum(amount_minor), 0) FROM payment_intents
                     WHERE method = 'card_offline' AND state = 'requested'",
                    [],
                    |row| row.get(0),
                )?;
                Ok(limits
                    .admit(amount_minor, outstanding_minor)
                    .map_err(OfflineCardError::from))
            },
            OfflineCardError::AlreadyRecorded,
            |intent_id, order_id, currency| PaymentOpV1::OfflineCardRecorded {
                intent_id,
                order_id,
                offline_ref: offline_ref.to_owned(),
                last4: last4.to_owned(),
                brand: brand.to_owned(),
                amount_minor,
                currency,
                recorded_at_ms: now_ms,
            },
        )
    }

    /// A payment taken without the treasury (a receipt code, an offline card approval): the
    /// order's payment, the terminal's drawer, the intent for the hub to confirm, and both ops,
    /// in one transaction, after the order, the caller's own check (`admit`) and the reference's
    /// uniqueness are checked in it.
    fn record_unconfirmed<E: From<IntentRequestError>>(
        &self,
        payment: Unconfirmed<'_>,
        admit: impl FnOnce(&Transaction<'_>) -> Result<Result<(), E>, StoreError>,
        already_used: E,
        op: impl FnOnce([u8; 16], [u8; 16], String) -> PaymentOpV1,
    ) -> Result<Result<(Order, PaymentIntent), E>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let mut order = match payable_order(&tx, payment.order_id, payment.amount_minor)? {
            Ok(order) => order,
            Err(refusal) => return Ok(Err(IntentRequestError::from(refusal).into())),
        };
        if let Err(refusal) = admit(&tx)? {
            return Ok(Err(refusal));
        }
        let used: Option<String> = tx
            .query_row(
                "SELECT id FROM payment_intents WHERE method = ?1 AND receipt = ?2",
                params![payment.method, payment.reference],
                |row| row.get(0),
            )
            .optional()?;
        if used.is_some() {
            return Ok(Err(already_used));
        }
        let id = Uuid::now_v7();
        take_checked_payment_tx(
            &tx,
            self.node_id,
            &mut order,
            CheckedPayment {
                id: PaymentId(id),
                tender: payment.tender,
                amount_minor: payment.amount_minor,
                terminal: payment.terminal,
                now_ms: payment.now_ms,
            },
        )?;
        tx.execute(
            "INSERT INTO payment_intents (id, order_id, method, amount_minor, state, receipt, detail,
                 created_at_ms, updated_at_ms, terminal_id)
             VALUES (?1, ?2, ?3, ?4, 'requested', ?5, ?6, ?7, ?7, ?8)",
            params![
                id.to_string(),
                payment.order_id.0.to_string(),
                payment.method,
                payment.amount_minor,
                payment.reference,
                payment.detail,
                payment.now_ms,
                payment.terminal.to_string()
            ],
        )?;
        let body = OpBody::Payment(op(
            *id.as_bytes(),
            *payment.order_id.0.as_bytes(),
            order.currency.code().to_owned(),
        ));
        append_op_body(&tx, self.node_id, "payment", &body, payment.now_ms)?;
        let intent =
            load(&tx, id)?.ok_or_else(|| StoreError::Corrupt("a stored intent vanished".into()))?;
        tx.commit()?;
        Ok(Ok((order, intent)))
    }

    /// The unconfirmed offline card payments: how many, how much, since when.
    pub fn offline_card_risk(
        &self,
        max_age_ms: i64,
        now_ms: i64,
    ) -> Result<OfflineCardRisk, StoreError> {
        let connection = self.lock();
        let (count, outstanding_minor, oldest, expired): (i64, i64, Option<i64>, i64) = connection
            .query_row(
                "SELECT count(*), coalesce(sum(amount_minor), 0), min(created_at_ms),
                    coalesce(sum(created_at_ms < ?1), 0)
             FROM payment_intents WHERE method = 'card_offline' AND state = 'requested'",
                params![now_ms - max_age_ms],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?;
        Ok(OfflineCardRisk {
            count: count.max(0) as u32,
            outstanding_minor,
            oldest_recorded_at_ms: oldest,
            expired: expired.max(0) as u32,
        })
    }

    pub fn payment_intent(&self, id: Uuid) -> Result<Option<PaymentIntent>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        load(&tx, id)
    }

    /// Intents a manager must act on (see [`PaymentIntent::attention`]).
    pub fn payment_intents_needing_attention(&self) -> Result<Vec<PaymentIntent>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM payment_intents WHERE attention IS NOT NULL ORDER BY updated_at_ms"
        ))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                ))
            })?
            .collect::<Result<Vec<Row>, _>>()?;
        rows.into_iter().map(from_row).collect()
    }
}

/// The order a payment of `amount_minor` is for, if it can take it: it exists, takes payments,
/// and the amount is positive and at most its balance due.
pub(super) fn payable_order(
    tx: &Transaction<'_>,
    order_id: OrderId,
    amount_minor: i64,
) -> Result<Result<Order, Unpayable>, StoreError> {
    let Some(order) = load_order(tx, order_id)? else {
        return Ok(Err(Unpayable::NotFound));
    };
    if !order.state.accepts_payments() {
        return Ok(Err(Unpayable::NotPayable(order.state.as_str())));
    }
    let balance_due_minor = order.totals().balance_due_minor;
    if amount_minor <= 0 || amount_minor > balance_due_minor {
        return Ok(Err(Unpayable::BadAmount { balance_due_minor }));
    }
    Ok(Ok(order))
}

/// Why an order cannot take a payment ([`payable_order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unpayable {
    NotFound,
    NotPayable(&'static str),
    BadAmount { balance_due_minor: i64 },
}

impl From<Unpayable> for IntentRequestError {
    fn from(refusal: Unpayable) -> Self {
        match refusal {
            Unpayable::NotFound => IntentRequestError::NotFound,
            Unpayable::NotPayable(state) => IntentRequestError::NotPayable(state),
            Unpayable::BadAmount { balance_due_minor } => {
                IntentRequestError::BadAmount { balance_due_minor }
            }
        }
    }
}

/// A payment already checked against its order ([`payable_order`]) and the tender's own rules.
pub(super) struct CheckedPayment {
    pub id: PaymentId,
    pub tender: Tender,
    pub amount_minor: i64,
    /// The terminal whose open drawer takes it.
    pub terminal: Uuid,
    pub now_ms: i64,
}

/// Takes a checked payment on `order` inside `tx`: the order's new state, its op, and the
/// terminal's drawer.
pub(super) fn take_checked_payment_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    order: &mut Order,
    payment: CheckedPayment,
) -> Result<(), StoreError> {
    let event = order
        .take_payment(
            payment.id,
            payment.tender,
            payment.amount_minor,
            payment.now_ms,
        )
        .map_err(|error| StoreError::Corrupt(format!("a checked payment was refused: {error}")))?;
    order
        .apply(&event)
        .map_err(|error| StoreError::Corrupt(format!("a payment does not apply: {error}")))?;
    save_order(tx, order, payment.now_ms)?;
    append_op(tx, node_id, &event, payment.now_ms)?;
    if let OrderEvent::PaymentTaken { payment: taken, .. } = &event {
        super::drawers::record_payment_tx(tx, node_id, payment.terminal, taken, payment.now_ms)?;
    }
    Ok(())
}

fn load(tx: &Transaction<'_>, id: Uuid) -> Result<Option<PaymentIntent>, StoreError> {
    let row: Option<Row> = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM payment_intents WHERE id = ?1"),
            params![id.to_string()],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                ))
            },
        )
        .optional()?;
    row.map(from_row).transpose()
}

/// Applies the hub's word on an intent inside the feed's transaction. An update the rules
/// refuse (a duplicate, one the intent is past) or for an intent this box never made changes
/// nothing.
pub(super) fn apply_update_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    update: &PaymentIntentUpdateV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    let id = Uuid::from_bytes(update.intent_id);
    let Some(intent) = load(tx, id)? else {
        tracing::warn!(intent = %id, "an update for a payment intent this edge never made");
        return Ok(());
    };
    let next = IntentState::from(update.state);
    if !intent.state.may_become(next) {
        return Ok(());
    }
    tx.execute(
        "UPDATE payment_intents SET state = ?2, provider_ref = ?3, receipt = ?4, detail = ?5,
            updated_at_ms = ?6 WHERE id = ?1",
        params![
            id.to_string(),
            next.as_str(),
            update.provider_ref,
            update.receipt,
            update.detail,
            now_ms
        ],
    )?;
    if next == IntentState::Failed && intent.method == "card_offline" {
        // The customer left with the goods; the processor declined the forwarded payment.
        tracing::warn!(intent = %id, "an offline card payment was declined after the fact");
        tx.execute(
            "UPDATE payment_intents SET attention = ?2 WHERE id = ?1",
            params![
                id.to_string(),
                format!("offline card payment declined after the fact ({}): recover it from the customer or write it off", update.detail)
            ],
        )?;
        return Ok(());
    }
    if next == IntentState::Failed && intent.method == "mpesa_receipt" {
        // The payment is already on the order (the customer showed their SMS); the treasury
        // cannot confirm it. A manager checks before the shift closes.
        tracing::warn!(intent = %id, "an M-Pesa receipt code the treasury could not confirm");
        tx.execute(
            "UPDATE payment_intents SET attention = ?2 WHERE id = ?1",
            params![
                id.to_string(),
                format!(
                    "M-Pesa receipt not confirmed by the treasury ({}): check it",
                    update.detail
                )
            ],
        )?;
        return Ok(());
    }
    if next != IntentState::Captured {
        return Ok(());
    }
    let order_id = OrderId(intent.order_id);
    let order: Option<Order> = load_order(tx, order_id)?;
    let payment_id = PaymentId(id);
    let outcome = match &order {
        Some(order) => capture_outcome(
            order
                .payments
                .iter()
                .any(|payment| payment.id == payment_id),
            order.state.accepts_payments(),
            order.totals().balance_due_minor,
            intent.amount_minor,
        ),
        None => CaptureOutcome::NeedsRefund,
    };
    match (outcome, order) {
        (CaptureOutcome::Apply, Some(mut order)) => {
            let event = order
                .take_payment(
                    payment_id,
                    tender_of(&intent.method),
                    intent.amount_minor,
                    now_ms,
                )
                .map_err(|error| {
                    StoreError::Corrupt(format!("a checked capture does not apply: {error}"))
                })?;
            order.apply(&event).map_err(|error| {
                StoreError::Corrupt(format!("a capture does not apply: {error}"))
            })?;
            save_order(tx, &order, now_ms)?;
            append_op(tx, node_id, &event, now_ms)?;
            // Into the drawer of the terminal that asked, if it is still open there.
            let terminal: Option<String> = tx.query_row(
                "SELECT terminal_id FROM payment_intents WHERE id = ?1",
                params![id.to_string()],
                |row| row.get(0),
            )?;
            if let (Some(terminal), OrderEvent::PaymentTaken { payment, .. }) = (terminal, &event) {
                let terminal = super::parse_uuid(&terminal)?;
                super::drawers::record_payment_tx(tx, node_id, terminal, payment, now_ms)?;
            }
        }
        (CaptureOutcome::AlreadyApplied, _) => {}
        _ => {
            tracing::warn!(intent = %id, order = %intent.order_id, "payment captured after the order was settled: the customer must be refunded");
            tx.execute(
                "UPDATE payment_intents SET attention = ?2 WHERE id = ?1",
                params![
                    id.to_string(),
                    "captured after the order was settled another way: refund the customer"
                ],
            )?;
            let body = OpBody::Payment(PaymentOpV1::CaptureNeedsRefund {
                intent_id: *id.as_bytes(),
                order_id: *intent.order_id.as_bytes(),
                amount_minor: intent.amount_minor,
                detected_at_ms: now_ms,
            });
            append_op_body(tx, node_id, "payment", &body, now_ms)?;
        }
    }
    Ok(())
}
