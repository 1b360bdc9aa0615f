//! The kitchen: routing rules split an order into station tickets, KDS actions move them,
//! order-ready becomes an op, and a real WebSocket client follows the live stream and resumes
//! after a reconnect without missing a ticket.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{Served, TestEdge, edge, serve};
use futures_util::StreamExt;
use serde_json::{Value, json};
use sync_protocol::op::{KitchenEventV1, OpBody};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Coffee and tea to the bar, bakery to the fryer, samosas (an item rule) to the grill.
async fn with_routes(edge: &TestEdge) {
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    let office = edge.pair("office");
    edge.sign_in_as(&office, &manager).await;
    let (status, routes) = edge
        .call_as(
            &office,
            "PUT",
            "/v1/kitchen/routes",
            Some(json!({"routes": [
                {"match": "category", "value": "coffee", "station": "bar"},
                {"match": "category", "value": "tea", "station": "bar"},
                {"match": "category", "value": "bakery", "station": "fryer"},
                {"match": "item", "value": "sku-samosa", "station": "grill"},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{routes}");
}

async fn add_line(edge: &TestEdge, order_id: &str, item_id: &str, quantity: i64) {
    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{order_id}/lines"),
            Some(json!({"item_id": item_id, "quantity": quantity})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn send(edge: &TestEdge, order_id: &str) -> Vec<Value> {
    let (status, sent) = edge
        .call("POST", &format!("/v1/orders/{order_id}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["tickets"].as_array().unwrap().clone()
}

async fn act(edge: &TestEdge, token: &str, ticket_id: &str, body: Value) -> (StatusCode, Value) {
    edge.call_as(
        token,
        "POST",
        &format!("/v1/kitchen/tickets/{ticket_id}/actions"),
        Some(body),
    )
    .await
}

async fn kds(edge: &TestEdge) -> String {
    let manager = edge.add_staff("Kamau", "manager", "1357");
    edge.sign_in(&manager).await;
    let (_, code) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "kds"})),
        )
        .await;
    let (status, device) = edge
        .call_as(
            "none",
            "POST",
            "/v1/devices/register",
            Some(json!({"code": code["code"], "name": "kds"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    edge.call("DELETE", "/v1/staff/sessions/current", None)
        .await;
    device["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_order_is_split_into_one_ticket_per_station_by_item_and_category_rules() {
    let edge = edge();
    with_routes(&edge).await;
    let id = edge.order_with("sku-cappuccino").await;
    add_line(&edge, &id, "sku-chai", 2).await;
    add_line(&edge, &id, "sku-mandazi", 3).await;
    add_line(&edge, &id, "sku-samosa", 1).await;
    add_line(&edge, &id, "sku-water", 1).await;
    let seq = edge.last_seq();
    let tickets = send(&edge, &id).await;
    let stations: Vec<&str> = tickets
        .iter()
        .map(|t| t["station"].as_str().unwrap())
        .collect();
    assert_eq!(stations, ["bar", "expo", "fryer", "grill"]);
    let bar = &tickets[0]["lines"];
    assert_eq!(
        bar.as_array().unwrap().len(),
        2,
        "coffee and tea share the bar ticket"
    );
    assert_eq!(
        tickets[1]["lines"][0]["item_id"], "sku-water",
        "unrouted items go to expo"
    );
    assert_eq!(
        tickets[3]["lines"][0]["item_id"], "sku-samosa",
        "an item rule beats its category"
    );
    // The order records which lines the kitchen has, then the tickets follow, in one commit.
    assert!(matches!(
        edge.op_bodies_after(seq).as_slice(),
        [
            OpBody::Order(sync_protocol::op::OrderEventV1::LinesSent { line_ids, .. }),
            OpBody::Kitchen(KitchenEventV1::SentToKitchen { tickets, .. }),
        ] if line_ids.len() == 5 && tickets.len() == 4
    ));

    let (status, error) = edge
        .call("POST", &format!("/v1/orders/{id}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "nothing_to_send");
    add_line(&edge, &id, "sku-espresso", 1).await;
    let tickets = send(&edge, &id).await;
    assert_eq!(tickets.len(), 1, "a second send carries only the new line");
    assert_eq!(tickets[0]["lines"][0]["item_id"], "sku-espresso");
}

#[tokio::test]
async fn bumping_every_station_makes_the_order_ready_once_with_an_op() {
    let edge = edge();
    with_routes(&edge).await;
    let kds = kds(&edge).await;
    let id = edge.order_with("sku-cappuccino").await;
    add_line(&edge, &id, "sku-samosa", 1).await;
    let tickets = send(&edge, &id).await;
    let seq = edge.last_seq();
    let (status, first) = act(
        &edge,
        &kds,
        tickets[0]["id"].as_str().unwrap(),
        json!({"action": "bump"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["order_ready"], false);
    let (_, second) = act(
        &edge,
        &kds,
        tickets[1]["id"].as_str().unwrap(),
        json!({"action": "bump"}),
    )
    .await;
    assert_eq!(second["order_ready"], true);
    assert_eq!(second["ticket"]["state"], "bumped");
    let ready: Vec<_> = edge
        .op_bodies_after(seq)
        .into_iter()
        .filter(|body| matches!(body, OpBody::Kitchen(KitchenEventV1::OrderReady { .. })))
        .collect();
    assert_eq!(ready.len(), 1);

    // Recall and bump again: still ready once.
    let ticket = tickets[1]["id"].as_str().unwrap();
    let (_, recalled) = act(&edge, &kds, ticket, json!({"action": "recall"})).await;
    assert_eq!(recalled["ticket"]["state"], "new");
    let (_, again) = act(&edge, &kds, ticket, json!({"action": "bump"})).await;
    assert_eq!(again["order_ready"], false);
}

#[tokio::test]
async fn kds_actions_follow_the_ticket_state_and_refuse_the_rest() {
    let edge = edge();
    let kds = kds(&edge).await;
    let id = edge.order_with("sku-samosa").await;
    let tickets = send(&edge, &id).await;
    let ticket = tickets[0]["id"].as_str().unwrap();

    let (_, paused) = act(&edge, &kds, ticket, json!({"action": "pause"})).await;
    assert_eq!(paused["ticket"]["state"], "paused");
    let (status, error) = act(&edge, &kds, ticket, json!({"action": "pause"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "ticket_state");
    let (_, resumed) = act(&edge, &kds, ticket, json!({"action": "resume"})).await;
    assert_eq!(resumed["ticket"]["state"], "new");
    let (_, rushed) = act(
        &edge,
        &kds,
        ticket,
        json!({"action": "priority", "priority": true}),
    )
    .await;
    assert_eq!(rushed["ticket"]["priority"], true);
    let (status, error) = act(&edge, &kds, ticket, json!({"action": "priority"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "priority");
    let (status, error) = act(&edge, &kds, ticket, json!({"action": "flambe"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "action");
    let (_, remade) = act(&edge, &kds, ticket, json!({"action": "remake"})).await;
    assert_eq!(remade["ticket"]["remake_of"], ticket);
    assert_eq!(remade["ticket"]["state"], "new");
    let (status, _) = act(
        &edge,
        &kds,
        &uuid::Uuid::now_v7().to_string(),
        json!({"action": "bump"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The expo view sees every station; all-day counts sum what is still to make.
    let (_, expo) = edge.call_as(&kds, "GET", "/v1/kitchen/tickets", None).await;
    assert_eq!(expo.as_array().unwrap().len(), 2);
    assert!(expo[0]["age_ms"].as_i64().unwrap() >= 0);
    let (_, all_day) = edge.call_as(&kds, "GET", "/v1/kitchen/all-day", None).await;
    assert_eq!(all_day[0]["item_id"], "sku-samosa");
    assert_eq!(all_day[0]["quantity"], 2);
    let (_, grill) = edge
        .call_as(&kds, "GET", "/v1/kitchen/tickets?station=grill", None)
        .await;
    assert_eq!(grill.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_terminal_needs_a_kitchen_role_to_bump_tickets() {
    let edge = edge();
    let id = edge.order_with("sku-samosa").await;
    let tickets = send(&edge, &id).await;
    let ticket = tickets[0]["id"].as_str().unwrap();
    let token = edge.token.clone();
    let (status, error) = act(&edge, &token, ticket, json!({"action": "bump"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    edge.sign_in(&cashier).await;
    let (status, _) = act(&edge, &token, ticket, json!({"action": "bump"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cook = edge.add_staff("Juma", "kitchen", "1111");
    edge.sign_in(&cook).await;
    let (status, _) = act(&edge, &token, ticket, json!({"action": "bump"})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_routing_rules_are_refused_and_change_nothing() {
    let edge = edge();
    with_routes(&edge).await;
    let manager = edge.add_staff("Kamau", "manager", "1357");
    edge.sign_in(&manager).await;
    for (rules, field) in [
        (
            json!([{"match": "colour", "value": "red", "station": "bar"}]),
            "match",
        ),
        (
            json!([{"match": "item", "value": "sku-chai", "station": "Bar Top"}]),
            "station",
        ),
        (
            json!([{"match": "item", "value": "", "station": "bar"}]),
            "value",
        ),
    ] {
        let (status, error) = edge
            .call("PUT", "/v1/kitchen/routes", Some(json!({"routes": rules})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    let (_, routes) = edge.call("GET", "/v1/kitchen/routes", None).await;
    assert_eq!(routes.as_array().unwrap().len(), 4);
}

// ---- the live stream -------------------------------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(served: &Served, token: &str, after: u64) -> Socket {
    let mut request = format!("ws://{}/v1/stream?after={after}", served.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

async fn next_event(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_stream_delivers_tickets_live_and_resumes_after_a_reconnect_without_gaps() {
    let edge = edge();
    with_routes(&edge).await;
    let kds = kds(&edge).await;
    let served = serve(&edge).await;
    let mut socket = connect(&served, &kds, 0).await;

    let first = edge.order_with("sku-samosa").await;
    send(&edge, &first).await;
    let created = next_event(&mut socket).await;
    assert_eq!(created["kind"], "ticket.created");
    assert_eq!(created["body"]["order_id"], first);
    assert_eq!(created["body"]["station"], "grill");
    let last_seen = created["seq"].as_u64().unwrap();

    // The KDS drops off the network; two orders are sent while it is away.
    drop(socket);
    let second = edge.order_with("sku-cappuccino").await;
    send(&edge, &second).await;
    let third = edge.order_with("sku-mandazi").await;
    send(&edge, &third).await;

    let mut socket = connect(&served, &kds, last_seen).await;
    let missed_one = next_event(&mut socket).await;
    let missed_two = next_event(&mut socket).await;
    assert_eq!(missed_one["seq"].as_u64().unwrap(), last_seen + 1);
    assert_eq!(missed_one["body"]["order_id"], second);
    assert_eq!(missed_two["seq"].as_u64().unwrap(), last_seen + 2);
    assert_eq!(missed_two["body"]["order_id"], third);

    // And it keeps following live after the catch-up.
    let ticket = missed_two["body"]["id"].as_str().unwrap().to_owned();
    act(&edge, &kds, &ticket, json!({"action": "bump"})).await;
    let updated = next_event(&mut socket).await;
    assert_eq!(updated["kind"], "ticket.updated");
    assert_eq!(updated["body"]["state"], "bumped");
    let ready = next_event(&mut socket).await;
    assert_eq!(ready["kind"], "order.ready");
    assert_eq!(ready["body"]["order_id"], third);
}

#[tokio::test]
async fn the_stream_refuses_a_client_without_a_device_token() {
    let edge = edge();
    let served = serve(&edge).await;
    let request = format!("ws://{}/v1/stream", served.addr)
        .into_client_request()
        .unwrap();
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn two_terminals_sending_one_order_at_once_make_one_set_of_tickets() {
    let edge = std::sync::Arc::new(edge());
    let id = edge.order_with("sku-samosa").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let edge = edge.clone();
        let path = format!("/v1/orders/{id}/send");
        tasks.push(tokio::spawn(async move {
            edge.call("POST", &path, None).await.0
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    let (_, tickets) = edge.call("GET", "/v1/kitchen/tickets", None).await;
    assert_eq!(tickets.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_resuming_from_before_the_oldest_kept_event_is_told_to_reload() {
    let edge = edge();
    let served = serve(&edge).await;
    for _ in 0..3 {
        let id = edge.order_with("sku-samosa").await;
        send(&edge, &id).await;
    }
    // Pruning as the store does past STREAM_EVENTS_KEPT: events 1 and 2 are gone.
    let sqlite = rusqlite::Connection::open(edge.dir.path().join("edge.sqlite")).unwrap();
    sqlite
        .execute("DELETE FROM stream_events WHERE seq <= 2", [])
        .unwrap();
    let token = edge.token.clone();
    let mut socket = connect(&served, &token, 1).await;
    let reset = next_event(&mut socket).await;
    assert_eq!(reset["kind"], "stream.reset");
    assert_eq!(reset["body"]["oldest_seq"], 3);
    let kept = next_event(&mut socket).await;
    assert_eq!(kept["seq"], 3);
}

#[tokio::test]
async fn a_course_is_fired_on_its_own_and_the_held_lines_follow_later() {
    let edge = edge();
    let id = edge.order_with("sku-samosa").await;
    add_line(&edge, &id, "sku-mandazi", 2).await;
    let (_, order) = edge.call("GET", &format!("/v1/orders/{id}"), None).await;
    let starter = order["lines"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/send");

    let (status, fired) = edge
        .call("POST", &path, Some(json!({"line_ids": [starter]})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fired}");
    let lines: Vec<&str> = fired["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ticket| ticket["lines"].as_array().unwrap())
        .map(|line| line["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["sku-samosa"],
        "the held line stays out of the kitchen"
    );

    for (body, field) in [
        (json!({"line_ids": []}), "line_ids"),
        (json!({"line_ids": ["not-a-uuid"]}), "line_ids"),
        (
            json!({"line_ids": [uuid::Uuid::now_v7().to_string()]}),
            "line_ids",
        ),
    ] {
        let (status, error) = edge.call("POST", &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    let (status, _) = edge
        .call("POST", &path, Some(json!({"line_ids": [starter]})))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a fired line is not fired twice"
    );

    let (status, main) = edge.call("POST", &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(main["tickets"][0]["lines"][0]["item_id"], "sku-mandazi");
}

#[tokio::test]
async fn a_kiosk_is_throttled_when_its_station_is_full_and_a_staff_terminal_is_not() {
    let edge = edge();
    let manager = edge.add_staff("Kamau", "manager", "1357");
    edge.sign_in(&manager).await;
    let (status, error) = edge
        .call(
            "PUT",
            "/v1/kitchen/stations/grill/limit",
            Some(json!({"active_tickets_max": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, _) = edge
        .call(
            "PUT",
            "/v1/kitchen/stations/grill/limit",
            Some(json!({"active_tickets_max": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    edge.call(
        "PUT",
        "/v1/kitchen/routes",
        Some(json!({"routes": [{"match": "item", "value": "sku-samosa", "station": "grill"}]})),
    )
    .await;
    let (_, code) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "kiosk"})),
        )
        .await;
    let (_, kiosk) = edge
        .call_as(
            "none",
            "POST",
            "/v1/devices/register",
            Some(json!({"code": code["code"], "name": "kiosk-1"})),
        )
        .await;
    let kiosk = kiosk["token"].as_str().unwrap().to_owned();

    let first = edge.order_with("sku-samosa").await;
    let (status, _) = edge
        .call_as(&kiosk, "POST", &format!("/v1/orders/{first}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let second = edge.order_with("sku-samosa").await;
    let seq = edge.last_seq();
    let (status, error) = edge
        .call_as(&kiosk, "POST", &format!("/v1/orders/{second}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "kitchen_busy");
    assert_eq!(edge.last_seq(), seq, "a throttled send changes nothing");

    let (_, stations) = edge.call("GET", "/v1/kitchen/stations", None).await;
    assert_eq!(stations[0]["station"], "grill");
    assert_eq!(stations[0]["active_tickets"], 1);
    assert_eq!(stations[0]["active_tickets_max"], 1);
    assert!(stations[0]["oldest_ticket_age_ms"].as_i64().unwrap() >= 0);

    // A staff terminal sends anyway; staff judge the rush.
    let (status, _) = edge
        .call("POST", &format!("/v1/orders/{second}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Past tickets of `station`, as if the kitchen had worked them: bumped ones with their make
/// times (ending within the last few minutes), or open ones.
fn kitchen_history(edge: &TestEdge, station: &str, bumped_make_ms: &[i64], open: usize) {
    let now = edge_node::now_ms();
    let db = rusqlite::Connection::open(edge.dir.path().join("edge.sqlite")).unwrap();
    let insert = |state: &str, created: i64, bumped: Option<i64>| {
        db.execute(
            "INSERT INTO kitchen_tickets (id, order_id, order_number, station, state, lines,
                created_at_ms, bumped_at_ms)
             VALUES (?1, ?2, 900, ?3, ?4, '[]', ?5, ?6)",
            rusqlite::params![
                uuid::Uuid::now_v7().to_string(),
                uuid::Uuid::now_v7().to_string(),
                station,
                state,
                created,
                bumped
            ],
        )
        .unwrap();
    };
    for (i, make) in bumped_make_ms.iter().enumerate() {
        let bumped_at = now - 60_000 * (i as i64 + 1);
        insert("bumped", bumped_at - make, Some(bumped_at));
    }
    for _ in 0..open {
        insert("new", now - 30_000, None);
    }
}

#[tokio::test]
async fn a_sent_order_is_quoted_a_wait_from_the_stations_recent_pace() {
    let edge = edge();
    let quote_of = |sent: &Value| sent["quoted_wait_ms"].as_i64().unwrap();
    let send_one = |item: &'static str| {
        let edge = &edge;
        async move {
            let order = edge.order_with(item).await;
            let before = edge_node::now_ms();
            let (status, sent) = edge
                .call("POST", &format!("/v1/orders/{order}/send"), None)
                .await;
            assert_eq!(status, StatusCode::CREATED, "{sent}");
            let ready_in = sent["quoted_ready_at_ms"].as_i64().unwrap() - before;
            assert!(
                (0..=2_000).contains(&(ready_in - quote_of(&sent))),
                "{sent}"
            );
            sent
        }
    };
    // A kitchen the till has never watched: the cautious default of ten minutes.
    let first = send_one("sku-chai").await;
    assert_eq!(quote_of(&first), 600_000, "{first}");
    let station = first["tickets"][0]["station"].as_str().unwrap().to_owned();

    // Five bumps in the last quarter hour, typically 4:20 from send to bump (one slow outlier):
    // five minutes, the one ticket ahead clearing sooner than that.
    kitchen_history(
        &edge,
        &station,
        &[240_000, 250_000, 260_000, 270_000, 1_200_000],
        0,
    );
    let second = send_one("sku-chai").await;
    assert_eq!(quote_of(&second), 300_000, "{second}");

    // A rush: ten more tickets open; twelve ahead at five per quarter hour is 36 minutes.
    kitchen_history(&edge, &station, &[], 10);
    let third = send_one("sku-chai").await;
    assert_eq!(quote_of(&third), 36 * 60_000, "{third}");

    // What a kiosk would tell the next customer before ordering: thirteen ahead now.
    let (status, stations) = edge.call("GET", "/v1/kitchen/stations", None).await;
    assert_eq!(status, StatusCode::OK);
    let load = stations
        .as_array()
        .unwrap()
        .iter()
        .find(|load| load["station"] == station.as_str())
        .unwrap()
        .clone();
    assert_eq!(load["active_tickets"], 13, "{stations}");
    assert_eq!(load["quoted_wait_ms"], 39 * 60_000, "{stations}");
}
