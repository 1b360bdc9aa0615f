//! Protocol messages, version 1.
//!
//! Postcard is not self-describing, so these rules keep old peers working: add enum variants
//! only at the end, never reorder or remove fields, no `skip_serializing_if`, untagged enums
//! or `flatten`. A change that cannot follow them is a new protocol version.

use crate::feed::FeedEntry;
use crate::op::WireOp;
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. Every frame carries it in its header.
pub const PROTOCOL_VERSION: u8 = 1;

/// ALPN for the sync connection (mutual TLS with a device certificate).
pub const ALPN_SYNC: &[u8] = b"kibanda-sync/1";
/// ALPN for enrollment (no client certificate yet; bound to the one-time code instead).
pub const ALPN_ENROLL: &[u8] = b"kibanda-enroll/1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Edge → hub, first message of a sync stream.
    Hello { software: String },
    /// Hub → edge: the hub's durable cursor for this device.
    Welcome {
        acked_through_seq: u64,
        acked_hash: [u8; 32],
    },
    /// Either side: the peer's request is refused; the stream ends after it.
    Reject { code: RejectCode, message: String },
    /// Edge → hub: consecutive ops of this device, ascending by `seq`.
    OpsBatch { ops: Vec<WireOp> },
    /// Hub → edge: every op up to and including this sequence is durable at the hub.
    Ack { acked_through_seq: u64 },
    /// Either side, to keep the path alive and measure lag.
    Heartbeat { sent_at_ms: u64 },
    /// Edge → hub on the enrollment ALPN.
    EnrollRequest {
        /// The public part of the one-time code, used to look it up.
        code_id: String,
        /// HMAC proving the edge knows the whole code, bound to this TLS session.
        proof: [u8; 32],
        /// The edge's node id; it becomes the device id (ops made before enrollment carry it).
        node_id: [u8; 16],
        /// Raw P-256 public key (uncompressed point) to certify.
        public_key: Vec<u8>,
        software: String,
    },
    /// Hub → edge on the enrollment ALPN.
    Enrolled {
        device_cert_der: Vec<u8>,
        ca_cert_der: Vec<u8>,
        tenant_id: [u8; 16],
        tenant_slug: String,
        outlet_id: [u8; 16],
        outlet_code: String,
        outlet_name: String,
        currency: String,
        timezone: String,
        /// HMAC proving the hub knows the code, bound to this TLS session and these certs.
        proof: [u8; 32],
    },
    /// Edge → hub, after `Welcome`: stream the outlet feed after this sequence (the edge's
    /// durable cursor).
    Subscribe { feed_after_seq: u64 },
    /// Hub → edge: consecutive entries of the outlet's feed, ascending by `seq`.
    FeedBatch { entries: Vec<FeedEntry> },
}

/// Machine-readable reasons a peer is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectCode {
    UnsupportedVersion,
    Malformed,
    Unauthenticated,
    DeviceRevoked,
    EnrollmentCodeUnknown,
    EnrollmentCodeUsed,
    EnrollmentCodeExpired,
    EnrollmentProofInvalid,
    /// An op claimed an origin other than the connection's certificate.
    IdentityMismatch,
    /// A sequence gap or a broken hash chain.
    ChainBroken,
    Internal,
}

impl RejectCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectCode::UnsupportedVersion => "unsupported_version",
            RejectCode::Malformed => "malformed",
            RejectCode::Unauthenticated => "unauthenticated",
            RejectCode::DeviceRevoked => "device_revoked",
            RejectCode::EnrollmentCodeUnknown => "enrollment_code_unknown",
            RejectCode::EnrollmentCodeUsed => "enrollment_code_used",
            RejectCode::EnrollmentCodeExpired => "enrollment_code_expired",
            RejectCode::EnrollmentProofInvalid => "enrollment_proof_invalid",
            RejectCode::IdentityMismatch => "identity_mismatch",
            RejectCode::ChainBroken => "chain_broken",
            RejectCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
