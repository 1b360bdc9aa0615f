//! Card and M-Pesa payments through the treasury, against a real HTTP server on loopback that
//! plays the treasury's part: a capture, a decline, an outage (retried with the same
//! idempotency key), a prompt that times out and is confirmed late (after the customer paid
//! cash), duplicate and forged callbacks. Each payment is reconciled exactly once; a late
//! capture of a settled order is flagged for a refund, never added twice.
#![allow(clippy::unwrap_used)]

use axum::extract::{Json, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "treasury-shared-secret";

/// What the fake treasury saw: (tenant, idempotency key, body).
#[derive(Clone, Default)]
struct Treasury {
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
}

async fn payments(
    State(treasury): State<Treasury>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let msisdn = body["msisdn"].as_str().unwrap_or_default().to_owned();
    let attempts = {
        let mut calls = treasury.calls.lock().unwrap();
        calls.push((tenant, key.clone(), body.clone()));
        calls.iter().filter(|(_, k, _)| *k == key).count()
    };
    match msisdn.as_str() {
        // Down for the first two calls.
        "254700000001" if attempts <= 2 => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({}))),
        "254700000002" => (
            StatusCode::PAYMENT_REQUIRED,
            Json(json!({"reason": "insufficient funds"})),
        ),
        _ => (
            StatusCode::ACCEPTED,
            Json(json!({"payment_id": format!("trs-{key}"), "status": "pending"})),
        ),
    }
}

/// The treasury's records of M-Pesa receipt codes: one payment of 150.00 it knows.
async fn receipts(
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    match query.get("mpesa_receipt").map(String::as_str) {
        Some("QJK3H7X9TB") => (
            StatusCode::OK,
            Json(json!({"payment_id": "trs-rcpt-1", "amount_minor": 15_000, "status": "captured"})),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"reason": "no such receipt"})),
        ),
    }
}

async fn intent_state(terminal: &Terminal<'_>, id: &str) -> Value {
    terminal.get(&format!("/v1/payment-intents/{id}")).await.1
}

async fn wait_for_state(terminal: &Terminal<'_>, id: &str, state: &str) -> Value {
    eventually(
        Duration::from_secs(20),
        &format!("intent {id} {state}"),
        || async {
            let intent = intent_state(terminal, id).await;
            (intent["state"] == state).then_some(intent)
        },
    )
    .await
}

/// An open take-out order with one 150.00 chai; returns its id.
async fn chai_order(terminal: &Terminal<'_>) -> String {
    let (_, order) = terminal
        .post("/v1/orders", json!({"type": "take_out"}))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, _) = terminal
        .post(
            &format!("/v1/orders/{id}/lines"),
            json!({"item_id": "sku-chai"}),
        )
        .await;
    assert_eq!(status, 201);
    id
}

