//! Gift-card redemptions at the till within the hub's allowance for each card: SQL only.
//!
//! The hub's word on a card (its allowance for this outlet, and how much of this outlet's
//! redemptions it had counted) arrives over the feed. A redemption is checked against that word
//! and everything redeemed here since (`shared_model::gift_card`), and the order's payment, the
//! drawer, the outlet's redemption record and the op for the hub's ledger commit together.

use super::payments::{CheckedPayment, Unpayable, payable_order, take_checked_payment_tx};
use super::{Store, StoreError, append_op_body};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::gift_card::{GiftCardAllowance, RedeemError};
use shared_model::{Order, OrderId, PaymentId, Tender};
use sync_protocol::feed::GiftCardAllowanceV1;
use sync_protocol::op::{GiftCardOpV1, OpBody};
use uuid::Uuid;

/// The outlet's view of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardView {
    pub allowance: GiftCardAllowance,
    /// Everything this outlet ever redeemed on the card.
    pub local_redeemed_minor: i64,
}

impl GiftCardView {
    pub fn remaining_minor(&self) -> i64 {
        self.allowance.remaining_minor(self.local_redeemed_minor)
    }
}

/// Why a gift-card payment was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum GiftCardPaymentError {
    #[error("order not found")]
    OrderNotFound,
    #[error("the hub has not told this outlet about that gift card")]
    UnknownCard,
    #[error("the order is {0} and takes no payments")]
    NotPayable(&'static str),
    #[error("amount must be between 1 and the balance due of {balance_due_minor}")]
    BadAmount { balance_due_minor: i64 },
    #[error(transparent)]
    Redeem(#[from] RedeemError),
}

pub(super) fn set_allowance_tx(
    tx: &Transaction<'_>,
    wire: &GiftCardAllowanceV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO gift_card_allowances (code, currency, active, expires_at_ms, allowance_minor,
            outlet_redeemed_minor, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (code) DO UPDATE SET currency = excluded.currency, active = excluded.active,
            expires_at_ms = excluded.expires_at_ms, allowance_minor = excluded.allowance_minor,
            outlet_redeemed_minor = excluded.outlet_redeemed_minor,
            updated_at_ms = excluded.updated_at_ms",
        params![
            wire.code,
            wire.currency,
            wire.active,
            wire.expires_at_ms,
            wire.allowance_minor,
            wire.outlet_redeemed_minor,
            now_ms
        ],
    )?;
    Ok(())
}

fn view_tx(tx: &rusqlite::Connection, code: &str) -> Result<Option<GiftCardView>, StoreError> {
    let allowance = tx
        .query_row(
            "SELECT currency, active, expires_at_ms, allowance_minor, outlet_redeemed_minor
             FROM gift_card_allowances WHERE code = ?1",
            params![code],
            |row| {
                Ok(GiftCardAllowance {
                    code: code.to_owned(),
                    currency: row.get(0)?,
                    active: row.get(1)?,
                    expires_at_ms: row.get(2)?,
                    allowance_minor: row.get(3)?,
                    outlet_redeemed_minor: row.get(4)?,
                })
            },
        )
        .optional()?;
    let Some(allowance) = allowance else {
        return Ok(None);
    };
    let local_redeemed_minor: i64 = tx.query_row(
        "SELECT coalesce(sum(amount_minor), 0) FROM gift_card_redemptions WHERE code = ?1",
        params![code],
        |row| row.get(0),
    )?;
    Ok(Some(GiftCardView {
        allowance,
        local_redeemed_minor,
    }))
}

impl From<Unpayable> for GiftCardPaymentError {
    fn from(refusal: Unpayable) -> Self {
        match refusal {
            Unpayable::NotFound => GiftCardPaymentError::OrderNotFound,
            Unpayable::NotPayable(state) => GiftCardPaymentError::NotPayable(state),
            Unpayable::BadAmount { balance_due_minor } => {
                GiftCardPaymentError::BadAmount { balance_due_minor }
            }
        }
    }
}

impl Store {
    pub fn gift_card(&self, code: &str) -> Result<Option<GiftCardView>, StoreError> {
        view_tx(&self.lock(), code)
    }

    /// Pays `amount_minor` of the order with the gift card `code`, within the outlet's
    /// allowance; the payment, the terminal's drawer, the redemption and both ops commit
    /// together.
    pub fn redeem_gift_card(
        &self,
        order_id: OrderId,
        code: &str,
        amount_minor: i64,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<Order, GiftCardPaymentError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let mut order = match payable_order(&tx, order_id, amount_minor)? {
            Ok(order) => order,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let Some(view) = view_tx(&tx, code)? else {
            return Ok(Err(GiftCardPaymentError::UnknownCard));
        };
        if let Err(refusal) = view.allowance.admit(
            amount_minor,
            order.currency.code(),
            view.local_redeemed_minor,
            now_ms,
        ) {
            return Ok(Err(refusal.into()));
        }
        let id = Uuid::now_v7();
        take_checked_payment_tx(
            &tx,
            self.node_id,
            &mut order,
            CheckedPayment {
                id: PaymentId(id),
                tender: Tender::GiftCard,
                amount_minor,
                terminal,
                now_ms,
            },
        )?;
        tx.execute(
            "INSERT INTO gift_card_redemptions (id, code, order_id, amount_minor, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id.to_string(),
                code,
                order_id.0.to_string(),
                amount_minor,
                now_ms
            ],
        )?;
        let body = OpBody::GiftCard(GiftCardOpV1::Redeemed {
            entry_id: *id.as_bytes(),
            code: code.to_owned(),
            order_id: *order_id.0.as_bytes(),
            amount_minor,
            currency: order.currency.code().to_owned(),
            redeemed_at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "gift_card", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok(order))
    }
}

/// A hold this outlet asked the hub for: more than it may take offline on a card, taken only
/// once the hub approves it against the card's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardHold {
    pub id: Uuid,
    pub code: String,
    pub order_id: OrderId,
    pub amount_minor: i64,
    /// `pending`, `paid` (approved and taken), `declined`, `cancelled` (the cashier gave up),
    /// `released` (approved, but the order no longer took it: given back).
    pub state: String,
    pub reason: String,
    pub requested_at_ms: i64,
    pub decided_at_ms: Option<i64>,
}

/// Why a hold could not be cancelled; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum HoldCancelError {
    #[error("no such gift-card hold")]
    NotFound,
    #[error("the hold is {0} and can no longer be cancelled")]
    NotPending(String),
}

