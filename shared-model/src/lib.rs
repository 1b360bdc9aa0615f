//! Kibanda's pure domain: money, tax, catalog references, price books, modifiers, promotions,
//! pricing, orders and the rules that move them.
//!
//! Architecture invariant: this crate has no I/O, no async, no clock and no randomness. Time
//! and identifiers are passed in by the caller, so the edge and the hub compute the same
//! totals from the same facts, and every rule here is testable as a pure function.
//!
//! Architecture invariant: no floating point anywhere in a money path. The lints below turn
//! float arithmetic into a compile error for the whole crate.
//!
//! Code map: [`money`] and [`allocation`] are the arithmetic; [`tax`] and [`cash_rounding`]
//! the rounding rules; [`catalog`], [`barcode`], [`pricebook`] and [`modifiers`] describe what
//! is sold and at what price; [`promotions`] takes money off; [`pricing::price_cart`] puts
//! them together into a receipt; [`order`] is the aggregate and its state machine, built from
//! [`events`]; [`split`] divides a bill; [`wait_quote`] tells a customer how long the kitchen
//! will be.
#![deny(
    clippy::float_arithmetic,
    clippy::float_cmp,
    clippy::cast_precision_loss
)]

pub mod allocation;
pub mod barcode;
pub mod cash_rounding;
pub mod catalog;
pub mod cloud_order;
pub mod day_report;
pub mod drawer;
pub mod events;
pub mod gift_card;
pub mod ids;
pub mod loyalty;
pub mod modifiers;
pub mod money;
pub mod order;
pub mod outlet;
pub mod payment_intent;
pub mod pci;
pub mod pricebook;
pub mod pricing;
pub mod promotions;
pub mod split;
pub mod staff;
pub mod tax;
pub mod tips;
pub mod wait_quote;

pub use allocation::allocate_largest_remainder;
pub use catalog::{CatalogItem, ItemId, Unit};
pub use events::OrderEvent;
pub use ids::{DiscountId, DrawerSessionId, LineId, OrderId, PaymentId, RefundId, TipId};
pub use money::{Currency, Money, MoneyError};
pub use order::{Order, OrderState, OrderTotals, OrderType, Payment, Tender};
pub use pricing::{Cart, CartLine, PricedCart, PricingContext, PricingRules, Quantity, price_cart};
pub use promotions::Promotion;
pub use tax::{TaxMode, TaxPolicy, TaxRate};
