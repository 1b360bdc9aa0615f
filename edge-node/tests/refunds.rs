//! Refunds at the edge: a high-risk action (the role's permission or a supervisor's override in
//! the same request, always audited), recorded as a new fact on the order; never more than was
//! paid, and bad input changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use serde_json::json;
use sync_protocol::op::{AuditActionV1, OpBody};

async fn paid_chai(edge: &TestEdge) -> String {
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

fn refund_audits(edge: &TestEdge, after_seq: u64) -> usize {
    edge.op_bodies_after(after_seq)
        .into_iter()
        .filter(
            |body| matches!(body, OpBody::Audit(audit) if audit.action == AuditActionV1::Refund),
        )
        .count()
}

#[tokio::test]
async fn a_cashier_refunds_only_with_a_supervisors_override_and_it_is_audited() {
    let edge = edge();
    let cashier = edge.add_staff("Achieng", "cashier", "1234");
    let supervisor = edge.add_staff("Wanjiru", "supervisor", "8642");
    edge.sign_in(&cashier).await;
    let id = paid_chai(&edge).await;
    let path = format!("/v1/orders/{id}/refunds");
    let seq = edge.last_seq();

    let (status, error) = edge
        .call(
            "POST",
            &path,
            Some(json!({"tender": "cash", "amount_minor": 5_000, "reason": "cold tea"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["code"], "override_required");
    assert_eq!(edge.last_seq(), seq, "a refused refund changes nothing");

    let (status, order) = edge
        .call(
            "POST",
            &path,
            Some(
                json!({"tender": "cash", "amount_minor": 5_000, "reason": "cold tea",
                        "approval": {"staff_id": supervisor.id, "pin": supervisor.pin}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["refunded_minor"], 5_000);
    assert_eq!(order["paid_minor"], 15_000, "the sale itself is unchanged");
    assert_eq!(refund_audits(&edge, seq), 1);
}

#[tokio::test]
async fn refunds_never_exceed_what_was_paid_and_bad_input_changes_nothing() {
    let edge = edge();
    let manager = edge.add_staff("Njeri", "manager", "4321");
    edge.sign_in(&manager).await;
    let unpaid = edge.order_with("sku-chai").await;
    let id = paid_chai(&edge).await;
    let path = format!("/v1/orders/{id}/refunds");
    let seq = edge.last_seq();
    let cases = vec![
        (
            format!("/v1/orders/{unpaid}/refunds"),
            json!({"tender": "cash", "reason": "x"}),
            StatusCode::CONFLICT,
            "order_not_refundable",
        ),
        (
            path.clone(),
            json!({"tender": "cash", "amount_minor": 15_001, "reason": "too much"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            path.clone(),
            json!({"tender": "cash", "amount_minor": 0, "reason": "zero"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            path.clone(),
            json!({"tender": "cash", "line_ids": [uuid::Uuid::now_v7().to_string()], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            path.clone(),
            json!({"tender": "cash", "amount_minor": 1, "line_ids": [], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            path.clone(),
            json!({"tender": "cash", "amount_minor": 100, "reason": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            path.clone(),
            json!({"tender": "barter", "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (path, body, expected_status, expected_code) in cases {
        let (status, error) = edge.call("POST", &path, Some(body.clone())).await;
        assert_eq!(status, expected_status, "{body}: {error}");
        assert_eq!(error["code"], expected_code, "{body}: {error}");
    }
    assert_eq!(edge.last_seq(), seq, "refused refunds change nothing");

    // Part, then the rest; then nothing is left to refund.
    let (status, order) = edge
        .call(
            "POST",
            &path,
            Some(json!({"tender": "cash", "amount_minor": 4_000, "reason": "short pour"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let (status, order) = edge
        .call(
            "POST",
            &path,
            Some(json!({"tender": "cash", "reason": "customer left"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["refunded_minor"], 15_000);
    let (status, _) = edge
        .call(
            "POST",
            &path,
            Some(json!({"tender": "cash", "amount_minor": 1, "reason": "again"})),
        )
        .await;
    assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT);
    assert_eq!(refund_audits(&edge, seq), 2);
}
