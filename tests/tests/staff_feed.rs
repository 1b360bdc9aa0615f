//! Staff managed at the hub reach the outlet: a PIN set at the hub (kept only as an argon2id
//! hash) opens a session at the edge, and a forced logout at the hub ends it.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use kibanda_tests::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_pin_set_at_the_hub_signs_in_at_the_edge_and_a_hub_logout_ends_the_session() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    driver.block_on(tenant_with_outlet(&pool, "bravo", "msa-1"));
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap());
    driver
        .block_on(edge_node::enroll::enroll(
            store.clone(),
            &hub.quic.to_string(),
            &code,
        ))
        .unwrap();
    drop(store);
    let token = pair_terminal(data.path());
    let edge = RunningEdge::start(data.path(), &token);
    driver.block_on(async {
        let http = reqwest::Client::new();
        let manager = dev_token(&pool, "acme", "manager").await;
        let stranger = dev_token(&pool, "bravo", "admin").await;
        let staff_url = hub.url("/v1/acme/pos/outlets/nbo-cbd/staff");
        let staff_id = uuid::Uuid::now_v7().to_string();
        let put = |body: Value, jwt: &str| http.put(&staff_url).bearer_auth(jwt).json(&body).send();

        let wanjiru = json!({"staff": [{"id": staff_id, "name": "Wanjiru", "role": "manager", "pin": "2468"}]});
        let response = put(wanjiru.clone(), &manager).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["changed"], 1);
        // The same list again changes nothing (the stored hash still matches the PIN).
        let result: Value = put(wanjiru.clone(), &manager).await.unwrap().json().await.unwrap();
        assert_eq!(result["changed"], 0);
        for (bad, field) in [
            (json!({"staff": [{"id": staff_id, "name": "X", "role": "boss", "pin": "2468"}]}), "staff[0].role"),
            (json!({"staff": [{"id": staff_id, "name": "X", "role": "cashier", "pin": "12"}]}), "staff[0].pin"),
            (json!({"staff": [{"id": staff_id, "name": "X", "role": "cashier", "pin_hash": "plain"}]}), "staff[0].pin_hash"),
            (json!({"staff": [{"id": "nope", "name": "X", "role": "cashier", "pin": "1234"}]}), "staff[0].id"),
        ] {
            let response = put(bad, &manager).await.unwrap();
            assert_eq!(response.status().as_u16(), 400);
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["field"], field);
        }
        assert_eq!(put(wanjiru.clone(), &stranger).await.unwrap().status().as_u16(), 404);
        let listed = http.get(&staff_url).bearer_auth(&manager).send().await.unwrap().text().await.unwrap();
        assert!(listed.contains("Wanjiru") && !listed.contains("argon2"), "no hash is ever read back: {listed}");

        // The edge learns the staff member over the feed and accepts the PIN.
        let sign_in = || {
            http.post(edge.url("/v1/staff/sessions"))
                .bearer_auth(&edge.token)
                .json(&json!({"staff_id": staff_id, "pin": "2468"}))
                .send()
        };
        eventually(Duration::from_secs(30), "the hub's staff at the edge", || async {
            (sign_in().await.unwrap().status().as_u16() == 201).then_some(())
        })
        .await;
        let current = || http.get(edge.url("/v1/staff/sessions/current")).bearer_auth(&edge.token).send();
        assert_eq!(current().await.unwrap().status().as_u16(), 200);
        // The hub sees who is signed in where.
        let sessions_url = hub.url("/v1/acme/pos/outlets/nbo-cbd/staff-sessions");
        let sessions = |active: bool| {
            let url = if active { format!("{sessions_url}?active=true") } else { sessions_url.clone() };
            let manager = manager.clone();
            let http = http.clone();
            async move {
                let response = http.get(url).bearer_auth(&manager).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.json::<Value>().await.unwrap()
            }
        };
        let active = eventually(Duration::from_secs(30), "the session at the hub", || async {
            let active = sessions(true).await;
            (active.as_array().unwrap().len() == 1).then_some(active)
        })
        .await;
        assert_eq!(active[0]["staff_id"], staff_id.to_string());
        assert_eq!(active[0]["staff_name"], "Wanjiru");
        assert!(active[0]["started_at_ms"].as_i64().is_some() && active[0]["ended_at_ms"].is_null(), "{active}");
        let response = http.get(hub.url("/v1/acme/pos/outlets/nbo-cbd/staff-sessions")).bearer_auth(&stranger).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "another tenant sees nothing");

        // A forced logout at the hub ends the session at the edge.
        let logout = hub.url(&format!("/v1/acme/pos/outlets/nbo-cbd/staff/{staff_id}/logout"));
        let response = http.post(&logout).bearer_auth(&manager).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 202);
        eventually(Duration::from_secs(30), "the forced logout at the edge", || async {
            (current().await.unwrap().status().as_u16() == 401).then_some(())
        })
        .await;
        // One read decides and is checked (two reads could straddle the session's end).
        let ended = eventually(Duration::from_secs(30), "the ended session at the hub", || async {
            let all = sessions(false).await;
            (!all[0]["ended_at_ms"].is_null()).then_some(all)
        })
        .await;
        assert_eq!(ended[0]["end_reason"], "forced_by_hub", "{ended}");
        assert!(sessions(true).await.as_array().unwrap().is_empty());
        pool.close().await;
    });
    edge.kill();
    hub.kill();
}
