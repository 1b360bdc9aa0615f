//! Downstream: a 20,000-item catalog uploaded at the hub reaches a freshly enrolled edge over
//! the outlet feed. Prints the time from the edge's first connection to its cursor reaching the
//! feed head, and the bytes of the feed frames.
//!
//! `cargo bench -p kibanda-benches --bench downstream` (`KIBANDA_BENCH_ITEMS` to change N).
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::{RunningHub, TestDb, dev_token, runtime, tenant_with_outlet};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync_protocol::Message;
use sync_protocol::feed::{FEED_BATCH_MAX, FeedEntry};

fn main() {
    let items: usize = std::env::var("KIBANDA_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "bench", "outlet-1"));
    let token = driver.block_on(dev_token(&pool, "bench", "service"));
    let uploaded = Instant::now();
    driver.block_on(async {
        let client = reqwest::Client::new();
        let url = hub.url("/v1/bench/pos/outlets/outlet-1/catalog/items");
        for page in (0..items).collect::<Vec<_>>().chunks(1_000) {
            let body: Vec<_> = page
                .iter()
                .map(|n| {
                    json!({"id": format!("sku-{n:06}"), "name": format!("Grocery item number {n}"), "category": "grocery",
                           "price_minor": 5_000 + *n as i64, "tax_mode": "inclusive",
                           "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]})
                })
                .collect();
            let response = client.put(&url).bearer_auth(&token).json(&json!({"items": body})).send().await.unwrap();
            assert!(response.status().is_success());
        }
    });
    println!(
        "uploaded {items} items through the API in {:?}",
        uploaded.elapsed()
    );

    // What the feed frames weigh on the wire.
    let bytes: usize = driver.block_on(async {
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, body FROM outlet_feed ORDER BY seq")
                .fetch_all(&pool)
                .await
                .unwrap();
        rows.chunks(FEED_BATCH_MAX)
            .map(|chunk| {
                let entries = chunk
                    .iter()
                    .map(|(seq, body)| FeedEntry {
                        seq: *seq as u64,
                        body: body.clone(),
                    })
                    .collect();
                sync_protocol::encode_frame(&Message::FeedBatch { entries })
                    .unwrap()
                    .len()
            })
            .sum()
    });

    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let started = Instant::now();
    driver.spawn(edge_node::sync::run(
        store.clone(),
        Arc::new(edge_node::sync::SyncState::default()),
        1_000,
    ));
    while store.feed_through_seq().unwrap() < items as u64 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    assert_eq!(store.catalog_items().unwrap().len(), items);
    println!(
        "downstream: {items} catalog items reached a fresh edge in {:.3} s ({:.0} items/s), {} feed bytes ({:.0} bytes/item) in {} frames",
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64(),
        bytes,
        bytes as f64 / items as f64,
        items.div_ceil(FEED_BATCH_MAX)
    );
    hub.kill();
}
