//! The devices an outlet's edge serves on its LAN (terminals, KDS screens, kiosks, printers)
//! are listed at the hub as the edge's device ops report them: paired, renamed, disabled.
#![allow(clippy::unwrap_used)]

use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn the_hub_lists_an_outlets_lan_devices_as_the_edge_pairs_renames_and_disables_them() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "duka", "cbd");
    driver.block_on(tenant_with_outlet(&pool, "other", "elsewhere"));
    let store =
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap();
    let now = edge_node::now_ms();
    let manager =
        edge_node::services::staff::create_staff(&store, "Wanjiru", "manager", "9999", now)
            .unwrap();
    let (second, _) = edge_node::services::devices::pair(&store, "bar-till", now).unwrap();
    drop(store);
    let edge = RunningEdge::start(data.path(), &till);
    let client = reqwest::Client::new();
    let terminal = Terminal {
        client: &client,
        edge: &edge,
    };
    let jwt = driver.block_on(dev_token(&pool, "duka", "manager"));
    let stranger = driver.block_on(dev_token(&pool, "other", "admin"));
    let url = hub.url("/v1/duka/pos/outlets/cbd/devices");

    driver.block_on(async {
        let list = || async {
            let response = client.get(&url).bearer_auth(&jwt).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        };
        let devices = eventually(
            Duration::from_secs(20),
            "both tills reach the hub",
            || async {
                let devices = list().await;
                (devices.as_array().map_or(0, Vec::len) == 2).then_some(devices)
            },
        )
        .await;
        assert!(
            devices
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["state"] == "active" && d["kind"] == "terminal"),
            "{devices}"
        );

        // A manager renames and disables the bar till at the edge.
        let (status, session) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "9999"}),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        let response = client
            .patch(edge.url(&format!("/v1/devices/{}", second.id)))
            .bearer_auth(&edge.token)
            .json(&json!({"name": "Bar till (broken)", "disabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            204,
            "{:?}",
            response.text().await
        );
        let devices = eventually(
            Duration::from_secs(20),
            "the change reaches the hub",
            || async {
                let devices = list().await;
                devices
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["state"] == "disabled")
                    .then_some(devices)
            },
        )
        .await;
        let bar = devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == second.id.to_string())
            .unwrap();
        assert_eq!(
            (bar["name"].as_str(), bar["state"].as_str()),
            (Some("Bar till (broken)"), Some("disabled")),
            "{devices}"
        );
        // Another tenant sees none of it.
        let response = client
            .get(hub.url("/v1/other/pos/outlets/cbd/devices"))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404);
    });
}
