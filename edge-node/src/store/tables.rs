//! The floor plan and bar tabs. Tables: areas and tables with seats, the order seated at each table, and table
//! status derived from that order (free, seated, ordered, paying).
//!
//! Seating guests opens a dine-in order and links it to the table in one transaction with both
//! ops; a table whose order is closed or voided is free again without further writes.

use super::{Store, StoreError, append_op, append_op_body, save_order};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::{Currency, Order, OrderEvent, OrderId, OrderState, OrderType};
use sync_protocol::docs::{DocChangeV1, DocKindV1, FloorPlanDoc, PlanTable};
use sync_protocol::op::{OpBody, TabEventV1, TableEventV1};

/// A table on the floor plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorTable {
    pub code: String,
    pub area: String,
    pub seats: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatus {
    Free,
    /// Guests sit, nothing ordered yet.
    Seated,
    Ordered,
    Paying,
}

impl TableStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            TableStatus::Free => "free",
            TableStatus::Seated => "seated",
            TableStatus::Ordered => "ordered",
            TableStatus::Paying => "paying",
        }
    }

    fn of(order: Option<&Order>) -> TableStatus {
        match order {
            None => TableStatus::Free,
            Some(order) => match order.state {
                OrderState::Closed
                | OrderState::Voided
                | OrderState::Refunded
                | OrderState::Merged => TableStatus::Free,
                OrderState::PartiallyPaid | OrderState::Paid => TableStatus::Paying,
                OrderState::Open | OrderState::Sent if order.lines.is_empty() => {
                    TableStatus::Seated
                }
                OrderState::Open | OrderState::Sent => TableStatus::Ordered,
            },
        }
    }
}

