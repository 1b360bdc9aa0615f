//! Loyalty at the till: the member an order earns for, points burned as a payment within the
//! hub's offline allowance for the member, and single-use vouchers. SQL only.
//!
//! The hub's word arrives over the feed: the program (earn and burn rates), each member's
//! allowance for this outlet (with the outlet's burns the hub had counted), each voucher. A burn
//! or a voucher payment is checked against that word and everything taken here since
//! (`shared_model::loyalty`), and the order's payment, the terminal's drawer, the outlet's record
//! and the op for the hub's ledger commit together. Points are earned at the hub, from the order
//! itself, once it is paid: nothing here computes them.

use super::payments::{CheckedPayment, Unpayable, payable_order, take_checked_payment_tx};
use super::{Store, StoreError, append_op_body, load_order};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use shared_model::loyalty::{BurnError, LoyaltyProgram, MemberAllowance, Voucher, VoucherError};
use shared_model::{Order, OrderId, OrderState, PaymentId, Tender};
use sync_protocol::feed::{LoyaltyMemberV1, LoyaltyProgramV1, VoucherV1};
use sync_protocol::op::{LoyaltyOpV1, OpBody};
use uuid::Uuid;

/// The outlet's view of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub allowance: MemberAllowance,
    /// Everything this outlet ever burned for the member.
    pub local_burned_points: i64,
}

impl MemberView {
    pub fn remaining_points(&self) -> i64 {
        self.allowance.remaining_points(self.local_burned_points)
    }

    /// Burned here and not yet counted by the hub.
    pub fn unconfirmed_points(&self) -> i64 {
        (self.local_burned_points - self.allowance.outlet_burned_points).max(0)
    }
}

/// The outlet's view of a voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherView {
    pub voucher: Voucher,
    /// The order this outlet took it on, if it did.
    pub redeemed_on: Option<OrderId>,
}

/// Why a loyalty change at the till was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum LoyaltyPaymentError {
    #[error("order not found")]
    OrderNotFound,
    #[error("the hub has not told this outlet about that loyalty member")]
    UnknownMember,
    #[error("the hub has not told this outlet about that voucher")]
    UnknownVoucher,
    #[error("the tenant has no loyalty program at this outlet yet")]
    NoProgram,
    #[error("the order is {0} and takes no payments")]
    NotPayable(&'static str),
    #[error("the order is {0}")]
    NotOpenForMembers(&'static str),
    #[error(
        "the points are worth {amount_minor}, more than the balance due of {balance_due_minor}"
    )]
    BadAmount {
        amount_minor: i64,
        balance_due_minor: i64,
    },
    #[error("the program is in {program}, the order in {order}")]
    Currency { program: String, order: String },
    #[error(transparent)]
    Burn(#[from] BurnError),
    #[error(transparent)]
    Voucher(#[from] VoucherError),
}

impl From<Unpayable> for LoyaltyPaymentError {
    fn from(refusal: Unpayable) -> Self {
        match refusal {
            Unpayable::NotFound => LoyaltyPaymentError::OrderNotFound,
            Unpayable::NotPayable(state) => LoyaltyPaymentError::NotPayable(state),
            Unpayable::BadAmount { balance_due_minor } => LoyaltyPaymentError::BadAmount {
                amount_minor: 0,
                balance_due_minor,
            },
        }
    }
}

pub(super) fn set_program_tx(
    tx: &Transaction<'_>,
    wire: &LoyaltyProgramV1,
) -> Result<(), StoreError> {
    let program = LoyaltyProgram::from(wire);
    let doc = serde_json::to_string(&program).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO loyalty_program (id, doc) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        params![doc],
    )?;
    Ok(())
}

pub(super) fn set_member_tx(
    tx: &Transaction<'_>,
    wire: &LoyaltyMemberV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO loyalty_members (code, name, active, balance_points, allowance_points,
            outlet_burned_points, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, active = excluded.active,
            balance_points = excluded.balance_points,
            allowance_points = excluded.allowance_points,
            outlet_burned_points = excluded.outlet_burned_points,
            updated_at_ms = excluded.updated_at_ms",
        params![
            wire.code,
            wire.name,
            wire.active,
            wire.balance_points,
            wire.allowance_points,
            wire.outlet_burned_points,
            now_ms
        ],
    )?;
    Ok(())
}

pub(super) fn set_voucher_tx(
    tx: &Transaction<'_>,
    wire: &VoucherV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO vouchers (code, currency, value_minor, active, expires_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (code) DO UPDATE SET currency = excluded.currency,
            value_minor = excluded.value_minor, active = excluded.active,
            expires_at_ms = excluded.expires_at_ms, updated_at_ms = excluded.updated_at_ms",
        params![
            wire.code,
            wire.currency,
            wire.value_minor,
            wire.active,
            wire.expires_at_ms,
            now_ms
        ],
    )?;
    Ok(())
}

