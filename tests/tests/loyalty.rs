//! Loyalty points and vouchers end to end: head office sets the program, enrols a member and
//! issues a voucher; two outlets name the member on sales, burn points and take the voucher,
//! online and then both cut off from the hub at once. When they sync, the ledger enters every
//! burn once, earns points on what was paid in money, reports the overspend the allowance
//! bounded and the voucher taken twice; refunds give burned points back and take earned ones
//! back.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

const MEMBER: &str = "M-AMINA-01";
const VOUCHER: &str = "VCH-FEST-500";

/// An open order of `hampers` × 500.00 at the till.
async fn order_of(terminal: &Terminal<'_>, hampers: i64) -> String {
    terminal.open_with("sku-hamper", hampers).await
}

async fn burn(terminal: &Terminal<'_>, order: &str, points: i64) -> (u16, Value) {
    terminal
        .post(
            &format!("/v1/orders/{order}/loyalty-payments"),
            json!({"code": MEMBER, "points": points}),
        )
        .await
}

async fn take_voucher(terminal: &Terminal<'_>, order: &str) -> (u16, Value) {
    terminal
        .post(
            &format!("/v1/orders/{order}/voucher-payments"),
            json!({"code": VOUCHER}),
        )
        .await
}

async fn remaining_points(terminal: &Terminal<'_>) -> Option<i64> {
    let (status, member) = terminal.get(&format!("/v1/loyalty/members/{MEMBER}")).await;
    (status == 200).then(|| member["remaining_points"].as_i64().unwrap())
}

