//! A supermarket lane: the scales print labels with the weight or the price in the code; once a
//! manager says which prefixes mean what, the till reads them — bananas by weight, a cheese by
//! its printed price — beside ordinary product codes, and the hub gets the same bill.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::json;
use shared_model::barcode::{EmbeddedKind, EmbeddedScheme};
use std::time::Duration;

#[test]
fn scale_labels_price_weighed_goods_at_the_till_and_the_hub_agrees() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "lane-1");
    let (manager, cashier) = {
        let store = edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE))
            .unwrap();
        (
            edge_node::services::staff::create_staff(&store, "Wanjiru", "manager", "9999", 1)
                .unwrap(),
            edge_node::services::staff::create_staff(&store, "Achieng", "cashier", "1234", 1)
                .unwrap(),
        )
    };
    let head_office = driver.block_on(dev_token(&pool, "duka", "manager"));
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let weight = EmbeddedScheme {
        prefix: 21,
        item_digits: 5,
        kind: EmbeddedKind::WeightGrams,
    };
    let price = EmbeddedScheme {
        prefix: 22,
        item_digits: 5,
        kind: EmbeddedKind::Price,
    };
    let bananas_label = weight.encode(1234, 1_235).unwrap().to_string();
    let cheese_label = price.encode(4321, 30_000).unwrap().to_string();
    let cake_weight_label = weight.encode(777, 500).unwrap().to_string();

    driver.block_on(async {
        let item = |id: &str, name: &str, price: i64, unit: &str, plu: Option<&str>, barcode: Option<&str>| {
            json!({"id": id, "name": name, "category": "grocery", "price_minor": price, "unit": unit,
                   "tax_mode": "inclusive", "tax_rates": [{"code": "ZERO", "rate_bps": 0}],
                   "plu": plu, "barcodes": barcode.map(|b| vec![b]).unwrap_or_default()})
        };
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/duka/pos/outlets/lane-1/catalog/items"), &head_office,
            Some(json!({"items": [
                item("sku-bananas", "Bananas", 16_000, "kg", Some("1234"), None),
                item("sku-cheese", "Cheddar", 120_000, "kg", Some("4321"), None),
                item("sku-cake", "Cake", 50_000, "each", Some("777"), None),
                item("sku-soap", "Soap", 12_000, "each", None, Some("5000112637922")),
            ]})), None).await;
        assert_eq!(status, 200, "{body}");
        eventually(Duration::from_secs(20), "the lane has the catalog", || async {
            let (_, items) = terminal.get("/v1/catalog/items").await;
            items.as_array().unwrap().iter().any(|item| item["id"] == "sku-cheese").then_some(())
        })
        .await;
        let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let lines = format!("/v1/orders/{id}/lines");

        // Before the layouts are set, a label is just an unknown product code.
        let (status, error) = terminal.post(&lines, json!({"barcode": bananas_label})).await;
        assert_eq!((status, error["code"].as_str()), (422, Some("unknown_barcode")), "{error}");

        // Setting them is for managers (and inventory clerks); bad layouts are refused.
        let schemes = json!({"schemes": [
            {"prefix": 21, "item_digits": 5, "kind": "weight_grams"},
            {"prefix": 22, "item_digits": 5, "kind": "price"}]});
        let put = |body: serde_json::Value| {
            let client = &client;
            let url = edge.url("/v1/settings/scale-labels");
            let token = till.clone();
            async move {
                let response = client.put(url).bearer_auth(token).json(&body).send().await.unwrap();
                (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap_or_default())
            }
        };
        let (status, _) = put(schemes.clone()).await;
        assert_eq!(status, 401);
        terminal.post("/v1/staff/sessions", json!({"staff_id": cashier.id.to_string(), "pin": "1234"})).await;
        let (status, _) = put(schemes.clone()).await;
        assert_eq!(status, 403);
        terminal.post("/v1/staff/sessions", json!({"staff_id": manager.id.to_string(), "pin": "9999"})).await;
        let (status, error) = put(json!({"schemes": [{"prefix": 30, "item_digits": 5, "kind": "price"}]})).await;
        assert_eq!((status, error["field"].as_str()), (422, Some("schemes")), "{error}");
        let (status, body) = put(schemes.clone()).await;
        assert_eq!(status, 200, "{body}");

        // Bananas by weight: 1.235 kg at 160.00 a kilo.
        let (status, order) = terminal.post(&lines, json!({"barcode": bananas_label})).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["lines"][0]["total_minor"], 19_760, "{order}");
        // A cheese by the price on its label.
        let (status, order) = terminal.post(&lines, json!({"barcode": cheese_label})).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["lines"][1]["total_minor"], 30_000, "{order}");
        // An ordinary product code still scans.
        let (status, order) = terminal.post(&lines, json!({"barcode": "5000112637922"})).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["total_minor"], 61_760);
        // A weight label on an item sold by the piece is refused; a damaged code too.
        let (status, error) = terminal.post(&lines, json!({"barcode": cake_weight_label})).await;
        assert_eq!((status, error["field"].as_str()), (422, Some("barcode")), "{error}");
        let mut damaged = cheese_label.clone().into_bytes();
        damaged[12] = if damaged[12] == b'9' { b'0' } else { damaged[12] + 1 };
        let (status, error) = terminal.post(&lines, json!({"barcode": String::from_utf8(damaged).unwrap()})).await;
        assert_eq!((status, error["field"].as_str()), (422, Some("barcode")), "{error}");

        let (status, _) = terminal.post(&format!("/v1/orders/{id}/payments"), json!({"tender": "mpesa", "amount_minor": 61_760})).await;
        assert_eq!(status, 201);
        let (status, _) = terminal.post(&format!("/v1/orders/{id}/close"), json!({})).await;
        assert_eq!(status, 200);
        let at_hub = eventually(Duration::from_secs(30), "the sale at the hub", || async {
            let (status, order) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/duka/pos/orders/{id}")), &head_office, None, None).await;
            (status == 200 && order["state"] == "closed").then_some(order)
        })
        .await;
        assert_eq!(at_hub["total_minor"], 61_760, "{at_hub}");
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool).await.unwrap();
        assert_eq!(anomalies, 0);
    });
    drop(edge);
}
