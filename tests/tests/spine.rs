//! The spine, end to end: sales taken at an edge while the hub is down reach the hub exactly
//! once, with the same lines, taxes and totals, whatever is killed along the way.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Generous limit for the system to settle; the figures are printed, not asserted.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

const BASKETS: &[&[(&str, i64)]] = &[
    &[("sku-cappuccino", 2)],
    &[("sku-espresso", 1), ("sku-mandazi", 3)],
    &[("sku-chai", 1), ("sku-samosa", 2), ("sku-milk", 1)],
    &[("sku-water", 4), ("sku-milk", 2)],
];

fn assert_same_order(edge: &Value, hub: &Value) {
    for field in [
        "id",
        "number",
        "type",
        "state",
        "currency",
        "net_minor",
        "tax_minor",
        "total_minor",
        "paid_minor",
        "change_minor",
        "taxes",
    ] {
        assert_eq!(
            edge[field], hub[field],
            "field {field} differs for order {}",
            edge["id"]
        );
    }
    let lines = |order: &Value| -> Vec<(Value, Value, Value, Value, Value)> {
        order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["id"].clone(),
                    l["item_id"].clone(),
                    l["quantity"].clone(),
                    l["total_minor"].clone(),
                    l["taxes"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(lines(edge), lines(hub));
}

struct Db {
    pool: sqlx::PgPool,
}

impl Db {
    async fn op_rows(&self) -> (i64, i64) {
        sqlx::query_as("SELECT count(*), count(DISTINCT (device_id, seq)) FROM ops")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn order_rows(&self) -> (i64, i64) {
        sqlx::query_as("SELECT count(*), count(DISTINCT id) FROM orders")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

async fn sync_status(terminal: &Terminal<'_>) -> Value {
    let (status, body) = terminal.get("/v1/sync/status").await;
    assert_eq!(status, 200);
    body
}

/// Waits until the edge has nothing pending and the hub shows `expected` orders.
async fn settle(
    terminal: &Terminal<'_>,
    client: &reqwest::Client,
    hub: &RunningHub,
    token: &str,
    expected: usize,
) -> Vec<Value> {
    eventually(SETTLE_LIMIT, "the edge to drain its outbox", || async {
        let status = sync_status(terminal).await;
        (status["ops_pending"] == 0 && status["connected"] == true).then_some(())
    })
    .await;
    eventually(SETTLE_LIMIT, "the hub to show every order", || async {
        let orders = hub_orders(client, hub, "acme", token).await;
        (orders.len() >= expected).then_some(orders)
    })
    .await
}

#[test]
fn sales_taken_while_the_hub_is_down_arrive_exactly_once_whatever_is_killed() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let client = reqwest::Client::new();
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let checks = Db { pool: pool.clone() };

    // The hub runs once so the schema exists, then the operator enrolls the edge.
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let quic: SocketAddr = hub.quic;
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    let token = driver.block_on(dev_token(&pool, "acme", "manager"));
    let data = tempfile::tempdir().unwrap();
    {
        let store = std::sync::Arc::new(
            edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE))
                .unwrap(),
        );
        let enrollment = driver
            .block_on(edge_node::enroll::enroll(store, &quic.to_string(), &code))
            .unwrap();
        assert_eq!(enrollment.tenant_slug, "acme");
        assert_eq!(enrollment.outlet_code, "nbo-cbd");
    }
    let terminal_token = pair_terminal(data.path());

    // 1. The hub goes down; the outlet keeps selling.
    hub.kill();
    let edge = RunningEdge::start(data.path(), &terminal_token);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let mut sold: HashMap<String, Value> = HashMap::new();
    driver.block_on(async {
        for n in 0..20 {
            let order = terminal.sell(BASKETS[n % BASKETS.len()]).await;
            sold.insert(order["id"].as_str().unwrap().to_owned(), order);
        }
        let status = sync_status(&terminal).await;
        assert_eq!(status["enrolled"], true);
        assert_eq!(status["connected"], false);
        assert_eq!(status["ops_pending"], status["last_seq"]);
        assert!(status["ops_pending"].as_u64().unwrap() >= 80);
    });

    // 2. The hub comes back on the same address; every sale arrives, once, unchanged.
    let hub = RunningHub::start(&db.url, quic);
    let back_at = Instant::now();
    let orders = driver.block_on(settle(&terminal, &client, &hub, &token, sold.len()));
    println!(
        "hub back -> all {} sales at the hub in {:?}",
        sold.len(),
        back_at.elapsed()
    );
    assert_eq!(orders.len(), sold.len());
    for order in &orders {
        let edge_order = sold
            .get(order["id"].as_str().unwrap())
            .expect("an order the edge sold");
        assert_same_order(edge_order, order);
        assert_eq!(order["outlet"], "nbo-cbd");
    }

    // 3. Lost acks: the hub commits batches but the acks never arrive; the edge re-sends.
    hub.faults
        .drop_acks_after_commit
        .store(3, std::sync::atomic::Ordering::SeqCst);
    driver.block_on(async {
        for n in 0..30 {
            let order = terminal.sell(BASKETS[n % BASKETS.len()]).await;
            sold.insert(order["id"].as_str().unwrap().to_owned(), order);
        }
    });
    // 4. Kill the edge in the middle of syncing and start it again on the same SQLite file.
    driver.block_on(async {
        for n in 0..30 {
            let order = terminal.sell(BASKETS[n % BASKETS.len()]).await;
            sold.insert(order["id"].as_str().unwrap().to_owned(), order);
        }
    });
    edge.kill();
    let edge = RunningEdge::start(data.path(), &terminal_token);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let orders = driver.block_on(settle(&terminal, &client, &hub, &token, sold.len()));
    assert_eq!(
        orders.len(),
        sold.len(),
        "every sale exactly once after an edge crash and lost acks"
    );

    // 5. Kill the hub while a backlog is arriving, twice.
    hub.kill();
    driver.block_on(async {
        for n in 0..40 {
            let order = terminal.sell(BASKETS[n % BASKETS.len()]).await;
            sold.insert(order["id"].as_str().unwrap().to_owned(), order);
        }
    });
    let hub = RunningHub::start(&db.url, quic);
    driver.block_on(async { tokio::time::sleep(Duration::from_millis(1_500)).await });
    hub.kill();
    let hub = RunningHub::start(&db.url, quic);
    let orders = driver.block_on(settle(&terminal, &client, &hub, &token, sold.len()));
    assert_eq!(orders.len(), sold.len());
    let ids: HashSet<&str> = orders.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), sold.len(), "no order appears twice");
    for order in &orders {
        assert_same_order(&sold[order["id"].as_str().unwrap()], order);
    }

    // The op log at the hub is the edge's op log: same count, no duplicates, nothing missing.
    let status = driver.block_on(sync_status(&terminal));
    let (ops, distinct_ops) = driver.block_on(checks.op_rows());
    assert_eq!(ops, distinct_ops);
    assert_eq!(ops as u64, status["last_seq"].as_u64().unwrap());
    let (order_rows, distinct_orders) = driver.block_on(checks.order_rows());
    assert_eq!(
        (order_rows, distinct_orders),
        (sold.len() as i64, sold.len() as i64)
    );
    let anomalies: i64 = driver
        .block_on(sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool))
        .unwrap();
    assert_eq!(anomalies, 0);
    edge.kill();
    hub.kill();
    driver.block_on(pool.close());
}