#[test]
fn treasury_payments_are_reconciled_exactly_once() {
    let driver = runtime();
    let treasury = Treasury::default();
    let treasury_url = driver.block_on(async {
        let app = axum::Router::new()
            .route("/v1/{tenant}/payments", post(payments).get(receipts))
            .with_state(treasury.clone());
        serve_loopback(app).await
    });
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.treasury.base_url = Some(treasury_url.clone());
        config.treasury.webhook_secret = Some(SECRET.into());
        config.treasury.prompt_timeout = Duration::from_secs(2);
        config.treasury.retry_base = Duration::from_millis(100);
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "kahawa", "cbd");
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "kahawa", "manager"));

    driver.block_on(async {
        eventually(Duration::from_secs(20), "the edge connects", || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (status["connected"] == true).then_some(())
        })
        .await;

        // 1. An STK push, captured; the callback repeated and forged.
        let order = chai_order(&terminal).await;
        let intents = format!("/v1/orders/{order}/payment-intents");
        for (body, field) in [
            (json!({"method": "mpesa_stk", "phone": "12345", "amount_minor": 15_000}), "phone"),
            (json!({"method": "mpesa_stk", "amount_minor": 15_000}), "phone"),
            (json!({"method": "bitcoin", "amount_minor": 15_000}), "method"),
            (json!({"method": "mpesa_stk", "phone": "0712345678", "amount_minor": 15_001}), "amount_minor"),
            (json!({"method": "mpesa_stk", "phone": "0712345678", "amount_minor": 0}), "amount_minor"),
        ] {
            let (status, error) = terminal.post(&intents, body.clone()).await;
            assert_eq!((status, error["field"].as_str()), (422, Some(field)), "{body}: {error}");
        }
        let (status, intent) = terminal
            .post(&intents, json!({"method": "mpesa_stk", "phone": "0712 345 678", "amount_minor": 15_000}))
            .await;
        assert_eq!(status, 202, "{intent}");
        assert_eq!(intent["state"], "requested");
        let intent_id = intent["id"].as_str().unwrap().to_owned();
        // One prompt per order at a time.
        let (status, error) = terminal
            .post(&intents, json!({"method": "mpesa_stk", "phone": "0712345678", "amount_minor": 15_000}))
            .await;
        assert_eq!((status, error["code"].as_str()), (409, Some("payment_pending")), "{error}");
        let prompted = wait_for_state(&terminal, &intent_id, "prompted").await;
        assert_eq!(prompted["provider_ref"], format!("trs-{intent_id}"));
        {
            let calls = treasury.calls.lock().unwrap();
            let (tenant, key, body) = calls.iter().find(|(_, k, _)| *k == intent_id).unwrap();
            assert_eq!((tenant.as_str(), body["msisdn"].as_str(), body["amount_minor"].as_i64()),
                ("kahawa", Some("254712345678"), Some(15_000)));
            assert_eq!(body["outlet"], "cbd");
            assert_eq!(key, &intent_id);
        }
        let captured = json!({"event_id": "evt-1", "type": "payment_captured", "intent_id": intent_id,
            "payment_id": format!("trs-{intent_id}"), "amount_minor": 15_000, "receipt": "QJK3H7X9TZ"});
        let (status, forged) = treasury_callback(&client, &hub, "kahawa", captured.clone(), "not-the-secret").await;
        assert_eq!((status, forged["code"].as_str()), (401, Some("bad_signature")), "{forged}");
        let mut wrong_amount = captured.clone();
        wrong_amount["amount_minor"] = json!(1_500);
        wrong_amount["event_id"] = json!("evt-wrong");
        let (status, error) = treasury_callback(&client, &hub, "kahawa", wrong_amount, SECRET).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("amount_mismatch")), "{error}");
        let (status, applied) = treasury_callback(&client, &hub, "kahawa", captured.clone(), SECRET).await;
        assert_eq!((status, applied["outcome"].as_str()), (200, Some("applied")), "{applied}");
        let (status, again) = treasury_callback(&client, &hub, "kahawa", captured.clone(), SECRET).await;
        assert_eq!((status, again["outcome"].as_str()), (200, Some("duplicate")), "{again}");
        let mut resent = captured.clone();
        resent["event_id"] = json!("evt-1-resent");
        let (_, resent) = treasury_callback(&client, &hub, "kahawa", resent, SECRET).await;
        assert_eq!(resent["outcome"], "ignored", "{resent}");
        let captured_intent = wait_for_state(&terminal, &intent_id, "captured").await;
        assert_eq!(captured_intent["receipt"], "QJK3H7X9TZ");
        let (_, paid) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!((paid["paid_minor"].as_i64(), paid["balance_due_minor"].as_i64()), (Some(15_000), Some(0)), "{paid}");
        assert_eq!(paid["payments"].as_array().unwrap().len(), 1);
        assert_eq!(paid["payments"][0]["tender"], "mpesa");
        let (status, _) = terminal.post(&format!("/v1/orders/{order}/close"), json!({})).await;
        assert_eq!(status, 200);
        // The hub's record agrees: one capture, one payment on the order.
        let (status, at_hub) = {
            let response = client
                .get(hub.url(&format!("/v1/kahawa/pos/payment-intents/{intent_id}")))
                .bearer_auth(&jwt)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        };
        assert_eq!((status, at_hub["state"].as_str(), at_hub["attempts"].as_i64()), (200, Some("captured"), Some(0)), "{at_hub}");
        let paid_at_hub = eventually(Duration::from_secs(20), "the hub sees the order closed", || {
            let pool = pool.clone();
            let order = order.clone();
            async move {
                let (state, paid): (String, i64) = sqlx::query_as(
                    "SELECT state, paid_minor FROM orders WHERE id = $1::uuid",
                )
                .bind(&order)
                .fetch_optional(&pool)
                .await
                .ok()??;
                (state == "closed").then_some(paid)
            }
        })
        .await;
        assert_eq!(paid_at_hub, 15_000, "paid once at the hub too");

        // 2. A decline reaches the till with its reason; the order stays payable.
        let order = chai_order(&terminal).await;
        let (_, intent) = terminal
            .post(&format!("/v1/orders/{order}/payment-intents"), json!({"method": "mpesa_stk", "phone": "0700000002", "amount_minor": 15_000}))
            .await;
        let declined = wait_for_state(&terminal, intent["id"].as_str().unwrap(), "failed").await;
        assert!(declined["detail"].as_str().unwrap().contains("insufficient funds"), "{declined}");

        // 3. The treasury is down twice, then answers: retried with the same idempotency key.
        let (status, intent) = terminal
            .post(&format!("/v1/orders/{order}/payment-intents"), json!({"method": "mpesa_stk", "phone": "0700000001", "amount_minor": 15_000}))
            .await;
        assert_eq!(status, 202, "a failed prompt does not block a new one: {intent}");
        let retried_id = intent["id"].as_str().unwrap().to_owned();
        wait_for_state(&terminal, &retried_id, "prompted").await;
        let keys: Vec<String> = treasury.calls.lock().unwrap().iter()
            .filter(|(_, _, body)| body["msisdn"] == "254700000001")
            .map(|(_, key, _)| key.clone()).collect();
        assert_eq!(keys, vec![retried_id.clone(); 3], "three calls, one payment");

        // 4. That prompt times out; the customer pays cash; then the treasury confirms late.
        let timed_out = wait_for_state(&terminal, &retried_id, "timed_out").await;
        assert!(timed_out["detail"].as_str().unwrap().contains("reconciled"), "{timed_out}");
        let (status, _) = terminal
            .post(&format!("/v1/orders/{order}/payments"), json!({"tender": "cash", "amount_minor": 20_000}))
            .await;
        assert_eq!(status, 201);
        let late = json!({"event_id": "evt-late", "type": "payment_captured", "intent_id": retried_id,
            "payment_id": format!("trs-{retried_id}"), "amount_minor": 15_000, "receipt": "QJK3H7X9TA"});
        let (_, applied) = treasury_callback(&client, &hub, "kahawa", late, SECRET).await;
        assert_eq!(applied["outcome"], "applied", "a late confirmation is never lost: {applied}");
        let flagged = wait_for_state(&terminal, &retried_id, "captured").await;
        assert!(flagged["attention"].as_str().unwrap().contains("refund"), "{flagged}");
        let (_, to_refund) = terminal.get("/v1/payment-intents?attention=true").await;
        assert_eq!(to_refund.as_array().unwrap().len(), 1);
        assert_eq!(to_refund[0]["id"], retried_id.as_str());
        let (_, settled) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(settled["payments"].as_array().unwrap().len(), 1, "paid once, in cash: {settled}");
        assert_eq!(settled["paid_minor"], 15_000);
        // Managers at the hub see the conflict the rule resolved.
        let replay = eventually(Duration::from_secs(20), "the late capture is recorded at the hub", || async {
            let response = client.get(hub.url("/v1/kahawa/pos/offline-event-replay")).bearer_auth(&jwt).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            (body.as_array().is_some_and(|records| !records.is_empty())).then_some(body)
        })
        .await;
        assert_eq!(replay[0]["rule"], "late_payment_capture", "{replay}");
        assert_eq!(replay[0]["resolution"], "refund_requested");
        assert_eq!(replay[0]["order_id"], order.as_str());
        assert_eq!(replay[0]["detail"]["amount_minor"], 15_000);

        // 5. M-Pesa paid to the till from the customer's phone: the cashier types the receipt
        // code; the order is paid at once and the hub confirms it against the treasury.
        let order = chai_order(&terminal).await;
        let receipts_route = format!("/v1/orders/{order}/mpesa-receipts");
        let (status, error) = terminal.post(&receipts_route, json!({"receipt_code": "bad", "amount_minor": 15_000})).await;
        assert_eq!((status, error["field"].as_str()), (422, Some("receipt_code")), "{error}");
        let (status, recorded) = terminal.post(&receipts_route, json!({"receipt_code": "qjk3h7x9tb", "amount_minor": 15_000})).await;
        assert_eq!(status, 201, "{recorded}");
        assert_eq!(recorded["order"]["balance_due_minor"], 0);
        let confirmed = wait_for_state(&terminal, recorded["intent"]["id"].as_str().unwrap(), "captured").await;
        assert_eq!((confirmed["detail"].as_str(), confirmed["attention"].as_str()), (Some("confirmed by the treasury"), None), "{confirmed}");
        let (_, still) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(still["payments"].as_array().unwrap().len(), 1, "confirmed, not paid twice: {still}");
        let (status, error) = terminal.post(&format!("/v1/orders/{}/mpesa-receipts", chai_order(&terminal).await), json!({"receipt_code": "QJK3H7X9TB", "amount_minor": 15_000})).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("receipt_already_used")), "{error}");
        // A code the treasury never saw is flagged for a manager (after a few looks).
        let order = chai_order(&terminal).await;
        let (status, recorded) = terminal.post(&format!("/v1/orders/{order}/mpesa-receipts"), json!({"receipt_code": "QJK3H7X9TC", "amount_minor": 15_000})).await;
        assert_eq!(status, 201, "{recorded}");
        let unknown = wait_for_state(&terminal, recorded["intent"]["id"].as_str().unwrap(), "failed").await;
        assert!(unknown["attention"].as_str().unwrap().contains("not confirmed"), "{unknown}");
        let (_, attention) = terminal.get("/v1/payment-intents?attention=true").await;
        assert_eq!(attention.as_array().unwrap().len(), 2, "{attention}");

        // 6. A callback for an intent the hub never made, or of an unknown type, changes nothing.
        let (status, _) = treasury_callback(&client, &hub, "kahawa", json!({"type": "payment_captured", "intent_id": uuid::Uuid::now_v7(), "amount_minor": 1}), SECRET).await;
        assert_eq!(status, 404);
        let (status, error) = treasury_callback(&client, &hub, "kahawa", json!({"type": "payment_refunded", "intent_id": retried_id}), SECRET).await;
        assert_eq!((status, error["field"].as_str()), (400, Some("type")), "{error}");

        // The integrations monitor shows the outage, the duplicate and what was applied.
        let monitor = |query: &'static str, token: String| {
            let client = client.clone();
            let url = hub.url(&format!("/v1/kahawa/integrations/events{query}"));
            async move {
                let response = client.get(url).bearer_auth(token).send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, failed) = monitor("?outcome=call_failed", jwt.clone()).await;
        assert_eq!(status, 200, "{failed}");
        assert_eq!(failed.as_array().unwrap().len(), 2, "the two 503s: {failed}");
        assert!(failed[0]["detail"].as_str().unwrap().contains("503"), "{failed}");
        let (_, all) = monitor("", jwt.clone()).await;
        let outcomes: Vec<&str> = all.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
        for outcome in ["applied", "ignored", "amount_mismatch", "call_failed"] {
            assert!(outcomes.contains(&outcome), "{outcome} in {outcomes:?}");
        }
        let (status, _) = monitor("?limit=0", jwt.clone()).await;
        assert_eq!(status, 400);
        driver_tenant_isolation(&pool, &client, &hub).await;
    });
}

