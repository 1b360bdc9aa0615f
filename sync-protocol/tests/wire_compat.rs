//! Wire compatibility, pinned: representative frames and bodies of every kind, encoded by this
//! version, are checked in as bytes (`tests/fixtures/wire-v1.txt`). Each must still encode to
//! exactly those bytes and decode from them to the same value, so an edge one version behind
//! its hub (or ahead of it) exchanges the same bytes. A change that breaks this is a wire break:
//! add a new variant or a new version instead of changing an old one.
//!
//! `KIBANDA_UPDATE_FIXTURES=1 cargo test -p sync-protocol --test wire_compat` adds fixtures for
//! new names; it never rewrites an existing one.
#![allow(clippy::unwrap_used)]

use shared_model::outlet::OutletConfig;
use shared_model::pricebook::{PriceBook, PriceBookScope, WeeklyWindow};
use shared_model::tax::RoundingMode;
use shared_model::{
    CatalogItem, Currency, LineId, Order, OrderEvent, OrderId, OrderType, PaymentId, TaxMode,
    TaxRate, Tender,
};
use std::collections::BTreeMap;
use sync_protocol::feed::{
    CatalogItemV1, CloudChannelV1, CloudOrderV1, FeedBody, FeedEntry, GiftCardAllowanceV1,
    IntentStateV1, OutletConfigV1, PaymentIntentUpdateV1, PriceBookV1, WeeklyWindowV1,
};
use sync_protocol::op::{
    CancelOutcomeV1, CloudOrderOpV1, DrawerEventV1, DrawerOpV1, GiftCardOpV1, OpBody, OrderEventV1,
    PaymentMethodV1, PaymentOpV1,
};
use sync_protocol::{FrameDecoder, Hlc, Message, RejectCode, WireOp, encode_frame};
use uuid::Uuid;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wire-v1.txt");

fn order_events() -> Vec<OrderEvent> {
    let opened = OrderEvent::Opened {
        order_id: OrderId(Uuid::from_u128(1)),
        number: 42,
        order_type: OrderType::TakeOut,
        currency: Currency::kes(),
        opened_at_ms: 1_790_000_000_000,
    };
    let mut order = Order::from_opened(&opened).unwrap();
    let item = CatalogItem::simple(
        "sku-chai",
        "Chai",
        "tea",
        15_000,
        TaxMode::Inclusive,
        vec![TaxRate::new("VAT16", 1600)],
    );
    let line = order
        .add_line(LineId(Uuid::from_u128(2)), &item, 2, RoundingMode::HalfUp)
        .unwrap();
    order.apply(&line).unwrap();
    let pay = order
        .take_payment(
            PaymentId(Uuid::from_u128(3)),
            Tender::Cash,
            50_000,
            1_790_000_000_500,
        )
        .unwrap();
    order.apply(&pay).unwrap();
    let close = order.close(1_790_000_001_000).unwrap();
    vec![opened, line, pay, close]
}

fn op(body: &OpBody, seq: u64) -> WireOp {
    WireOp {
        origin: [9; 16],
        seq,
        hlc: Hlc {
            wall_ms: 1_790_000_000_000 + seq,
            logical: 1,
        },
        prev_hash: [seq as u8; 32],
        body: body.encode(),
    }
}

