//! Printing against real TCP listeners on 127.0.0.1 standing in for ESC/POS printers: kitchen
//! tickets reach their station's printer, a printer that refuses connections is retried until
//! it is back, and queued jobs survive a restart of the edge.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestEdge, edge};
use edge_node::printers::queue::{PrintQueue, PrintQueueLimits};
use edge_node::store::PrintJobState;
use serde_json::json;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// `DLE EOT 4`, the paper status query the queue sends before each job.
const STATUS_QUERY: [u8; 3] = [0x10, 0x04, 0x04];
/// Paper status answers: fixed bits only (paper present), and paper end (bits 5 and 6).
const PAPER_OK: u8 = 0x12;
const PAPER_END: u8 = 0x72;

/// A fake printer: accepts one connection and returns everything written until EOF.
async fn printer() -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(capture(listener)))
}

/// One connection of a printer without status support: the query goes unanswered. Returns
/// what was printed after the query.
async fn capture(listener: TcpListener) -> Vec<u8> {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).await.unwrap();
    assert!(
        bytes.starts_with(&STATUS_QUERY),
        "the paper status is asked first"
    );
    bytes.split_off(STATUS_QUERY.len())
}

/// One connection of a printer that answers the status query with `status`; returns what was
/// printed after it.
async fn capture_answering(listener: &TcpListener, status: u8) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut query = [0_u8; 3];
    socket.read_exact(&mut query).await.unwrap();
    assert_eq!(query, STATUS_QUERY);
    socket.write_all(&[status]).await.unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).await.unwrap();
    bytes
}

async fn signed_in_manager(edge: &TestEdge) {
    let manager = edge.add_staff("Mama Njeri", "manager", "4321");
    edge.sign_in(&manager).await;
}

