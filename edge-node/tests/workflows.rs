//! Whole shifts at the LAN API, the way an outlet runs them: a café morning (a drawer, sales in
//! cash with change and by card, a discount, a refund on a supervisor's PIN, a blind count and
//! the day's Z report, all to the cent), a bar night (tabs opened by name with a limit, age
//! checks, happy-hour prices that end on the price book's schedule, a tab handed over), and a
//! kitchen service (courses held and fired, a remake, the expo view, the order ready once).
//! The supermarket lane with weighed goods is `tests/tests/scale_labels.rs` (it needs the hub's
//! catalog).
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{Staff, TestEdge, edge};
use serde_json::{Value, json};
use shared_model::pricebook::WeeklyWindow;
use shared_model::{CatalogItem, TaxMode, TaxRate};
use sync_protocol::feed::{CatalogItemV1, FeedBody, PriceBookScopeV1, PriceBookV1, WeeklyWindowV1};

fn approval(staff: &Staff) -> Value {
    json!({"staff_id": staff.id, "pin": staff.pin})
}

async fn ok(edge: &TestEdge, token: &str, method: &str, path: &str, body: Value) -> Value {
    let (status, answer) = edge.call_as(token, method, path, Some(body)).await;
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    answer
}

async fn open(edge: &TestEdge, token: &str, order_type: &str) -> String {
    let order = ok(
        edge,
        token,
        "POST",
        "/v1/orders",
        json!({"type": order_type}),
    )
    .await;
    order["id"].as_str().unwrap().to_owned()
}

async fn line(edge: &TestEdge, token: &str, order: &str, body: Value) -> Value {
    ok(
        edge,
        token,
        "POST",
        &format!("/v1/orders/{order}/lines"),
        body,
    )
    .await
}

/// Applies hub feed entries as if they had come down the sync stream.
fn feed(edge: &TestEdge, bodies: Vec<FeedBody>) {
    let after = edge.store.feed_through_seq().unwrap();
    let entries: Vec<(u64, FeedBody)> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| (after + 1 + i as u64, body))
        .collect();
    edge.store
        .apply_feed(&entries, edge_node::now_ms())
        .unwrap();
}