fn op_bodies() -> Vec<(String, OpBody)> {
    let mut bodies: Vec<(String, OpBody)> = order_events()
        .iter()
        .map(|event| {
            (
                format!("op.order.{}", event.kind()),
                OpBody::Order(OrderEventV1::from(event)),
            )
        })
        .collect();
    bodies.push((
        "op.drawer.opened".into(),
        OpBody::Drawer(DrawerOpV1 {
            session_id: [4; 16],
            event: DrawerEventV1::Opened {
                terminal_id: "t1".into(),
                cashier_id: "c1".into(),
                float_minor: 10_000,
                at_ms: 5,
            },
        }),
    ));
    bodies.push((
        "op.payment.intent_requested".into(),
        OpBody::Payment(PaymentOpV1::IntentRequested {
            intent_id: [5; 16],
            order_id: [1; 16],
            method: PaymentMethodV1::MpesaStk {
                msisdn: "254712345678".into(),
            },
            amount_minor: 30_000,
            currency: "KES".into(),
            requested_at_ms: 6,
        }),
    ));
    bodies.push((
        "op.payment.receipt_code".into(),
        OpBody::Payment(PaymentOpV1::ReceiptCodeRecorded {
            intent_id: [6; 16],
            order_id: [1; 16],
            receipt_code: "QJK3H7X9TZ".into(),
            amount_minor: 30_000,
            currency: "KES".into(),
            recorded_at_ms: 7,
        }),
    ));
    bodies.push((
        "op.payment.offline_card".into(),
        OpBody::Payment(PaymentOpV1::OfflineCardRecorded {
            intent_id: [7; 16],
            order_id: [1; 16],
            offline_ref: "SAF-000123".into(),
            last4: "4242".into(),
            brand: "visa".into(),
            amount_minor: 30_000,
            currency: "KES".into(),
            recorded_at_ms: 9,
        }),
    ));
    bodies.push((
        "op.cloud_order.cancel_resolved".into(),
        OpBody::CloudOrder(CloudOrderOpV1::CancelResolved {
            order_id: [1; 16],
            outcome: CancelOutcomeV1::RefundRequested { paid_minor: 58_000 },
            reason: "customer cancelled".into(),
            resolved_at_ms: 11,
        }),
    ));
    bodies.push((
        "op.payment.capture_needs_refund".into(),
        OpBody::Payment(PaymentOpV1::CaptureNeedsRefund {
            intent_id: [7; 16],
            order_id: [1; 16],
            amount_minor: 15_000,
            detected_at_ms: 13,
        }),
    ));
    bodies.push((
        "op.gift_card.redeemed".into(),
        OpBody::GiftCard(GiftCardOpV1::Redeemed {
            entry_id: [8; 16],
            code: "GIFT-7Q2K".into(),
            order_id: [1; 16],
            amount_minor: 150_000,
            currency: "KES".into(),
            redeemed_at_ms: 12,
        }),
    ));
    bodies.push((
        "op.order.order.lines_sent".into(),
        OpBody::Order(OrderEventV1::LinesSent {
            order_id: [1; 16],
            line_ids: vec![[2; 16], [3; 16]],
            sent_at_ms: 14,
        }),
    ));
    bodies.push((
        "op.tips.payout".into(),
        OpBody::TipPayout(sync_protocol::op::TipPayoutV1 {
            payout_id: [4; 16],
            from_ms: 1_790_000_000_000,
            to_ms: 1_790_028_800_000,
            tips_minor: 12_000,
            shares: vec![
                sync_protocol::op::TipShareV1 {
                    staff_id: [5; 16],
                    weight: 480,
                    amount_minor: 8_000,
                },
                sync_protocol::op::TipShareV1 {
                    staff_id: [6; 16],
                    weight: 240,
                    amount_minor: 4_000,
                },
            ],
            by_staff_id: [7; 16],
            paid_at_ms: 1_790_028_900_000,
        }),
    ));
    bodies.push((
        "op.table.server_assigned".into(),
        OpBody::Table(sync_protocol::op::TableEventV1::ServerAssigned {
            order_id: [1; 16],
            staff_id: [2; 16],
            by_staff_id: Some([3; 16]),
            at_ms: 15,
        }),
    ));
    bodies.push((
        "op.doc.floor_plan".into(),
        OpBody::Doc(sync_protocol::docs::DocChangeV1 {
            doc: sync_protocol::docs::DocKindV1::FloorPlan,
            changes: vec![0x85, 0x6f, 0x4a, 0x83, 4, 5, 6],
        }),
    ));
    bodies.push((
        "op.loyalty.member_attached".into(),
        OpBody::Loyalty(sync_protocol::op::LoyaltyOpV1::MemberAttached {
            order_id: [1; 16],
            member_code: "M-0722000111".into(),
            attached_at_ms: 16,
        }),
    ));
    bodies.push((
        "op.loyalty.points_burned".into(),
        OpBody::Loyalty(sync_protocol::op::LoyaltyOpV1::PointsBurned {
            entry_id: [8; 16],
            member_code: "M-0722000111".into(),
            order_id: [1; 16],
            points: 300,
            amount_minor: 30_000,
            burned_at_ms: 17,
        }),
    ));
    bodies.push((
        "op.loyalty.voucher_redeemed".into(),
        OpBody::Loyalty(sync_protocol::op::LoyaltyOpV1::VoucherRedeemed {
            entry_id: [9; 16],
            code: "VCH-2026".into(),
            order_id: [1; 16],
            amount_minor: 50_000,
            currency: "KES".into(),
            redeemed_at_ms: 18,
        }),
    ));
    bodies.push((
        "op.gift_card.hold_requested".into(),
        OpBody::GiftCard(sync_protocol::op::GiftCardOpV1::HoldRequested {
            hold_id: [6; 16],
            code: "GIFT-7Q2K".into(),
            order_id: [1; 16],
            amount_minor: 300_000,
            currency: "KES".into(),
            requested_at_ms: 19,
        }),
    ));
    bodies.push((
        "op.gift_card.hold_released".into(),
        OpBody::GiftCard(sync_protocol::op::GiftCardOpV1::HoldReleased {
            hold_id: [6; 16],
            code: "GIFT-7Q2K".into(),
            released_at_ms: 20,
        }),
    ));
    bodies.push((
        "op.day_closed".into(),
        OpBody::DayClosed(sync_protocol::op::DayClosedV1 {
            z_number: 3,
            from_ms: 1_000,
            to_ms: 90_000,
            currency: "KES".into(),
            summary: sync_protocol::op::SalesSummaryV1 {
                orders_closed: 2,
                gross_sales_minor: 45_000,
                discounts_minor: 1_000,
                service_charge_minor: 0,
                net_sales_minor: 37_069,
                tax_minor: 6_931,
                taxes: vec![sync_protocol::op::TaxLineV1 {
                    code: "VAT16".into(),
                    rate_bps: 1_600,
                    taxable_minor: 37_069,
                    tax_minor: 6_931,
                }],
                cash_rounding_minor: 0,
                sales_total_minor: 44_000,
                tips_minor: 500,
                payments: vec![sync_protocol::op::TenderLineV1 {
                    tender: sync_protocol::op::TenderV1::Cash,
                    count: 2,
                    amount_minor: 44_000,
                }],
                refunds: vec![],
                net_takings_minor: 44_000,
                voided_orders: 1,
                voided_orders_minor: 20_000,
                voided_lines: 0,
                voided_lines_minor: 0,
            },
            closed_by_staff_id: [7; 16],
            closed_at_ms: 90_001,
        }),
    ));
    bodies.push((
        "op.order_doc".into(),
        OpBody::OrderDoc(sync_protocol::docs::OrderDocChangeV1 {
            order_id: [8; 16],
            changes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
        }),
    ));
    bodies.push((
        "op.tip_payout_in_cash".into(),
        OpBody::TipPayoutInCash {
            payout_id: [9; 16],
            drawer_session_id: [10; 16],
        },
    ));
    bodies
}

