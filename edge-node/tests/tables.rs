//! The floor plan: seating guests opens a dine-in order at a table, the table's status follows
//! its order, orders move between tables, and bad plans change nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use serde_json::{Value, json};
use sync_protocol::op::{OpBody, TableEventV1};

async fn with_floor(edge: &TestEdge) {
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let office = edge.pair("office");
    edge.sign_in_as(&office, &supervisor).await;
    let (status, error) = edge
        .call_as(
            &office,
            "PUT",
            "/v1/floor-plan",
            Some(json!({"tables": [
                {"area": "Terrace", "code": "T1", "seats": 4},
                {"area": "Terrace", "code": "T2", "seats": 2},
                {"area": "Bar", "code": "B1", "seats": 6},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{error}");
}

async fn status_of(edge: &TestEdge, code: &str) -> Value {
    let (_, floor) = edge.call("GET", "/v1/floor-plan", None).await;
    floor
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["code"] == code)
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_tables_status_follows_its_order_from_seated_to_free() {
    let edge = edge();
    with_floor(&edge).await;
    assert_eq!(status_of(&edge, "T1").await["status"], "free");
    let seq = edge.last_seq();
    let (status, order) = edge
        .call("POST", "/v1/tables/T1/orders", Some(json!({"guests": 3})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["type"], "dine_in");
    let id = order["id"].as_str().unwrap().to_owned();
    let table = status_of(&edge, "T1").await;
    assert_eq!(table["status"], "seated");
    assert_eq!(table["guests"], 3);
    assert_eq!(table["order_id"], id.as_str());
    assert!(matches!(
        &edge.op_bodies_after(seq)[1],
        OpBody::Table(TableEventV1::Seated { table, guests: 3, .. }) if table == "T1"
    ));

    edge.call(
        "POST",
        &format!("/v1/orders/{id}/lines"),
        Some(json!({"item_id": "sku-chai", "quantity": 1})),
    )
    .await;
    assert_eq!(status_of(&edge, "T1").await["status"], "ordered");
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/payments"),
        Some(json!({"tender": "cash", "amount_minor": 20_000})),
    )
    .await;
    assert_eq!(status_of(&edge, "T1").await["status"], "paying");
    edge.call("POST", &format!("/v1/orders/{id}/close"), None)
        .await;
    let table = status_of(&edge, "T1").await;
    assert_eq!(table["status"], "free");
    assert_eq!(table["order_id"], Value::Null);
}

#[tokio::test]
async fn a_taken_table_refuses_new_guests_and_an_order_moves_only_to_a_free_table() {
    let edge = edge();
    with_floor(&edge).await;
    let (_, first) = edge
        .call("POST", "/v1/tables/T1/orders", Some(json!({"guests": 2})))
        .await;
    let (status, error) = edge
        .call("POST", "/v1/tables/T1/orders", Some(json!({"guests": 2})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "table_taken");
    edge.call("POST", "/v1/tables/B1/orders", Some(json!({"guests": 5})))
        .await;
    let id = first["id"].as_str().unwrap();

    let seq = edge.last_seq();
    let (status, error) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/transfer"),
            Some(json!({"table": "B1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "table_taken");
    let (status, error) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/transfer"),
            Some(json!({"table": "Z9"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "table_not_found");
    assert_eq!(edge.last_seq(), seq, "refused moves change nothing");

    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/transfer"),
            Some(json!({"table": "T2"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(status_of(&edge, "T1").await["status"], "free");
    assert_eq!(status_of(&edge, "T2").await["order_id"], id);
    assert!(matches!(
        &edge.op_bodies_after(seq)[0],
        OpBody::Table(TableEventV1::Transferred { from_table, to_table, .. })
            if from_table == "T1" && to_table == "T2"
    ));
}

#[tokio::test]
async fn bad_floor_plans_are_refused_and_a_table_with_guests_cannot_be_removed() {
    let edge = edge();
    with_floor(&edge).await;
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    edge.sign_in(&manager).await;
    for (tables, field) in [
        (json!([{"area": "Terrace", "code": "", "seats": 4}]), "code"),
        (
            json!([{"area": "Terrace", "code": "T1", "seats": 0}]),
            "seats",
        ),
        (
            json!([{"area": "A", "code": "T1", "seats": 2}, {"area": "A", "code": "T1", "seats": 2}]),
            "code",
        ),
    ] {
        let (status, error) = edge
            .call("PUT", "/v1/floor-plan", Some(json!({"tables": tables})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    let (status, error) = edge
        .call("POST", "/v1/tables/T1/orders", Some(json!({"guests": 0})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "guests");

    edge.call("POST", "/v1/tables/T1/orders", Some(json!({"guests": 2})))
        .await;
    let (status, error) = edge
        .call(
            "PUT",
            "/v1/floor-plan",
            Some(json!({"tables": [{"area": "Bar", "code": "B1", "seats": 6}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "table_in_use");
    let (_, floor) = edge.call("GET", "/v1/floor-plan", None).await;
    assert_eq!(floor.as_array().unwrap().len(), 3, "the plan is unchanged");
}

// ---- bar tabs --------------------------------------------------------------------------------

#[tokio::test]
async fn a_bar_tab_opens_by_name_is_recalled_by_name_and_stops_at_its_limit() {
    let edge = edge();
    let seq = edge.last_seq();
    let (status, tab) = edge
        .call(
            "POST",
            "/v1/tabs",
            Some(json!({"name": "Otieno", "limit_minor": 50_000, "preauth_ref": "PA-77"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tab}");
    assert_eq!(tab["order"]["type"], "bar_tab");
    let id = tab["order"]["id"].as_str().unwrap().to_owned();
    assert!(matches!(
        &edge.op_bodies_after(seq)[1],
        OpBody::Tab(sync_protocol::op::TabEventV1::Opened { name, limit_minor: Some(50_000), .. })
            if name == "Otieno"
    ));
    edge.call("POST", "/v1/tabs", Some(json!({"name": "Wambui"})))
        .await;

    let (_, found) = edge.call("GET", "/v1/tabs?name=otie", None).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["preauth_ref"], "PA-77");
    let (_, all) = edge.call("GET", "/v1/tabs", None).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, none) = edge.call("GET", "/v1/tabs?name=%25", None).await;
    assert_eq!(
        none.as_array().unwrap().len(),
        0,
        "a % in the name is not a wildcard"
    );

    // 2 cappuccinos = 60,000: over the 50,000 limit; 1 = 30,000 fits.
    let path = format!("/v1/orders/{id}/lines");
    let before = edge.last_seq();
    let (status, error) = edge
        .call(
            "POST",
            &path,
            Some(json!({"item_id": "sku-cappuccino", "quantity": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "tab_limit_exceeded");
    assert_eq!(edge.last_seq(), before, "the refused line wrote nothing");
    let (status, _) = edge
        .call(
            "POST",
            &path,
            Some(json!({"item_id": "sku-cappuccino", "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Closing the tab's order closes the tab.
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/payments"),
        Some(json!({"tender": "card", "amount_minor": 30_000})),
    )
    .await;
    edge.call("POST", &format!("/v1/orders/{id}/close"), None)
        .await;
    let (_, open) = edge.call("GET", "/v1/tabs", None).await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["name"], "Wambui");
}

#[tokio::test]
async fn bad_tab_input_is_refused_and_opens_nothing() {
    let edge = edge();
    let seq = edge.last_seq();
    for (body, field) in [
        (json!({"name": " "}), "name"),
        (json!({"name": "Otieno", "limit_minor": 0}), "limit_minor"),
        (json!({"name": "Otieno", "preauth_ref": ""}), "preauth_ref"),
    ] {
        let (status, error) = edge.call("POST", "/v1/tabs", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    assert_eq!(edge.last_seq(), seq);
}
