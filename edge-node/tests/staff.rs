//! Staff sign-in, sessions and the high-risk actions the edge exposes, through the real router
//! and a real SQLite store: each high-risk action is refused without the permission, allowed by
//! a permitted role or a supervisor's override PIN in the same request, and audited with an op.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{Staff, TestEdge, edge, edge_with};
use serde_json::{Value, json};
use sync_protocol::op::{AuditActionV1, OpBody, StaffEventV1};

fn audits(edge: &TestEdge, after_seq: u64) -> Vec<sync_protocol::op::AuditEventV1> {
    edge.op_bodies_after(after_seq)
        .into_iter()
        .filter_map(|body| match body {
            OpBody::Audit(audit) => Some(audit),
            _ => None,
        })
        .collect()
}

fn uuid_bytes(id: &str) -> [u8; 16] {
    *uuid::Uuid::parse_str(id).unwrap().as_bytes()
}

async fn sent_order(edge: &TestEdge) -> String {
    let id = edge.order_with("sku-samosa").await;
    let (status, _) = edge
        .call("POST", &format!("/v1/orders/{id}/send"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    id
}

#[tokio::test]
async fn a_staff_member_signs_in_with_their_pin_and_out_again() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let (status, list) = edge.call("GET", "/v1/staff", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["name"], "Achieng");
    assert!(
        list[0].get("pin_hash").is_none(),
        "hashes never leave the edge on the LAN"
    );

    let seq = edge.last_seq();
    let session = edge.sign_in(&cashier).await;
    assert_eq!(session["role"], "cashier");
    let (status, current) = edge.call("GET", "/v1/staff/sessions/current", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["id"], session["id"]);
    let (status, _) = edge
        .call("POST", "/v1/staff/sessions/current/heartbeat", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = edge
        .call("DELETE", "/v1/staff/sessions/current", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = edge.call("GET", "/v1/staff/sessions/current", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "staff_sign_in_required");

    let ops = edge.op_bodies_after(seq);
    assert!(matches!(
        ops[0],
        OpBody::Staff(StaffEventV1::SignedIn { .. })
    ));
    assert!(matches!(
        &ops[1],
        OpBody::Staff(StaffEventV1::SignedOut { reason, .. }) if reason == "sign_out"
    ));
}

#[tokio::test]
async fn a_wrong_pin_is_refused_and_five_lock_the_staff_member_out() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let seq = edge.last_seq();
    for _ in 0..edge_node::services::staff::PIN_ATTEMPTS_MAX {
        let (status, body) = edge
            .call(
                "POST",
                "/v1/staff/sessions",
                Some(json!({"staff_id": cashier.id, "pin": "9999"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "invalid_pin");
        assert_eq!(body["field"], "pin");
    }
    let (status, body) = edge
        .call(
            "POST",
            "/v1/staff/sessions",
            Some(json!({"staff_id": cashier.id, "pin": "1234"})),
        )
        .await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert_eq!(body["code"], "staff_locked");
    assert_eq!(edge.last_seq(), seq, "refused sign-ins write no op");
}

#[tokio::test]
async fn signing_in_on_a_busy_terminal_replaces_the_previous_session() {
    let edge = edge();
    let first = edge.add_staff("Achieng", "cashier", "1234");
    let second = edge.add_staff("Baraka", "server", "5678");
    let seq = edge.last_seq();
    edge.sign_in(&first).await;
    edge.sign_in(&second).await;
    let (_, current) = edge.call("GET", "/v1/staff/sessions/current", None).await;
    assert_eq!(current["staff_name"], "Baraka");
    assert!(edge.op_bodies_after(seq).iter().any(|body| matches!(
        body,
        OpBody::Staff(StaffEventV1::SignedOut { reason, .. }) if reason == "replaced"
    )));
}

#[tokio::test]
async fn an_idle_session_is_signed_out_on_the_next_request() {
    // A negative timeout makes every session idle at once: no clock games, no sleeps.
    let edge = edge_with(|state| state.staff_idle_timeout_ms = -1);
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let seq = edge.last_seq();
    edge.sign_in(&cashier).await;
    let (status, _) = edge.call("GET", "/v1/staff/sessions/current", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(edge.op_bodies_after(seq).iter().any(|body| matches!(
        body,
        OpBody::Staff(StaffEventV1::SignedOut { reason, .. }) if reason == "idle_timeout"
    )));
}

#[tokio::test]
async fn a_session_that_heartbeats_stays_open_until_the_timeout_passes() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let session = edge.sign_in(&cashier).await;
    let device_id = uuid::Uuid::parse_str(session["device_id"].as_str().unwrap()).unwrap();
    let last_seen = session["last_seen_at_ms"].as_i64().unwrap();
    let timeout_ms = 60_000;
    let open = edge
        .store
        .current_session(device_id, last_seen + timeout_ms, timeout_ms)
        .unwrap();
    assert!(
        open.is_some(),
        "exactly at the timeout the session is still open"
    );
    let closed = edge
        .store
        .current_session(device_id, last_seen + timeout_ms + 1, timeout_ms)
        .unwrap();
    assert!(closed.is_none());
}

#[tokio::test]
async fn a_manager_forces_a_cashier_out_from_another_terminal_and_a_cashier_cannot() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    let office = edge.pair("office");
    let session = edge.sign_in(&cashier).await;
    let session_id = session["id"].as_str().unwrap();

    let (status, body) = edge
        .call("DELETE", &format!("/v1/staff/sessions/{session_id}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "override_required");

    edge.sign_in_as(&office, &manager).await;
    let (status, open) = edge
        .call_as(&office, "GET", "/v1/staff/sessions", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open.as_array().unwrap().len(), 2);
    let seq = edge.last_seq();
    let (status, _) = edge
        .call_as(
            &office,
            "DELETE",
            &format!("/v1/staff/sessions/{session_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = edge.call("GET", "/v1/staff/sessions/current", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(edge.op_bodies_after(seq).iter().any(|body| matches!(
        body,
        OpBody::Staff(StaffEventV1::SignedOut { reason, by_staff_id: Some(_), .. }) if reason == "forced"
    )));
}

#[tokio::test]
async fn only_a_manager_adds_staff_and_bad_staff_input_changes_nothing() {
    let edge = edge();
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    let body = json!({"name": "Otieno", "role": "bartender", "pin": "2468"});
    let (status, error) = edge.call("POST", "/v1/staff", Some(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    edge.sign_in(&manager).await;
    let seq = edge.last_seq();
    for (bad, field) in [
        (
            json!({"name": "", "role": "bartender", "pin": "2468"}),
            "name",
        ),
        (
            json!({"name": "Otieno", "role": "owner", "pin": "2468"}),
            "role",
        ),
        (
            json!({"name": "Otieno", "role": "bartender", "pin": "12"}),
            "pin",
        ),
        (
            json!({"name": "Otieno", "role": "bartender", "pin": "abcd"}),
            "pin",
        ),
    ] {
        let (status, error) = edge.call("POST", "/v1/staff", Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    assert_eq!(edge.last_seq(), seq);
    let (status, created) = edge.call("POST", "/v1/staff", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["role"], "bartender");
    assert!(matches!(
        edge.op_bodies_after(seq)[0],
        OpBody::Staff(StaffEventV1::Created { .. })
    ));
}

// ---- void after send -------------------------------------------------------------------------

#[tokio::test]
async fn voiding_an_order_not_yet_sent_needs_no_permission_and_leaves_no_audit() {
    let edge = edge();
    let id = edge.order_with("sku-samosa").await;
    let seq = edge.last_seq();
    let (status, order) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/void"),
            Some(json!({"reason": "wrong table"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert!(audits(&edge, seq).is_empty());
}

#[tokio::test]
async fn void_after_send_is_refused_without_a_signed_in_staff_member_or_override() {
    let edge = edge();
    let id = sent_order(&edge).await;
    let seq = edge.last_seq();
    let (status, body) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/void"),
            Some(json!({"reason": "walked out"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "staff_sign_in_required");
    assert_eq!(edge.last_seq(), seq, "nothing changed");
}

#[tokio::test]
async fn void_after_send_by_a_cashier_needs_a_supervisors_override_and_is_audited() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let server = edge.add_staff("Baraka", "server", "5678");
    edge.sign_in(&cashier).await;
    let id = sent_order(&edge).await;
    let path = format!("/v1/orders/{id}/void");
    let seq = edge.last_seq();

    let refusals: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"reason": "walked out"}),
            StatusCode::FORBIDDEN,
            "override_required",
        ),
        (
            json!({"reason": "walked out", "approval": {"staff_id": supervisor.id, "pin": "0000"}}),
            StatusCode::UNAUTHORIZED,
            "invalid_pin",
        ),
        (
            json!({"reason": "walked out", "approval": {"staff_id": server.id, "pin": server.pin}}),
            StatusCode::FORBIDDEN,
            "approver_not_permitted",
        ),
        (
            json!({"reason": "walked out", "approval": {"staff_id": "not-a-uuid", "pin": "1"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (body, expected_status, expected_code) in refusals {
        let (status, error) = edge.call("POST", &path, Some(body)).await;
        assert_eq!(status, expected_status, "{error}");
        assert_eq!(error["code"], expected_code, "{error}");
    }
    assert_eq!(edge.last_seq(), seq, "refused voids change nothing");

    let (status, order) = edge
        .call(
            "POST",
            &path,
            Some(json!({"reason": "walked out", "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["state"], "voided");
    let audits = audits(&edge, seq);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, AuditActionV1::VoidAfterSend);
    assert_eq!(audits[0].actor_staff_id, Some(uuid_bytes(&cashier.id)));
    assert_eq!(
        audits[0].approver_staff_id,
        Some(uuid_bytes(&supervisor.id))
    );
    assert_eq!(audits[0].reason, "walked out");
    assert_eq!(audits[0].subject, format!("order:{id}"));
}

#[tokio::test]
async fn void_after_send_by_a_supervisor_is_allowed_by_their_role_and_audited() {
    let edge = edge();
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    edge.sign_in(&supervisor).await;
    let id = sent_order(&edge).await;
    let seq = edge.last_seq();
    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/void"),
            Some(json!({"reason": "kitchen fire"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let audits = audits(&edge, seq);
    assert_eq!(audits[0].actor_staff_id, Some(uuid_bytes(&supervisor.id)));
    assert_eq!(audits[0].approver_staff_id, None);
    // The audit trail is readable on the LAN by supervisors and managers.
    let (status, trail) = edge.call("GET", "/v1/audit", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trail[0]["action"], "void_after_send");
    assert_eq!(trail[0]["reason"], "kitchen fire");
}

#[tokio::test]
async fn a_supervisor_cannot_approve_their_own_void_with_their_own_pin() {
    let edge = edge();
    // A server may not void after send; using their own PIN as the approval is refused.
    let server = edge.add_staff("Baraka", "server", "5678");
    edge.sign_in(&server).await;
    let id = sent_order(&edge).await;
    let (status, error) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/void"),
            Some(json!({"reason": "x", "approval": {"staff_id": server.id, "pin": server.pin}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "self_approval");
}

// ---- reprint of a paid receipt and drawer no-sale ---------------------------------------------

async fn with_receipt_printer(edge: &TestEdge, manager: &Staff) {
    let office = edge.pair("office");
    edge.sign_in_as(&office, manager).await;
    let (status, printer) = edge
        .call_as(
            &office,
            "POST",
            "/v1/printers",
            Some(json!({"name": "till printer", "addr": "127.0.0.1:9", "role": "receipt"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{printer}");
}

async fn paid_order(edge: &TestEdge) -> String {
    let id = edge.order_with("sku-chai").await;
    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/payments"),
            Some(json!({"tender": "cash", "amount_minor": 15_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    id
}

#[tokio::test]
async fn the_first_receipt_prints_freely_and_a_reprint_needs_a_reason_and_an_override() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    with_receipt_printer(&edge, &manager).await;
    edge.sign_in(&cashier).await;
    let id = paid_order(&edge).await;
    let path = format!("/v1/orders/{id}/receipt/print");

    let (status, first) = edge.call("POST", &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["reprint"], false);

    let seq = edge.last_seq();
    let (status, error) = edge.call("POST", &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "reason");
    let (status, error) = edge
        .call("POST", &path, Some(json!({"reason": "customer lost it"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "override_required");
    assert_eq!(edge.last_seq(), seq);
    let (_, jobs) = edge.call("GET", "/v1/print-jobs", None).await;
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "refused reprints queue nothing"
    );

    let (status, reprint) = edge
        .call(
            "POST",
            &path,
            Some(json!({"reason": "customer lost it", "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reprint}");
    assert_eq!(reprint["reprint"], true);
    let audits = audits(&edge, seq);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, AuditActionV1::ReprintPaidReceipt);
    assert_eq!(
        audits[0].approver_staff_id,
        Some(uuid_bytes(&supervisor.id))
    );
    let (_, jobs) = edge.call("GET", "/v1/print-jobs", None).await;
    assert_eq!(jobs[0]["kind"], "receipt_reprint");
}

#[tokio::test]
async fn a_manager_reprints_a_paid_receipt_on_their_own_authority() {
    let edge = edge();
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    with_receipt_printer(&edge, &manager).await;
    edge.sign_in(&manager).await;
    let id = paid_order(&edge).await;
    let path = format!("/v1/orders/{id}/receipt/print");
    edge.call("POST", &path, Some(json!({}))).await;
    let seq = edge.last_seq();
    let (status, _) = edge
        .call("POST", &path, Some(json!({"reason": "for the accounts"})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let audits = audits(&edge, seq);
    assert_eq!(
        audits[0].actor_staff_id,
        Some(uuid_bytes(&manager_id(&edge)))
    );
    assert_eq!(audits[0].approver_staff_id, None);
}

fn manager_id(edge: &TestEdge) -> String {
    edge.store
        .staff_members()
        .unwrap()
        .into_iter()
        .find(|member| member.role == shared_model::staff::Role::Manager)
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn a_drawer_no_sale_needs_the_permission_or_an_override_and_is_always_audited() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    with_receipt_printer(&edge, &manager).await;

    let seq = edge.last_seq();
    let (status, error) = edge
        .call(
            "POST",
            "/v1/drawer/no-sale",
            Some(json!({"reason": "change"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    edge.sign_in(&cashier).await;
    let seq_signed_in = edge.last_seq();
    let (status, error) = edge
        .call(
            "POST",
            "/v1/drawer/no-sale",
            Some(json!({"reason": "change"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "override_required");
    let (status, error) = edge
        .call("POST", "/v1/drawer/no-sale", Some(json!({"reason": "  "})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "reason");
    assert_eq!(edge.last_seq(), seq_signed_in);

    let (status, _) = edge
        .call(
            "POST",
            "/v1/drawer/no-sale",
            Some(json!({"reason": "change for a float", "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let audits = audits(&edge, seq);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, AuditActionV1::DrawerNoSale);
    assert_eq!(audits[0].subject, "drawer");
    let (_, jobs) = edge.call("GET", "/v1/print-jobs", None).await;
    assert_eq!(jobs[0]["kind"], "drawer_kick");
}

// ---- staff from the hub ----------------------------------------------------------------------

#[tokio::test]
async fn staff_sent_down_by_the_hub_sign_in_with_their_pin_and_a_hub_logout_ends_their_session() {
    use sync_protocol::feed::{FeedBody, StaffV1};
    use sync_protocol::op::RoleV1;
    let edge = edge();
    let staff_id = uuid::Uuid::now_v7();
    let pin = shared_model::staff::Pin::parse("2580").unwrap();
    let hub_staff = StaffV1 {
        id: *staff_id.as_bytes(),
        name: "Wanjiru".into(),
        role: RoleV1::Supervisor,
        pin_hash_phc: edge_node::services::staff::hash_pin(&pin).unwrap(),
        disabled: false,
    };
    edge.store
        .apply_feed(&[(1, FeedBody::StaffUpserted(hub_staff.clone()))], 10)
        .unwrap();
    let from_hub = Staff {
        id: staff_id.to_string(),
        pin: "2580",
    };
    let session = edge.sign_in(&from_hub).await;
    assert_eq!(session["role"], "supervisor");

    let seq = edge.last_seq();
    edge.store
        .apply_feed(
            &[(
                2,
                FeedBody::StaffLoggedOut {
                    staff_id: *staff_id.as_bytes(),
                },
            )],
            20,
        )
        .unwrap();
    let (status, _) = edge.call("GET", "/v1/staff/sessions/current", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(edge.op_bodies_after(seq).iter().any(|body| matches!(
        body,
        OpBody::Staff(StaffEventV1::SignedOut { reason, .. }) if reason == "forced_by_hub"
    )));

    // Disabled at the hub: the PIN no longer opens a session.
    edge.store
        .apply_feed(
            &[(
                3,
                FeedBody::StaffUpserted(StaffV1 {
                    disabled: true,
                    ..hub_staff
                }),
            )],
            30,
        )
        .unwrap();
    let (status, error) = edge
        .call(
            "POST",
            "/v1/staff/sessions",
            Some(json!({"staff_id": from_hub.id, "pin": from_hub.pin})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "invalid_pin");
}