fn feed_bodies() -> Vec<(String, FeedBody)> {
    let mut item = CatalogItem::simple(
        "sku-tusker",
        "Tusker",
        "beer",
        35_000,
        TaxMode::Inclusive,
        vec![TaxRate::new("VAT16", 1600)],
    );
    item.age_restricted = true;
    item.barcodes = vec!["5000112637922".into()];
    let book = PriceBook {
        id: "happy".into(),
        name: "Happy hour".into(),
        scope: PriceBookScope::TimeWindow {
            windows: vec![WeeklyWindow {
                days_mask: WeeklyWindow::WEEKDAYS,
                start_minute: 17 * 60,
                end_minute: 19 * 60,
            }],
        },
        priority: 1,
        prices: BTreeMap::from([(shared_model::ItemId("sku-tusker".into()), 25_000)]),
    };
    let mut config = OutletConfig::in_zone("Africa/Nairobi", 180);
    config.accepted_tenders = vec![Tender::Cash, Tender::Mpesa];
    config.cash_exception_threshold_minor = Some(1_000);
    vec![
        (
            "feed.catalog_item".into(),
            FeedBody::CatalogItemUpserted(CatalogItemV1::from(&item)),
        ),
        (
            "feed.catalog_removed".into(),
            FeedBody::CatalogItemRemoved {
                item_id: "sku-old".into(),
            },
        ),
        (
            "feed.staff_logged_out".into(),
            FeedBody::StaffLoggedOut { staff_id: [3; 16] },
        ),
        (
            "feed.price_book".into(),
            FeedBody::PriceBookUpserted(PriceBookV1::from(&book)),
        ),
        (
            "feed.price_book_removed".into(),
            FeedBody::PriceBookRemoved {
                book_id: "happy".into(),
            },
        ),
        (
            "feed.outlet_config".into(),
            FeedBody::OutletConfigSet(OutletConfigV1::from(&config)),
        ),
        (
            "feed.payment_intent".into(),
            FeedBody::PaymentIntentUpdated(PaymentIntentUpdateV1 {
                intent_id: [5; 16],
                order_id: [1; 16],
                state: IntentStateV1::Captured,
                amount_minor: 30_000,
                provider_ref: Some("trs-1".into()),
                receipt: Some("QJK3H7X9TZ".into()),
                detail: "paid".into(),
                at_ms: 8,
            }),
        ),
        (
            "feed.cloud_order".into(),
            FeedBody::CloudOrderPlaced(CloudOrderV1 {
                order_id: [1; 16],
                channel: CloudChannelV1::Delivery,
                external_ref: "GLOVO-77".into(),
                customer_name: Some("Wanjiku".into()),
                customer_phone: None,
                notes: Some("no onions".into()),
                events: order_events()
                    .iter()
                    .take(2)
                    .map(OrderEventV1::from)
                    .collect(),
            }),
        ),
        (
            "feed.cloud_order_cancel".into(),
            FeedBody::CloudOrderCancelRequested {
                order_id: [1; 16],
                reason: "customer cancelled".into(),
                requested_at_ms: 10,
            },
        ),
        (
            "feed.gift_card_allowance".into(),
            FeedBody::GiftCardAllowanceSet(GiftCardAllowanceV1 {
                code: "GIFT-7Q2K".into(),
                currency: "KES".into(),
                active: true,
                expires_at_ms: Some(1_800_000_000_000),
                allowance_minor: 200_000,
                outlet_redeemed_minor: 150_000,
            }),
        ),
        (
            "feed.promotion_upserted".into(),
            FeedBody::PromotionUpserted(sync_protocol::promotions::PromotionV1 {
                id: "happy-hour".into(),
                name: "Happy hour beers".into(),
                rule: sync_protocol::promotions::PromotionRuleV1::PercentOff {
                    target: sync_protocol::promotions::PromotionTargetV1::Category("beer".into()),
                    percent_bps: 2_000,
                },
                code: Some("KARIBU".into()),
                priority: 5,
                exclusive: false,
                valid_from_ms: Some(1_790_000_000_000),
                valid_until_ms: None,
                usage_limit: Some(500),
                membership_plan: None,
                windows: vec![WeeklyWindowV1 {
                    days_mask: 0b0011111,
                    start_minute: 1_020,
                    end_minute: 1_140,
                }],
            }),
        ),
        (
            "feed.item_modifiers_set".into(),
            FeedBody::ItemModifiersSet {
                item_id: "sku-cappuccino".into(),
                groups: vec![sync_protocol::modifiers::ModifierGroupV1 {
                    id: "milk".into(),
                    name: "Milk".into(),
                    min_choices: 1,
                    max_choices: 1,
                    options: vec![
                        sync_protocol::modifiers::ModifierOptionV1 {
                            id: "whole".into(),
                            name: "Whole".into(),
                            price_delta_minor: 0,
                            nested_groups: vec![],
                        },
                        sync_protocol::modifiers::ModifierOptionV1 {
                            id: "oat".into(),
                            name: "Oat".into(),
                            price_delta_minor: 5_000,
                            nested_groups: vec![sync_protocol::modifiers::ModifierGroupV1 {
                                id: "oat-brand".into(),
                                name: "Brand".into(),
                                min_choices: 0,
                                max_choices: 1,
                                options: vec![],
                            }],
                        },
                    ],
                }],
            },
        ),
        (
            "feed.combo_upserted".into(),
            FeedBody::ComboUpserted(sync_protocol::modifiers::ComboV1 {
                id: "burger-meal".into(),
                name: "Burger meal".into(),
                price_minor: 85_000,
                slots: vec![
                    sync_protocol::modifiers::ComboSlotV1 {
                        id: "main".into(),
                        name: "Main".into(),
                        options: vec![("sku-burger".into(), 0)],
                    },
                    sync_protocol::modifiers::ComboSlotV1 {
                        id: "drink".into(),
                        name: "Drink".into(),
                        options: vec![("sku-soda".into(), 0), ("sku-shake".into(), 5_000)],
                    },
                ],
            }),
        ),
        (
            "feed.combo_removed".into(),
            FeedBody::ComboRemoved {
                combo_id: "burger-meal".into(),
            },
        ),
        (
            "feed.promotion_removed".into(),
            FeedBody::PromotionRemoved {
                promotion_id: "happy-hour".into(),
            },
        ),
        (
            "feed.doc_changed".into(),
            FeedBody::DocChanged(sync_protocol::docs::DocChangeV1 {
                doc: sync_protocol::docs::DocKindV1::FloorPlan,
                changes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
            }),
        ),
        (
            "feed.loyalty_program_set".into(),
            FeedBody::LoyaltyProgramSet(sync_protocol::feed::LoyaltyProgramV1 {
                currency: "KES".into(),
                earn_minor_per_point: 10_000,
                point_value_minor: 100,
                offline_burn_points: 5_000,
            }),
        ),
        (
            "feed.loyalty_member_set".into(),
            FeedBody::LoyaltyMemberSet(sync_protocol::feed::LoyaltyMemberV1 {
                code: "M-0722000111".into(),
                name: "Amina W.".into(),
                active: true,
                balance_points: 1_250,
                allowance_points: 1_250,
                outlet_burned_points: 300,
            }),
        ),
        (
            "feed.outlet_profile_set".into(),
            FeedBody::OutletProfileSet(sync_protocol::feed::OutletProfileV1 {
                cash_rounding: Some((100, sync_protocol::feed::CashRoundingModeV1::Nearest)),
                tax_half_even: true,
                tax_per_invoice: true,
                operating_hours: vec![sync_protocol::feed::WeeklyWindowV1 {
                    days_mask: 0b001_1111,
                    start_minute: 480,
                    end_minute: 1_320,
                }],
            }),
        ),
        (
            "feed.gift_card_hold_decided".into(),
            FeedBody::GiftCardHoldDecided {
                hold_id: [6; 16],
                approved: true,
                reason: String::new(),
            },
        ),
        (
            "feed.voucher_set".into(),
            FeedBody::VoucherSet(sync_protocol::feed::VoucherV1 {
                code: "VCH-2026".into(),
                currency: "KES".into(),
                value_minor: 50_000,
                active: true,
                expires_at_ms: Some(1_800_000_000_000),
            }),
        ),
        (
            "feed.order_doc_changed".into(),
            FeedBody::OrderDocChanged(sync_protocol::docs::OrderDocChangeV1 {
                order_id: [8; 16],
                changes: vec![0x85, 0x6f, 0x4a, 0x83, 4, 5, 6],
            }),
        ),
        (
            "feed.treasury_refund_settled".into(),
            FeedBody::TreasuryRefundSettled(sync_protocol::feed::TreasuryRefundSettledV1 {
                refund_id: [9; 16],
                order_id: [10; 16],
                processed: false,
                detail: "declined: card closed".into(),
                settled_at_ms: 1_800_000_000_000,
            }),
        ),
        (
            "feed.promotion_uses_set".into(),
            FeedBody::PromotionUsesSet {
                promotion_id: "welcome".into(),
                uses_elsewhere: 42,
            },
        ),
    ]
}

