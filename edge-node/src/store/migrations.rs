//! Schema migrations, tracked in `PRAGMA user_version`.
//!
//! Why not a migration crate: the edge's schema moves forward only, in one process, and
//! `user_version` is SQLite's own slot for exactly this; each step runs in a transaction.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the spine
    "CREATE TABLE node (id INTEGER PRIMARY KEY CHECK (id = 1), node_id TEXT NOT NULL);
     CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
     INSERT INTO counters (name, value) VALUES ('order_number', 0), ('acked_through_seq', 0);
     CREATE TABLE catalog_items (id TEXT PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL);
     CREATE TABLE devices (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL, disabled_at_ms INTEGER);
     CREATE TABLE orders (
        id TEXT PRIMARY KEY, number INTEGER NOT NULL, state TEXT NOT NULL, doc TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL);
     CREATE INDEX orders_by_number ON orders (number);
     CREATE TABLE ops (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,
        hlc_wall_ms INTEGER NOT NULL, hlc_logical INTEGER NOT NULL,
        prev_hash BLOB NOT NULL, hash BLOB NOT NULL, body BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL);
     CREATE TABLE enrollment (
        id INTEGER PRIMARY KEY CHECK (id = 1), hub_addr TEXT NOT NULL,
        tenant_id TEXT NOT NULL, tenant_slug TEXT NOT NULL, outlet_id TEXT NOT NULL,
        outlet_code TEXT NOT NULL, outlet_name TEXT NOT NULL, currency TEXT NOT NULL,
        timezone TEXT NOT NULL, device_cert_der BLOB NOT NULL, device_key_der BLOB NOT NULL,
        ca_cert_der BLOB NOT NULL, enrolled_at_ms INTEGER NOT NULL);",
    // 2: the downstream feed cursor
    "INSERT INTO counters (name, value) VALUES ('feed_through_seq', 0);",
];

pub fn apply(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = connection.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    // The node id is minted once, on first open, and never changes: it is the origin of every
    // op this store writes.
    connection.execute(
        "INSERT OR IGNORE INTO node (id, node_id) VALUES (1, ?1)",
        [uuid::Uuid::now_v7().to_string()],
    )?;
    Ok(())
}
