//! Orders placed in the cloud for this outlet, and cancels that follow them: SQL only.
//!
//! Both arrive over the hub's feed and are applied inside the feed's transaction. A placed
//! order is folded from the facts the hub decided (so edge and hub hold the same order) and is
//! from then on the outlet's like any other. A cancel meets the order as it stands and is
//! decided by `shared_model::cloud_order::decide_cancel`: voided if nothing was paid, otherwise
//! kept and turned into a refund request for a manager. Either way the outcome is an op, so the
//! hub learns what the rule decided.

use super::kitchen::append_stream_event_tx;
use super::{Store, StoreError, append_op, append_op_body, load_order, parse_json, save_order};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::cloud_order::{CancelOutcome, CloudChannel, decide_cancel};
use shared_model::{Order, OrderEvent, OrderId};
use sync_protocol::feed::CloudOrderV1;
use sync_protocol::op::{CancelOutcomeV1, CloudOrderOpV1, OpBody};
use uuid::Uuid;

/// Most cloud orders one listing returns. Why 200: a busy day's online orders at one outlet.
pub const CLOUD_ORDERS_LIST_MAX: usize = 200;

/// A cloud order as the outlet sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudOrder {
    pub order: Order,
    pub channel: CloudChannel,
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub notes: Option<String>,
    /// What a cancel from the cloud did, once one came.
    pub cancel: Option<CloudCancel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloudCancel {
    pub outcome: CancelOutcome,
    pub reason: String,
    pub requested_at_ms: i64,
    pub resolved_at_ms: i64,
}

impl CloudOrder {
    /// A refund a manager still owes: the cancel became a refund request and the order has not
    /// been refunded in full since.
    pub fn refund_pending(&self) -> bool {
        matches!(
            self.cancel.as_ref().map(|cancel| &cancel.outcome),
            Some(CancelOutcome::RefundRequested { .. })
        ) && self.order.refundable_minor() > 0
    }
}

/// Folds and stores a placed order. A re-sent entry (the order is already here) changes
/// nothing. Facts that do not fold are a corrupt feed, never half-applied.
pub(super) fn place_tx(
    tx: &Transaction<'_>,
    wire: &CloudOrderV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    let order_id = OrderId(Uuid::from_bytes(wire.order_id));
    if load_order(tx, order_id)?.is_some() {
        return Ok(());
    }
    let mut events = wire.events.iter().map(|wire_event| {
        OrderEvent::try_from(wire_event)
            .map_err(|e| StoreError::Corrupt(format!("cloud order {order_id}: {e}")))
    });
    let first = events
        .next()
        .ok_or_else(|| StoreError::Corrupt(format!("cloud order {order_id} has no facts")))??;
    let mut order = Order::from_opened(&first).ok_or_else(|| {
        StoreError::Corrupt(format!("cloud order {order_id} does not start by opening"))
    })?;
    if order.id != order_id {
        return Err(StoreError::Corrupt(format!(
            "cloud order {order_id} opens another order"
        )));
    }
    for event in events {
        order
            .apply(&event?)
            .map_err(|e| StoreError::Corrupt(format!("cloud order {order_id}: {e}")))?;
    }
    save_order(tx, &order, now_ms)?;
    let channel = CloudChannel::from(wire.channel);
    tx.execute(
        "INSERT INTO cloud_orders (order_id, channel, external_ref, customer_name,
            customer_phone, notes, placed_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            order_id.to_string(),
            channel.as_str(),
            wire.external_ref,
            wire.customer_name,
            wire.customer_phone,
            wire.notes,
            now_ms
        ],
    )?;
    append_stream_event_tx(
        tx,
        "cloud_order.placed",
        &serde_json::json!({
            "order_id": order_id.to_string(), "number": order.number,
            "channel": channel.as_str(), "external_ref": wire.external_ref,
            "notes": wire.notes,
        }),
        now_ms,
    )?;
    Ok(())
}

