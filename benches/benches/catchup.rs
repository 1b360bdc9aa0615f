//! Catch-up after days offline: an edge holding N un-synced ops (default 100,000, a busy
//! outlet's several days) reaches the hub over real QUIC on loopback into real PostgreSQL.
//! Prints the time until every op is acknowledged and the ops/second.
//!
//! `cargo bench -p kibanda-benches --bench catchup` (`KIBANDA_BENCH_OPS` to change N).
#![allow(clippy::unwrap_used)]

use edge_node::services::orders::OrderService;
use edge_node::store::Store;
use kibanda_tests::{RunningHub, TestDb, runtime, tenant_with_outlet};
use shared_model::{Currency, OrderType, Tender};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let target_ops: u64 = std::env::var("KIBANDA_BENCH_OPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "bench", "outlet-1"));
    let data = tempfile::tempdir().unwrap();
    let store_path = data.path().join(edge_node::config::STORE_FILE);
    // `KIBANDA_BENCH_CACHE_DIR`: keep the prepared backlog there and reuse it on later runs
    // (preparing 100,000 ops through the order service takes about half a minute).
    let cached = std::env::var_os("KIBANDA_BENCH_CACHE_DIR")
        .map(|dir| std::path::PathBuf::from(dir).join(format!("catchup-{target_ops}.sqlite")));
    match &cached {
        Some(cached) if cached.exists() => {
            std::fs::copy(cached, &store_path).unwrap();
            println!("reused the prepared backlog in {}", cached.display());
        }
        _ => {
            prepare(&driver, &store_path, target_ops);
            if let Some(cached) = &cached {
                std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
                std::fs::copy(&store_path, cached).unwrap();
            }
        }
    }
    let store = Arc::new(Store::open(&store_path).unwrap());
    let outbox = store.outbox_status().unwrap();

    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let state = Arc::new(edge_node::sync::SyncState::default());
    let started = Instant::now();
    driver.spawn(edge_node::sync::run(store.clone(), state, 1_000));
    loop {
        let status = store.outbox_status().unwrap();
        if status.acked_through_seq >= outbox.last_seq {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    // The hub projects a backlog after acknowledging it (`store::ingest::projection`): wait
    // until every order and event of it exists too.
    loop {
        let (devices, _) = driver
            .block_on(cloud_hub::store::ingest::projection::lag(&pool))
            .unwrap();
        if devices == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let projected = started.elapsed();
    let held: i64 = driver
        .block_on(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ops").fetch_one(&pool))
        .unwrap();
    assert_eq!(held as u64, outbox.last_seq);
    let orders: i64 = driver
        .block_on(
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders WHERE state = 'closed'")
                .fetch_one(&pool),
        )
        .unwrap();
    assert_eq!(
        orders as u64,
        outbox.last_seq / 4,
        "every sale projected once"
    );
    println!(
        "catch-up: {} ops acknowledged in {:.3} s = {:.0} ops/s (real QUIC on loopback, real PostgreSQL)",
        outbox.last_seq,
        elapsed.as_secs_f64(),
        outbox.last_seq as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "projected: {} orders and their events in {:.3} s from the start = {:.0} ops/s",
        orders,
        projected.as_secs_f64(),
        outbox.last_seq as f64 / projected.as_secs_f64(),
    );
    hub.kill();
}

/// Sells offline through the edge's order service until the outbox holds `target_ops` ops (4
/// per sale), then closes the store (its WAL checkpointed into the file).
fn prepare(driver: &tokio::runtime::Runtime, store_path: &std::path::Path, target_ops: u64) {
    let store = Arc::new(Store::open(store_path).unwrap());
    edge_node::services::catalog::seed_demo_if_empty(&store).unwrap();
    let prepared = Instant::now();
    driver.block_on(async {
        let orders = OrderService::new(store.clone(), Currency::kes());
        let mut ops = 0;
        let mut now = 1_700_000_000_000_i64;
        while ops < target_ops {
            let order = orders.open(OrderType::TakeOut, now).await.unwrap();
            let order = orders
                .add_line(
                    edge_node::services::staff::Caller::unattended_terminal(),
                    order.id,
                    edge_node::services::orders::LineInput::units("sku-chai", 2),
                    None,
                    now,
                )
                .await
                .unwrap();
            let total = order.totals().total_minor;
            orders
                .take_payment(order.id, Tender::Cash, total, now)
                .await
                .unwrap();
            orders.close(order.id, now).await.unwrap();
            ops += 4;
            now += 1_000;
        }
    });
    println!(
        "prepared {} offline ops in {:?}",
        store.outbox_status().unwrap().last_seq,
        prepared.elapsed()
    );
}
