//! The sans-IO sync sessions: what each side sends next and what it accepts.
//!
//! The edge drives an [`UpstreamSession`]: it sends `Hello`, learns the hub's cursor from
//! `Welcome`, then streams batches of ops without waiting for each ack (a bounded window keeps
//! memory flat), and moves its own cursor as acks arrive. Re-sending after a reconnect is always
//! safe: the hub skips what it already holds.
//!
//! The hub drives an [`IngestSession`] per connection: it checks each batch (origin matches the
//! certificate, sequences are gap-free, the hash chain is intact), the driver commits the new
//! ops and the cursor in one transaction, then the session produces the ack.

use crate::message::{Message, RejectCode};
use crate::op::{GENESIS_HASH, WireOp};
use thiserror::Error;

/// Most ops in one batch. Why: one batch is one hub transaction; 1,000 small ops keep it well
/// under a frame and under ~10 ms of Postgres work, while amortising the round trip.
pub const BATCH_OPS_MAX: usize = 1_000;
/// Most ops sent but not yet acknowledged. Why: bounds what the hub may have to buffer for one
/// edge and what is re-sent after a lost connection, while keeping the pipe full on catch-up.
pub const IN_FLIGHT_OPS_MAX: u64 = 8_000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("peer refused: {code}: {message}")]
    Rejected { code: RejectCode, message: String },
    #[error("unexpected message {0} in this state")]
    Unexpected(&'static str),
    #[error("hub acknowledged sequence {acked} but only {sent} was sent")]
    AckBeyondSent { acked: u64, sent: u64 },
    #[error("hub holds ops through {hub} but this edge only has {local}; refusing to continue")]
    HubAhead { hub: u64, local: u64 },
    #[error("feed entry {got} does not follow {expected_after}")]
    FeedGap { expected_after: u64, got: u64 },
}

fn message_name(message: &Message) -> &'static str {
    match message {
        Message::Hello { .. } => "Hello",
        Message::Welcome { .. } => "Welcome",
        Message::Reject { .. } => "Reject",
        Message::OpsBatch { .. } => "OpsBatch",
        Message::Ack { .. } => "Ack",
        Message::Heartbeat { .. } => "Heartbeat",
        Message::EnrollRequest { .. } => "EnrollRequest",
        Message::Enrolled { .. } => "Enrolled",
        Message::Subscribe { .. } => "Subscribe",
        Message::FeedBatch { .. } => "FeedBatch",
    }
}

/// What the edge learned from one message.
#[derive(Debug, PartialEq, Eq)]
pub enum UpstreamEvent {
    Welcomed {
        acked_through_seq: u64,
    },
    Acked {
        acked_through_seq: u64,
    },
    Heartbeat,
    /// Feed entries that continue the edge's feed cursor exactly; apply them, then call
    /// [`UpstreamSession::feed_applied`].
    Feed {
        entries: Vec<crate::feed::FeedEntry>,
    },
}

/// Which ops the driver should load and send next.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct OpsWanted {
    pub from_seq: u64,
    pub count_max: usize,
}

#[derive(Debug)]
pub struct UpstreamSession {
    welcomed: bool,
    feed_through_seq: u64,
    acked_through_seq: u64,
    sent_through_seq: u64,
    local_last_seq: u64,
}

impl UpstreamSession {
    /// A new session and the `Hello` to open it with. `local_last_seq` is the highest op the
    /// edge holds.
    pub fn start(software: &str, local_last_seq: u64) -> (UpstreamSession, Message) {
        (
            UpstreamSession {
                welcomed: false,
                feed_through_seq: 0,
                acked_through_seq: 0,
                sent_through_seq: 0,
                local_last_seq,
            },
            Message::Hello {
                software: software.to_owned(),
            },
        )
    }

