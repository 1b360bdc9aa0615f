//! Tips entered at the till (on a card payment or in the jar) and pooled among the staff who
//! worked the period, by time worked or by points per role, every cent shared.
#![allow(clippy::unwrap_used)]

use edge_node::store::SessionEnd;
use kibanda_tests::*;
use serde_json::{Value, json};
use uuid::Uuid;

const HOUR_MS: i64 = 3_600_000;

async fn paid_chai(terminal: &Terminal<'_>, tender: &str) -> (String, String) {
    // A dine-in chai, paid in full with `tender`; the order and the payment's id.
    let (_, order) = terminal
        .post("/v1/orders", json!({"type": "dine_in"}))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, order) = terminal
        .post(
            &format!("/v1/orders/{id}/lines"),
            json!({"item_id": "sku-chai"}),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let total = order["total_minor"].as_i64().unwrap();
    let (status, paid) = terminal
        .post(
            &format!("/v1/orders/{id}/payments"),
            json!({"tender": tender, "amount_minor": total}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let payment = paid["order"]["payments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, payment)
}

fn shares(pool: &Value) -> Vec<(String, u64, i64)> {
    pool["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["staff_id"].as_str().unwrap().to_owned(),
                s["weight"].as_u64().unwrap(),
                s["amount_minor"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A hub and an enrolled outlet where Amina (a server, PIN 1111) worked from 9 h ago until
/// 1 h ago on the floor terminal, and Wanjiru (a manager, PIN 9999) can sign in; not started.
struct Outlet {
    db: TestDb,
    hub: RunningHub,
    pool: sqlx::PgPool,
    data: tempfile::TempDir,
    till: String,
    store: edge_node::store::Store,
    amina: edge_node::store::StaffMember,
    manager: edge_node::store::StaffMember,
    now: i64,
}

/// `GET` on the hub as `token`: status and body.
async fn hub_get(
    client: &reqwest::Client,
    hub: &RunningHub,
    token: &str,
    path: &str,
) -> (u16, Value) {
    hub_request(
        client,
        reqwest::Method::GET,
        hub.url(path),
        token,
        None,
        None,
    )
    .await
}

/// A treasury on loopback that takes payouts: (idempotency key, body) of each call.
#[derive(Clone, Default)]
struct Treasury {
    payouts: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
}

async fn take_payout(
    axum::extract::State(treasury): axum::extract::State<Treasury>,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    treasury.payouts.lock().unwrap().push((key.clone(), body));
    (
        axum::http::StatusCode::CREATED,
        axum::Json(json!({"id": format!("trp-{key}")})),
    )
}

fn outlet_after_a_shift(
    driver: &tokio::runtime::Runtime,
    slug: &str,
    treasury: &Treasury,
) -> Outlet {
    let treasury_url = driver.block_on(serve_loopback(
        axum::Router::new()
            .route("/v1/{tenant}/payouts", axum::routing::post(take_payout))
            .with_state(treasury.clone()),
    ));
    let db = TestDb::create(driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.treasury.base_url = Some(treasury_url.clone());
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(driver, &pool, &hub, slug, "cbd");
    let store =
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
    let now = edge_node::now_ms();
    let amina =
        edge_node::services::staff::create_staff(&store, "Amina", "server", "1111", now).unwrap();
    let manager =
        edge_node::services::staff::create_staff(&store, "Wanjiru", "manager", "9999", now)
            .unwrap();
    let (floor, _) = edge_node::services::devices::pair(&store, "floor", now).unwrap();
    let shift = Uuid::now_v7();
    store
        .start_session(shift, amina.id, floor.id, now - 9 * HOUR_MS)
        .unwrap();
    store
        .end_session(shift, SessionEnd::SignOut, now - HOUR_MS)
        .unwrap();
    Outlet {
        db,
        hub,
        pool,
        data,
        till,
        store,
        amina,
        manager,
        now,
    }
}

#[test]
fn tips_are_pooled_by_time_worked_or_by_role_points_to_the_cent() {
    let driver = runtime();
    // Amina worked eight hours and signed out; Juma has been on for four and still is.
    let treasury = Treasury::default();
    let Outlet {
        db: _db,
        hub,
        pool,
        data,
        till,
        store,
        amina,
        manager,
        now,
    } = outlet_after_a_shift(&driver, "mgahawa", &treasury);
    let juma =
        edge_node::services::staff::create_staff(&store, "Juma", "bartender", "2222", now).unwrap();
    let (bar, _) = edge_node::services::devices::pair(&store, "bar", now).unwrap();
    store
        .start_session(Uuid::now_v7(), juma.id, bar.id, now - 4 * HOUR_MS)
        .unwrap();
    drop(store);
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let period = format!(
        "/v1/tips/pool?from_ms={}&to_ms={}",
        now - 10 * HOUR_MS,
        now + HOUR_MS
    );

    driver.block_on(async {
        // A tip on a card payment, and one in the jar on a cash sale.
        let (card_order, card_payment) = paid_chai(&terminal, "card").await;
        let (status, order) = terminal
            .post(
                &format!("/v1/orders/{card_order}/tips"),
                json!({"amount_minor": 9_000, "payment_id": card_payment}),
            )
            .await;
        assert_eq!(status, 201, "{order}");
        // The tip rides on the card payment: on the bill, and paid with it.
        assert_eq!(
            (
                order["total_minor"].as_i64(),
                order["paid_minor"].as_i64(),
                order["balance_due_minor"].as_i64()
            ),
            (Some(24_000), Some(24_000), Some(0)),
            "{order}"
        );
        // A tip added before paying (the customer rounds up): paid with the bill, in cash.
        let (_, order) = terminal
            .post("/v1/orders", json!({"type": "dine_in"}))
            .await;
        let cash_order = order["id"].as_str().unwrap().to_owned();
        terminal
            .post(
                &format!("/v1/orders/{cash_order}/lines"),
                json!({"item_id": "sku-chai"}),
            )
            .await;
        let (status, tipped) = terminal
            .post(
                &format!("/v1/orders/{cash_order}/tips"),
                json!({"amount_minor": 3_000}),
            )
            .await;
        assert_eq!(
            (status, tipped["balance_due_minor"].as_i64()),
            (201, Some(18_000)),
            "{tipped}"
        );
        let (status, paid) = terminal
            .post(
                &format!("/v1/orders/{cash_order}/payments"),
                json!({"tender": "cash", "amount_minor": 18_000}),
            )
            .await;
        assert_eq!(status, 201, "{paid}");
        // Bad tips change nothing.
        let (status, error) = terminal
            .post(
                &format!("/v1/orders/{card_order}/tips"),
                json!({"amount_minor": 0, "payment_id": card_payment}),
            )
            .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (422, Some("amount_minor")),
            "{error}"
        );
        let (status, error) = terminal
            .post(
                &format!("/v1/orders/{card_order}/tips"),
                json!({"amount_minor": 100, "payment_id": Uuid::now_v7()}),
            )
            .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (422, Some("payment_id")),
            "{error}"
        );

        // By time worked: eight hours against four (and a bit: Juma is still on).
        let (status, by_hours) = terminal.get(&period).await;
        assert_eq!(status, 200, "{by_hours}");
        assert_eq!(by_hours["tips_minor"], 12_000, "{by_hours}");
        assert_eq!(by_hours["rule"]["basis"], "hours");
        let split = shares(&by_hours);
        assert_eq!(
            split.len(),
            2,
            "the manager did not work the floor: {by_hours}"
        );
        let of = |split: &[(String, u64, i64)], id: Uuid| {
            split
                .iter()
                .find(|s| s.0 == id.to_string())
                .cloned()
                .unwrap()
        };
        let (_, amina_weight, amina_amount) = of(&split, amina.id);
        let (_, juma_weight, juma_amount) = of(&split, juma.id);
        assert_eq!(amina_weight, 480);
        assert!((240..250).contains(&juma_weight), "{by_hours}");
        assert_eq!(amina_amount + juma_amount, 12_000, "every cent shared");
        let exact = 12_000.0 * 480.0 / (480.0 + juma_weight as f64);
        assert!(
            (amina_amount as f64 - exact).abs() <= 1.0,
            "in proportion to time: {by_hours}"
        );

        // The rule is a manager's decision.
        let points = json!({"basis": "points", "points": {"server": 1, "bartender": 3}});
        let response = client
            .put(edge.url("/v1/tips/rule"))
            .bearer_auth(&edge.token)
            .json(&points)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "nobody is signed in at the till"
        );
        let (status, session) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "9999"}),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        let response = client
            .put(edge.url("/v1/tips/rule"))
            .bearer_auth(&edge.token)
            .json(&points)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
        // By points: the bartender's three points outweigh the longer shift.
        let (_, by_points) = terminal.get(&period).await;
        let split = shares(&by_points);
        assert_eq!(
            split.len(),
            3,
            "the manager is on now, with no points: {by_points}"
        );
        let (_, _, amina_amount) = of(&split, amina.id);
        let (_, juma_weight, juma_amount) = of(&split, juma.id);
        let (_, manager_weight, manager_amount) = of(&split, manager.id);
        assert_eq!((manager_weight, manager_amount), (0, 0));
        assert!(
            juma_weight >= 720 && juma_amount > amina_amount,
            "{by_points}"
        );
        assert_eq!(amina_amount + juma_amount, 12_000);

        // A period that ends before it starts is refused.
        let (status, error) = terminal
            .get(&format!("/v1/tips/pool?from_ms={now}&to_ms={now}"))
            .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (422, Some("to_ms")),
            "{error}"
        );

        // At the end of the shift the manager pays the pool out: once, as a fact for the hub.
        let from_ms = now - 10 * HOUR_MS;
        let (status, error) = terminal
            .post(
                "/v1/tips/payouts",
                json!({"from_ms": from_ms, "to_ms": edge_node::now_ms() + HOUR_MS}),
            )
            .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (422, Some("to_ms")),
            "a period still running is not paid out: {error}"
        );
        let to_ms = edge_node::now_ms();
        let (status, payout) = terminal
            .post(
                "/v1/tips/payouts",
                json!({"from_ms": from_ms, "to_ms": to_ms}),
            )
            .await;
        assert_eq!(status, 201, "{payout}");
        assert_eq!(payout["tips_minor"], 12_000);
        let paid: i64 = payout["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|share| share["amount_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(paid, 12_000, "every cent paid out: {payout}");
        assert_eq!(payout["by_staff_id"], manager.id.to_string());
        let (status, error) = terminal
            .post(
                "/v1/tips/payouts",
                json!({"from_ms": to_ms - HOUR_MS, "to_ms": to_ms}),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (409, Some("tips_already_paid_out")),
            "{error}"
        );
        let (_, listed) = terminal.get("/v1/tips/payouts").await;
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

        // The hub has it for payroll, once, with an event.
        let api = dev_token(&pool, "mgahawa", "manager").await;
        let at_hub = eventually(
            std::time::Duration::from_secs(30),
            "the payout at the hub",
            || async {
                let (status, list) = hub_get(
                    &client,
                    &hub,
                    &api,
                    "/v1/mgahawa/pos/outlets/cbd/tip-payouts",
                )
                .await;
                (status == 200 && list.as_array().is_some_and(|l| l.len() == 1)).then_some(list)
            },
        )
        .await;
        assert_eq!(at_hub[0]["id"], payout["id"]);
        assert_eq!(at_hub[0]["tips_minor"], 12_000);
        let events: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE event_type = 'pos.tips.paid_out'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(events, 1);

        // Not handed out in cash: the treasury is asked to pay each share, once.
        let (key, body) = eventually(
            std::time::Duration::from_secs(30),
            "the treasury payout",
            || async { treasury.payouts.lock().unwrap().first().cloned() },
        )
        .await;
        assert_eq!(body["payout_id"], payout["id"], "{body}");
        assert_eq!(
            (
                body["outlet"].as_str(),
                body["currency"].as_str(),
                body["reason"].as_str()
            ),
            (Some("cbd"), Some("KES"), Some("tips")),
            "{body}"
        );
        let lines = body["lines"].as_array().unwrap();
        assert!(
            lines
                .iter()
                .all(|line| line["amount_minor"].as_i64().unwrap() > 0),
            "{body}"
        );
        assert_eq!(
            lines
                .iter()
                .map(|line| line["amount_minor"].as_i64().unwrap())
                .sum::<i64>(),
            12_000
        );
        assert!(!key.is_empty());
        let at_hub = eventually(
            std::time::Duration::from_secs(30),
            "the payout sent",
            || async {
                let (_, list) = hub_get(
                    &client,
                    &hub,
                    &api,
                    "/v1/mgahawa/pos/outlets/cbd/tip-payouts",
                )
                .await;
                (list[0]["treasury_state"] == "sent").then_some(list)
            },
        )
        .await;
        assert_eq!(at_hub[0]["paid_by"], "treasury", "{at_hub}");
        assert_eq!(treasury.payouts.lock().unwrap().len(), 1, "asked once");
    });
}

/// A tip pool handed out in cash at close leaves the manager's drawer as a pay-out in the same
/// commit, so the drawer still counts to the cent; without a drawer, or without the cash in it,
/// nothing is recorded. The hub sees the same drawer.
#[test]
fn tips_handed_out_in_cash_leave_the_drawer_and_the_count_still_adds_up() {
    let driver = runtime();
    let treasury = Treasury::default();
    let Outlet {
        db: _db,
        hub,
        pool,
        data,
        till,
        store,
        manager,
        now,
        ..
    } = outlet_after_a_shift(&driver, "baraka", &treasury);
    drop(store);
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    driver.block_on(async {
        let (status, _) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "9999"}),
            )
            .await;
        assert_eq!(status, 201);
        // A card tip of 9,000 taken during the shift.
        let (card_order, card_payment) = paid_chai(&terminal, "card").await;
        let (status, _) = terminal
            .post(
                &format!("/v1/orders/{card_order}/tips"),
                json!({"amount_minor": 9_000, "payment_id": card_payment}),
            )
            .await;
        assert_eq!(status, 201);
        let to_ms = edge_node::now_ms();
        let payout = json!({"from_ms": now - 8 * HOUR_MS, "to_ms": to_ms, "in_cash_from_drawer": true});

        // No drawer open at this terminal: refused, nothing recorded.
        let (status, error) = terminal.post("/v1/tips/payouts", payout.clone()).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("no_open_drawer")), "{error}");
        // A drawer with 5,000 in it cannot hand out 9,000.
        let (status, _) = terminal.post("/v1/drawer", json!({"float_minor": 5_000})).await;
        assert_eq!(status, 201);
        let (status, error) = terminal.post("/v1/tips/payouts", payout.clone()).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("not_enough_cash")), "{error}");
        let (_, listed) = terminal.get("/v1/tips/payouts").await;
        assert_eq!(listed, json!([]), "a refused cash payout records nothing");
        let (_, report) = terminal.get("/v1/drawer").await;
        assert_eq!(report["paid_out_minor"], 0, "{report}");

        // With change brought from the safe it goes through, in one commit with the pay-out.
        let (status, _) = terminal
            .post("/v1/drawer/pay-ins", json!({"amount_minor": 10_000, "reason": "change from the safe"}))
            .await;
        assert_eq!(status, 200);
        let (status, paid) = terminal.post("/v1/tips/payouts", payout.clone()).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(paid["tips_minor"], 9_000);
        let session = paid["paid_from_drawer_session"].as_str().unwrap().to_owned();
        let (_, report) = terminal.get("/v1/drawer").await;
        assert_eq!(report["paid_out_minor"], 9_000, "{report}");
        let expected_cash = report["expected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["tender"] == "cash")
            .map(|e| e["amount_minor"].as_i64().unwrap())
            .unwrap();
        assert_eq!(expected_cash, 5_000 + 10_000 - 9_000);
        let (_, listed) = terminal.get("/v1/tips/payouts").await;
        assert_eq!(listed[0]["paid_from_drawer_session"], session.as_str(), "{listed}");
        // Paid once: the same period again is refused and the drawer does not move.
        let (status, error) = terminal.post("/v1/tips/payouts", payout).await;
        assert_eq!((status, error["code"].as_str()), (409, Some("tips_already_paid_out")), "{error}");
        let (_, report) = terminal.get("/v1/drawer").await;
        assert_eq!(report["paid_out_minor"], 9_000);

        // The count at close: 6,000 in cash is exactly what the drawer should hold.
        let (status, _) = terminal
            .post(
                "/v1/drawer/count",
                json!({"counts": [{"tender": "cash", "counted_minor": 6_000}, {"tender": "card", "counted_minor": 24_000}]}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, closed) = terminal.post("/v1/drawer/close", json!({})).await;
        assert_eq!(status, 200, "{closed}");
        let cash = closed["counted"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["tender"] == "cash")
            .unwrap()
            .clone();
        assert_eq!(cash["variance_minor"], 0, "{closed}");

        // The hub folds the same drawer: the tip-out is a pay-out there too.
        let api = dev_token(&pool, "baraka", "manager").await;
        let drawers = eventually(
            std::time::Duration::from_secs(30),
            "the closed drawer at the hub",
            || async {
                let (_, list) = hub_get(&client, &hub, &api, "/v1/baraka/pos/outlets/cbd/drawers").await;
                list["drawers"]
                    .as_array()
                    .is_some_and(|l| l.len() == 1 && l[0]["state"] == "closed")
                    .then_some(list)
            },
        )
        .await;
        assert_eq!(drawers["drawers"][0]["session_id"], session.as_str());
        assert_eq!(drawers["drawers"][0]["paid_out_minor"], 9_000, "{drawers}");
        assert_eq!(drawers["totals"]["paid_out_minor"], 9_000, "{drawers}");
        // Handed out in cash: the hub knows, and does not ask the treasury to pay it again.
        let (_, payouts) = hub_get(&client, &hub, &api, "/v1/baraka/pos/outlets/cbd/tip-payouts").await;
        assert_eq!((payouts[0]["paid_by"].as_str(), payouts[0]["drawer_session_id"].as_str()),
            (Some("cash_from_drawer"), Some(session.as_str())), "{payouts}");
        assert!(payouts[0]["treasury_state"].is_null(), "{payouts}");
        let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM service_calls WHERE service = 'treasury'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(calls, 0);
        assert!(treasury.payouts.lock().unwrap().is_empty());
    });
}
