//! The downstream feed: catalog changes made at the hub reach the outlet's edge, in order,
//! exactly once, also when the edge was offline when they were made.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn item(id: &str, price_minor: i64) -> Value {
    json!({"id": id, "name": format!("Item {id}"), "category": "kitchen", "price_minor": price_minor,
           "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]})
}

async fn edge_price(terminal: &Terminal<'_>, id: &str) -> Option<i64> {
    let (_, items) = terminal.get("/v1/catalog/items").await;
    items
        .as_array()?
        .iter()
        .find(|i| i["id"] == id)
        .and_then(|i| i["price_minor"].as_i64())
}

#[test]
fn catalog_changes_at_the_hub_reach_the_edge_in_order_even_after_an_outage() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    driver.block_on(tenant_with_outlet(&pool, "bravo", "msa-1"));
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
    let jwt = driver.block_on(dev_token(&pool, "acme", "manager"));
    let other_jwt = driver.block_on(dev_token(&pool, "bravo", "manager"));
    let client = reqwest::Client::new();
    let catalog_url = hub.url("/v1/acme/pos/outlets/nbo-cbd/catalog/items");
    let put = |body: Value, token: String| {
        let client = client.clone();
        let url = catalog_url.clone();
        async move {
            let response = client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let edge = RunningEdge::start(data.path(), &token);
    driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        let (status, result) = put(
            json!({"items": [item("sku-pilau", 45_000), item("sku-chai", 17_500)]}),
            jwt.clone(),
        )
        .await;
        assert_eq!(status, 200, "{result}");
        assert_eq!(result["changed"], 2);
        eventually(
            Duration::from_secs(20),
            "the new price at the edge",
            || async { (edge_price(&terminal, "sku-chai").await == Some(17_500)).then_some(()) },
        )
        .await;
        assert_eq!(edge_price(&terminal, "sku-pilau").await, Some(45_000));
        // The next sale uses the hub's price, and the hub sees it.
        let sold = terminal.sell(&[("sku-pilau", 2)]).await;
        assert_eq!(sold["total_minor"], 90_000);

        // Uploading the same catalog again changes nothing.
        let (_, result) = put(
            json!({"items": [item("sku-pilau", 45_000), item("sku-chai", 17_500)]}),
            jwt.clone(),
        )
        .await;
        assert_eq!(
            (result["changed"].clone(), result["unchanged"].clone()),
            (json!(0), json!(2))
        );

        // Bad input is refused whole, naming the field; nothing changes.
        let (status, error) = put(
            json!({"items": [item("sku-ok", 1), item("bad id!", 1)]}),
            jwt.clone(),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(error["field"], "items[1].id");
        let (status, _) = put(json!({"items": [item("sku-neg", -5)]}), jwt.clone()).await;
        assert_eq!(status, 400);
        // Another tenant cannot touch this outlet.
        let (status, _) = put(json!({"items": [item("sku-evil", 1)]}), other_jwt.clone()).await;
        assert_eq!(status, 404);
        assert_eq!(edge_price(&terminal, "sku-ok").await, None);
    });

    // The edge goes offline; the hub changes 2,500 items (several feed batches) and removes one.
    edge.kill();
    driver.block_on(async {
        let items: Vec<Value> = (0..1_000)
            .map(|n| item(&format!("sku-bulk-{n}"), 1_000 + n))
            .collect();
        assert_eq!(put(json!({"items": items}), jwt.clone()).await.0, 200);
        let items: Vec<Value> = (1_000..2_500)
            .map(|n| item(&format!("sku-bulk-{n}"), 1_000 + n))
            .collect();
        for page in items.chunks(1_000) {
            assert_eq!(put(json!({"items": page}), jwt.clone()).await.0, 200);
        }
        let response = client
            .delete(hub.url("/v1/acme/pos/outlets/nbo-cbd/catalog/items/sku-chai"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
    });
    let edge = RunningEdge::start(data.path(), &token);
    driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        eventually(
            Duration::from_secs(30),
            "the backlog of catalog changes at the edge",
            || async {
                (edge_price(&terminal, "sku-bulk-2499").await == Some(3_499)).then_some(())
            },
        )
        .await;
        assert_eq!(
            edge_price(&terminal, "sku-chai").await,
            None,
            "the removal was applied after the upsert"
        );
        assert_eq!(edge_price(&terminal, "sku-bulk-0").await, Some(1_000));
        let (_, items) = terminal.get("/v1/catalog/items").await;
        let bulk = items
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["id"].as_str().unwrap().starts_with("sku-bulk-"))
            .count();
        assert_eq!(bulk, 2_500);
        pool.close().await;
    });
    let store = Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
    drop(edge);
    // 2 + 2,500 upserts + 1 removal, each exactly once in the edge's cursor.
    assert_eq!(store.feed_through_seq().unwrap(), 2_503);
    hub.kill();
}
