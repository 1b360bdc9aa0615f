//! Cash-drawer sessions: SQL only. At most one session that is not closed per terminal, enforced
//! by a partial unique index, so two requests racing to open a drawer cannot both win.

use super::{Store, StoreError, append_op_body, parse_json};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::drawer::{DrawerError, DrawerEvent, DrawerSession, DrawerState};
use shared_model::order::Refund;
use shared_model::{DrawerSessionId, Payment};
use sync_protocol::op::{DrawerOpV1, OpBody};
use uuid::Uuid;

/// Why a drawer change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DrawerChangeError {
    #[error("this terminal already has an open drawer")]
    AlreadyOpen,
    #[error("this terminal has no open drawer")]
    NoOpenDrawer,
    #[error(transparent)]
    Rule(#[from] DrawerError),
}

fn load_open(tx: &Transaction<'_>, terminal: Uuid) -> Result<Option<DrawerSession>, StoreError> {
    let doc: Option<String> = tx
        .query_row(
            "SELECT doc FROM drawer_sessions WHERE terminal_id = ?1 AND state <> 'closed'",
            params![terminal.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    doc.map(|doc| parse_json(&doc)).transpose()
}

fn save(tx: &Transaction<'_>, session: &DrawerSession) -> Result<(), StoreError> {
    let doc = serde_json::to_string(session).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "UPDATE drawer_sessions SET state = ?2, doc = ?3, closed_at_ms = ?4 WHERE id = ?1",
        params![
            session.id.to_string(),
            session.state.as_str(),
            doc,
            session.closed_at_ms
        ],
    )?;
    Ok(())
}

fn append(
    tx: &Transaction<'_>,
    node_id: Uuid,
    session: DrawerSessionId,
    event: &DrawerEvent,
    now_ms: i64,
) -> Result<(), StoreError> {
    let body = OpBody::Drawer(DrawerOpV1::for_session(session, event));
    append_op_body(tx, node_id, "drawer", &body, now_ms)?;
    Ok(())
}

/// Records a payment in the terminal's open drawer, inside the payment's own transaction.
/// A drawer already counted takes no more sales; the payment still stands.
pub(super) fn record_payment_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    terminal: Uuid,
    payment: &Payment,
    now_ms: i64,
) -> Result<(), StoreError> {
    let Some(mut session) = load_open(tx, terminal)? else {
        return Ok(());
    };
    if session.state != DrawerState::Open {
        tracing::warn!(terminal = %terminal, "payment taken on a terminal whose drawer is already counted");
        return Ok(());
    }
    let event = session
        .take(payment.tender, payment.amount_minor, now_ms)
        .map_err(|e| StoreError::Corrupt(format!("drawer refused a payment: {e}")))?;
    session
        .apply(&event)
        .map_err(|e| StoreError::Corrupt(format!("drawer event does not apply: {e}")))?;
    save(tx, &session)?;
    append(tx, node_id, session.id, &event, now_ms)
}

/// Takes a refund out of the terminal's open drawer, inside the refund's own transaction (the
/// caller checked there is enough cash, in the same transaction).
pub(super) fn record_refund_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    terminal: Uuid,
    refund: &Refund,
    now_ms: i64,
) -> Result<(), StoreError> {
    let Some(mut session) = load_open(tx, terminal)? else {
        return Ok(());
    };
    if session.state != DrawerState::Open {
        tracing::warn!(terminal = %terminal, "refund on a terminal whose drawer is already counted");
        return Ok(());
    }
    let event = session
        .refund(refund.tender, refund.amount_minor, now_ms)
        .map_err(|e| StoreError::Corrupt(format!("drawer refused a checked refund: {e}")))?;
    session
        .apply(&event)
        .map_err(|e| StoreError::Corrupt(format!("drawer event does not apply: {e}")))?;
    save(tx, &session)?;
    append(tx, node_id, session.id, &event, now_ms)
}

