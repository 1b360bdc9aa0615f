//! The hub's read API under load, and its outbox throughput.
//!
//! Seeds one tenant with N closed orders (default 20,000) through the real ingest path (group
//! commit; each order also leaves `pos.order.created` and `pos.order.closed` in the outbox),
//! then starts a hub with NATS JetStream (127.0.0.1:4222, or `KIBANDA_TEST_NATS_URL`) and
//! measures:
//! - outbox throughput: time until the dispatcher has published every seeded event;
//! - read API: C concurrent clients (default 32) for S seconds (default 10), each request
//!   either a page of `GET /v1/{tenant}/pos/orders?limit=50` (following `next_cursor` up to
//!   three pages) or `GET /v1/{tenant}/pos/orders/{id}`; requests/second and latency.
//!
//! `cargo bench -p kibanda-benches --bench hub_read`; tune with `KIBANDA_BENCH_ORDERS`,
//! `KIBANDA_BENCH_CLIENTS`, `KIBANDA_BENCH_SECONDS`.
#![allow(clippy::unwrap_used)]

use cloud_hub::store::TenantId;
use cloud_hub::store::devices::DeviceIdentity;
use cloud_hub::store::ingest::ingest_group;
use kibanda_tests::{RunningHub, TestDb, dev_token, runtime, tenant_with_outlet, wire_sale};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync_protocol::op::GENESIS_HASH;
use uuid::Uuid;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let orders = env("KIBANDA_BENCH_ORDERS", 20_000);
    let clients = env("KIBANDA_BENCH_CLIENTS", 32);
    let seconds = env("KIBANDA_BENCH_SECONDS", 10);
    let driver = runtime();
    let db = TestDb::create(&driver);

    // Seed through the ingest path, before any hub runs, so the outbox waits full.
    let seeded = driver.block_on(async {
        let pool = cloud_hub::store::connect(&db.url, 4).await.unwrap();
        tenant_with_outlet(&pool, "soko", "mall").await;
        let (tenant, outlet): (Uuid, Uuid) = sqlx::query_as(
            "SELECT t.id, o.id FROM tenants t JOIN outlets o ON o.tenant_id = t.id WHERE t.slug = 'soko'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let device = Uuid::now_v7();
        sqlx::query("INSERT INTO devices (tenant_id, id, outlet_id, kind, cert_fingerprint) VALUES ($1, $2, $3, 'edge', $4)")
            .bind(tenant).bind(device).bind(outlet).bind(device.as_bytes().to_vec())
            .execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO sync_cursors (tenant_id, device_id, acked_through_seq, acked_hash) VALUES ($1, $2, 0, $3)")
            .bind(tenant).bind(device).bind(GENESIS_HASH.to_vec())
            .execute(&pool).await.unwrap();
        let identity = DeviceIdentity { tenant_id: TenantId(tenant), id: device, outlet_id: outlet, revoked: false };
        let (mut seq, mut hash) = (1, GENESIS_HASH);
        let started = Instant::now();
        let mut sold = 0;
        while sold < orders {
            let mut ops = Vec::new();
            for _ in 0..250.min(orders - sold) {
                ops.extend(wire_sale(*device.as_bytes(), &mut seq, &mut hash, 1_790_000_000_000 + sold as i64));
                sold += 1;
            }
            let results = ingest_group(&pool, &[(&identity, &ops)]).await.unwrap();
            assert!(results[0].is_ok());
        }
        let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&pool).await.unwrap();
        println!("seeded {orders} orders ({} ops, {outbox} outbox events) in {:?}", (seq - 1), started.elapsed());
        outbox
    });

    let nats_url =
        std::env::var("KIBANDA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let started = Instant::now();
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.events.nats_url = Some(nats_url.clone());
        config.db_connections_max = 16;
        config.rate_limit_per_sec = 1_000_000;
        config.rate_limit_burst = 1_000_000;
        config.device_rate_limit_per_sec = 1_000_000;
        config.device_rate_limit_burst = 1_000_000;
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        loop {
            let waiting: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            if waiting == 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                println!("outbox: {waiting} events still unpublished after 300 s");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let drained = started.elapsed();
    println!(
        "outbox: {seeded} events published to JetStream in {:.2} s ({:.0} events/s, hub start included)",
        drained.as_secs_f64(),
        seeded as f64 / drained.as_secs_f64()
    );

    let jwt = driver.block_on(dev_token(&pool, "soko", "analyst"));
    let ids: Arc<Vec<Uuid>> = Arc::new(driver.block_on(async {
        sqlx::query_scalar("SELECT id FROM orders LIMIT 5000")
            .fetch_all(&pool)
            .await
            .unwrap()
    }));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let base = hub.url("/v1/soko/pos/orders");
    let results: Vec<(Vec<Duration>, u64)> = driver.block_on(async {
        let mut tasks = Vec::new();
        for worker in 0..clients {
            let (client, jwt, ids, base) = (client.clone(), jwt.clone(), ids.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut n: u64 = worker;
                while Instant::now() < deadline {
                    n = n
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    if n % 10 < 4 {
                        let mut url = format!("{base}?limit=50");
                        for _ in 0..3 {
                            let started = Instant::now();
                            let response = client.get(&url).bearer_auth(&jwt).send().await;
                            let page: Option<serde_json::Value> = match response {
                                Ok(response) if response.status().is_success() => {
                                    response.json().await.ok()
                                }
                                _ => None,
                            };
                            latencies.push(started.elapsed());
                            let Some(page) = page else {
                                errors += 1;
                                break;
                            };
                            match page["next_cursor"].as_str() {
                                Some(cursor) => url = format!("{base}?limit=50&cursor={cursor}"),
                                None => break,
                            }
                        }
                    } else {
                        let id = ids[(n >> 8) as usize % ids.len()];
                        let started = Instant::now();
                        let ok = client
                            .get(format!("{base}/{id}"))
                            .bearer_auth(&jwt)
                            .send()
                            .await
                            .is_ok_and(|response| response.status().is_success());
                        latencies.push(started.elapsed());
                        if !ok {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    let errors: u64 = results.iter().map(|(_, e)| e).sum();
    let mut latencies: Vec<Duration> = results.into_iter().flat_map(|(l, _)| l).collect();
    latencies.sort_unstable();
    println!(
        "read API: {clients} clients for {seconds} s over {orders} orders -> {} requests, {:.0} req/s, {errors} errors; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    hub.kill();
}
