//! Ops on the wire: an origin's numbered, hash-chained facts, and their versioned bodies.
//!
//! An op id is `(origin, seq)`: the origin is the edge's node id (which becomes its device id
//! at enrollment) and `seq` counts from 1 without gaps. Each op names the hash of the one
//! before it, so the hub can prove it holds an origin's complete, untampered history.
//!
//! The body is carried as opaque postcard bytes of [`OpBody`]: the hub stores exactly what the
//! edge hashed, and decodes it separately from the envelope.

use crate::hlc::Hlc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared_model::order::{OrderLine, Payment};
use shared_model::tax::{TaxMode, TaxPortion, TaxRate};
use shared_model::{Currency, ItemId, LineId, OrderEvent, OrderId, OrderType, PaymentId, Tender};
use thiserror::Error;
use uuid::Uuid;

/// Hash of "no previous op", the start of every chain.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireOp {
    pub origin: [u8; 16],
    pub seq: u64,
    pub hlc: Hlc,
    pub prev_hash: [u8; 32],
    /// postcard bytes of [`OpBody`].
    pub body: Vec<u8>,
}

impl WireOp {
    /// This op's link in its origin's chain: `sha256(prev_hash ‖ origin ‖ seq ‖ hlc ‖ body)`.
    pub fn chain_hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash);
        hasher.update(self.origin);
        hasher.update(self.seq.to_be_bytes());
        hasher.update(self.hlc.wall_ms.to_be_bytes());
        hasher.update(self.hlc.logical.to_be_bytes());
        hasher.update((self.body.len() as u64).to_be_bytes());
        hasher.update(&self.body);
        hasher.finalize().into()
    }

    pub fn origin_uuid(&self) -> Uuid {
        Uuid::from_bytes(self.origin)
    }

    pub fn decode_body(&self) -> Result<OpBody, OpDecodeError> {
        let (body, rest) = postcard::take_from_bytes::<OpBody>(&self.body)
            .map_err(|error| OpDecodeError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(OpDecodeError::Malformed("trailing bytes".into()));
        }
        Ok(body)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum OpDecodeError {
    #[error("malformed op body: {0}")]
    Malformed(String),
    #[error("invalid value in op body: {0}")]
    Invalid(String),
}

/// What an op says. Add variants only at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpBody {
    Order(OrderEventV1),
}

