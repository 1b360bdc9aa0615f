//! A shift, end to end: two terminals with their own cashier and drawer sell all day in mixed
//! tenders (cash with change, card and M-Pesa prompts through the treasury, M-Pesa receipt
//! codes), with petty cash, a drop to the safe and a refund on an override; the hub is down for
//! part of the day and the tills keep selling. At close, each terminal's Z report equals what
//! the test itself recorded, to the cent; the hub's Z reports, rebuilt from the edge's ops,
//! equal the edge's field by field; the outlet totals are their sum; what the drawers took
//! equals what the hub's orders were paid; and the outlet's day closes with a Z report whose
//! takings per tender are the drawers', equal to the hub's own figures.
#![allow(clippy::unwrap_used)]

use axum::extract::{Json, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "shift-secret";

/// The treasury's part: accepts every prompt, knows the receipt codes the test registers.
#[derive(Clone, Default)]
struct Treasury {
    receipts: Arc<Mutex<HashMap<String, i64>>>,
}

async fn accept(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(
            json!({"payment_id": format!("trs-{}", body["intent_id"].as_str().unwrap_or_default())}),
        ),
    )
}

async fn lookup(
    State(treasury): State<Treasury>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let code = query.get("mpesa_receipt").cloned().unwrap_or_default();
    match treasury.receipts.lock().unwrap().get(&code) {
        Some(amount) => (
            StatusCode::OK,
            Json(json!({"payment_id": format!("trs-{code}"), "amount_minor": amount})),
        ),
        None => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

/// One till: its token, and the test's own record of what went through its drawer.
struct Till {
    token: String,
    taken: BTreeMap<&'static str, i64>,
    refunded_cash: i64,
    float: i64,
    paid_in: i64,
    paid_out: i64,
    dropped: i64,
}

impl Till {
    fn expected_cash(&self) -> i64 {
        self.float + self.taken.get("cash").copied().unwrap_or(0) - self.refunded_cash
            + self.paid_in
            - self.paid_out
            - self.dropped
    }
}

struct Shop<'a> {
    client: &'a reqwest::Client,
    edge: &'a RunningEdge,
}

impl Shop<'_> {
    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.edge.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn post(&self, till: &Till, path: &str, body: Value) -> Value {
        let (status, answer) = self
            .call(&till.token, reqwest::Method::POST, path, Some(body.clone()))
            .await;
        assert!(
            (200..300).contains(&status),
            "{path} {body}: {status} {answer}"
        );
        answer
    }

    /// An open order with `lines`; returns (id, total).
    async fn order(&self, till: &Till, lines: &[(&str, i64)]) -> (String, i64) {
        let order = self
            .post(till, "/v1/orders", json!({"type": "take_out"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        let mut total = 0;
        for (item, quantity) in lines {
            let order = self
                .post(
                    till,
                    &format!("/v1/orders/{id}/lines"),
                    json!({"item_id": item, "quantity": quantity}),
                )
                .await;
            total = order["total_minor"].as_i64().unwrap();
        }
        (id, total)
    }

    async fn cash_sale(&self, till: &mut Till, lines: &[(&str, i64)]) {
        let (id, total) = self.order(till, lines).await;
        let tendered = (total / 50_000 + 1) * 50_000;
        let paid = self
            .post(
                till,
                &format!("/v1/orders/{id}/payments"),
                json!({"tender": "cash", "amount_minor": tendered}),
            )
            .await;
        assert_eq!(paid["change_due_minor"], tendered - total);
        self.post(till, &format!("/v1/orders/{id}/close"), json!({}))
            .await;
        *till.taken.entry("cash").or_default() += total;
    }

    async fn receipt_sale(
        &self,
        till: &mut Till,
        treasury: &Treasury,
        code: &str,
        lines: &[(&str, i64)],
    ) {
        let (id, total) = self.order(till, lines).await;
        treasury
            .receipts
            .lock()
            .unwrap()
            .insert(code.to_owned(), total);
        self.post(
            till,
            &format!("/v1/orders/{id}/mpesa-receipts"),
            json!({"receipt_code": code, "amount_minor": total}),
        )
        .await;
        self.post(till, &format!("/v1/orders/{id}/close"), json!({}))
            .await;
        *till.taken.entry("mpesa").or_default() += total;
    }

    /// A card or STK prompt, confirmed by the treasury's signed callback.
    async fn prompted_sale(
        &self,
        till: &mut Till,
        hub: &RunningHub,
        method: Value,
        tender: &'static str,
        lines: &[(&str, i64)],
    ) {
        let (id, total) = self.order(till, lines).await;
        let mut body = method;
        body["amount_minor"] = json!(total);
        let intent = self
            .post(till, &format!("/v1/orders/{id}/payment-intents"), body)
            .await;
        let intent_id = intent["id"].as_str().unwrap().to_owned();
        eventually(Duration::from_secs(20), "prompted", || async {
            let (_, intent) = self
                .call(
                    &till.token,
                    reqwest::Method::GET,
                    &format!("/v1/payment-intents/{intent_id}"),
                    None,
                )
                .await;
            (intent["state"] == "prompted").then_some(())
        })
        .await;
        let raw = serde_json::to_vec(
            &json!({"event_id": format!("evt-{intent_id}"), "type": "payment_captured",
            "intent_id": intent_id, "amount_minor": total, "receipt": "QJK3H7X9TZ"}),
        )
        .unwrap();
        let signature = cloud_hub::events::signing::sign(SECRET, edge_node::now_ms() / 1000, &raw);
        let response = self
            .client
            .post(hub.url("/v1/soko/pos/integrations/treasury/events"))
            .header("kibanda-signature", signature)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        eventually(Duration::from_secs(20), "captured and paid", || async {
            let (_, order) = self
                .call(
                    &till.token,
                    reqwest::Method::GET,
                    &format!("/v1/orders/{id}"),
                    None,
                )
                .await;
            (order["balance_due_minor"] == 0).then_some(())
        })
        .await;
        self.post(till, &format!("/v1/orders/{id}/close"), json!({}))
            .await;
        *till.taken.entry(tender).or_default() += total;
    }
}

fn amounts(rows: &Value) -> BTreeMap<String, i64> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["tender"].as_str().unwrap().to_owned(),
                row["amount_minor"].as_i64().unwrap(),
            )
        })
        .filter(|(_, amount)| *amount != 0)
        .collect()
}

