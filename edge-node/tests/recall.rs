//! Order recall on the LAN: by number and by state.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::edge;

#[tokio::test]
async fn a_terminal_recalls_an_order_by_its_number_or_lists_the_open_ones() {
    let edge = edge();
    let first = edge.order_with("sku-chai").await;
    let second = edge.order_with("sku-samosa").await;
    let (_, order) = edge
        .call("GET", &format!("/v1/orders/{second}"), None)
        .await;
    let number = order["number"].as_u64().unwrap();

    let (status, found) = edge
        .call("GET", &format!("/v1/orders?number={number}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], second);

    edge.call(
        "POST",
        &format!("/v1/orders/{first}/void"),
        Some(serde_json::json!({"reason": "duplicate"})),
    )
    .await;
    let (_, open) = edge.call("GET", "/v1/orders?state=open", None).await;
    let open: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_str().unwrap())
        .collect();
    assert_eq!(open, [second.as_str()]);

    let (status, error) = edge.call("GET", "/v1/orders?state=lost", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "state");
    let (status, error) = edge.call("GET", "/v1/orders?colour=red", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "invalid_query");
}
