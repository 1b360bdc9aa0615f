//! Device pairing with short codes and the manager's device list, through the real router and a
//! real SQLite store. Every change to the device list is an op for the hub.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use edge_node::services::devices::{PAIRING_CODE_TTL_MS, PAIRING_FAILURES_MAX, register};
use serde_json::{Value, json};
use sync_protocol::op::{DeviceEventV1, DeviceKindV1, OpBody};

async fn signed_in_manager(edge: &TestEdge) {
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    edge.sign_in(&manager).await;
}

async fn pairing_code(edge: &TestEdge, kind: &str) -> Value {
    let (status, code) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": kind})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    code
}

async fn register_with(edge: &TestEdge, code: &str, name: &str) -> (StatusCode, Value) {
    // Registration is the one route called without a token; the token here is ignored.
    edge.call_as(
        "none",
        "POST",
        "/v1/devices/register",
        Some(json!({"code": code, "name": name})),
    )
    .await
}

#[tokio::test]
async fn a_kds_registers_with_a_managers_pairing_code_and_gets_a_working_token() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let code = pairing_code(&edge, "kds").await;
    let code = code["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));

    let seq = edge.last_seq();
    let (status, device) = register_with(&edge, &code, "kds-grill").await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["kind"], "kds");
    let token = device["token"].as_str().unwrap();
    let (status, _) = edge
        .call_as(token, "GET", "/v1/kitchen/tickets", None)
        .await;
    assert_eq!(status, StatusCode::OK, "the new token works");
    assert!(matches!(
        &edge.op_bodies_after(seq)[0],
        OpBody::Device(DeviceEventV1::Registered { name, kind: DeviceKindV1::Kds, .. }) if name == "kds-grill"
    ));

    let (status, error) = register_with(&edge, &code, "kds-fryer").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code is single use");
    assert_eq!(error["code"], "invalid_pairing_code");
}

#[tokio::test]
async fn a_pairing_code_expires_after_five_minutes() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let code = pairing_code(&edge, "terminal").await;
    let expires_at_ms = code["expires_at_ms"].as_i64().unwrap();
    let code = code["code"].as_str().unwrap().to_owned();
    let late = register(
        edge.store.clone(),
        code.clone(),
        "till-9".into(),
        expires_at_ms,
    )
    .await;
    assert!(late.is_err(), "at its expiry instant the code is dead");
    let now = expires_at_ms - PAIRING_CODE_TTL_MS;
    let (device, _) = register(edge.store.clone(), code, "till-9".into(), now + 1)
        .await
        .unwrap();
    assert_eq!(device.name, "till-9");
}

#[tokio::test]
async fn repeated_wrong_codes_revoke_every_open_code() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let code = pairing_code(&edge, "kiosk").await;
    let code = code["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..PAIRING_FAILURES_MAX {
        let (status, _) = register_with(&edge, wrong, "guesser").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = register_with(&edge, &code, "kiosk-1").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the real code was revoked too"
    );
}

#[tokio::test]
async fn only_a_signed_in_manager_starts_pairing_or_sees_the_device_list() {
    let edge = edge();
    let (status, error) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "kds"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "staff_sign_in_required");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    edge.sign_in(&supervisor).await;
    let (status, error) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "kds"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "override_required");
    let (status, _) = edge.call("GET", "/v1/devices", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_manager_renames_disables_enables_and_removes_a_device() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let other = edge.pair("till-2");
    let (_, devices) = edge.call("GET", "/v1/devices", None).await;
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let id = devices
        .iter()
        .find(|device| device["name"] == "till-2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/devices/{id}");
    let seq = edge.last_seq();

    let (status, error) = edge.call("PATCH", &path, Some(json!({"name": ""}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "name");
    assert_eq!(edge.last_seq(), seq, "a bad name changes nothing");

    let (status, _) = edge
        .call(
            "PATCH",
            &path,
            Some(json!({"name": "bar till", "disabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = edge.call_as(&other, "GET", "/v1/catalog/items", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a disabled device is locked out"
    );
    let (status, _) = edge
        .call("PATCH", &path, Some(json!({"disabled": false})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = edge.call_as(&other, "GET", "/v1/catalog/items", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = edge.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = edge.call_as(&other, "GET", "/v1/catalog/items", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, error) = edge.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "device_not_found");

    let ops = edge.op_bodies_after(seq);
    assert!(
        matches!(&ops[0], OpBody::Device(DeviceEventV1::Renamed { name, .. }) if name == "bar till")
    );
    assert!(matches!(
        ops[1],
        OpBody::Device(DeviceEventV1::Disabled { .. })
    ));
    assert!(matches!(
        ops[2],
        OpBody::Device(DeviceEventV1::Enabled { .. })
    ));
    assert!(matches!(
        ops[3],
        OpBody::Device(DeviceEventV1::Removed { .. })
    ));
    let (_, devices) = edge.call("GET", "/v1/devices", None).await;
    assert_eq!(devices.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_registration_input_gets_a_structured_error() {
    let edge = edge();
    let (status, error) = register_with(&edge, "123456", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "name");
    signed_in_manager(&edge).await;
    let (status, error) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "toaster"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "kind");
}

#[tokio::test]
async fn at_most_five_pairing_codes_are_open_at_once() {
    let edge = edge();
    signed_in_manager(&edge).await;
    for _ in 0..edge_node::services::devices::PAIRING_CODES_OPEN_MAX {
        pairing_code(&edge, "terminal").await;
    }
    let (status, error) = edge
        .call(
            "POST",
            "/v1/devices/pairing-codes",
            Some(json!({"kind": "terminal"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "too_many_pairing_codes");
}

#[tokio::test]
async fn the_openapi_document_describes_every_new_lan_route() {
    let edge = edge();
    let (status, doc) = edge.call_as("none", "GET", "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/staff",
        "/v1/staff/sessions",
        "/v1/staff/sessions/current",
        "/v1/staff/sessions/current/heartbeat",
        "/v1/staff/sessions/{id}",
        "/v1/audit",
        "/v1/drawer/no-sale",
        "/v1/devices",
        "/v1/devices/pairing-codes",
        "/v1/devices/register",
        "/v1/devices/{id}",
        "/v1/orders/{id}/send",
        "/v1/kitchen/routes",
        "/v1/kitchen/tickets",
        "/v1/kitchen/tickets/{id}/actions",
        "/v1/kitchen/all-day",
        "/v1/kitchen/stations",
        "/v1/kitchen/stations/{station}/limit",
        "/v1/stream",
        "/v1/printers",
        "/v1/print-jobs",
        "/v1/settings/receipt-template",
        "/v1/orders/{id}/receipt/print",
        "/v1/floor-plan",
        "/v1/tables/{code}/orders",
        "/v1/orders/{id}/transfer",
        "/v1/tabs",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(
        doc["paths"]["/v1/orders"]["get"].is_object(),
        "order recall is documented"
    );
}
