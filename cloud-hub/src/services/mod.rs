//! The hub's use cases: no HTTP, no SQL strings.

pub mod admin;
pub mod cloud_orders;
pub mod enrollment;
pub mod order_notes;