fn program_tx(connection: &Connection) -> Result<Option<LoyaltyProgram>, StoreError> {
    let doc: Option<String> = connection
        .query_row("SELECT doc FROM loyalty_program WHERE id = 1", [], |row| {
            row.get(0)
        })
        .optional()?;
    doc.map(|doc| serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

fn member_tx(connection: &Connection, code: &str) -> Result<Option<MemberView>, StoreError> {
    let allowance = connection
        .query_row(
            "SELECT name, active, balance_points, allowance_points, outlet_burned_points
             FROM loyalty_members WHERE code = ?1",
            params![code],
            |row| {
                Ok(MemberAllowance {
                    code: code.to_owned(),
                    name: row.get(0)?,
                    active: row.get(1)?,
                    balance_points: row.get(2)?,
                    allowance_points: row.get(3)?,
                    outlet_burned_points: row.get(4)?,
                })
            },
        )
        .optional()?;
    let Some(allowance) = allowance else {
        return Ok(None);
    };
    let local_burned_points: i64 = connection.query_row(
        "SELECT coalesce(sum(points), 0) FROM loyalty_burns WHERE code = ?1",
        params![code],
        |row| row.get(0),
    )?;
    Ok(Some(MemberView {
        allowance,
        local_burned_points,
    }))
}

fn voucher_tx(connection: &Connection, code: &str) -> Result<Option<VoucherView>, StoreError> {
    let voucher = connection
        .query_row(
            "SELECT currency, value_minor, active, expires_at_ms FROM vouchers WHERE code = ?1",
            params![code],
            |row| {
                Ok(Voucher {
                    code: code.to_owned(),
                    currency: row.get(0)?,
                    value_minor: row.get(1)?,
                    active: row.get(2)?,
                    expires_at_ms: row.get(3)?,
                })
            },
        )
        .optional()?;
    let Some(voucher) = voucher else {
        return Ok(None);
    };
    let redeemed_on: Option<String> = connection
        .query_row(
            "SELECT order_id FROM voucher_redemptions WHERE code = ?1 LIMIT 1",
            params![code],
            |row| row.get(0),
        )
        .optional()?;
    let redeemed_on = redeemed_on
        .map(|id| {
            id.parse::<Uuid>()
                .map(OrderId)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()?;
    Ok(Some(VoucherView {
        voucher,
        redeemed_on,
    }))
}

/// The member an order names, if any.
fn order_member_tx(
    connection: &Connection,
    order_id: OrderId,
) -> Result<Option<String>, StoreError> {
    Ok(connection
        .query_row(
            "SELECT code FROM order_members WHERE order_id = ?1",
            params![order_id.0.to_string()],
            |row| row.get(0),
        )
        .optional()?)
}

/// Names `code` as the member `order` earns for, with its op (unless it already does).
fn attach_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    order_id: OrderId,
    code: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    if order_member_tx(tx, order_id)?.as_deref() == Some(code) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO order_members (order_id, code, attached_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (order_id) DO UPDATE SET code = excluded.code,
            attached_at_ms = excluded.attached_at_ms",
        params![order_id.0.to_string(), code, now_ms],
    )?;
    let body = OpBody::Loyalty(LoyaltyOpV1::MemberAttached {
        order_id: *order_id.0.as_bytes(),
        member_code: code.to_owned(),
        attached_at_ms: now_ms,
    });
    append_op_body(tx, node_id, "loyalty", &body, now_ms)?;
    Ok(())
}

impl Store {
    pub fn loyalty_program(&self) -> Result<Option<LoyaltyProgram>, StoreError> {
        program_tx(&self.lock())
    }

    pub fn loyalty_member(&self, code: &str) -> Result<Option<MemberView>, StoreError> {
        member_tx(&self.lock(), code)
    }

    pub fn voucher(&self, code: &str) -> Result<Option<VoucherView>, StoreError> {
        voucher_tx(&self.lock(), code)
    }

    /// The member an order earns for, if one was named.
    pub fn order_member(&self, order_id: OrderId) -> Result<Option<String>, StoreError> {
        order_member_tx(&self.lock(), order_id)
    }

    /// Names the member `order_id` earns points for (replacing one named before). Any order
    /// but a voided or merged one: a customer who shows their card after paying still earns.
    pub fn attach_member(
        &self,
        order_id: OrderId,
        code: &str,
        now_ms: i64,
    ) -> Result<Result<MemberView, LoyaltyPaymentError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(order) = load_order(&tx, order_id)? else {
            return Ok(Err(LoyaltyPaymentError::OrderNotFound));
        };
        if matches!(order.state, OrderState::Voided | OrderState::Merged) {
            return Ok(Err(LoyaltyPaymentError::NotOpenForMembers(
                order.state.as_str(),
            )));
        }
        let Some(view) = member_tx(&tx, code)? else {
            return Ok(Err(LoyaltyPaymentError::UnknownMember));
        };
        if !view.allowance.active {
            return Ok(Err(BurnError::Inactive.into()));
        }
        attach_tx(&tx, self.node_id, order_id, code, now_ms)?;
        tx.commit()?;
        Ok(Ok(view))
    }

    /// Pays part of the order with `points` of member `code`, within the outlet's allowance on
    /// them. The member is named on the order if none was; the payment, the drawer, the burn
    /// and the ops commit together.
    pub fn burn_points(
        &self,
        order_id: OrderId,
        code: &str,
        points: i64,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<(Order, MemberView), LoyaltyPaymentError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(program) = program_tx(&tx)? else {
            return Ok(Err(LoyaltyPaymentError::NoProgram));
        };
        let Some(view) = member_tx(&tx, code)? else {
            return Ok(Err(LoyaltyPaymentError::UnknownMember));
        };
        if let Err(refusal) = view.allowance.admit(points, view.local_burned_points) {
            return Ok(Err(refusal.into()));
        }
        let amount_minor = program.value_of(points);
        let mut order = match payable_order(&tx, order_id, amount_minor)? {
            Ok(order) => order,
            Err(Unpayable::BadAmount { balance_due_minor }) => {
                return Ok(Err(LoyaltyPaymentError::BadAmount {
                    amount_minor,
                    balance_due_minor,
                }));
            }
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        if program.currency != order.currency.code() {
            return Ok(Err(LoyaltyPaymentError::Currency {
                program: program.currency,
                order: order.currency.code().to_owned(),
            }));
        }
        if order_member_tx(&tx, order_id)?.is_none() {
            attach_tx(&tx, self.node_id, order_id, code, now_ms)?;
        }
        let id = Uuid::now_v7();
        take_checked_payment_tx(
            &tx,
            self.node_id,
            &mut order,
            CheckedPayment {
                id: PaymentId(id),
                tender: Tender::LoyaltyPoints,
                amount_minor,
                terminal,
                now_ms,
            },
        )?;
        tx.execute(
            "INSERT INTO loyalty_burns (id, code, order_id, points, amount_minor, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.to_string(),
                code,
                order_id.0.to_string(),
                points,
                amount_minor,
                now_ms
            ],
        )?;
        let body = OpBody::Loyalty(LoyaltyOpV1::PointsBurned {
            entry_id: *id.as_bytes(),
            member_code: code.to_owned(),
            order_id: *order_id.0.as_bytes(),
            points,
            amount_minor,
            burned_at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "loyalty", &body, now_ms)?;
        let view = member_tx(&tx, code)?
            .ok_or_else(|| StoreError::Corrupt("a member vanished in a burn".into()))?;
        tx.commit()?;
        Ok(Ok((order, view)))
    }

    /// Pays the order with voucher `code`: its value, or the balance due if that is less (the
    /// rest of the voucher is forfeited). Once per voucher at this outlet.
    pub fn redeem_voucher(
        &self,
        order_id: OrderId,
        code: &str,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<(Order, VoucherView), LoyaltyPaymentError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(view) = voucher_tx(&tx, code)? else {
            return Ok(Err(LoyaltyPaymentError::UnknownVoucher));
        };
        let Some(order) = load_order(&tx, order_id)? else {
            return Ok(Err(LoyaltyPaymentError::OrderNotFound));
        };
        let balance_due_minor = order.totals().balance_due_minor;
        let amount_minor = match view.voucher.pays(
            balance_due_minor,
            order.currency.code(),
            view.redeemed_on.is_some(),
            now_ms,
        ) {
            Ok(amount_minor) => amount_minor,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let mut order = match payable_order(&tx, order_id, amount_minor)? {
            Ok(order) => order,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let id = Uuid::now_v7();
        take_checked_payment_tx(
            &tx,
            self.node_id,
            &mut order,
            CheckedPayment {
                id: PaymentId(id),
                tender: Tender::Voucher,
                amount_minor,
                terminal,
                now_ms,
            },
        )?;
        tx.execute(
            "INSERT INTO voucher_redemptions (id, code, order_id, amount_minor, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id.to_string(),
                code,
                order_id.0.to_string(),
                amount_minor,
                now_ms
            ],
        )?;
        let body = OpBody::Loyalty(LoyaltyOpV1::VoucherRedeemed {
            entry_id: *id.as_bytes(),
            code: code.to_owned(),
            order_id: *order_id.0.as_bytes(),
            amount_minor,
            currency: order.currency.code().to_owned(),
            redeemed_at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "loyalty", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok((
            order,
            VoucherView {
                voucher: view.voucher,
                redeemed_on: Some(order_id),
            },
        )))
    }
}