#[test]
fn a_day_of_mixed_tenders_ends_in_z_reports_that_agree_at_edge_and_hub() {
    let driver = runtime();
    let treasury = Treasury::default();
    let treasury_url = driver.block_on(async {
        let app = axum::Router::new()
            .route("/v1/{tenant}/payments", post(accept).get(lookup))
            .with_state(treasury.clone());
        serve_loopback(app).await
    });
    let db = TestDb::create(&driver);
    let tune = |config: &mut cloud_hub::config::HubConfig| {
        config.treasury.base_url = Some(treasury_url.clone());
        config.treasury.webhook_secret = Some(SECRET.into());
        config.treasury.retry_base = Duration::from_millis(100);
    };
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), tune);
    let quic = hub.quic;
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "soko", "mall"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let now = edge_node::now_ms();
    let achieng =
        edge_node::services::staff::create_staff(&store, "Achieng", "cashier", "1111", now)
            .unwrap();
    let baraka =
        edge_node::services::staff::create_staff(&store, "Baraka", "cashier", "2222", now).unwrap();
    let manager =
        edge_node::services::staff::create_staff(&store, "Wanjiru", "manager", "9999", now)
            .unwrap();
    let (_, token_1) = edge_node::services::devices::pair(&store, "till-1", now).unwrap();
    let (_, token_2) = edge_node::services::devices::pair(&store, "till-2", now).unwrap();
    drop(store);
    let edge = RunningEdge::start(data.path(), &token_1);
    let client = reqwest::Client::new();
    let shop = Shop {
        client: &client,
        edge: &edge,
    };
    let till = |token: String, float: i64| Till {
        token,
        taken: BTreeMap::new(),
        refunded_cash: 0,
        float,
        paid_in: 0,
        paid_out: 0,
        dropped: 0,
    };
    let mut one = till(token_1, 10_000);
    let mut two = till(token_2, 20_000);

    let hub = driver.block_on(async {
        for (till, staff, pin) in [(&one, &achieng, "1111"), (&two, &baraka, "2222")] {
            shop.post(
                till,
                "/v1/staff/sessions",
                json!({"staff_id": staff.id.to_string(), "pin": pin}),
            )
            .await;
            shop.post(till, "/v1/drawer", json!({"float_minor": till.float}))
                .await;
        }
        eventually(Duration::from_secs(20), "the edge connects", || async {
            let (_, status) = shop
                .call(&one.token, reqwest::Method::GET, "/v1/sync/status", None)
                .await;
            (status["connected"] == true).then_some(())
        })
        .await;

        // Morning, hub up.
        shop.cash_sale(&mut one, &[("sku-chai", 2), ("sku-samosa", 3)])
            .await;
        shop.cash_sale(&mut one, &[("sku-chai", 1)]).await;
        shop.prompted_sale(
            &mut one,
            &hub,
            json!({"method": "card", "terminal_ref": "pax-1"}),
            "card",
            &[("sku-samosa", 4)],
        )
        .await;
        shop.prompted_sale(
            &mut one,
            &hub,
            json!({"method": "mpesa_stk", "phone": "0712345678"}),
            "mpesa",
            &[("sku-chai", 3)],
        )
        .await;
        shop.cash_sale(&mut two, &[("sku-samosa", 1)]).await;
        shop.receipt_sale(&mut two, &treasury, "QJK3H7X9TA", &[("sku-chai", 2)])
            .await;
        hub
    });

    // Midday: the hub is gone. The tills keep selling.
    hub.kill();
    driver.block_on(async {
        eventually(Duration::from_secs(20), "the edge notices", || async {
            let (_, status) = shop
                .call(&one.token, reqwest::Method::GET, "/v1/sync/status", None)
                .await;
            (status["connected"] == false).then_some(())
        })
        .await;
        shop.cash_sale(&mut one, &[("sku-chai", 5)]).await;
        shop.cash_sale(&mut one, &[("sku-samosa", 2), ("sku-chai", 1)])
            .await;
        shop.post(
            &one,
            "/v1/drawer/pay-ins",
            json!({"amount_minor": 5_000, "reason": "change from the bank"}),
        )
        .await;
        one.paid_in += 5_000;
        // A refund on the manager's override, out of till 1's cash.
        let (order, total) = shop.order(&one, &[("sku-samosa", 1)]).await;
        shop.post(
            &one,
            &format!("/v1/orders/{order}/payments"),
            json!({"tender": "cash", "amount_minor": total}),
        )
        .await;
        *one.taken.entry("cash").or_default() += total;
        shop.post(
            &one,
            &format!("/v1/orders/{order}/refunds"),
            json!({"tender": "cash", "reason": "cold samosa",
            "approval": {"staff_id": manager.id.to_string(), "pin": "9999"}}),
        )
        .await;
        one.refunded_cash += total;
        shop.cash_sale(&mut two, &[("sku-chai", 4)]).await;
        shop.receipt_sale(&mut two, &treasury, "QJK3H7X9TB", &[("sku-samosa", 2)])
            .await;
        shop.post(&two, "/v1/drawer/drops", json!({"amount_minor": 10_000}))
            .await;
        two.dropped += 10_000;
        shop.post(
            &two,
            "/v1/drawer/pay-outs",
            json!({"amount_minor": 2_000, "reason": "milk"}),
        )
        .await;
        two.paid_out += 2_000;
        let (status, error) = shop
            .call(
                &two.token,
                reqwest::Method::POST,
                "/v1/orders/00000000-0000-0000-0000-000000000000/payment-intents",
                Some(json!({"method": "mpesa_stk", "phone": "0712345678", "amount_minor": 1})),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (503, Some("hub_unreachable")),
            "{error}"
        );
    });

    // Afternoon: the hub is back on the same address.
    let hub = RunningHub::start_tuned(&db.url, quic, tune);
    driver.block_on(async {
        eventually(Duration::from_secs(30), "the edge reconnects", || async {
            let (_, status) = shop.call(&one.token, reqwest::Method::GET, "/v1/sync/status", None).await;
            (status["connected"] == true).then_some(())
        })
        .await;
        shop.prompted_sale(&mut two, &hub, json!({"method": "card", "terminal_ref": "pax-2"}), "card", &[("sku-chai", 1), ("sku-samosa", 1)]).await;
        shop.cash_sale(&mut two, &[("sku-samosa", 3)]).await;

        // Close: till 1 counts exactly; till 2 is 3.00 short in cash.
        let mut edge_reports = Vec::new();
        for (till, short) in [(&one, 0), (&two, 300)] {
            let mut counts = vec![json!({"tender": "cash", "counted_minor": till.expected_cash() - short})];
            for tender in ["card", "mpesa"] {
                counts.push(json!({"tender": tender, "counted_minor": till.taken.get(tender).copied().unwrap_or(0)}));
            }
            shop.post(till, "/v1/drawer/count", json!({"counts": counts})).await;
            let z = shop.post(till, "/v1/drawer/close", json!({})).await;
            // The edge's Z report is exactly what went through this till.
            let taken = amounts(&z["taken"]);
            let recorded: BTreeMap<String, i64> = till.taken.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
            assert_eq!(taken, recorded, "{z}");
            assert_eq!(amounts(&z["expected"]).get("cash").copied(), Some(till.expected_cash()), "{z}");
            let cash_variance = z["counted"].as_array().unwrap().iter().find(|c| c["tender"] == "cash").unwrap()["variance_minor"].as_i64();
            assert_eq!(cash_variance, Some(-short));
            edge_reports.push(z);
        }
        assert_eq!((edge_reports[0]["z_number"].as_u64(), edge_reports[1]["z_number"].as_u64()), (Some(1), Some(2)));

        // The hub rebuilt the same Z reports from the edge's ops.
        let jwt = dev_token(&pool, "soko", "manager").await;
        let shift: Value = eventually(Duration::from_secs(30), "both Z reports at the hub", || async {
            let response = client.get(hub.url("/v1/soko/pos/outlets/mall/drawers?state=closed")).bearer_auth(&jwt).send().await.ok()?;
            let shift: Value = response.json().await.ok()?;
            (shift["drawers"].as_array()?.len() == 2).then_some(shift)
        })
        .await;
        for (hub_z, edge_z) in shift["drawers"].as_array().unwrap().iter().zip(&edge_reports) {
            for field in ["float_minor", "taken", "refunded", "paid_in_minor", "paid_out_minor", "dropped_minor", "expected", "counted", "z_number", "no_sales"] {
                assert_eq!(hub_z[field], edge_z[field], "{field}: hub {hub_z} edge {edge_z}");
            }
        }
        let mut summed: BTreeMap<String, i64> = BTreeMap::new();
        for till in [&one, &two] {
            for (tender, amount) in &till.taken {
                *summed.entry((*tender).to_owned()).or_default() += amount;
            }
        }
        assert_eq!(amounts(&shift["totals"]["taken"]), summed);
        assert_eq!(shift["totals"]["paid_in_minor"], 5_000);
        assert_eq!(shift["totals"]["dropped_minor"], 10_000);
        let variance: i64 = shift["totals"]["counted"].as_array().unwrap().iter().map(|c| c["variance_minor"].as_i64().unwrap()).sum();
        assert_eq!(variance, -300);

        // And what the drawers took is what the hub's orders were paid.
        let paid: i64 = eventually(Duration::from_secs(30), "every order at the hub", || {
            let pool = pool.clone();
            async move {
                let (count, paid): (i64, Option<i64>) = sqlx::query_as("SELECT count(*), sum(paid_minor)::bigint FROM orders")
                    .fetch_one(&pool).await.ok()?;
                (count == 13).then_some(paid.unwrap_or(0))
            }
        })
        .await;
        assert_eq!(paid, summed.values().sum::<i64>());

        // The manager closes the outlet's day: its Z report takes what the drawers took, tender
        // by tender, and the hub's own figures for the day agree.
        shop.post(&one, "/v1/staff/sessions", json!({"staff_id": manager.id.to_string(), "pin": "9999"})).await;
        let day = shop.post(&one, "/v1/reports/day/close", json!({})).await;
        let day_taken: BTreeMap<String, i64> = day["summary"]["payments"].as_array().unwrap().iter()
            .map(|line| (line["tender"].as_str().unwrap().to_owned(), line["amount_minor"].as_i64().unwrap()))
            .collect();
        assert_eq!(day_taken, summed, "{day}");
        let refunded: i64 = [&one, &two].iter().map(|till| till.refunded_cash).sum();
        assert_eq!(day["summary"]["net_takings_minor"].as_i64(), Some(summed.values().sum::<i64>() - refunded));
        let closed: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE closed_at_ms IS NOT NULL AND state IN ('closed', 'refunded')")
            .fetch_one(&pool).await.unwrap();
        assert_eq!(day["summary"]["orders_closed"].as_i64(), Some(closed));
        let at_hub = eventually(Duration::from_secs(30), "the day's Z report at the hub", || async {
            let response = client.get(hub.url("/v1/soko/pos/outlets/mall/z-reports/1")).bearer_auth(&jwt).send().await.ok()?;
            let report: Value = response.json().await.ok()?;
            (report["z_number"] == 1).then_some(report)
        })
        .await;
        assert_eq!(at_hub["matches_hub"], true, "{at_hub}");
        assert_eq!(at_hub["summary"], day["summary"]);
    });
}
