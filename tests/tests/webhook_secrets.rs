//! Webhook signing secrets at rest: with a master key configured, an endpoint's secret is sealed
//! before it is stored (nowhere in the table in clear), and deliveries are still signed with
//! it — the receiver verifies them with the secret it was given once. A secret stored in clear
//! by a hub that had no key is sealed when the hub starts with one. The device CA's key follows
//! the same rule.
#![allow(clippy::unwrap_used)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use cloud_hub::envelope::MasterKeys;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;

/// A delivery as received: its signature header and body.
type Delivery = (String, Vec<u8>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Delivery>>>);

async fn receive(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get("kibanda-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received.0.lock().unwrap().push((signature, body.to_vec()));
    StatusCode::OK
}

#[test]
fn sealed_webhook_secrets_still_sign_deliveries() {
    let driver = runtime();
    let received = Received::default();
    let receiver = driver.block_on(serve_loopback(
        axum::Router::new()
            .route("/hook", post(receive))
            .with_state(received.clone()),
    ));
    let db = TestDb::create(&driver);
    let key = format!(
        "k1:{}",
        base64::engine::general_purpose::STANDARD.encode([9_u8; 32])
    );
    let start = |keys: MasterKeys| {
        RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), move |config| {
            config.master_keys = keys;
            config.events.webhook_allow_private = true;
            config.events.webhooks.backoff_base_ms = 100;
        })
    };
    // First without a key: the secret is stored in clear.
    let hub = start(MasterKeys::none());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let client = reqwest::Client::new();
    let secret = driver.block_on(async {
        cloud_hub::services::admin::create_tenant(&pool, "duka", "Duka").await.unwrap();
        let admin = dev_token(&pool, "duka", "admin").await;
        let response = client
            .post(hub.url("/v1/duka/pos/webhooks"))
            .bearer_auth(&admin)
            .json(&json!({"url": format!("{receiver}/hook"), "events": ["pos.subscription.renewal_due"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let created: Value = response.json().await.unwrap();
        created["secret"].as_str().unwrap().to_owned()
    });
    let clear: Option<String> = driver
        .block_on(sqlx::query_scalar("SELECT secret FROM webhook_endpoints").fetch_one(&pool))
        .unwrap();
    assert_eq!(
        clear.as_deref(),
        Some(secret.as_str()),
        "no key: kept in clear"
    );
    hub.kill();

    // Started with a key: sealed at start, and nowhere in clear.
    let hub = start(MasterKeys::parse(Some(&key), None).unwrap());
    driver.block_on(async {
        let dump: String = sqlx::query_scalar("SELECT t::text FROM webhook_endpoints t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(!dump.contains(&secret[6..]), "{dump}");
        let key_id: Option<String> =
            sqlx::query_scalar("SELECT secret_key_id FROM webhook_endpoints")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(key_id.as_deref(), Some("k1"));

        // An event goes out signed with the secret the receiver was given.
        let licensing = dev_token(&pool, "duka", "service").await;
        let renews_at = (time::OffsetDateTime::now_utc() + time::Duration::days(2))
            .format(&Rfc3339)
            .unwrap();
        let response = client
            .put(hub.url("/v1/duka/pos/subscription"))
            .bearer_auth(&licensing)
            .json(&json!({"plan": "pos-pro", "renews_at": renews_at}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let (signature, body) =
            eventually(Duration::from_secs(30), "a signed delivery", || async {
                received.0.lock().unwrap().first().cloned()
            })
            .await;
        let now = edge_node::now_ms() / 1000;
        assert!(
            cloud_hub::events::signing::verify(&secret, &signature, &body, now),
            "{signature}"
        );
        let event: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(event["type"], "pos.subscription.renewal_due");
    });
}

/// The device CA's key at rest: in clear only while the hub has no master key; sealed as soon
/// as a hub starts with one (the same CA: same certificate, same key), re-sealed under the new
/// key after a rotation, and a hub without the key it was sealed with refuses to start rather
/// than mint a new CA.
#[test]
fn the_device_ca_key_is_sealed_at_rest_and_follows_rotation() {
    use cloud_hub::pki::HubCa;
    let driver = runtime();
    let db = TestDb::create(&driver);
    let key = |id: &str, byte: u8| {
        format!(
            "{id}:{}",
            base64::engine::general_purpose::STANDARD.encode([byte; 32])
        )
    };
    driver.block_on(async {
        let pool = cloud_hub::store::connect(&db.url, 4).await.unwrap();
        let stored = || async {
            sqlx::query_scalar::<_, String>(
                "SELECT value FROM hub_secrets WHERE name = 'device_ca_v1'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        let first = HubCa::load_or_create(&pool, &MasterKeys::none())
            .await
            .unwrap();
        assert!(
            stored().await.contains("PRIVATE KEY"),
            "no key: kept in clear"
        );

        let k1 = MasterKeys::parse(Some(&key("k1", 1)), None).unwrap();
        let sealed = HubCa::load_or_create(&pool, &k1).await.unwrap();
        let text = stored().await;
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains("key_pem"),
            "{text}"
        );
        assert!(text.contains("\"k1\""), "{text}");
        assert_eq!(sealed.cert_der(), first.cert_der());
        assert_eq!(sealed.public_key_raw(), first.public_key_raw());
        // Loading again under the same key writes nothing.
        HubCa::load_or_create(&pool, &k1).await.unwrap();
        assert_eq!(stored().await, text);

        // Rotation: k2 current, k1 previous; then k2 alone opens it.
        let rotated = MasterKeys::parse(Some(&key("k2", 2)), Some(&key("k1", 1))).unwrap();
        let after = HubCa::load_or_create(&pool, &rotated).await.unwrap();
        assert!(stored().await.contains("\"k2\""));
        assert_eq!(after.public_key_raw(), first.public_key_raw());
        let k2 = MasterKeys::parse(Some(&key("k2", 2)), None).unwrap();
        let again = HubCa::load_or_create(&pool, &k2).await.unwrap();
        assert_eq!(again.cert_der(), first.cert_der());

        // Without the key (or with the old one only): refused, the stored CA untouched.
        let before = stored().await;
        for keys in [MasterKeys::none(), k1] {
            let error = HubCa::load_or_create(&pool, &keys).await.err().unwrap();
            assert!(error.to_string().contains("sealed"), "{error}");
        }
        assert_eq!(stored().await, before);
    });
}
