//! Card payments taken offline (the card terminal's store-and-forward): the edge keeps only the
//! terminal's reference, last four digits and brand; each payment must fit the outlet's limits
//! (per payment, total outstanding), the exposure is shown to the till, and once the link is
//! back the hub reconciles each with the processor's records exactly once — a confirmation
//! clears it, a decline after the fact raises an exception for a manager.
#![allow(clippy::unwrap_used)]

use axum::extract::{Json, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The processor's records of forwarded offline approvals: reference → (amount, declined?).
#[derive(Clone, Default)]
struct Processor(Arc<Mutex<HashMap<String, (i64, bool)>>>);

async fn lookup(
    State(processor): State<Processor>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let reference = query.get("offline_ref").cloned().unwrap_or_default();
    match processor.0.lock().unwrap().get(&reference) {
        Some((_, true)) => (
            StatusCode::OK,
            Json(json!({"status": "declined", "reason": "do not honour"})),
        ),
        Some((amount, false)) => (
            StatusCode::OK,
            Json(
                json!({"status": "captured", "payment_id": format!("trs-{reference}"), "amount_minor": amount}),
            ),
        ),
        None => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

#[test]
fn offline_card_payments_stay_within_limits_and_reconcile_once() {
    let driver = runtime();
    let processor = Processor::default();
    let url = driver.block_on(async {
        let app = axum::Router::new()
            .route("/v1/{tenant}/payments", get(lookup))
            .with_state(processor.clone());
        serve_loopback(app).await
    });
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.treasury.base_url = Some(url.clone());
        config.treasury.retry_base = Duration::from_millis(100);
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "maduka", "cbd");
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "maduka", "manager"));

    let terminal = &terminal;
    driver.block_on(async {
        let order = |quantity: i64| async move {
            let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
            let id = order["id"].as_str().unwrap().to_owned();
            let (_, order) = terminal.post(&format!("/v1/orders/{id}/lines"), json!({"item_id": "sku-chai", "quantity": quantity})).await;
            (id, order["total_minor"].as_i64().unwrap())
        };
        let (a, chai) = order(1).await;
        let (b, _) = order(1).await;
        let (c, _) = order(1).await;
        let (d, two_chai) = order(2).await;

        // The outlet allows one chai's worth per payment, two outstanding.
        let response = client.put(hub.url("/v1/maduka/pos/outlets/cbd/config")).bearer_auth(&jwt)
            .json(&json!({"timezone": "Africa/Nairobi", "utc_offset_minutes": 180,
                "offline_card": {"per_payment_max_minor": chai, "outstanding_max_minor": 2 * chai, "max_age_hours": 1}}))
            .send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let target = response.json::<Value>().await.unwrap()["feed_through_seq"].as_u64().unwrap();
        eventually(Duration::from_secs(20), "the limits reach the edge", || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (status["feed_through_seq"].as_u64()? >= target).then_some(())
        })
        .await;

        let saf = |id: String, reference: &'static str, amount: i64| async move {
            terminal.post(&format!("/v1/orders/{id}/offline-card-payments"),
                json!({"offline_ref": reference, "last4": "4242", "brand": "Visa", "amount_minor": amount})).await
        };
        let (status, error) = terminal.post(&format!("/v1/orders/{a}/offline-card-payments"),
            json!({"offline_ref": "SAF-1", "last4": "42", "brand": "visa", "amount_minor": chai})).await;
        assert_eq!((status, error["field"].as_str()), (422, Some("last4")), "{error}");
        let (status, paid) = saf(a.clone(), "SAF-1", chai).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(paid["order"]["balance_due_minor"], 0);
        assert!(paid["intent"]["detail"].as_str().unwrap().contains("visa ending 4242"), "{paid}");
        let (status, _) = saf(b.clone(), "SAF-2", chai).await;
        assert_eq!(status, 201);
        let (status, error) = saf(c.clone(), "SAF-3", chai).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("offline_limit_exceeded")), "{error}");
        let (status, error) = saf(d.clone(), "SAF-4", two_chai).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("offline_limit_exceeded")), "{error}");
        let (_, unpaid) = terminal.get(&format!("/v1/orders/{c}")).await;
        assert_eq!(unpaid["paid_minor"], 0, "a refused payment changes nothing");

        // The till sees the exposure.
        let (_, risk) = terminal.get("/v1/offline-card-payments").await;
        assert_eq!((risk["count"].as_u64(), risk["outstanding_minor"].as_i64(), risk["headroom_minor"].as_i64()),
            (Some(2), Some(2 * chai), Some(0)), "{risk}");
        let expires_in = risk["oldest_expires_in_ms"].as_i64().unwrap();
        assert!(expires_in > 0 && expires_in <= 3_600_000, "{risk}");

        // The terminal forwards: SAF-1 is confirmed, SAF-2 declined by the issuer.
        processor.0.lock().unwrap().insert("SAF-1".into(), (chai, false));
        processor.0.lock().unwrap().insert("SAF-2".into(), (chai, true));
        let attention: Value = eventually(Duration::from_secs(30), "both reconciled", || async {
            let (_, risk) = terminal.get("/v1/offline-card-payments").await;
            let (_, attention) = terminal.get("/v1/payment-intents?attention=true").await;
            (risk["count"] == 0 && attention.as_array()?.len() == 1).then_some(attention)
        })
        .await;
        assert!(attention[0]["attention"].as_str().unwrap().contains("declined after the fact"), "{attention}");
        assert_eq!(attention[0]["order_id"], b.as_str());
        // Headroom is back; the orders keep their payments (the decline is a manager's case).
        let (_, risk) = terminal.get("/v1/offline-card-payments").await;
        assert_eq!(risk["headroom_minor"].as_i64(), Some(2 * chai));
        let (status, _) = saf(c.clone(), "SAF-3", chai).await;
        assert_eq!(status, 201, "room again for an offline payment");
        let (status, error) = saf(d.clone(), "SAF-1", chai).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("offline_ref_already_used")), "{error}");
        for id in [&a, &b] {
            let (_, order) = terminal.get(&format!("/v1/orders/{id}")).await;
            assert_eq!(order["payments"].as_array().unwrap().len(), 1, "{order}");
        }
    });
}
