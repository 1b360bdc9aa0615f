//! When the kitchen finishes a cloud order whose customer left a phone number, the hub asks the
//! notifications service (a real HTTP server on loopback) to tell them: once, retried under one
//! idempotency key after the service fails; orders without a number send nothing.
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
fn a_ready_cloud_order_texts_its_customer_once() {
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
        let mut placed = Vec::new();
        for (reference, customer) in [("WEB-1", json!({"name": "Achieng", "phone": "+254712345678"})), ("WEB-2", json!({"name": "Walk-in"}))] {
            let (status, order) = hub_request(&client, reqwest::Method::POST, hub.url("/v1/duka/pos/outlets/cbd/orders"), &shop,
                Some(json!({"channel": "click_and_collect", "external_ref": reference, "customer": customer,
                            "lines": [{"item_id": "sku-chips", "quantity": 1}]})), None).await;
            assert_eq!(status, 201, "{order}");
            placed.push(order["order"]["id"].as_str().unwrap().to_owned());
        }
        eventually(Duration::from_secs(20), "the orders reach the kitchen's outlet", || async {
            let (_, list) = terminal.get("/v1/cloud-orders").await;
            (list.as_array().map_or(0, Vec::len) == 2).then_some(())
        })
        .await;
        let (status, session) = terminal
            .post("/v1/staff/sessions", json!({"staff_id": cook_on_duty.id.to_string(), "pin": "4444"}))
            .await;
        assert_eq!(status, 201, "{session}");
        for order in &placed {
            cook(&terminal, order).await;
        }

        let sent = eventually(Duration::from_secs(30), "the customer is told", || async {
            let state: Option<String> = sqlx::query_scalar("SELECT state FROM notifications").fetch_optional(&pool).await.unwrap();
            (state.as_deref() == Some("sent")).then_some(())
        });
        sent.await;
        let calls = notifier.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "one failure, one retry: {calls:?}");
        let key = calls[0].1.clone();
        for (tenant, call_key, body) in &calls {
            assert_eq!((tenant.as_str(), call_key.as_str()), ("duka", key.as_str()), "one message, one key");
            assert_eq!(body["to"], "+254712345678");
            assert_eq!((body["channel"].as_str(), body["template"].as_str()), (Some("sms"), Some("order_ready")));
            assert_eq!(body["data"]["external_ref"], "WEB-1");
            assert!(body["data"]["order_number"].as_u64().unwrap() > 900_000, "{body}");
        }
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications").fetch_one(&pool).await.unwrap();
        assert_eq!(queued, 1, "the order without a number sends nothing");
    });
}
