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
use shared_model::staff::{Action, Role};
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
    /// A high-risk action and who allowed it (the edge's audit trail).
    Audit(AuditEventV1),
    /// A change to the edge's list of paired devices.
    Device(DeviceEventV1),
    /// Staff created at the edge, and staff sessions starting and ending.
    Staff(StaffEventV1),
    /// Orders sent to the kitchen and orders ready for pickup.
    Kitchen(KitchenEventV1),
    /// Guests seated at a table with a new order, and orders moved between tables.
    Table(TableEventV1),
    /// Bar tabs opened by name.
    Tab(TabEventV1),
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableEventV1 {
    Seated {
        table: String,
        order_id: [u8; 16],
        guests: u32,
        at_ms: i64,
    },
    Transferred {
        order_id: [u8; 16],
        from_table: String,
        to_table: String,
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabEventV1 {
    Opened {
        order_id: [u8; 16],
        name: String,
        /// The most the tab may run up to, in minor units.
        limit_minor: Option<i64>,
        /// The card terminal's pre-authorisation reference, when a card secures the tab.
        preauth_ref: Option<String>,
        at_ms: i64,
    },
}

// ---- edge facts: staff, audit, devices, kitchen ----------------------------------------------
//
// These are facts the hub stores and reports on; it does not fold them into orders.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleV1 {
    Cashier,
    Bartender,
    Server,
    Kitchen,
    Supervisor,
    Manager,
    InventoryClerk,
}

impl From<Role> for RoleV1 {
    fn from(role: Role) -> Self {
        match role {
            Role::Cashier => RoleV1::Cashier,
            Role::Bartender => RoleV1::Bartender,
            Role::Server => RoleV1::Server,
            Role::Kitchen => RoleV1::Kitchen,
            Role::Supervisor => RoleV1::Supervisor,
            Role::Manager => RoleV1::Manager,
            Role::InventoryClerk => RoleV1::InventoryClerk,
        }
    }
}

impl From<RoleV1> for Role {
    fn from(role: RoleV1) -> Self {
        match role {
            RoleV1::Cashier => Role::Cashier,
            RoleV1::Bartender => Role::Bartender,
            RoleV1::Server => Role::Server,
            RoleV1::Kitchen => Role::Kitchen,
            RoleV1::Supervisor => Role::Supervisor,
            RoleV1::Manager => Role::Manager,
            RoleV1::InventoryClerk => Role::InventoryClerk,
        }
    }
}

/// The high-risk actions of [`shared_model::staff::Action::HIGH_RISK`] on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditActionV1 {
    VoidAfterSend,
    Refund,
    PriceOverride,
    DiscountAboveThreshold,
    DrawerNoSale,
    ReprintPaidReceipt,
}

impl TryFrom<Action> for AuditActionV1 {
    type Error = OpDecodeError;

    /// Only high-risk actions are audited; anything else is a programming error of the caller,
    /// reported as a value so the wire layer never panics.
    fn try_from(action: Action) -> Result<Self, Self::Error> {
        Ok(match action {
            Action::VoidAfterSend => AuditActionV1::VoidAfterSend,
            Action::Refund => AuditActionV1::Refund,
            Action::PriceOverride => AuditActionV1::PriceOverride,
            Action::DiscountAboveThreshold => AuditActionV1::DiscountAboveThreshold,
            Action::DrawerNoSale => AuditActionV1::DrawerNoSale,
            Action::ReprintPaidReceipt => AuditActionV1::ReprintPaidReceipt,
            other => {
                return Err(OpDecodeError::Invalid(format!(
                    "{} is not an audited action",
                    other.as_str()
                )));
            }
        })
    }
}

impl From<AuditActionV1> for Action {
    fn from(action: AuditActionV1) -> Self {
        match action {
            AuditActionV1::VoidAfterSend => Action::VoidAfterSend,
            AuditActionV1::Refund => Action::Refund,
            AuditActionV1::PriceOverride => Action::PriceOverride,
            AuditActionV1::DiscountAboveThreshold => Action::DiscountAboveThreshold,
            AuditActionV1::DrawerNoSale => Action::DrawerNoSale,
            AuditActionV1::ReprintPaidReceipt => Action::ReprintPaidReceipt,
        }
    }
}

