//! Gift cards: the hub holds the ledger; two outlets redeem the same card, online and then both
//! cut off from the hub at once, each within its offline allowance. When they sync, the ledger
//! enters every redemption once, reports the overspend the allowance bounded, and the outlets
//! get their new allowance; top-up and expiry reach the tills.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

const CARD: &str = "GIFT-7Q2K";

/// An open order of `hampers` × 500.00 at the till.
async fn order_of(terminal: &Terminal<'_>, hampers: i64) -> String {
    terminal.open_with("sku-hamper", hampers).await
}

async fn redeem(terminal: &Terminal<'_>, order: &str, amount_minor: i64) -> (u16, Value) {
    terminal
        .post(
            &format!("/v1/orders/{order}/gift-card-payments"),
            json!({"code": CARD, "amount_minor": amount_minor}),
        )
        .await
}

async fn remaining(terminal: &Terminal<'_>) -> Option<i64> {
    let (status, card) = terminal.get(&format!("/v1/gift-cards/{CARD}")).await;
    (status == 200).then(|| card["remaining_minor"].as_i64().unwrap())
}

#[test]
fn two_outlets_offline_at_once_overspend_a_card_only_within_their_allowances_and_the_ledger_reports_it()
 {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let quic = hub.quic;
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (mall_data, mall_till) = enrolled_outlet(&driver, &pool, &hub, "zawadi", "mall");
    let (cbd_data, cbd_till) = another_enrolled_outlet(&driver, &pool, &hub, "zawadi", "cbd");
    driver.block_on(tenant_with_outlet(&pool, "other", "elsewhere"));
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
    let card_url =
        |hub: &RunningHub, path: &str| hub.url(&format!("/v1/zawadi/pos/gift-cards{path}"));

    let (mall_order, cbd_order) = driver.block_on(async {
        for outlet in ["mall", "cbd"] {
            let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url(&format!("/v1/zawadi/pos/outlets/{outlet}/catalog/items")), &manager,
                Some(json!({"items": [{"id": "sku-hamper", "name": "Hamper", "category": "gifts", "price_minor": 50_000,
                                       "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]})), None).await;
            assert_eq!(status, 200, "{body}");
        }
        // Bad cards are refused and nothing is issued.
        for (body, field) in [
            (json!({"code": "4111111111111111", "currency": "KES", "amount_minor": 500_000}), "code"),
            (json!({"code": "AB", "currency": "KES", "amount_minor": 500_000}), "code"),
            (json!({"code": CARD, "currency": "XXX1", "amount_minor": 500_000}), "currency"),
            (json!({"code": CARD, "currency": "KES", "amount_minor": 0}), "amount_minor"),
            (json!({"code": CARD, "currency": "KES", "amount_minor": 500_000, "expires_at_ms": 1}), "expires_at_ms"),
        ] {
            let (status, error) = hub_request(&client, reqwest::Method::POST, card_url(&hub, ""), &manager, Some(body.clone()), None).await;
            assert!(status == 400 || status == 422, "{body} → {status} {error}");
            if status == 400 {
                assert_eq!(error["field"], field, "{body} → {error}");
            }
        }
        let cards: i64 = sqlx::query_scalar("SELECT count(*) FROM gift_cards").fetch_one(&pool).await.unwrap();
        assert_eq!(cards, 0);

        // 5,000.00 on the card; each outlet may take up to 3,000.00 of it without the hub.
        let (status, card) = hub_request(&client, reqwest::Method::POST, card_url(&hub, ""), &manager,
            Some(json!({"code": CARD, "currency": "KES", "amount_minor": 500_000, "offline_allowance_minor": 300_000})), None).await;
        assert_eq!((status, card["balance_minor"].as_i64()), (201, Some(500_000)), "{card}");
        let (status, again) = hub_request(&client, reqwest::Method::POST, card_url(&hub, ""), &manager,
            Some(json!({"code": CARD, "currency": "KES", "amount_minor": 1})), None).await;
        assert_eq!((status, again["code"].as_str()), (409, Some("duplicate_code")), "{again}");
        let (status, _) = hub_request(&client, reqwest::Method::GET, hub.url(&format!("/v1/other/pos/gift-cards/{CARD}")), &stranger, None, None).await;
        assert_eq!(status, 404, "another tenant does not see the card");

        for terminal in [&mall, &cbd] {
            eventually(Duration::from_secs(20), "the card's allowance reaches the outlet", || async {
                (remaining(terminal).await == Some(300_000)).then_some(())
            })
            .await;
        }
        let (status, unknown) = mall.post(&format!("/v1/orders/{}/gift-card-payments", order_of(&mall, 1).await), json!({"code": "NOPE-123", "amount_minor": 100})).await;
        assert_eq!((status, unknown["code"].as_str()), (404, Some("unknown_gift_card")), "{unknown}");

        // Online: the mall takes 1,200.00; the hub's ledger has it, and the mall's allowance is
        // whole again once the hub counted it.
        let order = order_of(&mall, 10).await;
        let (status, paid) = redeem(&mall, &order, 120_000).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(paid["order"]["paid_minor"], 120_000);
        assert_eq!(paid["card"]["remaining_minor"], 180_000);
        eventually(Duration::from_secs(20), "the hub counts the mall's redemption", || async {
            let (_, card) = hub_request(&client, reqwest::Method::GET, card_url(&hub, &format!("/{CARD}")), &manager, None, None).await;
            (card["balance_minor"] == 380_000).then_some(())
        })
        .await;
        eventually(Duration::from_secs(20), "the mall's allowance is restored", || async {
            (remaining(&mall).await == Some(300_000)).then_some(())
        })
        .await;
        (order, order_of(&cbd, 6).await)
    });

    // Both outlets lose the hub and keep selling on the card.
    hub.kill();
    driver.block_on(async {
        // Once a till knows the hub is gone, nothing beyond its allowance can be taken (online,
        // it would ask the hub for a hold).
        for terminal in [&mall, &cbd] {
            eventually(
                Duration::from_secs(30),
                "the till notices the hub is gone",
                || async {
                    let (_, status) = terminal.get("/v1/sync/status").await;
                    (status["connected"] == false).then_some(())
                },
            )
            .await;
        }
        let (status, paid) = redeem(&mall, &mall_order, 150_000).await;
        assert_eq!(status, 201, "{paid}");
        // Beyond the allowance: refused, and the order is as it was.
        let (status, refused) = redeem(&mall, &mall_order, 200_000).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("gift_card_allowance_exceeded")),
            "{refused}"
        );
        let (_, order) = mall.get(&format!("/v1/orders/{mall_order}")).await;
        assert_eq!(order["paid_minor"], 270_000, "{order}");
        let (status, paid) = redeem(&mall, &mall_order, 30_000).await;
        assert_eq!(status, 201, "{paid}");
        assert_eq!(remaining(&mall).await, Some(120_000));
        let (status, paid) = redeem(&cbd, &cbd_order, 250_000).await;
        assert_eq!(status, 201, "{paid}");
    });

    // The hub returns: every redemption entered once, the overspend reported.
    let hub = RunningHub::start(&db.url, quic);
    driver.block_on(async {
        // 5,000.00 − 1,200.00 − 1,500.00 − 300.00 − 2,500.00 = −500.00
        let card = eventually(
            Duration::from_secs(30),
            "both outlets' redemptions reach the ledger",
            || async {
                let (_, card) = hub_request(
                    &client,
                    reqwest::Method::GET,
                    card_url(&hub, &format!("/{CARD}")),
                    &manager,
                    None,
                    None,
                )
                .await;
                (card["balance_minor"] == -50_000).then_some(card)
            },
        )
        .await;
        let ledger = card["ledger"].as_array().unwrap();
        let kinds: Vec<&str> = ledger.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "redeem").count(),
            4,
            "{card}"
        );
        let ledger_sum: i64 = ledger
            .iter()
            .map(|e| e["amount_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(ledger_sum, -50_000, "the ledger sums to the balance");
        let by_outlet = |outlet: &str| -> i64 {
            ledger
                .iter()
                .filter(|e| e["outlet"] == outlet)
                .map(|e| -e["amount_minor"].as_i64().unwrap())
                .sum()
        };
        assert_eq!((by_outlet("mall"), by_outlet("cbd")), (300_000, 250_000));

        let (_, replay) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url("/v1/zawadi/pos/offline-event-replay"),
            &manager,
            None,
            None,
        )
        .await;
        let overspends: Vec<&Value> = replay
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["rule"] == "gift_card_offline_allowance")
            .collect();
        assert!(!overspends.is_empty(), "{replay}");
        let overspent: i64 = overspends
            .iter()
            .map(|r| r["detail"]["overspent_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(
            overspent, 50_000,
            "the overspend is reported, exactly: {replay}"
        );
        assert!(overspent <= 300_000, "within the other outlet's allowance");
        let events: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE event_type = 'pos.giftcard.overspent'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(events, overspends.len() as i64);

        // The card is empty for both outlets now.
        for terminal in [&mall, &cbd] {
            eventually(
                Duration::from_secs(20),
                "the outlets learn the card is spent",
                || async { (remaining(terminal).await == Some(0)).then_some(()) },
            )
            .await;
        }
        // Online, a till asks the hub beyond its allowance; the hub declines a spent card.
        let (status, held) = redeem(&cbd, &cbd_order, 100).await;
        assert_eq!(status, 202, "{held}");
        let declined = decided_hold(&cbd, held["hold"]["id"].as_str().unwrap()).await;
        assert_eq!(declined["state"], "declined", "{declined}");

        // A top-up of 1,300.00 brings it to 800.00: that is what each outlet may take now.
        let (status, card) = hub_request(
            &client,
            reqwest::Method::POST,
            card_url(&hub, &format!("/{CARD}/top-ups")),
            &manager,
            Some(json!({"amount_minor": 130_000})),
            None,
        )
        .await;
        assert_eq!(
            (status, card["balance_minor"].as_i64()),
            (200, Some(80_000)),
            "{card}"
        );
        eventually(
            Duration::from_secs(20),
            "the top-up reaches the outlet",
            || async { (remaining(&cbd).await == Some(80_000)).then_some(()) },
        )
        .await;
        // Expired at the hub: no till takes it.
        let (status, card) = hub_request(
            &client,
            reqwest::Method::POST,
            card_url(&hub, &format!("/{CARD}/expire")),
            &manager,
            None,
            None,
        )
        .await;
        assert_eq!(
            (
                status,
                card["state"].as_str(),
                card["balance_minor"].as_i64()
            ),
            (200, Some("expired"), Some(0)),
            "{card}"
        );
        let refused = eventually(
            Duration::from_secs(20),
            "the expiry reaches the outlet",
            || async {
                let (status, refused) = redeem(&mall, &mall_order, 100).await;
                (status == 409 && refused["code"] == "gift_card_not_usable").then_some(refused)
            },
        )
        .await;
        assert_eq!(refused["field"], "code");
        let (status, error) = hub_request(
            &client,
            reqwest::Method::POST,
            card_url(&hub, &format!("/{CARD}/top-ups")),
            &manager,
            Some(json!({"amount_minor": 100})),
            None,
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (409, Some("gift_card_not_active")),
            "{error}"
        );
    });
}

/// A hold's state at the till, once it is no longer pending.
async fn decided_hold(terminal: &Terminal<'_>, hold: &str) -> Value {
    eventually(
        Duration::from_secs(20),
        "the hub decides the hold",
        || async {
            let (_, answer) = terminal.get(&format!("/v1/gift-card-holds/{hold}")).await;
            (answer["state"] != "pending").then_some(answer)
        },
    )
    .await
}

#[test]
fn beyond_its_offline_allowance_a_card_pays_through_a_hold_the_hub_decides_on_its_balance() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "zawadi", "mall");
    let manager = driver.block_on(dev_token(&pool, "zawadi", "manager"));
    let client = reqwest::Client::new();
    let edge = RunningEdge::start(data.path(), &till);
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let card_at_hub = || async {
        let (_, card) = hub_request(
            &client,
            reqwest::Method::GET,
            hub.url(&format!("/v1/zawadi/pos/gift-cards/{CARD}")),
            &manager,
            None,
            None,
        )
        .await;
        card
    };
    driver.block_on(async {
        let (status, body) = hub_request(&client, reqwest::Method::PUT, hub.url("/v1/zawadi/pos/outlets/mall/catalog/items"), &manager,
            Some(json!({"items": [{"id": "sku-hamper", "name": "Hamper", "category": "gifts", "price_minor": 50_000,
                                   "tax_mode": "inclusive", "tax_rates": [{"code": "VAT16", "rate_bps": 1600}]}]})), None).await;
        assert_eq!(status, 200, "{body}");
        // 5,000.00 on the card; the till may take 1,000.00 of it without asking.
        let (status, card) = hub_request(&client, reqwest::Method::POST, hub.url("/v1/zawadi/pos/gift-cards"), &manager,
            Some(json!({"code": CARD, "currency": "KES", "amount_minor": 500_000, "offline_allowance_minor": 100_000})), None).await;
        assert_eq!(status, 201, "{card}");
        eventually(Duration::from_secs(20), "the allowance reaches the till", || async {
            let (_, status) = terminal.get("/v1/sync/status").await;
            (remaining(&terminal).await == Some(100_000) && status["connected"] == true).then_some(())
        })
        .await;

        // 3,000.00 in one go: more than the till may take alone, so the hub is asked.
        let order = order_of(&terminal, 6).await;
        let (status, held) = redeem(&terminal, &order, 300_000).await;
        assert_eq!((status, held["hold"]["state"].as_str()), (202, Some("pending")), "{held}");
        let hold = held["hold"]["id"].as_str().unwrap().to_owned();
        let decided = decided_hold(&terminal, &hold).await;
        assert_eq!(decided["state"], "paid", "{decided}");
        let (_, paid) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(paid["paid_minor"], 300_000, "{paid}");
        // The ledger took it once: the hold is the redemption the till's op names again.
        let card = eventually(Duration::from_secs(20), "the till's redemption reaches the ledger", || async {
            let card = card_at_hub().await;
            let redeems = card["ledger"].as_array().unwrap().iter().filter(|e| e["kind"] == "redeem").count();
            (redeems == 1 && card["balance_minor"] == 200_000).then_some(card)
        })
        .await;
        assert_eq!(card["ledger"].as_array().unwrap().iter().filter(|e| e["kind"] == "redeem").count(), 1, "{card}");

        // 2,500.00 more than the card holds: declined, saying why; nothing taken.
        let order = order_of(&terminal, 5).await;
        let (status, held) = redeem(&terminal, &order, 250_000).await;
        assert_eq!(status, 202, "{held}");
        let decided = decided_hold(&terminal, held["hold"]["id"].as_str().unwrap()).await;
        assert_eq!(decided["state"], "declined", "{decided}");
        assert!(decided["reason"].as_str().unwrap().contains("2000"), "{decided}");
        let (_, unpaid) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(unpaid["paid_minor"], 0);

        // A hold the cashier gives up on costs the card nothing, whether the hub had answered.
        let (status, held) = redeem(&terminal, &order, 150_000).await;
        assert_eq!(status, 202, "{held}");
        let hold = held["hold"]["id"].as_str().unwrap().to_owned();
        terminal.post(&format!("/v1/gift-card-holds/{hold}/cancel"), json!({})).await;
        let final_state = decided_hold(&terminal, &hold).await;
        assert!(matches!(final_state["state"].as_str(), Some("cancelled") | Some("paid")), "{final_state}");
        if final_state["state"] == "paid" {
            // The approval beat the cancel: it was taken as a payment, like any approved hold.
            return;
        }
        eventually(Duration::from_secs(20), "the card holds what it held", || async {
            (card_at_hub().await["balance_minor"] == 200_000).then_some(())
        })
        .await;
        let (_, unpaid) = terminal.get(&format!("/v1/orders/{order}")).await;
        assert_eq!(unpaid["paid_minor"], 0);
    });
    drop(edge);
}