impl OpBody {
    pub fn encode(&self) -> Vec<u8> {
        // Serialising these plain structs into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderTypeV1 {
    DineIn,
    BarTab,
    TakeOut,
    Delivery,
    EcommercePickup,
    DriveThru,
    Kiosk,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenderV1 {
    Cash,
    Card,
    Mpesa,
    GiftCard,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRateV1 {
    pub code: String,
    pub rate_bps: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxPortionV1 {
    pub code: String,
    pub rate_bps: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineV1 {
    pub id: [u8; 16],
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub tax_inclusive: bool,
    pub tax_rates: Vec<TaxRateV1>,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub taxes: Vec<TaxPortionV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentV1 {
    pub id: [u8; 16],
    pub tender: TenderV1,
    pub tendered_minor: i64,
    pub amount_minor: i64,
    pub change_minor: i64,
    pub taken_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEventV1 {
    Opened {
        order_id: [u8; 16],
        number: u64,
        order_type: OrderTypeV1,
        currency: String,
        opened_at_ms: i64,
    },
    LineAdded {
        order_id: [u8; 16],
        line: OrderLineV1,
    },
    PaymentTaken {
        order_id: [u8; 16],
        payment: PaymentV1,
    },
    Closed {
        order_id: [u8; 16],
        closed_at_ms: i64,
    },
    Voided {
        order_id: [u8; 16],
        reason: String,
        voided_at_ms: i64,
    },
}

fn order_type_to_wire(value: OrderType) -> OrderTypeV1 {
    match value {
        OrderType::DineIn => OrderTypeV1::DineIn,
        OrderType::BarTab => OrderTypeV1::BarTab,
        OrderType::TakeOut => OrderTypeV1::TakeOut,
        OrderType::Delivery => OrderTypeV1::Delivery,
        OrderType::EcommercePickup => OrderTypeV1::EcommercePickup,
        OrderType::DriveThru => OrderTypeV1::DriveThru,
        OrderType::Kiosk => OrderTypeV1::Kiosk,
    }
}

fn order_type_from_wire(value: &OrderTypeV1) -> OrderType {
    match value {
        OrderTypeV1::DineIn => OrderType::DineIn,
        OrderTypeV1::BarTab => OrderType::BarTab,
        OrderTypeV1::TakeOut => OrderType::TakeOut,
        OrderTypeV1::Delivery => OrderType::Delivery,
        OrderTypeV1::EcommercePickup => OrderType::EcommercePickup,
        OrderTypeV1::DriveThru => OrderType::DriveThru,
        OrderTypeV1::Kiosk => OrderType::Kiosk,
    }
}

fn tender_to_wire(value: Tender) -> TenderV1 {
    match value {
        Tender::Cash => TenderV1::Cash,
        Tender::Card => TenderV1::Card,
        Tender::Mpesa => TenderV1::Mpesa,
        Tender::GiftCard => TenderV1::GiftCard,
    }
}

fn tender_from_wire(value: &TenderV1) -> Tender {
    match value {
        TenderV1::Cash => Tender::Cash,
        TenderV1::Card => Tender::Card,
        TenderV1::Mpesa => Tender::Mpesa,
        TenderV1::GiftCard => Tender::GiftCard,
    }
}

fn line_to_wire(line: &OrderLine) -> OrderLineV1 {
    OrderLineV1 {
        id: *line.id.0.as_bytes(),
        item_id: line.item_id.0.clone(),
        name: line.name.clone(),
        quantity: line.quantity,
        unit_price_minor: line.unit_price_minor,
        tax_inclusive: line.tax_mode == TaxMode::Inclusive,
        tax_rates: line
            .tax_rates
            .iter()
            .map(|r| TaxRateV1 {
                code: r.code.clone(),
                rate_bps: r.rate_bps,
            })
            .collect(),
        net_minor: line.net_minor,
        tax_minor: line.tax_minor,
        gross_minor: line.gross_minor,
        taxes: line
            .taxes
            .iter()
            .map(|p| TaxPortionV1 {
                code: p.code.clone(),
                rate_bps: p.rate_bps,
                taxable_minor: p.taxable_minor,
                tax_minor: p.tax_minor,
            })
            .collect(),
    }
}

fn line_from_wire(line: &OrderLineV1) -> OrderLine {
    OrderLine {
        id: LineId(Uuid::from_bytes(line.id)),
        item_id: ItemId(line.item_id.clone()),
        name: line.name.clone(),
        quantity: line.quantity,
        unit_price_minor: line.unit_price_minor,
        tax_mode: if line.tax_inclusive {
            TaxMode::Inclusive
        } else {
            TaxMode::Exclusive
        },
        tax_rates: line
            .tax_rates
            .iter()
            .map(|r| TaxRate::new(r.code.clone(), r.rate_bps))
            .collect(),
        net_minor: line.net_minor,
        tax_minor: line.tax_minor,
        gross_minor: line.gross_minor,
        taxes: line
            .taxes
            .iter()
            .map(|p| TaxPortion {
                code: p.code.clone(),
                rate_bps: p.rate_bps,
                taxable_minor: p.taxable_minor,
                tax_minor: p.tax_minor,
            })
            .collect(),
    }
}

impl From<&OrderEvent> for OrderEventV1 {
    fn from(event: &OrderEvent) -> Self {
        match event {
            OrderEvent::Opened {
                order_id,
                number,
                order_type,
                currency,
                opened_at_ms,
            } => OrderEventV1::Opened {
                order_id: *order_id.0.as_bytes(),
                number: *number,
                order_type: order_type_to_wire(*order_type),
                currency: currency.code().to_owned(),
                opened_at_ms: *opened_at_ms,
            },
            OrderEvent::LineAdded { order_id, line } => OrderEventV1::LineAdded {
                order_id: *order_id.0.as_bytes(),
                line: line_to_wire(line),
            },
            OrderEvent::PaymentTaken { order_id, payment } => OrderEventV1::PaymentTaken {
                order_id: *order_id.0.as_bytes(),
                payment: PaymentV1 {
                    id: *payment.id.0.as_bytes(),
                    tender: tender_to_wire(payment.tender),
                    tendered_minor: payment.tendered_minor,
                    amount_minor: payment.amount_minor,
                    change_minor: payment.change_minor,
                    taken_at_ms: payment.taken_at_ms,
                },
            },
            OrderEvent::Closed {
                order_id,
                closed_at_ms,
            } => OrderEventV1::Closed {
                order_id: *order_id.0.as_bytes(),
                closed_at_ms: *closed_at_ms,
            },
            OrderEvent::Voided {
                order_id,
                reason,
                voided_at_ms,
            } => OrderEventV1::Voided {
                order_id: *order_id.0.as_bytes(),
                reason: reason.clone(),
                voided_at_ms: *voided_at_ms,
            },
        }
    }
}

impl TryFrom<&OrderEventV1> for OrderEvent {
    type Error = OpDecodeError;

    fn try_from(event: &OrderEventV1) -> Result<Self, Self::Error> {
        let id = |bytes: &[u8; 16]| OrderId(Uuid::from_bytes(*bytes));
        Ok(match event {
            OrderEventV1::Opened {
                order_id,
                number,
                order_type,
                currency,
                opened_at_ms,
            } => OrderEvent::Opened {
                order_id: id(order_id),
                number: *number,
                order_type: order_type_from_wire(order_type),
                currency: Currency::parse(currency)
                    .map_err(|error| OpDecodeError::Invalid(error.to_string()))?,
                opened_at_ms: *opened_at_ms,
            },
            OrderEventV1::LineAdded { order_id, line } => OrderEvent::LineAdded {
                order_id: id(order_id),
                line: line_from_wire(line),
            },
            OrderEventV1::PaymentTaken { order_id, payment } => OrderEvent::PaymentTaken {
                order_id: id(order_id),
                payment: Payment {
                    id: PaymentId(Uuid::from_bytes(payment.id)),
                    tender: tender_from_wire(&payment.tender),
                    tendered_minor: payment.tendered_minor,
                    amount_minor: payment.amount_minor,
                    change_minor: payment.change_minor,
                    taken_at_ms: payment.taken_at_ms,
                },
            },
            OrderEventV1::Closed {
                order_id,
                closed_at_ms,
            } => OrderEvent::Closed {
                order_id: id(order_id),
                closed_at_ms: *closed_at_ms,
            },
            OrderEventV1::Voided {
                order_id,
                reason,
                voided_at_ms,
            } => OrderEvent::Voided {
                order_id: id(order_id),
                reason: reason.clone(),
                voided_at_ms: *voided_at_ms,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_model::tax::RoundingMode;
    use shared_model::{CatalogItem, Order};

    #[test]
    fn order_events_survive_the_wire_unchanged() {
        let opened = OrderEvent::Opened {
            order_id: OrderId(Uuid::from_u128(1)),
            number: 7,
            order_type: OrderType::BarTab,
            currency: Currency::kes(),
            opened_at_ms: 1_700_000_000_000,
        };
        let order = Order::from_opened(&opened).expect("opened");
        let item = CatalogItem::simple(
            "sku-tusker",
            "Tusker 500ml",
            "beer",
            35_000,
            TaxMode::Inclusive,
            vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
        );
        let line = order
            .add_line(LineId(Uuid::from_u128(2)), &item, 3, RoundingMode::HalfUp)
            .expect("line");
        for event in [opened, line] {
            let body = OpBody::Order(OrderEventV1::from(&event)).encode();
            let op = WireOp {
                origin: [1; 16],
                seq: 1,
                hlc: Hlc::default(),
                prev_hash: GENESIS_HASH,
                body,
            };
            let OpBody::Order(wire) = op.decode_body().expect("decode");
            assert_eq!(OrderEvent::try_from(&wire).expect("convert"), event);
        }
    }

    #[test]
    fn the_chain_hash_covers_every_field() {
        let op = WireOp {
            origin: [1; 16],
            seq: 1,
            hlc: Hlc::default(),
            prev_hash: GENESIS_HASH,
            body: vec![1, 2, 3],
        };
        let base = op.chain_hash();
        let mut changed = op.clone();
        changed.seq = 2;
        assert_ne!(changed.chain_hash(), base);
        let mut changed = op.clone();
        changed.body[0] = 9;
        assert_ne!(changed.chain_hash(), base);
        let mut changed = op;
        changed.prev_hash[0] = 1;
        assert_ne!(changed.chain_hash(), base);
    }
}
