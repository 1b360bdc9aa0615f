//! The hub and the inventory and logistics services, each a real HTTP server on loopback:
//! a closed sale reports its stock (and the kitchen's waste) to inventory once, retried under
//! one idempotency key; a transfer between outlets goes to inventory; a ready delivery order is
//! handed to logistics with where it goes; and the services' signed webhooks
//! (`inventory.low_stock`, `logistics.task.assigned`, `logistics.status.changed`) are applied
//! once, in order, and raised as events.
#![allow(clippy::unwrap_used)]

use axum::extract::{Json, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const INVENTORY_SECRET: &str = "inventory-webhook-secret";
const LOGISTICS_SECRET: &str = "logistics-webhook-secret";

/// Calls a service received: (path, idempotency key, body). Its first call fails with 503.
#[derive(Clone, Default)]
struct Service {
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
}

impl Service {
    fn calls(&self) -> Vec<(String, String, Value)> {
        self.calls.lock().unwrap().clone()
    }
}

async fn take(
    State(service): State<Service>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut calls = service.calls.lock().unwrap();
    calls.push((uri.path().to_owned(), key.clone(), body));
    if calls.len() == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    (
        StatusCode::CREATED,
        Json(json!({"id": format!("ref-{key}")})),
    )
}

async fn handoff(
    state: State<Service>,
    Path((_tenant, _order)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Json<Value>,
) -> (StatusCode, Json<Value>) {
    take(state, uri, headers, body).await
}

async fn webhook(
    client: &reqwest::Client,
    hub: &RunningHub,
    path: &str,
    secret: &str,
    body: &Value,
) -> (u16, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    let signature = cloud_hub::events::signing::sign(secret, edge_node::now_ms() / 1000, &raw);
    let response = client
        .post(hub.url(path))
        .header("kibanda-signature", signature)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn outbox_count(pool: &sqlx::PgPool, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[test]
fn sales_transfers_and_deliveries_reach_inventory_and_logistics_and_their_reports_come_back() {
    let driver = runtime();
    let inventory = Service::default();
    let logistics = Service::default();
    let (inventory_url, logistics_url) = driver.block_on(async {
        let inventory_app = axum::Router::new()
            .route("/v1/{tenant}/inventory/consumption", post(take))
            .route("/v1/{tenant}/transfers", post(take))
            .with_state(inventory.clone());
        let logistics_app = axum::Router::new()
            .route("/v1/{tenant}/handoff/{order}", post(handoff))
            .with_state(logistics.clone());
        (
            serve_loopback(inventory_app).await,
            serve_loopback(logistics_app).await,
        )
    });
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.services.inventory_url = Some(inventory_url.clone());
        config.services.logistics_url = Some(logistics_url.clone());
        config.services.inventory_webhook_secret = Some(INVENTORY_SECRET.into());
        config.services.logistics_webhook_secret = Some(LOGISTICS_SECRET.into());
        config.services.retry_base = Duration::from_millis(100);
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    driver.block_on(outlet_with_code(&pool, "duka", "westlands"));
    let manager = driver.block_on(dev_token(&pool, "duka", "manager"));
    let shop = driver.block_on(dev_token(&pool, "duka", "service"));
    let staff = {
        let store = edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE))
            .unwrap();
        edge_node::services::staff::create_staff(&store, "Otieno", "manager", "4444", 1).unwrap()
    };
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };

    driver.block_on(async {
        let (status, _) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": staff.id.to_string(), "pin": "4444"}),
            )
            .await;
        assert_eq!(status, 201);

        // ---- a sale at the till: two samosas sold, one chai made and thrown away ----
        let (_, order) = terminal
            .post("/v1/orders", json!({"type": "take_out"}))
            .await;
        let sale = order["id"].as_str().unwrap().to_owned();
        terminal
            .post(
                &format!("/v1/orders/{sale}/lines"),
                json!({"item_id": "sku-samosa", "quantity": 2}),
            )
            .await;
        let (_, body) = terminal
            .post(
                &format!("/v1/orders/{sale}/lines"),
                json!({"item_id": "sku-chai"}),
            )
            .await;
        let chai = body["lines"][1]["id"].as_str().unwrap().to_owned();
        let (status, _) = terminal
            .post(&format!("/v1/orders/{sale}/send"), json!({}))
            .await;
        assert_eq!(status, 201);
        let (status, body) = terminal
            .post(
                &format!("/v1/orders/{sale}/lines/{chai}/void"),
                json!({"reason": "spilled"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = terminal
            .post(
                &format!("/v1/orders/{sale}/payments"),
                json!({"tender": "cash", "amount_minor": 16_000}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, _) = terminal
            .post(&format!("/v1/orders/{sale}/close"), json!({}))
            .await;
        assert_eq!(status, 200);

        eventually(Duration::from_secs(30), "inventory takes the consumption", || async {
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM service_calls WHERE kind = 'consumption'",
            )
            .fetch_optional(&pool)
            .await
            .unwrap();
            (state.as_deref() == Some("sent")).then_some(())
        })
        .await;
        let calls = inventory.calls();
        assert_eq!(calls.len(), 2, "one failure, one retry: {calls:?}");
        assert_eq!(calls[0].1, calls[1].1, "one call, one idempotency key");
        let (path, _, body) = &calls[1];
        assert_eq!(path, "/v1/duka/inventory/consumption");
        assert_eq!(body["order_id"], sale.as_str());
        assert_eq!(body["outlet"], "cbd");
        assert_eq!(body["lines"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["lines"][0]["item_id"], "sku-samosa");
        assert_eq!(body["lines"][0]["quantity"], 2);
        assert_eq!(body["waste"][0]["item_id"], "sku-chai", "{body}");

        // ---- a transfer between outlets ----
        let transfers = hub.url("/v1/duka/pos/transfers");
        for (bad, field) in [
            (json!({"from_outlet": "cbd", "to_outlet": "cbd", "lines": [{"item_id": "sku-chai", "quantity": 1}]}), "to_outlet"),
            (json!({"from_outlet": "cbd", "to_outlet": "nowhere", "lines": [{"item_id": "sku-chai", "quantity": 1}]}), "to_outlet"),
            (json!({"from_outlet": "cbd", "to_outlet": "westlands", "lines": [{"item_id": "sku-chai", "quantity": 0}]}), "lines[0].quantity"),
            (json!({"from_outlet": "cbd", "to_outlet": "westlands", "lines": []}), "lines"),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::POST, transfers.clone(), &manager, Some(bad), None).await;
            assert_eq!(status, 400, "{error}");
            assert_eq!(error["field"], field, "{error}");
        }
        let (status, error) = hub_request(&client, reqwest::Method::POST, transfers.clone(),
            &dev_token(&pool, "duka", "kitchen").await,
            Some(json!({"from_outlet": "cbd", "to_outlet": "westlands", "lines": [{"item_id": "sku-chai", "quantity": 1}]})), None).await;
        assert_eq!(status, 403, "{error}");
        let request = json!({"from_outlet": "cbd", "to_outlet": "westlands", "note": "weekend stock",
            "lines": [{"item_id": "sku-milk", "quantity": 5_000, "unit": "ml"}, {"item_id": "sku-mandazi", "quantity": 40}]});
        let (status, transfer) = hub_request(&client, reqwest::Method::POST, transfers.clone(), &manager, Some(request.clone()), Some("tr-1")).await;
        assert_eq!(status, 201, "{transfer}");
        let (status, again) = hub_request(&client, reqwest::Method::POST, transfers.clone(), &manager, Some(request), Some("tr-1")).await;
        assert_eq!((status, &again["id"]), (201, &transfer["id"]), "a retried request records one transfer");
        let transfer_id = transfer["id"].as_str().unwrap().to_owned();
        let sent = eventually(Duration::from_secs(30), "inventory takes the transfer", || async {
            let (_, read) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/duka/pos/transfers/{transfer_id}")), &manager, None, None).await;
            (read["state"] == "sent").then_some(read)
        })
        .await;
        assert_eq!(sent["lines"][0]["unit"], "ml");
        let transfer_calls: Vec<_> = inventory.calls().into_iter().filter(|(path, ..)| path == "/v1/duka/transfers").collect();
        assert_eq!(transfer_calls.len(), 1, "{transfer_calls:?}");
        assert_eq!(transfer_calls[0].2["from_outlet"], "cbd");
        assert_eq!(transfer_calls[0].2["to_outlet"], "westlands");
        assert_eq!(transfer_calls[0].2["lines"][1]["quantity"], 40);

        // ---- a delivery order: ready at the outlet, handed to logistics ----
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/duka/pos/outlets/cbd/catalog/items"), &shop,
            Some(json!({"items": [{"id": "sku-chips", "name": "Chips", "category": "food", "price_minor": 25_000,
                                   "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]})), None).await;
        assert_eq!(status, 200, "{body}");
        let (status, placed) = hub_request(&client, reqwest::Method::POST, hub.url("/v1/duka/pos/outlets/cbd/orders"), &shop,
            Some(json!({"channel": "delivery", "external_ref": "GLOVO-77",
                "customer": {"name": "Achieng", "phone": "+254712345678", "address": "Kilimani, Argwings Kodhek Rd 12"},
                "lines": [{"item_id": "sku-chips", "quantity": 3}]})), None).await;
        assert_eq!(status, 201, "{placed}");
        let delivery_id = placed["order"]["id"].as_str().unwrap().to_owned();
        eventually(Duration::from_secs(20), "the order reaches the outlet", || async {
            let (_, list) = terminal.get("/v1/cloud-orders").await;
            (list.as_array().map_or(0, Vec::len) == 1).then_some(())
        })
        .await;
        let (status, sent) = terminal.post(&format!("/v1/orders/{delivery_id}/send"), json!({})).await;
        assert_eq!(status, 201, "{sent}");
        for ticket in sent["tickets"].as_array().unwrap() {
            let (status, bumped) = terminal
                .post(&format!("/v1/kitchen/tickets/{}/actions", ticket["id"].as_str().unwrap()), json!({"action": "bump"}))
                .await;
            assert_eq!(status, 200, "{bumped}");
        }
        eventually(Duration::from_secs(30), "logistics takes the handoff", || async {
            let state: Option<String> = sqlx::query_scalar("SELECT state FROM service_calls WHERE kind = 'handoff'")
                .fetch_optional(&pool).await.unwrap();
            (state.as_deref() == Some("sent")).then_some(())
        })
        .await;
        let calls = logistics.calls();
        assert_eq!(calls.len(), 2, "one failure, one retry: {calls:?}");
        assert_eq!(calls[0].1, calls[1].1);
        let (path, _, body) = &calls[1];
        assert_eq!(path, &format!("/v1/duka/handoff/{delivery_id}"));
        assert_eq!(body["external_ref"], "GLOVO-77");
        assert_eq!(body["pickup"]["outlet"], "cbd");
        assert_eq!(body["customer"]["phone"], "+254712345678");
        assert_eq!(body["dropoff"]["address"], "Kilimani, Argwings Kodhek Rd 12");
        let order_url = hub.url(&format!("/v1/duka/pos/orders/{delivery_id}"));
        let (_, order) = hub_request(&client, reqwest::Method::GET, order_url.clone(), &manager, None, None).await;
        assert_eq!(order["delivery"]["status"], "requested", "{order}");

        // ---- logistics reports back ----
        let events = "/v1/duka/pos/integrations/logistics/events";
        let now = edge_node::now_ms();
        let assigned = json!({"event_id": "lg-1", "type": "logistics.task.assigned", "order_id": delivery_id,
            "task_id": "task-9", "rider": {"name": "Kamau", "phone": "+254700000001"}, "eta_ms": now + 1_800_000,
            "occurred_at_ms": now});
        let (status, result) = webhook(&client, &hub, events, LOGISTICS_SECRET, &assigned).await;
        assert_eq!((status, result["outcome"].as_str()), (200, Some("applied")), "{result}");
        let (status, result) = webhook(&client, &hub, events, LOGISTICS_SECRET, &assigned).await;
        assert_eq!((status, result["outcome"].as_str()), (200, Some("duplicate")), "{result}");
        let (status, error) = webhook(&client, &hub, events, "not-the-secret", &assigned).await;
        assert_eq!((status, error["code"].as_str()), (401, Some("bad_signature")));
        let delivered = json!({"event_id": "lg-3", "type": "logistics.status.changed", "order_id": delivery_id,
            "task_id": "task-9", "status": "delivered", "occurred_at_ms": now + 2_000});
        let (status, result) = webhook(&client, &hub, events, LOGISTICS_SECRET, &delivered).await;
        assert_eq!((status, result["outcome"].as_str()), (200, Some("applied")), "{result}");
        // A report that arrives late, after a newer one, changes nothing.
        let picked_up = json!({"event_id": "lg-2", "type": "logistics.status.changed", "order_id": delivery_id,
            "task_id": "task-9", "status": "picked_up", "occurred_at_ms": now + 1_000});
        let (status, result) = webhook(&client, &hub, events, LOGISTICS_SECRET, &picked_up).await;
        assert_eq!((status, result["outcome"].as_str()), (200, Some("ignored")), "{result}");
        let bad = json!({"event_id": "lg-4", "type": "logistics.status.changed", "order_id": delivery_id,
            "task_id": "task-9", "status": "teleported", "occurred_at_ms": now + 3_000});
        let (status, error) = webhook(&client, &hub, events, LOGISTICS_SECRET, &bad).await;
        assert_eq!((status, error["field"].as_str()), (400, Some("status")), "{error}");
        let unknown = json!({"event_id": "lg-5", "type": "logistics.task.assigned", "order_id": uuid::Uuid::now_v7(),
            "task_id": "task-10", "occurred_at_ms": now});
        let (status, _) = webhook(&client, &hub, events, LOGISTICS_SECRET, &unknown).await;
        assert_eq!(status, 404, "a task for an order never handed off");
        let (_, order) = hub_request(&client, reqwest::Method::GET, order_url, &manager, None, None).await;
        assert_eq!(order["delivery"]["status"], "delivered", "{order}");
        assert_eq!(order["delivery"]["rider_name"], "Kamau");
        assert_eq!(order["delivery"]["task_id"], "task-9");
        assert_eq!(outbox_count(&pool, "pos.order.delivery_updated").await, 2);

        // ---- inventory reports low stock ----
        let low = json!({"event_id": "inv-1", "type": "inventory.low_stock", "outlet": "cbd", "item_id": "sku-samosa",
            "on_hand": 4, "reorder_level": 20, "occurred_at_ms": now});
        let stock_events = "/v1/duka/pos/integrations/inventory/events";
        let (status, result) = webhook(&client, &hub, stock_events, INVENTORY_SECRET, &low).await;
        assert_eq!((status, result["outcome"].as_str()), (200, Some("applied")), "{result}");
        let (status, result) = webhook(&client, &hub, stock_events, INVENTORY_SECRET, &low).await;
        assert_eq!((status, result["outcome"].as_str()), (200, Some("duplicate")), "{result}");
        let (status, _) = webhook(&client, &hub, stock_events, LOGISTICS_SECRET, &low).await;
        assert_eq!(status, 401, "each service signs with its own secret");
        let (status, alerts) = hub_request(&client, reqwest::Method::GET, hub.url("/v1/duka/pos/stock-alerts?outlet=cbd"), &manager, None, None).await;
        assert_eq!(status, 200, "{alerts}");
        assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
        assert_eq!(alerts[0]["item_id"], "sku-samosa");
        assert_eq!(alerts[0]["on_hand"], 4);
        assert_eq!(outbox_count(&pool, "pos.inventory.low_stock").await, 1);
    });
    drop(edge);
}

#[test]
fn an_inventory_service_that_never_answers_fails_the_call_after_its_attempts_and_says_so() {
    let driver = runtime();
    // A port nothing listens on: every attempt is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.services.inventory_url = Some(dead_url.clone());
        config.services.retry_base = Duration::from_millis(50);
        config.services.attempts_max = 3;
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    let manager = driver.block_on(dev_token(&pool, "duka", "manager"));
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    driver.block_on(async {
        let closed = terminal.sell(&[("sku-chai", 1)]).await;
        let sale = closed["id"].as_str().unwrap().to_owned();
        let (state, attempts, detail) =
            eventually(Duration::from_secs(30), "the call is given up", || async {
                let row: Option<(String, i32, String)> = sqlx::query_as(
                    "SELECT state, attempts, detail FROM service_calls WHERE kind = 'consumption'",
                )
                .fetch_optional(&pool)
                .await
                .unwrap();
                row.filter(|(state, ..)| state == "failed")
            })
            .await;
        assert_eq!((state.as_str(), attempts), ("failed", 3), "{detail}");
        let (status, events) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url("/v1/duka/integrations/events"),
            &manager,
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{events}");
        let failed: Vec<&Value> = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["provider"] == "inventory" && event["outcome"] == "failed")
            .collect();
        assert_eq!(failed.len(), 1, "{events}");
        // The sale itself is safe at the hub whatever inventory does.
        let (status, order) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url(&format!("/v1/duka/pos/orders/{sale}")),
            &manager,
            None,
            None,
        )
        .await;
        assert_eq!(
            (status, order["state"].as_str()),
            (200, Some("closed")),
            "{order}"
        );
    });
    drop(edge);
}
