//! Tip pooling at the outlet: the tips of a period shared among those who worked it, by the
//! outlet's rule (time worked, or points per role × time worked), every cent allocated.

use super::staff::{AccessError, Caller};
use crate::store::{Store, StoreError};
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
