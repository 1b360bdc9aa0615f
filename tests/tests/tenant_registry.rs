//! A tenant or outlet the hub has never heard of is looked up in the business's tenant registry
//! (a real HTTP server on loopback here) before anything is created: known there, it is created
//! from the registry's record and the request goes through; unknown there too, the hub refuses
//! clearly and creates nothing; with the registry down, it says so and creates nothing.
#![allow(clippy::unwrap_used)]

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use kibanda_tests::*;
use serde_json::{Value, json};

async fn tenant(Path(slug): Path<String>) -> (StatusCode, Json<Value>) {
    match slug.as_str() {
        "newco" => (
            StatusCode::OK,
            Json(json!({"slug": "newco", "name": "New Co Ltd"})),
        ),
        "flaky" => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({}))),
        _ => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

async fn outlet(Path((slug, code)): Path<(String, String)>) -> (StatusCode, Json<Value>) {
    match (slug.as_str(), code.as_str()) {
        ("newco", "nbo-1") => (
            StatusCode::OK,
            Json(
                json!({"code": "nbo-1", "name": "Nairobi One", "timezone": "Africa/Nairobi", "currency": "KES"}),
            ),
        ),
        _ => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

#[test]
fn unknown_tenants_and_outlets_are_fetched_from_the_registry_or_refused() {
    let driver = runtime();
    let registry = driver.block_on(serve_loopback(
        axum::Router::new()
            .route("/tenants/{slug}", get(tenant))
            .route("/tenants/{slug}/outlets/{code}", get(outlet)),
    ));
    let db = TestDb::create(&driver);
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.tenant_registry_url = Some(registry.clone());
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let client = reqwest::Client::new();
    let call = |path: String, token: String| {
        let client = client.clone();
        let url = hub.url(&path);
        async move {
            let response = client
                .put(url)
                .bearer_auth(token)
                .json(&json!({"items": [{"id": "sku-chai", "name": "Chai", "category": "tea", "price_minor": 15_000, "tax_mode": "inclusive", "tax_rates": []}]}))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    driver.block_on(async {
        let count = |table: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {table}"
                )))
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        let newco = dev_token(&pool, "newco", "admin").await;

        // Unknown to the registry too: refused, nothing created.
        let (status, error) = call(
            "/v1/newco/pos/outlets/ghost/catalog/items".into(),
            newco.clone(),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("unknown_to_registry")),
            "{error}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("outlet ghost of newco"),
            "{error}"
        );
        // The tenant itself was known to the registry, so it exists now; the outlet does not.
        assert_eq!((count("tenants").await, count("outlets").await), (1, 0));
        // Registering it over the API does not get round the registry either.
        let (status, error) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub.url("/v1/newco/pos/outlets/ghost"),
            &newco,
            Some(json!({"name": "Ghost", "timezone": "Africa/Nairobi", "currency": "KES"})),
            None,
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("unknown_to_registry")),
            "{error}"
        );
        assert_eq!(count("outlets").await, 0);

        // Known there: created from the record, and the upload goes through.
        let (status, body) = call(
            "/v1/newco/pos/outlets/nbo-1/catalog/items".into(),
            newco.clone(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (name, timezone, currency): (String, String, String) =
            sqlx::query_as("SELECT name, timezone, currency FROM outlets WHERE code = 'nbo-1'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            (name.as_str(), timezone.as_str(), currency.as_str()),
            ("Nairobi One", "Africa/Nairobi", "KES")
        );
        let tenant_name: String =
            sqlx::query_scalar("SELECT name FROM tenants WHERE slug = 'newco'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(tenant_name, "New Co Ltd");
        // Asked again: the hub knows it now (no second outlet).
        let (status, body) = call(
            "/v1/newco/pos/outlets/nbo-1/catalog/items".into(),
            newco.clone(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(count("outlets").await, 1);
        // Registered over the API under the registry's identifier: its record stands (a
        // currency other than the registry's is refused), and the name may be the back office's.
        let register = |body: Value| {
            hub_request(
                &client,
                reqwest::Method::PUT,
                hub.url("/v1/newco/pos/outlets/nbo-1"),
                &newco,
                Some(body),
                None,
            )
        };
        let (status, error) = register(
            json!({"name": "Nairobi One", "timezone": "Africa/Nairobi", "currency": "USD"}),
        )
        .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (409, Some("currency")),
            "{error}"
        );
        let (status, body) = register(
            json!({"name": "Nairobi 1 (CBD)", "timezone": "Africa/Nairobi", "currency": "KES"}),
        )
        .await;
        assert_eq!(
            (status, body["name"].as_str()),
            (200, Some("Nairobi 1 (CBD)")),
            "{body}"
        );
        assert_eq!(count("outlets").await, 1);

        // A tenant the registry does not know.
        let ghost = dev_token(&pool, "ghostco", "admin").await;
        let (status, error) = call("/v1/ghostco/pos/outlets/x/catalog/items".into(), ghost).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("unknown_to_registry")),
            "{error}"
        );
        // The registry failing: said so, nothing created.
        let flaky = dev_token(&pool, "flaky", "admin").await;
        let (status, error) = call("/v1/flaky/pos/outlets/x/catalog/items".into(), flaky).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (503, Some("tenant_registry_unavailable")),
            "{error}"
        );
        assert_eq!(count("tenants").await, 1);
        // A token for one tenant never makes the hub look up another.
        let (status, _) = call("/v1/othercorp/pos/outlets/x/catalog/items".into(), newco).await;
        assert_eq!(status, 404);
        assert_eq!(count("tenants").await, 1);
    });
}
