//! The LAN API as a terminal sees it: `oneshot` requests against the real router and a real
//! SQLite store in a temporary directory.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use edge_node::api::{AppState, router};
use edge_node::store::Store;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct TestEdge {
    router: Router,
    token: String,
    store: Arc<Store>,
    ops_before: u64,
    _dir: tempfile::TempDir,
}

fn edge() -> TestEdge {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("edge.sqlite")).unwrap());
    edge_node::services::catalog::seed_demo_if_empty(&store).unwrap();
    let (_, token) = edge_node::services::devices::pair(&store, "till-1", 0).unwrap();
    let state = AppState::new(
        store.clone(),
        shared_model::Currency::kes(),
        "Test cafe".into(),
        edge_node::printers::queue::PrintQueueLimits::default(),
    )
    .unwrap();
    // Pairing the terminal is itself an op (the device list syncs to the hub); the tests below
    // count the ops the sale writes after it.
    let ops_before = store.outbox_status().unwrap().last_seq;
    TestEdge {
        router: router(state),
        token,
        store,
        ops_before,
        _dir: dir,
    }
}

impl TestEdge {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_raw(method, path, body.map(|b| b.to_string()), Some(&self.token))
            .await
    }

    async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body)),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn open(&self) -> String {
        let (status, order) = self
            .call("POST", "/v1/orders", Some(json!({"type": "take_out"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        order["id"].as_str().unwrap().to_owned()
    }

    fn op_count(&self) -> u64 {
        self.store.outbox_status().unwrap().last_seq - self.ops_before
    }
}

#[tokio::test]
async fn a_cash_sale_goes_from_open_to_receipt() {
    let edge = edge();
    let (status, items) = edge.call("GET", "/v1/catalog/items", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "sku-cappuccino")
    );

    let id = edge.open().await;
    let (status, order) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-cappuccino", "quantity": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["total_minor"], 60_000);
    assert_eq!(order["tax_minor"], 8_276);
    assert_eq!(order["taxes"][0]["code"], "VAT16");

    let (status, paid) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/payments"),
            Some(json!({"tender": "cash", "amount_minor": 100_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(paid["change_due_minor"], 40_000);
    assert_eq!(paid["order"]["state"], "paid");

    let (status, closed) = edge
        .call("POST", &format!("/v1/orders/{id}/close"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(closed["state"], "closed");

    let (status, receipt) = edge
        .call("GET", &format!("/v1/orders/{id}/receipt"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = receipt["text"].as_str().unwrap();
    assert!(
        text.contains("2 x Cappuccino") && text.contains("CHANGE") && text.contains("400.00"),
        "{text}"
    );
    // open, line, payment, close: four durable ops for the hub.
    assert_eq!(edge.op_count(), 4);
}

#[tokio::test]
async fn requests_without_a_paired_device_token_are_refused() {
    let edge = edge();
    let (status, body) = edge.call_raw("GET", "/v1/catalog/items", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = edge
        .call_raw(
            "POST",
            "/v1/orders",
            Some(json!({"type":"take_out"}).to_string()),
            Some("kbd_0000"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(edge.op_count(), 0);
    // Health and the API description stay open for discovery.
    let (status, _) = edge.call_raw("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, doc) = edge.call_raw("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/v1/orders/{id}/payments"].is_object());
}

#[tokio::test]
async fn bad_input_gets_a_structured_error_and_changes_nothing() {
    let edge = edge();
    let id = edge.open().await;
    let before = edge.op_count();
    let cases: Vec<(&str, String, Option<String>, StatusCode, &str)> = vec![
        (
            "POST",
            "/v1/orders".into(),
            Some(json!({"type": "picnic"}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/orders".into(),
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "POST",
            "/v1/orders".into(),
            Some(json!({"type": "take_out", "extra": 1}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "POST",
            format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-nothing", "quantity": 1}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_item",
        ),
        (
            "POST",
            format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-chai", "quantity": 0}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "POST",
            format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-chai", "quantity": 1_000_000}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "POST",
            format!("/v1/orders/{id}/payments"),
            Some(json!({"tender": "cash", "amount_minor": 100}).to_string()),
            StatusCode::CONFLICT,
            "order_empty",
        ),
        (
            "POST",
            format!("/v1/orders/{id}/payments"),
            Some(json!({"tender": "bitcoin", "amount_minor": 100}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "POST",
            format!("/v1/orders/{id}/close"),
            None,
            StatusCode::CONFLICT,
            "order_not_paid",
        ),
        (
            "GET",
            "/v1/orders/not-a-uuid".into(),
            None,
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            "GET",
            format!("/v1/orders/{}", uuid::Uuid::now_v7()),
            None,
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            "POST",
            "/v1/orders".into(),
            Some(format!("{{\"type\": \"{}\"}}", "x".repeat(100_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (method, path, body, expected_status, expected_code) in cases {
        let (status, error) = edge.call_raw(method, &path, body, Some(&edge.token)).await;
        assert_eq!(status, expected_status, "{method} {path}: {error}");
        assert_eq!(error["code"], expected_code, "{method} {path}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(edge.op_count(), before, "refused requests wrote nothing");
    let (_, order) = edge.call("GET", &format!("/v1/orders/{id}"), None).await;
    assert_eq!(order["lines"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn two_terminals_paying_one_order_at_once_cannot_overpay_it() {
    let edge = Arc::new(edge());
    let id = edge.open().await;
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/lines"),
        Some(json!({"item_id": "sku-chai", "quantity": 1})),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let edge = edge.clone();
        let path = format!("/v1/orders/{id}/payments");
        tasks.push(tokio::spawn(async move {
            edge.call(
                "POST",
                &path,
                Some(json!({"tender": "card", "amount_minor": 15_000})),
            )
            .await
            .0
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::CREATED {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1, "exactly one full card payment is taken");
    let (_, order) = edge.call("GET", &format!("/v1/orders/{id}"), None).await;
    assert_eq!(order["paid_minor"], 15_000);
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_outbox_keeps_a_gap_free_hash_chain() {
    let edge = edge();
    for _ in 0..5 {
        let id = edge.open().await;
        edge.call(
            "POST",
            &format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-chai", "quantity": 1})),
        )
        .await;
    }
    let ops = edge.store.ops_from(1, 100).unwrap();
    assert_eq!(ops.len() as u64, 10 + edge.ops_before);
    let mut prev = sync_protocol::op::GENESIS_HASH;
    for (index, op) in ops.iter().enumerate() {
        assert_eq!(op.seq, index as u64 + 1);
        assert_eq!(op.prev_hash, prev);
        prev = op.chain_hash();
    }
    assert!(ops.windows(2).all(|pair| pair[0].hlc < pair[1].hlc));
}
