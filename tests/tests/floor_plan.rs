//! The floor plan is an automerge document the hub and the outlet both edit: head office
//! re-seats a table and adds one while the shop, cut off, renames an area, re-seats another
//! table and adds its own; once they meet, both hold the same plan with every one of those
//! edits, field by field. A table the hub removes while guests sit at it stays on the till's
//! floor until they leave.
#![allow(clippy::unwrap_used)]

use edge_node::store::{FloorTable, Store};
use kibanda_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

fn plan(tables: &Value) -> Vec<(String, String, u64)> {
    tables
        .as_array()
        .unwrap()
        .iter()
        .map(|table| {
            (
                table["code"].as_str().unwrap().to_owned(),
                table["area"].as_str().unwrap().to_owned(),
                table["seats"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn expect(tables: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    tables
        .iter()
        .map(|(code, area, seats)| ((*code).to_owned(), (*area).to_owned(), *seats))
        .collect()
}

#[test]
fn edits_made_apart_at_the_hub_and_the_shop_merge_field_by_field() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let (data, till) = enrolled_outlet(&driver, &pool, &hub, "acme", "nbo-cbd");
    let store_path = data.path().join(edge_node::config::STORE_FILE);
    let manager = {
        let store = Store::open(&store_path).unwrap();
        edge_node::services::staff::create_staff(&store, "Mama Njeri", "manager", "4321", 1)
            .unwrap()
    };
    let head_office = driver.block_on(dev_token(&pool, "acme", "manager"));
    let client = reqwest::Client::new();
    let hub_plan_url = hub.url("/v1/acme/pos/outlets/nbo-cbd/floor-plan");
    let hub_plan = || async {
        let (status, body) = hub_request(
            &client,
            reqwest::Method::GET,
            hub_plan_url.clone(),
            &head_office,
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        plan(&body["tables"])
    };

    // The shop lays out its floor; the hub learns it.
    let mut edge = RunningEdge::start(data.path(), &till);
    driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        let (status, _) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "4321"}),
            )
            .await;
        assert_eq!(status, 201);
        let response = client
            .put(edge.url("/v1/floor-plan"))
            .bearer_auth(&till)
            .json(&json!({"tables": [
                {"code": "T1", "area": "Patio", "seats": 4},
                {"code": "T2", "area": "Patio", "seats": 2},
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        eventually(
            Duration::from_secs(20),
            "the hub has the shop's plan",
            || async {
                (hub_plan().await == expect(&[("T1", "Patio", 4), ("T2", "Patio", 2)]))
                    .then_some(())
            },
        )
        .await;
    });
    edge.kill();

    // Apart: head office seats eight at T1 and adds T5 …
    driver.block_on(async {
        let (status, body) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub_plan_url.clone(),
            &head_office,
            Some(json!({"tables": [
                {"code": "T1", "area": "Patio", "seats": 8},
                {"code": "T2", "area": "Patio", "seats": 2},
                {"code": "T5", "area": "Bar", "seats": 2},
            ]})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["feed_through_seq"].as_u64().is_some(), "{body}");
        let (status, error) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub_plan_url.clone(),
            &head_office,
            Some(json!({"tables": [{"code": "T1", "area": "Patio", "seats": 0}]})),
            None,
        )
        .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["field"], "tables[0].seats");
    });
    // … while the shop, from its stale view, renames T1's area, seats six at T2 and adds T3.
    {
        let store = Store::open(&store_path).unwrap();
        let table = |code: &str, area: &str, seats: u32| FloorTable {
            code: code.into(),
            area: area.into(),
            seats,
        };
        store
            .replace_floor_plan(
                &[
                    table("T1", "Garden", 4),
                    table("T2", "Patio", 6),
                    table("T3", "Patio", 4),
                ],
                edge_node::now_ms(),
            )
            .unwrap()
            .unwrap();
    }

    // Together again: one plan, every edit kept.
    edge = RunningEdge::start(data.path(), &till);
    let merged = expect(&[
        ("T1", "Garden", 8),
        ("T2", "Patio", 6),
        ("T3", "Patio", 4),
        ("T5", "Bar", 2),
    ]);
    driver.block_on(async {
        let terminal = Terminal {
            client: &client,
            edge: &edge,
        };
        eventually(
            Duration::from_secs(30),
            "both sides hold the merged plan",
            || async {
                let (_, floor) = terminal.get("/v1/floor-plan").await;
                (plan(&floor) == merged && hub_plan().await == merged).then_some(())
            },
        )
        .await;

        // Guests sit at T3; head office removes T3 meanwhile. The hub's plan drops it, the
        // till keeps it on the floor while the bill is open.
        let (status, _) = terminal
            .post(
                "/v1/staff/sessions",
                json!({"staff_id": manager.id.to_string(), "pin": "4321"}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, seated) = terminal
            .post("/v1/tables/T3/orders", json!({"guests": 2}))
            .await;
        assert_eq!(status, 201, "{seated}");
        let (status, body) = hub_request(
            &client,
            reqwest::Method::PUT,
            hub_plan_url.clone(),
            &head_office,
            Some(json!({"tables": [
                {"code": "T1", "area": "Garden", "seats": 8},
                {"code": "T2", "area": "Patio", "seats": 6},
                {"code": "T5", "area": "Bar", "seats": 2},
            ]})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let floor = eventually(
            Duration::from_secs(20),
            "the removal reaches the till",
            || async {
                let (_, floor) = terminal.get("/v1/floor-plan").await;
                let codes: Vec<String> = plan(&floor).into_iter().map(|(code, ..)| code).collect();
                (codes == ["T1", "T2", "T5", "T3"]).then_some(floor)
            },
        )
        .await;
        let t3 = floor
            .as_array()
            .unwrap()
            .iter()
            .find(|table| table["code"] == "T3")
            .unwrap();
        assert_eq!(t3["status"], "seated", "{floor}");
    });
    drop(edge);
}
