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