/// Applies the cancel rule to the order as it stands, in the feed's transaction: the void (if
/// any), the outcome op and the outlet's record commit together.
pub(super) fn cancel_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    order_id: [u8; 16],
    reason: &str,
    requested_at_ms: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let order_id = OrderId(Uuid::from_bytes(order_id));
    let known: Option<Option<String>> = tx
        .query_row(
            "SELECT cancel_outcome FROM cloud_orders WHERE order_id = ?1",
            params![order_id.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    let order = match (known, load_order(tx, order_id)?) {
        (Some(None), Some(order)) => order,
        (Some(Some(_)), _) => return Ok(()), // a re-sent cancel: already decided
        _ => {
            tracing::warn!(%order_id, "a cancel for an order this outlet never got from the cloud");
            return Ok(());
        }
    };
    let outcome = decide_cancel(&order);
    let reason = reason.trim();
    if outcome == CancelOutcome::Cancelled {
        let void = order
            .void(&format!("cancelled online: {reason}"), now_ms)
            .map_err(|e| StoreError::Corrupt(format!("the cancel rule chose a void: {e}")))?;
        let mut voided = order.clone();
        voided
            .apply(&void)
            .map_err(|e| StoreError::Corrupt(format!("a decided void does not apply: {e}")))?;
        save_order(tx, &voided, now_ms)?;
        append_op(tx, node_id, &void, now_ms)?;
    }
    let body = OpBody::CloudOrder(CloudOrderOpV1::CancelResolved {
        order_id: *order_id.0.as_bytes(),
        outcome: CancelOutcomeV1::from(&outcome),
        reason: reason.to_owned(),
        resolved_at_ms: now_ms,
    });
    append_op_body(tx, node_id, "cloud_order", &body, now_ms)?;
    tx.execute(
        "UPDATE cloud_orders SET cancel_outcome = ?2, cancel_reason = ?3,
            cancel_requested_at_ms = ?4, cancel_resolved_at_ms = ?5, cancel_state = ?6
         WHERE order_id = ?1",
        params![
            order_id.to_string(),
            serde_json::to_string(&outcome).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            reason,
            requested_at_ms,
            now_ms,
            outcome.as_str()
        ],
    )?;
    append_stream_event_tx(
        tx,
        "cloud_order.cancel_resolved",
        &serde_json::json!({
            "order_id": order_id.to_string(), "number": order.number,
            "outcome": outcome.as_str(), "reason": reason,
        }),
        now_ms,
    )?;
    Ok(())
}

type CloudOrderRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

impl Store {
    /// Cloud orders, newest first; with `refund_pending_only`, those whose cancel became a
    /// refund request a manager has not yet made.
    pub fn cloud_orders(&self, refund_pending_only: bool) -> Result<Vec<CloudOrder>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT o.doc, c.channel, c.external_ref, c.customer_name, c.customer_phone, c.notes,
                    c.cancel_outcome, c.cancel_reason, c.cancel_requested_at_ms,
                    c.cancel_resolved_at_ms
             FROM cloud_orders c JOIN orders o ON o.id = c.order_id
             WHERE (?1 = 0 OR c.cancel_state = 'refund_requested')
             ORDER BY c.placed_at_ms DESC, c.order_id DESC LIMIT ?2",
        )?;
        let rows = statement
            .query_map(
                params![i64::from(refund_pending_only), CLOUD_ORDERS_LIST_MAX as i64],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(8)?,
                        row.get(9)?,
                    ))
                },
            )?
            .collect::<Result<Vec<CloudOrderRow>, _>>()?;
        let orders = rows
            .into_iter()
            .map(cloud_order_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if refund_pending_only {
            orders
                .into_iter()
                .filter(CloudOrder::refund_pending)
                .collect()
        } else {
            orders
        })
    }
}

fn cloud_order_from_row(row: CloudOrderRow) -> Result<CloudOrder, StoreError> {
    let (
        doc,
        channel,
        external_ref,
        customer_name,
        customer_phone,
        notes,
        outcome,
        reason,
        requested,
        resolved,
    ) = row;
    let cancel = match outcome {
        Some(outcome) => Some(CloudCancel {
            outcome: parse_json(&outcome)?,
            reason: reason.unwrap_or_default(),
            requested_at_ms: requested.unwrap_or(0),
            resolved_at_ms: resolved.unwrap_or(0),
        }),
        None => None,
    };
    Ok(CloudOrder {
        order: parse_json(&doc)?,
        channel: CloudChannel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown cloud channel {channel}")))?,
        external_ref,
        customer_name,
        customer_phone,
        notes,
        cancel,
    })
}
