//! The edge's SQLite store: the only module with SQL.
//!
//! One connection in WAL mode with `synchronous=NORMAL`, and group commit for answers
//! ([`durability`]): the LAN API answers a change only after an fsync of the WAL that started
//! after the change committed, so an answered change survives a power cut, while concurrent
//! requests share one fsync and none holds the lock while it waits. Writes are serialised by the
//! connection's mutex, which also serialises two terminals acting on one order.

mod cloud_orders;
mod day_reports;
mod durability;
pub use cloud_orders::{CLOUD_ORDERS_LIST_MAX, CloudCancel, CloudOrder};
pub use day_reports::{CloseDayError, XReport, ZReport};
mod drawers;
pub use drawers::DrawerChangeError;
mod gift_cards;
mod hub_docs;
pub use gift_cards::{GiftCardHold, GiftCardPaymentError, GiftCardView, HoldCancelError};
mod kitchen;
mod loyalty;
pub use loyalty::{LoyaltyPaymentError, MemberView, VoucherView};
mod migrations;
mod order_notes;
pub use order_notes::NotesRefusal;
mod payments;
pub use payments::{
    IntentRequestError, OfflineCardError, OfflineCardRisk, PaymentIntent, ReceiptError,
};
mod printing;
mod refund_outcomes;
mod staff;
mod tables;
mod tips;
pub use refund_outcomes::RefundOutcome;
pub use tips::{TipPayoutOutcome, TipPayoutRow};

pub use kitchen::*;
pub use printing::*;
pub use staff::*;
pub use tables::*;

use hub_docs::{DocTable, delete_doc_tx, put_doc_tx};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use shared_model::{CatalogItem, ItemId, Order, OrderEvent, OrderId};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use sync_protocol::feed::FeedBody;
use sync_protocol::op::{GENESIS_HASH, OpBody, OrderEventV1};
use sync_protocol::{Hlc, HybridClock, WireOp};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("could not create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not make the store durable: {0}")]
    Sync(std::io::Error),
}

/// What the edge holds after enrolling with a hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub hub_addr: String,
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub outlet_id: Uuid,
    pub outlet_code: String,
    pub outlet_name: String,
    pub currency: String,
    pub timezone: String,
    pub device_cert_der: Vec<u8>,
    pub device_key_pkcs8_der: Vec<u8>,
    pub ca_cert_der: Vec<u8>,
}

/// The op log's position: what exists locally and what the hub has acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxStatus {
    pub last_seq: u64,
    pub acked_through_seq: u64,
    pub oldest_pending_at_ms: Option<i64>,
}

/// A paired terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    pub kind: DeviceKind,
}

