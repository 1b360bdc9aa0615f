//! The edge↔hub wire of Kibanda.
//!
//! Architecture invariant: everything except [`quic`] is sans-IO. [`frame`] turns bytes into
//! messages and back, [`session`] decides what to send and what to accept, [`hlc`] orders
//! events across skewed clocks; none of them touches a socket or reads a clock. The [`quic`]
//! driver only moves frames between a quinn stream and these types.
//!
//! Architecture invariant: wire types ([`message`], [`op`]) are separate from the domain types
//! in `shared-model` and convert explicitly, so the protocol can be versioned on its own.

pub mod docs;
pub mod enroll;
pub mod feed;
pub mod frame;
pub mod hlc;
pub mod message;
pub mod modifiers;
pub mod op;
pub mod promotions;
pub mod quic;
pub mod session;

pub use frame::{FRAME_BYTES_MAX, FrameDecoder, FrameError, encode_frame};
pub use hlc::{Hlc, HybridClock};
pub use message::{Message, PROTOCOL_VERSION, RejectCode};
pub use op::{OpBody, WireOp};