/// Another tenant's token sees none of it.
async fn driver_tenant_isolation(pool: &sqlx::PgPool, client: &reqwest::Client, hub: &RunningHub) {
    cloud_hub::services::admin::create_tenant(pool, "other", "Other ltd")
        .await
        .unwrap();
    let other = dev_token(pool, "other", "manager").await;
    for path in [
        "/v1/kahawa/integrations/events",
        "/v1/other/integrations/events",
    ] {
        let response = client
            .get(hub.url(path))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if path.contains("kahawa") {
            assert_eq!(status, 404, "{body}");
        } else {
            assert_eq!(
                (status, body.as_array().map(Vec::len)),
                (200, Some(0)),
                "{body}"
            );
        }
    }
}

#[test]
fn an_stk_push_needs_the_link_and_says_so() {
    let driver = runtime();
    let data = tempfile::tempdir().unwrap();
    let till = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    driver.block_on(async {
        let order = chai_order(&terminal).await;
        let (status, error) = terminal
            .post(
                &format!("/v1/orders/{order}/payment-intents"),
                json!({"method": "mpesa_stk", "phone": "0712345678", "amount_minor": 15_000}),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (503, Some("hub_unreachable")),
            "{error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("receipt code"),
            "{error}"
        );
        // Nothing was stored: no op waits for the hub.
        let (_, sync) = terminal.get("/v1/sync/status").await;
        let ops_before = sync["last_seq"].as_u64().unwrap();
        let (status, _) = terminal
            .post(
                &format!("/v1/orders/{order}/payment-intents"),
                json!({"method": "card", "terminal_ref": "pax-1", "amount_minor": 15_000}),
            )
            .await;
        assert_eq!(status, 503);
        let (_, sync) = terminal.get("/v1/sync/status").await;
        assert_eq!(sync["last_seq"].as_u64().unwrap(), ops_before);
        // What works without the link: the customer pays the till from their own phone.
        let (status, recorded) = terminal
            .post(
                &format!("/v1/orders/{order}/mpesa-receipts"),
                json!({"receipt_code": "QJK3H7X9TZ", "amount_minor": 15_000}),
            )
            .await;
        assert_eq!(status, 201, "{recorded}");
        assert_eq!(recorded["order"]["balance_due_minor"], 0);
        assert_eq!(recorded["intent"]["state"], "requested");
        let (status, _) = terminal
            .post(&format!("/v1/orders/{order}/close"), json!({}))
            .await;
        assert_eq!(status, 200);
    });
}