async fn member_at_hub(client: &reqwest::Client, hub: &RunningHub, token: &str) -> Value {
    let (status, member) = hub_request(
        client,
        reqwest::Method::GET,
        hub.url(&format!("/v1/zawadi/pos/loyalty/members/{MEMBER}")),
        token,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{member}");
    member
}

#[test]
fn points_and_vouchers_are_earned_burned_and_taken_once_with_offline_overspends_reported() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let quic = hub.quic;
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (mall_data, mall_till) = enrolled_outlet(&driver, &pool, &hub, "zawadi", "mall");
    let (cbd_data, cbd_till) = another_enrolled_outlet(&driver, &pool, &hub, "zawadi", "cbd");
    driver.block_on(tenant_with_outlet(&pool, "other", "elsewhere"));
    let store =
        edge_node::store::Store::open(&mall_data.path().join(edge_node::config::STORE_FILE))
            .unwrap();
    let supervisor = edge_node::services::staff::create_staff(
        &store,
        "Wanjiru",
        "manager",
        "9999",
        edge_node::now_ms(),
    )
    .unwrap();
    drop(store);
    let approval = json!({"staff_id": supervisor.id.to_string(), "pin": "9999"});
    let manager = driver.block_on(dev_token(&pool, "zawadi", "manager"));
    let stranger = driver.block_on(dev_token(&pool, "other", "admin"));
    let client = reqwest::Client::new();
    let mall_edge = RunningEdge::start(mall_data.path(), &mall_till);
    let cbd_edge = RunningEdge::start(cbd_data.path(), &cbd_till);
    let mall = Terminal {
        client: &client,
        edge: &mall_edge,
    };
    let cbd = Terminal {
        client: &client,
        edge: &cbd_edge,
    };
    let url = |hub: &RunningHub, path: &str| hub.url(&format!("/v1/zawadi/pos{path}"));

    let (mall_offline, cbd_offline, refunded_order) = driver.block_on(async {
        for outlet in ["mall", "cbd"] {
            let (status, body) = hub_request(&client, reqwest::Method::PUT, url(&hub, &format!("/outlets/{outlet}/catalog/items")), &manager,
                Some(json!({"items": [{"id": "sku-hamper", "name": "Hamper", "category": "gifts", "price_minor": 50_000,
                                       "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]})), None).await;
            assert_eq!(status, 200, "{body}");
        }
        // No program yet: members cannot be enrolled.
        let (status, refused) = hub_request(&client, reqwest::Method::POST, url(&hub, "/loyalty/members"), &manager,
            Some(json!({"code": MEMBER, "name": "Amina W."})), None).await;
        assert_eq!((status, refused["code"].as_str()), (409, Some("no_loyalty_program")), "{refused}");
        // Bad programs are refused, naming the field.
        for (body, field) in [
            (json!({"currency": "KES", "earn_minor_per_point": 0, "point_value_minor": 100}), "earn_minor_per_point"),
            (json!({"currency": "KES", "earn_minor_per_point": 10_000, "point_value_minor": -1}), "point_value_minor"),
            (json!({"currency": "kes1", "earn_minor_per_point": 10_000, "point_value_minor": 100}), "currency"),
            (json!({"currency": "KES", "earn_minor_per_point": 10_000, "point_value_minor": 100, "offline_burn_points": -5}), "offline_burn_points"),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::PUT, url(&hub, "/loyalty/program"), &manager, Some(body.clone()), None).await;
            assert_eq!((status, error["field"].as_str()), (400, Some(field)), "{body} → {error}");
        }
        let (status, _) = hub_request(&client, reqwest::Method::GET, url(&hub, "/loyalty/program"), &manager, None, None).await;
        assert_eq!(status, 404, "nothing was stored");

        // A point per 100.00 paid in money; a point pays 1.00; 600 points per outlet offline.
        let (status, program) = hub_request(&client, reqwest::Method::PUT, url(&hub, "/loyalty/program"), &manager,
            Some(json!({"currency": "KES", "earn_minor_per_point": 10_000, "point_value_minor": 100, "offline_burn_points": 600})), None).await;
        assert_eq!(status, 200, "{program}");
        for (body, field) in [
            (json!({"code": "4111111111111111", "name": "Card number"}), None),
            (json!({"code": "AB", "name": "Too short"}), Some("code")),
            (json!({"code": MEMBER, "name": ""}), Some("name")),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::POST, url(&hub, "/loyalty/members"), &manager, Some(body.clone()), None).await;
            assert!(status == 400 || status == 422, "{body} → {status} {error}");
            if let Some(field) = field {
                assert_eq!(error["field"], field, "{body} → {error}");
            }
        }
        let (status, member) = hub_request(&client, reqwest::Method::POST, url(&hub, "/loyalty/members"), &manager,
            Some(json!({"code": MEMBER, "name": "Amina W."})), None).await;
        assert_eq!((status, member["balance_points"].as_i64()), (201, Some(0)), "{member}");
        let (status, again) = hub_request(&client, reqwest::Method::POST, url(&hub, "/loyalty/members"), &manager,
            Some(json!({"code": MEMBER, "name": "Someone else"})), None).await;
        assert_eq!((status, again["code"].as_str()), (409, Some("duplicate_code")), "{again}");
        let (status, refused) = hub_request(&client, reqwest::Method::POST, url(&hub, &format!("/loyalty/members/{MEMBER}/adjustments")), &manager,
            Some(json!({"points": -1, "reason": "typo"})), None).await;
        assert_eq!((status, refused["code"].as_str()), (409, Some("points_below_zero")), "{refused}");
        let (status, member) = hub_request(&client, reqwest::Method::POST, url(&hub, &format!("/loyalty/members/{MEMBER}/adjustments")), &manager,
            Some(json!({"points": 1_000, "reason": "welcome bonus"})), None).await;
        assert_eq!((status, member["balance_points"].as_i64()), (200, Some(1_000)), "{member}");
        let (status, _) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/other/pos/loyalty/members/{MEMBER}")), &stranger, None, None).await;
        assert_eq!(status, 404, "another tenant does not see the member");

        // A 500.00 voucher, good at every outlet.
        let (status, refused) = hub_request(&client, reqwest::Method::POST, url(&hub, "/vouchers"), &manager,
            Some(json!({"code": VOUCHER, "currency": "KES", "value_minor": 0})), None).await;
        assert_eq!((status, refused["field"].as_str()), (400, Some("value_minor")), "{refused}");
        let (status, voucher) = hub_request(&client, reqwest::Method::POST, url(&hub, "/vouchers"), &manager,
            Some(json!({"code": VOUCHER, "currency": "KES", "value_minor": 50_000})), None).await;
        assert_eq!((status, voucher["state"].as_str()), (201, Some("active")), "{voucher}");
        let (status, _) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/other/pos/vouchers/{VOUCHER}")), &stranger, None, None).await;
        assert_eq!(status, 404, "another tenant does not see the voucher");

        for terminal in [&mall, &cbd] {
            eventually(Duration::from_secs(20), "the member and the voucher reach the outlet", || async {
                let (status, voucher) = terminal.get(&format!("/v1/vouchers/{VOUCHER}")).await;
                (remaining_points(terminal).await == Some(600) && status == 200 && voucher["usable"] == true).then_some(())
            })
            .await;
        }

        // Online at the mall: 1,000.00 of hampers, 300 points and 700.00 in cash.
        let order = order_of(&mall, 2).await;
        let (status, refused) = mall.post(&format!("/v1/orders/{order}/payments"), json!({"tender": "loyalty_points", "amount_minor": 30_000})).await;
        assert_eq!((status, refused["code"].as_str()), (422, Some("tender_needs_its_route")), "points go through their own route: {refused}");
        let (status, refused) = mall.post(&format!("/v1/orders/{order}/payments"), json!({"tender": "gift_card", "amount_minor": 30_000})).await;
        assert_eq!((status, refused["code"].as_str()), (422, Some("tender_needs_its_route")), "{refused}");
        let (status, unknown) = mall.post(&format!("/v1/orders/{order}/loyalty-payments"), json!({"code": "M-NOBODY", "points": 10})).await;
        assert_eq!((status, unknown["code"].as_str()), (404, Some("unknown_loyalty_member")), "{unknown}");
        let (status, refused) = burn(&mall, &order, 0).await;
        assert_eq!((status, refused["field"].as_str()), (422, Some("points")), "{refused}");
        let (status, refused) = burn(&mall, &order, 100_000_000_000).await;
        assert_eq!((status, refused["field"].as_str()), (422, Some("points")), "{refused}");
        let (_, unchanged) = mall.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(unchanged["paid_minor"], 0, "refusals change nothing: {unchanged}");
        let (status, unknown) = mall.put(&format!("/v1/orders/{order}/loyalty-member"), json!({"code": "M-NOBODY"})).await;
        assert_eq!((status, unknown["code"].as_str()), (404, Some("unknown_loyalty_member")), "{unknown}");
        let (status, named) = mall.put(&format!("/v1/orders/{order}/loyalty-member"), json!({"code": MEMBER})).await;
        assert_eq!((status, named["member"]["name"].as_str(), named["member"]["point_value_minor"].as_i64()), (200, Some("Amina W."), Some(100)), "{named}");
        let (status, paid) = burn(&mall, &order, 300).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!((paid["order"]["paid_minor"].as_i64(), paid["member"]["remaining_points"].as_i64()), (Some(30_000), Some(300)), "{paid}");
        let (status, paid) = mall.post(&format!("/v1/orders/{order}/payments"), json!({"tender": "cash", "amount_minor": 70_000})).await;
        assert_eq!(status, 201, "{paid}");
        let (status, closed) = mall.post(&format!("/v1/orders/{order}/close"), json!({})).await;
        assert_eq!(status, 200, "{closed}");
        // 1,000 − 300 burned + 7 earned on 700.00 in money.
        eventually(Duration::from_secs(20), "the hub enters the burn and earns on the cash", || async {
            (member_at_hub(&client, &hub, &manager).await["balance_points"] == 707).then_some(())
        })
        .await;
        eventually(Duration::from_secs(20), "the mall's allowance is whole again", || async {
            (remaining_points(&mall).await == Some(600)).then_some(())
        })
        .await;
        (order_of(&mall, 2).await, order_of(&cbd, 2).await, order)
    });

    // Both outlets lose the hub and keep taking points and the voucher.
    hub.kill();
    driver.block_on(async {
        let (status, paid) = burn(&mall, &mall_offline, 500).await;
        assert_eq!(status, 201, "{paid}");
        let (status, paid) = take_voucher(&mall, &mall_offline).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(
            (
                paid["order"]["paid_minor"].as_i64(),
                paid["voucher"]["usable"].as_bool()
            ),
            (Some(100_000), Some(false)),
            "{paid}"
        );
        // Beyond the allowance: refused, and the order is as it was.
        let another = order_of(&mall, 1).await;
        let (status, refused) = burn(&mall, &another, 200).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("loyalty_allowance_exceeded")),
            "{refused}"
        );
        let (status, refused) = take_voucher(&mall, &another).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("voucher_not_usable")),
            "once per outlet: {refused}"
        );
        let (_, unchanged) = mall.get(&format!("/v1/orders/{another}")).await;
        assert_eq!(unchanged["paid_minor"], 0, "{unchanged}");
        // The CBD has not heard the voucher was used: it takes it too (400.00 left due).
        let (status, paid) = burn(&cbd, &cbd_offline, 600).await;
        assert_eq!(status, 201, "{paid}");
        let (status, paid) = take_voucher(&cbd, &cbd_offline).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(
            paid["order"]["payments"].as_array().unwrap()[1]["amount_minor"],
            40_000,
            "a voucher pays at most what is due: {paid}"
        );
    });

    // The hub returns: every burn entered once, the overspend and the double redemption reported.
    let hub = RunningHub::start(&db.url, quic);
    driver.block_on(async {
        // 707 − 500 − 600 = −393; payments in points and vouchers earn nothing.
        let member = eventually(
            Duration::from_secs(30),
            "both outlets' burns reach the ledger",
            || async {
                let member = member_at_hub(&client, &hub, &manager).await;
                (member["balance_points"] == -393).then_some(member)
            },
        )
        .await;
        let ledger = member["ledger"].as_array().unwrap();
        let sum: i64 = ledger.iter().map(|e| e["points"].as_i64().unwrap()).sum();
        assert_eq!(sum, -393, "the ledger sums to the balance: {member}");
        let burns: Vec<(&str, i64)> = ledger
            .iter()
            .filter(|e| e["kind"] == "burn")
            .map(|e| (e["outlet"].as_str().unwrap(), e["points"].as_i64().unwrap()))
            .collect();
        assert_eq!(burns.len(), 3, "{member}");
        assert_eq!(
            burns
                .iter()
                .filter(|(o, _)| *o == "mall")
                .map(|(_, p)| p)
                .sum::<i64>(),
            -800
        );
        assert_eq!(
            burns
                .iter()
                .filter(|(o, _)| *o == "cbd")
                .map(|(_, p)| p)
                .sum::<i64>(),
            -600
        );

        let (_, voucher) = hub_request(
            &client,
            reqwest::Method::GET,
            url(&hub, &format!("/vouchers/{VOUCHER}")),
            &manager,
            None,
            None,
        )
        .await;
        assert_eq!(voucher["state"], "redeemed", "{voucher}");
        let redemptions = voucher["redemptions"].as_array().unwrap();
        assert_eq!(redemptions.len(), 2, "{voucher}");
        assert_eq!(
            redemptions
                .iter()
                .filter(|r| r["duplicate"] == true)
                .count(),
            1,
            "{voucher}"
        );

        let (_, replay) = hub_request(
            &client,
            reqwest::Method::GET,
            url(&hub, "/offline-event-replay"),
            &manager,
            None,
            None,
        )
        .await;
        let records = replay.as_array().unwrap();
        let overspent: i64 = records
            .iter()
            .filter(|r| r["rule"] == "loyalty_offline_allowance")
            .map(|r| r["detail"]["overspent_points"].as_i64().unwrap())
            .sum();
        assert_eq!(
            overspent, 393,
            "the overspend is reported, exactly: {replay}"
        );
        assert_eq!(
            records
                .iter()
                .filter(|r| r["rule"] == "voucher_single_use")
                .count(),
            1,
            "{replay}"
        );
        for (event, expected) in [
            ("pos.loyalty.overspent", 1),
            ("pos.voucher.double_redeemed", 1),
        ] {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1")
                    .bind(event)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(count, expected, "{event}");
        }

        // The first sale comes back: its points are given back, its earned points taken back.
        let (status, refused) = mall
            .post(
                &format!("/v1/orders/{mall_offline}/refunds"),
                json!({"tender": "voucher", "reason": "returned", "approval": approval}),
            )
            .await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (422, Some("voucher_not_refundable")),
            "{refused}"
        );
        for tender in ["loyalty_points", "cash"] {
            let (status, refunded) = mall
                .post(
                    &format!("/v1/orders/{refunded_order}/refunds"),
                    json!({"tender": tender, "reason": "returned", "approval": approval}),
                )
                .await;
            assert_eq!(status, 201, "{tender}: {refunded}");
        }
        // −393 + 300 restored − 7 taken back.
        eventually(
            Duration::from_secs(30),
            "the refunds move the member's points",
            || async {
                (member_at_hub(&client, &hub, &manager).await["balance_points"] == -100)
                    .then_some(())
            },
        )
        .await;
        let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM loyalty_ledger")
            .fetch_one(&pool)
            .await
            .unwrap();
        // adjust, burn, earn, burn, burn, earn (−7), restore (+300).
        assert_eq!(entries, 7, "every fact entered once");
    });
}
