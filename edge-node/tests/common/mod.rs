//! A test edge: the real router over a real SQLite store in a temporary directory, with
//! helpers to pair terminals, add staff and sign them in.
#![allow(clippy::unwrap_used, dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use edge_node::api::{AppState, router};
use edge_node::printers::queue::PrintQueueLimits;
use edge_node::store::Store;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

pub struct TestEdge {
    pub router: Router,
    pub state: AppState,
    pub store: Arc<Store>,
    /// A terminal paired with `edge-node pair-device`.
    pub token: String,
    pub dir: tempfile::TempDir,
}

pub struct Staff {
    pub id: String,
    pub pin: &'static str,
}

pub fn edge() -> TestEdge {
    edge_with(|_| {})
}

pub fn edge_with(configure: impl FnOnce(&mut AppState)) -> TestEdge {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("edge.sqlite")).unwrap());
    edge_node::services::catalog::seed_demo_if_empty(&store).unwrap();
    let (_, token) = edge_node::services::devices::pair(&store, "till-1", 0).unwrap();
    let mut state = AppState::new(
        store.clone(),
        shared_model::Currency::kes(),
        "Test cafe".into(),
        PrintQueueLimits {
            // Fast retries so a test awaiting a retry does not wait seconds.
            backoff_base_ms: 5,
            backoff_max_ms: 20,
            // The fake printers below answer the paper status query at once or not at all.
            status_timeout_ms: 50,
            ..PrintQueueLimits::default()
        },
    )
    .unwrap();
    configure(&mut state);
    TestEdge {
        router: router(state.clone()),
        state,
        store,
        token,
        dir,
    }
}

impl TestEdge {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub fn add_staff(&self, name: &str, role: &str, pin: &'static str) -> Staff {
        let member =
            edge_node::services::staff::create_staff(&self.store, name, role, pin, 0).unwrap();
        Staff {
            id: member.id.to_string(),
            pin,
        }
    }

    /// Pairs another terminal from the box's command line.
    pub fn pair(&self, name: &str) -> String {
        edge_node::services::devices::pair(&self.store, name, 0)
            .unwrap()
            .1
    }

    pub async fn sign_in_as(&self, token: &str, staff: &Staff) -> Value {
        let (status, session) = self
            .call_as(
                token,
                "POST",
                "/v1/staff/sessions",
                Some(json!({"staff_id": staff.id, "pin": staff.pin})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session
    }

    pub async fn sign_in(&self, staff: &Staff) -> Value {
        self.sign_in_as(&self.token.clone(), staff).await
    }

    /// Opens an order with one line of `item_id` and returns its id.
    pub async fn order_with(&self, item_id: &str) -> String {
        let (status, order) = self
            .call("POST", "/v1/orders", Some(json!({"type": "dine_in"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = order["id"].as_str().unwrap().to_owned();
        let (status, _) = self
            .call(
                "POST",
                &format!("/v1/orders/{id}/lines"),
                Some(json!({"item_id": item_id, "quantity": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        id
    }

    pub fn last_seq(&self) -> u64 {
        self.store.outbox_status().unwrap().last_seq
    }

    /// The op kinds written after `seq`.
    pub fn op_bodies_after(&self, seq: u64) -> Vec<sync_protocol::op::OpBody> {
        self.store
            .ops_from(seq + 1, 1_000)
            .unwrap()
            .iter()
            .map(|op| op.decode_body().unwrap())
            .collect()
    }
}

/// The edge's router on a real socket on 127.0.0.1, for clients that need one (a WebSocket, a
/// browser).
pub struct Served {
    pub addr: std::net::SocketAddr,
    _server: tokio::task::JoinHandle<()>,
}

pub async fn serve(edge: &TestEdge) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = edge.router.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Served {
        addr,
        _server: server,
    }
}
