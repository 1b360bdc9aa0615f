//! Per-device rate limits: one calling device or service (its token's `sub`) beyond its own
//! rate gets `429` with `Retry-After`, while another device of the same tenant goes on.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;

#[test]
fn one_busy_device_is_limited_without_starving_the_others() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.rate_limit_per_sec = 1_000;
        config.rate_limit_burst = 1_000;
        config.device_rate_limit_per_sec = 1;
        config.device_rate_limit_burst = 3;
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        cloud_hub::services::admin::create_tenant(&pool, "duka", "Duka")
            .await
            .unwrap();
        // Two callers of one tenant: their tokens' `sub`s differ (`dev:admin`, `dev:manager`).
        let busy = dev_token(&pool, "duka", "admin").await;
        let other = dev_token(&pool, "duka", "manager").await;
        let client = reqwest::Client::new();
        let get = |token: String| {
            let request = client
                .get(hub.url("/v1/duka/pos/orders"))
                .bearer_auth(token);
            async move { request.send().await.unwrap() }
        };
        for _ in 0..3 {
            assert_eq!(get(busy.clone()).await.status().as_u16(), 200);
        }
        let limited = get(busy.clone()).await;
        assert_eq!(limited.status().as_u16(), 429);
        let retry_after: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value = limited.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
        assert!(
            body["message"].as_str().unwrap().contains("device"),
            "{body}"
        );
        // The tenant's other device is not held back.
        for _ in 0..3 {
            assert_eq!(get(other.clone()).await.status().as_u16(), 200);
        }
    });
}
