//! Modifiers set at head office reach the till: a burger with a required doneness and optional
//! extras (one with its own required choice) is offered with its groups, refused without a
//! required choice, priced with every extra, sent to the kitchen with the choices on the ticket,
//! and folded at the hub into the same total.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

fn burger_groups() -> Value {
    json!([
        {"id": "doneness", "name": "Doneness", "min_choices": 1, "max_choices": 1, "options": [
            {"id": "medium", "name": "Medium"}, {"id": "well", "name": "Well done"}]},
        {"id": "extras", "name": "Extras", "min_choices": 0, "max_choices": 3, "options": [
            {"id": "cheese", "name": "Cheese", "price_delta_minor": 5000},
            {"id": "bacon", "name": "Bacon", "price_delta_minor": 8000, "nested_groups": [
                {"id": "bacon-style", "name": "Bacon style", "min_choices": 1, "max_choices": 1, "options": [
                    {"id": "crispy", "name": "Crispy"}, {"id": "soft", "name": "Soft"}]}]}]}
    ])
}

#[test]
fn an_items_modifier_groups_reach_the_till_and_price_the_line_there_and_at_the_hub() {
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
    let modifiers_url = |item: &str| {
        hub.url(&format!(
            "/v1/acme/pos/outlets/cbd/catalog/items/{item}/modifiers"
        ))
    };

    driver.block_on(async {
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/acme/pos/outlets/cbd/catalog/items"), &head_office,
            Some(json!({"items": [{"id": "sku-burger", "name": "Burger", "category": "grill", "price_minor": 60_000,
                                   "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]})), None).await;
        assert_eq!(status, 200, "{body}");
        // Bad groups name their field; an unknown item is 404.
        for (groups, field) in [
            (json!([{"id": "g", "name": "G", "min_choices": 0, "max_choices": 0, "options": [{"id": "o", "name": "O"}]}]), "groups[0].max_choices"),
            (json!([{"id": "g", "name": "G", "min_choices": 0, "max_choices": 1, "options": []}]), "groups[0].options"),
            (json!([{"id": "g", "name": "G", "min_choices": 0, "max_choices": 1, "options": [{"id": "o", "name": "O"}, {"id": "o", "name": "P"}]}]), "groups[0].options[1].id"),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::PUT, modifiers_url("sku-burger"), &head_office, Some(json!({"groups": groups})), None).await;
            assert_eq!(status, 400, "{error}");
            assert_eq!(error["field"], field, "{error}");
        }
        let (status, _) = hub_request(&client, reqwest::Method::PUT, modifiers_url("sku-nothing"), &head_office, Some(json!({"groups": []})), None).await;
        assert_eq!(status, 404);
        let (status, body) = hub_request(&client, reqwest::Method::PUT, modifiers_url("sku-burger"), &head_office, Some(json!({"groups": burger_groups()})), None).await;
        assert_eq!(status, 200, "{body}");
        let (status, read) = hub_request(&client, reqwest::Method::GET, modifiers_url("sku-burger"), &head_office, None, None).await;
        assert_eq!((status, read["groups"].as_array().unwrap().len()), (200, 2), "{read}");

        // The till offers the burger with its choices.
        eventually(Duration::from_secs(20), "the till has the burger's groups", || async {
            let (_, items) = terminal.get("/v1/catalog/items").await;
            items.as_array().unwrap().iter().find(|item| item["id"] == "sku-burger")
                .filter(|item| item["modifier_groups"].as_array().map_or(0, Vec::len) == 2)
                .map(|_| ())
        })
        .await;
        let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let lines = format!("/v1/orders/{id}/lines");
        for modifiers in [
            json!([]),
            json!([{"group_id": "doneness", "option_id": "raw"}]),
            json!([{"group_id": "doneness", "option_id": "well"}, {"group_id": "extras", "option_id": "bacon"}]),
        ] {
            let (status, error) = terminal.post(&lines, json!({"item_id": "sku-burger", "modifiers": modifiers})).await;
            assert_eq!(status, 422, "{error}");
            assert_eq!(error["field"], "modifiers", "{error}");
        }
        let (status, order) = terminal.post(&lines, json!({"item_id": "sku-burger", "modifiers": [
            {"group_id": "doneness", "option_id": "well"},
            {"group_id": "extras", "option_id": "bacon", "nested": [{"group_id": "bacon-style", "option_id": "crispy"}]},
            {"group_id": "extras", "option_id": "cheese"},
        ]})).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["lines"][0]["unit_price_minor"], 73_000, "{order}");
        assert_eq!(order["total_minor"], 73_000);
        let names: Vec<&str> = order["lines"][0]["modifiers"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Well done", "Bacon", "Crispy", "Cheese"]);

        // The kitchen sees what to make.
        let (status, sent) = terminal.post(&format!("/v1/orders/{id}/send"), json!({})).await;
        assert_eq!(status, 201, "{sent}");
        let ticket_line = &sent["tickets"][0]["lines"][0];
        assert_eq!(ticket_line["modifiers"], json!(["Well done", "Bacon", "  Crispy", "Cheese"]), "{sent}");

        let (status, _) = terminal.post(&format!("/v1/orders/{id}/payments"), json!({"tender": "card", "amount_minor": 73_000})).await;
        assert_eq!(status, 201);
        let (status, _) = terminal.post(&format!("/v1/orders/{id}/close"), json!({})).await;
        assert_eq!(status, 200);
        let at_hub = eventually(Duration::from_secs(30), "the sale at the hub", || async {
            let (status, order) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/acme/pos/orders/{id}")), &head_office, None, None).await;
            (status == 200 && order["state"] == "closed").then_some(order)
        })
        .await;
        assert_eq!(at_hub["total_minor"], 73_000, "{at_hub}");
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool).await.unwrap();
        assert_eq!(anomalies, 0);
    });
    drop(edge);
}
