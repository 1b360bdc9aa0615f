//! Property tests of the decoders (the CI-run fuzzing): arbitrary messages and op bodies
//! survive encode → decode unchanged, and arbitrary or mutated bytes never panic a decoder.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sync_protocol::feed::FeedEntry;
use sync_protocol::op::{
    OpBody, OrderEventV1, OrderLineV1, OrderTypeV1, PaymentV1, TaxPortionV1, TaxRateV1, TenderV1,
};
use sync_protocol::{FrameDecoder, Hlc, Message, RejectCode, WireOp, encode_frame};

fn hlc() -> impl Strategy<Value = Hlc> {
    (any::<u64>(), any::<u32>()).prop_map(|(wall_ms, logical)| Hlc { wall_ms, logical })
}

fn wire_op() -> impl Strategy<Value = WireOp> {
    (
        any::<[u8; 16]>(),
        any::<u64>(),
        hlc(),
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 0..256),
    )
        .prop_map(|(origin, seq, hlc, prev_hash, body)| WireOp {
            origin,
            seq,
            hlc,
            prev_hash,
            body,
        })
}

fn reject_code() -> impl Strategy<Value = RejectCode> {
    prop_oneof![
        Just(RejectCode::UnsupportedVersion),
        Just(RejectCode::Malformed),
        Just(RejectCode::Unauthenticated),
        Just(RejectCode::DeviceRevoked),
        Just(RejectCode::IdentityMismatch),
        Just(RejectCode::ChainBroken),
        Just(RejectCode::Internal),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{0,40}".prop_map(|software| Message::Hello { software }),
        (any::<u64>(), any::<[u8; 32]>()).prop_map(|(acked_through_seq, acked_hash)| {
            Message::Welcome {
                acked_through_seq,
                acked_hash,
            }
        }),
        (reject_code(), ".{0,80}").prop_map(|(code, message)| Message::Reject { code, message }),
        prop::collection::vec(wire_op(), 0..20).prop_map(|ops| Message::OpsBatch { ops }),
        any::<u64>().prop_map(|acked_through_seq| Message::Ack { acked_through_seq }),
        any::<u64>().prop_map(|sent_at_ms| Message::Heartbeat { sent_at_ms }),
        any::<u64>().prop_map(|feed_after_seq| Message::Subscribe { feed_after_seq }),
        prop::collection::vec(
            (any::<u64>(), prop::collection::vec(any::<u8>(), 0..64)),
            0..20
        )
        .prop_map(|entries| Message::FeedBatch {
            entries: entries
                .into_iter()
                .map(|(seq, body)| FeedEntry { seq, body })
                .collect()
        }),
    ]
}

fn order_type() -> impl Strategy<Value = OrderTypeV1> {
    prop_oneof![
        Just(OrderTypeV1::DineIn),
        Just(OrderTypeV1::BarTab),
        Just(OrderTypeV1::TakeOut),
        Just(OrderTypeV1::Delivery),
        Just(OrderTypeV1::EcommercePickup),
        Just(OrderTypeV1::DriveThru),
        Just(OrderTypeV1::Kiosk),
    ]
}

fn order_event() -> impl Strategy<Value = OrderEventV1> {
    let line = (
        any::<[u8; 16]>(),
        ".{0,20}",
        ".{0,30}",
        any::<i64>(),
        any::<i64>(),
        any::<bool>(),
        any::<i64>(),
        ".{0,8}",
        any::<u32>(),
    )
        .prop_map(
            |(
                id,
                item_id,
                name,
                quantity,
                unit_price_minor,
                tax_inclusive,
                amount,
                code,
                rate_bps,
            )| OrderLineV1 {
                id,
                item_id,
                name,
                quantity,
                unit_price_minor,
                tax_inclusive,
                tax_rates: vec![TaxRateV1 {
                    code: code.clone(),
                    rate_bps,
                }],
                net_minor: amount,
                tax_minor: amount / 7,
                gross_minor: amount / 3,
                taxes: vec![TaxPortionV1 {
                    code,
                    rate_bps,
                    taxable_minor: amount,
                    tax_minor: amount / 9,
                }],
            },
        );
    prop_oneof![
        (
            any::<[u8; 16]>(),
            any::<u64>(),
            order_type(),
            "[A-Z]{3}",
            any::<i64>()
        )
            .prop_map(|(order_id, number, order_type, currency, opened_at_ms)| {
                OrderEventV1::Opened {
                    order_id,
                    number,
                    order_type,
                    currency,
                    opened_at_ms,
                }
            }),
        (any::<[u8; 16]>(), line)
            .prop_map(|(order_id, line)| OrderEventV1::LineAdded { order_id, line }),
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<i64>(),
            any::<i64>()
        )
            .prop_map(|(order_id, id, tendered_minor, at)| {
                OrderEventV1::PaymentTaken {
                    order_id,
                    payment: PaymentV1 {
                        id,
                        tender: TenderV1::Cash,
                        tendered_minor,
                        amount_minor: tendered_minor / 2,
                        change_minor: 0,
                        taken_at_ms: at,
                    },
                }
            }),
        (any::<[u8; 16]>(), any::<i64>()).prop_map(|(order_id, closed_at_ms)| {
            OrderEventV1::Closed {
                order_id,
                closed_at_ms,
            }
        }),
        (any::<[u8; 16]>(), ".{0,50}", any::<i64>()).prop_map(
            |(order_id, reason, voided_at_ms)| OrderEventV1::Voided {
                order_id,
                reason,
                voided_at_ms
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_message_survives_the_frame_codec(message in message()) {
        let bytes = encode_frame(&message).unwrap();
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        prop_assert_eq!(decoder.next_message().unwrap(), Some(message));
        prop_assert!(decoder.finish().is_ok());
    }

    #[test]
    fn any_order_event_survives_the_op_body_codec(event in order_event()) {
        let body = OpBody::Order(event.clone()).encode();
        let op = WireOp { origin: [0; 16], seq: 1, hlc: Hlc::default(), prev_hash: [0; 32], body };
        prop_assert_eq!(op.decode_body().unwrap(), OpBody::Order(event));
    }

    #[test]
    fn mutated_frames_never_panic_the_decoder(message in message(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = encode_frame(&message).unwrap();
        for (position, value) in flips {
            let index = position % bytes.len();
            bytes[index] ^= value;
        }
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        let _ = decoder.next_message();
        let _ = decoder.finish();
    }

    #[test]
    fn arbitrary_op_bodies_never_panic_the_decoder(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let op = WireOp { origin: [0; 16], seq: 1, hlc: Hlc::default(), prev_hash: [0; 32], body };
        if let Ok(OpBody::Order(event)) = op.decode_body() {
            // Whatever decodes must convert to a domain event or fail cleanly.
            let _ = shared_model::OrderEvent::try_from(&event);
        }
    }
}
