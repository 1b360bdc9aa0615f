//! Kibanda's multi-tenant hub.
//!
//! The hub owns PostgreSQL, the system of record. Edges push their op logs over QUIC
//! ([`sync`]); the hub applies them with the same `shared-model` rules the edge used, group-committing
//! the batches of many connections in one transaction, and serves the result to other services over the tenant REST API
//! ([`api`]).
//!
//! Architecture invariant: every query of tenant data is scoped by a [`store::TenantId`]; no
//! function in [`store`] reads tenant rows without one.
//! Architecture invariant: a device's tenant, outlet and id come from its certificate (via its
//! fingerprint), never from what it sends.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod envelope;
pub mod events;
pub mod integrations;
pub mod metrics;
pub mod pki;
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
