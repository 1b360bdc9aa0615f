//! Load on one edge: terminals run the whole 5-line cash sale (open, 5 lines, pay, close:
//! 8 requests) against the real LAN API over HTTP on loopback, at a series of offered rates
//! (open loop: a new order starts every 1/rate seconds whatever the edge is doing). Every answer
//! is durable before it is sent (SQLite WAL and group commit: an fsync started after the change). Prints achieved orders/s and
//! p50/p99 latency per order and per request, up to saturation.
//!
//! `cargo bench -p kibanda-benches --bench edge_load` (`KIBANDA_BENCH_RATES=100,300,600`,
//! `KIBANDA_BENCH_SECONDS` per step).
#![allow(clippy::unwrap_used)]

use edge_node::config::EdgeConfig;
use edge_node::startup::App;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Orders in flight at once at most; beyond it the step is saturated and new orders wait.
const IN_FLIGHT_ORDERS_MAX: usize = 512;

async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
    latencies: &Mutex<Vec<u64>>,
) -> Value {
    let started = Instant::now();
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let value = response.json().await.unwrap();
    latencies
        .lock()
        .unwrap()
        .push(started.elapsed().as_micros() as u64);
    value
}

async fn sale(client: &reqwest::Client, base: &str, token: &str, requests: &Mutex<Vec<u64>>) {
    let order = post(
        client,
        base,
        token,
        "/v1/orders",
        json!({"type": "take_out"}),
        requests,
    )
    .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let mut total = 0;
    for item in [
        "sku-espresso",
        "sku-chai",
        "sku-mandazi",
        "sku-samosa",
        "sku-water",
    ] {
        let order = post(
            client,
            base,
            token,
            &format!("/v1/orders/{id}/lines"),
            json!({"item_id": item, "quantity": 1}),
            requests,
        )
        .await;
        total = order["total_minor"].as_i64().unwrap();
    }
    post(
        client,
        base,
        token,
        &format!("/v1/orders/{id}/payments"),
        json!({"tender": "cash", "amount_minor": total + 10_000}),
        requests,
    )
    .await;
    post(
        client,
        base,
        token,
        &format!("/v1/orders/{id}/close"),
        json!({}),
        requests,
    )
    .await;
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() {
    let rates: Vec<u64> = std::env::var("KIBANDA_BENCH_RATES")
        .unwrap_or_else(|_| "50,100,200,300,400,600,800".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("KIBANDA_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let server = kibanda_tests::runtime();
    let data = tempfile::tempdir().unwrap();
    let app = server
        .block_on(App::build(EdgeConfig {
            data_dir: data.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            reconnect_backoff_max_ms: 5_000,
            ack_timeout_ms: edge_node::sync::ACK_TIMEOUT_MS,
            staff_idle_timeout_ms: edge_node::services::staff::SESSION_IDLE_TIMEOUT_MS_DEFAULT,
            mdns: false,
        }))
        .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (_, token) = edge_node::services::devices::pair(&app.state.store, "load-1", 0).unwrap();
    server.spawn(app.run());

    // The terminals run on their own runtime: one core's worth of client beside the edge.
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "offered orders/s | achieved orders/s | order p50 ms | order p99 ms | request p50 ms | request p99 ms"
    );
    for rate in rates {
        let (achieved, mut orders, mut requests) = clients.block_on(async {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(IN_FLIGHT_ORDERS_MAX)
                .build()
                .unwrap();
            let order_latencies = Arc::new(Mutex::new(Vec::new()));
            let request_latencies = Arc::new(Mutex::new(Vec::new()));
            let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT_ORDERS_MAX));
            let mut ticker =
                tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
            let started = Instant::now();
            let deadline = started + Duration::from_secs(seconds);
            let mut tasks = Vec::new();
            while Instant::now() < deadline {
                ticker.tick().await;
                let permit = slots.clone().acquire_owned().await.unwrap();
                let (client, base, token) = (client.clone(), base.clone(), token.clone());
                let (orders, requests) = (order_latencies.clone(), request_latencies.clone());
                tasks.push(tokio::spawn(async move {
                    let begun = Instant::now();
                    sale(&client, &base, &token, &requests).await;
                    orders
                        .lock()
                        .unwrap()
                        .push(begun.elapsed().as_micros() as u64);
                    drop(permit);
                }));
            }
            let count = tasks.len();
            for task in tasks {
                task.await.unwrap();
            }
            let achieved = count as f64 / started.elapsed().as_secs_f64();
            let orders = order_latencies.lock().unwrap().clone();
            let requests = request_latencies.lock().unwrap().clone();
            (achieved, orders, requests)
        });
        orders.sort_unstable();
        requests.sort_unstable();
        println!(
            "{rate:>16} | {achieved:>17.0} | {:>12.1} | {:>12.1} | {:>14.2} | {:>14.2}",
            percentile(&orders, 0.50),
            percentile(&orders, 0.99),
            percentile(&requests, 0.50),
            percentile(&requests, 0.99)
        );
    }
}
