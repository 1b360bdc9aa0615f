//! Changing a bill after its lines are in, through the real router and a real SQLite store:
//! price overrides, line voids (before and after the kitchen has them), discounts under and
//! over the outlet's threshold, merging two bills and splitting one. Every high-risk change is
//! refused without the permission or a supervisor's override in the same request, changes
//! nothing when refused, and is audited with an op when allowed.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use serde_json::{Value, json};
use sync_protocol::op::{AuditActionV1, OpBody, OrderEventV1};

fn audits(edge: &TestEdge, after_seq: u64) -> Vec<sync_protocol::op::AuditEventV1> {
    edge.op_bodies_after(after_seq)
        .into_iter()
        .filter_map(|body| match body {
            OpBody::Audit(audit) => Some(audit),
            _ => None,
        })
        .collect()
}

fn uuid_bytes(id: &str) -> [u8; 16] {
    *uuid::Uuid::parse_str(id).unwrap().as_bytes()
}

async fn open(edge: &TestEdge) -> String {
    let (status, order) = edge
        .call("POST", "/v1/orders", Some(json!({"type": "dine_in"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    order["id"].as_str().unwrap().to_owned()
}

async fn add(edge: &TestEdge, order: &str, body: Value) -> Value {
    let (status, order) = edge
        .call("POST", &format!("/v1/orders/{order}/lines"), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    order
}

async fn refused(edge: &TestEdge, path: &str, body: Value, status: StatusCode, code: &str) {
    let seq = edge.last_seq();
    let (got, error) = edge.call("POST", path, Some(body)).await;
    assert_eq!(got, status, "{error}");
    assert_eq!(error["code"], code, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(edge.last_seq(), seq, "a refused request changes nothing");
}

#[tokio::test]
async fn a_price_override_needs_a_reason_and_the_permission_or_an_override_and_is_audited() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let order = open(&edge).await;
    let path = format!("/v1/orders/{order}/lines");
    let line = |extra: Value| {
        let mut body = json!({"item_id": "sku-samosa", "quantity": 2});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };

    refused(
        &edge,
        &path,
        line(json!({"unit_price_minor": 6_000})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    refused(
        &edge,
        &path,
        line(json!({"unit_price_minor": 6_000, "price_override_reason": "damaged"})),
        StatusCode::UNAUTHORIZED,
        "staff_sign_in_required",
    )
    .await;
    edge.sign_in(&cashier).await;
    refused(
        &edge,
        &path,
        line(json!({"unit_price_minor": 6_000, "price_override_reason": "damaged"})),
        StatusCode::FORBIDDEN,
        "override_required",
    )
    .await;
    refused(
        &edge,
        &path,
        line(
            json!({"unit_price_minor": 6_000, "price_override_reason": "damaged",
            "approval": {"staff_id": supervisor.id, "pin": "0000"}}),
        ),
        StatusCode::UNAUTHORIZED,
        "invalid_pin",
    )
    .await;
    refused(
        &edge,
        &path,
        line(
            json!({"unit_price_minor": -5, "price_override_reason": "damaged",
            "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}}),
        ),
        StatusCode::CONFLICT,
        "line_refused",
    )
    .await;

    let seq = edge.last_seq();
    let body = add(
        &edge,
        &order,
        line(
            json!({"unit_price_minor": 6_000, "price_override_reason": "damaged box",
            "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}}),
        ),
    )
    .await;
    assert_eq!(body["lines"][0]["unit_price_minor"], 6_000);
    assert_eq!(body["total_minor"], 12_000);
    let audits = audits(&edge, seq);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, AuditActionV1::PriceOverride);
    assert_eq!(audits[0].actor_staff_id, Some(uuid_bytes(&cashier.id)));
    assert_eq!(
        audits[0].approver_staff_id,
        Some(uuid_bytes(&supervisor.id))
    );
    assert_eq!(audits[0].reason, "damaged box");
    let line_id = body["lines"][0]["id"].as_str().unwrap();
    assert_eq!(
        audits[0].subject,
        format!("order:{order}/line:{line_id}/price:8000->6000")
    );

    // A line at the book's price needs no one.
    let body = add(&edge, &order, json!({"item_id": "sku-samosa"})).await;
    assert_eq!(body["total_minor"], 20_000);
}

#[tokio::test]
async fn a_discount_within_the_threshold_needs_no_one_and_one_beyond_it_a_supervisor() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let manager = edge.add_staff("Otieno", "manager", "9753");
    let order = open(&edge).await;
    let body = add(&edge, &order, json!({"item_id": "sku-espresso"})).await;
    let espresso = body["lines"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{order}/discounts");

    // Bad input names its field and changes nothing.
    for (body, field) in [
        (
            json!({"percent_bps": 500, "amount_minor": 100, "reason": "x"}),
            "percent_bps",
        ),
        (json!({"percent_bps": 0, "reason": "x"}), "percent_bps"),
        (json!({"percent_bps": 500, "reason": ""}), "reason"),
        (
            json!({"percent_bps": 500, "reason": "x", "line_id": uuid::Uuid::now_v7().to_string()}),
            "line_id",
        ),
        (
            json!({"percent_bps": 500, "reason": "x", "line_id": "nope"}),
            "line_id",
        ),
    ] {
        let seq = edge.last_seq();
        let (status, error) = edge.call("POST", &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field, "{error}");
        assert_eq!(edge.last_seq(), seq);
    }

    // 10% is within the default threshold: no one needs to be signed in, nothing audited.
    let seq = edge.last_seq();
    let (status, body) = edge
        .call(
            "POST",
            &path,
            Some(json!({"percent_bps": 1_000, "reason": "regular"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (
            &body["subtotal_minor"],
            &body["discount_minor"],
            &body["total_minor"]
        ),
        (&json!(20_000), &json!(2_000), &json!(18_000))
    );
    assert!(audits(&edge, seq).is_empty());

    // Another 5% on top takes the bill past 10%: the same cashier cannot key a big discount
    // as two small ones.
    let more = json!({"percent_bps": 500, "reason": "birthday", "line_id": espresso});
    refused(
        &edge,
        &path,
        more.clone(),
        StatusCode::UNAUTHORIZED,
        "staff_sign_in_required",
    )
    .await;
    edge.sign_in(&cashier).await;
    refused(
        &edge,
        &path,
        more.clone(),
        StatusCode::FORBIDDEN,
        "override_required",
    )
    .await;
    let mut approved = more.clone();
    approved["approval"] = json!({"staff_id": supervisor.id, "pin": supervisor.pin});
    let seq = edge.last_seq();
    let (status, body) = edge.call("POST", &path, Some(approved)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // 5% of the line (20,000 → 1,000) then 10% of what is left on the bill (1,900).
    assert_eq!(body["discount_minor"], 2_900);
    assert_eq!(body["total_minor"], 17_100);
    assert_eq!(body["discounts"].as_array().unwrap().len(), 2);
    let entries = audits(&edge, seq);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, AuditActionV1::DiscountAboveThreshold);
    assert_eq!(entries[0].reason, "birthday");
    assert_eq!(
        entries[0].approver_staff_id,
        Some(uuid_bytes(&supervisor.id))
    );

    // The threshold is the outlet's: a manager raises it, a cashier may not.
    let (status, error) = edge
        .call(
            "PUT",
            "/v1/settings/discount-policy",
            Some(json!({"threshold_bps": 5_000})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    edge.sign_in(&manager).await;
    let (status, error) = edge
        .call(
            "PUT",
            "/v1/settings/discount-policy",
            Some(json!({"threshold_bps": 10_001})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, policy) = edge
        .call(
            "PUT",
            "/v1/settings/discount-policy",
            Some(json!({"threshold_bps": 5_000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let (_, policy) = edge.call("GET", "/v1/settings/discount-policy", None).await;
    assert_eq!(policy["threshold_bps"], 5_000);
    edge.sign_in(&cashier).await;
    let seq = edge.last_seq();
    let (status, body) = edge
        .call(
            "POST",
            &path,
            Some(json!({"amount_minor": 1_000, "reason": "loyalty"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["total_minor"], 16_100);
    assert!(
        audits(&edge, seq).is_empty(),
        "within the new threshold: not audited"
    );
}

#[tokio::test]
async fn voiding_a_sent_line_needs_the_permission_and_strikes_it_on_the_kitchen_ticket() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let order = open(&edge).await;
    add(
        &edge,
        &order,
        json!({"item_id": "sku-samosa", "quantity": 2}),
    )
    .await;
    add(&edge, &order, json!({"item_id": "sku-chai"})).await;
    let (status, _) = edge
        .call("POST", &format!("/v1/orders/{order}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let body = add(&edge, &order, json!({"item_id": "sku-mandazi"})).await;
    let lines = body["lines"].as_array().unwrap();
    let line = |item: &str| {
        lines.iter().find(|line| line["item_id"] == item).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (samosa, mandazi) = (line("sku-samosa"), line("sku-mandazi"));
    assert_eq!(body["total_minor"], 36_000);

    // A line the kitchen never had is voided by anyone, with a reason, and not audited.
    let seq = edge.last_seq();
    let (status, body) = edge
        .call(
            "POST",
            &format!("/v1/orders/{order}/lines/{mandazi}/void"),
            Some(json!({"reason": "keyed twice"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total_minor"], 31_000);
    assert!(audits(&edge, seq).is_empty());

    let path = format!("/v1/orders/{order}/lines/{samosa}/void");
    refused(
        &edge,
        &path,
        json!({"reason": ""}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    refused(
        &edge,
        &path,
        json!({"reason": "customer changed mind"}),
        StatusCode::UNAUTHORIZED,
        "staff_sign_in_required",
    )
    .await;
    edge.sign_in(&cashier).await;
    refused(
        &edge,
        &path,
        json!({"reason": "customer changed mind"}),
        StatusCode::FORBIDDEN,
        "override_required",
    )
    .await;
    refused(
        &edge,
        &format!("/v1/orders/{order}/lines/{}/void", uuid::Uuid::now_v7()),
        json!({"reason": "x", "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}}),
        StatusCode::NOT_FOUND,
        "line_not_found",
    )
    .await;

    let seq = edge.last_seq();
    let (status, body) = edge
        .call(
            "POST",
            &path,
            Some(json!({"reason": "customer changed mind",
                "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total_minor"], 15_000);
    let voided = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["id"] == samosa.as_str())
        .unwrap()
        .clone();
    assert_eq!(voided["voided"], true);
    assert_eq!(voided["void_reason"], "customer changed mind");
    let audits = audits(&edge, seq);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, AuditActionV1::VoidAfterSend);
    assert_eq!(audits[0].subject, format!("order:{order}/line:{samosa}"));
    assert!(edge.op_bodies_after(seq).iter().any(|body| matches!(
        body,
        OpBody::Order(OrderEventV1::LineVoided {
            after_send: true,
            ..
        })
    )));

    // The kitchen sees the samosas struck through and stops counting them.
    let (_, tickets) = edge.call("GET", "/v1/kitchen/tickets", None).await;
    let ticket_lines: Vec<&Value> = tickets
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ticket| ticket["lines"].as_array().unwrap())
        .collect();
    let struck = ticket_lines
        .iter()
        .find(|line| line["line_id"] == samosa.as_str())
        .unwrap();
    assert_eq!(struck["voided"], true);
    let (_, all_day) = edge.call("GET", "/v1/kitchen/all-day", None).await;
    assert!(
        all_day
            .as_array()
            .unwrap()
            .iter()
            .all(|count| count["item_id"] != "sku-samosa"),
        "{all_day}"
    );

    refused(
        &edge,
        &path,
        json!({"reason": "again", "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}}),
        StatusCode::CONFLICT,
        "line_already_voided",
    )
    .await;
}

#[tokio::test]
async fn two_bills_merge_into_one_and_sent_lines_are_not_fired_again() {
    let edge = edge();
    let table_one = open(&edge).await;
    add(&edge, &table_one, json!({"item_id": "sku-espresso"})).await;
    let table_two = open(&edge).await;
    add(
        &edge,
        &table_two,
        json!({"item_id": "sku-samosa", "quantity": 3}),
    )
    .await;
    let (status, _) = edge
        .call("POST", &format!("/v1/orders/{table_two}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let path = format!("/v1/orders/{table_one}/merge");
    refused(
        &edge,
        &path,
        json!({"from_order_id": table_one}),
        StatusCode::CONFLICT,
        "merge_refused",
    )
    .await;
    refused(
        &edge,
        &path,
        json!({"from_order_id": uuid::Uuid::now_v7().to_string()}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_found",
    )
    .await;
    refused(
        &edge,
        &path,
        json!({"from_order_id": "nope"}),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;

    let seq = edge.last_seq();
    let (status, merged) = edge
        .call("POST", &path, Some(json!({"from_order_id": table_two})))
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["lines"].as_array().unwrap().len(), 2);
    assert_eq!(merged["total_minor"], 44_000);
    let (_, source) = edge
        .call("GET", &format!("/v1/orders/{table_two}"), None)
        .await;
    assert_eq!(source["state"], "merged");
    let bodies = edge.op_bodies_after(seq);
    assert!(matches!(
        bodies.as_slice(),
        [
            OpBody::Order(OrderEventV1::LinesMerged { .. }),
            OpBody::Order(OrderEventV1::MergedInto { .. })
        ]
    ));
    refused(
        &edge,
        &path,
        json!({"from_order_id": table_two}),
        StatusCode::CONFLICT,
        "merge_refused",
    )
    .await;

    // Sending the merged bill fires the espresso only: the samosas were already made.
    let (status, sent) = edge
        .call("POST", &format!("/v1/orders/{table_one}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (_, tickets) = edge.call("GET", "/v1/kitchen/tickets", None).await;
    let fired: Vec<&Value> = tickets
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ticket| ticket["lines"].as_array().unwrap())
        .collect();
    assert_eq!(
        fired
            .iter()
            .filter(|line| line["item_id"] == "sku-samosa")
            .count(),
        1,
        "{tickets}"
    );
    assert_eq!(
        fired
            .iter()
            .filter(|line| line["item_id"] == "sku-espresso")
            .count(),
        1,
        "{tickets}"
    );

    // A paid bill does not take another merged in.
    let paid = open(&edge).await;
    add(&edge, &paid, json!({"item_id": "sku-chai"})).await;
    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{paid}/payments"),
            Some(json!({"tender": "cash", "amount_minor": 15_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let another = open(&edge).await;
    add(&edge, &another, json!({"item_id": "sku-chai"})).await;
    refused(
        &edge,
        &format!("/v1/orders/{paid}/merge"),
        json!({"from_order_id": another}),
        StatusCode::CONFLICT,
        "merge_refused",
    )
    .await;
}

#[tokio::test]
async fn a_bill_splits_by_seat_evenly_by_items_and_by_amounts_to_the_cent() {
    let edge = edge();
    let order = open(&edge).await;
    add(&edge, &order, json!({"item_id": "sku-espresso", "seat": 1})).await;
    add(&edge, &order, json!({"item_id": "sku-samosa", "seat": 2})).await;
    let body = add(&edge, &order, json!({"item_id": "sku-chai", "seat": 2})).await;
    assert_eq!(body["total_minor"], 43_000);
    let ids: Vec<String> = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .collect();
    let path = format!("/v1/orders/{order}/split");
    let seq = edge.last_seq();

    let (status, split) = edge
        .call("POST", &path, Some(json!({"by": "evenly", "ways": 3})))
        .await;
    assert_eq!(status, StatusCode::OK, "{split}");
    let amounts: Vec<i64> = split["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|share| share["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts.iter().sum::<i64>(), 43_000);
    assert!(amounts.iter().all(|a| (14_333..=14_334).contains(a)));

    let (status, split) = edge.call("POST", &path, Some(json!({"by": "seat"}))).await;
    assert_eq!(status, StatusCode::OK, "{split}");
    let by_seat: Vec<(i64, i64)> = split["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|share| {
            (
                share["seat"].as_i64().unwrap(),
                share["amount_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_seat, vec![(1, 20_000), (2, 23_000)]);

    let (status, split) = edge
        .call(
            "POST",
            &path,
            Some(json!({"by": "items", "groups": [[ids[0], ids[2]], [ids[1]]]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{split}");
    assert_eq!(split["shares"][0]["amount_minor"], 35_000);
    assert_eq!(split["shares"][1]["amount_minor"], 8_000);

    for (body, field) in [
        (
            json!({"by": "items", "groups": [[ids[0]], [ids[1]]]}),
            "groups",
        ),
        (
            json!({"by": "items", "groups": [[ids[0], ids[1], ids[2]], [ids[1]]]}),
            "groups",
        ),
        (json!({"by": "evenly", "ways": 0}), "ways"),
        (
            json!({"by": "amounts", "amounts_minor": [50_000]}),
            "amounts_minor",
        ),
        (json!({"by": "coins"}), "by"),
    ] {
        let (status, error) = edge.call("POST", &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field, "{error}");
    }
    assert_eq!(
        edge.last_seq(),
        seq,
        "a split is a quote: it changes nothing"
    );

    // Each guest pays their share; the bill is then paid exactly.
    let (status, split) = edge
        .call(
            "POST",
            &path,
            Some(json!({"by": "amounts", "amounts_minor": [10_000, 20_000]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{split}");
    let shares = split["shares"].as_array().unwrap().clone();
    assert_eq!(
        shares
            .iter()
            .map(|share| share["amount_minor"].as_i64().unwrap())
            .sum::<i64>(),
        43_000
    );
    let mut last = Value::Null;
    for share in &shares {
        let (status, paid) = edge
            .call(
                "POST",
                &format!("/v1/orders/{order}/payments"),
                Some(json!({"tender": "card", "amount_minor": share["amount_minor"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{paid}");
        last = paid;
    }
    assert_eq!(last["order"]["state"], "paid");
    assert_eq!(last["order"]["balance_due_minor"], 0);
}

#[tokio::test]
async fn an_order_is_served_by_who_opened_it_and_handed_over_by_them_or_a_supervisor() {
    let edge = edge();
    let amina = edge.add_staff("Amina", "server", "1111");
    let baraka = edge.add_staff("Baraka", "bartender", "2222");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let cook = edge.add_staff("Otieno", "kitchen", "3333");
    let other_till = edge.pair("till-2");
    edge.sign_in(&amina).await;
    let order = open(&edge).await;
    add(&edge, &order, json!({"item_id": "sku-chai"})).await;
    let mine = |staff: &str| format!("/v1/orders?server_id={staff}");
    let (_, listed) = edge.call("GET", &mine(&amina.id), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], order.as_str());

    // Someone else cannot take Amina's table without a supervisor.
    edge.sign_in_as(&other_till, &baraka).await;
    let path = format!("/v1/orders/{order}/transfer");
    let seq = edge.last_seq();
    let (status, error) = edge
        .call_as(
            &other_till,
            "POST",
            &path,
            Some(json!({"server_id": baraka.id})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(edge.last_seq(), seq);
    // Bad input names its field.
    for (body, field) in [
        (json!({"server_id": cook.id}), "server_id"),
        (
            json!({"server_id": uuid::Uuid::now_v7().to_string()}),
            "server_id",
        ),
        (json!({"server_id": "nope"}), "server_id"),
        (json!({"table": "T1", "server_id": baraka.id}), "table"),
    ] {
        let (status, error) = edge.call("POST", &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field, "{error}");
    }
    assert_eq!(edge.last_seq(), seq, "refusals change nothing");

    // Amina hands it to Baraka at the end of her shift.
    let (status, body) = edge
        .call("POST", &path, Some(json!({"server_id": baraka.id})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, listed) = edge.call("GET", &mine(&baraka.id), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = edge.call("GET", &mine(&amina.id), None).await;
    assert!(listed.as_array().unwrap().is_empty());
    assert!(edge.op_bodies_after(seq).iter().any(|body| matches!(
        body,
        OpBody::Table(sync_protocol::op::TableEventV1::ServerAssigned { staff_id, by_staff_id: Some(by), .. })
            if *staff_id == uuid_bytes(&baraka.id) && *by == uuid_bytes(&amina.id)
    )));

    // A supervisor moves it back without being its server.
    edge.sign_in_as(&other_till, &supervisor).await;
    let (status, body) = edge
        .call_as(
            &other_till,
            "POST",
            &path,
            Some(json!({"server_id": amina.id})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, listed) = edge.call("GET", &mine(&amina.id), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
