//! Promotions set at head office reach the tills and apply there, offline or not, with the rules
//! the hub knows: an automatic category discount re-evaluated on every line change, a code the
//! customer gives, a promotion limited to another outlet that this till never applies, and a
//! withdrawal. The hub folds the same promotions into the same totals.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn head_office_promotions_apply_at_the_till_and_the_hub_agrees() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "acme", "cbd");
    driver.block_on(outlet_with_code(&pool, "acme", "westlands"));
    let head_office = driver.block_on(dev_token(&pool, "acme", "manager"));
    let shop = driver.block_on(dev_token(&pool, "acme", "service"));
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let promotion_url = |id: &str| hub.url(&format!("/v1/acme/pos/promotions/{id}"));

    driver.block_on(async {
        let put = |id: &'static str, body: Value, token: String| {
            let client = &client;
            let url = promotion_url(id);
            async move {
                hub_request(client, reqwest::Method::PUT, url, &token, Some(body), None).await
            }
        };
        // Bad input names its field; a role that may not set prices is refused.
        for (body, field) in [
            (json!({"name": "x", "rule": {"rule": "percent_off", "target": {"target": "order"}, "percent_bps": 0}}), "rule.percent_bps"),
            (json!({"name": "x", "rule": {"rule": "bulk_price", "target": {"target": "order"}, "quantity": 1, "price_minor": 100}}), "rule.quantity"),
            (json!({"name": "x", "rule": {"rule": "percent_off", "target": {"target": "order"}, "percent_bps": 500}, "outlets": ["nowhere"]}), "outlets"),
            (json!({"name": "x", "rule": {"rule": "percent_off", "target": {"target": "order"}, "percent_bps": 500}, "code": "a b"}), "code"),
            (json!({"name": "x", "rule": {"rule": "percent_off", "target": {"target": "order"}, "percent_bps": 500}, "valid_from_ms": 10, "valid_until_ms": 5}), "valid_until_ms"),
        ] {
            let (status, error) = put("bad", body, head_office.clone()).await;
            assert_eq!(status, 400, "{error}");
            assert_eq!(error["field"], field, "{error}");
        }
        let (status, _) = put("bad", json!({"name": "x", "rule": {"rule": "percent_off", "target": {"target": "order"}, "percent_bps": 500}}), shop.clone()).await;
        assert_eq!(status, 403);

        let (status, body) = put("bakery-10", json!({"name": "10% off pastries",
            "rule": {"rule": "percent_off", "target": {"target": "category", "category": "bakery"}, "percent_bps": 1000}}),
            head_office.clone()).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = put("karibu", json!({"name": "Karibu 50 off", "code": "KARIBU",
            "rule": {"rule": "amount_off", "target": {"target": "order"}, "amount_minor": 5000}}),
            head_office.clone()).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = put("westlands-coffee", json!({"name": "Half-price coffee", "outlets": ["westlands"],
            "rule": {"rule": "percent_off", "target": {"target": "category", "category": "coffee"}, "percent_bps": 5000}}),
            head_office.clone()).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["outlets"], json!(["westlands"]));
        let (status, listed) = hub_request(&client, reqwest::Method::GET, hub.url("/v1/acme/pos/promotions"), &shop, None, None).await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed.as_array().unwrap().len(), 3);

        // The till applies the automatic promotion on every line change, once it has it.
        let order = eventually(Duration::from_secs(20), "the till has the promotions", || async {
            let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
            let id = order["id"].as_str().unwrap().to_owned();
            let (_, order) = terminal
                .post(&format!("/v1/orders/{id}/lines"), json!({"item_id": "sku-samosa", "quantity": 2}))
                .await;
            (order["discount_minor"] == 1_600).then_some(order)
        })
        .await;
        let id = order["id"].as_str().unwrap().to_owned();
        assert_eq!(order["total_minor"], 14_400);
        let (_, order) = terminal
            .post(&format!("/v1/orders/{id}/lines"), json!({"item_id": "sku-espresso"}))
            .await;
        assert_eq!(order["total_minor"], 34_400, "the other outlet's coffee promotion does not apply here: {order}");

        // A code the customer gives.
        let codes = format!("/v1/orders/{id}/promo-codes");
        let (status, error) = terminal.post(&codes, json!({"code": "NOPE"})).await;
        assert_eq!((status, error["code"].as_str()), (422, Some("unknown_promo_code")), "{error}");
        let (status, error) = terminal.post(&codes, json!({"code": "westlands"})).await;
        assert_eq!(status, 422, "{error}");
        let (status, order) = terminal.post(&codes, json!({"code": "karibu"})).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["total_minor"], 29_400, "{order}");
        assert_eq!(order["discount_minor"], 6_600);

        let (status, paid) = terminal
            .post(&format!("/v1/orders/{id}/payments"), json!({"tender": "cash", "amount_minor": 30_000}))
            .await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(paid["change_due_minor"], 600);
        let (status, error) = terminal.post(&codes, json!({"code": "KARIBU"})).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("order_not_open")), "{error}");
        let (status, _) = terminal.post(&format!("/v1/orders/{id}/close"), json!({})).await;
        assert_eq!(status, 200);

        // The hub folds the same promotions into the same total.
        let at_hub = eventually(Duration::from_secs(30), "the sale at the hub", || async {
            let (status, order) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/acme/pos/orders/{id}")), &head_office, None, None).await;
            (status == 200 && order["state"] == "closed").then_some(order)
        })
        .await;
        assert_eq!(at_hub["total_minor"], 29_400, "{at_hub}");
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies").fetch_one(&pool).await.unwrap();
        assert_eq!(anomalies, 0);

        // Withdrawn at head office: the till stops applying it.
        let (status, _) = hub_request(&client, reqwest::Method::DELETE, promotion_url("bakery-10"), &head_office, None, None).await;
        assert_eq!(status, 204);
        let (status, _) = hub_request(&client, reqwest::Method::DELETE, promotion_url("bakery-10"), &head_office, None, None).await;
        assert_eq!(status, 404);
        eventually(Duration::from_secs(20), "the withdrawal reaches the till", || async {
            let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
            let id = order["id"].as_str().unwrap().to_owned();
            let (_, order) = terminal
                .post(&format!("/v1/orders/{id}/lines"), json!({"item_id": "sku-samosa", "quantity": 2}))
                .await;
            (order["discount_minor"] == 0 && order["total_minor"] == 16_000).then_some(())
        })
        .await;
    });
    drop(edge);
}

