//! The hub API's bearer auth against a real JWKS served over HTTP on loopback.
#![allow(clippy::unwrap_used)]

use axum::routing::get;
use base64::Engine;
use cloud_hub::config::AuthConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "kibanda-pos";

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

fn signing_key(kid: &str) -> SigningKey {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = key.public_key_raw();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    SigningKey {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap(),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65]),
                    "kid": kid, "alg": "ES256", "use": "sig"}),
    }
}

fn token(key: &SigningKey, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    encode(&header, &claims, &key.encoding).unwrap()
}

fn claims(tenant: &str, roles: &[&str]) -> Value {
    let now = edge_node::now_ms() / 1000;
    json!({"sub": "svc-analytics", "tenant": tenant, "roles": roles, "iss": ISSUER, "aud": AUDIENCE,
           "iat": now, "nbf": now, "exp": now + 600})
}

#[test]
fn tokens_are_checked_against_the_auth_services_jwks() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let first = signing_key("k1");
    let second = signing_key("k2");
    let published = Arc::new(Mutex::new(json!({"keys": [first.jwk.clone()]})));
    let jwks_addr = driver.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = published.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let served = served.clone();
                async move { axum::Json(served.lock().unwrap().clone()) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let hub = RunningHub::start_with(
        &db.url,
        "127.0.0.1:0".parse().unwrap(),
        AuthConfig {
            jwks_url: Some(format!("http://{jwks_addr}/.well-known/jwks.json")),
            issuer: Some(ISSUER.to_owned()),
            audience: AUDIENCE.to_owned(),
            allow_dev_tokens: false,
            jwks_refresh_min_secs: 0,
        },
    );
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        tenant_with_outlet(&pool, "acme", "nbo-cbd").await;
        tenant_with_outlet(&pool, "bravo", "msa-1").await;
        let client = reqwest::Client::new();
        let status = |token: String, tenant: &'static str| {
            let client = client.clone();
            let url = hub.url(&format!("/v1/{tenant}/pos/orders"));
            async move {
                let response = client.get(url).bearer_auth(token).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (status, body)
            }
        };
        let now = edge_node::now_ms() / 1000;

        assert_eq!(
            status(token(&first, claims("acme", &["analyst"])), "acme")
                .await
                .0,
            200
        );
        let mut wrong_audience = claims("acme", &["analyst"]);
        wrong_audience["aud"] = json!("someone-else");
        let mut wrong_issuer = claims("acme", &["analyst"]);
        wrong_issuer["iss"] = json!("https://evil.example");
        let mut expired = claims("acme", &["analyst"]);
        expired["exp"] = json!(now - 3600);
        let mut not_yet = claims("acme", &["analyst"]);
        not_yet["nbf"] = json!(now + 3600);
        let mut dev_claim = claims("acme", &["analyst"]);
        dev_claim["dev"] = json!(true);
        for bad in [wrong_audience, wrong_issuer, expired, not_yet, dev_claim] {
            let (code, body) = status(token(&first, bad.clone()), "acme").await;
            assert_eq!(code, 401, "{bad}");
            assert_eq!(body["code"], "unauthorized");
        }
        let unknown = signing_key("k-unknown");
        assert_eq!(
            status(token(&unknown, claims("acme", &["analyst"])), "acme")
                .await
                .0,
            401
        );
        // Another tenant's path is simply not there for this token.
        assert_eq!(
            status(token(&first, claims("acme", &["analyst"])), "bravo")
                .await
                .0,
            404
        );
        // A role without the permission.
        assert_eq!(
            status(token(&first, claims("acme", &["cashier"])), "acme")
                .await
                .0,
            403
        );
        // Dev tokens are refused when turned off.
        let dev = dev_token(&pool, "acme", "manager").await;
        assert_eq!(status(dev, "acme").await.0, 401);
        // No token at all.
        let response = client
            .get(hub.url("/v1/acme/pos/orders"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");

        // Key rotation: the auth service publishes a new key and signs with it.
        assert_eq!(
            status(token(&second, claims("acme", &["analyst"])), "acme")
                .await
                .0,
            401
        );
        *published.lock().unwrap() = json!({"keys": [first.jwk.clone(), second.jwk.clone()]});
        assert_eq!(
            status(token(&second, claims("acme", &["analyst"])), "acme")
                .await
                .0,
            200
        );
        pool.close().await;
    });
    hub.kill();
}

#[test]
fn health_readiness_metrics_and_openapi_are_served() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    driver.block_on(async {
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(hub.url(path)).send();
        assert_eq!(get("/healthz").await.unwrap().status().as_u16(), 200);
        let ready: Value = get("/readyz").await.unwrap().json().await.unwrap();
        assert_eq!(ready["status"], "ready");
        let doc: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(doc["paths"]["/v1/{tenant}/pos/orders"]["get"].is_object());
        let metrics = get("/metrics").await.unwrap().text().await.unwrap();
        assert!(metrics.contains("kibanda_http_requests_total"), "{metrics}");
        let missing = get("/v1/acme/pos/nothing").await.unwrap();
        assert_eq!(missing.status().as_u16(), 404);
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
    });
    hub.kill();
}