pub struct Store {
    connection: Mutex<Connection>,
    node_id: Uuid,
    durability: durability::GroupSync,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let mut connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // Commits do not fsync: answers wait for `wait_durable` instead (group commit).
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::apply(&mut connection)?;
        let node_id = node_id(&connection)?;
        Ok(Store {
            connection: Mutex::new(connection),
            node_id,
            durability: durability::GroupSync::new(path),
        })
    }

    /// Returns once every change committed before the call is on disk (an fsync of the WAL
    /// shared by every caller waiting). The LAN API calls it before answering a change.
    /// Blocking.
    pub fn wait_durable(&self) -> Result<(), StoreError> {
        self.durability.sync().map_err(StoreError::Sync)
    }

    /// This edge's node id: the origin of its ops, and its device id once enrolled.
    pub fn node_id(&self) -> Uuid {
        self.node_id
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back),
        // so a poisoned mutex is safe to keep using.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ---- catalog ---------------------------------------------------------------------------

    /// Inserts `items` if the catalog is empty; returns whether it did.
    pub fn seed_catalog_if_empty(&self, items: &[CatalogItem]) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let count: i64 =
            tx.query_row("SELECT count(*) FROM catalog_items", [], |row| row.get(0))?;
        if count > 0 {
            return Ok(false);
        }
        for item in items {
            let doc =
                serde_json::to_string(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "INSERT INTO catalog_items (id, name, doc) VALUES (?1, ?2, ?3)",
                params![item.id.0, item.name, doc],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    pub fn catalog_items(&self) -> Result<Vec<CatalogItem>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare("SELECT doc FROM catalog_items ORDER BY name")?;
        let docs = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        docs.iter().map(|doc| parse_json(doc)).collect()
    }

    pub fn catalog_item(&self, id: &ItemId) -> Result<Option<CatalogItem>, StoreError> {
        let connection = self.lock();
        let doc: Option<String> = connection
            .query_row(
                "SELECT doc FROM catalog_items WHERE id = ?1",
                params![id.0],
                |row| row.get(0),
            )
            .optional()?;
        doc.map(|doc| parse_json(&doc)).transpose()
    }

    /// The catalog item with this PLU (the item digits of a scale label; leading zeros do not
    /// count: label `01234` is PLU `1234`).
    pub fn catalog_item_by_plu(&self, plu: &str) -> Result<Option<CatalogItem>, StoreError> {
        let doc: Option<String> = self
            .lock()
            .query_row(
                "SELECT doc FROM catalog_items
                 WHERE ltrim(json_extract(doc, '$.plu'), '0') = ltrim(?1, '0')
                 ORDER BY id LIMIT 1",
                params![plu],
                |row| row.get(0),
            )
            .optional()?;
        doc.map(|doc| parse_json(&doc)).transpose()
    }

    /// The catalog item a scanned product code belongs to.
    pub fn catalog_item_by_barcode(&self, code: &str) -> Result<Option<CatalogItem>, StoreError> {
        let doc: Option<String> = self
            .lock()
            .query_row(
                "SELECT doc FROM catalog_items
                 WHERE EXISTS (SELECT 1 FROM json_each(doc, '$.barcodes') WHERE value = ?1)
                 ORDER BY id LIMIT 1",
                params![code],
                |row| row.get(0),
            )
            .optional()?;
        doc.map(|doc| parse_json(&doc)).transpose()
    }

    /// The price books the hub sent, by id.
    pub fn price_books(&self) -> Result<Vec<shared_model::pricebook::PriceBook>, StoreError> {
        Ok(values(self.docs(DocTable::PriceBooks)?))
    }

    /// The outlet configuration the hub sent; `None` on a box that never had one.
    pub fn outlet_config(&self) -> Result<Option<shared_model::outlet::OutletConfig>, StoreError> {
        let doc: Option<String> = self
            .lock()
            .query_row("SELECT doc FROM outlet_config WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?;
        doc.map(|doc| parse_json(&doc)).transpose()
    }

    // ---- devices ---------------------------------------------------------------------------

    /// Adds a paired device and records it as an op for the hub, in one transaction.
    pub fn insert_device(
        &self,
        id: Uuid,
        name: &str,
        kind: DeviceKind,
        token_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        insert_device_tx(&tx, self.node_id, id, name, kind, token_hash, now_ms)?;
        tx.commit()?;
        Ok(())
    }

    pub fn device_by_token_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<Device>, StoreError> {
        let connection = self.lock();
        let row: Option<(String, String, String)> = connection
            .query_row(
                "SELECT id, name, kind FROM devices
                 WHERE token_hash = ?1 AND disabled_at_ms IS NULL AND removed_at_ms IS NULL",
                params![token_hash.as_slice()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        row.map(|(id, name, kind)| {
            Ok(Device {
                id: parse_uuid(&id)?,
                name,
                kind: DeviceKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("device kind {kind}")))?,
            })
        })
        .transpose()
    }

    // ---- orders ----------------------------------------------------------------------------

    /// Orders with `number` and/or in `state`, newest first, at most `count_max`.
    pub fn orders_matching(
        &self,
        filter: &OrderFilter,
        count_max: usize,
    ) -> Result<Vec<Order>, StoreError> {
        let customer = filter.customer.as_deref().map(like_pattern);
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT o.doc FROM orders o LEFT JOIN order_servers s ON s.order_id = o.id
             WHERE (?1 IS NULL OR o.number = ?1) AND (?2 IS NULL OR o.state = ?2)
               AND (?4 IS NULL OR s.staff_id = ?4)
               AND (?5 IS NULL OR o.id IN (
                    SELECT order_id FROM cloud_orders
                    WHERE customer_name LIKE ?5 ESCAPE '\\' OR customer_phone LIKE ?5 ESCAPE '\\'
                       OR external_ref LIKE ?5 ESCAPE '\\'
                    UNION SELECT order_id FROM tabs WHERE name LIKE ?5 ESCAPE '\\'
                    UNION SELECT m.order_id FROM order_members m
                        LEFT JOIN loyalty_members l ON l.code = m.code
                    WHERE m.code LIKE ?5 ESCAPE '\\' OR l.name LIKE ?5 ESCAPE '\\'))
             ORDER BY o.number DESC LIMIT ?3",
        )?;
        let docs = statement
            .query_map(
                params![
                    filter.number.map(|n| n as i64),
                    filter.state.map(|state| state.as_str()),
                    count_max as i64,
                    filter.server.map(|id| id.to_string()),
                    customer
                ],
                |row| row.get::<_, String>(0),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        docs.iter().map(|doc| parse_json(doc)).collect()
    }

    /// Who serves `order_id`, if a signed-in staff member opened it or was handed it.
    pub fn order_server(&self, order_id: OrderId) -> Result<Option<Uuid>, StoreError> {
        let id: Option<String> = self
            .lock()
            .query_row(
                "SELECT staff_id FROM order_servers WHERE order_id = ?1",
                params![order_id.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        id.map(|id| parse_uuid(&id)).transpose()
    }

    pub fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let connection = self.lock();
        load_order(&connection, id)
    }

    /// Runs `decide` against the current order (or `None` for a new one) and, if it yields an
    /// event, applies it and commits the new order state together with its op. The whole
    /// read-decide-write happens under the store's lock, so concurrent requests on one order
    /// are serialised.
    pub fn commit_order_change<E>(
        &self,
        order_id: OrderId,
        now_ms: i64,
        decide: impl FnOnce(Option<&Order>, &mut NewOrderNumber) -> Result<OrderEvent, E>,
    ) -> Result<Result<(Order, OpRecord), E>, StoreError> {
        self.commit_order_change_audited(order_id, now_ms, |order, numbers| {
            decide(order, numbers).map(|event| (event, Vec::new()))
        })
    }

    /// [`Store::commit_order_change`] for decisions that may also leave an audit-trail entry
    /// (a high-risk action): the order change, its op, the audit row and the audit op commit
    /// together or not at all.
    pub fn commit_order_change_audited<E>(
        &self,
        order_id: OrderId,
        now_ms: i64,
        decide: impl FnOnce(
            Option<&Order>,
            &mut NewOrderNumber,
        ) -> Result<(OrderEvent, Vec<AuditEntry>), E>,
    ) -> Result<Result<(Order, OpRecord), E>, StoreError> {
        let committed = self.commit_order_events(order_id, now_ms, |order, context| {
            decide(order, context).map(|(event, audits)| (vec![event], audits))
        })?;
        match committed {
            Ok((order, mut ops)) => match ops.pop() {
                Some(op) => Ok(Ok((order, op))),
                None => Err(StoreError::Corrupt(
                    "one event decided, no op written".into(),
                )),
            },
            Err(error) => Ok(Err(error)),
        }
    }

    /// [`Store::commit_order_change_audited`] for a decision of several events (a line and
    /// the promotions re-evaluated with it): applied in order, each with its op, all in one
    /// transaction. No events commits whatever the decision wrote through `context` alone.
    pub fn commit_order_events<E>(
        &self,
        order_id: OrderId,
        now_ms: i64,
        decide: impl FnOnce(
            Option<&Order>,
            &mut NewOrderNumber,
        ) -> Result<(Vec<OrderEvent>, Vec<AuditEntry>), E>,
    ) -> Result<Result<(Order, Vec<OpRecord>), E>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let current = load_order(&tx, order_id)?;
        let mut numbers = NewOrderNumber {
            tx: &tx,
            node_id: self.node_id,
            now_ms,
            taken: None,
            drawer_terminal: None,
        };
        let (events, audits) = match decide(current.as_ref(), &mut numbers) {
            Ok(decision) => decision,
            Err(error) => return Ok(Err(error)),
        };
        let mut order = current;
        for event in &events {
            order = Some(match order {
                Some(mut order) => {
                    order.apply(event).map_err(|e| {
                        StoreError::Corrupt(format!("decided event does not apply: {e}"))
                    })?;
                    order
                }
                None => Order::from_opened(event).ok_or_else(|| {
                    StoreError::Corrupt("first event of an order must open it".into())
                })?,
            });
        }
        let order = order.ok_or_else(|| StoreError::Corrupt("no order was decided".into()))?;
        if let Some(number) = numbers.taken {
            tx.execute(
                "UPDATE counters SET value = ?1 WHERE name = 'order_number'",
                params![number as i64],
            )?;
        }
        if !events.is_empty() {
            save_order(&tx, &order, now_ms)?;
        }
        let mut ops = Vec::with_capacity(events.len());
        for event in &events {
            ops.push(append_op(&tx, self.node_id, event, now_ms)?);
            match (numbers.drawer_terminal, event) {
                (Some(terminal), OrderEvent::PaymentTaken { payment, .. }) => {
                    drawers::record_payment_tx(&tx, self.node_id, terminal, payment, now_ms)?;
                }
                (Some(terminal), OrderEvent::Refunded { refund, .. }) => {
                    drawers::record_refund_tx(&tx, self.node_id, terminal, refund, now_ms)?;
                }
                _ => {}
            }
        }
        for audit in &audits {
            insert_audit_tx(&tx, self.node_id, audit)?;
        }
        tx.commit()?;
        Ok(Ok((order, ops)))
    }

    /// Every item's modifier groups, by item id.
    pub fn all_item_modifiers(
        &self,
    ) -> Result<
        std::collections::HashMap<String, Vec<shared_model::modifiers::ModifierGroup>>,
        StoreError,
    > {
        Ok(self.docs(DocTable::ItemModifiers)?.into_iter().collect())
    }

    /// The modifier groups `item_id` offers (none if the hub sent none).
    pub fn item_modifiers(
        &self,
        item_id: &ItemId,
    ) -> Result<Vec<shared_model::modifiers::ModifierGroup>, StoreError> {
        Ok(self
            .doc(DocTable::ItemModifiers, &item_id.0)?
            .unwrap_or_default())
    }

    /// The combos the hub sent, by id.
    pub fn combos(&self) -> Result<Vec<shared_model::modifiers::Combo>, StoreError> {
        Ok(values(self.docs(DocTable::Combos)?))
    }

    /// The combo `id`, if the hub sent one.
    pub fn combo(&self, id: &str) -> Result<Option<shared_model::modifiers::Combo>, StoreError> {
        self.doc(DocTable::Combos, id)
    }

    /// The promotions the hub sent, by id.
    pub fn promotions(&self) -> Result<Vec<shared_model::promotions::Promotion>, StoreError> {
        Ok(values(self.docs(DocTable::Promotions)?))
    }

    /// Merges `from` into `into` (joining tables, a tab moved onto a dinner bill): `decide`
    /// sees both orders as they stand and returns the event of each; both orders, both ops and
    /// the move of `from`'s kitchen history commit together, under the store's lock.
    pub fn commit_merge<E>(
        &self,
        into: OrderId,
        from: OrderId,
        now_ms: i64,
        decide: impl FnOnce(Option<&Order>, Option<&Order>) -> Result<(OrderEvent, OrderEvent), E>,
    ) -> Result<Result<Order, E>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let target = load_order(&tx, into)?;
        let source = load_order(&tx, from)?;
        let (into_event, from_event) = match decide(target.as_ref(), source.as_ref()) {
            Ok(events) => events,
            Err(error) => return Ok(Err(error)),
        };
        let (Some(mut target), Some(mut source)) = (target, source) else {
            return Err(StoreError::Corrupt(
                "a merge was decided without both orders".into(),
            ));
        };
        for (order, event) in [(&mut target, &into_event), (&mut source, &from_event)] {
            order.apply(event).map_err(|e| {
                StoreError::Corrupt(format!("decided merge event does not apply: {e}"))
            })?;
            save_order(&tx, order, now_ms)?;
            append_op(&tx, self.node_id, event, now_ms)?;
        }
        // Lines the source had sent stay sent on the merged bill: a later send must not fire
        // them again.
        tx.execute(
            "UPDATE OR IGNORE kitchen_sent_lines SET order_id = ?1 WHERE order_id = ?2",
            params![into.to_string(), from.to_string()],
        )?;
        tx.commit()?;
        Ok(Ok(target))
    }

    // ---- op log ----------------------------------------------------------------------------

    pub fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        let connection = self.lock();
        let last_seq: i64 =
            connection.query_row("SELECT coalesce(max(seq), 0) FROM ops", [], |row| {
                row.get(0)
            })?;
        let acked: i64 = connection.query_row(
            "SELECT value FROM counters WHERE name = 'acked_through_seq'",
            [],
            |row| row.get(0),
        )?;
        let oldest_pending_at_ms: Option<i64> = connection
            .query_row(
                "SELECT created_at_ms FROM ops WHERE seq = ?1",
                params![acked + 1],
                |row| row.get(0),
            )
            .optional()?;
        Ok(OutboxStatus {
            last_seq: last_seq as u64,
            acked_through_seq: acked as u64,
            oldest_pending_at_ms,
        })
    }

    /// Up to `count_max` ops starting at `from_seq`, in order.
    pub fn ops_from(&self, from_seq: u64, count_max: usize) -> Result<Vec<WireOp>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT seq, hlc_wall_ms, hlc_logical, prev_hash, body FROM ops
             WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let origin = *self.node_id.as_bytes();
        let rows = statement.query_map(params![from_seq as i64, count_max as i64], |row| {
            let prev_hash: Vec<u8> = row.get(3)?;
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                prev_hash,
                row.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        let mut ops = Vec::with_capacity(count_max);
        for row in rows {
            let (seq, wall_ms, logical, prev_hash, body) = row?;
            let prev_hash: [u8; 32] = prev_hash
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("op {seq} has a bad prev_hash")))?;
            ops.push(WireOp {
                origin,
                seq: seq as u64,
                hlc: Hlc {
                    wall_ms: wall_ms as u64,
                    logical: logical as u32,
                },
                prev_hash,
                body,
            });
        }
        Ok(ops)
    }

    /// Records the hub's acknowledgement; never moves backwards.
    pub fn record_ack(&self, acked_through_seq: u64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE counters SET value = max(value, ?1) WHERE name = 'acked_through_seq'",
            params![acked_through_seq as i64],
        )?;
        Ok(())
    }

    // ---- downstream feed -------------------------------------------------------------------

    /// The last feed entry applied.
    pub fn feed_through_seq(&self) -> Result<u64, StoreError> {
        let value: i64 = self.lock().query_row(
            "SELECT value FROM counters WHERE name = 'feed_through_seq'",
            [],
            |row| row.get(0),
        )?;
        Ok(value as u64)
    }

    /// Applies feed entries and moves the cursor past them, in one transaction. Entries at or
    /// below the cursor are skipped (re-sends). Returns the cursor after. `now_ms` stamps the
    /// sessions a staff entry ends.
    pub fn apply_feed(&self, entries: &[(u64, FeedBody)], now_ms: i64) -> Result<u64, StoreError> {
        let entries: Vec<(u64, Option<FeedBody>)> = entries
            .iter()
            .map(|(seq, body)| (*seq, Some(body.clone())))
            .collect();
        self.apply_feed_entries(&entries, now_ms)
    }

    /// [`Store::apply_feed`] where `None` is an entry of a kind this version does not know (a
    /// newer hub): the cursor moves past it, so the rest of the feed still applies.
    pub fn apply_feed_entries(
        &self,
        entries: &[(u64, Option<FeedBody>)],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let mut cursor: i64 = tx.query_row(
            "SELECT value FROM counters WHERE name = 'feed_through_seq'",
            [],
            |row| row.get(0),
        )?;
        for (seq, body) in entries {
            let seq = *seq as i64;
            if seq <= cursor {
                continue;
            }
            if seq != cursor + 1 {
                return Err(StoreError::Corrupt(format!(
                    "feed entry {seq} does not follow {cursor}"
                )));
            }
            let Some(body) = body else {
                tracing::warn!(
                    seq,
                    "skipped a feed entry of a kind this edge does not know (a newer hub): upgrade the edge"
                );
                cursor = seq;
                continue;
            };
            match body {
                FeedBody::CatalogItemUpserted(wire) => {
                    let item = CatalogItem::from(wire);
                    let doc = serde_json::to_string(&item)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO catalog_items (id, name, doc) VALUES (?1, ?2, ?3)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc",
                        params![item.id.0, item.name, doc],
                    )?;
                }
                FeedBody::CatalogItemRemoved { item_id } => {
                    tx.execute("DELETE FROM catalog_items WHERE id = ?1", params![item_id])?;
                }
                FeedBody::StaffUpserted(staff) => {
                    apply_staff_from_hub_tx(&tx, self.node_id, staff, now_ms)?;
                }
                FeedBody::PriceBookUpserted(wire) => {
                    let book = shared_model::pricebook::PriceBook::from(wire);
                    put_doc_tx(&tx, DocTable::PriceBooks, &book.id, &book)?;
                }
                FeedBody::PriceBookRemoved { book_id } => {
                    delete_doc_tx(&tx, DocTable::PriceBooks, book_id)?;
                }
                FeedBody::OutletConfigSet(wire) => {
                    let config = shared_model::outlet::OutletConfig::from(wire);
                    let doc = serde_json::to_string(&config)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO outlet_config (id, doc) VALUES (1, ?1)
                         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                        params![doc],
                    )?;
                }
                FeedBody::OutletProfileSet(profile) => {
                    let doc: Option<String> = tx
                        .query_row("SELECT doc FROM outlet_config WHERE id = 1", [], |row| {
                            row.get(0)
                        })
                        .optional()?;
                    let Some(doc) = doc else {
                        tracing::warn!("an outlet profile came before its configuration; ignored");
                        cursor = seq;
                        continue;
                    };
                    let mut config: shared_model::outlet::OutletConfig = serde_json::from_str(&doc)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    profile.apply_to(&mut config);
                    let doc = serde_json::to_string(&config)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    tx.execute(
                        "UPDATE outlet_config SET doc = ?1 WHERE id = 1",
                        params![doc],
                    )?;
                }
                FeedBody::PaymentIntentUpdated(update) => {
                    payments::apply_update_tx(&tx, self.node_id, update, now_ms)?;
                }
                FeedBody::PromotionUsesSet {
                    promotion_id,
                    uses_elsewhere,
                } => {
                    tx.execute(
                        "INSERT INTO promotion_uses_elsewhere (promotion_id, uses) VALUES (?1, ?2)
                         ON CONFLICT (promotion_id) DO UPDATE SET uses = excluded.uses",
                        params![promotion_id, uses_elsewhere],
                    )?;
                }
                FeedBody::TreasuryRefundSettled(wire) => {
                    refund_outcomes::apply_settled_tx(&tx, wire, now_ms)?;
                }
                FeedBody::GiftCardAllowanceSet(wire) => {
                    gift_cards::set_allowance_tx(&tx, wire, now_ms)?;
                }
                FeedBody::GiftCardHoldDecided {
                    hold_id,
                    approved,
                    reason,
                } => {
                    gift_cards::apply_hold_decision_tx(
                        &tx,
                        self.node_id,
                        *hold_id,
                        *approved,
                        reason,
                        now_ms,
                    )?;
                }
                FeedBody::CloudOrderPlaced(wire) => {
                    cloud_orders::place_tx(&tx, wire, now_ms)?;
                }
                FeedBody::CloudOrderCancelRequested {
                    order_id,
                    reason,
                    requested_at_ms,
                } => {
                    cloud_orders::cancel_tx(
                        &tx,
                        self.node_id,
                        *order_id,
                        reason,
                        *requested_at_ms,
                        now_ms,
                    )?;
                }
                FeedBody::PromotionUpserted(wire) => {
                    let promotion = shared_model::promotions::Promotion::from(wire);
                    put_doc_tx(&tx, DocTable::Promotions, &promotion.id, &promotion)?;
                }
                FeedBody::PromotionRemoved { promotion_id } => {
                    delete_doc_tx(&tx, DocTable::Promotions, promotion_id)?;
                }
                FeedBody::ItemModifiersSet { item_id, groups } => {
                    let groups: Vec<shared_model::modifiers::ModifierGroup> =
                        groups.iter().map(Into::into).collect();
                    put_doc_tx(&tx, DocTable::ItemModifiers, item_id, &groups)?;
                }
                FeedBody::ComboUpserted(wire) => {
                    let combo = shared_model::modifiers::Combo::from(wire);
                    put_doc_tx(&tx, DocTable::Combos, &combo.id, &combo)?;
                }
                FeedBody::ComboRemoved { combo_id } => {
                    delete_doc_tx(&tx, DocTable::Combos, combo_id)?;
                }
                FeedBody::DocChanged(change) => match change.doc {
                    sync_protocol::docs::DocKindV1::FloorPlan => {
                        tables::apply_floor_changes_tx(&tx, self.node_id, &change.changes, now_ms)?;
                    }
                },
                FeedBody::LoyaltyProgramSet(wire) => {
                    loyalty::set_program_tx(&tx, wire)?;
                }
                FeedBody::LoyaltyMemberSet(wire) => {
                    loyalty::set_member_tx(&tx, wire, now_ms)?;
                }
                FeedBody::VoucherSet(wire) => {
                    loyalty::set_voucher_tx(&tx, wire, now_ms)?;
                }
                FeedBody::OrderDocChanged(change) => {
                    order_notes::apply_hub_changes_tx(&tx, self.node_id, change, now_ms)?;
                }
                FeedBody::StaffLoggedOut { staff_id } => {
                    end_sessions_of_staff_tx(
                        &tx,
                        self.node_id,
                        Uuid::from_bytes(*staff_id),
                        SessionEnd::ForcedByHub,
                        now_ms,
                    )?;
                }
            }
            cursor = seq;
        }
        tx.execute(
            "UPDATE counters SET value = ?1 WHERE name = 'feed_through_seq'",
            params![cursor],
        )?;
        tx.commit()?;
        Ok(cursor as u64)
    }

    // ---- enrollment ------------------------------------------------------------------------

    pub fn save_enrollment(&self, enrollment: &Enrollment, now_ms: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO enrollment (id, hub_addr, tenant_id, tenant_slug, outlet_id, outlet_code,
                outlet_name, currency, timezone, device_cert_der, device_key_der, ca_cert_der,
                enrolled_at_ms)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (id) DO UPDATE SET hub_addr = excluded.hub_addr,
                tenant_id = excluded.tenant_id, tenant_slug = excluded.tenant_slug,
                outlet_id = excluded.outlet_id, outlet_code = excluded.outlet_code,
                outlet_name = excluded.outlet_name, currency = excluded.currency,
                timezone = excluded.timezone, device_cert_der = excluded.device_cert_der,
                device_key_der = excluded.device_key_der, ca_cert_der = excluded.ca_cert_der,
                enrolled_at_ms = excluded.enrolled_at_ms",
            params![
                enrollment.hub_addr,
                enrollment.tenant_id.to_string(),
                enrollment.tenant_slug,
                enrollment.outlet_id.to_string(),
                enrollment.outlet_code,
                enrollment.outlet_name,
                enrollment.currency,
                enrollment.timezone,
                enrollment.device_cert_der,
                enrollment.device_key_pkcs8_der,
                enrollment.ca_cert_der,
                now_ms
            ],
        )?;
        Ok(())
    }

    pub fn enrollment(&self) -> Result<Option<Enrollment>, StoreError> {
        let connection = self.lock();
        let row = connection
            .query_row(
                "SELECT hub_addr, tenant_id, tenant_slug, outlet_id, outlet_code, outlet_name,
                        currency, timezone, device_cert_der, device_key_der, ca_cert_der
                 FROM enrollment WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                        row.get::<_, String>(7)?,
                        row.get::<_, Vec<u8>>(8)?,
                        row.get::<_, Vec<u8>>(9)?,
                        row.get::<_, Vec<u8>>(10)?,
                    ))
                },
            )
            .optional()?;
        let Some(row) = row else { return Ok(None) };
        let uuid =
            |text: &str| Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(e.to_string()));
        Ok(Some(Enrollment {
            hub_addr: row.0,
            tenant_id: uuid(&row.1)?,
            tenant_slug: row.2,
            outlet_id: uuid(&row.3)?,
            outlet_code: row.4,
            outlet_name: row.5,
            currency: row.6,
            timezone: row.7,
            device_cert_der: row.8,
            device_key_pkcs8_der: row.9,
            ca_cert_der: row.10,
        }))
    }

    /// `PRAGMA integrity_check`, for tests and the status endpoint.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

