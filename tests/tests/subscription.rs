//! Licensing: the licensing service sets a tenant's subscription; when its renewal date comes
//! within the notice period the hub raises `pos.subscription.renewal_due` through the outbox —
//! once per renewal date, again for the next one.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;

#[test]
fn a_renewal_coming_near_raises_one_notice_per_renewal_date() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let client = reqwest::Client::new();
    driver.block_on(async {
        cloud_hub::services::admin::create_tenant(&pool, "duka", "Duka").await.unwrap();
        let licensing = dev_token(&pool, "duka", "service").await;
        let admin = dev_token(&pool, "duka", "admin").await;
        let put = |token: String, body: Value| {
            let client = client.clone();
            let url = hub.url("/v1/duka/pos/subscription");
            async move {
                let response = client.put(url).bearer_auth(token).json(&body).send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let in_days = |days: i64| (time::OffsetDateTime::now_utc() + time::Duration::days(days)).format(&Rfc3339).unwrap();
        let notices = || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, Value>(
                    "SELECT payload FROM outbox WHERE event_type = 'pos.subscription.renewal_due' ORDER BY seq",
                )
                .fetch_all(&pool)
                .await
                .unwrap()
            }
        };

        // The tenant's own admin may not set its licence; bad input is refused by field.
        let (status, _) = put(admin, json!({"plan": "pos-pro", "renews_at": in_days(3)})).await;
        assert_eq!(status, 403);
        let (status, error) = put(licensing.clone(), json!({"plan": "pos-pro", "renews_at": "next tuesday"})).await;
        assert_eq!((status, error["field"].as_str()), (400, Some("renews_at")));
        // Far off: no notice.
        let (status, _) = put(licensing.clone(), json!({"plan": "pos-pro", "renews_at": in_days(60)})).await;
        assert_eq!(status, 200);
        // Renewing in three days, notice period a week: one notice.
        let renews_at = in_days(3);
        let (status, _) = put(licensing.clone(), json!({"plan": "pos-pro", "renews_at": renews_at})).await;
        assert_eq!(status, 200);
        let raised = eventually(Duration::from_secs(20), "a renewal notice", || async {
            let notices = notices().await;
            (!notices.is_empty()).then_some(notices)
        })
        .await;
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0]["tenant"], "duka");
        assert_eq!(raised[0]["data"]["plan"], "pos-pro");
        assert_eq!(raised[0]["data"]["days_left"], 3);
        // Set again (same date): still one.
        put(licensing.clone(), json!({"plan": "pos-pro", "renews_at": renews_at})).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(notices().await.len(), 1);
        // Renewed: the next date near raises the next notice.
        put(licensing.clone(), json!({"plan": "pos-pro", "renews_at": in_days(5)})).await;
        eventually(Duration::from_secs(20), "a second notice", || async {
            (notices().await.len() == 2).then_some(())
        })
        .await;
    });
}
