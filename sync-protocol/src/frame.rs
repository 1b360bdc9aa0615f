//! Length-prefixed, versioned frames.
//!
//! ```text
//! +----------------+---------+---------------------------+
//! | length: u32 BE | version | postcard(Message)         |
//! +----------------+---------+---------------------------+
//!   length counts the version byte and the body
//! ```
//! A frame over [`FRAME_BYTES_MAX`], a frame of an unknown version, or a body that does not
//! decode is an error value; the decoder never panics and never allocates more than the limit.

use crate::message::{Message, PROTOCOL_VERSION};
use thiserror::Error;

/// Largest frame accepted or produced. Why 8 MiB: an ops batch of
/// [`crate::session::BATCH_OPS_MAX`] ops at up to ~2 KiB each fits with room to spare, while a
/// hostile length prefix cannot make a peer buffer more than this.
pub const FRAME_BYTES_MAX: usize = 8 * 1024 * 1024;

const HEADER_BYTES: usize = 4;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the {FRAME_BYTES_MAX}-byte limit")]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("peer speaks protocol version {0}; this build speaks {PROTOCOL_VERSION}")]
    UnsupportedVersion(u8),
    #[error("malformed frame body: {0}")]
    Malformed(String),
    #[error("stream ended inside a frame ({0} bytes buffered)")]
    Truncated(usize),
}

/// Encodes one message as a complete frame.
pub fn encode_frame(message: &Message) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0_u8; HEADER_BYTES];
    out.push(PROTOCOL_VERSION);
    let out = postcard::to_extend(message, out)
        .map_err(|error| FrameError::Malformed(error.to_string()))?;
    let length = out.len() - HEADER_BYTES;
    if length > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(length));
    }
    let mut out = out;
    out[..HEADER_BYTES].copy_from_slice(&(length as u32).to_be_bytes());
    Ok(out)
}

/// Decodes one frame body (version byte and message).
pub fn decode_body(body: &[u8]) -> Result<Message, FrameError> {
    let (version, rest) = body.split_first().ok_or(FrameError::Empty)?;
    if *version != PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion(*version));
    }
    let (message, trailing) = postcard::take_from_bytes::<Message>(rest)
        .map_err(|error| FrameError::Malformed(error.to_string()))?;
    if !trailing.is_empty() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes",
            trailing.len()
        )));
    }
    Ok(message)
}

/// Incremental decoder: feed it bytes as they arrive, take complete messages out.
#[derive(Default, Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The length of the frame at the head of the buffer, once its header has arrived.
    /// Checked against the limit before any body is buffered.
    pub fn pending_frame_len(&self) -> Result<Option<usize>, FrameError> {
        if self.buffer.len() < HEADER_BYTES {
            return Ok(None);
        }
        let mut header = [0_u8; HEADER_BYTES];
        header.copy_from_slice(&self.buffer[..HEADER_BYTES]);
        let length = u32::from_be_bytes(header) as usize;
        if length > FRAME_BYTES_MAX {
            return Err(FrameError::TooLarge(length));
        }
        if length == 0 {
            return Err(FrameError::Empty);
        }
        Ok(Some(length))
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        let Some(length) = self.pending_frame_len()? else {
            return Ok(None);
        };
        if self.buffer.len() < HEADER_BYTES + length {
            return Ok(None);
        }
        let message = decode_body(&self.buffer[HEADER_BYTES..HEADER_BYTES + length]);
        self.buffer.drain(..HEADER_BYTES + length);
        message.map(Some)
    }

    /// Call when the stream has ended: leftover bytes mean a truncated frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated(self.buffer.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::op::WireOp;
    use proptest::prelude::*;

    fn sample_batch() -> Message {
        Message::OpsBatch {
            ops: vec![WireOp {
                origin: [7; 16],
                seq: 42,
                hlc: Hlc {
                    wall_ms: 1_700_000_000_000,
                    logical: 3,
                },
                prev_hash: [1; 32],
                body: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn a_frame_round_trips_even_when_split_across_reads() {
        let bytes = encode_frame(&sample_batch()).expect("encode");
        let mut decoder = FrameDecoder::new();
        for chunk in bytes.chunks(3) {
            decoder.push(chunk);
        }
        assert_eq!(decoder.next_message(), Ok(Some(sample_batch())));
        assert_eq!(decoder.next_message(), Ok(None));
        assert_eq!(decoder.finish(), Ok(()));
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_before_its_body_is_buffered() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&((FRAME_BYTES_MAX as u32) + 1).to_be_bytes());
        assert_eq!(
            decoder.next_message(),
            Err(FrameError::TooLarge(FRAME_BYTES_MAX + 1))
        );
    }

    #[test]
    fn a_truncated_frame_is_reported_at_end_of_stream() {
        let bytes = encode_frame(&sample_batch()).expect("encode");
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes[..bytes.len() - 1]);
        assert_eq!(decoder.next_message(), Ok(None));
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated(bytes.len() - 1))
        );
    }

    #[test]
    fn an_unknown_version_is_refused_with_a_clear_error() {
        let mut bytes = encode_frame(&sample_batch()).expect("encode");
        bytes[4] = 9;
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        let error = decoder.next_message().expect_err("refused");
        assert_eq!(error, FrameError::UnsupportedVersion(9));
        assert!(error.to_string().contains("version 9"));
    }

    #[test]
    fn an_oversized_message_is_refused_at_encode() {
        let ops = (0..5_000)
            .map(|seq| WireOp {
                origin: [0; 16],
                seq,
                hlc: Hlc::default(),
                prev_hash: [0; 32],
                body: vec![0; 2_000],
            })
            .collect();
        assert!(matches!(
            encode_frame(&Message::OpsBatch { ops }),
            Err(FrameError::TooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let mut decoder = FrameDecoder::new();
            decoder.push(&bytes);
            for _ in 0..8 {
                match decoder.next_message() {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }

        #[test]
        fn random_bodies_behind_a_valid_header_never_panic(body in prop::collection::vec(any::<u8>(), 1..4096)) {
            let mut framed = (body.len() as u32 + 1).to_be_bytes().to_vec();
            framed.push(PROTOCOL_VERSION);
            framed.extend_from_slice(&body);
            let mut decoder = FrameDecoder::new();
            decoder.push(&framed);
            let _ = decoder.next_message();
        }

        #[test]
        fn heartbeats_and_acks_round_trip(n in any::<u64>()) {
            for message in [Message::Heartbeat { sent_at_ms: n }, Message::Ack { acked_through_seq: n }] {
                let bytes = encode_frame(&message).expect("encode");
                let mut decoder = FrameDecoder::new();
                decoder.push(&bytes);
                prop_assert_eq!(decoder.next_message(), Ok(Some(message)));
            }
        }
    }
}