#[tokio::test]
async fn a_cafe_morning_sells_every_way_and_the_drawer_and_the_day_add_up_to_the_cent() {
    let edge = edge();
    let barista = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let till = edge.token.clone();
    edge.sign_in(&barista).await;
    let office = edge.pair("office");
    edge.sign_in_as(&office, &supervisor).await;
    ok(
        &edge,
        &till,
        "POST",
        "/v1/drawer",
        json!({"float_minor": 500_000}),
    )
    .await;

    // Two cappuccinos to take away, paid with a 1,000 note: 400.00 change.
    let first = open(&edge, &till, "take_out").await;
    line(
        &edge,
        &till,
        &first,
        json!({"item_id": "sku-cappuccino", "quantity": 2}),
    )
    .await;
    let paid = ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{first}/payments"),
        json!({"tender": "cash", "amount_minor": 100_000}),
    )
    .await;
    assert_eq!(paid["change_due_minor"], 40_000);
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{first}/close"),
        json!({}),
    )
    .await;
    let (status, receipt) = edge
        .call("GET", &format!("/v1/orders/{first}/receipt"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(receipt.to_string().contains("60000"), "{receipt}");

    // Chai and two mandazi by card.
    let second = open(&edge, &till, "dine_in").await;
    line(&edge, &till, &second, json!({"item_id": "sku-chai"})).await;
    line(
        &edge,
        &till,
        &second,
        json!({"item_id": "sku-mandazi", "quantity": 2}),
    )
    .await;
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{second}/payments"),
        json!({"tender": "card", "amount_minor": 25_000}),
    )
    .await;
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{second}/close"),
        json!({}),
    )
    .await;

    // A regular's 10 % off espresso and samosa (within the cashier's threshold), exact cash.
    let third = open(&edge, &till, "take_out").await;
    line(&edge, &till, &third, json!({"item_id": "sku-espresso"})).await;
    line(&edge, &till, &third, json!({"item_id": "sku-samosa"})).await;
    let discounted = ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{third}/discounts"),
        json!({"percent_bps": 1_000, "reason": "regular customer"}),
    )
    .await;
    assert_eq!(discounted["total_minor"], 25_200, "{discounted}");
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{third}/payments"),
        json!({"tender": "cash", "amount_minor": 25_200}),
    )
    .await;
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{third}/close"),
        json!({}),
    )
    .await;

    // The espresso comes back: the cashier needs the supervisor's PIN to refund it.
    let refund = json!({"tender": "cash", "amount_minor": 10_000, "reason": "cold espresso"});
    let (status, refused) = edge
        .call(
            "POST",
            &format!("/v1/orders/{third}/refunds"),
            Some(refund.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let mut approved = refund.clone();
    approved["approval"] = approval(&supervisor);
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{third}/refunds"),
        approved,
    )
    .await;

    // Mid-morning the supervisor reads the drawer (the cashier may not: the count is blind).
    let (status, _) = edge.call("GET", "/v1/drawer", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Float 5,000 + 600 + 252 − 100 in cash; 250 by card.
    let expected_cash = 500_000 + 60_000 + 25_200 - 10_000;
    let counted = ok(&edge, &till, "POST", "/v1/drawer/count", json!({"counts": [
        {"tender": "cash", "counted_minor": expected_cash}, {"tender": "card", "counted_minor": 25_000}]})).await;
    assert!(
        counted.get("expected").is_none() || counted["expected"].is_null(),
        "the count stays blind: {counted}"
    );
    let z = ok(&edge, &till, "POST", "/v1/drawer/close", json!({})).await;
    let variance: i64 = z["counted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["variance_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(variance, 0, "the drawer adds up: {z}");

    // The day closes with the same money.
    let day = ok(&edge, &office, "POST", "/v1/reports/day/close", json!({})).await;
    let summary = &day["summary"];
    assert_eq!(summary["orders_closed"], 3);
    assert_eq!(summary["sales_total_minor"], 60_000 + 25_000 + 25_200);
    assert_eq!(summary["discounts_minor"], 2_800);
    assert_eq!(
        summary["net_takings_minor"],
        60_000 + 25_000 + 25_200 - 10_000
    );
    assert_eq!(
        summary["refunds"],
        json!([{"tender": "cash", "count": 1, "amount_minor": 10_000}])
    );
}

#[tokio::test]
async fn a_bar_night_runs_tabs_at_happy_hour_prices_then_at_shelf_prices() {
    let edge = edge();
    let mut beer = CatalogItem::simple(
        "sku-tusker",
        "Tusker 500ml",
        "beer",
        40_000,
        TaxMode::Inclusive,
        vec![TaxRate::new("VAT16", 1600)],
    );
    beer.age_restricted = true;
    // Price books run on the outlet's clock: Nairobi (UTC+3) for a box the hub has not yet
    // configured.
    let now_minute = ((edge_node::now_ms() / 60_000 + 180) % 1_440) as u16;
    let window = |from: i64, to: i64| WeeklyWindowV1 {
        days_mask: WeeklyWindow::EVERY_DAY,
        start_minute: (now_minute as i64 + from).rem_euclid(1_440) as u16,
        end_minute: (now_minute as i64 + to).rem_euclid(1_440) as u16,
    };
    let happy_hour = |window: WeeklyWindowV1| PriceBookV1 {
        id: "happy-hour".into(),
        name: "Happy hour".into(),
        scope: PriceBookScopeV1::TimeWindow(vec![window]),
        priority: 1,
        prices: vec![("sku-tusker".into(), 25_000)],
    };
    feed(
        &edge,
        vec![
            FeedBody::CatalogItemUpserted(CatalogItemV1::from(&beer)),
            FeedBody::PriceBookUpserted(happy_hour(window(-60, 60))),
        ],
    );
    let bartender = edge.add_staff("Otieno", "bartender", "2468");
    let relief = edge.add_staff("Nafula", "bartender", "1357");
    let till = edge.token.clone();
    edge.sign_in(&bartender).await;

    let tab = ok(
        &edge,
        &till,
        "POST",
        "/v1/tabs",
        json!({"name": "Kamau party", "limit_minor": 200_000, "preauth_ref": "PA-2201"}),
    )
    .await;
    let order = tab["order"]["id"].as_str().unwrap().to_owned();
    // Beer needs the ID check on the line.
    let (status, refused) = edge
        .call(
            "POST",
            &format!("/v1/orders/{order}/lines"),
            Some(json!({"item_id": "sku-tusker", "quantity": 2})),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("age_verification_required")
        ),
        "{refused}"
    );
    let round = line(
        &edge,
        &till,
        &order,
        json!({"item_id": "sku-tusker", "quantity": 2, "age_verified": true}),
    )
    .await;
    assert_eq!(
        round["total_minor"], 50_000,
        "two at the happy-hour price: {round}"
    );

    // Happy hour ends (the book's window moves into the past): the next round is at shelf price.
    feed(
        &edge,
        vec![FeedBody::PriceBookUpserted(happy_hour(window(-120, -60)))],
    );
    let round = line(
        &edge,
        &till,
        &order,
        json!({"item_id": "sku-tusker", "quantity": 1, "age_verified": true}),
    )
    .await;
    assert_eq!(round["total_minor"], 90_000, "{round}");
    // 3 more would take the tab to 2,100.00, over its 2,000.00 limit.
    let (status, refused) = edge
        .call(
            "POST",
            &format!("/v1/orders/{order}/lines"),
            Some(json!({"item_id": "sku-tusker", "quantity": 3, "age_verified": true})),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("tab_limit_exceeded")),
        "{refused}"
    );

    // Shift change: the tab goes to the relief bartender, who finds it by name and closes it.
    ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{order}/transfer"),
        json!({"server_id": relief.id}),
    )
    .await;
    let relief_till = edge.pair("bar-2");
    edge.sign_in_as(&relief_till, &relief).await;
    let (_, found) = edge
        .call_as(&relief_till, "GET", "/v1/tabs?name=kamau", None)
        .await;
    assert_eq!(found[0]["order"]["id"], order.as_str(), "{found}");
    assert_eq!(found[0]["preauth_ref"], "PA-2201");
    let (_, mine) = edge
        .call_as(
            &relief_till,
            "GET",
            &format!("/v1/orders?server_id={}", relief.id),
            None,
        )
        .await;
    assert!(mine.to_string().contains(&order), "{mine}");
    ok(
        &edge,
        &relief_till,
        "POST",
        &format!("/v1/orders/{order}/payments"),
        json!({"tender": "card", "amount_minor": 90_000}),
    )
    .await;
    ok(
        &edge,
        &relief_till,
        "POST",
        &format!("/v1/orders/{order}/close"),
        json!({}),
    )
    .await;
    let (_, open_tabs) = edge.call("GET", "/v1/tabs", None).await;
    assert_eq!(open_tabs, json!([]));
}

