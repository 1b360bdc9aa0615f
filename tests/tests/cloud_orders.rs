//! Orders placed in the cloud reach the outlet's tills, are worked there like any order, and a
//! cancel that arrives after the outlet took the money (while the hub was away) never cancels a
//! paid order: it becomes a refund request for a manager, recorded in `offline_event_replay`.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

fn item(id: &str, price_minor: i64) -> Value {
    json!({"id": id, "name": format!("Item {id}"), "category": "food", "price_minor": price_minor,
           "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]})
}

async fn outbox_count(pool: &sqlx::PgPool, event_type: &str, order_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = $1 AND payload->'data'->>'order_id' = $2",
    )
    .bind(event_type)
    .bind(order_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[test]
fn a_cloud_order_is_worked_at_the_outlet_and_a_late_cancel_of_a_paid_one_becomes_a_refund_request()
{
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let quic = hub.quic;
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    let shop = driver.block_on(dev_token(&pool, "duka", "service"));
    let manager = driver.block_on(dev_token(&pool, "duka", "manager"));
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let place_url = |hub: &RunningHub| hub.url("/v1/duka/pos/outlets/cbd/orders");

    let (delivered, collected, unpaid) = driver.block_on(async {
        // The outlet's catalog, with a delivery-channel price for soda.
        let (status, body) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub.url("/v1/duka/pos/outlets/cbd/catalog/items"),
            &manager,
            Some(json!({"items": [item("sku-chips", 25_000), item("sku-soda", 8_000)]})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub.url("/v1/duka/pos/outlets/cbd/price-books/delivery"),
            &manager,
            Some(
                json!({"name": "Delivery", "scope": "channel", "channel": "delivery",
                        "prices": [{"item_id": "sku-soda", "price_minor": 9_000}]}),
            ),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");

        // A delivery platform places an order: priced as the outlet prices delivery.
        let glovo = json!({"channel": "delivery", "external_ref": "GLOVO-1001",
            "customer": {"name": "Achieng", "phone": "0712345678"}, "notes": "Ring at gate B",
            "lines": [{"item_id": "sku-chips", "quantity": 2, "instructions": "extra salt"},
                      {"item_id": "sku-soda", "quantity": 1}]});
        let (status, placed) = hub_request(
            &client,
            reqwest::Method::POST,
            place_url(&hub),
            &shop,
            Some(glovo.clone()),
            Some("glovo-1001"),
        )
        .await;
        assert_eq!(status, 201, "{placed}");
        let order = &placed["order"];
        assert_eq!(order["total_minor"], 59_000, "{placed}");
        assert_eq!(order["type"], "delivery");
        assert!(order["number"].as_u64().unwrap() > 900_000, "{placed}");
        assert_eq!(order["cloud"]["external_ref"], "GLOVO-1001");
        assert_eq!(order["cloud"]["cancel_state"], Value::Null);
        let delivered = order["id"].as_str().unwrap().to_owned();
        // The platform retries with the same key: the same answer, no second order.
        let (status, again) = hub_request(
            &client,
            reqwest::Method::POST,
            place_url(&hub),
            &shop,
            Some(glovo.clone()),
            Some("glovo-1001"),
        )
        .await;
        assert_eq!(
            (status, again["order"]["id"].as_str()),
            (201, Some(delivered.as_str())),
            "{again}"
        );
        // The same reference under another key is a duplicate, refused.
        let (status, duplicate) = hub_request(
            &client,
            reqwest::Method::POST,
            place_url(&hub),
            &shop,
            Some(glovo),
            Some("glovo-1001-bis"),
        )
        .await;
        assert_eq!(
            (status, duplicate["code"].as_str()),
            (409, Some("duplicate_external_ref")),
            "{duplicate}"
        );

        // Click-and-collect, paid online in advance; and a web-shop order to pay at the counter.
        let (status, placed) = hub_request(
            &client,
            reqwest::Method::POST,
            place_url(&hub),
            &shop,
            Some(
                json!({"channel": "click_and_collect", "external_ref": "WEB-77",
                        "lines": [{"item_id": "sku-chips", "quantity": 1}],
                        "prepaid": {"tender": "card", "amount_minor": 25_000}}),
            ),
            None,
        )
        .await;
        assert_eq!(status, 201, "{placed}");
        assert_eq!(placed["order"]["paid_minor"], 25_000);
        let collected = placed["order"]["id"].as_str().unwrap().to_owned();
        let (status, placed) = hub_request(
            &client,
            reqwest::Method::POST,
            place_url(&hub),
            &shop,
            Some(json!({"channel": "ecommerce", "external_ref": "WEB-78",
                        "lines": [{"item_id": "sku-soda", "quantity": 3}]})),
            None,
        )
        .await;
        assert_eq!(status, 201, "{placed}");
        assert_eq!(
            placed["order"]["total_minor"], 24_000,
            "the web shop sells at shelf price"
        );
        let unpaid = placed["order"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            outbox_count(&pool, "pos.order.created", &delivered).await,
            1
        );

        // All three reach the outlet, each once, as the hub priced them.
        let listed = eventually(
            Duration::from_secs(20),
            "cloud orders reach the edge",
            || async {
                let (_, list) = terminal.get("/v1/cloud-orders").await;
                (list.as_array().map_or(0, Vec::len) == 3).then_some(list)
            },
        )
        .await;
        let glovo = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["external_ref"] == "GLOVO-1001")
            .unwrap();
        assert_eq!(glovo["channel"], "delivery");
        assert_eq!(glovo["customer_name"], "Achieng");
        assert_eq!(glovo["notes"], "Ring at gate B");
        assert_eq!(glovo["order"]["total_minor"], 59_000);
        assert_eq!(glovo["order"]["lines"].as_array().unwrap().len(), 2);
        // The rider or the customer at the counter: recalled by name, phone or the platform's
        // reference.
        for query in [
            "customer=achieng",
            "customer=712345678",
            "customer=glovo-1001",
        ] {
            let (status, found) = terminal.get(&format!("/v1/orders?{query}")).await;
            assert_eq!(status, 200, "{found}");
            let ids: Vec<&Value> = found.as_array().unwrap().iter().map(|o| &o["id"]).collect();
            assert_eq!(ids, [&glovo["order"]["id"]], "{query}: {found}");
        }
        let (status, at_edge) = terminal.get(&format!("/v1/orders/{collected}")).await;
        assert_eq!(
            (
                status,
                at_edge["state"].as_str(),
                at_edge["paid_minor"].as_i64()
            ),
            (200, Some("paid"), Some(25_000)),
            "{at_edge}"
        );
        (delivered, collected, unpaid)
    });

    // The hub goes away. The rider arrives; the outlet takes cash for the delivery order.
    hub.kill();
    driver.block_on(async {
        let (status, paid) = terminal
            .post(
                &format!("/v1/orders/{delivered}/payments"),
                json!({"tender": "cash", "amount_minor": 60_000}),
            )
            .await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(paid["change_due_minor"], 1_000);
        let (status, closed) = terminal
            .post(&format!("/v1/orders/{delivered}/close"), json!({}))
            .await;
        assert_eq!(status, 200, "{closed}");
    });

    // The hub returns; the platform's cancel for all three arrives before the outlet's sale.
    let hub = RunningHub::start(&db.url, quic);
    driver.block_on(async {
        for id in [&delivered, &collected, &unpaid] {
            let (status, answer) = hub_request(
                &client,
                reqwest::Method::POST,
                hub.url(&format!("/v1/duka/pos/orders/{id}/cancel")),
                &shop,
                Some(json!({"reason": "customer cancelled in the app"})),
                None,
            )
            .await;
            assert_eq!(
                (status, answer["cancel_state"].as_str()),
                (202, Some("requested")),
                "{answer}"
            );
        }
        // Each outlet decision arrives at the hub.
        let get = |id: String| {
            let client = client.clone();
            let url = hub.url(&format!("/v1/duka/pos/orders/{id}"));
            let manager = manager.clone();
            async move {
                hub_request(&client, reqwest::Method::GET, url, &manager, None, None)
                    .await
                    .1
            }
        };
        let paid_one = eventually(
            Duration::from_secs(30),
            "the outlet's decision reaches the hub",
            || async {
                let order = get(delivered.clone()).await;
                (order["cloud"]["cancel_state"] == "refund_requested").then_some(order)
            },
        )
        .await;
        // The paid order stands: closed, paid in cash, a refund request for what was kept.
        assert_eq!(paid_one["state"], "closed", "{paid_one}");
        assert_eq!(paid_one["paid_minor"], 59_000);
        assert_eq!(paid_one["cloud"]["refund_requested_minor"], 59_000);
        let prepaid = eventually(
            Duration::from_secs(10),
            "the prepaid order's decision",
            || async {
                let order = get(collected.clone()).await;
                (order["cloud"]["cancel_state"] == "refund_requested").then_some(order)
            },
        )
        .await;
        assert_eq!(prepaid["cloud"]["refund_requested_minor"], 25_000);
        // The unpaid one is cancelled: voided at the outlet, and so at the hub.
        let voided = eventually(
            Duration::from_secs(10),
            "the unpaid order is cancelled",
            || async {
                let order = get(unpaid.clone()).await;
                (order["cloud"]["cancel_state"] == "cancelled" && order["state"] == "voided")
                    .then_some(order)
            },
        )
        .await;
        assert_eq!(voided["paid_minor"], 0);

        // Managers see the two conflicts the rule resolved, and only those.
        let (status, replay) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url("/v1/duka/pos/offline-event-replay"),
            &manager,
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{replay}");
        let records = replay.as_array().unwrap();
        assert_eq!(records.len(), 2, "{replay}");
        for record in records {
            assert_eq!(record["rule"], "paid_order_late_cancel");
            assert_eq!(record["resolution"], "refund_requested");
            assert_eq!(record["outlet"], "cbd");
            assert_eq!(
                record["detail"]["cancel_reason"],
                "customer cancelled in the app"
            );
        }
        let mut ids: Vec<&str> = records
            .iter()
            .map(|r| r["order_id"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let mut expected = vec![delivered.as_str(), collected.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        // Each conflict raised one event for the rest of the business; the cancel, a void.
        assert_eq!(
            outbox_count(&pool, "pos.order.refund_requested", &delivered).await,
            1
        );
        assert_eq!(
            outbox_count(&pool, "pos.order.refund_requested", &unpaid).await,
            0
        );
        assert_eq!(outbox_count(&pool, "pos.order.voided", &unpaid).await, 1);
        // Asking again sends nothing new and answers the outcome.
        let (status, again) = hub_request(
            &client,
            reqwest::Method::POST,
            hub.url(&format!("/v1/duka/pos/orders/{delivered}/cancel")),
            &shop,
            Some(json!({"reason": "again"})),
            None,
        )
        .await;
        assert_eq!(
            (status, again["cancel_state"].as_str()),
            (200, Some("refund_requested")),
            "{again}"
        );

        // At the outlet: the refund requests wait for a manager; the cancelled order takes no money.
        let (_, requests) = terminal.get("/v1/refund-requests").await;
        let pending: Vec<&str> = requests
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["order"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(pending.len(), 2, "{requests}");
        assert!(pending.contains(&delivered.as_str()) && pending.contains(&collected.as_str()));
        assert!(
            requests.as_array().unwrap().iter().all(
                |r| r["refund_pending"] == true && r["cancel"]["outcome"] == "refund_requested"
            )
        );
        let (status, refused) = terminal
            .post(
                &format!("/v1/orders/{unpaid}/payments"),
                json!({"tender": "cash", "amount_minor": 24_000}),
            )
            .await;
        assert_eq!(status, 409, "{refused}");
    });
    // Nothing of it is lost when the edge restarts.
    edge.kill();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    driver.block_on(async {
        let (_, requests) = terminal.get("/v1/refund-requests").await;
        assert_eq!(requests.as_array().unwrap().len(), 2, "{requests}");
        let (_, list) = terminal.get("/v1/cloud-orders").await;
        assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    });
}

#[test]
fn bad_cloud_orders_and_cancels_are_refused_and_change_nothing() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    driver.block_on(tenant_with_outlet(&pool, "other", "elsewhere"));
    let shop = driver.block_on(dev_token(&pool, "duka", "service"));
    let analyst = driver.block_on(dev_token(&pool, "duka", "analyst"));
    let stranger = driver.block_on(dev_token(&pool, "other", "service"));
    let client = reqwest::Client::new();
    let url = hub.url("/v1/duka/pos/outlets/cbd/orders");
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };

    driver.block_on(async {
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/duka/pos/outlets/cbd/catalog/items"), &shop,
            Some(json!({"items": [item("sku-chips", 25_000)]})), None).await;
        assert_eq!(status, 200, "{body}");
        let good = json!({"channel": "ecommerce", "external_ref": "WEB-1", "lines": [{"item_id": "sku-chips", "quantity": 1}]});
        let feed_head = || async {
            sqlx::query_scalar::<_, i64>("SELECT coalesce(max(seq), 0) FROM outlet_feed").fetch_one(&pool).await.unwrap()
        };
        let head_before = feed_head().await;

        let mut cases: Vec<(Value, u16, &str, &str)> = Vec::new();
        let mut bad = good.clone(); bad["channel"] = json!("pigeon"); cases.push((bad, 400, "invalid_parameter", "channel"));
        let mut bad = good.clone(); bad["lines"] = json!([{"item_id": "sku-chips"}, {"item_id": "sku-ghost", "quantity": 1}]); cases.push((bad, 422, "unknown_item", "lines[1].item_id"));
        let mut bad = good.clone(); bad["lines"] = json!([]); cases.push((bad, 400, "invalid_parameter", "lines"));
        let mut bad = good.clone(); bad["lines"] = json!([{"item_id": "sku-chips", "quantity": 0}]); cases.push((bad, 422, "invalid_line", "lines[0]"));
        let mut bad = good.clone(); bad["external_ref"] = json!("  "); cases.push((bad, 400, "invalid_parameter", "external_ref"));
        let mut bad = good.clone(); bad["notes"] = json!("x".repeat(501)); cases.push((bad, 400, "invalid_parameter", "notes"));
        let mut bad = good.clone(); bad["prepaid"] = json!({"tender": "card", "amount_minor": 1}); cases.push((bad, 422, "prepaid_amount_mismatch", "prepaid.amount_minor"));
        let mut bad = good.clone(); bad["prepaid"] = json!({"tender": "cash", "amount_minor": 25_000}); cases.push((bad, 400, "invalid_parameter", "prepaid.tender"));
        for (body, status, code, field) in cases {
            let (got, error) = hub_request(&client, reqwest::Method::POST, url.clone(), &shop, Some(body.clone()), None).await;
            assert_eq!((got, error["code"].as_str(), error["field"].as_str()), (status, Some(code), Some(field)), "{body} → {error}");
        }
        // A field the API does not know is refused too.
        let mut bad = good.clone(); bad["discount"] = json!(100);
        let (status, _) = hub_request(&client, reqwest::Method::POST, url.clone(), &shop, Some(bad), None).await;
        assert_eq!(status, 400);
        // Who may not place: an analyst (403), another tenant (404).
        let (status, _) = hub_request(&client, reqwest::Method::POST, url.clone(), &analyst, Some(good.clone()), None).await;
        assert_eq!(status, 403);
        let (status, _) = hub_request(&client, reqwest::Method::POST, url.clone(), &stranger, Some(good.clone()), None).await;
        assert_eq!(status, 404);
        // None of it stored anything or fed the outlet.
        let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&pool).await.unwrap();
        let cloud: i64 = sqlx::query_scalar("SELECT count(*) FROM cloud_orders").fetch_one(&pool).await.unwrap();
        assert_eq!((orders, cloud), (0, 0));
        assert_eq!(feed_head().await, head_before);

        // Cancels: only for cloud orders, with a reason, and never another tenant's.
        let sold = terminal.sell(&[("sku-chips", 1)]).await;
        let sold_id = sold["id"].as_str().unwrap().to_owned();
        let at_hub = eventually(Duration::from_secs(20), "the till's sale reaches the hub", || async {
            let (status, _) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/duka/pos/orders/{sold_id}")), &shop, None, None).await;
            (status == 200).then_some(())
        });
        at_hub.await;
        let cancel = |id: String, token: String, reason: &'static str| {
            let client = client.clone();
            let url = hub.url(&format!("/v1/duka/pos/orders/{id}/cancel"));
            async move { hub_request(&client, reqwest::Method::POST, url, &token, Some(json!({"reason": reason})), None).await }
        };
        let (status, error) = cancel(sold_id.clone(), shop.clone(), "changed mind").await;
        assert_eq!((status, error["code"].as_str()), (409, Some("not_a_cloud_order")), "{error}");
        let (status, placed) = hub_request(&client, reqwest::Method::POST, url.clone(), &shop, Some(good.clone()), None).await;
        assert_eq!(status, 201, "{placed}");
        let cloud_id = placed["order"]["id"].as_str().unwrap().to_owned();
        let (status, error) = cancel(cloud_id.clone(), shop.clone(), "   ").await;
        assert_eq!((status, error["field"].as_str()), (400, Some("reason")), "{error}");
        let (status, _) = cancel(cloud_id.clone(), stranger.clone(), "hijack").await;
        assert_eq!(status, 404);
        let (status, _) = cancel(uuid::Uuid::now_v7().to_string(), shop.clone(), "unknown").await;
        assert_eq!(status, 404);
        let state: Option<String> = sqlx::query_scalar("SELECT cancel_state FROM cloud_orders").fetch_one(&pool).await.unwrap();
        assert_eq!(state, None, "no refused cancel was recorded");
    });
}

/// The notes of both ends, for comparing: instructions, each note's side, author and text,
/// the promised time and the check-in's bay.
fn notes_view(notes: &Value) -> Value {
    json!({
        "instructions": notes["instructions"],
        "notes": notes["notes"].as_array().unwrap().iter()
            .map(|n| json!([n["note_id"], n["side"], n["author"], n["text"]]))
            .collect::<Vec<_>>(),
        "promised_ready_ms": notes["promised_ready_ms"],
        "bay": notes["arrival"]["bay"],
    })
}

/// A cloud order's notes are one document the channel and the till both write. Apart (the
/// hub down, then the edge), the till notes a swap, promises a time and adds to the handoff
/// instructions, while the web shop checks the customer in at a bay, passes on a request and
/// edits the same instructions elsewhere; once they meet, both ends read the same notes with
/// every one of those edits, and the channel hears of the till's through
/// `pos.order.notes_changed`. Bad input at either end is refused and changes nothing.
#[test]
fn notes_written_on_both_sides_while_apart_merge_at_both_ends() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let quic = hub.quic;
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    let cashier = {
        let store = edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE))
            .unwrap();
        edge_node::services::staff::create_staff(&store, "Wanjiru", "cashier", "2468", 1).unwrap()
    };
    let shop = driver.block_on(dev_token(&pool, "duka", "service"));
    let manager = driver.block_on(dev_token(&pool, "duka", "manager"));
    let client = reqwest::Client::new();
    let notes_url =
        |hub: &RunningHub, order: &str| hub.url(&format!("/v1/duka/pos/orders/{order}/notes"));
    let till_note = "0190f000-0000-7000-8000-000000000001";

    let edge = RunningEdge::start(data.path(), &till);
    let order = driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        let (status, body) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub.url("/v1/duka/pos/outlets/cbd/catalog/items"),
            &manager,
            Some(json!({"items": [item("sku-latte", 35_000)]})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, placed) = hub_request(
            &client,
            reqwest::Method::POST,
            hub.url("/v1/duka/pos/outlets/cbd/orders"),
            &shop,
            Some(
                json!({"channel": "click_and_collect", "external_ref": "WEB-90",
                        "lines": [{"item_id": "sku-latte", "quantity": 1}]}),
            ),
            None,
        )
        .await;
        assert_eq!(status, 201, "{placed}");
        let order = placed["order"]["id"].as_str().unwrap().to_owned();
        // Before anything else reaches the outlet, the shop writes the instructions.
        let (status, patched) = hub_request(
            &client,
            reqwest::Method::PATCH,
            notes_url(&hub, &order),
            &shop,
            Some(json!({"instructions": "Ring the bell"})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert!(patched["feed_through_seq"].as_u64().is_some(), "{patched}");
        eventually(
            Duration::from_secs(20),
            "the outlet has the instructions",
            || async {
                let (status, notes) = terminal.get(&format!("/v1/orders/{order}/notes")).await;
                (status == 200 && notes["instructions"] == "Ring the bell").then_some(())
            },
        )
        .await;
        let (status, session) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": cashier.id.to_string(), "pin": "2468"}),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        order
    });

    // The hub goes away; the till writes.
    hub.kill();
    let at_till = driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        let path = format!("/v1/orders/{order}/notes");
        let note = json!({"text": "Oat milk is out: soy instead", "note_id": till_note});
        let (status, first) = terminal.post(&path, note.clone()).await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["notes"][0]["author"], "Wanjiru", "{first}");
        assert_eq!(first["notes"][0]["side"], "outlet", "{first}");
        // The terminal retries the same note: still one.
        let (status, again) = terminal.post(&path, note).await;
        assert_eq!(
            (status, again["notes"].as_array().unwrap().len()),
            (201, 1),
            "{again}"
        );
        let (status, patched) = terminal
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(json!({"instructions": "Ring the bell twice",
                            "promised_ready_ms": 1_900_000_000_000_i64})),
            )
            .await;
        assert_eq!(status, 200, "{patched}");
        // Bad input: refused, field named, nothing changed.
        for (body, field) in [
            (json!({"text": "   "}), Some("text")),
            (json!({"text": "x".repeat(501)}), Some("text")),
        ] {
            let (status, error) = terminal.post(&path, body).await;
            assert_eq!((status, error["field"].as_str()), (422, field), "{error}");
        }
        for (body, field) in [
            (
                json!({"instructions": "x".repeat(501)}),
                Some("instructions"),
            ),
            (
                json!({"arrival": {"bay": "a very long bay name indeed"}}),
                Some("arrival.bay"),
            ),
            (json!({"promised_ready_ms": -5}), Some("promised_ready_ms")),
        ] {
            let (status, error) = terminal
                .call(reqwest::Method::PATCH, &path, Some(body))
                .await;
            assert_eq!((status, error["field"].as_str()), (422, field), "{error}");
        }
        let (status, error) = terminal
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(json!({"colour": "red"})),
            )
            .await;
        assert!(status == 400 || status == 422, "{status} {error}");
        let (status, error) = terminal
            .get(&format!("/v1/orders/{}/notes", uuid::Uuid::now_v7()))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("cloud_order_not_found"))
        );
        let (_, now) = terminal.get(&path).await;
        assert_eq!(notes_view(&now), notes_view(&patched));
        now
    });
    assert_eq!(at_till["instructions"], "Ring the bell twice");
    edge.kill();

    // The hub comes back before the edge does; the web shop writes.
    let hub = RunningHub::start(&db.url, quic);
    driver.block_on(async {
        let url = notes_url(&hub, &order);
        let (status, noted) = hub_request(
            &client,
            reqwest::Method::POST,
            url.clone(),
            &shop,
            Some(json!({"author": "Web shop", "text": "Customer asks for extra napkins"})),
            None,
        )
        .await;
        assert_eq!(status, 201, "{noted}");
        let (status, patched) = hub_request(
            &client,
            reqwest::Method::PATCH,
            url.clone(),
            &shop,
            Some(json!({"instructions": "Please ring the bell", "arrival": {"bay": "3"}})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["arrival"]["bay"], "3");
        // Bad input and other tenants' callers change nothing.
        for (body, field) in [
            (json!({"author": "", "text": "hi"}), "author"),
            (json!({"author": "Web", "text": "x".repeat(501)}), "text"),
        ] {
            let (status, error) = hub_request(
                &client,
                reqwest::Method::POST,
                url.clone(),
                &shop,
                Some(body),
                None,
            )
            .await;
            assert_eq!(
                (status, error["field"].as_str()),
                (400, Some(field)),
                "{error}"
            );
        }
        let (status, error) = hub_request(
            &client,
            reqwest::Method::PATCH,
            url.clone(),
            &shop,
            Some(json!({"instructions": "x", "status": "done"})),
            None,
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid_body")),
            "{error}"
        );
        let stranger = dev_token(&pool, "duka", "cashier").await;
        let (status, _) = hub_request(
            &client,
            reqwest::Method::GET,
            url.clone(),
            &stranger,
            None,
            None,
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = hub_request(
            &client,
            reqwest::Method::GET,
            notes_url(&hub, &uuid::Uuid::now_v7().to_string()),
            &shop,
            None,
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (_, unchanged) =
            hub_request(&client, reqwest::Method::GET, url, &shop, None, None).await;
        assert_eq!(notes_view(&unchanged), notes_view(&patched));
    });

    // They meet: both ends read the same notes, with every edit from both sides.
    let edge = RunningEdge::start(data.path(), &till);
    driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        let merged = eventually(Duration::from_secs(30), "both ends agree", || async {
            let (_, at_hub) = hub_request(
                &client,
                reqwest::Method::GET,
                notes_url(&hub, &order),
                &shop,
                None,
                None,
            )
            .await;
            let (_, at_edge) = terminal.get(&format!("/v1/orders/{order}/notes")).await;
            (at_hub["notes"].as_array().map_or(0, Vec::len) == 2
                && notes_view(&at_hub) == notes_view(&at_edge))
            .then_some(at_hub)
        })
        .await;
        assert_eq!(
            merged["instructions"], "Please ring the bell twice",
            "{merged}"
        );
        assert_eq!(merged["promised_ready_ms"], 1_900_000_000_000_i64);
        assert_eq!(merged["arrival"]["bay"], "3");
        let texts: Vec<&str> = merged["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "Oat milk is out: soy instead",
                "Customer asks for extra napkins"
            ]
        );
        // The channel heard of the till's edits, with its own reference.
        let told: Vec<Value> = sqlx::query_scalar(
            "SELECT payload FROM outbox WHERE event_type = 'pos.order.notes_changed'
               AND payload->'data'->>'order_id' = $1",
        )
        .bind(&order)
        .fetch_all(&pool)
        .await
        .unwrap();
        // One event per merge that moved the document (the till's two edits usually arrive
        // in one batch).
        assert!(!told.is_empty() && told.len() <= 2, "{told:?}");
        assert!(
            told.iter()
                .all(|event| event["data"]["external_ref"] == "WEB-90"),
            "{told:?}"
        );
        assert_eq!(told[0]["data"]["notes"]["notes"][0]["note_id"], till_note);
    });
}