    pub fn on_message(&mut self, message: Message) -> Result<UpstreamEvent, SessionError> {
        match message {
            Message::Reject { code, message } => Err(SessionError::Rejected { code, message }),
            Message::Welcome {
                acked_through_seq, ..
            } if !self.welcomed => {
                if acked_through_seq > self.local_last_seq {
                    return Err(SessionError::HubAhead {
                        hub: acked_through_seq,
                        local: self.local_last_seq,
                    });
                }
                self.welcomed = true;
                self.acked_through_seq = acked_through_seq;
                self.sent_through_seq = acked_through_seq;
                Ok(UpstreamEvent::Welcomed { acked_through_seq })
            }
            Message::Ack { acked_through_seq } if self.welcomed => {
                if acked_through_seq > self.sent_through_seq {
                    return Err(SessionError::AckBeyondSent {
                        acked: acked_through_seq,
                        sent: self.sent_through_seq,
                    });
                }
                // Acks can only move forward; a stale one changes nothing.
                self.acked_through_seq = self.acked_through_seq.max(acked_through_seq);
                Ok(UpstreamEvent::Acked {
                    acked_through_seq: self.acked_through_seq,
                })
            }
            Message::Heartbeat { .. } => Ok(UpstreamEvent::Heartbeat),
            Message::FeedBatch { entries } if self.welcomed => {
                // Entries at or below the cursor are re-sends (harmless); the rest must follow
                // it without a gap.
                let mut expected = self.feed_through_seq + 1;
                let mut fresh = Vec::with_capacity(entries.len());
                for entry in entries {
                    if entry.seq < expected {
                        continue;
                    }
                    if entry.seq != expected {
                        return Err(SessionError::FeedGap {
                            expected_after: expected - 1,
                            got: entry.seq,
                        });
                    }
                    expected += 1;
                    fresh.push(entry);
                }
                Ok(UpstreamEvent::Feed { entries: fresh })
            }
            other => Err(SessionError::Unexpected(message_name(&other))),
        }
    }

    /// Tells the session that new local ops exist up to `local_last_seq`.
    pub fn local_ops_through(&mut self, local_last_seq: u64) {
        self.local_last_seq = self.local_last_seq.max(local_last_seq);
    }

    /// The next range to send, if the window allows and there is anything unsent.
    pub fn wants_ops(&self) -> Option<OpsWanted> {
        if !self.welcomed || self.sent_through_seq >= self.local_last_seq {
            return None;
        }
        let in_flight = self.sent_through_seq - self.acked_through_seq;
        let window_left = IN_FLIGHT_OPS_MAX.saturating_sub(in_flight);
        if window_left == 0 {
            return None;
        }
        let unsent = self.local_last_seq - self.sent_through_seq;
        let count_max = (BATCH_OPS_MAX as u64).min(window_left).min(unsent) as usize;
        Some(OpsWanted {
            from_seq: self.sent_through_seq + 1,
            count_max,
        })
    }

    /// Records that ops through `last_seq` went out in a batch.
    pub fn batch_sent(&mut self, last_seq: u64) {
        self.sent_through_seq = self.sent_through_seq.max(last_seq);
    }

    pub fn acked_through_seq(&self) -> u64 {
        self.acked_through_seq
    }

    /// The message asking for the feed after the edge's durable cursor.
    pub fn subscribe(&mut self, feed_through_seq: u64) -> Message {
        self.feed_through_seq = feed_through_seq;
        Message::Subscribe {
            feed_after_seq: feed_through_seq,
        }
    }

    /// Records that feed entries through `seq` are durable at the edge.
    pub fn feed_applied(&mut self, seq: u64) {
        self.feed_through_seq = self.feed_through_seq.max(seq);
    }

    /// Ops sent on this connection and not yet acknowledged: their outcome is unknown until the
    /// hub acks them (or a new connection's `Welcome` says how far it got).
    pub fn ops_in_flight(&self) -> u64 {
        self.sent_through_seq.saturating_sub(self.acked_through_seq)
    }

    pub fn is_welcomed(&self) -> bool {
        self.welcomed
    }

    pub fn is_caught_up(&self) -> bool {
        self.welcomed && self.acked_through_seq >= self.local_last_seq
    }
}

/// The hub's durable position in one origin's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub acked_through_seq: u64,
    pub acked_hash: [u8; 32],
}

impl Cursor {
    pub const START: Cursor = Cursor {
        acked_through_seq: 0,
        acked_hash: GENESIS_HASH,
    };
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("op {seq} claims origin {claimed}, but the connection belongs to {authenticated}")]
    IdentityMismatch {
        seq: u64,
        claimed: uuid::Uuid,
        authenticated: uuid::Uuid,
    },
    #[error("expected op {expected}, got {got}: a gap in the sequence")]
    Gap { expected: u64, got: u64 },
    #[error("op {seq} does not chain onto the op before it")]
    ChainBroken { seq: u64 },
    #[error("batch is empty")]
    EmptyBatch,
    #[error("batch of {0} ops exceeds the limit of {BATCH_OPS_MAX}")]
    BatchTooLarge(usize),
}

impl IngestError {
    pub fn reject_code(&self) -> RejectCode {
        match self {
            IngestError::IdentityMismatch { .. } => RejectCode::IdentityMismatch,
            IngestError::Gap { .. } | IngestError::ChainBroken { .. } => RejectCode::ChainBroken,
            IngestError::EmptyBatch | IngestError::BatchTooLarge(_) => RejectCode::Malformed,
        }
    }
}

