//! Gift-card holds at the edge: beyond what the outlet may take offline, a payment is a hold
//! asked of the hub. The hub's approval takes it on the order (once, under the hold's id); a
//! hold the cashier cancelled, or one the order can no longer take, is given back; a declined
//! hold says why; and with the hub unreachable the till says the allowance is all it can take.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use serde_json::json;
use sync_protocol::feed::{FeedBody, GiftCardAllowanceV1};
use sync_protocol::op::{GiftCardOpV1, OpBody};
use uuid::Uuid;

const CARD: &str = "GIFT-HOLD-1";

fn feed(edge: &TestEdge, body: FeedBody) {
    let seq = edge.store.feed_through_seq().unwrap() + 1;
    edge.store
        .apply_feed(&[(seq, body)], edge_node::now_ms())
        .unwrap();
}

fn card_with_allowance(edge: &TestEdge, allowance_minor: i64) {
    feed(
        edge,
        FeedBody::GiftCardAllowanceSet(GiftCardAllowanceV1 {
            code: CARD.into(),
            currency: "KES".into(),
            active: true,
            expires_at_ms: None,
            allowance_minor,
            outlet_redeemed_minor: 0,
        }),
    );
}

fn decide(edge: &TestEdge, hold: Uuid, approved: bool, reason: &str) {
    feed(
        edge,
        FeedBody::GiftCardHoldDecided {
            hold_id: *hold.as_bytes(),
            approved,
            reason: reason.into(),
        },
    );
}