const HOLD_COLUMNS: &str =
    "id, code, order_id, amount_minor, state, reason, requested_at_ms, decided_at_ms";

type HoldRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    Option<i64>,
);

fn hold_from_row(row: HoldRow) -> Result<GiftCardHold, StoreError> {
    let uuid = |text: &str| {
        text.parse::<Uuid>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    Ok(GiftCardHold {
        id: uuid(&row.0)?,
        code: row.1,
        order_id: OrderId(uuid(&row.2)?),
        amount_minor: row.3,
        state: row.4,
        reason: row.5,
        requested_at_ms: row.6,
        decided_at_ms: row.7,
    })
}

fn load_hold_tx(
    connection: &rusqlite::Connection,
    id: Uuid,
) -> Result<Option<(GiftCardHold, Uuid)>, StoreError> {
    let row = connection
        .query_row(
            &format!("SELECT {HOLD_COLUMNS}, terminal_id FROM gift_card_holds WHERE id = ?1"),
            params![id.to_string()],
            |row| {
                Ok((
                    (
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                    ),
                    row.get::<_, String>(8)?,
                ))
            },
        )
        .optional()?;
    row.map(|(row, terminal)| {
        Ok((
            hold_from_row(row)?,
            terminal
                .parse()
                .map_err(|e: uuid::Error| StoreError::Corrupt(e.to_string()))?,
        ))
    })
    .transpose()
}

fn set_hold_state_tx(
    tx: &Transaction<'_>,
    id: Uuid,
    state: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE gift_card_holds SET state = ?2, reason = ?3, decided_at_ms = ?4 WHERE id = ?1",
        params![id.to_string(), state, reason, now_ms],
    )?;
    Ok(())
}

fn release_op_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    hold: &GiftCardHold,
    now_ms: i64,
) -> Result<(), StoreError> {
    let body = OpBody::GiftCard(GiftCardOpV1::HoldReleased {
        hold_id: *hold.id.as_bytes(),
        code: hold.code.clone(),
        released_at_ms: now_ms,
    });
    append_op_body(tx, node_id, "gift_card", &body, now_ms)?;
    Ok(())
}