/// What to commit from a checked batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// Index in the batch of the first op the hub does not hold yet.
    pub first_new_index: usize,
    /// The cursor after committing the new ops.
    pub cursor_after: Cursor,
}

impl BatchPlan {
    pub fn new_ops<'a>(&self, ops: &'a [WireOp]) -> &'a [WireOp] {
        &ops[self.first_new_index..]
    }
}

#[derive(Debug)]
pub struct IngestSession {
    origin: [u8; 16],
    cursor: Cursor,
}

impl IngestSession {
    /// A session for the authenticated `origin`, resuming at its durable `cursor`; returns the
    /// `Welcome` to send.
    pub fn start(origin: [u8; 16], cursor: Cursor) -> (IngestSession, Message) {
        (
            IngestSession { origin, cursor },
            Message::Welcome {
                acked_through_seq: cursor.acked_through_seq,
                acked_hash: cursor.acked_hash,
            },
        )
    }

    /// Checks a batch against the cursor. Ops already held are skipped; the rest must continue
    /// the chain exactly.
    pub fn plan(&self, ops: &[WireOp]) -> Result<BatchPlan, IngestError> {
        if ops.is_empty() {
            return Err(IngestError::EmptyBatch);
        }
        if ops.len() > BATCH_OPS_MAX {
            return Err(IngestError::BatchTooLarge(ops.len()));
        }
        let mut cursor = self.cursor;
        let mut first_new_index = ops.len();
        for (index, op) in ops.iter().enumerate() {
            if op.origin != self.origin {
                return Err(IngestError::IdentityMismatch {
                    seq: op.seq,
                    claimed: op.origin_uuid(),
                    authenticated: uuid::Uuid::from_bytes(self.origin),
                });
            }
            if op.seq <= cursor.acked_through_seq && first_new_index == ops.len() {
                continue; // already held: a harmless re-send
            }
            let expected = cursor.acked_through_seq + 1;
            if op.seq != expected {
                return Err(IngestError::Gap {
                    expected,
                    got: op.seq,
                });
            }
            if op.prev_hash != cursor.acked_hash {
                return Err(IngestError::ChainBroken { seq: op.seq });
            }
            if first_new_index == ops.len() {
                first_new_index = index;
            }
            cursor = Cursor {
                acked_through_seq: op.seq,
                acked_hash: op.chain_hash(),
            };
        }
        Ok(BatchPlan {
            first_new_index,
            cursor_after: cursor,
        })
    }

    /// Records that the plan's ops and cursor are durable; returns the ack to send.
    pub fn committed(&mut self, plan: &BatchPlan) -> Message {
        if plan.cursor_after.acked_through_seq > self.cursor.acked_through_seq {
            self.cursor = plan.cursor_after;
        }
        Message::Ack {
            acked_through_seq: self.cursor.acked_through_seq,
        }
    }

