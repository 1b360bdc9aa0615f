//! Kibanda's pure domain: money, tax, catalog references, orders and the rules that move them.
//!
//! Architecture invariant: this crate has no I/O, no async, no clock and no randomness. Time
//! and identifiers are passed in by the caller, so the edge and the hub compute the same
//! totals from the same facts, and every rule here is testable as a pure function.
//!
//! Architecture invariant: no floating point anywhere in a money path. The lints below turn
//! float arithmetic into a compile error for the whole crate.
#![deny(
    clippy::float_arithmetic,
    clippy::float_cmp,
    clippy::cast_precision_loss
)]

pub mod allocation;
pub mod catalog;
pub mod events;
pub mod ids;
pub mod money;
pub mod order;
pub mod staff;
pub mod tax;

pub use allocation::allocate_largest_remainder;
pub use catalog::{CatalogItem, ItemId};
pub use events::OrderEvent;
pub use ids::{LineId, OrderId, PaymentId};
pub use money::{Currency, Money, MoneyError};
pub use order::{Order, OrderState, OrderTotals, OrderType, Payment, Tender};
pub use tax::{TaxMode, TaxRate};
