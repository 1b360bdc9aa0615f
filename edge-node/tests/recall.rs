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

#[tokio::test]
async fn a_terminal_recalls_orders_by_customer_tab_name_or_loyalty_member() {
    let edge = edge();
    // A member known to the outlet (from the hub's feed), named on one order.
    edge.store
        .apply_feed(
            &[(
                1,
                sync_protocol::feed::FeedBody::LoyaltyMemberSet(
                    sync_protocol::feed::LoyaltyMemberV1 {
                        code: "MBR-4471".into(),
                        name: "Achieng Odhiambo".into(),
                        active: true,
                        balance_points: 100,
                        allowance_points: 50,
                        outlet_burned_points: 0,
                    },
                ),
            )],
            0,
        )
        .unwrap();
    let members_order = edge.order_with("sku-chai").await;
    let (status, body) = edge
        .call(
            "PUT",
            &format!("/v1/orders/{members_order}/loyalty-member"),
            Some(serde_json::json!({"code": "MBR-4471"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A tab by name, and an order with no customer at all.
    let (status, tab) = edge
        .call(
            "POST",
            "/v1/tabs",
            Some(serde_json::json!({"name": "Otieno 100%"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tab}");
    let tab_order = tab["order"]["id"].as_str().unwrap().to_owned();
    let anonymous = edge.order_with("sku-samosa").await;

    let found = |query: &'static str| {
        let edge = &edge;
        async move {
            let (status, found) = edge.call("GET", &format!("/v1/orders?{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{query}: {found}");
            found
                .as_array()
                .unwrap()
                .iter()
                .map(|order| order["id"].as_str().unwrap().to_owned())
                .collect::<Vec<String>>()
        }
    };
    // By the member's name (any case, any part) or code; by the tab's name.
    assert_eq!(found("customer=achieng").await, [members_order.as_str()]);
    assert_eq!(found("customer=ODHIAMBO").await, [members_order.as_str()]);
    assert_eq!(found("customer=4471").await, [members_order.as_str()]);
    assert_eq!(found("customer=otieno").await, [tab_order.as_str()]);
    // The search's own wildcards are taken literally: "%" finds the tab named with one, and
    // "_" matches no name at all.
    assert_eq!(found("customer=0%25").await, [tab_order.as_str()]);
    assert!(found("customer=__").await.is_empty());
    // Combined with the other filters.
    assert_eq!(
        found("customer=achieng&state=voided").await,
        Vec::<String>::new()
    );
    assert!(!found("customer=wanjiku").await.contains(&anonymous));

    // Too short, too long or with control characters: refused by field.
    for query in [
        "customer=a",
        "customer=%20%20",
        &format!("customer={}", "x".repeat(81)),
        "customer=ab%0Acd",
    ] {
        let (status, error) = edge.call("GET", &format!("/v1/orders?{query}"), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(error["field"], "customer", "{query}");
    }
}