/// Bodies inside the pinned batch frames: those of the first pinned version. Kinds added later
/// are pinned on their own, so adding one never rewrites the batch fixtures.
const OPS_IN_PINNED_BATCH: usize = 8;
const FEED_ENTRIES_IN_PINNED_BATCH: usize = 7;

fn messages() -> Vec<(String, Message)> {
    let ops: Vec<WireOp> = op_bodies()
        .iter()
        .take(OPS_IN_PINNED_BATCH)
        .enumerate()
        .map(|(i, (_, body))| op(body, i as u64 + 1))
        .collect();
    let entries: Vec<FeedEntry> = feed_bodies()
        .iter()
        .take(FEED_ENTRIES_IN_PINNED_BATCH)
        .enumerate()
        .map(|(i, (_, body))| FeedEntry {
            seq: i as u64 + 1,
            body: body.encode(),
        })
        .collect();
    vec![
        (
            "msg.hello".into(),
            Message::Hello {
                software: "kibanda-edge/0.1.0".into(),
            },
        ),
        (
            "msg.welcome".into(),
            Message::Welcome {
                acked_through_seq: 41,
                acked_hash: [7; 32],
            },
        ),
        (
            "msg.reject".into(),
            Message::Reject {
                code: RejectCode::ChainBroken,
                message: "gap".into(),
            },
        ),
        ("msg.ops_batch".into(), Message::OpsBatch { ops }),
        (
            "msg.ack".into(),
            Message::Ack {
                acked_through_seq: 48,
            },
        ),
        (
            "msg.heartbeat".into(),
            Message::Heartbeat {
                sent_at_ms: 1_790_000_000_000,
            },
        ),
        (
            "msg.subscribe".into(),
            Message::Subscribe { feed_after_seq: 3 },
        ),
        ("msg.feed_batch".into(), Message::FeedBatch { entries }),
    ]
}

