//! Tables: the floor plan, seating guests with a new order, moving an order to another table.

use super::staff::{AccessError, Caller};
use crate::store::{FloorTable, Store, StoreError, TableRefusal, TableView};
use shared_model::staff::Action;
use shared_model::{Currency, Order, OrderId};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Most tables on a floor plan. Why 500: the largest restaurants and beer gardens have a few
/// hundred; the bound keeps the floor view one small answer.
pub const FLOOR_TABLES_MAX: usize = 500;
/// Most seats at one table, and most guests seated at once. Why 99: a banquet row; beyond that
/// it is a typo.
pub const TABLE_SEATS_MAX: u32 = 99;
/// Longest table code or area name. Why: labels on a small floor view.
pub const TABLE_LABEL_CHARS_MAX: usize = 32;

#[derive(Debug, Error)]
pub enum TableError {
    #[error("{message}")]
    BadField {
        field: &'static str,
        message: String,
    },
    #[error("no such table")]
    NoSuchTable,
    #[error("the table is taken")]
    TableTaken,
    #[error("order not found")]
    OrderNotFound,
    #[error("the order is not at a table")]
    OrderNotAtATable,
    #[error("a table with guests cannot be removed from the floor plan")]
    TableInUse,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TableRefusal> for TableError {
    fn from(refusal: TableRefusal) -> Self {
        match refusal {
            TableRefusal::NoSuchTable => TableError::NoSuchTable,
            TableRefusal::TableTaken => TableError::TableTaken,
            TableRefusal::OrderNotFound => TableError::OrderNotFound,
            TableRefusal::OrderNotAtATable => TableError::OrderNotAtATable,
            TableRefusal::TableInUse => TableError::TableInUse,
        }
    }
}

fn label(text: &str, field: &'static str) -> Result<String, TableError> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > TABLE_LABEL_CHARS_MAX
        || text.chars().any(char::is_control)
    {
        return Err(TableError::BadField {
            field,
            message: format!("{field} is 1 to {TABLE_LABEL_CHARS_MAX} printable characters"),
        });
    }
    Ok(text.to_owned())
}

fn seats(count: u32, field: &'static str) -> Result<u32, TableError> {
    if (1..=TABLE_SEATS_MAX).contains(&count) {
        Ok(count)
    } else {
        Err(TableError::BadField {
            field,
            message: format!("{field} is 1 to {TABLE_SEATS_MAX}"),
        })
    }
}

pub struct TableService {
    store: Arc<Store>,
    currency: Currency,
}

impl TableService {
    pub fn new(store: Arc<Store>, currency: Currency) -> TableService {
        TableService { store, currency }
    }

    /// Replaces the floor plan with `(area, code, seats)` tables (supervisor or manager).
    pub async fn replace_floor_plan(
        &self,
        caller: &Caller,
        tables: Vec<(String, String, u32)>,
    ) -> Result<(), TableError> {
        caller.require(Action::ManageFloorPlan)?;
        if tables.len() > FLOOR_TABLES_MAX {
            return Err(TableError::BadField {
                field: "tables",
                message: format!("at most {FLOOR_TABLES_MAX} tables"),
            });
        }
        let mut parsed: Vec<FloorTable> = Vec::with_capacity(tables.len());
        for (area, code, count) in tables {
            let table = FloorTable {
                area: label(&area, "area")?,
                code: label(&code, "code")?,
                seats: seats(count, "seats")?,
            };
            if parsed.iter().any(|other| other.code == table.code) {
                return Err(TableError::BadField {
                    field: "code",
                    message: format!("table {} appears twice", table.code),
                });
            }
            parsed.push(table);
        }
        let store = self.store.clone();
        super::blocking(move || store.replace_floor_plan(&parsed))
            .await?
            .map_err(TableError::from)
    }

    pub async fn floor(&self) -> Result<Vec<TableView>, TableError> {
        let store = self.store.clone();
        Ok(super::blocking(move || store.floor()).await?)
    }

    /// Seats guests at a free table with a new dine-in order.
    pub async fn seat(&self, table: String, guests: u32, now_ms: i64) -> Result<Order, TableError> {
        let guests = seats(guests, "guests")?;
        let store = self.store.clone();
        let currency = self.currency;
        let order_id = OrderId(Uuid::now_v7());
        super::blocking(move || store.seat_at_table(&table, guests, order_id, currency, now_ms))
            .await?
            .map_err(TableError::from)
    }

    pub async fn transfer(
        &self,
        order_id: OrderId,
        to_table: String,
        now_ms: i64,
    ) -> Result<(), TableError> {
        let store = self.store.clone();
        super::blocking(move || store.transfer_to_table(order_id, &to_table, now_ms))
            .await?
            .map_err(TableError::from)
    }
}