async fn add_printer(edge: &TestEdge, body: serde_json::Value) {
    let (status, printer) = edge.call("POST", "/v1/printers", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{printer}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn a_kitchen_ticket_prints_as_esc_pos_on_its_stations_printer() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let (grill_addr, grill) = printer().await;
    add_printer(
        &edge,
        json!({"name": "grill", "addr": grill_addr.to_string(), "role": "kitchen", "station": "grill"}),
    )
    .await;
    edge.call(
        "PUT",
        "/v1/kitchen/routes",
        Some(json!({"routes": [{"match": "item", "value": "sku-samosa", "station": "grill"}]})),
    )
    .await;
    let worker = tokio::spawn(edge.state.printing.queue().clone().run());

    let id = edge.order_with("sku-samosa").await;
    edge.call("POST", &format!("/v1/orders/{id}/send"), None)
        .await;
    let bytes = grill.await.unwrap();
    assert!(
        bytes.starts_with(&[0x1b, b'@']),
        "starts by initialising the printer"
    );
    assert!(contains(&bytes, b"GRILL\n"));
    assert!(contains(&bytes, b"1 x Beef samosa\n"));
    assert!(bytes.ends_with(&[0x1d, b'V', 66, 0]), "ends with a cut");
    worker.abort();
}

#[tokio::test]
async fn a_printer_that_refuses_connections_is_retried_until_it_is_back() {
    let edge = edge();
    signed_in_manager(&edge).await;
    // Reserve a port, then close it: connections are refused until the printer "comes back".
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    add_printer(
        &edge,
        json!({"name": "till", "addr": addr.to_string(), "role": "receipt"}),
    )
    .await;
    let mut attempts = edge.state.printing.queue().attempts();
    let worker = tokio::spawn(edge.state.printing.queue().clone().run());

    let id = edge.order_with("sku-chai").await;
    let (status, _) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/receipt/print"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    attempts.wait_for(|count| *count >= 2).await.unwrap();
    let jobs = edge.store.recent_print_jobs(10).unwrap();
    assert_eq!(
        jobs[0].state,
        PrintJobState::Pending,
        "still queued, not dropped"
    );
    assert!(jobs[0].attempts >= 2);
    assert!(jobs[0].last_error.as_deref().unwrap().contains("connect"));

    let listener = TcpListener::bind(addr).await.unwrap();
    let bytes = capture(listener).await;
    assert!(contains(&bytes, b"Test cafe"));
    assert!(contains(&bytes, b"1 x Masala chai"));
    assert!(contains(&bytes, b"VAT16"), "the tax breakdown is printed");
    assert!(
        contains(&bytes, b"Fiscal no.:"),
        "space is kept for fiscal fields"
    );
    // The worker marks the job done right after the printer took it, then counts the attempt.
    attempts
        .wait_for(|_| edge.store.recent_print_jobs(10).unwrap()[0].state == PrintJobState::Done)
        .await
        .unwrap();
    assert_eq!(
        edge.store.recent_print_jobs(10).unwrap().len(),
        1,
        "printed once"
    );
    worker.abort();
}

#[tokio::test]
async fn queued_jobs_survive_a_restart_and_print_afterwards() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let (addr, captured) = printer().await;
    add_printer(
        &edge,
        json!({"name": "till", "addr": addr.to_string(), "role": "receipt"}),
    )
    .await;
    let (status, _) = edge
        .call(
            "PUT",
            "/v1/settings/receipt-template",
            Some(json!({"header_lines": ["PIN P051234567X"], "footer_lines": ["Asante sana!"], "fiscal_lines": ["CU: KRA-0001"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = edge.order_with("sku-chai").await;
    // Queued while no worker runs (the edge is "down" for printing).
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/receipt/print"),
        Some(json!({})),
    )
    .await;
    let path = edge.dir.path().join("edge.sqlite");
    // The edge goes away: router, services and store are all dropped; only the file remains.
    let TestEdge {
        router,
        state,
        store,
        dir: _dir,
        ..
    } = edge;
    drop((router, state, store));

    let reopened = Arc::new(edge_node::store::Store::open(&path).unwrap());
    let queue = PrintQueue::new(reopened.clone(), PrintQueueLimits::default());
    let worker = tokio::spawn(queue.clone().run());
    let bytes = captured.await.unwrap();
    assert!(contains(&bytes, b"PIN P051234567X"));
    assert!(contains(&bytes, b"Asante sana!"));
    assert!(contains(&bytes, b"CU: KRA-0001"));
    worker.abort();
}

#[tokio::test]
async fn bad_printer_and_template_input_is_refused() {
    let edge = edge();
    signed_in_manager(&edge).await;
    for (body, field) in [
        (
            json!({"name": "x", "addr": "printer.local", "role": "receipt"}),
            "addr",
        ),
        (
            json!({"name": "x", "addr": "10.0.0.5", "role": "label"}),
            "role",
        ),
        (
            json!({"name": "x", "addr": "10.0.0.5", "role": "kitchen"}),
            "station",
        ),
        (
            json!({"name": "", "addr": "10.0.0.5", "role": "receipt"}),
            "name",
        ),
    ] {
        let (status, error) = edge.call("POST", "/v1/printers", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    let (status, error) = edge
        .call(
            "PUT",
            "/v1/settings/receipt-template",
            Some(json!({"header_lines": ["x".repeat(100)]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "header_lines");
    add_printer(
        &edge,
        json!({"name": "till", "addr": "10.0.0.5", "role": "receipt"}),
    )
    .await;
    let (_, printers) = edge.call("GET", "/v1/printers", None).await;
    assert_eq!(
        printers[0]["addr"], "10.0.0.5:9100",
        "the raw printing port is the default"
    );
    let (status, error) = edge
        .call(
            "POST",
            &format!("/v1/orders/{}/receipt/print", uuid::Uuid::now_v7()),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "order_not_found");
}

#[tokio::test]
async fn a_printer_out_of_paper_keeps_its_job_until_the_roll_is_replaced() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    add_printer(
        &edge,
        json!({"name": "till", "addr": addr.to_string(), "role": "receipt"}),
    )
    .await;
    let mut attempts = edge.state.printing.queue().attempts();
    let worker = tokio::spawn(edge.state.printing.queue().clone().run());
    let id = edge.order_with("sku-chai").await;
    edge.call(
        "POST",
        &format!("/v1/orders/{id}/receipt/print"),
        Some(json!({})),
    )
    .await;

    let printed = capture_answering(&listener, PAPER_END).await;
    assert!(
        printed.is_empty(),
        "nothing is sent to a printer without paper"
    );
    attempts.wait_for(|count| *count >= 1).await.unwrap();
    let job = &edge.store.recent_print_jobs(1).unwrap()[0];
    assert_eq!(job.state, PrintJobState::Pending);
    assert_eq!(job.last_error.as_deref(), Some("out of paper"));

    let printed = capture_answering(&listener, PAPER_OK).await;
    assert!(contains(&printed, b"1 x Masala chai"));
    attempts
        .wait_for(|_| edge.store.recent_print_jobs(1).unwrap()[0].state == PrintJobState::Done)
        .await
        .unwrap();
    worker.abort();
}

/// One connection of a printer without status support, on a listener kept for the next job.
async fn capture_next(listener: &TcpListener) -> Vec<u8> {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).await.unwrap();
    assert!(bytes.starts_with(&STATUS_QUERY));
    bytes.split_off(STATUS_QUERY.len())
}

#[tokio::test]
async fn a_line_voided_after_it_was_sent_prints_a_void_chit_at_its_station() {
    let edge = edge();
    signed_in_manager(&edge).await;
    let grill = TcpListener::bind("127.0.0.1:0").await.unwrap();
    add_printer(
        &edge,
        json!({"name": "grill", "addr": grill.local_addr().unwrap().to_string(), "role": "kitchen", "station": "grill"}),
    )
    .await;
    edge.call(
        "PUT",
        "/v1/kitchen/routes",
        Some(json!({"routes": [{"match": "item", "value": "sku-samosa", "station": "grill"}]})),
    )
    .await;
    let worker = tokio::spawn(edge.state.printing.queue().clone().run());

    let id = edge.order_with("sku-samosa").await;
    edge.call("POST", &format!("/v1/orders/{id}/send"), None)
        .await;
    let ticket = capture_next(&grill).await;
    assert!(contains(&ticket, b"1 x Beef samosa\n"));
    assert!(!contains(&ticket, b"VOID"));

    let (_, order) = edge.call("GET", &format!("/v1/orders/{id}"), None).await;
    let sent_line = order["lines"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/lines/{sent_line}/void"),
            Some(json!({"reason": "customer changed mind"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let chit = capture_next(&grill).await;
    assert!(contains(&chit, b"#1\n"), "the order number");
    assert!(contains(&chit, b"GRILL\n"));
    assert!(contains(&chit, b"*** VOID ***\n"));
    assert!(contains(&chit, b"1 x Beef samosa\n"));
    assert!(contains(&chit, b"Reason: customer changed mind\n"));
    assert!(chit.ends_with(&[0x1d, b'V', 66, 0]), "ends with a cut");

    // A line the kitchen never had is voided without troubling the printer.
    let (status, added) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/lines"),
            Some(json!({"item_id": "sku-samosa", "quantity": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let unsent = added["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["id"] != sent_line.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = edge
        .call(
            "POST",
            &format!("/v1/orders/{id}/lines/{unsent}/void"),
            Some(json!({"reason": "keyed twice"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, jobs) = edge.call("GET", "/v1/print-jobs", None).await;
    let kinds: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|kind| **kind == "kitchen_void").count(),
        1,
        "{jobs}"
    );
    worker.abort();
}