/// Hands out the next order number inside an order transaction.
pub struct NewOrderNumber<'a> {
    tx: &'a Transaction<'a>,
    node_id: Uuid,
    now_ms: i64,
    taken: Option<u64>,
    drawer_terminal: Option<Uuid>,
}

impl NewOrderNumber<'_> {
    pub fn take(&mut self) -> Result<u64, StoreError> {
        let current: i64 = self.tx.query_row(
            "SELECT value FROM counters WHERE name = 'order_number'",
            [],
            |row| row.get(0),
        )?;
        let number = current as u64 + 1;
        self.taken = Some(number);
        Ok(number)
    }

    /// The tab limit of `order_id`, if it is a bar tab with one (read inside the order's
    /// transaction).
    pub fn tab_limit_minor(&self, order_id: OrderId) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT limit_minor FROM tabs WHERE order_id = ?1",
                params![order_id.to_string()],
                |row| row.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Puts a payment or refund decided in this transaction into `terminal`'s open cash drawer
    /// (if it has one), in the same transaction: the drawer's expected takings cannot miss one.
    pub fn record_in_drawer_of(&mut self, terminal: Uuid) {
        self.drawer_terminal = Some(terminal);
    }

    /// The cash `terminal`'s open drawer should hold now, read in this transaction; `None`
    /// without an open drawer.
    pub fn drawer_cash_of(&self, terminal: Uuid) -> Result<Option<i64>, StoreError> {
        drawers::open_cash_tx(self.tx, terminal)
    }

    /// Marks `line_id` of `order_id` voided on the kitchen tickets that carry it, tells the
    /// screens and queues what `chits` prints for each such ticket (the station's VOID chit),
    /// in this transaction; returns the stream sequence to publish, if any ticket had it.
    pub fn void_on_tickets(
        &self,
        order_id: OrderId,
        line_id: shared_model::LineId,
        now_ms: i64,
        chits: impl Fn(&Ticket) -> Vec<NewPrintJob>,
    ) -> Result<Option<u64>, StoreError> {
        kitchen::void_ticket_line_tx(self.tx, order_id, line_id.0, now_ms, chits)
    }

    /// Makes `staff_id` the server of `order_id` (handed over by `by`, or `None` when opened),
    /// with its `Table` op, in this transaction.
    pub fn assign_server(
        &self,
        order_id: OrderId,
        staff_id: Uuid,
        by: Option<Uuid>,
    ) -> Result<(), StoreError> {
        assign_server_tx(self.tx, self.node_id, order_id, staff_id, by, self.now_ms)
    }

    /// Who serves `order_id`, read in this transaction.
    pub fn server_of(&self, order_id: OrderId) -> Result<Option<Uuid>, StoreError> {
        let id: Option<String> = self
            .tx
            .query_row(
                "SELECT staff_id FROM order_servers WHERE order_id = ?1",
                params![order_id.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        id.map(|id| parse_uuid(&id)).transpose()
    }

    /// How often each usage-limited promotion among `promotions` has been used, not counting
    /// `order_id` itself (see [`promotion_uses_tx`]).
    pub fn promotion_uses(
        &self,
        order_id: OrderId,
        promotions: &[shared_model::promotions::Promotion],
    ) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
        promotion_uses_tx(self.tx, order_id, promotions)
    }

    /// The promotion codes entered on `order_id`.
    pub fn order_codes(&self, order_id: OrderId) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .tx
            .prepare_cached("SELECT code FROM order_codes WHERE order_id = ?1 ORDER BY code")?;
        Ok(statement
            .query_map(params![order_id.to_string()], |row| row.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// Records a promotion code entered on `order_id` (once).
    pub fn enter_code(&self, order_id: OrderId, code: &str, now_ms: i64) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR IGNORE INTO order_codes (order_id, code, entered_at_ms) VALUES (?1, ?2, ?3)",
            params![order_id.to_string(), code, now_ms],
        )?;
        Ok(())
    }

    /// Whether the kitchen has line `line_id` of `order_id` (read inside the transaction).
    pub fn line_sent_to_kitchen(
        &self,
        order_id: OrderId,
        line_id: shared_model::LineId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM kitchen_sent_lines WHERE order_id = ?1 AND line_id = ?2",
                params![order_id.to_string(), line_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether any line of `order_id` has been sent to the kitchen (read inside the order's
    /// transaction, so a concurrent send cannot slip between the check and the change).
    pub fn sent_to_kitchen(&self, order_id: OrderId) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM kitchen_sent_lines WHERE order_id = ?1 LIMIT 1",
                params![order_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

/// An op as appended to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    pub seq: u64,
    pub hlc: Hlc,
}

fn parse_json<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn node_id(connection: &Connection) -> Result<Uuid, StoreError> {
    let text: String =
        connection.query_row("SELECT node_id FROM node WHERE id = 1", [], |row| {
            row.get(0)
        })?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Makes `staff_id` the server of `order_id` (handed over by `by`, or `None` when opened), with
/// its `Table` op, in `tx`.
pub(crate) fn assign_server_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    order_id: OrderId,
    staff_id: Uuid,
    by: Option<Uuid>,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO order_servers (order_id, staff_id, assigned_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (order_id) DO UPDATE SET staff_id = excluded.staff_id,
            assigned_at_ms = excluded.assigned_at_ms",
        params![order_id.to_string(), staff_id.to_string(), now_ms],
    )?;
    let body = OpBody::Table(sync_protocol::op::TableEventV1::ServerAssigned {
        order_id: *order_id.0.as_bytes(),
        staff_id: *staff_id.as_bytes(),
        by_staff_id: by.map(|id| *id.as_bytes()),
        at_ms: now_ms,
    });
    append_op_body(tx, node_id, "table.server_assigned", &body, now_ms)?;
    Ok(())
}

pub(crate) fn load_order(
    connection: &Connection,
    id: OrderId,
) -> Result<Option<Order>, StoreError> {
    // The hot statements of a sale are prepared once per connection (`prepare_cached`).
    let doc: Option<String> = connection
        .prepare_cached("SELECT doc FROM orders WHERE id = ?1")?
        .query_row(params![id.to_string()], |row| row.get(0))
        .optional()?;
    doc.map(|doc| parse_json(&doc)).transpose()
}

pub(crate) fn save_order(
    tx: &Transaction<'_>,
    order: &Order,
    now_ms: i64,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(order).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO orders (id, number, state, doc, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, doc = excluded.doc,
            updated_at_ms = excluded.updated_at_ms",
    )?
    .execute(params![
        order.id.to_string(),
        order.number as i64,
        order.state.as_str(),
        doc,
        now_ms
    ])?;
    // The promotions it has redeemed (once money is taken), for usage limits.
    tx.prepare_cached("DELETE FROM promotion_uses WHERE order_id = ?1")?
        .execute(params![order.id.to_string()])?;
    if order.state.redeems_promotions() {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO promotion_uses (order_id, promotion_id) VALUES (?1, ?2)",
        )?;
        for applied in &order.promotions {
            insert.execute(params![order.id.to_string(), applied.promotion_id])?;
        }
    }
    Ok(())
}

/// Uses of each usage-limited promotion among `promotions` so far, other than by `order_id`
/// itself: this outlet's own orders, counted here, and the other outlets' as the hub last
/// counted them. Empty (no query) when none of them has a limit.
pub(crate) fn promotion_uses_tx(
    tx: &Transaction<'_>,
    order_id: OrderId,
    promotions: &[shared_model::promotions::Promotion],
) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
    let mut uses = std::collections::BTreeMap::new();
    for promotion in promotions.iter().filter(|p| p.usage_limit.is_some()) {
        let here: i64 = tx
            .prepare_cached(
                "SELECT count(*) FROM promotion_uses WHERE promotion_id = ?1 AND order_id != ?2",
            )?
            .query_row(params![promotion.id, order_id.to_string()], |row| {
                row.get(0)
            })?;
        let elsewhere: Option<i64> = tx
            .prepare_cached("SELECT uses FROM promotion_uses_elsewhere WHERE promotion_id = ?1")?
            .query_row(params![promotion.id], |row| row.get(0))
            .optional()?;
        let total = here.max(0).saturating_add(elsewhere.unwrap_or(0).max(0));
        uses.insert(
            promotion.id.clone(),
            u32::try_from(total).unwrap_or(u32::MAX),
        );
    }
    Ok(uses)
}

/// Appends one order op, continuing the sequence, the clock and the hash chain.
pub(crate) fn append_op(
    tx: &Transaction<'_>,
    node_id: Uuid,
    event: &OrderEvent,
    now_ms: i64,
) -> Result<OpRecord, StoreError> {
    let body = OpBody::Order(OrderEventV1::from(event));
    append_op_body(tx, node_id, event.kind(), &body, now_ms)
}

/// Appends one op of any kind, continuing the sequence, the clock and the hash chain.
pub(crate) fn append_op_body(
    tx: &Transaction<'_>,
    node_id: Uuid,
    kind: &str,
    body: &OpBody,
    now_ms: i64,
) -> Result<OpRecord, StoreError> {
    let last: Option<(i64, i64, i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT seq, hlc_wall_ms, hlc_logical, hash FROM ops ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let (seq, mut clock, prev_hash) = match last {
        Some((seq, wall_ms, logical, hash)) => (
            seq as u64 + 1,
            HybridClock::resume(Hlc {
                wall_ms: wall_ms as u64,
                logical: logical as u32,
            }),
            <[u8; 32]>::try_from(hash.as_slice())
                .map_err(|_| StoreError::Corrupt(format!("op {seq} has a bad hash")))?,
        ),
        None => (1, HybridClock::default(), GENESIS_HASH),
    };
    let hlc = clock.tick(now_ms.max(0) as u64);
    let op = WireOp {
        origin: *node_id.as_bytes(),
        seq,
        hlc,
        prev_hash,
        body: body.encode(),
    };
    tx.prepare_cached(
        "INSERT INTO ops (seq, kind, hlc_wall_ms, hlc_logical, prev_hash, hash, body, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        seq as i64,
        kind,
        hlc.wall_ms as i64,
        i64::from(hlc.logical),
        prev_hash.as_slice(),
        op.chain_hash().as_slice(),
        op.body,
        now_ms
    ])?;
    Ok(OpRecord { seq, hlc })
}

/// The documents of a keyed list, without their keys.
fn values<T>(docs: Vec<(String, T)>) -> Vec<T> {
    docs.into_iter().map(|(_, doc)| doc).collect()
}

/// What order recall looks for; every field given must match.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    /// The number on the ticket or receipt.
    pub number: Option<u64>,
    pub state: Option<shared_model::OrderState>,
    /// The staff member serving it.
    pub server: Option<Uuid>,
    /// Part of the customer's name or phone (a cloud order), of a tab's name, of the loyalty
    /// member's name or code, or of the cloud order's reference; any case.
    pub customer: Option<String>,
}

/// `%text%` for `LIKE ... ESCAPE '\'`, with the text's own wildcards taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(crate) fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}
