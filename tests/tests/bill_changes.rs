//! Bill changes made at the till reach the hub as the same bill: a price override, a line voided
//! after the kitchen had it, a discount and a merge of two tables fold at the hub into the totals
//! the till showed, with no anomaly, and the audit trail carries every high-risk change.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};

#[test]
fn overrides_voids_discounts_and_merges_fold_at_the_hub_into_the_tills_totals() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, token) = enrolled_outlet(&driver, &pool, &hub, "acme", "nbo-cbd");
    let manager = {
        let store = edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE))
            .unwrap();
        edge_node::services::staff::create_staff(&store, "Mama Njeri", "manager", "4321", 1)
            .unwrap()
    };
    let edge = RunningEdge::start(data.path(), &token);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let api_token = driver.block_on(dev_token(&pool, "acme", "manager"));

    driver.block_on(async {
        let (status, _) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "4321"}),
            )
            .await;
        assert_eq!(status, 201);
        let open = |kind: &'static str| {
            let terminal = &terminal;
            async move {
                let (status, order) = terminal.post("/v1/orders", json!({"type": kind})).await;
                assert_eq!(status, 201, "{order}");
                order["id"].as_str().unwrap().to_owned()
            }
        };
        let table_one = open("dine_in").await;
        let table_two = open("dine_in").await;
        let add = |order: String, body: Value| {
            let terminal = &terminal;
            async move {
                let (status, body) = terminal
                    .post(&format!("/v1/orders/{order}/lines"), body)
                    .await;
                assert_eq!(status, 201, "{body}");
                body
            }
        };
        let body = add(
            table_one.clone(),
            json!({"item_id": "sku-samosa", "quantity": 2}),
        )
        .await;
        let samosa = body["lines"][0]["id"].as_str().unwrap().to_owned();
        add(
            table_one.clone(),
            json!({"item_id": "sku-chai", "unit_price_minor": 12_000,
                "price_override_reason": "staff price"}),
        )
        .await;
        let (status, _) = terminal
            .post(&format!("/v1/orders/{table_one}/send"), json!({}))
            .await;
        assert_eq!(status, 201);
        let (status, body) = terminal
            .post(
                &format!("/v1/orders/{table_one}/lines/{samosa}/void"),
                json!({"reason": "dropped on the floor"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        add(table_two.clone(), json!({"item_id": "sku-espresso"})).await;
        let (status, body) = terminal
            .post(
                &format!("/v1/orders/{table_one}/merge"),
                json!({"from_order_id": table_two}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = terminal
            .post(
                &format!("/v1/orders/{table_one}/discounts"),
                json!({"percent_bps": 2_000, "reason": "long wait"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        // 12,000 + 20,000 = 32,000, less 20% = 25,600.
        assert_eq!(body["total_minor"], 25_600);
        let (status, paid) = terminal
            .post(
                &format!("/v1/orders/{table_one}/payments"),
                json!({"tender": "cash", "amount_minor": 30_000}),
            )
            .await;
        assert_eq!(status, 201, "{paid}");
        let (status, _) = terminal
            .post(&format!("/v1/orders/{table_one}/close"), json!({}))
            .await;
        assert_eq!(status, 200);

        let order_url = |id: &str| hub.url(&format!("/v1/acme/pos/orders/{id}"));
        let at_hub = eventually(
            std::time::Duration::from_secs(30),
            "the merged bill at the hub",
            || async {
                let (status, order) = hub_request(
                    &client,
                    reqwest::Method::GET,
                    order_url(&table_one),
                    &api_token,
                    None,
                    None,
                )
                .await;
                (status == 200 && order["state"] == "closed").then_some(order)
            },
        )
        .await;
        assert_eq!(at_hub["total_minor"], 25_600, "{at_hub}");
        let (_, source) = hub_request(
            &client,
            reqwest::Method::GET,
            order_url(&table_two),
            &api_token,
            None,
            None,
        )
        .await;
        assert_eq!(source["state"], "merged", "{source}");
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(anomalies, 0, "every bill change folds at the hub");
        let (status, audit) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url("/v1/acme/pos/audit-log"),
            &api_token,
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{audit}");
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["action"].as_str().unwrap())
            .collect();
        for action in [
            "price_override",
            "void_after_send",
            "discount_above_threshold",
        ] {
            assert!(actions.contains(&action), "{action} in {audit}");
        }
    });
    drop(edge);
}
