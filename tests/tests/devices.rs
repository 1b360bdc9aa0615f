//! Revoking a device at the hub stops its certificate at once: the open sync connection is
//! closed and every new one is refused.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use sync_protocol::quic;
use sync_protocol::{Message, RejectCode};

#[test]
fn a_revoked_device_is_disconnected_and_refused() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    driver.block_on(tenant_with_outlet(&pool, "bravo", "msa-1"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let enrollment = store.enrollment().unwrap().unwrap();
    drop(store);
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    driver.block_on(async {
        let http = reqwest::Client::new();
        let terminal = Terminal {
            client: &http,
            edge: &edge,
        };
        terminal.sell(&[("sku-chai", 1)]).await;
        eventually(Duration::from_secs(30), "the edge to connect", || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (status["connected"] == true && status["ops_pending"] == 0).then_some(())
        })
        .await;

        let manager = dev_token(&pool, "acme", "manager").await;
        let cashier = dev_token(&pool, "acme", "cashier").await;
        let stranger = dev_token(&pool, "bravo", "admin").await;
        let devices: Value = http
            .get(hub.url("/v1/acme/pos/devices"))
            .bearer_auth(&manager)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(devices.as_array().unwrap().len(), 1);
        assert!(devices[0]["revoked_at"].is_null());
        assert!(devices[0]["last_seen_at"].is_string());
        let device = devices[0]["id"].as_str().unwrap().to_owned();
        let revoke = |tenant: &'static str, jwt: String| {
            let http = http.clone();
            let url = hub.url(&format!("/v1/{tenant}/pos/devices/{device}/revoke"));
            async move {
                http.post(url)
                    .bearer_auth(jwt)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(revoke("acme", cashier).await, 403);
        assert_eq!(revoke("bravo", stranger).await, 404);
        assert_eq!(revoke("acme", manager.clone()).await, 204);

        // The live connection is closed and the edge reports why.
        eventually(
            Duration::from_secs(30),
            "the edge to be cut off",
            || async {
                let (_, status) = terminal.get("/v1/sync/status").await;
                let revoked = status["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("device_revoked"));
                (status["connected"] == false && revoked).then_some(())
            },
        )
        .await;

        // A new connection with the same certificate is refused.
        let (endpoint, connection) = raw_sync_connection(&enrollment, &hub).await;
        let (mut writer, mut reader) = quic::open_framed(&connection).await.unwrap();
        writer
            .send(&Message::Hello {
                software: "test".into(),
            })
            .await
            .unwrap();
        match reader.recv().await.unwrap() {
            Some(Message::Reject { code, .. }) => assert_eq!(code, RejectCode::DeviceRevoked),
            other => panic!("expected a refusal, got {other:?}"),
        }
        connection.close(0_u32.into(), b"");
        endpoint.wait_idle().await;

        let events: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM security_events WHERE kind = 'device_revoked'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(events, 1);
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}