/// A table as the floor view shows it.
#[derive(Debug, Clone)]
pub struct TableView {
    pub table: FloorTable,
    pub status: TableStatus,
    /// The order at the table while it is not free.
    pub order_id: Option<OrderId>,
    pub guests: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRefusal {
    NoSuchTable,
    TableTaken,
    OrderNotFound,
    OrderNotAtATable,
    /// A table with a seated order cannot be removed from the floor plan.
    TableInUse,
}

impl Store {
    /// Replaces the floor plan; refused if it would drop a table that has guests.
    /// Replaces the floor plan with `tables`. The plan is an automerge document the hub edits
    /// too: only what differs from the plan as it stands is written, and those changes go to
    /// the hub as a `Doc` op in the same transaction.
    pub fn replace_floor_plan(
        &self,
        tables: &[FloorTable],
        now_ms: i64,
    ) -> Result<Result<(), TableRefusal>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let codes: Vec<String> = {
            let mut statement = tx.prepare("SELECT code FROM floor_tables")?;
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        for code in codes {
            let kept = tables.iter().any(|table| table.code == code);
            if !kept && occupant_tx(&tx, &code)?.is_some() {
                return Ok(Err(TableRefusal::TableInUse));
            }
        }
        let mut doc = load_floor_doc_tx(&tx, self.node_id)?;
        let heads = doc.heads();
        let plan: Vec<PlanTable> = tables
            .iter()
            .enumerate()
            .map(|(position, table)| PlanTable {
                code: table.code.clone(),
                area: table.area.clone(),
                seats: table.seats,
                position: position as u32,
            })
            .collect();
        doc.set_tables(&plan)
            .map_err(|e| StoreError::Corrupt(format!("floor plan document: {e}")))?;
        let changes = doc.changes_since(&heads);
        if !changes.is_empty() {
            let body = OpBody::Doc(DocChangeV1 {
                doc: DocKindV1::FloorPlan,
                changes,
            });
            append_op_body(&tx, self.node_id, "doc.floor_plan", &body, now_ms)?;
        }
        save_floor_doc_tx(&tx, &mut doc, now_ms)?;
        project_floor_tx(&tx, &doc.tables())?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// Every table with its status, in floor-plan order.
    pub fn floor(&self) -> Result<Vec<TableView>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let tables: Vec<(String, String, u32)> = {
            let mut statement =
                tx.prepare("SELECT code, area, seats FROM floor_tables ORDER BY position")?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut views = Vec::with_capacity(tables.len());
        for (code, area, seats) in tables {
            let occupant = occupant_tx(&tx, &code)?;
            let status = TableStatus::of(occupant.as_ref().map(|(order, _)| order));
            views.push(TableView {
                table: FloorTable { code, area, seats },
                status,
                order_id: occupant.as_ref().map(|(order, _)| order.id),
                guests: occupant.map(|(_, guests)| guests),
            });
        }
        Ok(views)
    }

    /// Seats `guests` at a free table with a new dine-in order: the order, the link and both
    /// ops commit together.
    pub fn seat_at_table(
        &self,
        table_code: &str,
        guests: u32,
        order_id: OrderId,
        currency: Currency,
        now_ms: i64,
    ) -> Result<Result<Order, TableRefusal>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        if !table_exists_tx(&tx, table_code)? {
            return Ok(Err(TableRefusal::NoSuchTable));
        }
        if occupant_tx(&tx, table_code)?.is_some() {
            return Ok(Err(TableRefusal::TableTaken));
        }
        let order = open_order_tx(
            &tx,
            self.node_id,
            order_id,
            OrderType::DineIn,
            currency,
            now_ms,
        )?;
        tx.execute(
            "INSERT INTO table_orders (order_id, table_code, guests, seated_at_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![order_id.to_string(), table_code, guests, now_ms],
        )?;
        let body = OpBody::Table(TableEventV1::Seated {
            table: table_code.to_owned(),
            order_id: *order_id.0.as_bytes(),
            guests,
            at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "table.seated", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok(order))
    }

    /// Moves an order (with its guests) to a free table.
    pub fn transfer_to_table(
        &self,
        order_id: OrderId,
        to_table: &str,
        now_ms: i64,
    ) -> Result<Result<(), TableRefusal>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        if super::load_order(&tx, order_id)?.is_none() {
            return Ok(Err(TableRefusal::OrderNotFound));
        }
        let from: Option<String> = tx
            .query_row(
                "SELECT table_code FROM table_orders WHERE order_id = ?1",
                params![order_id.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        let Some(from) = from else {
            return Ok(Err(TableRefusal::OrderNotAtATable));
        };
        if !table_exists_tx(&tx, to_table)? {
            return Ok(Err(TableRefusal::NoSuchTable));
        }
        if occupant_tx(&tx, to_table)?.is_some() {
            return Ok(Err(TableRefusal::TableTaken));
        }
        tx.execute(
            "UPDATE table_orders SET table_code = ?2 WHERE order_id = ?1",
            params![order_id.to_string(), to_table],
        )?;
        let body = OpBody::Table(TableEventV1::Transferred {
            order_id: *order_id.0.as_bytes(),
            from_table: from,
            to_table: to_table.to_owned(),
            at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "table.transferred", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok(()))
    }
}

/// A bar tab: an order opened by name.
#[derive(Debug, Clone)]
pub struct Tab {
    pub name: String,
    pub limit_minor: Option<i64>,
    pub preauth_ref: Option<String>,
    pub order: Order,
}

/// A tab to open (checked by the caller).
#[derive(Debug, Clone)]
pub struct NewTab<'a> {
    pub name: &'a str,
    pub limit_minor: Option<i64>,
    pub preauth_ref: Option<&'a str>,
    pub order_id: OrderId,
    pub currency: Currency,
    /// The staff member who serves it (the one who opened it).
    pub server: Option<uuid::Uuid>,
}

impl Store {
    /// Opens a bar tab: a `bar_tab` order and its name, limit and pre-authorisation, with both
    /// ops (and its server's), in one transaction.
    pub fn open_tab(&self, tab: NewTab<'_>, now_ms: i64) -> Result<Tab, StoreError> {
        let NewTab {
            name,
            limit_minor,
            preauth_ref,
            order_id,
            currency,
            server,
        } = tab;
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let order = open_order_tx(
            &tx,
            self.node_id,
            order_id,
            OrderType::BarTab,
            currency,
            now_ms,
        )?;
        if let Some(server) = server {
            super::assign_server_tx(&tx, self.node_id, order_id, server, None, now_ms)?;
        }
        tx.execute(
            "INSERT INTO tabs (order_id, name, limit_minor, preauth_ref, opened_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![order_id.to_string(), name, limit_minor, preauth_ref, now_ms],
        )?;
        let body = OpBody::Tab(TabEventV1::Opened {
            order_id: *order_id.0.as_bytes(),
            name: name.to_owned(),
            limit_minor,
            preauth_ref: preauth_ref.map(str::to_owned),
            at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "tab.opened", &body, now_ms)?;
        tx.commit()?;
        Ok(Tab {
            name: name.to_owned(),
            limit_minor,
            preauth_ref: preauth_ref.map(str::to_owned),
            order,
        })
    }

    /// Open tabs whose name contains `name` (any case), oldest first, at most `count_max`.
    pub fn open_tabs(&self, name: Option<&str>, count_max: usize) -> Result<Vec<Tab>, StoreError> {
        let connection = self.lock();
        let pattern = name.map(|name| {
            // LIKE wildcards in a name are matched literally.
            let escaped = name
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let mut statement = connection.prepare_cached(
            "SELECT t.name, t.limit_minor, t.preauth_ref, o.doc FROM tabs t
             JOIN orders o ON o.id = t.order_id
             WHERE o.state NOT IN ('closed', 'voided')
               AND (?1 IS NULL OR t.name LIKE ?1 ESCAPE '\\')
             ORDER BY t.opened_at_ms, t.order_id LIMIT ?2",
        )?;
        let rows = statement
            .query_map(params![pattern, count_max as i64], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<i64>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(name, limit_minor, preauth_ref, doc)| {
                Ok(Tab {
                    name,
                    limit_minor,
                    preauth_ref,
                    order: super::parse_json(&doc)?,
                })
            })
            .collect()
    }
}

/// Opens a new order inside the caller's transaction: the next number, the order row, its op.
fn open_order_tx(
    tx: &Transaction<'_>,
    node_id: uuid::Uuid,
    order_id: OrderId,
    order_type: OrderType,
    currency: Currency,
    now_ms: i64,
) -> Result<Order, StoreError> {
    let number: i64 = tx.query_row(
        "UPDATE counters SET value = value + 1 WHERE name = 'order_number' RETURNING value",
        [],
        |row| row.get(0),
    )?;
    let event = OrderEvent::Opened {
        order_id,
        number: number as u64,
        order_type,
        currency,
        opened_at_ms: now_ms,
    };
    let order = Order::from_opened(&event)
        .ok_or_else(|| StoreError::Corrupt("an opened event must open an order".into()))?;
    save_order(tx, &order, now_ms)?;
    append_op(tx, node_id, &event, now_ms)?;
    Ok(order)
}

fn table_exists_tx(tx: &Transaction<'_>, code: &str) -> Result<bool, StoreError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM floor_tables WHERE code = ?1",
            params![code],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The order at a table (and its guests), if one is still running there.
/// The floor plan document, or a new one written by `node_id` if the box has none yet. A box
/// that had a plan before plans were documents starts its document from that plan (its first
/// edit then carries every table to the hub).
fn load_floor_doc_tx(
    tx: &Transaction<'_>,
    node_id: uuid::Uuid,
) -> Result<FloorPlanDoc, StoreError> {
    let bytes: Option<Vec<u8>> = tx
        .query_row(
            "SELECT bytes FROM docs WHERE kind = ?1",
            params![DocKindV1::FloorPlan.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    match bytes {
        Some(bytes) => FloorPlanDoc::load(&bytes, *node_id.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("floor plan document: {e}"))),
        None => Ok(FloorPlanDoc::new(*node_id.as_bytes())),
    }
}

fn save_floor_doc_tx(
    tx: &Transaction<'_>,
    doc: &mut FloorPlanDoc,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO docs (kind, bytes, updated_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind) DO UPDATE SET bytes = excluded.bytes, updated_at_ms = excluded.updated_at_ms",
        params![DocKindV1::FloorPlan.as_str(), doc.save(), now_ms],
    )?;
    Ok(())
}

/// Lays the plan onto the floor view. A table the plan no longer has but guests still sit at
/// stays on the floor (after the others) until they leave: the hub removing a table cannot
/// strand an open bill.
fn project_floor_tx(tx: &Transaction<'_>, plan: &[PlanTable]) -> Result<(), StoreError> {
    let existing: Vec<(String, String, u32)> = {
        let mut statement =
            tx.prepare("SELECT code, area, seats FROM floor_tables ORDER BY position")?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut kept = Vec::new();
    for (code, area, seats) in existing {
        if !plan.iter().any(|table| table.code == code) && occupant_tx(tx, &code)?.is_some() {
            kept.push((code, area, seats));
        }
    }
    tx.execute("DELETE FROM floor_tables", [])?;
    let rows = plan
        .iter()
        .map(|table| (table.code.clone(), table.area.clone(), table.seats))
        .chain(kept);
    for (position, (code, area, seats)) in rows.enumerate() {
        tx.execute(
            "INSERT INTO floor_tables (code, area, seats, position) VALUES (?1, ?2, ?3, ?4)",
            params![code, area, seats, position as i64],
        )?;
    }
    Ok(())
}

/// Applies the hub's changes to the floor plan document and lays the merged plan onto the
/// floor view, in the feed's transaction. Changes that do not read are skipped with a warning
/// (the hub's copy stays authoritative and its next change carries everything again).
pub(crate) fn apply_floor_changes_tx(
    tx: &Transaction<'_>,
    node_id: uuid::Uuid,
    changes: &[u8],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut doc = load_floor_doc_tx(tx, node_id)?;
    if let Err(error) = doc.apply(changes) {
        tracing::warn!(%error, "skipped floor plan changes from the hub that do not read");
        return Ok(());
    }
    save_floor_doc_tx(tx, &mut doc, now_ms)?;
    project_floor_tx(tx, &doc.tables())
}

fn occupant_tx(tx: &Transaction<'_>, code: &str) -> Result<Option<(Order, u32)>, StoreError> {
    let mut statement = tx.prepare_cached(
        "SELECT o.doc, t.guests FROM table_orders t JOIN orders o ON o.id = t.order_id
         WHERE t.table_code = ?1 AND o.state NOT IN ('closed', 'voided')
         ORDER BY t.seated_at_ms DESC LIMIT 1",
    )?;
    let row: Option<(String, u32)> = statement
        .query_row(params![code], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(doc, guests)| Ok((super::parse_json(&doc)?, guests)))
        .transpose()
}