fn load() -> BTreeMap<String, String> {
    std::fs::read_to_string(FIXTURES)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, hex)| (name.to_owned(), hex.to_owned()))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_pinned_frame_and_body_encodes_and_decodes_byte_for_byte() {
    let mut fixtures = load();
    let update = std::env::var("KIBANDA_UPDATE_FIXTURES").is_ok();
    let mut current: Vec<(String, Vec<u8>)> = Vec::new();
    current.extend(
        op_bodies()
            .iter()
            .map(|(name, body)| (name.clone(), body.encode())),
    );
    current.extend(
        feed_bodies()
            .iter()
            .map(|(name, body)| (name.clone(), body.encode())),
    );
    current.extend(
        messages()
            .iter()
            .map(|(name, message)| (name.clone(), encode_frame(message).unwrap())),
    );
    let mut added = false;
    for (name, bytes) in &current {
        match fixtures.get(name) {
            Some(pinned) => assert_eq!(
                &hex(bytes),
                pinned,
                "{name} no longer encodes to its pinned bytes: a wire break"
            ),
            None if update => {
                fixtures.insert(name.clone(), hex(bytes));
                added = true;
            }
            None => panic!(
                "no pinned bytes for {name}: run with KIBANDA_UPDATE_FIXTURES=1 and commit them"
            ),
        }
    }
    if added {
        let text: String = fixtures
            .iter()
            .map(|(name, hex)| format!("{name} {hex}\n"))
            .collect();
        std::fs::write(FIXTURES, text).unwrap();
    }

    // And the pinned bytes decode to the same values.
    let fixtures = load();
    for (name, body) in op_bodies() {
        let op = WireOp {
            origin: [0; 16],
            seq: 1,
            hlc: Hlc {
                wall_ms: 0,
                logical: 0,
            },
            prev_hash: [0; 32],
            body: unhex(&fixtures[&name]),
        };
        assert_eq!(op.decode_body().unwrap(), body, "{name}");
    }
    for (name, body) in feed_bodies() {
        let entry = FeedEntry {
            seq: 1,
            body: unhex(&fixtures[&name]),
        };
        assert_eq!(entry.decode_body().unwrap(), body, "{name}");
    }
    for (name, message) in messages() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&unhex(&fixtures[&name]));
        assert_eq!(decoder.next_message().unwrap(), Some(message), "{name}");
    }
}
