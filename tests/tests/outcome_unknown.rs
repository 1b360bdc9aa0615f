//! A hub that commits a batch and then never answers: the edge's sent ops are in an explicit
//! "outcome unknown" state, reconciled by reconnecting (the hub's Welcome says how far it got),
//! never by re-sending blindly forever and never by applying twice.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[test]
fn unanswered_ops_are_reconciled_by_reconnecting_not_resent_blindly() {
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
    drop(store);
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    driver.block_on(async {
        let http = reqwest::Client::new();
        let terminal = Terminal {
            client: &http,
            edge: &edge,
        };
        let synced = || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (status["connected"] == true && status["ops_pending"] == 0)
                .then(|| status["last_seq"].as_u64().unwrap())
        };
        terminal.sell(&[("sku-chai", 1)]).await;
        eventually(Duration::from_secs(30), "the first sale at the hub", synced).await;

        // The hub now commits every batch but never acks it.
        hub.faults.stall_acks.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            terminal.sell(&[("sku-espresso", 2)]).await;
        }
        // Only a reconnect can tell the edge that these were committed (its ack timeout in the
        // test harness is 2 s); the hub's Welcome does, with acks still withheld.
        let last_seq = eventually(
            Duration::from_secs(30),
            "reconciliation through a new Welcome",
            synced,
        )
        .await;
        let (ops, distinct): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT seq) FROM ops")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            (ops as u64, distinct as u64),
            (last_seq, last_seq),
            "nothing applied twice, nothing missing"
        );
        let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(orders, 4);
        hub.faults.stall_acks.store(false, Ordering::SeqCst);
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}