#[tokio::test]
async fn a_kitchen_service_holds_and_fires_courses_remakes_a_dish_and_readies_the_order_once() {
    let edge = edge();
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    let office = edge.pair("office");
    edge.sign_in_as(&office, &manager).await;
    ok(
        &edge,
        &office,
        "PUT",
        "/v1/kitchen/routes",
        json!({"routes": [
        {"match": "item", "value": "sku-samosa", "station": "grill"},
        {"match": "category", "value": "bakery", "station": "fryer"},
        {"match": "category", "value": "tea", "station": "bar"}]}),
    )
    .await;
    let code = ok(
        &edge,
        &office,
        "POST",
        "/v1/devices/pairing-codes",
        json!({"kind": "kds"}),
    )
    .await;
    let kds = ok(
        &edge,
        "none",
        "POST",
        "/v1/devices/register",
        json!({"code": code["code"], "name": "Pass"}),
    )
    .await;
    let kds = kds["token"].as_str().unwrap().to_owned();
    let server = edge.add_staff("Juma", "server", "1111");
    let till = edge.token.clone();
    edge.sign_in(&server).await;

    // A table of two: samosas to start (course 1), mandazi and chai to follow (course 2).
    let order = open(&edge, &till, "dine_in").await;
    let starter = line(&edge, &till, &order, json!({"item_id": "sku-samosa", "quantity": 2, "seat": 1, "course": 1, "instructions": "extra chilli"})).await;
    let starter_id = starter["lines"][0]["id"].as_str().unwrap().to_owned();
    line(
        &edge,
        &till,
        &order,
        json!({"item_id": "sku-mandazi", "quantity": 2, "seat": 2, "course": 2}),
    )
    .await;
    line(
        &edge,
        &till,
        &order,
        json!({"item_id": "sku-chai", "quantity": 2, "course": 2}),
    )
    .await;

    let fired = ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{order}/send"),
        json!({"line_ids": [starter_id]}),
    )
    .await;
    let tickets = fired["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "only the starter is fired: {fired}");
    assert_eq!(tickets[0]["station"], "grill");
    let (_, expo) = edge.call_as(&kds, "GET", "/v1/kitchen/tickets", None).await;
    assert_eq!(
        expo.as_array().unwrap().len(),
        1,
        "the held course is not in the kitchen"
    );

    // The grill finishes the starter; the guests do not like it: a remake, on a rush.
    let grill_ticket = tickets[0]["id"].as_str().unwrap().to_owned();
    let bumped = ok(
        &edge,
        &kds,
        "POST",
        &format!("/v1/kitchen/tickets/{grill_ticket}/actions"),
        json!({"action": "bump"}),
    )
    .await;
    assert_eq!(
        bumped["order_ready"], false,
        "the mains are still held: the table is not ready"
    );
    let remade = ok(
        &edge,
        &kds,
        "POST",
        &format!("/v1/kitchen/tickets/{grill_ticket}/actions"),
        json!({"action": "remake"}),
    )
    .await;
    assert_eq!(remade["ticket"]["remake_of"], grill_ticket, "{remade}");
    assert_eq!(remade["ticket"]["priority"], true);
    assert_eq!(remade["order_ready"], false);

    // Mains away: one ticket per station, and the expo sees every station's.
    let mains = ok(
        &edge,
        &till,
        "POST",
        &format!("/v1/orders/{order}/send"),
        json!({}),
    )
    .await;
    let mut stations: Vec<&str> = mains["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["station"].as_str().unwrap())
        .collect();
    stations.sort_unstable();
    assert_eq!(stations, ["bar", "fryer"]);
    let (_, expo) = edge.call_as(&kds, "GET", "/v1/kitchen/tickets", None).await;
    let expo = expo.as_array().unwrap();
    assert_eq!(expo.len(), 3, "the remake and two mains: {expo:?}");
    assert_eq!(expo[0]["priority"], true, "the rush first");
    let (_, all_day) = edge.call_as(&kds, "GET", "/v1/kitchen/all-day", None).await;
    assert!(all_day.to_string().contains("Mandazi"), "{all_day}");

    // Every station bumps: the order is ready once.
    let mut ready = Vec::new();
    for ticket in expo {
        let answer = ok(
            &edge,
            &kds,
            "POST",
            &format!(
                "/v1/kitchen/tickets/{}/actions",
                ticket["id"].as_str().unwrap()
            ),
            json!({"action": "bump"}),
        )
        .await;
        ready.push(answer["order_ready"].as_bool().unwrap());
    }
    assert_eq!(ready.iter().filter(|r| **r).count(), 1, "{ready:?}");
    assert_eq!(ready.last(), Some(&true));
    let (_, expo) = edge.call_as(&kds, "GET", "/v1/kitchen/tickets", None).await;
    assert_eq!(expo, json!([]));
}
