//! PCI scope: no column, log line or op ever holds a card number. A Luhn-valid test card
//! number, typed the ways a cashier or an integrator would, is pushed through every input path
//! of the edge's LAN API and the hub's API; each is refused naming the field. Then the edge's
//! SQLite files, every table of the hub's PostgreSQL database and the captured logs of both are
//! scanned for it. A control value (16 digits that fail the Luhn check) is accepted through the
//! same paths and found by the same scan, so the scan is proven to look where data lands.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PAN: &str = "4111111111111111";
const TYPINGS: [&str; 3] = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
];
/// Not a card number (the Luhn check fails): accepted, stored, and found by the scan.
const CONTROL: &str = "4111111111111112";
const SECRET: &str = "pci-test-secret";

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Every form a stored card number could take in a dump: the typings, and their hex (bytea).
fn needles(value: &str) -> Vec<String> {
    let forms: Vec<String> = if value == PAN {
        TYPINGS.iter().map(|t| (*t).to_owned()).collect()
    } else {
        vec![value.to_owned()]
    };
    forms
        .iter()
        .flat_map(|form| [form.clone(), hex(form)])
        .collect()
}

#[test]
fn a_card_number_is_refused_everywhere_and_stored_nowhere() {
    let logs = Logs::default();
    let writer = logs.clone();
    // Everything of ours at DEBUG. quinn's own connection spans stay at INFO: at DEBUG they
    // are entered and closed across the runtime's threads, and tracing-subscriber's registry
    // has been seen to trip over that in a loaded CI run ("tried to clone a span that already
    // closed"); quinn never sees a request body anyway.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,quinn=info,quinn_proto=info,quinn_udp=info",
        ))
        .with_writer(move || writer.clone())
        .try_init();

    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.treasury.webhook_secret = Some(SECRET.into());
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "duka", "main"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let manager = edge_node::services::staff::create_staff(
        &store,
        "Wanjiru",
        "manager",
        "2468",
        edge_node::now_ms(),
    )
    .unwrap();
    drop(store);
    let till = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "duka", "admin"));

    driver.block_on(async {
        let (status, _) = terminal
            .post("/v1/staff/sessions", json!({"staff_id": manager.id.to_string(), "pin": "2468"}))
            .await;
        assert_eq!(status, 201);
        let (_, order) = terminal.post("/v1/orders", json!({"type": "take_out"})).await;
        let order = order["id"].as_str().unwrap().to_owned();
        let (status, _) = terminal.post(&format!("/v1/orders/{order}/lines"), json!({"item_id": "sku-chai"})).await;
        assert_eq!(status, 201);

        // Every text input of the edge's LAN API, with the card number in it.
        let edge_paths = |value: &str| -> Vec<(String, Value, &'static str)> {
            vec![
                (format!("/v1/orders/{order}/lines"), json!({"item_id": "sku-chai", "instructions": format!("card {value}")}), "instructions"),
                ("/v1/tabs".into(), json!({"name": value}), "name"),
                ("/v1/tabs".into(), json!({"name": "Otieno", "preauth_ref": value}), "preauth_ref"),
                (format!("/v1/orders/{order}/payment-intents"), json!({"method": "card", "terminal_ref": value, "amount_minor": 100}), "terminal_ref"),
                (format!("/v1/orders/{order}/mpesa-receipts"), json!({"receipt_code": value, "amount_minor": 100}), "receipt_code"),
                (format!("/v1/orders/{order}/void"), json!({"reason": format!("customer gave {value}")}), "reason"),
                ("/v1/staff".into(), json!({"name": value, "role": "cashier", "pin": "1357"}), "name"),
                ("/v1/printers".into(), json!({"name": value, "addr": "127.0.0.1:9", "role": "receipt"}), "name"),
                ("/v1/drawer/pay-outs".into(), json!({"amount_minor": 1, "reason": format!("refund to card {value}")}), "reason"),
                (format!("/v1/orders/{order}/gift-card-payments"), json!({"code": value, "amount_minor": 100}), "code"),
                (format!("/v1/orders/{order}/loyalty-payments"), json!({"code": value, "points": 1}), "code"),
                (format!("/v1/orders/{order}/voucher-payments"), json!({"code": value}), "code"),
            ]
        };
        for typing in TYPINGS {
            for (path, body, field) in edge_paths(typing) {
                let (status, error) = terminal.post(&path, body.clone()).await;
                assert_eq!((status, error["code"].as_str(), error["field"].as_str()),
                    (422, Some("card_number_refused"), Some(field)), "{path} {body}: {error}");
                assert!(!error.to_string().contains(&typing.replace([' ', '-'], "")[4..]), "the error never echoes it");
            }
        }

        // Every text input of the hub's API.
        let hub_paths = |value: &str| -> Vec<(reqwest::Method, &'static str, Value, &'static str)> {
            vec![
                (reqwest::Method::PUT, "/v1/duka/pos/outlets/main/catalog/items", json!({"items": [{"id": "sku-x", "name": value, "category": "food", "price_minor": 100, "tax_mode": "inclusive", "tax_rates": []}]}), "items[0].name"),
                (reqwest::Method::PUT, "/v1/duka/pos/outlets/main/staff", json!({"staff": [{"id": uuid::Uuid::now_v7(), "name": value, "role": "cashier", "pin": "1357"}]}), "staff[0].name"),
                (reqwest::Method::PUT, "/v1/duka/pos/outlets/main/config", json!({"timezone": "Africa/Nairobi", "utc_offset_minutes": 180, "receipt_footer": value}), "receipt_footer"),
                (reqwest::Method::PUT, "/v1/duka/pos/outlets/main/price-books/x", json!({"name": value, "scope": "base", "prices": [{"item_id": "sku-chai", "price_minor": 1}]}), "name"),
                (reqwest::Method::POST, "/v1/duka/pos/webhooks", json!({"url": format!("https://hooks.example.com/{value}"), "events": ["pos.order.closed"]}), "url"),
                (reqwest::Method::POST, "/v1/duka/pos/gift-cards", json!({"code": value, "currency": "KES", "amount_minor": 100}), "code"),
                (reqwest::Method::POST, "/v1/duka/pos/loyalty/members", json!({"code": "MEMBER-1", "name": value}), "name"),
                (reqwest::Method::POST, "/v1/duka/pos/vouchers", json!({"code": value, "currency": "KES", "value_minor": 100}), "code"),
            ]
        };
        for typing in TYPINGS {
            for (method, path, body, field) in hub_paths(typing) {
                let response = client.request(method, hub.url(path)).bearer_auth(&jwt).json(&body).send().await.unwrap();
                let status = response.status().as_u16();
                let error: Value = response.json().await.unwrap();
                assert_eq!((status, error["code"].as_str(), error["field"].as_str()),
                    (422, Some("card_number_refused"), Some(field)), "{path}: {error}");
            }
            // A signed treasury callback is no way in either.
            let raw = serde_json::to_vec(&json!({"type": "payment_captured", "intent_id": uuid::Uuid::now_v7(), "receipt": typing})).unwrap();
            let signature = cloud_hub::events::signing::sign(SECRET, edge_node::now_ms() / 1000, &raw);
            let response = client.post(hub.url("/v1/duka/pos/integrations/treasury/events"))
                .header("kibanda-signature", signature).body(raw).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 422);
        }

        // The control goes through the same doors and lands.
        let (status, line) = terminal.post(&format!("/v1/orders/{order}/lines"), json!({"item_id": "sku-chai", "instructions": format!("ref {CONTROL}")})).await;
        assert_eq!(status, 201, "{line}");
        let (status, _) = terminal.post("/v1/tabs", json!({"name": "Otieno", "preauth_ref": CONTROL})).await;
        assert_eq!(status, 201);
        let response = client.put(hub.url("/v1/duka/pos/outlets/main/config")).bearer_auth(&jwt)
            .json(&json!({"timezone": "Africa/Nairobi", "utc_offset_minutes": 180, "receipt_footer": CONTROL})).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let (_, paid) = terminal.post(&format!("/v1/orders/{order}/payments"), json!({"tender": "cash", "amount_minor": 100_000})).await;
        assert!(paid["change_due_minor"].as_i64().is_some(), "{paid}");
        let (status, _) = terminal.post(&format!("/v1/orders/{order}/close"), json!({})).await;
        assert_eq!(status, 200);
        eventually(Duration::from_secs(20), "the order reaches the hub", || {
            let pool = pool.clone();
            let order = order.clone();
            async move {
                let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE id = $1::uuid")
                    .bind(&order).fetch_optional(&pool).await.ok()??;
                (state == "closed").then_some(())
            }
        })
        .await;

        // The scan: the edge's SQLite files, every hub table, the logs.
        let mut edge_bytes = Vec::new();
        for entry in std::fs::read_dir(data.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                edge_bytes.extend(std::fs::read(&path).unwrap());
            }
        }
        let edge_text = String::from_utf8_lossy(&edge_bytes).into_owned();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(tables.len() > 15, "{tables:?}");
        let mut hub_text = String::new();
        for table in &tables {
            let dump: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t"
            )))
            .fetch_one(&pool)
            .await
            .unwrap();
            hub_text.push_str(&dump);
        }
        let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
        assert!(log_text.contains("refused a request carrying a card number"), "the refusals are logged (without the value)");

        for needle in needles(PAN) {
            assert!(!edge_text.contains(&needle), "edge SQLite holds {needle}");
            assert!(!hub_text.contains(&needle), "hub database holds {needle}");
            assert!(!log_text.contains(&needle), "logs hold {needle}");
        }
        assert!(edge_text.contains(CONTROL), "the scan reads the edge's files");
        assert!(hub_text.contains(CONTROL) || hub_text.contains(&hex(CONTROL)), "the scan reads the hub's tables");
    });
}
