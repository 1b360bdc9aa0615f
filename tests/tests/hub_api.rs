//! Cross-cutting hub API behaviour: request ids, per-tenant rate limits, Idempotency-Key.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};

#[test]
fn errors_carry_the_request_id_and_a_busy_tenant_is_told_when_to_retry() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.rate_limit_per_sec = 1;
        config.rate_limit_burst = 3;
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        tenant_with_outlet(&pool, "acme", "nbo-cbd").await;
        tenant_with_outlet(&pool, "bravo", "msa-1").await;
        let client = reqwest::Client::new();
        let token = dev_token(&pool, "acme", "manager").await;
        let response = client
            .get(hub.url("/v1/acme/pos/orders/not-an-id"))
            .bearer_auth(&token)
            .header("x-request-id", "req-from-caller-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404);
        assert_eq!(response.headers()["x-request-id"], "req-from-caller-1");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["request_id"], "req-from-caller-1");
        assert_eq!(body["code"], "not_found");

        // Burst of 3, then 429 with Retry-After; another tenant is unaffected.
        let mut statuses = Vec::new();
        let mut retry_after = None;
        for _ in 0..5 {
            let response = client
                .get(hub.url("/v1/acme/pos/orders"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
            if response.status().as_u16() == 429 {
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["code"], "rate_limited");
                assert!(body["request_id"].is_string());
            }
        }
        // The burst is 3 (one spent on the 404 above); refills are 1/s, so however slow this
        // machine is, the five quick requests cannot all pass.
        assert_eq!(&statuses[..2], &[200, 200]);
        assert!(statuses.contains(&429), "{statuses:?}");
        assert_eq!(retry_after.as_deref(), Some("1"));
        let other = dev_token(&pool, "bravo", "manager").await;
        let response = client
            .get(hub.url("/v1/bravo/pos/orders"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        pool.close().await;
    });
    hub.kill();
}

#[test]
fn a_retried_create_with_the_same_idempotency_key_creates_once() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        tenant_with_outlet(&pool, "acme", "nbo-cbd").await;
        let client = reqwest::Client::new();
        let admin = dev_token(&pool, "acme", "admin").await;
        let create = |key: &str, url: &str| {
            let request = client
                .post(hub.url("/v1/acme/pos/webhooks"))
                .bearer_auth(&admin)
                .header("idempotency-key", key)
                .json(&json!({"url": url, "events": ["pos.order.closed"]}));
            async move {
                let response = request.send().await.unwrap();
                let replayed = response.headers().contains_key("idempotent-replayed");
                (
                    response.status().as_u16(),
                    replayed,
                    response.json::<Value>().await.unwrap(),
                )
            }
        };
        let (status, replayed, first) = create("key-1", "https://example.com/a").await;
        assert_eq!((status, replayed), (201, false));
        let (status, replayed, again) = create("key-1", "https://example.com/a").await;
        assert_eq!((status, replayed), (201, true));
        assert_eq!(again, first, "the same answer, secret included");
        let (status, _, conflict) = create("key-1", "https://example.com/other").await;
        assert_eq!(status, 409);
        assert_eq!(conflict["code"], "idempotency_key_reused");
        // A refused request does not burn its key.
        let (status, _, _) = create("key-2", "ftp://nope").await;
        assert_eq!(status, 400);
        let (status, _, _) = create("key-2", "https://example.com/b").await;
        assert_eq!(status, 201);
        let listed: Value = client
            .get(hub.url("/v1/acme/pos/webhooks"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 2, "one endpoint per key");
        pool.close().await;
    });
    hub.kill();
}
