//! Many edges into one hub: N simulated edges (default 1,000) hold real QUIC connections with
//! real device certificates to one hub process and push a steady trickle of sales (a full sale
//! — open, line, payment, close — per batch). Prints the sustained ops/second committed to
//! PostgreSQL and the time from an edge's send to the hub's ack (commit) at p50/p99.
//!
//! `cargo bench -p kibanda-benches --bench many_edges`; tune with `KIBANDA_BENCH_EDGES`,
//! `KIBANDA_BENCH_INTERVAL_MS` (between one edge's sales), `KIBANDA_BENCH_SECONDS`,
//! `KIBANDA_BENCH_WINDOW` (batches an edge may have unacknowledged; 1 by default, the real edge
//! allows 16).
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use futures_util::StreamExt;
use kibanda_tests::{RunningHub, TestDb, runtime, tenant_with_outlet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use sync_protocol::Message;
use sync_protocol::op::GENESIS_HASH;
use sync_protocol::quic::{self, HUB_SERVER_NAME};

/// Enrollments run at once (each is a QUIC handshake, a certificate and a few queries).
const ENROLL_CONCURRENCY: usize = 16;
/// QUIC handshakes in flight at once while the edges connect.
const HANDSHAKE_CONCURRENCY: usize = 64;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let edges = env("KIBANDA_BENCH_EDGES", 1_000);
    let interval_ms = env("KIBANDA_BENCH_INTERVAL_MS", 80);
    let seconds = env("KIBANDA_BENCH_SECONDS", 15);
    // Batches an edge may have in flight: 1 waits for each ack before the next sale (closed
    // loop); a real edge pipelines up to 16, so its sales go out on time whatever the ack
    // latency (open loop until its window fills).
    let window = env("KIBANDA_BENCH_WINDOW", 1).max(1) as usize;
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.db_connections_max = 32
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();

    // Enroll every simulated edge for real (one-time code, proof, device certificate).
    let enrolled = Instant::now();
    let dirs: Vec<tempfile::TempDir> = (0..edges).map(|_| tempfile::tempdir().unwrap()).collect();
    let identities = driver.block_on(async {
        let code = tenant_with_outlet(&pool, "bench", "outlet-0").await;
        let mut codes = vec![code];
        for index in 1..edges {
            let outlet = format!("outlet-{index}");
            cloud_hub::services::admin::create_outlet(
                &pool,
                "bench",
                &outlet,
                "Outlet",
                "Africa/Nairobi",
                "KES",
            )
            .await
            .unwrap();
            codes.push(
                cloud_hub::services::admin::create_enrollment_code(
                    &pool,
                    "bench",
                    &outlet,
                    time::Duration::minutes(30),
                )
                .await
                .unwrap()
                .0
                .display(),
            );
        }
        let hub_addr = hub.quic.to_string();
        futures_util::stream::iter(dirs.iter().zip(codes))
            .map(|(dir, code)| {
                let hub_addr = hub_addr.clone();
                async move {
                    let store = Arc::new(Store::open(&dir.path().join("edge.sqlite")).unwrap());
                    let enrollment = edge_node::enroll::enroll(store.clone(), &hub_addr, &code)
                        .await
                        .unwrap();
                    (*store.node_id().as_bytes(), enrollment)
                }
            })
            .buffer_unordered(ENROLL_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
    });
    println!("enrolled {edges} edges in {:?}", enrolled.elapsed());

    let acked_ops = Arc::new(AtomicU64::new(0));
    let latencies_us = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let connected = Arc::new(tokio::sync::Barrier::new(identities.len() + 1));
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKE_CONCURRENCY));
    let (started, elapsed) = driver.block_on(async {
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut tasks = Vec::new();
        let deadline = Arc::new(std::sync::OnceLock::<Instant>::new());
        for (index, (origin, enrollment)) in identities.into_iter().enumerate() {
            let endpoint = endpoint.clone();
            let acked_ops = acked_ops.clone();
            let latencies_us = latencies_us.clone();
            let connected = connected.clone();
            let handshakes = handshakes.clone();
            let deadline = deadline.clone();
            let hub_addr = hub.quic;
            tasks.push(tokio::spawn(async move {
                let config = quic::sync_client_config(
                    &enrollment.ca_cert_der,
                    enrollment.device_cert_der,
                    enrollment.device_key_pkcs8_der,
                )
                .unwrap();
                let permit = handshakes.acquire().await.unwrap();
                let connection = endpoint
                    .connect_with(config, hub_addr, HUB_SERVER_NAME)
                    .unwrap()
                    .await
                    .unwrap();
                let (mut writer, mut reader) = quic::open_framed(&connection).await.unwrap();
                writer
                    .send(&Message::Hello {
                        software: "bench".into(),
                    })
                    .await
                    .unwrap();
                assert!(matches!(
                    reader.recv().await.unwrap(),
                    Some(Message::Welcome { .. })
                ));
                drop(permit);
                // Everyone connected: the timed phase starts together.
                connected.wait().await;
                let deadline =
                    *deadline.get_or_init(|| Instant::now() + Duration::from_secs(seconds));
                // Spread the edges' ticks over the interval.
                tokio::time::sleep(Duration::from_millis(
                    index as u64 * interval_ms / edges.max(1),
                ))
                .await;
                let (mut next_seq, mut prev_hash) = (1_u64, GENESIS_HASH);
                let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
                // Batches sent but not yet acknowledged, oldest first (send time, ops); the
                // hub answers a connection's batches in order. A permit per batch in flight.
                let (sent_tx, mut sent_rx) =
                    tokio::sync::mpsc::unbounded_channel::<(Instant, u64)>();
                let window_permits = Arc::new(tokio::sync::Semaphore::new(window));
                let acks = {
                    let acked_ops = acked_ops.clone();
                    let window_permits = window_permits.clone();
                    tokio::spawn(async move {
                        let mut local = Vec::new();
                        while let Some((sent, count)) = sent_rx.recv().await {
                            match reader.recv().await.unwrap() {
                                Some(Message::Ack { .. }) => {}
                                other => panic!("expected an ack, got {other:?}"),
                            }
                            local.push(sent.elapsed().as_micros() as u64);
                            acked_ops.fetch_add(count, Ordering::Relaxed);
                            window_permits.add_permits(1);
                        }
                        local
                    })
                };
                while Instant::now() < deadline {
                    tick.tick().await;
                    window_permits.acquire().await.unwrap().forget();
                    let ops = kibanda_tests::wire_sale(
                        origin,
                        &mut next_seq,
                        &mut prev_hash,
                        edge_node::now_ms(),
                    );
                    sent_tx.send((Instant::now(), ops.len() as u64)).unwrap();
                    writer.send(&Message::OpsBatch { ops }).await.unwrap();
                }
                drop(sent_tx);
                let local = acks.await.unwrap();
                latencies_us.lock().unwrap().extend(local);
                connection.close(0_u32.into(), b"done");
            }));
        }
        let connecting = Instant::now();
        connected.wait().await;
        println!("{edges} edges connected in {:?}", connecting.elapsed());
        let started = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        (started, started.elapsed().as_secs_f64())
    });
    let _ = started;
    let total = acked_ops.load(Ordering::Relaxed);
    let mut latencies = latencies_us.lock().unwrap().clone();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let held: i64 = driver
        .block_on(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ops").fetch_one(&pool))
        .unwrap();
    assert_eq!(held as u64, total, "every acknowledged op is in PostgreSQL");
    println!(
        "many edges: {edges} edges, one sale (4 ops) per edge every {interval_ms} ms for {seconds} s, window {window} -> {total} ops committed, {:.0} ops/s; edge send -> hub commit ack p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        total as f64 / elapsed,
        percentile(0.50) as f64 / 1000.0,
        percentile(0.99) as f64 / 1000.0,
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    hub.kill();
}
