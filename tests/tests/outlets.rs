//! A tenant's back office registers an outlet under the business registry's identifier, issues
//! its edge box a one-time enrollment code over the API, and sees the box enrolled and talking
//! to the hub in the outlet list. Bad input names its field and changes nothing; fields money
//! and time depend on are fixed once registered; roles and tenants are kept apart.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn an_outlet_registered_over_the_api_gets_a_code_its_edge_enrolls_with() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let client = reqwest::Client::new();
    let (admin, manager, auditor, cashier, stranger) = driver.block_on(async {
        cloud_hub::services::admin::create_tenant(&pool, "acme", "Acme Cafes")
            .await
            .unwrap();
        cloud_hub::services::admin::create_tenant(&pool, "bravo", "Bravo Bars")
            .await
            .unwrap();
        (
            dev_token(&pool, "acme", "admin").await,
            dev_token(&pool, "acme", "manager").await,
            dev_token(&pool, "acme", "auditor").await,
            dev_token(&pool, "acme", "cashier").await,
            dev_token(&pool, "bravo", "admin").await,
        )
    });
    let call = |method: Method, path: &str, token: &str, body: Option<Value>, key: Option<&str>| {
        driver.block_on(hub_request(
            &client,
            method,
            hub.url(path),
            token,
            body,
            key,
        ))
    };
    let count = |sql: &str| -> i64 {
        driver
            .block_on(
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&pool),
            )
            .unwrap()
    };
    let westlands = json!({"name": "Westlands", "timezone": "Africa/Nairobi", "currency": "KES"});

    // Registered: 201 with the record; the same registration again is a 200 and no second row.
    let (status, outlet) = call(
        Method::PUT,
        "/v1/acme/pos/outlets/nbo-west",
        &admin,
        Some(westlands.clone()),
        None,
    );
    assert_eq!(status, 201, "{outlet}");
    assert_eq!(
        (
            &outlet["code"],
            &outlet["name"],
            &outlet["timezone"],
            &outlet["currency"],
            &outlet["edge_devices"]
        ),
        (
            &json!("nbo-west"),
            &json!("Westlands"),
            &json!("Africa/Nairobi"),
            &json!("KES"),
            &json!(0)
        )
    );
    assert!(outlet["last_seen_at"].is_null(), "{outlet}");
    let (status, again) = call(
        Method::PUT,
        "/v1/acme/pos/outlets/nbo-west",
        &admin,
        Some(westlands.clone()),
        None,
    );
    assert_eq!(
        (status, &again["name"]),
        (200, &json!("Westlands")),
        "{again}"
    );
    // Renamed.
    let renamed =
        json!({"name": "Westlands Mall", "timezone": "Africa/Nairobi", "currency": "KES"});
    let (status, again) = call(
        Method::PUT,
        "/v1/acme/pos/outlets/nbo-west",
        &admin,
        Some(renamed),
        None,
    );
    assert_eq!(
        (status, &again["name"]),
        (200, &json!("Westlands Mall")),
        "{again}"
    );

    // What cannot change, and bad input: each names its field and changes nothing.
    let before = count("SELECT count(*) FROM outlets");
    for (path, body, status, code, field) in [
        (
            "/v1/acme/pos/outlets/nbo-west",
            json!({"name": "W", "timezone": "Africa/Nairobi", "currency": "UGX"}),
            409,
            "outlet_field_fixed",
            Some("currency"),
        ),
        (
            "/v1/acme/pos/outlets/nbo-west",
            json!({"name": "W", "timezone": "Africa/Kampala", "currency": "KES"}),
            409,
            "outlet_field_fixed",
            Some("timezone"),
        ),
        (
            "/v1/acme/pos/outlets/NBO%20West",
            westlands.clone(),
            400,
            "invalid_parameter",
            Some("outlet"),
        ),
        (
            "/v1/acme/pos/outlets/nbo-east",
            json!({"name": "", "timezone": "Africa/Nairobi", "currency": "KES"}),
            400,
            "invalid_parameter",
            Some("name"),
        ),
        (
            "/v1/acme/pos/outlets/nbo-east",
            json!({"name": "East", "timezone": "nairobi", "currency": "KES"}),
            400,
            "invalid_parameter",
            Some("timezone"),
        ),
        (
            "/v1/acme/pos/outlets/nbo-east",
            json!({"name": "East", "timezone": "Africa/Nairobi", "currency": "shillings"}),
            400,
            "invalid_parameter",
            Some("currency"),
        ),
        (
            "/v1/acme/pos/outlets/nbo-east",
            json!({"name": "East", "timezone": "Africa/Nairobi", "currency": "KES", "owner": "x"}),
            400,
            "invalid_body",
            None,
        ),
    ] {
        let (got, error) = call(Method::PUT, path, &admin, Some(body), None);
        assert_eq!(
            (got, error["code"].as_str(), error["field"].as_str()),
            (status, Some(code), field),
            "{path}: {error}"
        );
    }
    assert_eq!(count("SELECT count(*) FROM outlets"), before);
    let (_, still) = call(
        Method::GET,
        "/v1/acme/pos/outlets/nbo-west",
        &auditor,
        None,
        None,
    );
    assert_eq!(
        (&still["name"], &still["currency"]),
        (&json!("Westlands Mall"), &json!("KES")),
        "{still}"
    );

    // Roles: only admins (and the registry, as a service) register; managers issue codes;
    // auditors read; a cashier's token does none of it. Another tenant's token finds nothing.
    assert_eq!(
        call(
            Method::PUT,
            "/v1/acme/pos/outlets/nbo-east",
            &manager,
            Some(westlands.clone()),
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(Method::GET, "/v1/acme/pos/outlets", &cashier, None, None).0,
        403
    );
    assert_eq!(
        call(
            Method::POST,
            "/v1/acme/pos/outlets/nbo-west/enrollment-codes",
            &auditor,
            None,
            None
        )
        .0,
        403
    );
    assert_eq!(
        call(
            Method::PUT,
            "/v1/acme/pos/outlets/nbo-east",
            &stranger,
            Some(westlands.clone()),
            None
        )
        .0,
        404
    );
    assert_eq!(
        call(
            Method::GET,
            "/v1/acme/pos/outlets/nbo-west",
            &stranger,
            None,
            None
        )
        .0,
        404
    );
    assert_eq!(
        call(
            Method::POST,
            "/v1/bravo/pos/outlets/nbo-west/enrollment-codes",
            &stranger,
            None,
            None
        )
        .0,
        404
    );
    let (status, bravo_list) = call(Method::GET, "/v1/bravo/pos/outlets", &stranger, None, None);
    assert_eq!((status, bravo_list), (200, json!([])));
    assert_eq!(count("SELECT count(*) FROM outlets"), before);

    // Enrollment codes: a lifetime out of range is refused; one for an outlet the hub does not
    // know is not found; neither stores a code.
    for ttl in [0, 1_441, -5] {
        let (status, error) = call(
            Method::POST,
            "/v1/acme/pos/outlets/nbo-west/enrollment-codes",
            &manager,
            Some(json!({"ttl_minutes": ttl})),
            None,
        );
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some("ttl_minutes")),
            "{error}"
        );
    }
    assert_eq!(
        call(
            Method::POST,
            "/v1/acme/pos/outlets/nowhere/enrollment-codes",
            &manager,
            None,
            None
        )
        .0,
        404
    );
    assert_eq!(count("SELECT count(*) FROM enrollment_codes"), 0);

    // Issued under an Idempotency-Key: a retry gets the same code, not a second one.
    let path = "/v1/acme/pos/outlets/nbo-west/enrollment-codes";
    let body = Some(json!({"ttl_minutes": 120}));
    let (status, issued) = call(Method::POST, path, &manager, body.clone(), Some("box-1"));
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["outlet"], "nbo-west");
    let (status, retried) = call(Method::POST, path, &manager, body, Some("box-1"));
    assert_eq!((status, &retried), (201, &issued));
    let (status, _) = call(
        Method::POST,
        path,
        &manager,
        Some(json!({"ttl_minutes": 60})),
        Some("box-1"),
    );
    assert_eq!(status, 409, "the same key with another body");
    assert_eq!(count("SELECT count(*) FROM enrollment_codes"), 1);
    let expires_at = time::OffsetDateTime::parse(
        issued["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let minutes_left = (expires_at - time::OffsetDateTime::now_utc()).whole_minutes();
    assert!((118..=120).contains(&minutes_left), "{issued}");
    // Without a body: the default lifetime.
    let (status, default) = call(Method::POST, path, &admin, None, None);
    assert_eq!(status, 201, "{default}");
    assert_ne!(default["code"], issued["code"]);

    // The store manager types the code on the edge box: it enrolls once, for this outlet.
    let code = issued["code"].as_str().unwrap().to_owned();
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap(),
    );
    let enrolled = driver
        .block_on(edge_node::enroll::enroll(
            store,
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    assert_eq!(enrolled.outlet_code, "nbo-west");
    let other = tempfile::tempdir().unwrap();
    let other_store = Arc::new(
        edge_node::store::Store::open(&other.path().join(edge_node::config::STORE_FILE)).unwrap(),
    );
    assert!(
        driver
            .block_on(edge_node::enroll::enroll(
                other_store,
                &hub.quic.to_string(),
                &code
            ))
            .is_err(),
        "a code works once"
    );

    // Running, the box shows in the list as the outlet's edge, seen by the hub.
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    let listed = driver.block_on(eventually(
        Duration::from_secs(30),
        "the edge seen by the hub",
        || {
            let client = client.clone();
            let url = hub.url("/v1/acme/pos/outlets");
            let auditor = auditor.clone();
            async move {
                let (_, list) = hub_request(&client, Method::GET, url, &auditor, None, None).await;
                (!list[0]["last_seen_at"].is_null()).then_some(list)
            }
        },
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (&listed[0]["code"], &listed[0]["edge_devices"]),
        (&json!("nbo-west"), &json!(1)),
        "{listed}"
    );
    edge.kill();
    hub.kill();
}
