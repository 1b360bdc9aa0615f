//! The provider registry: a tenant's integration settings and secrets. Secrets are sealed with
//! the hub's master key before they reach PostgreSQL (the plaintext is nowhere in the
//! database), are redacted on every read, can be replaced (rotation), and survive a master-key
//! rotation: restarted with a new key and the old one as previous, the hub re-wraps them, and
//! afterwards opens them with the new key alone.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use cloud_hub::envelope::MasterKeys;
use cloud_hub::store::TenantId;
use kibanda_tests::*;
use serde_json::{Value, json};

fn key(id: &str, byte: u8) -> String {
    format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    )
}

#[test]
fn provider_secrets_are_sealed_redacted_rotatable_and_tenant_bound() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let k1 = MasterKeys::parse(Some(&key("k1", 1)), None).unwrap();
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.master_keys = k1.clone();
    });
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let client = reqwest::Client::new();
    let tenant: TenantId = driver.block_on(async {
        tenant_with_outlet(&pool, "duka", "main").await;
        tenant_with_outlet(&pool, "jirani", "main").await;
        cloud_hub::store::tenants::tenant_by_slug(&pool, "duka")
            .await
            .unwrap()
            .unwrap()
            .id
    });
    let admin = driver.block_on(dev_token(&pool, "duka", "admin"));
    let cashier_service = driver.block_on(dev_token(&pool, "duka", "analyst"));
    let neighbour = driver.block_on(dev_token(&pool, "jirani", "admin"));
    let call = |hub: &RunningHub,
                method: reqwest::Method,
                path: &str,
                token: &str,
                body: Option<Value>| {
        let request = client.request(method, hub.url(path)).bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let config_path = "/v1/duka/integrations/providers/mpesa-daraja/config";

    driver.block_on(async {
        let body = json!({"kind": "payment_gateway", "settings": {"shortcode": "174379", "environment": "sandbox"},
            "secrets": {"consumer_key": "ck_live_SECRET_ONE", "consumer_secret": "cs_live_SECRET_TWO"}});
        let (status, stored) = call(&hub, reqwest::Method::PUT, config_path, &admin, Some(body.clone())).await;
        assert_eq!(status, 200, "{stored}");
        assert_eq!(stored["secrets"], json!({"consumer_key": "[redacted]", "consumer_secret": "[redacted]"}));
        assert_eq!(stored["settings"]["shortcode"], "174379");
        assert_eq!(stored["key_id"], "k1");
        let (_, read) = call(&hub, reqwest::Method::GET, config_path, &admin, None).await;
        assert!(!read.to_string().contains("SECRET"), "{read}");
        let (_, listed) = call(&hub, reqwest::Method::GET, "/v1/duka/integrations/providers", &admin, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert!(!listed.to_string().contains("SECRET"));

        // Bad input is refused by field; an analyst may not read; a neighbour sees nothing.
        for (bad, field) in [
            (json!({"kind": "magic"}), "kind"),
            (json!({"kind": "fiscal", "settings": [1, 2]}), "settings"),
            (json!({"kind": "fiscal", "secrets": {"Bad Name": "x"}}), "secrets"),
            (json!({"kind": "fiscal", "secrets": {"token": ""}}), "secrets"),
        ] {
            let (status, error) = call(&hub, reqwest::Method::PUT, "/v1/duka/integrations/providers/kra-etims/config", &admin, Some(bad)).await;
            assert_eq!((status, error["field"].as_str()), (400, Some(field)), "{error}");
        }
        let (status, _) = call(&hub, reqwest::Method::GET, config_path, &cashier_service, None).await;
        assert_eq!(status, 403);
        let (status, _) = call(&hub, reqwest::Method::GET, config_path, &neighbour, None).await;
        assert_eq!(status, 404);
        let (status, empty) = call(&hub, reqwest::Method::GET, "/v1/jirani/integrations/providers", &neighbour, None).await;
        assert_eq!((status, empty.as_array().map(Vec::len)), (200, Some(0)));

        // Nowhere in the database in clear.
        let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, '') FROM integration_providers t")
            .fetch_one(&pool).await.unwrap();
        assert!(!dump.contains("SECRET_ONE") && !dump.contains(&hex("SECRET_ONE")), "{dump}");
        // The hub itself opens them (for its calls to the provider).
        let mut conn = pool.acquire().await.unwrap();
        let secrets = cloud_hub::store::providers::secrets(&mut conn, &k1, tenant, "mpesa-daraja").await.unwrap().unwrap();
        assert_eq!(secrets["consumer_key"], "ck_live_SECRET_ONE");

        // A settings-only change keeps the secrets; sending secrets replaces them.
        let (_, kept) = call(&hub, reqwest::Method::PUT, config_path, &admin,
            Some(json!({"kind": "payment_gateway", "settings": {"shortcode": "600000"}}))).await;
        assert_eq!((kept["version"].as_i64(), kept["secrets"].as_object().map(|s| s.len())), (Some(2), Some(2)));
        let (_, rotated) = call(&hub, reqwest::Method::PUT, config_path, &admin,
            Some(json!({"kind": "payment_gateway", "settings": {"shortcode": "600000"}, "secrets": {"consumer_key": "ck_live_ROTATED"}}))).await;
        assert_eq!(rotated["secrets"], json!({"consumer_key": "[redacted]"}));
        let secrets = cloud_hub::store::providers::secrets(&mut conn, &k1, tenant, "mpesa-daraja").await.unwrap().unwrap();
        assert_eq!(secrets.get("consumer_key").map(String::as_str), Some("ck_live_ROTATED"));
        assert!(!secrets.contains_key("consumer_secret"));
        // Copied into another tenant's row, the sealed secret does not open.
        let jirani = cloud_hub::store::tenants::tenant_by_slug(&pool, "jirani").await.unwrap().unwrap().id;
        sqlx::query("INSERT INTO integration_providers (tenant_id, provider, kind, secret_names, key_id, wrapped_key, secrets)
                     SELECT $1, provider, kind, secret_names, key_id, wrapped_key, secrets FROM integration_providers WHERE tenant_id = $2")
            .bind(jirani.0).bind(tenant.0).execute(&pool).await.unwrap();
        assert!(cloud_hub::store::providers::secrets(&mut conn, &k1, jirani, "mpesa-daraja").await.is_err());
        sqlx::query("DELETE FROM integration_providers WHERE tenant_id = $1").bind(jirani.0).execute(&pool).await.unwrap();
    });

    // Master-key rotation: k2 current, k1 previous; the hub re-wraps at start.
    hub.kill();
    let both = MasterKeys::parse(Some(&key("k2", 2)), Some(&key("k1", 1))).unwrap();
    let hub = RunningHub::start_tuned(&db.url, "127.0.0.1:0".parse().unwrap(), |config| {
        config.master_keys = both.clone();
    });
    driver.block_on(async {
        let (_, read) = call(&hub, reqwest::Method::GET, config_path, &admin, None).await;
        assert_eq!(read["key_id"], "k2", "{read}");
    });
    hub.kill();
    let k2 = MasterKeys::parse(Some(&key("k2", 2)), None).unwrap();
    driver.block_on(async {
        let mut conn = pool.acquire().await.unwrap();
        let secrets = cloud_hub::store::providers::secrets(&mut conn, &k2, tenant, "mpesa-daraja")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            secrets["consumer_key"], "ck_live_ROTATED",
            "k2 alone opens it after the rotation"
        );
        assert!(
            cloud_hub::store::providers::secrets(&mut conn, &k1, tenant, "mpesa-daraja")
                .await
                .is_err(),
            "k1 no longer does"
        );
    });
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
