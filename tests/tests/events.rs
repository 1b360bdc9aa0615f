//! The event fabric against real parts: NATS JetStream on 127.0.0.1:4222 and webhook receivers
//! that are real HTTP servers on loopback.
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cloud_hub::config::{AuthConfig, EventsConfig};
use cloud_hub::events::webhooks::WebhookSettings;
use edge_node::store::Store;
use futures_util::StreamExt;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn unique_slug(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Enrolls an edge for `slug` and starts it; returns the running edge and its data dir.
fn enrolled_edge(
    driver: &tokio::runtime::Runtime,
    pool: &sqlx::PgPool,
    hub: &RunningHub,
    slug: &str,
) -> (RunningEdge, tempfile::TempDir) {
    let code = driver.block_on(tenant_with_outlet(pool, slug, "outlet-1"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store,
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    let token = pair_terminal(data.path());
    (RunningEdge::start(data.path(), &token), data)
}

#[test]
fn order_events_reach_nats_jetstream_with_tenant_subjects() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let nats_url =
        std::env::var("KIBANDA_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let hub = RunningHub::start_full(
        &db.url,
        "127.0.0.1:0".parse().unwrap(),
        AuthConfig::dev_only(),
        EventsConfig {
            nats_url: Some(nats_url.clone()),
            ..EventsConfig::default()
        },
    );
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let slug = unique_slug("nats");
    let (edge, _data) = enrolled_edge(&driver, &pool, &hub, &slug);
    driver.block_on(async {
        let client = async_nats::connect(&nats_url).await.unwrap();
        let mut subscription = client.subscribe(format!("pos.{slug}.>")).await.unwrap();
        client.flush().await.unwrap();
        let http = reqwest::Client::new();
        let terminal = Terminal {
            client: &http,
            edge: &edge,
        };
        let mut sold = Vec::new();
        for _ in 0..3 {
            sold.push(
                terminal
                    .sell(&[("sku-espresso", 1), ("sku-mandazi", 2)])
                    .await,
            );
        }
        let mut seen: Vec<(String, Value)> = Vec::new();
        while seen.len() < 6 {
            let message = tokio::time::timeout(Duration::from_secs(30), subscription.next())
                .await
                .expect("events within 30 s")
                .unwrap();
            seen.push((
                message.subject.to_string(),
                serde_json::from_slice(&message.payload).unwrap(),
            ));
        }
        for order in &sold {
            let id = order["id"].as_str().unwrap();
            let created = seen.iter().find(|(subject, event)| {
                subject == &format!("pos.{slug}.order.created") && event["data"]["order_id"] == id
            });
            assert!(created.is_some(), "order.created for {id}");
            let (_, closed) = seen
                .iter()
                .find(|(subject, event)| {
                    subject == &format!("pos.{slug}.order.closed")
                        && event["data"]["order_id"] == id
                })
                .expect("order.closed");
            assert_eq!(closed["type"], "pos.order.closed");
            assert_eq!(closed["tenant"], slug.as_str());
            assert_eq!(closed["outlet"], "outlet-1");
            assert_eq!(closed["data"]["total_minor"], order["total_minor"]);
        }
        // And the stream keeps them for consumers that connect later.
        let jetstream = async_nats::jetstream::new(client);
        let stream = jetstream
            .get_stream(cloud_hub::events::dispatcher::STREAM_NAME)
            .await
            .unwrap();
        let last = stream
            .get_last_raw_message_by_subject(&format!("pos.{slug}.order.closed"))
            .await
            .unwrap();
        let event: Value = serde_json::from_slice(&last.payload).unwrap();
        assert_eq!(event["type"], "pos.order.closed");
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}

/// (endpoint path, headers, body) of one delivery.
type Received = (String, HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    flaky_calls: Arc<AtomicU32>,
    down_calls: Arc<AtomicU32>,
    down_recovered: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn flaky(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let call = receiver.flaky_calls.fetch_add(1, Ordering::SeqCst) + 1;
    receiver
        .received
        .lock()
        .unwrap()
        .push(("flaky".into(), headers, body.to_vec()));
    if call <= 2 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn down(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let call = receiver.down_calls.fetch_add(1, Ordering::SeqCst) + 1;
    if receiver.down_recovered.load(Ordering::SeqCst) {
        receiver
            .received
            .lock()
            .unwrap()
            .push(("down".into(), headers, body.to_vec()));
        return StatusCode::NO_CONTENT;
    }
    if call == 1 {
        // Slower than the hub's timeout: counts as a failed attempt.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    StatusCode::SERVICE_UNAVAILABLE
}

#[test]
fn webhooks_are_signed_retried_dead_lettered_and_replayable() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let receiver = Receiver::default();
    let receiver_addr = driver.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/flaky", post(flaky))
            .route("/down", post(down))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let hub = RunningHub::start_full(
        &db.url,
        "127.0.0.1:0".parse().unwrap(),
        AuthConfig::dev_only(),
        EventsConfig {
            nats_url: None,
            webhooks: WebhookSettings {
                attempts_max: 3,
                backoff_base_ms: 50,
                timeout_ms: 500,
            },
            webhook_allow_private: true,
        },
    );
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let slug = unique_slug("hooks");
    let (edge, _data) = enrolled_edge(&driver, &pool, &hub, &slug);
    let admin = driver.block_on(dev_token(&pool, &slug, "admin"));
    driver.block_on(async {
        let http = reqwest::Client::new();
        let api = |path: &str| hub.url(&format!("/v1/{slug}/pos{path}"));
        let create = |url: String| {
            let http = http.clone();
            let endpoint = api("/webhooks");
            let admin = admin.clone();
            async move {
                let response = http
                    .post(endpoint)
                    .bearer_auth(admin)
                    .json(&json!({"url": url, "events": ["pos.order.closed"]}))
                    .send()
                    .await
                    .unwrap();
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                )
            }
        };
        // Bad endpoints are refused.
        assert_eq!(create("ftp://example.com/hook".into()).await.0, 400);
        let response = http
            .post(api("/webhooks"))
            .bearer_auth(&admin)
            .json(&json!({"url": "https://example.com/hook", "events": ["pos.order.exploded"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);

        let (status, flaky_hook) = create(format!("http://{receiver_addr}/flaky")).await;
        assert_eq!(status, 201);
        let secret = flaky_hook["secret"].as_str().unwrap().to_owned();
        let (_, down_hook) = create(format!("http://{receiver_addr}/down")).await;
        let listed: Value = http
            .get(api("/webhooks"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 2);
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|hook| hook["secret"].is_null()),
            "secrets are redacted"
        );

        let terminal = Terminal {
            client: &http,
            edge: &edge,
        };
        let order = terminal.sell(&[("sku-cappuccino", 1)]).await;

        // The flaky endpoint gets it on the third attempt, signed.
        eventually(
            Duration::from_secs(30),
            "delivery to the flaky endpoint",
            || async { (receiver.flaky_calls.load(Ordering::SeqCst) >= 3).then_some(()) },
        )
        .await;
        let received = receiver.received.lock().unwrap().clone();
        let (_, headers, body) = received
            .iter()
            .rfind(|(path, _, _)| path == "flaky")
            .unwrap();
        let signature = headers["kibanda-signature"].to_str().unwrap();
        assert!(cloud_hub::events::signing::verify(
            &secret,
            signature,
            body,
            edge_node::now_ms() / 1000
        ));
        assert!(!cloud_hub::events::signing::verify(
            "whsec_wrong",
            signature,
            body,
            edge_node::now_ms() / 1000
        ));
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], "pos.order.closed");
        assert_eq!(event["data"]["order_id"], order["id"]);
        assert_eq!(
            headers["kibanda-event-id"].to_str().unwrap(),
            event["id"].as_str().unwrap()
        );

        // The endpoint that is down (one timeout, then 503s) is dead-lettered after 3 attempts.
        let dead = eventually(Duration::from_secs(30), "the dead letter", || async {
            let dead: Value = http
                .get(api("/webhooks/deliveries?status=dead"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (dead.as_array().unwrap().len() == 1).then_some(dead[0].clone())
        })
        .await;
        assert_eq!(dead["endpoint_id"], down_hook["id"]);
        assert_eq!(dead["attempts"], 3);
        let delivered: Value = http
            .get(api("/webhooks/deliveries?status=delivered"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(delivered.as_array().unwrap().len(), 1);
        assert_eq!(delivered[0]["attempts"], 3);

        // Another tenant cannot see or replay it.
        let other = unique_slug("other");
        cloud_hub::services::admin::create_tenant(&pool, &other, "Other")
            .await
            .unwrap();
        let other_admin = dev_token(&pool, &other, "admin").await;
        let replay_path = format!(
            "/webhooks/deliveries/{}/replay",
            dead["id"].as_str().unwrap()
        );
        let response = http
            .post(hub.url(&format!("/v1/{other}/pos{replay_path}")))
            .bearer_auth(&other_admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404);

        // The receiver recovers; an operator replays the dead letter and it is delivered.
        receiver.down_recovered.store(true, Ordering::SeqCst);
        let response = http
            .post(api(&replay_path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
        eventually(Duration::from_secs(30), "the replayed delivery", || async {
            let received = receiver.received.lock().unwrap();
            received
                .iter()
                .any(|(path, _, _)| path == "down")
                .then_some(())
        })
        .await;
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}
