//! Closing the business day at the edge: the X report of the day so far, the numbered,
//! immutable Z report that closes it (refused while a drawer is open, and to roles without the
//! permission), and a second day that starts where the first ended.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use serde_json::{Value, json};
use sync_protocol::op::OpBody;

async fn pay_and_close(edge: &TestEdge, tender: &str) -> String {
    let id = edge.order_with("sku-chai").await;
    let (status, body) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/payments"),
            Some(json!({"tender": tender, "amount_minor": 15_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = edge
        .call("POST", &format!("/v1/orders/{id}/close"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

fn taken(summary: &Value, tender: &str) -> i64 {
    summary["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["tender"] == tender)
        .map(|line| line["amount_minor"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_day_closes_with_a_numbered_z_report_and_the_next_day_starts_where_it_ended() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let manager = edge.add_staff("Wanjiru", "manager", "8642");
    edge.sign_in(&cashier).await;
    let office = edge.pair("office");
    edge.sign_in_as(&office, &manager).await;

    // A day: a cash sale, a card sale, a voided order, one still on the floor.
    let cash_order = pay_and_close(&edge, "cash").await;
    pay_and_close(&edge, "card").await;
    let voided = edge.order_with("sku-chai").await;
    let (status, body) = edge
        .call(
            "POST",
            &format!("/v1/orders/{voided}/void"),
            Some(json!({"reason": "customer left"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    edge.order_with("sku-chai").await;

    // The cashier may neither read nor close the day.
    for (method, path) in [
        ("GET", "/v1/reports/day"),
        ("POST", "/v1/reports/day/close"),
    ] {
        let (status, error) = edge.call(method, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {error}");
    }

    // A report covers what happened before its millisecond; let the clock pass the last sale's.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let (status, x) = edge.call_as(&office, "GET", "/v1/reports/day", None).await;
    assert_eq!(status, StatusCode::OK, "{x}");
    let summary = &x["summary"];
    assert_eq!(x["next_z_number"], 1);
    assert_eq!(summary["orders_closed"], 2, "{x}");
    assert_eq!(summary["sales_total_minor"], 30_000);
    assert_eq!(
        summary["net_sales_minor"].as_i64().unwrap() + summary["tax_minor"].as_i64().unwrap(),
        30_000
    );
    assert_eq!(summary["taxes"][0]["tax_minor"], summary["tax_minor"]);
    assert_eq!(
        (taken(summary, "cash"), taken(summary, "card")),
        (15_000, 15_000)
    );
    assert_eq!(summary["net_takings_minor"], 30_000);
    assert_eq!(
        (
            summary["voided_orders"].as_i64(),
            summary["voided_orders_minor"].as_i64()
        ),
        (Some(1), Some(15_000))
    );
    assert_eq!(
        (x["open_orders"].as_i64(), x["open_orders_minor"].as_i64()),
        (Some(1), Some(15_000))
    );

    // A drawer still open: the day cannot close, and nothing is written.
    let (status, body) = edge
        .call("POST", "/v1/drawer", Some(json!({"float_minor": 0})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let seq = edge.last_seq();
    let (status, refused) = edge
        .call_as(&office, "POST", "/v1/reports/day/close", None)
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("drawers_open")),
        "{refused}"
    );
    assert_eq!(edge.last_seq(), seq);
    for (path, body) in [
        (
            "/v1/drawer/count",
            json!({"counts": [{"tender": "cash", "counted_minor": 0}]}),
        ),
        ("/v1/drawer/close", json!({})),
    ] {
        let (status, answer) = edge.call("POST", path, Some(body)).await;
        assert!(status.is_success(), "{path}: {answer}");
    }

    // Z 1 closes the day with the X report's figures, and goes to the hub as an op.
    let seq = edge.last_seq();
    let (status, z1) = edge
        .call_as(&office, "POST", "/v1/reports/day/close", None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{z1}");
    assert_eq!(z1["z_number"], 1);
    assert_eq!(z1["summary"], x["summary"]);
    assert_eq!(z1["closed_by"], manager.id.as_str());
    let closed: Vec<u64> = edge
        .op_bodies_after(seq)
        .into_iter()
        .filter_map(|body| match body {
            OpBody::DayClosed(report) => Some(report.z_number),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![1]);

    // Day 2 starts where day 1 ended: a refund of yesterday's sale is today's.
    let (status, body) = edge
        .call_as(
            &office,
            "POST",
            &format!("/v1/orders/{cash_order}/refunds"),
            Some(json!({"tender": "cash", "amount_minor": 5_000, "reason": "cold tea"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let (_, x2) = edge.call_as(&office, "GET", "/v1/reports/day", None).await;
    assert_eq!(x2["next_z_number"], 2);
    assert_eq!(x2["from_ms"], z1["to_ms"]);
    assert_eq!(x2["summary"]["orders_closed"], 0, "{x2}");
    assert_eq!(
        x2["summary"]["refunds"],
        json!([{"tender": "cash", "count": 1, "amount_minor": 5_000}])
    );
    assert_eq!(x2["summary"]["net_takings_minor"], -5_000);
    let (status, z2) = edge
        .call_as(&office, "POST", "/v1/reports/day/close", None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{z2}");
    assert_eq!(z2["z_number"], 2);

    // Z reports are kept as closed: day 1 is unchanged by day 2's refund.
    let (status, again) = edge.call_as(&office, "GET", "/v1/reports/z/1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, z1);
    let (_, list) = edge.call_as(&office, "GET", "/v1/reports/z", None).await;
    let numbers: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["z_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    for path in ["/v1/reports/z/99", "/v1/reports/z/not-a-number"] {
        let (status, error) = edge.call_as(&office, "GET", path, None).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("z_report_not_found")),
            "{path}"
        );
    }
}
