//! The completeness endpoint: the hub proves, per device, that it holds every op through N
//! with an intact hash chain, and says exactly where a tampered log breaks.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::Value;
use std::sync::Arc;

#[test]
fn the_hub_proves_each_devices_log_complete_and_finds_tampering() {
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
    drop(store);
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "acme", "auditor"));
    driver.block_on(async {
        for _ in 0..5 {
            terminal.sell(&[("sku-chai", 1), ("sku-samosa", 2)]).await;
        }
        let last_seq = eventually(std::time::Duration::from_secs(30), "sync", || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (status["ops_pending"] == 0 && status["connected"] == true)
                .then(|| status["last_seq"].as_u64().unwrap())
        })
        .await;
        let get = |path: String| {
            let client = client.clone();
            let jwt = jwt.clone();
            let url = hub.url(&path);
            async move {
                let response = client.get(url).bearer_auth(jwt).send().await.unwrap();
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                )
            }
        };
        let (status, devices) = get("/v1/acme/pos/sync/devices".into()).await;
        assert_eq!(status, 200);
        assert_eq!(devices.as_array().unwrap().len(), 1);
        assert_eq!(devices[0]["acked_through_seq"].as_u64().unwrap(), last_seq);
        // A trickle is projected with its ack: the hub's orders reflect every op.
        assert_eq!(
            devices[0]["projected_through_seq"].as_u64().unwrap(),
            last_seq
        );
        assert_eq!(devices[0]["projection_behind_ops"], 0);
        assert_eq!(devices[0]["outlet"], "nbo-cbd");
        let device = devices[0]["device_id"].as_str().unwrap().to_owned();

        let (status, audit) = get(format!("/v1/acme/pos/sync/devices/{device}/chain")).await;
        assert_eq!(status, 200);
        assert_eq!(audit["chain_intact"], true);
        assert_eq!(audit["complete_through_seq"].as_u64().unwrap(), last_seq);

        // Someone edits a stored sale in the database: the audit names the op.
        sqlx::query("UPDATE ops SET body = body || '\\x00'::bytea WHERE seq = 7")
            .execute(&pool)
            .await
            .unwrap();
        let (_, audit) = get(format!("/v1/acme/pos/sync/devices/{device}/chain")).await;
        assert_eq!(audit["chain_intact"], false);
        assert_eq!(audit["first_break_seq"], 7);
        assert_eq!(audit["complete_through_seq"], 6);

        // A deleted op is a gap.
        sqlx::query("DELETE FROM ops WHERE seq = 3")
            .execute(&pool)
            .await
            .unwrap();
        let (_, audit) = get(format!("/v1/acme/pos/sync/devices/{device}/chain")).await;
        assert_eq!(audit["first_break_seq"], 3);

        // Another tenant's device does not exist for this token.
        let (status, _) = get(format!(
            "/v1/acme/pos/sync/devices/{}/chain",
            uuid::Uuid::now_v7()
        ))
        .await;
        assert_eq!(status, 404);
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}
