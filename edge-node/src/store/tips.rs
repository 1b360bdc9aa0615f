//! What tip pooling reads: the tips taken in a period and who worked it: SQL only.

use super::{Store, StoreError, append_op_body, parse_json, parse_uuid};
use rusqlite::{OptionalExtension, params};
use shared_model::Order;
use shared_model::staff::Role;
use shared_model::tips::TipShareInput;
use std::collections::BTreeMap;
use sync_protocol::op::{OpBody, TipPayoutV1};

impl Store {
    /// Tips added in `[from_ms, to_ms)` on any order (voided orders' tips excluded).
    pub fn tips_between(&self, from_ms: i64, to_ms: i64) -> Result<i64, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT doc FROM orders WHERE updated_at_ms >= ?1 AND doc LIKE '%\"tips\":[{%'",
        )?;
        let docs = statement
            .query_map(params![from_ms], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut total_minor = 0_i64;
        for doc in docs {
            let order: Order = parse_json(&doc)?;
            if order.state == shared_model::OrderState::Voided {
                continue;
            }
            total_minor += order
                .tips
                .iter()
                .filter(|tip| (from_ms..to_ms).contains(&tip.added_at_ms))
                .map(|tip| tip.amount_minor)
                .sum::<i64>();
        }
        Ok(total_minor)
    }

    /// Minutes each staff member was signed in within `[from_ms, to_ms)` (sessions still open
    /// count until `now_ms`), with their role.
    pub fn staff_time_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<TipShareInput>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT s.staff_id, st.role, s.started_at_ms, coalesce(s.ended_at_ms, ?3)
             FROM staff_sessions s JOIN staff st ON st.id = s.staff_id
             WHERE s.started_at_ms < ?2 AND coalesce(s.ended_at_ms, ?3) > ?1",
        )?;
        let rows = statement
            .query_map(params![from_ms, to_ms, now_ms], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut minutes: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (staff_id, role, started, ended) in rows {
            let worked_ms = (ended.min(to_ms) - started.max(from_ms)).max(0);
            *minutes.entry((staff_id, role)).or_default() += (worked_ms / 60_000) as u64;
        }
        minutes
            .into_iter()
            .map(|((staff_id, role), minutes_worked)| {
                Ok(TipShareInput {
                    staff_id: parse_uuid(&staff_id)?,
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role}")))?,
                    minutes_worked,
                })
            })
            .collect()
    }
}

impl Store {
    /// Records a period's tip payout and its op, unless an earlier payout covers any of the
    /// period: a pool is paid out once. Paid in cash from `from_drawer` (a terminal), the
    /// total leaves that terminal's open drawer as a pay-out in the same transaction, or
    /// nothing is recorded.
    pub fn record_tip_payout(
        &self,
        payout: &TipPayoutV1,
        from_drawer: Option<uuid::Uuid>,
    ) -> Result<TipPayoutOutcome, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let overlapping: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM tip_payouts WHERE from_ms < ?2 AND to_ms > ?1 LIMIT 1",
                params![payout.from_ms, payout.to_ms],
                |row| row.get(0),
            )
            .optional()?;
        if overlapping.is_some() {
            return Ok(TipPayoutOutcome::AlreadyPaidOut);
        }
        let payout_id = uuid::Uuid::from_bytes(payout.payout_id);
        let drawer_session = match from_drawer {
            None => None,
            Some(terminal) => {
                let reason = format!("tips paid out in cash (payout {payout_id})");
                match super::drawers::pay_out_tx(
                    &tx,
                    self.node_id,
                    terminal,
                    payout.tips_minor,
                    &reason,
                    payout.paid_at_ms,
                )? {
                    Ok(session) => {
                        // Before the payout's own op, so the hub knows it was paid in cash
                        // when the payout reaches it, and does not ask the treasury to pay it.
                        append_op_body(
                            &tx,
                            self.node_id,
                            "tips.payout_in_cash",
                            &OpBody::TipPayoutInCash {
                                payout_id: payout.payout_id,
                                drawer_session_id: *session.0.as_bytes(),
                            },
                            payout.paid_at_ms,
                        )?;
                        Some(session.to_string())
                    }
                    Err(refused) => return Ok(TipPayoutOutcome::DrawerRefused(refused)),
                }
            }
        };
        let shares = serde_json::to_string(
            &payout
                .shares
                .iter()
                .map(|share| {
                    serde_json::json!({"staff_id": uuid::Uuid::from_bytes(share.staff_id),
                        "weight": share.weight, "amount_minor": share.amount_minor})
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO tip_payouts (id, from_ms, to_ms, tips_minor, shares, by_staff_id,
                paid_at_ms, drawer_session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                payout_id.to_string(),
                payout.from_ms,
                payout.to_ms,
                payout.tips_minor,
                shares,
                uuid::Uuid::from_bytes(payout.by_staff_id).to_string(),
                payout.paid_at_ms,
                drawer_session
            ],
        )?;
        append_op_body(
            &tx,
            self.node_id,
            "tips.payout",
            &OpBody::TipPayout(payout.clone()),
            payout.paid_at_ms,
        )?;
        tx.commit()?;
        Ok(TipPayoutOutcome::Recorded { drawer_session })
    }

    /// The payouts recorded here, newest period first.
    pub fn tip_payouts(&self, limit: usize) -> Result<Vec<TipPayoutRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, from_ms, to_ms, tips_minor, shares, by_staff_id, paid_at_ms,
                    drawer_session_id
             FROM tip_payouts ORDER BY from_ms DESC LIMIT ?1",
        )?;
        let rows = statement
            .query_map(params![limit as i64], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, Option<String>>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(id, from_ms, to_ms, tips_minor, shares, by, paid_at_ms, drawer)| {
                    Ok(TipPayoutRow {
                        id: parse_uuid(&id)?,
                        from_ms,
                        to_ms,
                        tips_minor,
                        shares: parse_json(&shares)?,
                        by_staff_id: parse_uuid(&by)?,
                        paid_at_ms,
                        drawer_session_id: drawer,
                    })
                },
            )
            .collect()
    }
}

/// A recorded payout; `shares` is `[{"staff_id", "weight", "amount_minor"}]`.
#[derive(Debug, Clone)]
pub struct TipPayoutRow {
    pub id: uuid::Uuid,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tips_minor: i64,
    pub shares: serde_json::Value,
    pub by_staff_id: uuid::Uuid,
    pub paid_at_ms: i64,
    /// The drawer session the payout was handed out from in cash, if it was.
    pub drawer_session_id: Option<String>,
}

/// What recording a tip payout did.
#[derive(Debug)]
pub enum TipPayoutOutcome {
    Recorded {
        drawer_session: Option<String>,
    },
    /// An earlier payout covers part of the period.
    AlreadyPaidOut,
    /// Paid in cash, but the terminal's drawer could not pay it.
    DrawerRefused(super::DrawerChangeError),
}