    pub fn cursor(&self) -> Cursor {
        self.cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;

    const ORIGIN: [u8; 16] = [5; 16];

    fn chain(count: u64) -> Vec<WireOp> {
        let mut prev_hash = GENESIS_HASH;
        (1..=count)
            .map(|seq| {
                let op = WireOp {
                    origin: ORIGIN,
                    seq,
                    hlc: Hlc {
                        wall_ms: seq,
                        logical: 0,
                    },
                    prev_hash,
                    body: seq.to_be_bytes().to_vec(),
                };
                prev_hash = op.chain_hash();
                op
            })
            .collect()
    }

    #[test]
    fn a_replayed_batch_is_skipped_and_acked_again() {
        let ops = chain(10);
        let (mut hub, _) = IngestSession::start(ORIGIN, Cursor::START);
        let plan = hub.plan(&ops).expect("plan");
        assert_eq!(plan.new_ops(&ops).len(), 10);
        assert_eq!(
            hub.committed(&plan),
            Message::Ack {
                acked_through_seq: 10
            }
        );
        let replay = hub.plan(&ops).expect("replay plans");
        assert!(replay.new_ops(&ops).is_empty());
        assert_eq!(
            hub.committed(&replay),
            Message::Ack {
                acked_through_seq: 10
            }
        );
    }

    #[test]
    fn an_overlapping_batch_applies_only_the_new_tail() {
        let ops = chain(10);
        let (mut hub, _) = IngestSession::start(ORIGIN, Cursor::START);
        let plan = hub.plan(&ops[..6]).expect("plan");
        hub.committed(&plan);
        let plan = hub.plan(&ops[3..]).expect("overlap");
        assert_eq!(plan.new_ops(&ops[3..]).first().map(|op| op.seq), Some(7));
        assert_eq!(
            hub.committed(&plan),
            Message::Ack {
                acked_through_seq: 10
            }
        );
    }

    #[test]
    fn a_gap_is_refused() {
        let ops = chain(10);
        let (hub, _) = IngestSession::start(ORIGIN, Cursor::START);
        assert_eq!(
            hub.plan(&ops[2..]),
            Err(IngestError::Gap {
                expected: 1,
                got: 3
            })
        );
    }

    #[test]
    fn a_tampered_op_breaks_the_chain() {
        let mut ops = chain(5);
        ops[2].body = vec![0xff];
        let (hub, _) = IngestSession::start(ORIGIN, Cursor::START);
        assert_eq!(hub.plan(&ops), Err(IngestError::ChainBroken { seq: 4 }));
    }

    #[test]
    fn an_op_from_another_origin_is_refused() {
        let mut ops = chain(3);
        ops[1].origin = [6; 16];
        let (hub, _) = IngestSession::start(ORIGIN, Cursor::START);
        assert!(matches!(
            hub.plan(&ops),
            Err(IngestError::IdentityMismatch { seq: 2, .. })
        ));
    }

    #[test]
    fn the_edge_streams_within_its_window_and_resends_after_reconnect() {
        let (mut edge, hello) = UpstreamSession::start("test", 20_000);
        assert!(matches!(hello, Message::Hello { .. }));
        assert_eq!(edge.wants_ops(), None, "nothing before the welcome");
        edge.on_message(Message::Welcome {
            acked_through_seq: 0,
            acked_hash: GENESIS_HASH,
        })
        .expect("welcome");
        let mut sent = 0;
        while let Some(wanted) = edge.wants_ops() {
            assert_eq!(wanted.from_seq, sent + 1);
            sent += wanted.count_max as u64;
            edge.batch_sent(sent);
        }
        assert_eq!(sent, IN_FLIGHT_OPS_MAX);
        edge.on_message(Message::Ack {
            acked_through_seq: 1_000,
        })
        .expect("ack");
        assert_eq!(
            edge.wants_ops(),
            Some(OpsWanted {
                from_seq: IN_FLIGHT_OPS_MAX + 1,
                count_max: BATCH_OPS_MAX
            })
        );
        assert!(matches!(
            edge.on_message(Message::Ack {
                acked_through_seq: 50_000
            }),
            Err(SessionError::AckBeyondSent { .. })
        ));
        // A new connection starts again from what the hub says it holds.
        let (mut edge, _) = UpstreamSession::start("test", 20_000);
        edge.on_message(Message::Welcome {
            acked_through_seq: 1_000,
            acked_hash: GENESIS_HASH,
        })
        .expect("welcome");
        assert_eq!(edge.wants_ops().map(|w| w.from_seq), Some(1_001));
    }

    #[test]
    fn feed_entries_must_continue_the_cursor_and_re_sends_are_skipped() {
        use crate::feed::FeedEntry;
        let entry = |seq| FeedEntry { seq, body: vec![] };
        let (mut edge, _) = UpstreamSession::start("test", 0);
        edge.on_message(Message::Welcome {
            acked_through_seq: 0,
            acked_hash: GENESIS_HASH,
        })
        .expect("welcome");
        assert_eq!(
            edge.subscribe(10),
            Message::Subscribe { feed_after_seq: 10 }
        );
        let fresh = edge
            .on_message(Message::FeedBatch {
                entries: vec![entry(9), entry(10), entry(11), entry(12)],
            })
            .expect("continues");
        assert_eq!(
            fresh,
            UpstreamEvent::Feed {
                entries: vec![entry(11), entry(12)]
            }
        );
        edge.feed_applied(12);
        assert_eq!(
            edge.on_message(Message::FeedBatch {
                entries: vec![entry(14)]
            }),
            Err(SessionError::FeedGap {
                expected_after: 12,
                got: 14
            })
        );
    }

    #[test]
    fn an_edge_refuses_a_hub_that_claims_more_than_it_sent() {
        let (mut edge, _) = UpstreamSession::start("test", 5);
        assert_eq!(
            edge.on_message(Message::Welcome {
                acked_through_seq: 9,
                acked_hash: GENESIS_HASH
            }),
            Err(SessionError::HubAhead { hub: 9, local: 5 })
        );
    }
}