/// Pays `amount_minor` of cash out of the terminal's open drawer inside the caller's
/// transaction (a cash tip-out), with its op; the session's id, or why the drawer refused.
pub(super) fn pay_out_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    terminal: Uuid,
    amount_minor: i64,
    reason: &str,
    now_ms: i64,
) -> Result<Result<DrawerSessionId, DrawerChangeError>, StoreError> {
    let Some(mut session) = load_open(tx, terminal)? else {
        return Ok(Err(DrawerChangeError::NoOpenDrawer));
    };
    let event = match session.pay_out(amount_minor, reason, now_ms) {
        Ok(event) => event,
        Err(error) => return Ok(Err(error.into())),
    };
    session
        .apply(&event)
        .map_err(|e| StoreError::Corrupt(format!("decided drawer event does not apply: {e}")))?;
    save(tx, &session)?;
    append(tx, node_id, session.id, &event, now_ms)?;
    Ok(Ok(session.id))
}

/// Expected cash of the terminal's open drawer, in the caller's transaction.
pub(super) fn open_cash_tx(
    tx: &Transaction<'_>,
    terminal: Uuid,
) -> Result<Option<i64>, StoreError> {
    Ok(load_open(tx, terminal)?
        .filter(|session| session.state == DrawerState::Open)
        .map(|session| session.expected_minor(shared_model::Tender::Cash)))
}

impl Store {
    /// Opens a drawer session for `terminal` with an `Opened` event decided by the caller.
    pub fn open_drawer(
        &self,
        event: &DrawerEvent,
        terminal: Uuid,
        now_ms: i64,
    ) -> Result<Result<DrawerSession, DrawerChangeError>, StoreError> {
        let session = DrawerSession::from_opened(event)
            .ok_or_else(|| StoreError::Corrupt("not an Opened event".into()))?;
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let doc =
            serde_json::to_string(&session).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = tx.execute(
            "INSERT INTO drawer_sessions (id, terminal_id, state, doc, opened_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session.id.to_string(), terminal.to_string(), session.state.as_str(), doc, now_ms],
        );
        match inserted {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Ok(Err(DrawerChangeError::AlreadyOpen));
            }
            Err(other) => return Err(other.into()),
        }
        append(&tx, self.node_id, session.id, event, now_ms)?;
        tx.commit()?;
        Ok(Ok(session))
    }

    /// Decides and commits a change to `terminal`'s open drawer, with its op. `decide` gets the
    /// next Z number for a close.
    pub fn change_drawer(
        &self,
        terminal: Uuid,
        now_ms: i64,
        decide: impl FnOnce(&DrawerSession, u64) -> Result<DrawerEvent, DrawerError>,
    ) -> Result<Result<DrawerSession, DrawerChangeError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(mut session) = load_open(&tx, terminal)? else {
            return Ok(Err(DrawerChangeError::NoOpenDrawer));
        };
        let z_current: i64 = tx.query_row(
            "SELECT value FROM counters WHERE name = 'z_number'",
            [],
            |row| row.get(0),
        )?;
        let event = match decide(&session, z_current as u64 + 1) {
            Ok(event) => event,
            Err(error) => return Ok(Err(error.into())),
        };
        session.apply(&event).map_err(|e| {
            StoreError::Corrupt(format!("decided drawer event does not apply: {e}"))
        })?;
        if let DrawerEvent::Closed { z_number, .. } = &event {
            tx.execute(
                "UPDATE counters SET value = ?1 WHERE name = 'z_number'",
                params![*z_number as i64],
            )?;
        }
        save(&tx, &session)?;
        append(&tx, self.node_id, session.id, &event, now_ms)?;
        tx.commit()?;
        Ok(Ok(session))
    }

    /// The terminal's drawer session that is not closed yet, if any.
    pub fn open_drawer_of(&self, terminal: Uuid) -> Result<Option<DrawerSession>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let session = load_open(&tx, terminal)?;
        tx.commit()?;
        Ok(session)
    }
}
