//! Refunds go back to the tender the money came from; a card or M-Pesa refund goes through the
//! treasury (`POST /v1/{tenant}/refunds`, retried under one idempotency key) and is settled
//! once by its signed callback. The treasury here is a real HTTP server on loopback.
#![allow(clippy::unwrap_used)]

use axum::extract::{Json, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "refund-secret";

#[derive(Clone, Default)]
struct Treasury {
    /// (idempotency key, body) of every refund call.
    refunds: Arc<Mutex<Vec<(String, Value)>>>,
}

/// The first call fails (503); the treasury takes the refund after that.
async fn refund(
    State(treasury): State<Treasury>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut calls = treasury.refunds.lock().unwrap();
    calls.push((key.clone(), body));
    if calls.len() == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({"refund_id": format!("trf-{key}")})),
    )
}

#[test]
fn a_card_refund_goes_back_through_the_treasury_once_and_never_to_another_tender() {
    let driver = runtime();
    let treasury = Treasury::default();
    let treasury_url = driver.block_on(async {
        let app = axum::Router::new()
            .route("/v1/{tenant}/refunds", post(refund))
            .with_state(treasury.clone());
        serve_loopback(app).await
    });
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.treasury.base_url = Some(treasury_url.clone());
        config.treasury.webhook_secret = Some(SECRET.into());
        config.treasury.retry_base = Duration::from_millis(100);
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    let store =
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
    let now = edge_node::now_ms();
    let cashier =
        edge_node::services::staff::create_staff(&store, "Achieng", "cashier", "1111", now)
            .unwrap();
    let manager =
        edge_node::services::staff::create_staff(&store, "Wanjiru", "manager", "9999", now)
            .unwrap();
    drop(store);
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "duka", "manager"));

    driver.block_on(async {
        let (status, body) = client.put(hub.url("/v1/duka/pos/outlets/cbd/catalog/items")).bearer_auth(&jwt)
            .json(&json!({"items": [{"id": "sku-hamper", "name": "Hamper", "category": "gifts", "price_minor": 50_000,
                                     "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]}))
            .send().await.map(|r| (r.status().as_u16(), r)).unwrap();
        assert_eq!(status, 200, "{:?}", body.text().await);
        let (status, session) = terminal.post("/v1/staff/sessions", json!({"staff_id": cashier.id.to_string(), "pin": "1111"})).await;
        assert_eq!(status, 201, "{session}");
        eventually(Duration::from_secs(20), "the catalog reaches the till", || async {
            let (_, items) = terminal.get("/v1/catalog/items").await;
            items.as_array().is_some_and(|items| items.iter().any(|i| i["id"] == "sku-hamper")).then_some(())
        })
        .await;

        // 1,000.00 of hampers: 600.00 by card, 400.00 in cash.
        let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
        let order = order["id"].as_str().unwrap().to_owned();
        let (status, body) = terminal.post(&format!("/v1/orders/{order}/lines"), json!({"item_id": "sku-hamper", "quantity": 2})).await;
        assert_eq!(status, 201, "{body}");
        for (tender, amount) in [("card", 60_000), ("cash", 40_000)] {
            let (status, body) = terminal.post(&format!("/v1/orders/{order}/payments"), json!({"tender": tender, "amount_minor": amount})).await;
            assert_eq!(status, 201, "{body}");
        }
        let approval = json!({"staff_id": manager.id.to_string(), "pin": "9999"});

        // More to the card than the card paid: refused, naming the tender; nothing changes.
        let (status, refused) = terminal.post(&format!("/v1/orders/{order}/refunds"),
            json!({"tender": "card", "amount_minor": 70_000, "reason": "damaged", "approval": approval})).await;
        assert_eq!((status, refused["code"].as_str(), refused["field"].as_str()), (422, Some("refund_to_original_tender"), Some("tender")), "{refused}");
        let (status, refused) = terminal.post(&format!("/v1/orders/{order}/refunds"),
            json!({"tender": "mpesa", "reason": "damaged", "approval": approval})).await;
        assert_eq!(status, 422, "nothing was paid by M-Pesa: {refused}");
        let (_, unchanged) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(unchanged["refunded_minor"], 0, "{unchanged}");

        // The card's share, back to the card.
        let (status, refunded) = terminal.post(&format!("/v1/orders/{order}/refunds"),
            json!({"tender": "card", "reason": "damaged", "approval": approval})).await;
        assert_eq!(status, 201, "{refunded}");
        let refund_id = refunded["refunds"].as_array().map(|r| r[0]["id"].clone());
        // The hub sends it to the treasury: one refund, one key, retried after a 503.
        let refunds = eventually(Duration::from_secs(30), "the treasury takes the refund", || async {
            let response = client.get(hub.url(&format!("/v1/duka/pos/orders/{order}/refunds"))).bearer_auth(&jwt).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            (body[0]["state"] == "submitted").then_some(body)
        })
        .await;
        let refund = &refunds[0];
        assert_eq!((refund["tender"].as_str(), refund["amount_minor"].as_i64(), refund["currency"].as_str()), (Some("card"), Some(60_000), Some("KES")), "{refund}");
        if let Some(id) = refund_id {
            assert_eq!(refund["id"], id);
        }
        let id = refund["id"].as_str().unwrap().to_owned();
        assert_eq!(refund["provider_ref"], format!("trf-{id}"));
        // At the till the card refund waits for the treasury's word.
        let (status, at_till) = terminal.get(&format!("/v1/orders/{order}/refunds")).await;
        assert_eq!(status, 200, "{at_till}");
        assert_eq!((at_till[0]["id"].as_str(), at_till[0]["settlement"].as_str(), at_till[0]["amount_minor"].as_i64()),
            (Some(id.as_str()), Some("pending"), Some(60_000)), "{at_till}");
        let calls = treasury.refunds.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls.iter().all(|(key, body)| *key == id && body["amount_minor"] == 60_000 && body["tender"] == "card" && body["order_id"] == order.as_str()));

        // The treasury's word: applied once; a repeat is a duplicate; a later failure is ignored.
        let processed = json!({"event_id": "evt-r1", "type": "refund_processed", "refund_id": id, "amount_minor": 60_000});
        let (status, answer) = treasury_callback(&client, &hub, "duka", processed.clone(), SECRET).await;
        assert_eq!((status, answer["outcome"].as_str(), answer["state"].as_str()), (200, Some("applied"), Some("processed")), "{answer}");
        let (_, again) = treasury_callback(&client, &hub, "duka", processed, SECRET).await;
        assert_eq!(again["outcome"], "duplicate", "{again}");
        let (_, late) = treasury_callback(&client, &hub, "duka", json!({"event_id": "evt-r2", "type": "refund_failed", "refund_id": id, "reason": "card closed"}), SECRET).await;
        assert_eq!((late["outcome"].as_str(), late["state"].as_str()), (Some("ignored"), Some("processed")), "{late}");
        // The till hears it once: the cashier can tell the customer the money is back (the
        // later failure, ignored at the hub, never reaches it).
        let settled = eventually(Duration::from_secs(20), "the refund's outcome at the till", || async {
            let (_, at_till) = terminal.get(&format!("/v1/orders/{order}/refunds")).await;
            (at_till[0]["settlement"] != "pending").then_some(at_till)
        })
        .await;
        assert_eq!((settled[0]["settlement"].as_str(), settled[0]["detail"].as_str()),
            (Some("processed"), Some("the money is back with the customer")), "{settled}");
        let (status, forged) = {
            let raw = serde_json::to_vec(&json!({"event_id": "evt-r3", "type": "refund_failed", "refund_id": id})).unwrap();
            let response = client.post(hub.url("/v1/duka/pos/integrations/treasury/events"))
                .header("kibanda-signature", cloud_hub::events::signing::sign("wrong", edge_node::now_ms() / 1000, &raw))
                .header("content-type", "application/json").body(raw).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        };
        assert_eq!(status, 401, "{forged}");

        // The cash share leaves the drawer at the till; the treasury is not involved.
        let (status, body) = terminal.post(&format!("/v1/orders/{order}/refunds"),
            json!({"tender": "cash", "reason": "damaged", "approval": approval})).await;
        assert_eq!(status, 201, "{body}");
        eventually(Duration::from_secs(20), "the whole refund reaches the hub", || async {
            let response = client.get(hub.url(&format!("/v1/duka/pos/orders/{order}"))).bearer_auth(&jwt).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            (body["refunded_minor"] == 100_000).then_some(())
        })
        .await;
        let response = client.get(hub.url(&format!("/v1/duka/pos/orders/{order}/refunds"))).bearer_auth(&jwt).send().await.unwrap();
        let refunds: Value = response.json().await.unwrap();
        assert_eq!(refunds.as_array().unwrap().len(), 1, "{refunds}");
        assert_eq!(refunds[0]["state"], "processed");
        assert_eq!(treasury.refunds.lock().unwrap().len(), 2, "no further treasury call");
        let (_, at_till) = terminal.get(&format!("/v1/orders/{order}/refunds")).await;
        let settlements: Vec<(&str, &str)> = at_till.as_array().unwrap().iter()
            .map(|r| (r["tender"].as_str().unwrap(), r["settlement"].as_str().unwrap())).collect();
        assert_eq!(settlements, [("card", "processed"), ("cash", "at_the_till")], "{at_till}");

        // The audit log at the hub: both refunds, who asked and which manager allowed them.
        let audit_url = hub.url("/v1/duka/pos/audit-log?action=refund");
        let page = eventually(Duration::from_secs(20), "the till's audit entries reach the hub", || async {
            let body: Value = client.get(&audit_url).bearer_auth(&jwt).send().await.unwrap().json().await.unwrap();
            (body["entries"].as_array().map_or(0, Vec::len) == 2).then_some(body)
        })
        .await;
        for entry in page["entries"].as_array().unwrap() {
            assert_eq!(entry["source"], "till");
            assert_eq!(entry["outlet"], "cbd");
            assert_eq!(entry["approver_staff_id"], manager.id.to_string(), "{entry}");
            assert_eq!(entry["subject"], format!("order:{order}"));
        }

        // A chargeback from the treasury: on the order, in the audit log, an event; once.
        let chargeback = json!({"event_id": "evt-cb1", "type": "chargeback", "order_id": order,
            "payment_id": "trs-pay-9", "amount_minor": 60_000, "reason": "cardholder disputes the charge"});
        let (status, answer) = treasury_callback(&client, &hub, "duka", chargeback.clone(), SECRET).await;
        assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");
        let (_, again) = treasury_callback(&client, &hub, "duka", chargeback, SECRET).await;
        assert_eq!(again["outcome"], "duplicate", "{again}");
        let (status, bad) = treasury_callback(&client, &hub, "duka", json!({"event_id": "evt-cb2", "type": "chargeback", "order_id": order, "amount_minor": 0}), SECRET).await;
        assert_eq!((status, bad["field"].as_str()), (400, Some("amount_minor")), "{bad}");
        let (status, _) = treasury_callback(&client, &hub, "duka", json!({"event_id": "evt-cb3", "type": "chargeback", "order_id": uuid::Uuid::now_v7(), "amount_minor": 5}), SECRET).await;
        assert_eq!(status, 404);
        let order_at_hub: Value = client.get(hub.url(&format!("/v1/duka/pos/orders/{order}"))).bearer_auth(&jwt).send().await.unwrap().json().await.unwrap();
        let chargebacks = order_at_hub["chargebacks"].as_array().unwrap();
        assert_eq!(chargebacks.len(), 1, "{order_at_hub}");
        assert_eq!((chargebacks[0]["amount_minor"].as_i64(), chargebacks[0]["provider_ref"].as_str()), (Some(60_000), Some("trs-pay-9")));
        let page: Value = client.get(hub.url("/v1/duka/pos/audit-log?action=chargeback")).bearer_auth(&jwt).send().await.unwrap().json().await.unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{page}");
        assert_eq!((entries[0]["source"].as_str(), entries[0]["reason"].as_str()), (Some("treasury"), Some("cardholder disputes the charge")));
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'pos.order.chargeback'")
            .fetch_one(&pool).await.unwrap();
        assert_eq!(events, 1);
        // Pages follow the cursor: one entry per page, every entry once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => hub.url(&format!("/v1/duka/pos/audit-log?limit=1&cursor={c}")),
                None => hub.url("/v1/duka/pos/audit-log?limit=1"),
            };
            let page: Value = client.get(url).bearer_auth(&jwt).send().await.unwrap().json().await.unwrap();
            for entry in page["entries"].as_array().unwrap() {
                seen.push(entry["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let distinct: std::collections::HashSet<&String> = seen.iter().collect();
        assert_eq!((seen.len(), distinct.len()), (3, 3), "{seen:?}");

        // A refund the treasury cannot make: the till is told to refund the customer by hand.
        let (_, second) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
        let second = second["id"].as_str().unwrap().to_owned();
        terminal.post(&format!("/v1/orders/{second}/lines"), json!({"item_id": "sku-hamper"})).await;
        let (status, body) = terminal.post(&format!("/v1/orders/{second}/payments"), json!({"tender": "card", "amount_minor": 50_000})).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = terminal.post(&format!("/v1/orders/{second}/refunds"),
            json!({"tender": "card", "reason": "wrong size", "approval": approval})).await;
        assert_eq!(status, 201, "{body}");
        let refunds = eventually(Duration::from_secs(30), "the second refund at the treasury", || async {
            let response = client.get(hub.url(&format!("/v1/duka/pos/orders/{second}/refunds"))).bearer_auth(&jwt).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            (body[0]["state"] == "submitted").then_some(body)
        })
        .await;
        let failed = json!({"event_id": "evt-r9", "type": "refund_failed", "refund_id": refunds[0]["id"], "reason": "card closed"});
        let (status, answer) = treasury_callback(&client, &hub, "duka", failed, SECRET).await;
        assert_eq!((status, answer["state"].as_str()), (200, Some("failed")), "{answer}");
        let settled = eventually(Duration::from_secs(20), "the failure at the till", || async {
            let (_, at_till) = terminal.get(&format!("/v1/orders/{second}/refunds")).await;
            (at_till[0]["settlement"] != "pending").then_some(at_till)
        })
        .await;
        assert_eq!(settled[0]["settlement"], "failed", "{settled}");
        let detail = settled[0]["detail"].as_str().unwrap();
        assert!(detail.contains("card closed") && detail.contains("by hand"), "{settled}");
        // The screens were told as it happened, once per refund.
        let store = edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
        let told = store.stream_events_after(0, 10_000).unwrap().into_iter()
            .filter(|event| event.kind == "order.refund_settled").count();
        assert_eq!(told, 2);
        // An order the till does not have: not found.
        let (status, _) = terminal.get(&format!("/v1/orders/{}/refunds", uuid::Uuid::now_v7())).await;
        assert_eq!(status, 404);
    });
}
