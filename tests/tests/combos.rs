//! Combos set at head office reach the till: a burger meal (a main and a drink at one price, a
//! shake for a little more) is sold as one line per slot, each taxed at its own rates, the bill
//! adding up to the combo price plus the upcharge; bad choices are refused; the hub folds the
//! same total; a withdrawn combo leaves the till.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_combo_from_head_office_sells_at_the_till_at_its_price_and_the_hub_agrees() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "acme", "cbd");
    let head_office = driver.block_on(dev_token(&pool, "acme", "manager"));
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let combo_url = hub.url("/v1/acme/pos/outlets/cbd/combos/burger-meal");
    let meal = json!({"name": "Burger meal", "price_minor": 85_000, "slots": [
        {"id": "main", "name": "Main", "options": [{"item_id": "sku-burger"}]},
        {"id": "drink", "name": "Drink", "options": [{"item_id": "sku-soda"}, {"item_id": "sku-shake", "upcharge_minor": 5_000}]}
    ]});

    driver.block_on(async {
        let item = |id: &str, name: &str, price: i64, rate: i64| {
            json!({"id": id, "name": name, "category": "food", "price_minor": price, "tax_mode": "inclusive",
                   "tax_rates": [{"code": if rate > 0 { "VAT16" } else { "ZERO" }, "rate_bps": rate}]})
        };
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/acme/pos/outlets/cbd/catalog/items"), &head_office,
            Some(json!({"items": [item("sku-burger", "Burger", 80_000, 1600), item("sku-soda", "Soda", 20_000, 0), item("sku-shake", "Shake", 30_000, 1600)]})), None).await;
        assert_eq!(status, 200, "{body}");
        for (bad, field) in [
            (json!({"name": "x", "price_minor": 100, "slots": []}), "slots"),
            (json!({"name": "x", "price_minor": -1, "slots": [{"id": "a", "name": "A", "options": [{"item_id": "sku-soda"}]}]}), "price_minor"),
            (json!({"name": "x", "price_minor": 100, "slots": [{"id": "a", "name": "A", "options": [{"item_id": "sku-nothing"}]}]}), "slots"),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::PUT, combo_url.clone(), &head_office, Some(bad), None).await;
            assert_eq!(status, 400, "{error}");
            assert_eq!(error["field"], field, "{error}");
        }
        let (status, body) = hub_request(&client, reqwest::Method::PUT, combo_url.clone(), &head_office, Some(meal.clone()), None).await;
        assert_eq!(status, 200, "{body}");

        eventually(Duration::from_secs(20), "the till has the combo", || async {
            let (_, combos) = terminal.get("/v1/combos").await;
            (combos.as_array().map_or(0, Vec::len) == 1).then_some(())
        })
        .await;
        let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let combos = format!("/v1/orders/{id}/combos");
        for (body, status, field) in [
            (json!({"combo_id": "burger-meal", "choices": [{"slot_id": "main", "item_id": "sku-burger"}]}), 422, "choices"),
            (json!({"combo_id": "burger-meal", "choices": [{"slot_id": "main", "item_id": "sku-shake"}, {"slot_id": "drink", "item_id": "sku-soda"}]}), 422, "choices"),
            (json!({"combo_id": "family-feast", "choices": []}), 422, "combo_id"),
        ] {
            let (got, error) = terminal.post(&combos, body).await;
            assert_eq!(got, status, "{error}");
            assert_eq!(error["field"], field, "{error}");
        }
        let (status, order) = terminal.post(&combos, json!({"combo_id": "burger-meal", "choices": [
            {"slot_id": "main", "item_id": "sku-burger"}, {"slot_id": "drink", "item_id": "sku-shake"}]})).await;
        assert_eq!(status, 201, "{order}");
        let lines = order["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 2, "one line per slot: {order}");
        assert_eq!(order["total_minor"], 90_000, "the combo price plus the shake's upcharge: {order}");
        let sum: i64 = lines.iter().map(|line| line["total_minor"].as_i64().unwrap()).sum();
        assert_eq!(sum, 90_000);

        let (status, _) = terminal.post(&format!("/v1/orders/{id}/payments"), json!({"tender": "cash", "amount_minor": 100_000})).await;
        assert_eq!(status, 201);
        let (status, _) = terminal.post(&format!("/v1/orders/{id}/close"), json!({})).await;
        assert_eq!(status, 200);
        let at_hub = eventually(Duration::from_secs(30), "the sale at the hub", || async {
            let (status, order) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/acme/pos/orders/{id}")), &head_office, None, None).await;
            (status == 200 && order["state"] == "closed").then_some(order)
        })
        .await;
        assert_eq!(at_hub["total_minor"], 90_000, "{at_hub}");
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool).await.unwrap();
        assert_eq!(anomalies, 0);

        // Withdrawn at head office, gone from the till.
        let (status, _) = hub_request(&client, reqwest::Method::DELETE, combo_url.clone(), &head_office, None, None).await;
        assert_eq!(status, 204);
        let (status, _) = hub_request(&client, reqwest::Method::DELETE, combo_url.clone(), &head_office, None, None).await;
        assert_eq!(status, 404);
        eventually(Duration::from_secs(20), "the combo leaves the till", || async {
            let (_, combos) = terminal.get("/v1/combos").await;
            combos.as_array().is_some_and(Vec::is_empty).then_some(())
        })
        .await;
    });
    drop(edge);
}
