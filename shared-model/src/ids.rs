//! Identifiers of domain entities.
//!
//! Ids are UUIDs minted by whoever creates the entity (usually the edge, offline), so they are
//! globally unique without coordination. This crate never mints them itself: it has no source
//! of randomness or time, by design.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An order, unique across every outlet of every tenant.
    OrderId
);
uuid_id!(
    /// A line of an order.
    LineId
);
uuid_id!(
    /// One tender applied to an order.
    PaymentId
);
uuid_id!(
    /// A discount given on an order or a line.
    DiscountId
);
uuid_id!(
    /// A tip added to an order.
    TipId
);
uuid_id!(
    /// A refund of some or all of what was paid.
    RefundId
);
uuid_id!(
    /// One drawer session: a drawer assigned to a terminal and a cashier, from float to close.
    DrawerSessionId
);
