//! End of day, edge and hub: an outlet sells, refunds and voids, closes its day with Z 1, then
//! trades a second day with the hub down and closes Z 2 offline. Both Z reports reach the hub,
//! which computes the same periods from its own copy of the orders and finds them equal to the
//! cent; each raises `pos.day.closed` once, and another tenant sees none of it.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

async fn sale(terminal: &Terminal<'_>, quantity: i64, tender: &str) -> String {
    let (status, order) = terminal
        .post("/v1/orders", json!({"type": "take_out"}))
        .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, order) = terminal
        .post(
            &format!("/v1/orders/{id}/lines"),
            json!({"item_id": "sku-chai", "quantity": quantity}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let total = order["total_minor"].as_i64().unwrap();
    let (status, paid) = terminal
        .post(
            &format!("/v1/orders/{id}/payments"),
            json!({"tender": tender, "amount_minor": total}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let (status, closed) = terminal
        .post(&format!("/v1/orders/{id}/close"), json!({}))
        .await;
    assert_eq!(status, 200, "{closed}");
    id
}

async fn close_day(terminal: &Terminal<'_>) -> Value {
    let (status, z) = terminal.post("/v1/reports/day/close", json!({})).await;
    assert_eq!(status, 201, "{z}");
    z
}

#[test]
fn each_z_report_reaches_the_hub_once_and_equals_the_hubs_own_figures() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let quic = hub.quic;
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    driver.block_on(tenant_with_outlet(&pool, "other", "elsewhere"));
    let store =
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
    edge_node::services::catalog::seed_demo_if_empty(&store).unwrap();
    let manager = edge_node::services::staff::create_staff(
        &store,
        "Wanjiru",
        "manager",
        "8642",
        edge_node::now_ms(),
    )
    .unwrap();
    drop(store);
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "duka", "manager"));
    let stranger = driver.block_on(dev_token(&pool, "other", "admin"));
    let reports_at = |hub: &RunningHub| hub.url("/v1/duka/pos/outlets/cbd/z-reports");

    let z1 = driver.block_on(async {
        let (status, session) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "8642"}),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        let cash = sale(&terminal, 2, "cash").await;
        sale(&terminal, 1, "card").await;
        z_refund_and_void(&terminal, &cash).await;
        close_day(&terminal).await
    });
    assert_eq!(z1["z_number"], 1);

    // Day 2 with the hub down, closed offline.
    hub.kill();
    let z2 = driver.block_on(async {
        sale(&terminal, 4, "cash").await;
        sale(&terminal, 1, "card").await;
        close_day(&terminal).await
    });
    assert_eq!(z2["z_number"], 2);
    assert_eq!(z2["from_ms"], z1["to_ms"]);

    let hub = RunningHub::start(&db.url, quic);
    driver.block_on(async {
        let reports = eventually(
            Duration::from_secs(30),
            "both Z reports reach the hub",
            || async {
                let (status, reports) = hub_request(
                    &client,
                    reqwest::Method::GET,
                    reports_at(&hub),
                    &jwt,
                    None,
                    None,
                )
                .await;
                (status == 200 && reports.as_array().is_some_and(|r| r.len() == 2))
                    .then_some(reports)
            },
        )
        .await;
        for (report, edge_z) in reports.as_array().unwrap().iter().zip([&z2, &z1]) {
            assert_eq!(report["z_number"], edge_z["z_number"]);
            assert_eq!(report["matches_hub"], true, "{report}");
            assert_eq!(report["hub_summary"], report["summary"]);
            assert_eq!(
                (report["from_ms"].clone(), report["to_ms"].clone()),
                (edge_z["from_ms"].clone(), edge_z["to_ms"].clone())
            );
            // The edge's figures, as the edge answered them.
            assert_eq!(
                report["summary"]["sales_total_minor"],
                edge_z["summary"]["sales_total_minor"]
            );
            assert_eq!(
                report["summary"]["net_takings_minor"],
                edge_z["summary"]["net_takings_minor"]
            );
            assert_eq!(
                report["summary"]["tax_minor"],
                edge_z["summary"]["tax_minor"]
            );
        }
        // Day 1: 2 + 1 chai sold and closed (450.00), 50.00 refunded, one order voided.
        let day1 = &reports[1]["summary"];
        assert_eq!(day1["orders_closed"], 2, "{day1}");
        assert_eq!(day1["sales_total_minor"], 45_000);
        assert_eq!(day1["net_takings_minor"], 40_000);
        assert_eq!(day1["voided_orders"], 1);
        let day2 = &reports[0]["summary"];
        assert_eq!(
            (
                day2["orders_closed"].as_i64(),
                day2["sales_total_minor"].as_i64()
            ),
            (Some(2), Some(75_000))
        );

        let (status, one) = hub_request(
            &client,
            reqwest::Method::GET,
            format!("{}/1", reports_at(&hub)),
            &jwt,
            None,
            None,
        )
        .await;
        assert_eq!((status, one["z_number"].as_i64()), (200, Some(1)), "{one}");
        let (status, _) = hub_request(
            &client,
            reqwest::Method::GET,
            format!("{}/3", reports_at(&hub)),
            &jwt,
            None,
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url("/v1/other/pos/outlets/cbd/z-reports"),
            &stranger,
            None,
            None,
        )
        .await;
        assert_eq!(
            status, 404,
            "another tenant does not see the outlet's reports"
        );

        let events: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'pos.day.closed'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(events, 2, "one event per Z report");
    });
}

/// Refunds 50.00 of `order` in cash and voids a fresh order.
async fn z_refund_and_void(terminal: &Terminal<'_>, order: &str) {
    let (status, refunded) = terminal
        .post(
            &format!("/v1/orders/{order}/refunds"),
            json!({"tender": "cash", "amount_minor": 5_000, "reason": "spilt"}),
        )
        .await;
    assert_eq!(status, 201, "{refunded}");
    let (_, open) = terminal
        .post("/v1/orders", json!({"type": "take_out"}))
        .await;
    let id = open["id"].as_str().unwrap();
    let (status, line) = terminal
        .post(
            &format!("/v1/orders/{id}/lines"),
            json!({"item_id": "sku-chai", "quantity": 1}),
        )
        .await;
    assert_eq!(status, 201, "{line}");
    let (status, voided) = terminal
        .post(
            &format!("/v1/orders/{id}/void"),
            json!({"reason": "customer left"}),
        )
        .await;
    assert_eq!(status, 200, "{voided}");
}
