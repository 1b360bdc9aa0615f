//! Kibanda's outlet daemon.
//!
//! `edge-node` keeps the outlet's replica in SQLite and serves its terminals over the LAN,
//! online or not. Every state change is committed together with the op that records it
//! (transactional outbox); the [`sync`] client streams those ops to the hub whenever it can.
//!
//! Architecture invariant: a terminal's request never waits on the hub. The LAN API answers
//! from SQLite only; the sync client runs beside it and shares nothing but the store.
//! Architecture invariant: SQL lives only in [`store`]; HTTP lives only in [`api`].

pub mod api;
pub mod config;
pub mod discovery;
pub mod enroll;
pub mod printers;
pub mod services;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
