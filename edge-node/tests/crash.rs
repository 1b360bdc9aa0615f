//! kill -9 loop with the real `edge-node` process: terminals sell, the process is killed at
//! random moments, restarted on the same SQLite file, and after hundreds of crashes every sale
//! step a terminal was told "ok" is present, no order is half-written, the outbox has no gap,
//! its hash chain is intact, and `PRAGMA integrity_check` is ok.
//!
//! `KIBANDA_CRASH_ITERATIONS` runs more crashes by hand (CI runs the default).
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use serde_json::{Value, json};
use shared_model::{Order, OrderEvent};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sync_protocol::op::{GENESIS_HASH, OpBody};

const ITERATIONS_DEFAULT: u64 = 150;
const TERMINALS: usize = 3;

/// What terminals were told: order id → steps acknowledged (lines, payments, closed).
#[derive(Default, Debug, Clone)]
struct Acknowledged {
    lines: usize,
    paid: bool,
    closed: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args([
            "run",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("KIBANDA_LOG", "error")
        // Discovery is not under test here; hundreds of restarts need not multicast.
        .env("KIBANDA_MDNS", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "edge did not come up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Option<Value> {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// One terminal selling until the process dies under it.
async fn terminal(
    client: reqwest::Client,
    base: String,
    token: String,
    acked: Arc<Mutex<HashMap<String, Acknowledged>>>,
) {
    loop {
        let Some(order) = post(
            &client,
            &base,
            &token,
            "/v1/orders",
            json!({"type": "kiosk"}),
        )
        .await
        else {
            return;
        };
        let id = order["id"].as_str().unwrap().to_owned();
        acked
            .lock()
            .unwrap()
            .insert(id.clone(), Acknowledged::default());
        for item in ["sku-chai", "sku-mandazi"] {
            let path = format!("/v1/orders/{id}/lines");
            if post(
                &client,
                &base,
                &token,
                &path,
                json!({"item_id": item, "quantity": 1}),
            )
            .await
            .is_none()
            {
                return;
            }
            acked.lock().unwrap().get_mut(&id).unwrap().lines += 1;
        }
        let path = format!("/v1/orders/{id}/payments");
        if post(
            &client,
            &base,
            &token,
            &path,
            json!({"tender": "cash", "amount_minor": 50_000}),
        )
        .await
        .is_none()
        {
            return;
        }
        acked.lock().unwrap().get_mut(&id).unwrap().paid = true;
        if post(
            &client,
            &base,
            &token,
            &format!("/v1/orders/{id}/close"),
            json!({}),
        )
        .await
        .is_none()
        {
            return;
        }
        acked.lock().unwrap().get_mut(&id).unwrap().closed = true;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sales_survive_hundreds_of_kill_9s() {
    let iterations: u64 = std::env::var("KIBANDA_CRASH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ITERATIONS_DEFAULT);
    sync_protocol::quic::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let store = Store::open(&dir.path().join(edge_node::config::STORE_FILE)).unwrap();
        edge_node::services::devices::pair(&store, "kiosk-1", 0)
            .unwrap()
            .1
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acked: Arc<Mutex<HashMap<String, Acknowledged>>> = Arc::default();
    let mut seed: u64 = 0x00C0_FFEE;
    for _ in 0..iterations {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = start(dir.path(), port);
        wait_healthy(&client, &base).await;
        let tasks: Vec<_> = (0..TERMINALS)
            .map(|_| {
                tokio::spawn(terminal(
                    client.clone(),
                    base.clone(),
                    token.clone(),
                    acked.clone(),
                ))
            })
            .collect();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(5 + (seed >> 33) % 60)).await;
        child.kill().unwrap(); // SIGKILL: no shutdown path runs
        child.wait().unwrap();
        for task in tasks {
            task.await.unwrap();
        }
    }

    let store = Store::open(&dir.path().join(edge_node::config::STORE_FILE)).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");

    // The outbox: gap-free sequence, intact chain, strictly increasing clock.
    let last_seq = store.outbox_status().unwrap().last_seq;
    let mut ops = Vec::new();
    while (ops.len() as u64) < last_seq {
        ops.extend(store.ops_from(ops.len() as u64 + 1, 1_000).unwrap());
    }
    let mut prev = GENESIS_HASH;
    for (index, op) in ops.iter().enumerate() {
        assert_eq!(op.seq, index as u64 + 1, "gap in the outbox");
        assert_eq!(op.prev_hash, prev, "broken chain at {}", op.seq);
        prev = op.chain_hash();
    }
    assert!(ops.windows(2).all(|pair| pair[0].hlc < pair[1].hlc));

    // Replaying the log rebuilds exactly the stored orders: no state without its op, no op
    // without its state (a half-written sale would break this).
    let mut rebuilt: HashMap<String, Order> = HashMap::new();
    for op in &ops {
        // Edge facts (the paired device, staff, kitchen) sit in the same log; only order ops
        // rebuild orders.
        let OpBody::Order(wire) = op.decode_body().unwrap() else {
            continue;
        };
        let event = OrderEvent::try_from(&wire).unwrap();
        let id = event.order_id().to_string();
        match rebuilt.get_mut(&id) {
            Some(order) => order.apply(&event).unwrap(),
            None => {
                rebuilt.insert(id, Order::from_opened(&event).unwrap());
            }
        }
    }
    for (id, order) in &rebuilt {
        let stored = store.order(order.id).unwrap().unwrap();
        assert_eq!(&stored, order, "order {id} differs from its ops");
    }

    // Every step a terminal was told about is there.
    let acked = acked.lock().unwrap();
    let mut closed = 0;
    for (id, steps) in acked.iter() {
        let order = rebuilt
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged order {id} lost"));
        assert!(order.lines.len() >= steps.lines, "order {id} lost a line");
        if steps.paid {
            assert!(!order.payments.is_empty(), "order {id} lost its payment");
        }
        if steps.closed {
            assert_eq!(
                order.state,
                shared_model::OrderState::Closed,
                "order {id} lost its close"
            );
            closed += 1;
        }
    }
    println!(
        "{iterations} kill -9s: {} ops, {} orders acknowledged, {closed} closed",
        ops.len(),
        acked.len()
    );
    assert!(
        closed > iterations as usize / 2,
        "the loop sold too little to prove anything"
    );
}
