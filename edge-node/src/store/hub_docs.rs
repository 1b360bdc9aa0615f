//! The tables of JSON documents the hub's feed sets whole, one per key: price books,
//! promotions, combos and items' modifier groups. One way to write, remove and read them.

use super::{Store, StoreError, parse_json};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A `(key, doc)` table the feed keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocTable {
    PriceBooks,
    Promotions,
    Combos,
    ItemModifiers,
}

impl DocTable {
    /// Table and key column; fixed names, never input.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            DocTable::PriceBooks => ("price_books", "id"),
            DocTable::Promotions => ("promotions", "id"),
            DocTable::Combos => ("combos", "id"),
            DocTable::ItemModifiers => ("item_modifiers", "item_id"),
        }
    }
}

/// Sets the document under `key`, replacing what was there.
pub(crate) fn put_doc_tx<T: Serialize>(
    tx: &Transaction<'_>,
    table: DocTable,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let (name, column) = table.names();
    let doc = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        &format!(
            "INSERT INTO {name} ({column}, doc) VALUES (?1, ?2)
             ON CONFLICT ({column}) DO UPDATE SET doc = excluded.doc"
        ),
        params![key, doc],
    )?;
    Ok(())
}

/// Removes the document under `key`, if any.
pub(crate) fn delete_doc_tx(
    tx: &Transaction<'_>,
    table: DocTable,
    key: &str,
) -> Result<(), StoreError> {
    let (name, column) = table.names();
    tx.execute(
        &format!("DELETE FROM {name} WHERE {column} = ?1"),
        params![key],
    )?;
    Ok(())
}

impl Store {
    /// Every document of `table` with its key, by key.
    pub(crate) fn docs<T: DeserializeOwned>(
        &self,
        table: DocTable,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let (name, column) = table.names();
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {column}, doc FROM {name} ORDER BY {column}"
        ))?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(key, doc)| Ok((key, parse_json(&doc)?)))
            .collect()
    }

    /// The document of `table` under `key`.
    pub(crate) fn doc<T: DeserializeOwned>(
        &self,
        table: DocTable,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let (name, column) = table.names();
        let doc: Option<String> = self
            .lock()
            .query_row(
                &format!("SELECT doc FROM {name} WHERE {column} = ?1"),
                params![key],
                |row| row.get(0),
            )
            .optional()?;
        doc.map(|doc| parse_json(&doc)).transpose()
    }
}