/// What outlet `data`'s till has been told of the other outlets' uses of `promotion`.
fn uses_elsewhere(data: &std::path::Path, promotion: &str) -> Option<i64> {
    let db = rusqlite::Connection::open_with_flags(
        data.join(edge_node::config::STORE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT uses FROM promotion_uses_elsewhere WHERE promotion_id = ?1",
        [promotion],
        |row| row.get(0),
    )
    .ok()
}

/// An open bill for two samosas at `terminal`: the order's id and its discount.
async fn bill(terminal: &Terminal<'_>) -> (String, i64) {
    let (_, order) = terminal
        .post("/v1/orders", json!({"type": "take_out"}))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, order) = terminal
        .post(
            &format!("/v1/orders/{id}/lines"),
            json!({"item_id": "sku-samosa", "quantity": 2}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    (id, order["discount_minor"].as_i64().unwrap())
}

/// Pays `order` in cash, in full.
async fn pay(terminal: &Terminal<'_>, order: &str) {
    let (_, current) = terminal.get(&format!("/v1/orders/{order}")).await;
    let due = current["balance_due_minor"].as_i64().unwrap();
    let (status, paid) = terminal
        .post(
            &format!("/v1/orders/{order}/payments"),
            json!({"tender": "cash", "amount_minor": due}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
}

/// A sale paid in cash: its discount.
async fn sale(terminal: &Terminal<'_>) -> i64 {
    let (id, discount) = bill(terminal).await;
    pay(terminal, &id).await;
    discount
}

/// A promotion limited to three uses in all: a use is a sale that took money; each till counts
/// its own, the hub counts them all and tells each till the others' uses, so the fourth paying
/// customer anywhere pays full price; an open bill holds no use (an abandoned one cannot use up
/// the limit), and a bill still open when the limit is reached loses the promotion at its next
/// change.
#[test]
fn a_usage_limit_is_counted_across_outlets_on_paid_sales() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (cbd_data, cbd_till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    let (west_data, west_till) = another_enrolled_outlet(&driver, &pool, &hub, "duka", "westlands");
    let head_office = driver.block_on(dev_token(&pool, "duka", "manager"));
    let client = reqwest::Client::new();
    let cbd_edge = RunningEdge::start(cbd_data.path(), &cbd_till);
    let west_edge = RunningEdge::start(west_data.path(), &west_till);
    let cbd = Terminal {
        client: &client,
        edge: &cbd_edge,
    };
    let west = Terminal {
        client: &client,
        edge: &west_edge,
    };

    driver.block_on(async {
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/duka/pos/promotions/launch"), &head_office,
            Some(json!({"name": "Launch: 20 off", "usage_limit": 3,
                "rule": {"rule": "amount_off", "target": {"target": "order"}, "amount_minor": 2000}})), None).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["uses"], 0);
        // Cbd's first two paying customers (bills opened before the promotion reached the till
        // had none, and stay open: they use nothing).
        let first = eventually(Duration::from_secs(20), "the promotion at cbd", || async {
            let (id, discount) = bill(&cbd).await;
            (discount == 2000).then_some(id)
        })
        .await;
        pay(&cbd, &first).await;
        assert_eq!(sale(&cbd).await, 2000);

        // The hub counts cbd's two uses and tells westlands.
        eventually(Duration::from_secs(30), "westlands hears of cbd's uses", || async {
            (uses_elsewhere(west_data.path(), "launch") == Some(2)).then_some(())
        })
        .await;
        // Two bills open at westlands both show the offer (open bills hold no use) ...
        let (third, discount) = bill(&west).await;
        assert_eq!(discount, 2000);
        let (waiting, discount) = bill(&west).await;
        assert_eq!(discount, 2000);
        // ... the first to pay takes the last use; the other loses it at its next change, and
        // the next customer pays full price.
        pay(&west, &third).await;
        let (status, changed) = west
            .post(&format!("/v1/orders/{waiting}/lines"), json!({"item_id": "sku-samosa"}))
            .await;
        assert_eq!(status, 201, "{changed}");
        assert_eq!(changed["discount_minor"], 0, "the limit of three is reached: {changed}");
        assert_eq!(sale(&west).await, 0);
        // Cbd, told of westlands' use, stops too.
        eventually(Duration::from_secs(30), "cbd hears of westlands' use", || async {
            (uses_elsewhere(cbd_data.path(), "launch") == Some(1)).then_some(())
        })
        .await;
        assert_eq!(sale(&cbd).await, 0);

        // Head office sees the count: cbd's two and westlands' one.
        let listed = eventually(Duration::from_secs(30), "the hub's count", || async {
            let (_, listed) = hub_request(&client, reqwest::Method::GET, hub.url("/v1/duka/pos/promotions"), &head_office, None, None).await;
            (listed[0]["uses"] == 3).then_some(listed)
        })
        .await;
        assert_eq!(listed[0]["usage_limit"], 3, "{listed}");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM promotion_uses")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 3);
    });
}
