//! Tip pooling at the outlet: the tips of a period shared among those who worked it, by the
//! outlet's rule (time worked, or points per role × time worked), every cent allocated.

use super::staff::{AccessError, Caller};
use crate::store::{Store, StoreError, TipPayoutOutcome};
use shared_model::staff::Action;
use shared_model::tips::{TipOut, TipPoolRule, share};
use std::sync::Arc;

/// Where the outlet's rule is kept.
const RULE_SETTING: &str = "tip_pool_rule";
/// Longest period one pool covers. Why 31 days: a month's tips; longer is a report, not a pool.
pub const POOL_PERIOD_MS_MAX: i64 = 31 * 24 * 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum TipPoolError {
    #[error("the period must end after it starts and span at most 31 days")]
    BadPeriod,
    #[error("a period is paid out once it is over")]
    PeriodNotOver,
    #[error("no tips were taken in the period")]
    NothingToPay,
    #[error("an earlier payout already covers part of this period")]
    AlreadyPaidOut,
    /// Paid in cash, but this terminal's drawer could not hand it out.
    #[error(transparent)]
    Drawer(crate::store::DrawerChangeError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A period's pool and how it is shared.
#[derive(Debug, Clone)]
pub struct TipPool {
    pub tips_minor: i64,
    pub rule: TipPoolRule,
    pub outs: Vec<TipOut>,
}

pub fn rule(store: &Store) -> Result<TipPoolRule, StoreError> {
    match store.setting(RULE_SETTING)? {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("tip rule: {e}")))
        }
        None => Ok(TipPoolRule::default()),
    }
}

/// Sets the outlet's rule (a manager's decision: needs `manage_staff`).
pub async fn set_rule(
    store: Arc<Store>,
    caller: &Caller,
    new_rule: TipPoolRule,
) -> Result<(), TipPoolError> {
    caller.require(Action::ManageStaff)?;
    let text = serde_json::to_string(&new_rule)
        .map_err(|e| StoreError::Corrupt(format!("tip rule: {e}")))?;
    super::blocking(move || store.put_setting(RULE_SETTING, &text)).await?;
    Ok(())
}

/// The pool of `[from_ms, to_ms)` and each staff member's share of it.
pub async fn pool(
    store: Arc<Store>,
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
) -> Result<TipPool, TipPoolError> {
    if to_ms <= from_ms || to_ms - from_ms > POOL_PERIOD_MS_MAX {
        return Err(TipPoolError::BadPeriod);
    }
    Ok(super::blocking(move || {
        let rule = rule(&store)?;
        let tips_minor = store.tips_between(from_ms, to_ms)?;
        let staff = store.staff_time_between(from_ms, to_ms, now_ms)?;
        let outs = share(tips_minor, &staff, &rule);
        Ok(TipPool {
            tips_minor,
            rule,
            outs,
        })
    })
    .await?)
}

/// Closes the pool of `[from_ms, to_ms)` (a manager's decision, at the end of a shift or week):
/// shares it by the outlet's rule and records who gets what, once, as a fact for the hub and
/// payroll. A period overlapping an earlier payout is refused. `in_cash_from_drawer`: the
/// total is handed out from this terminal's open drawer, as a pay-out in the same commit, so
/// the drawer's expected cash (and its count at close) already allows for it.
pub async fn pay_out(
    store: Arc<Store>,
    caller: &Caller,
    from_ms: i64,
    to_ms: i64,
    in_cash_from_drawer: bool,
    now_ms: i64,
) -> Result<(crate::store::TipPayoutRow, TipPool), TipPoolError> {
    let manager = caller.require(Action::ManageStaff)?.staff_id;
    if to_ms > now_ms {
        return Err(TipPoolError::PeriodNotOver);
    }
    let pool = pool(store.clone(), from_ms, to_ms, now_ms).await?;
    if pool.tips_minor == 0 || pool.outs.iter().all(|out| out.amount_minor == 0) {
        return Err(TipPoolError::NothingToPay);
    }
    let payout = sync_protocol::op::TipPayoutV1 {
        payout_id: *uuid::Uuid::now_v7().as_bytes(),
        from_ms,
        to_ms,
        tips_minor: pool.tips_minor,
        shares: pool
            .outs
            .iter()
            .map(|out| sync_protocol::op::TipShareV1 {
                staff_id: *out.staff_id.as_bytes(),
                weight: out.weight,
                amount_minor: out.amount_minor,
            })
            .collect(),
        by_staff_id: *manager.as_bytes(),
        paid_at_ms: now_ms,
    };
    let mut row = crate::store::TipPayoutRow {
        id: uuid::Uuid::from_bytes(payout.payout_id),
        from_ms,
        to_ms,
        tips_minor: pool.tips_minor,
        shares: serde_json::Value::Null,
        by_staff_id: manager,
        paid_at_ms: now_ms,
        drawer_session_id: None,
    };
    let drawer = in_cash_from_drawer.then_some(caller.device.id);
    match super::blocking(move || store.record_tip_payout(&payout, drawer)).await? {
        TipPayoutOutcome::Recorded { drawer_session } => row.drawer_session_id = drawer_session,
        TipPayoutOutcome::AlreadyPaidOut => return Err(TipPoolError::AlreadyPaidOut),
        TipPayoutOutcome::DrawerRefused(refused) => return Err(TipPoolError::Drawer(refused)),
    }
    Ok((row, pool))
}
