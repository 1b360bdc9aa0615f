//! Edge facts reach the hub: paired devices, staff sessions, kitchen sends and the audit trail
//! of a void after send arrive as ops beside the sale, and the hub keeps them without mistaking
//! them for order anomalies.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::json;
use std::sync::Arc;

#[test]
fn devices_staff_kitchen_and_audit_ops_sync_to_the_hub_without_anomalies() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let manager =
        edge_node::services::staff::create_staff(&store, "Mama Njeri", "manager", "4321", 1)
            .unwrap();
    drop(store);
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    driver.block_on(async {
        let (status, _) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "4321"}),
            )
            .await;
        assert_eq!(status, 201);
        let (_, order) = terminal
            .post("/v1/orders", json!({"type": "dine_in"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        terminal
            .post(
                &format!("/v1/orders/{id}/lines"),
                json!({"item_id": "sku-samosa", "quantity": 2}),
            )
            .await;
        let (status, _) = terminal
            .post(&format!("/v1/orders/{id}/send"), json!({}))
            .await;
        assert_eq!(status, 201);
        let (status, voided) = terminal
            .post(
                &format!("/v1/orders/{id}/void"),
                json!({"reason": "walked out"}),
            )
            .await;
        assert_eq!(status, 200, "{voided}");
        // A second order goes through the kitchen: every ticket bumped makes it ready, and the
        // hub raises `pos.order.ready` for the notifications service, once.
        let (_, ready_order) = terminal
            .post("/v1/orders", json!({"type": "take_out"}))
            .await;
        let ready_id = ready_order["id"].as_str().unwrap().to_owned();
        terminal
            .post(
                &format!("/v1/orders/{ready_id}/lines"),
                json!({"item_id": "sku-samosa", "quantity": 1}),
            )
            .await;
        let (status, sent) = terminal
            .post(&format!("/v1/orders/{ready_id}/send"), json!({}))
            .await;
        assert_eq!(status, 201, "{sent}");
        for ticket in sent["tickets"].as_array().unwrap() {
            let (status, bumped) = terminal
                .post(
                    &format!(
                        "/v1/kitchen/tickets/{}/actions",
                        ticket["id"].as_str().unwrap()
                    ),
                    json!({"action": "bump"}),
                )
                .await;
            assert_eq!(status, 200, "{bumped}");
        }
        eventually(std::time::Duration::from_secs(30), "sync", || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (status["ops_pending"] == 0 && status["connected"] == true).then_some(())
        })
        .await;

        let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM ops ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
        for kind in [
            "device",
            "staff",
            "order.opened",
            "kitchen",
            "order.voided",
            "audit",
        ] {
            assert!(kinds.iter().any(|k| k == kind), "no {kind} op in {kinds:?}");
        }
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(anomalies, 0, "edge facts are not order anomalies");
        let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(state, "voided");
        let ready: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT payload FROM outbox WHERE event_type = 'pos.order.ready'")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(ready.len(), 1, "{ready:?}");
        assert_eq!(ready[0]["data"]["order_id"], ready_id.as_str());
        assert_eq!(ready[0]["outlet"].as_str().map(str::is_empty), Some(false));
    });
}
