//! Enrollment and identity: codes are single-use and short-lived, and a device can only ever
//! write into the tenant and outlet its certificate was issued for.
#![allow(clippy::unwrap_used)]

use edge_node::enroll::{EnrollError, enroll};
use edge_node::store::Store;
use kibanda_tests::*;
use shared_model::{Currency, OrderEvent, OrderId, OrderType};
use std::sync::Arc;
use sync_protocol::op::{GENESIS_HASH, OpBody, OrderEventV1};
use sync_protocol::quic;
use sync_protocol::{Hlc, Message, RejectCode, WireOp};

fn store_in(dir: &std::path::Path) -> Arc<Store> {
    Arc::new(Store::open(&dir.join(edge_node::config::STORE_FILE)).unwrap())
}

fn refusal(result: Result<edge_node::store::Enrollment, EnrollError>) -> (RejectCode, String) {
    match result {
        Err(EnrollError::Refused { code, message }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn opened_op(origin: [u8; 16]) -> WireOp {
    let event = OrderEvent::Opened {
        order_id: OrderId(uuid::Uuid::now_v7()),
        number: 1,
        order_type: OrderType::TakeOut,
        currency: Currency::kes(),
        opened_at_ms: 1,
    };
    WireOp {
        origin,
        seq: 1,
        hlc: Hlc {
            wall_ms: 1,
            logical: 0,
        },
        prev_hash: GENESIS_HASH,
        body: OpBody::Order(OrderEventV1::from(&event)).encode(),
    }
}

#[test]
fn used_expired_and_unknown_codes_are_refused_with_a_clear_message() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let code = driver.block_on(tenant_with_outlet(&pool, "acme", "nbo-cbd"));
    let hub_addr = hub.quic.to_string();
    driver.block_on(async {
        let first = tempfile::tempdir().unwrap();
        enroll(store_in(first.path()), &hub_addr, &code)
            .await
            .unwrap();

        let second = tempfile::tempdir().unwrap();
        let (reject, message) = refusal(enroll(store_in(second.path()), &hub_addr, &code).await);
        assert_eq!(reject, RejectCode::EnrollmentCodeUsed);
        assert!(message.contains("already used"), "{message}");

        let (expired, _) = cloud_hub::services::admin::create_enrollment_code(
            &pool,
            "acme",
            "nbo-cbd",
            time::Duration::minutes(-1),
        )
        .await
        .unwrap();
        let third = tempfile::tempdir().unwrap();
        let (reject, message) =
            refusal(enroll(store_in(third.path()), &hub_addr, &expired.display()).await);
        assert_eq!(reject, RejectCode::EnrollmentCodeExpired);
        assert!(message.contains("expired"), "{message}");

        let (reject, message) =
            refusal(enroll(store_in(third.path()), &hub_addr, "AAAA-BBBB-CCCC-DDDD").await);
        assert_eq!(reject, RejectCode::EnrollmentCodeUnknown);
        assert!(message.contains("unknown"), "{message}");

        // A code that is not even well-formed never leaves the edge.
        assert!(matches!(
            enroll(store_in(third.path()), &hub_addr, "12-34").await,
            Err(EnrollError::BadCode(_))
        ));
        // Refused attempts left nothing behind.
        assert!(store_in(third.path()).enrollment().unwrap().is_none());
        let devices: i64 = sqlx::query_scalar("SELECT count(*) FROM devices")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(devices, 1);
        pool.close().await;
    });
    hub.kill();
}

#[test]
fn a_device_of_one_tenant_cannot_push_into_another() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let hub_addr = hub.quic.to_string();
    driver.block_on(async {
        let code_a = tenant_with_outlet(&pool, "acme", "nbo-cbd").await;
        let code_b = tenant_with_outlet(&pool, "bravo", "msa-1").await;
        let dir_a = tempfile::tempdir().unwrap();
        let dir_b = tempfile::tempdir().unwrap();
        let store_a = store_in(dir_a.path());
        let store_b = store_in(dir_b.path());
        enroll(store_a.clone(), &hub_addr, &code_a).await.unwrap();
        enroll(store_b.clone(), &hub_addr, &code_b).await.unwrap();

        // Edge B's certificate, ops claiming to come from edge A.
        let (endpoint, connection) =
            raw_sync_connection(&store_b.enrollment().unwrap().unwrap(), &hub).await;
        let (mut writer, mut reader) = quic::open_framed(&connection).await.unwrap();
        writer
            .send(&Message::Hello {
                software: "test".into(),
            })
            .await
            .unwrap();
        assert!(matches!(
            reader.recv().await.unwrap(),
            Some(Message::Welcome {
                acked_through_seq: 0,
                ..
            })
        ));
        writer
            .send(&Message::OpsBatch {
                ops: vec![opened_op(*store_a.node_id().as_bytes())],
            })
            .await
            .unwrap();
        match reader.recv().await.unwrap() {
            Some(Message::Reject { code, .. }) => assert_eq!(code, RejectCode::IdentityMismatch),
            other => panic!("expected a rejection, got {other:?}"),
        }
        connection.close(0_u32.into(), b"");
        endpoint.wait_idle().await;

        let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(orders, 0, "nothing was written anywhere");
        let events: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM security_events s JOIN tenants t ON t.id = s.tenant_id
             WHERE t.slug = 'bravo' AND s.kind = 'identity_mismatch'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            events, 1,
            "the attempt is recorded against the offending device's tenant"
        );

        // B's own, honest op lands in B, and A cannot see it.
        let (endpoint, connection) =
            raw_sync_connection(&store_b.enrollment().unwrap().unwrap(), &hub).await;
        let (mut writer, mut reader) = quic::open_framed(&connection).await.unwrap();
        writer
            .send(&Message::Hello {
                software: "test".into(),
            })
            .await
            .unwrap();
        reader.recv().await.unwrap();
        let op = opened_op(*store_b.node_id().as_bytes());
        writer
            .send(&Message::OpsBatch {
                ops: vec![op.clone()],
            })
            .await
            .unwrap();
        assert_eq!(
            reader.recv().await.unwrap(),
            Some(Message::Ack {
                acked_through_seq: 1
            })
        );
        connection.close(0_u32.into(), b"");
        endpoint.wait_idle().await;

        let client = reqwest::Client::new();
        let token_a = dev_token(&pool, "acme", "manager").await;
        let token_b = dev_token(&pool, "bravo", "manager").await;
        let b_orders = hub_orders(&client, &hub, "bravo", &token_b).await;
        assert_eq!(b_orders.len(), 1);
        let order_id = b_orders[0]["id"].as_str().unwrap().to_owned();
        assert!(hub_orders(&client, &hub, "acme", &token_a).await.is_empty());
        for (path, token) in [
            (format!("/v1/acme/pos/orders/{order_id}"), &token_a),
            (format!("/v1/bravo/pos/orders/{order_id}"), &token_a),
            ("/v1/bravo/pos/orders".to_owned(), &token_a),
        ] {
            let response = client
                .get(hub.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 404, "{path}");
            let body = response.text().await.unwrap();
            assert!(!body.contains(&order_id), "{path} leaked the order");
        }
        pool.close().await;
    });
    hub.kill();
}

#[test]
fn a_peer_speaking_an_unknown_protocol_version_is_refused_by_the_hub() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        let code = tenant_with_outlet(&pool, "acme", "nbo-cbd").await;
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        enroll(store.clone(), &hub.quic.to_string(), &code)
            .await
            .unwrap();
        let (endpoint, connection) =
            raw_sync_connection(&store.enrollment().unwrap().unwrap(), &hub).await;
        let (mut send, recv) = connection.open_bi().await.unwrap();
        let mut frame = sync_protocol::encode_frame(&Message::Hello {
            software: "future".into(),
        })
        .unwrap();
        frame[4] = 2; // a version this hub does not speak
        send.write_all(&frame).await.unwrap();
        let mut reader = quic::FrameReader::new(recv);
        match reader.recv().await.unwrap() {
            Some(Message::Reject { code, message }) => {
                assert_eq!(code, RejectCode::UnsupportedVersion);
                assert!(message.contains("version 2"), "{message}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        connection.close(0_u32.into(), b"");
        endpoint.wait_idle().await;
        pool.close().await;
    });
    hub.kill();
}
