//! Cash drawers at the terminal: open with a float, pay-ins, pay-outs and drops, a blind count,
//! and the close with its numbered Z report. Rules are `shared-model::drawer`'s; each change
//! and its op commit together; card and cash payments taken at the terminal land in its open
//! drawer in the payment's own transaction.

use super::staff::{AccessError, Caller};
use crate::store::{DrawerChangeError, Store, StoreError};
use shared_model::DrawerSessionId;
use shared_model::drawer::{DrawerError, DrawerReport, DrawerSession, TenderCount};
use shared_model::staff::{Action, Role};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum DrawerServiceError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Change(#[from] DrawerChangeError),
    #[error("only a supervisor or manager reads the drawer's expected takings before the count")]
    ReportNotPermitted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DrawerError> for DrawerServiceError {
    fn from(error: DrawerError) -> Self {
        DrawerServiceError::Change(DrawerChangeError::Rule(error))
    }
}

/// A drawer change, decided against the open session.
pub enum Movement {
    PayIn {
        amount_minor: i64,
        reason: String,
    },
    PayOut {
        amount_minor: i64,
        reason: String,
    },
    Drop {
        amount_minor: i64,
    },
    /// The blind count.
    Count(Vec<TenderCount>),
    Close,
}

pub struct DrawerService {
    store: Arc<Store>,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DrawerServiceError> + Send + 'static,
) -> Result<T, DrawerServiceError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        DrawerServiceError::Store(StoreError::Corrupt(format!("store task failed: {e}")))
    })?
}

impl DrawerService {
    pub fn new(store: Arc<Store>) -> DrawerService {
        DrawerService { store }
    }

    /// Opens this terminal's drawer for the signed-in cashier with `float_minor`.
    pub async fn open(
        &self,
        caller: Caller,
        float_minor: i64,
        now_ms: i64,
    ) -> Result<DrawerSession, DrawerServiceError> {
        let cashier = caller.require(Action::TakePayments)?.staff_id;
        let terminal = caller.device.id;
        let event = DrawerSession::open(
            DrawerSessionId(Uuid::now_v7()),
            &terminal.to_string(),
            &cashier.to_string(),
            float_minor,
            now_ms,
        )?;
        let store = self.store.clone();
        blocking(move || Ok(store.open_drawer(&event, terminal, now_ms)??)).await
    }

    /// Applies `movement` to this terminal's open drawer.
    pub async fn change(
        &self,
        caller: Caller,
        movement: Movement,
        now_ms: i64,
    ) -> Result<DrawerSession, DrawerServiceError> {
        caller.require(Action::TakePayments)?;
        let terminal = caller.device.id;
        let store = self.store.clone();
        blocking(move || {
            Ok(
                store.change_drawer(terminal, now_ms, |session, z_next| match movement {
                    Movement::PayIn {
                        amount_minor,
                        reason,
                    } => session.pay_in(amount_minor, &reason, now_ms),
                    Movement::PayOut {
                        amount_minor,
                        reason,
                    } => session.pay_out(amount_minor, &reason, now_ms),
                    Movement::Drop { amount_minor } => session.drop_to_safe(amount_minor, now_ms),
                    Movement::Count(counts) => session.count(counts, now_ms),
                    Movement::Close => session.close(z_next, now_ms),
                })??,
            )
        })
        .await
    }

    /// The X report of this terminal's open drawer (expected takings): supervisors and managers
    /// only, so the cashier's count stays blind.
    pub async fn report(&self, caller: Caller) -> Result<DrawerReport, DrawerServiceError> {
        let role = caller.actor().map(|actor| actor.role);
        if !matches!(role, Some(Role::Supervisor | Role::Manager)) {
            return Err(DrawerServiceError::ReportNotPermitted);
        }
        let terminal = caller.device.id;
        let store = self.store.clone();
        blocking(move || {
            store
                .open_drawer_of(terminal)?
                .map(|session| session.report())
                .ok_or(DrawerServiceError::Change(DrawerChangeError::NoOpenDrawer))
        })
        .await
    }
}
