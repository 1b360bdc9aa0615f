//! Cash drawers through the real router and SQLite: one open drawer per terminal even when
//! requests race, payments land in the drawer in their own transaction, the count is blind, and
//! the Z report's variance is counted − expected to the cent.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::edge;
use serde_json::{Value, json};
use std::sync::Arc;
use sync_protocol::op::OpBody;

fn amount(rows: &Value, tender: &str) -> i64 {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["tender"] == tender)
        .map_or(0, |row| row["amount_minor"].as_i64().unwrap_or(0))
}

#[tokio::test]
async fn a_shift_in_the_drawer_adds_up_to_the_cent_with_a_blind_count() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    edge.sign_in(&cashier).await;
    let (status, drawer) = edge
        .call("POST", "/v1/drawer", Some(json!({"float_minor": 500_000})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{drawer}");
    let (status, error) = edge
        .call("POST", "/v1/drawer", Some(json!({"float_minor": 1})))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("drawer_already_open"))
    );

    // A cash sale with change and a card sale go into the drawer with their payments.
    let cash_order = edge.order_with("sku-chai").await;
    let (status, paid) = edge
        .call(
            "POST",
            &format!("/v1/orders/{cash_order}/payments"),
            Some(json!({"tender": "cash", "amount_minor": 20_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(paid["change_due_minor"], 5_000);
    let card_order = edge.order_with("sku-chai").await;
    edge.call(
        "POST",
        &format!("/v1/orders/{card_order}/payments"),
        Some(json!({"tender": "card", "amount_minor": 15_000})),
    )
    .await;
    for (path, body) in [
        (
            "/v1/drawer/pay-ins",
            json!({"amount_minor": 20_000, "reason": "coins from the bank"}),
        ),
        (
            "/v1/drawer/pay-outs",
            json!({"amount_minor": 5_000, "reason": "milk delivery"}),
        ),
        ("/v1/drawer/drops", json!({"amount_minor": 400_000})),
    ] {
        let (status, body) = edge.call("POST", path, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            body.get("expected").is_none(),
            "the terminal never sees expected takings"
        );
    }

    // The cashier cannot read expected takings; a supervisor on this terminal can.
    let (status, _) = edge.call("GET", "/v1/drawer", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    edge.sign_in(&supervisor).await;
    let (status, x) = edge.call("GET", "/v1/drawer", None).await;
    assert_eq!(status, StatusCode::OK, "{x}");
    assert_eq!(
        amount(&x["expected"], "cash"),
        500_000 + 15_000 + 20_000 - 5_000 - 400_000
    );
    assert_eq!(amount(&x["expected"], "card"), 15_000);
    assert!(x["z_number"].is_null());

    // Back to the cashier: blind count, then close with the Z report.
    edge.sign_in(&cashier).await;
    let (status, _) = edge.call("POST", "/v1/drawer/close", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "no close before the count");
    let (status, counted) = edge
        .call(
            "POST",
            "/v1/drawer/count",
            Some(json!({"counts": [{"tender": "cash", "counted_minor": 129_500}, {"tender": "card", "counted_minor": 15_000}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{counted}");
    assert_eq!(counted["state"], "counted");
    assert!(counted.get("variance_minor").is_none() && counted.get("counted").is_none());
    let (status, z) = edge.call("POST", "/v1/drawer/close", None).await;
    assert_eq!(status, StatusCode::OK, "{z}");
    assert_eq!(z["z_number"], 1);
    let cash = z["counted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["tender"] == "cash")
        .unwrap();
    assert_eq!(cash["variance_minor"], -500);
    let card = z["counted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["tender"] == "card")
        .unwrap();
    assert_eq!(card["variance_minor"], 0);

    // Every step is an op for the hub, and the next shift opens a new drawer with the next Z.
    let drawer_ops = edge
        .op_bodies_after(0)
        .into_iter()
        .filter(|body| matches!(body, OpBody::Drawer(_)))
        .count();
    assert_eq!(
        drawer_ops,
        1 + 2 + 3 + 1 + 1,
        "open, two payments, three movements, count, close"
    );
    let (status, _) = edge
        .call("POST", "/v1/drawer", Some(json!({"float_minor": 0})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(drawer["state"], "open");
}

#[tokio::test]
async fn two_requests_racing_to_open_a_terminals_drawer_open_exactly_one() {
    let edge = Arc::new(edge());
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    edge.sign_in(&cashier).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let edge = edge.clone();
        tasks.push(tokio::spawn(async move {
            edge.call("POST", "/v1/drawer", Some(json!({"float_minor": 10_000})))
                .await
                .0
        }));
    }
    let mut opened = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::CREATED {
            opened += 1;
        }
    }
    assert_eq!(opened, 1);
}

#[tokio::test]
async fn bad_drawer_requests_are_refused_and_change_nothing() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let (status, _) = edge
        .call("POST", "/v1/drawer", Some(json!({"float_minor": 1_000})))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a drawer belongs to a signed-in cashier"
    );
    edge.sign_in(&cashier).await;
    let (status, error) = edge
        .call("POST", "/v1/drawer/drops", Some(json!({"amount_minor": 1})))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_open_drawer"))
    );
    edge.call("POST", "/v1/drawer", Some(json!({"float_minor": 1_000})))
        .await;
    let seq = edge.last_seq();
    let cases = [
        (
            "/v1/drawer/pay-outs",
            json!({"amount_minor": 1_001, "reason": "too much"}),
            StatusCode::CONFLICT,
            "not_enough_cash",
        ),
        (
            "/v1/drawer/pay-ins",
            json!({"amount_minor": 100}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "/v1/drawer/drops",
            json!({"amount_minor": -5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "/v1/drawer/count",
            json!({"counts": [{"tender": "cash", "counted_minor": 1}, {"tender": "cash", "counted_minor": 2}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "/v1/drawer/count",
            json!({"counts": [{"tender": "beads", "counted_minor": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (path, body, expected_status, expected_code) in cases {
        let (status, error) = edge.call("POST", path, Some(body.clone())).await;
        assert_eq!(status, expected_status, "{path} {body}: {error}");
        assert_eq!(error["code"], expected_code, "{path} {body}: {error}");
    }
    assert_eq!(
        edge.last_seq(),
        seq,
        "refused drawer requests change nothing"
    );
}

#[tokio::test]
async fn a_cash_refund_comes_out_of_the_drawer_and_never_more_than_it_holds() {
    let edge = edge();
    let manager = edge.add_staff("Njeri", "manager", "4321");
    edge.sign_in(&manager).await;
    edge.call("POST", "/v1/drawer", Some(json!({"float_minor": 1_000})))
        .await;
    let order = edge.order_with("sku-chai").await;
    edge.call(
        "POST",
        &format!("/v1/orders/{order}/payments"),
        Some(json!({"tender": "cash", "amount_minor": 15_000})),
    )
    .await;
    edge.call(
        "POST",
        "/v1/drawer/drops",
        Some(json!({"amount_minor": 12_000})),
    )
    .await;
    // The drawer now holds 1,000 + 15,000 − 12,000 = 4,000 in cash.
    let seq = edge.last_seq();
    let (status, error) = edge
        .call(
            "POST",
            &format!("/v1/orders/{order}/refunds"),
            Some(json!({"tender": "cash", "amount_minor": 5_000, "reason": "spilt"})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_enough_cash")),
        "{error}"
    );
    assert_eq!(edge.last_seq(), seq, "a refused refund changes nothing");
    let (status, refunded) = edge
        .call(
            "POST",
            &format!("/v1/orders/{order}/refunds"),
            Some(json!({"tender": "cash", "amount_minor": 3_000, "reason": "spilt"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refunded}");
    let (_, x) = edge.call("GET", "/v1/drawer", None).await;
    assert_eq!(amount(&x["expected"], "cash"), 1_000);
    assert_eq!(amount(&x["refunded"], "cash"), 3_000);
}