/// One audit-trail entry: who did what, when, why, and who approved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventV1 {
    pub audit_id: [u8; 16],
    pub action: AuditActionV1,
    /// The signed-in staff member who asked, if any.
    pub actor_staff_id: Option<[u8; 16]>,
    /// The staff member whose override PIN allowed it, if the actor's role did not.
    pub approver_staff_id: Option<[u8; 16]>,
    pub device_id: [u8; 16],
    /// What was acted on, e.g. `order:<uuid>` or `drawer`.
    pub subject: String,
    pub reason: String,
    pub at_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKindV1 {
    Terminal,
    Kds,
    Kiosk,
    Printer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceEventV1 {
    Registered {
        device_id: [u8; 16],
        name: String,
        kind: DeviceKindV1,
        at_ms: i64,
    },
    Renamed {
        device_id: [u8; 16],
        name: String,
        at_ms: i64,
    },
    Disabled {
        device_id: [u8; 16],
        at_ms: i64,
    },
    Enabled {
        device_id: [u8; 16],
        at_ms: i64,
    },
    Removed {
        device_id: [u8; 16],
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StaffEventV1 {
    /// A staff member created at the edge (a box that was never online). The PIN travels only
    /// as its argon2 PHC string.
    Created {
        staff_id: [u8; 16],
        name: String,
        role: RoleV1,
        pin_hash_phc: String,
        at_ms: i64,
    },
    SignedIn {
        session_id: [u8; 16],
        staff_id: [u8; 16],
        device_id: [u8; 16],
        at_ms: i64,
    },
    SignedOut {
        session_id: [u8; 16],
        staff_id: [u8; 16],
        /// `sign_out`, `idle_timeout`, `forced`, `replaced` or `forced_by_hub`.
        reason: String,
        /// Who forced it, for a forced logout.
        by_staff_id: Option<[u8; 16]>,
        at_ms: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenLineV1 {
    pub line_id: [u8; 16],
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenTicketV1 {
    pub ticket_id: [u8; 16],
    pub station: String,
    pub lines: Vec<KitchenLineV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KitchenEventV1 {
    SentToKitchen {
        order_id: [u8; 16],
        order_number: u64,
        tickets: Vec<KitchenTicketV1>,
        at_ms: i64,
    },
    /// Every station has bumped its tickets: the hub turns this into a customer notification.
    OrderReady {
        order_id: [u8; 16],
        order_number: u64,
        at_ms: i64,
    },
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
        let item = CatalogItem {
            id: ItemId("sku-tusker".into()),
            name: "Tusker 500ml".into(),
            category: "beer".into(),
            price_minor: 35_000,
            tax_mode: TaxMode::Inclusive,
            tax_rates: vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
        };
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
            let OpBody::Order(wire) = op.decode_body().expect("decode") else {
                panic!("an order op decoded as another kind");
            };
            assert_eq!(OrderEvent::try_from(&wire).expect("convert"), event);
        }
    }

    #[test]
    fn edge_facts_survive_the_wire_unchanged() {
        let bodies = [
            OpBody::Audit(AuditEventV1 {
                audit_id: [9; 16],
                action: AuditActionV1::try_from(Action::DrawerNoSale).expect("audited"),
                actor_staff_id: Some([1; 16]),
                approver_staff_id: Some([2; 16]),
                device_id: [3; 16],
                subject: "drawer".into(),
                reason: "change for a float".into(),
                at_ms: 5,
            }),
            OpBody::Device(DeviceEventV1::Registered {
                device_id: [3; 16],
                name: "kds-grill".into(),
                kind: DeviceKindV1::Kds,
                at_ms: 6,
            }),
            OpBody::Staff(StaffEventV1::Created {
                staff_id: [1; 16],
                name: "Wanjiru".into(),
                role: RoleV1::from(Role::Supervisor),
                pin_hash_phc: "$argon2id$v=19$...".into(),
                at_ms: 7,
            }),
            OpBody::Kitchen(KitchenEventV1::SentToKitchen {
                order_id: [4; 16],
                order_number: 12,
                tickets: vec![KitchenTicketV1 {
                    ticket_id: [5; 16],
                    station: "grill".into(),
                    lines: vec![KitchenLineV1 {
                        line_id: [6; 16],
                        item_id: "sku-burger".into(),
                        name: "Burger".into(),
                        quantity: 2,
                    }],
                }],
                at_ms: 8,
            }),
            OpBody::Table(TableEventV1::Transferred {
                order_id: [4; 16],
                from_table: "T1".into(),
                to_table: "T7".into(),
                at_ms: 9,
            }),
            OpBody::Tab(TabEventV1::Opened {
                order_id: [5; 16],
                name: "Otieno".into(),
                limit_minor: Some(500_000),
                preauth_ref: Some("PA-1234".into()),
                at_ms: 10,
            }),
        ];
        for body in bodies {
            let op = WireOp {
                origin: [1; 16],
                seq: 1,
                hlc: Hlc::default(),
                prev_hash: GENESIS_HASH,
                body: body.encode(),
            };
            assert_eq!(op.decode_body().expect("decode"), body);
        }
        for role in Role::ALL {
            assert_eq!(Role::from(RoleV1::from(role)), role);
        }
        for action in Action::HIGH_RISK {
            let wire = AuditActionV1::try_from(action).expect("high-risk actions are audited");
            assert_eq!(Action::from(wire), action);
        }
        assert!(AuditActionV1::try_from(Action::TakeOrders).is_err());
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
