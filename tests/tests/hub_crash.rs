//! kill -9 loop with the real hub process during batch ingest: an edge streams a backlog while
//! the hub is killed at random moments (storing batches, or projecting them after the ack) and
//! restarted; at the end every op is at the hub exactly once, projected exactly once, and every
//! order's totals match the edge.
//!
//! `KIBANDA_HUB_CRASH_ITERATIONS` runs more crashes by hand.
#![allow(clippy::unwrap_used)]

use edge_node::services::orders::OrderService;
use edge_node::store::Store;
use kibanda_tests::*;
use shared_model::{Currency, OrderType, Tender};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITERATIONS_DEFAULT: u64 = 25;

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The last lines the hub processes wrote (their errors), for a failure message.
fn log_tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Starts the hub on fresh ports and waits until it answers `/readyz`. A hub that exits
/// before that (a port taken by someone else meanwhile) is started again on other ports.
fn start_ready_hub(
    driver: &tokio::runtime::Runtime,
    database_url: &str,
    log: &std::path::Path,
) -> (Child, u16, u16) {
    for attempt in 1..=3 {
        let (http_port, quic_port) = (free_tcp_port(), free_port());
        let mut hub = start_hub(database_url, http_port, quic_port, log);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = driver.block_on(async {
                reqwest::get(format!("http://127.0.0.1:{http_port}/readyz"))
                    .await
                    .is_ok_and(|response| response.status().is_success())
            });
            if ready {
                return (hub, http_port, quic_port);
            }
            if let Some(status) = hub.try_wait().unwrap() {
                eprintln!(
                    "hub exited ({status}) on attempt {attempt}:\n{}",
                    log_tail(log)
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "hub did not start in 60 s:\n{}",
                log_tail(log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("hub did not start in three attempts:\n{}", log_tail(log));
}

fn start_hub(database_url: &str, http_port: u16, quic_port: u16, log: &std::path::Path) -> Child {
    let stderr = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_hub-under-test"))
        .args([
            "run",
            "--http",
            &format!("127.0.0.1:{http_port}"),
            "--quic",
            &format!("127.0.0.1:{quic_port}"),
        ])
        .env("DATABASE_URL", database_url)
        .env("KIBANDA_LOG", "error")
        .stdout(stderr.try_clone().unwrap())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

async fn sell_offline(orders: &OrderService, count: usize, now: &mut i64) {
    for _ in 0..count {
        let order = orders.open(OrderType::TakeOut, *now).await.unwrap();
        let order = orders
            .add_line(
                edge_node::services::staff::Caller::unattended_terminal(),
                order.id,
                edge_node::services::orders::LineInput::units("sku-samosa", 3),
                None,
                *now,
            )
            .await
            .unwrap();
        let total = order.totals().total_minor;
        orders
            .take_payment(order.id, Tender::Mpesa, total, *now)
            .await
            .unwrap();
        orders.close(order.id, *now).await.unwrap();
        *now += 1_000;
    }
}

#[test]
fn killing_the_hub_during_ingest_never_loses_or_doubles_an_op() {
    let iterations: u64 = std::env::var("KIBANDA_HUB_CRASH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ITERATIONS_DEFAULT);
    let driver = runtime();
    let db = TestDb::create(&driver);
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("hub.log");

    // Enroll against a first, cleanly started hub.
    let (mut hub, http_port, quic_port) = start_ready_hub(&driver, &db.url, &log);
    let quic = format!("127.0.0.1:{quic_port}");
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    edge_node::services::catalog::seed_demo_if_empty(&store).unwrap();
    driver
        .block_on(edge_node::enroll::enroll(store.clone(), &quic, &code))
        .unwrap();
    hub.kill().unwrap();
    hub.wait().unwrap();

    let orders = OrderService::new(store.clone(), Currency::kes());
    let mut now = 1_700_000_000_000_i64;
    driver.block_on(sell_offline(&orders, 1_500, &mut now));
    driver.spawn(edge_node::sync::run(
        store.clone(),
        Arc::new(edge_node::sync::SyncState::default()),
        200,
    ));

    let mut seed: u64 = 0xDEAD_BEEF;
    for _ in 0..iterations {
        let mut hub = start_hub(&db.url, http_port, quic_port, &log);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(100 + (seed >> 33) % 400));
        hub.kill().unwrap(); // SIGKILL, possibly inside a batch transaction
        hub.wait().unwrap();
        driver.block_on(sell_offline(&orders, 20, &mut now));
    }

    let mut hub = start_hub(&db.url, http_port, quic_port, &log);
    let last_seq = store.outbox_status().unwrap().last_seq;
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.outbox_status().unwrap().acked_through_seq < last_seq {
        assert!(
            Instant::now() < deadline,
            "the backlog never drained:\n{}",
            log_tail(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    driver.block_on(async {
        // A backlog is acknowledged once stored and projected right after (and a kill may have
        // left a projection half done: the projector resumes it from its cursor).
        let projected = Instant::now() + Duration::from_secs(60);
        while cloud_hub::store::ingest::projection::lag(&pool).await.unwrap().0 > 0 {
            assert!(Instant::now() < projected, "the projection never caught up:\n{}", log_tail(&log));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (ops, distinct): (i64, i64) = sqlx::query_as("SELECT count(*), count(DISTINCT seq) FROM ops")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((ops as u64, distinct as u64), (last_seq, last_seq), "every op once");
        let (orders_at_hub, closed, total): (i64, i64, Option<i64>) =
            sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE state = 'closed'), sum(total_minor)::bigint FROM orders")
                .fetch_one(&pool)
                .await
                .unwrap();
        let sold = 1_500 + 20 * iterations as i64;
        assert_eq!((orders_at_hub, closed), (sold, sold));
        assert_eq!(total, Some(sold * 3 * 8_000), "money at the hub equals money at the edge");
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool).await.unwrap();
        assert_eq!(anomalies, 0);
        println!("{iterations} hub kill -9s during ingest: {last_seq} ops, {sold} orders, exactly once");
        pool.close().await;
    });
    hub.kill().unwrap();
    hub.wait().unwrap();
}