/// Applies the hub's answer to a hold: an approved hold still wanted is taken as the order's
/// payment (payment id = hold id, the hub's ledger entry), with its drawer entry and redemption
/// op; one the order can no longer take, or the cashier cancelled, is given back with a
/// release op; a declined one records why.
pub(super) fn apply_hold_decision_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    hold_id: [u8; 16],
    approved: bool,
    reason: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let Some((hold, terminal)) = load_hold_tx(tx, Uuid::from_bytes(hold_id))? else {
        tracing::warn!("the hub decided a gift-card hold this outlet does not know");
        return Ok(());
    };
    match (hold.state.as_str(), approved) {
        ("pending", false) => set_hold_state_tx(tx, hold.id, "declined", reason, now_ms),
        ("pending", true) => match payable_order(tx, hold.order_id, hold.amount_minor)? {
            Ok(mut order) => {
                take_checked_payment_tx(
                    tx,
                    node_id,
                    &mut order,
                    CheckedPayment {
                        id: PaymentId(hold.id),
                        tender: Tender::GiftCard,
                        amount_minor: hold.amount_minor,
                        terminal,
                        now_ms,
                    },
                )?;
                tx.execute(
                    "INSERT INTO gift_card_redemptions (id, code, order_id, amount_minor, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        hold.id.to_string(),
                        hold.code,
                        hold.order_id.0.to_string(),
                        hold.amount_minor,
                        now_ms
                    ],
                )?;
                let body = OpBody::GiftCard(GiftCardOpV1::Redeemed {
                    entry_id: *hold.id.as_bytes(),
                    code: hold.code.clone(),
                    order_id: *hold.order_id.0.as_bytes(),
                    amount_minor: hold.amount_minor,
                    currency: order.currency.code().to_owned(),
                    redeemed_at_ms: now_ms,
                });
                append_op_body(tx, node_id, "gift_card", &body, now_ms)?;
                set_hold_state_tx(tx, hold.id, "paid", "", now_ms)
            }
            Err(refusal) => {
                release_op_tx(tx, node_id, &hold, now_ms)?;
                set_hold_state_tx(
                    tx,
                    hold.id,
                    "released",
                    &format!("the order no longer takes it ({refusal:?})"),
                    now_ms,
                )
            }
        },
        // Cancelled here before the answer: the release op already went; nothing more to do.
        _ => Ok(()),
    }
}

impl Store {
    /// Asks the hub to take `amount_minor` off card `code` for the order (beyond what this
    /// outlet may take offline). Checked like a redemption but for the allowance; the hold and
    /// its op commit together, and the hub's answer arrives over the feed.
    pub fn request_gift_card_hold(
        &self,
        order_id: OrderId,
        code: &str,
        amount_minor: i64,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<GiftCardHold, GiftCardPaymentError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let order = match payable_order(&tx, order_id, amount_minor)? {
            Ok(order) => order,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let Some(view) = view_tx(&tx, code)? else {
            return Ok(Err(GiftCardPaymentError::UnknownCard));
        };
        match view.allowance.admit(
            amount_minor,
            order.currency.code(),
            view.local_redeemed_minor,
            now_ms,
        ) {
            Ok(()) | Err(RedeemError::OverAllowance { .. }) => {}
            Err(refusal) => return Ok(Err(refusal.into())),
        }
        let hold = GiftCardHold {
            id: Uuid::now_v7(),
            code: code.to_owned(),
            order_id,
            amount_minor,
            state: "pending".into(),
            reason: String::new(),
            requested_at_ms: now_ms,
            decided_at_ms: None,
        };
        tx.execute(
            "INSERT INTO gift_card_holds (id, code, order_id, amount_minor, terminal_id, state,
                requested_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            params![
                hold.id.to_string(),
                code,
                order_id.0.to_string(),
                amount_minor,
                terminal.to_string(),
                now_ms
            ],
        )?;
        let body = OpBody::GiftCard(GiftCardOpV1::HoldRequested {
            hold_id: *hold.id.as_bytes(),
            code: code.to_owned(),
            order_id: *order_id.0.as_bytes(),
            amount_minor,
            currency: order.currency.code().to_owned(),
            requested_at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "gift_card", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok(hold))
    }

    pub fn gift_card_hold(&self, id: Uuid) -> Result<Option<GiftCardHold>, StoreError> {
        Ok(load_hold_tx(&self.lock(), id)?.map(|(hold, _)| hold))
    }

    /// The cashier gives up on a pending hold: it is cancelled here, and a release op tells
    /// the hub to give the value back if it approves (or approved) it.
    pub fn cancel_gift_card_hold(
        &self,
        id: Uuid,
        now_ms: i64,
    ) -> Result<Result<GiftCardHold, HoldCancelError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some((mut hold, _)) = load_hold_tx(&tx, id)? else {
            return Ok(Err(HoldCancelError::NotFound));
        };
        if hold.state != "pending" {
            return Ok(Err(HoldCancelError::NotPending(hold.state)));
        }
        release_op_tx(&tx, self.node_id, &hold, now_ms)?;
        set_hold_state_tx(&tx, id, "cancelled", "cancelled at the till", now_ms)?;
        tx.commit()?;
        hold.state = "cancelled".into();
        hold.reason = "cancelled at the till".into();
        hold.decided_at_ms = Some(now_ms);
        Ok(Ok(hold))
    }
}