/// An order of `cappuccinos` × 300.00 and a pending hold for all of it.
async fn held_order(edge: &TestEdge, cappuccinos: i64) -> (String, Uuid) {
    let (_, order) = edge
        .call("POST", "/v1/orders", Some(json!({"type": "take_out"})))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/lines"),
        Some(json!({"item_id": "sku-cappuccino", "quantity": cappuccinos})),
    )
    .await;
    let terminal = edge.store.devices().unwrap()[0].id;
    let hold = edge
        .store
        .request_gift_card_hold(
            id.parse().unwrap(),
            CARD,
            cappuccinos * 30_000,
            terminal,
            edge_node::now_ms(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(hold.state, "pending");
    (id, hold.id)
}

fn gift_card_ops(edge: &TestEdge, after: u64) -> Vec<GiftCardOpV1> {
    edge.op_bodies_after(after)
        .into_iter()
        .filter_map(|body| match body {
            OpBody::GiftCard(op) => Some(op),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_approved_hold_is_taken_once_under_its_own_id() {
    let edge = edge();
    card_with_allowance(&edge, 10_000);
    let seq = edge.last_seq();
    let (order, hold) = held_order(&edge, 2).await;
    let (_, before) = edge.call("GET", &format!("/v1/orders/{order}"), None).await;
    assert_eq!(
        before["paid_minor"], 0,
        "nothing is taken before the hub approves"
    );

    decide(&edge, hold, true, "");
    let (_, after) = edge.call("GET", &format!("/v1/orders/{order}"), None).await;
    assert_eq!(after["paid_minor"], 60_000, "{after}");
    assert_eq!(after["payments"][0]["id"], hold.to_string());
    let (status, answer) = edge
        .call("GET", &format!("/v1/gift-card-holds/{hold}"), None)
        .await;
    assert_eq!(
        (status, answer["state"].as_str()),
        (StatusCode::OK, Some("paid"))
    );
    // The hub's word again (a re-sent feed entry cannot be, but a second decision must not pay twice).
    decide(&edge, hold, true, "");
    let (_, again) = edge.call("GET", &format!("/v1/orders/{order}"), None).await;
    assert_eq!(again["paid_minor"], 60_000);
    let ops = gift_card_ops(&edge, seq);
    assert!(
        matches!(&ops[0], GiftCardOpV1::HoldRequested { hold_id, amount_minor: 60_000, .. } if *hold_id == *hold.as_bytes())
    );
    assert!(
        matches!(&ops[1], GiftCardOpV1::Redeemed { entry_id, amount_minor: 60_000, .. } if *entry_id == *hold.as_bytes())
    );
    assert_eq!(ops.len(), 2, "{ops:?}");
}

#[tokio::test]
async fn a_hold_the_order_cannot_use_or_the_cashier_cancelled_is_given_back() {
    let edge = edge();
    card_with_allowance(&edge, 10_000);

    // Cancelled at the till, then approved: nothing taken, one release.
    let seq = edge.last_seq();
    let (order, hold) = held_order(&edge, 1).await;
    let (status, cancelled) = edge
        .call("POST", &format!("/v1/gift-card-holds/{hold}/cancel"), None)
        .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, again) = edge
        .call("POST", &format!("/v1/gift-card-holds/{hold}/cancel"), None)
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("gift_card_hold_not_pending"))
    );
    decide(&edge, hold, true, "");
    let (_, unpaid) = edge.call("GET", &format!("/v1/orders/{order}"), None).await;
    assert_eq!(unpaid["paid_minor"], 0);
    let releases = gift_card_ops(&edge, seq)
        .into_iter()
        .filter(|op| matches!(op, GiftCardOpV1::HoldReleased { .. }))
        .count();
    assert_eq!(releases, 1);

    // Paid in cash while the hub was deciding: the approval is given back.
    let (order, hold) = held_order(&edge, 1).await;
    edge.call(
        "POST",
        &format!("/v1/orders/{order}/payments"),
        Some(json!({"tender": "cash", "amount_minor": 30_000})),
    )
    .await;
    let seq = edge.last_seq();
    decide(&edge, hold, true, "");
    let (_, paid) = edge.call("GET", &format!("/v1/orders/{order}"), None).await;
    assert_eq!(paid["paid_minor"], 30_000, "paid once, in cash: {paid}");
    let (_, answer) = edge
        .call("GET", &format!("/v1/gift-card-holds/{hold}"), None)
        .await;
    assert_eq!(answer["state"], "released", "{answer}");
    assert!(matches!(
        gift_card_ops(&edge, seq).as_slice(),
        [GiftCardOpV1::HoldReleased { .. }]
    ));

    // Declined: says why, takes nothing.
    let (order, hold) = held_order(&edge, 1).await;
    decide(&edge, hold, false, "the card holds 100 KES");
    let (_, answer) = edge
        .call("GET", &format!("/v1/gift-card-holds/{hold}"), None)
        .await;
    assert_eq!(
        (answer["state"].as_str(), answer["reason"].as_str()),
        (Some("declined"), Some("the card holds 100 KES"))
    );
    let (_, unpaid) = edge.call("GET", &format!("/v1/orders/{order}"), None).await;
    assert_eq!(unpaid["paid_minor"], 0);
    let (status, _) = edge
        .call(
            "GET",
            &format!("/v1/gift-card-holds/{}", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn beyond_the_allowance_with_the_hub_unreachable_the_till_says_so_and_asks_nothing() {
    let edge = edge();
    card_with_allowance(&edge, 10_000);
    let (_, order) = edge
        .call("POST", "/v1/orders", Some(json!({"type": "take_out"})))
        .await;
    let id = order["id"].as_str().unwrap();
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/lines"),
        Some(json!({"item_id": "sku-cappuccino"})),
    )
    .await;
    let seq = edge.last_seq();
    let (status, error) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/gift-card-payments"),
            Some(json!({"code": CARD, "amount_minor": 30_000})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("gift_card_allowance_exceeded")),
        "{error}"
    );
    assert_eq!(edge.last_seq(), seq, "no hold was asked for");
    // Within the allowance it is taken at once, offline.
    let (status, paid) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/gift-card-payments"),
            Some(json!({"code": CARD, "amount_minor": 10_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
}
