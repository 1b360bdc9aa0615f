//! Gift-card redemptions at the till within the hub's allowance for each card: SQL only.
//!
//! The hub's word on a card (its allowance for this outlet, and how much of this outlet's
//! redemptions it had counted) arrives over the feed. A redemption is checked against that word
//! and everything redeemed here since (`shared_model::gift_card`), and the order's payment, the
//! drawer, the outlet's redemption record and the op for the hub's ledger commit together.

use super::{Store, StoreError, append_op, append_op_body, load_order, save_order};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::gift_card::{GiftCardAllowance, RedeemError};
use shared_model::{Order, OrderEvent, OrderId, PaymentId, Tender};
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
        let Some(mut order) = load_order(&tx, order_id)? else {
            return Ok(Err(GiftCardPaymentError::OrderNotFound));
        };
        if !order.state.accepts_payments() {
            return Ok(Err(GiftCardPaymentError::NotPayable(order.state.as_str())));
        }
        let balance_due_minor = order.totals().balance_due_minor;
        if amount_minor <= 0 || amount_minor > balance_due_minor {
            return Ok(Err(GiftCardPaymentError::BadAmount { balance_due_minor }));
        }
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
        let event = order
            .take_payment(PaymentId(id), Tender::GiftCard, amount_minor, now_ms)
            .map_err(|e| StoreError::Corrupt(format!("a checked payment was refused: {e}")))?;
        order
            .apply(&event)
            .map_err(|e| StoreError::Corrupt(format!("a payment does not apply: {e}")))?;
        save_order(&tx, &order, now_ms)?;
        append_op(&tx, self.node_id, &event, now_ms)?;
        if let OrderEvent::PaymentTaken { payment, .. } = &event {
            super::drawers::record_payment_tx(&tx, self.node_id, terminal, payment, now_ms)?;
        }
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
