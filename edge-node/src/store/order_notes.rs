//! Each cloud order's notes document (`sync_protocol::docs::CloudOrderDoc`) at the outlet: SQL
//! and the document. A till's edit saves the document and appends its changes as an
//! `OrderDoc` op in one transaction; the hub's changes come down the feed and are merged in
//! the feed's transaction. Either way a `order.notes_changed` stream event tells the terminals.

use super::kitchen::append_stream_event_tx;
use super::{Store, StoreError, append_op_body};
use rusqlite::{OptionalExtension, Transaction, params};
use sync_protocol::docs::{CloudOrderDoc, DocError, OrderDocChangeV1, OrderNotes};
use sync_protocol::op::OpBody;
use uuid::Uuid;

/// Why a till's edit of an order's notes was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotesRefusal {
    /// No cloud order with this id here.
    NotACloudOrder,
    /// The thread holds [`sync_protocol::docs::NOTES_MAX`] notes.
    ThreadFull,
}

fn is_cloud_order(tx: &Transaction<'_>, order_id: Uuid) -> Result<bool, StoreError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM cloud_orders WHERE order_id = ?1",
            params![order_id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn load_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    order_id: Uuid,
) -> Result<CloudOrderDoc, StoreError> {
    let bytes: Option<Vec<u8>> = tx
        .query_row(
            "SELECT bytes FROM order_docs WHERE order_id = ?1",
            params![order_id.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    let doc = match bytes {
        Some(bytes) => CloudOrderDoc::load(&bytes, *node_id.as_bytes()),
        None => CloudOrderDoc::seeded(*order_id.as_bytes(), *node_id.as_bytes()),
    };
    doc.map_err(|e| StoreError::Corrupt(format!("order notes document: {e}")))
}

/// Saves the document and tells the terminals; returns the stream event's sequence.
fn save_tx(
    tx: &Transaction<'_>,
    order_id: Uuid,
    doc: &mut CloudOrderDoc,
    now_ms: i64,
) -> Result<u64, StoreError> {
    tx.execute(
        "INSERT INTO order_docs (order_id, bytes, updated_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (order_id) DO UPDATE SET bytes = excluded.bytes,
             updated_at_ms = excluded.updated_at_ms",
        params![order_id.to_string(), doc.save(), now_ms],
    )?;
    let notes = doc.read();
    append_stream_event_tx(
        tx,
        "order.notes_changed",
        &serde_json::json!({
            "order_id": order_id.to_string(),
            "notes": notes.notes.len(),
            "instructions": notes.instructions,
            "promised_ready_ms": notes.promised_ready_ms,
            "arrived": notes.arrival.is_some(),
            "bay": notes.arrival.and_then(|arrival| arrival.bay),
        }),
        now_ms,
    )
}

/// Merges the hub's changes to an order's notes (a `OrderDocChanged` feed entry). Changes
/// that do not read are skipped with a warning: the feed moves on, the document stays as it
/// was (the hub keeps the whole document, and its next change carries what this one did).
pub(super) fn apply_hub_changes_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    change: &OrderDocChangeV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    let order_id = Uuid::from_bytes(change.order_id);
    let mut doc = load_tx(tx, node_id, order_id)?;
    let before = doc.heads();
    if let Err(error) = doc.apply(&change.changes) {
        tracing::warn!(%error, %order_id, "skipped order notes changes that do not read");
        return Ok(());
    }
    if doc.heads() != before {
        save_tx(tx, order_id, &mut doc, now_ms)?;
    }
    Ok(())
}

impl Store {
    /// The notes of cloud order `order_id`, or `None` if there is no such cloud order here.
    pub fn order_notes(&self, order_id: Uuid) -> Result<Option<OrderNotes>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        if !is_cloud_order(&tx, order_id)? {
            return Ok(None);
        }
        Ok(Some(load_tx(&tx, self.node_id, order_id)?.read()))
    }

    /// Edits cloud order `order_id`'s notes with `edit`; what it changed is saved and becomes
    /// an op for the hub. Returns the notes and the stream event announcing them (`None` when
    /// nothing changed).
    pub fn edit_order_notes(
        &self,
        order_id: Uuid,
        edit: impl FnOnce(&mut CloudOrderDoc) -> Result<(), DocError>,
        now_ms: i64,
    ) -> Result<Result<(OrderNotes, Option<u64>), NotesRefusal>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        if !is_cloud_order(&tx, order_id)? {
            return Ok(Err(NotesRefusal::NotACloudOrder));
        }
        let mut doc = load_tx(&tx, self.node_id, order_id)?;
        let heads = doc.heads();
        match edit(&mut doc) {
            Ok(()) => {}
            Err(DocError::Full) => return Ok(Err(NotesRefusal::ThreadFull)),
            Err(error) => {
                return Err(StoreError::Corrupt(format!(
                    "order notes document: {error}"
                )));
            }
        }
        let changes = doc.changes_since(&heads);
        if changes.is_empty() {
            return Ok(Ok((doc.read(), None)));
        }
        let body = OpBody::OrderDoc(OrderDocChangeV1 {
            order_id: *order_id.as_bytes(),
            changes,
        });
        append_op_body(&tx, self.node_id, "doc.order_notes", &body, now_ms)?;
        let seq = save_tx(&tx, order_id, &mut doc, now_ms)?;
        tx.commit()?;
        Ok(Ok((doc.read(), Some(seq))))
    }
}
