//! A drawer closed at the edge becomes the business's events at the hub: the hub rebuilds the
//! session from its ops with the same rules, and raises `pos.cashdrawer.closed` and, for a
//! variance past the threshold, `pos.cash_exception`.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_short_drawer_at_the_edge_raises_a_cash_exception_at_the_hub() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let cashier = edge_node::services::staff::create_staff(
        &store,
        "Achieng",
        "cashier",
        "1234",
        edge_node::now_ms(),
    )
    .unwrap();
    drop(store);
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    driver.block_on(async {
        let http = reqwest::Client::new();
        let terminal = Terminal { client: &http, edge: &edge };
        let (status, session) = terminal
            .post("/v1/staff/sessions", json!({"staff_id": cashier.id.to_string(), "pin": "1234"}))
            .await;
        assert_eq!(status, 201, "{session}");
        let (status, _) = terminal.post("/v1/drawer", json!({"float_minor": 100_000})).await;
        assert_eq!(status, 201);
        let sold = terminal.sell(&[("sku-cappuccino", 2)]).await;
        let expected_cash = 100_000 + sold["total_minor"].as_i64().unwrap();
        // 600.00 short: past the 500.00 threshold.
        let (status, _) = terminal
            .post("/v1/drawer/count", json!({"counts": [{"tender": "cash", "counted_minor": expected_cash - 60_000}]}))
            .await;
        assert_eq!(status, 200);
        let (status, z) = terminal.post("/v1/drawer/close", json!({})).await;
        assert_eq!(status, 200, "{z}");

        let events: Vec<(String, Value)> = eventually(Duration::from_secs(30), "drawer events at the hub", || async {
            let rows: Vec<(String, Value)> = sqlx::query_as(
                "SELECT event_type, payload FROM outbox WHERE event_type IN ('pos.cashdrawer.closed', 'pos.cash_exception')
                 ORDER BY seq",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            (rows.len() == 2).then_some(rows)
        })
        .await;
        assert_eq!(events[0].0, "pos.cashdrawer.closed");
        assert_eq!(events[0].1["data"]["z_number"], 1);
        assert_eq!(events[0].1["outlet"], "nbo-cbd");
        assert_eq!(events[1].0, "pos.cash_exception");
        assert_eq!(events[1].1["data"]["tender"], "cash");
        assert_eq!(events[1].1["data"]["variance_minor"], -60_000);
        let (state, z_number): (String, Option<i64>) = sqlx::query_as("SELECT state, z_number FROM drawer_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((state.as_str(), z_number), ("closed", Some(1)));
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool).await.unwrap();
        assert_eq!(anomalies, 0);

        // The outlet's manager tightens the threshold to 10.00 at the hub: a drawer 20.00 short
        // is now an exception (it was not under the default), one 5.00 short is not.
        let jwt = dev_token(&pool, "acme", "manager").await;
        let response = http
            .put(hub.url("/v1/acme/pos/outlets/nbo-cbd/config"))
            .bearer_auth(&jwt)
            .json(&json!({"timezone": "Africa/Nairobi", "utc_offset_minutes": 180, "cash_exception_threshold_minor": 1_000}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let bad = http
            .put(hub.url("/v1/acme/pos/outlets/nbo-cbd/config"))
            .bearer_auth(&jwt)
            .json(&json!({"timezone": "Africa/Nairobi", "utc_offset_minutes": 180, "cash_exception_threshold_minor": -1}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 400);
        for short_minor in [2_000, 500] {
            let (status, _) = terminal.post("/v1/drawer", json!({"float_minor": 100_000})).await;
            assert_eq!(status, 201);
            let (status, _) = terminal
                .post("/v1/drawer/count", json!({"counts": [{"tender": "cash", "counted_minor": 100_000 - short_minor}]}))
                .await;
            assert_eq!(status, 200);
            let (status, _) = terminal.post("/v1/drawer/close", json!({})).await;
            assert_eq!(status, 200);
        }
        let events: Vec<(String, Value)> = eventually(Duration::from_secs(30), "both drawers at the hub", || async {
            let rows: Vec<(String, Value)> = sqlx::query_as(
                "SELECT event_type, payload FROM outbox WHERE event_type IN ('pos.cashdrawer.closed', 'pos.cash_exception')
                 ORDER BY seq",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            (rows.iter().filter(|(kind, _)| kind == "pos.cashdrawer.closed").count() == 3).then_some(rows)
        })
        .await;
        let exceptions: Vec<i64> = events
            .iter()
            .filter(|(kind, _)| kind == "pos.cash_exception")
            .map(|(_, payload)| payload["data"]["variance_minor"].as_i64().unwrap())
            .collect();
        assert_eq!(exceptions, vec![-60_000, -2_000]);
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}
