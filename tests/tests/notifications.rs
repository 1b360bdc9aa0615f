//! When the kitchen finishes a cloud order whose customer left a contact, the hub asks the
//! notifications service (a real HTTP server on loopback) to tell them by the first channel of
//! their choice they gave a contact for (sms, email or push): once, retried under one
//! idempotency key after the service fails; orders without a contact send nothing.
#![allow(clippy::unwrap_used)]

use axum::extract::{Json, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Notifier {
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
}

/// The first call fails (500); the service takes messages after that.
async fn notify(
    State(notifier): State<Notifier>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut calls = notifier.calls.lock().unwrap();
    calls.push((tenant, key.clone(), body));
    if calls.len() == 1 {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({})));
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({"id": format!("msg-{key}")})),
    )
}

async fn cook(terminal: &Terminal<'_>, order: &str) {
    let (status, sent) = terminal
        .post(&format!("/v1/orders/{order}/send"), json!({}))
        .await;
    assert_eq!(status, 201, "{sent}");
    for ticket in sent["tickets"].as_array().unwrap() {
        let (status, bumped) = terminal
            .post(
                &format!(
                    "/v1/kitchen/tickets/{}/actions",
                    ticket["id"].as_str().unwrap()
                ),
                json!({"action": "bump"}),
            )
            .await;
        assert_eq!(status, 200, "{bumped}");
    }
}

#[test]
fn a_ready_cloud_order_tells_its_customer_once_by_their_channel() {
    let driver = runtime();
    let notifier = Notifier::default();
    let notify_url = driver.block_on(async {
        let app = axum::Router::new()
            .route("/v1/{tenant}/notify", post(notify))
            .with_state(notifier.clone());
        serve_loopback(app).await
    });
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.notifications.base_url = Some(notify_url.clone());
        config.notifications.retry_base = Duration::from_millis(100);
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    let shop = driver.block_on(dev_token(&pool, "duka", "service"));
    let store =
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
    let cook_on_duty = edge_node::services::staff::create_staff(
        &store,
        "Otieno",
        "kitchen",
        "4444",
        edge_node::now_ms(),
    )
    .unwrap();
    drop(store);
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };

    driver.block_on(async {
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/duka/pos/outlets/cbd/catalog/items"), &shop,
            Some(json!({"items": [{"id": "sku-chips", "name": "Chips", "category": "food", "price_minor": 25_000,
                                   "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]})), None).await;
        assert_eq!(status, 200, "{body}");
        // Bad contacts are refused, naming the field, and nothing is placed.
        for (customer, field) in [
            (json!({"email": "not-an-address"}), "customer.email"),
            (json!({"phone": "+254700000001", "notify_by": ["fax"]}), "customer.notify_by[0]"),
            (json!({"phone": "+254700000001", "notify_by": ["sms", "sms"]}), "customer.notify_by[1]"),
            (json!({"push_token": "x".repeat(600)}), "customer.push_token"),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::POST, hub.url("/v1/duka/pos/outlets/cbd/orders"), &shop,
                Some(json!({"channel": "click_and_collect", "external_ref": "BAD-1", "customer": customer,
                            "lines": [{"item_id": "sku-chips", "quantity": 1}]})), None).await;
            assert_eq!((status, error["field"].as_str()), (400, Some(field)), "{error}");
        }
        let mut placed = Vec::new();
        for (reference, customer) in [
            ("WEB-1", json!({"name": "Achieng", "phone": "+254712345678"})),
            ("WEB-2", json!({"name": "Walk-in"})),
            ("WEB-3", json!({"name": "Baraka", "email": "baraka@example.co.ke"})),
            ("WEB-4", json!({"name": "Chebet", "phone": "+254722000000", "push_token": "fcm-token-chebet",
                             "email": "chebet@example.co.ke", "notify_by": ["push", "sms"]})),
        ] {
            let (status, order) = hub_request(&client, reqwest::Method::POST, hub.url("/v1/duka/pos/outlets/cbd/orders"), &shop,
                Some(json!({"channel": "click_and_collect", "external_ref": reference, "customer": customer,
                            "lines": [{"item_id": "sku-chips", "quantity": 1}]})), None).await;
            assert_eq!(status, 201, "{order}");
            placed.push(order["order"]["id"].as_str().unwrap().to_owned());
        }
        eventually(Duration::from_secs(20), "the orders reach the kitchen's outlet", || async {
            let (_, list) = terminal.get("/v1/cloud-orders").await;
            (list.as_array().map_or(0, Vec::len) == 4).then_some(())
        })
        .await;
        let (status, session) = terminal
            .post("/v1/staff/sessions", json!({"staff_id": cook_on_duty.id.to_string(), "pin": "4444"}))
            .await;
        assert_eq!(status, 201, "{session}");
        for order in &placed {
            cook(&terminal, order).await;
        }

        // The email and the push token stay at the hub.
        let (_, at_the_till) = terminal.get("/v1/cloud-orders").await;
        assert!(!at_the_till.to_string().contains("example.co.ke") && !at_the_till.to_string().contains("fcm-token"), "{at_the_till}");

        eventually(Duration::from_secs(30), "every customer is told", || async {
            let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications WHERE state = 'sent'").fetch_one(&pool).await.unwrap();
            (sent == 3).then_some(())
        })
        .await;
        let calls = notifier.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 4, "one failure and its retry, and two more: {calls:?}");
        let mut by_reference: std::collections::BTreeMap<String, Vec<(String, Value)>> = Default::default();
        for (tenant, key, body) in &calls {
            assert_eq!(tenant, "duka");
            assert_eq!(body["template"], "order_ready");
            assert!(body["data"]["order_number"].as_u64().unwrap() > 900_000, "{body}");
            by_reference.entry(body["data"]["external_ref"].as_str().unwrap().to_owned()).or_default().push((key.clone(), body.clone()));
        }
        let told = |reference: &str| -> (Option<String>, Option<String>) {
            let messages = &by_reference[reference];
            assert!(messages.iter().all(|(key, _)| *key == messages[0].0), "one message, one key: {messages:?}");
            (messages[0].1["channel"].as_str().map(str::to_owned), messages[0].1["to"].as_str().map(str::to_owned))
        };
        assert_eq!(told("WEB-1"), (Some("sms".into()), Some("+254712345678".into())));
        assert_eq!(told("WEB-3"), (Some("email".into()), Some("baraka@example.co.ke".into())), "no phone: by email");
        assert_eq!(told("WEB-4"), (Some("push".into()), Some("fcm-token-chebet".into())), "the customer's first choice");
        assert!(!by_reference.contains_key("WEB-2"), "no contact, no message");
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications").fetch_one(&pool).await.unwrap();
        assert_eq!(queued, 3, "one message per order with a contact");
    });
}
