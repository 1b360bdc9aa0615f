//! The treasury's last word on the refunds this outlet gave on tenders it processes (card,
//! M-Pesa), as the hub sends it down the feed: the money is back with the customer, or it is
//! not and the till must refund them by hand.

use super::kitchen::append_stream_event_tx;
use super::{Store, StoreError};
use rusqlite::{Transaction, params};
use sync_protocol::feed::TreasuryRefundSettledV1;
use uuid::Uuid;

/// A settled refund as the till knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    pub refund_id: Uuid,
    pub processed: bool,
    pub detail: String,
    pub settled_at_ms: i64,
}

/// Records a settlement from the feed, once, and tells the screens (`order.refund_settled`).
pub(super) fn apply_settled_tx(
    tx: &Transaction<'_>,
    wire: &TreasuryRefundSettledV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    let refund_id = Uuid::from_bytes(wire.refund_id);
    let order_id = Uuid::from_bytes(wire.order_id);
    let inserted = tx.execute(
        "INSERT INTO refund_outcomes
            (refund_id, order_id, processed, detail, settled_at_ms, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (refund_id) DO NOTHING",
        params![
            refund_id.to_string(),
            order_id.to_string(),
            wire.processed,
            wire.detail,
            wire.settled_at_ms,
            now_ms
        ],
    )?;
    if inserted == 1 {
        append_stream_event_tx(
            tx,
            "order.refund_settled",
            &serde_json::json!({
                "order_id": order_id.to_string(), "refund_id": refund_id.to_string(),
                "state": if wire.processed { "processed" } else { "failed" },
                "detail": wire.detail,
            }),
            now_ms,
        )?;
    }
    Ok(())
}

impl Store {
    /// The settled treasury refunds of `order_id`.
    pub fn refund_outcomes_of(&self, order_id: Uuid) -> Result<Vec<RefundOutcome>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT refund_id, processed, detail, settled_at_ms FROM refund_outcomes
             WHERE order_id = ?1",
        )?;
        let rows = statement
            .query_map(params![order_id.to_string()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, bool>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, processed, detail, settled_at_ms)| {
                Ok(RefundOutcome {
                    refund_id: super::parse_uuid(&id)?,
                    processed,
                    detail,
                    settled_at_ms,
                })
            })
            .collect()
    }
}
