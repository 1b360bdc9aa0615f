//! Tables and tabs: the floor plan, seating guests with a new order, moving an order to another
//! table, and bar tabs opened by name with an optional limit and card pre-authorisation.

use super::staff::{AccessError, Caller};
use crate::store::{FloorTable, Store, StoreError, Tab, TableRefusal, TableView};
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

/// Longest tab name. Why: it is called out across a bar and printed on the bill.
pub const TAB_NAME_CHARS_MAX: usize = 64;
/// Longest card pre-authorisation reference. Why: terminal references are short codes.
pub const PREAUTH_REF_CHARS_MAX: usize = 64;
/// Highest tab limit, in minor units. Why: ten million in the major unit is beyond any bar
/// tab; a larger number is a typo that would make the limit meaningless.
pub const TAB_LIMIT_MINOR_MAX: i64 = 1_000_000_000;
/// Most tabs one listing returns. Why: a bar's open tabs fit on one screen.
pub const TABS_LIST_MAX: usize = 200;

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
        super::blocking(move || store.replace_floor_plan(&parsed, crate::now_ms()))
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

    /// Opens a bar tab by name.
    /// Opens a tab; the signed-in bartender or server (`server`) serves it.
    pub async fn open_tab(
        &self,
        name: String,
        limit_minor: Option<i64>,
        preauth_ref: Option<String>,
        server: Option<Uuid>,
        now_ms: i64,
    ) -> Result<Tab, TableError> {
        let bad = |field, message: String| TableError::BadField { field, message };
        let name = name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > TAB_NAME_CHARS_MAX
            || name.chars().any(char::is_control)
        {
            return Err(bad(
                "name",
                format!("a tab name is 1 to {TAB_NAME_CHARS_MAX} printable characters"),
            ));
        }
        if limit_minor.is_some_and(|limit| !(1..=TAB_LIMIT_MINOR_MAX).contains(&limit)) {
            return Err(bad(
                "limit_minor",
                format!("a tab limit is 1 to {TAB_LIMIT_MINOR_MAX} minor units"),
            ));
        }
        let preauth_ref = preauth_ref.map(|text| text.trim().to_owned());
        if preauth_ref.as_ref().is_some_and(|text| {
            text.is_empty()
                || text.chars().count() > PREAUTH_REF_CHARS_MAX
                || text.chars().any(char::is_control)
        }) {
            return Err(bad(
                "preauth_ref",
                format!("a pre-authorisation reference is 1 to {PREAUTH_REF_CHARS_MAX} characters"),
            ));
        }
        let store = self.store.clone();
        let currency = self.currency;
        let order_id = OrderId(Uuid::now_v7());
        Ok(super::blocking(move || {
            store.open_tab(
                crate::store::NewTab {
                    name: &name,
                    limit_minor,
                    preauth_ref: preauth_ref.as_deref(),
                    order_id,
                    currency,
                    server,
                },
                now_ms,
            )
        })
        .await?)
    }

    /// Open tabs, optionally those whose name contains `name`.
    pub async fn tabs(&self, name: Option<String>) -> Result<Vec<Tab>, TableError> {
        let store = self.store.clone();
        Ok(super::blocking(move || store.open_tabs(name.as_deref(), TABS_LIST_MAX)).await?)
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
