//! Harness for end-to-end tests: throwaway PostgreSQL databases, and a real hub and real edges
//! each on their own tokio runtime, so a test can kill one (drop its runtime without a clean
//! shutdown) and start it again on the same state.
#![allow(clippy::unwrap_used)]

use cloud_hub::config::{AuthConfig, HubConfig};
use cloud_hub::startup::Hub;
use edge_node::config::EdgeConfig;
use edge_node::startup::App;
use serde_json::{Value, json};
use shared_model::tax::RoundingMode;
use shared_model::{CatalogItem, Currency, LineId, Order, OrderType, PaymentId, Tender};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync_protocol::op::{OpBody, OrderEventV1};
use sync_protocol::{Hlc, WireOp};
use tokio::runtime::Runtime;

/// The server the test databases are created on.
pub fn admin_database_url() -> String {
    std::env::var("KIBANDA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database, dropped when the value is.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub fn create(runtime: &Runtime) -> TestDb {
        let name = format!("kibanda_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_database_url();
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&admin)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .expect("create test database");
            pool.close().await;
        });
        let base = admin
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .unwrap();
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin_database_url();
        // Dropping runs outside any runtime: use a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let pool = sqlx::PgPool::connect(&admin).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&pool)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A multi-threaded runtime; also installs the process's TLS provider (reqwest needs it).
pub fn runtime() -> Runtime {
    sync_protocol::quic::install_crypto_provider();
    // `KIBANDA_TEST_LOG=debug` shows the hub's and edges' logs in failing tests.
    if let Ok(filter) = std::env::var("KIBANDA_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A hub running on its own runtime.
pub struct RunningHub {
    pub http: SocketAddr,
    pub quic: SocketAddr,
    pub faults: Arc<cloud_hub::sync::Faults>,
    runtime: Option<Runtime>,
}

impl RunningHub {
    /// Starts a hub on `database_url`; `quic` may be a fixed address to come back on.
    pub fn start(database_url: &str, quic: SocketAddr) -> RunningHub {
        RunningHub::start_with(database_url, quic, AuthConfig::dev_only())
    }

    pub fn start_with(database_url: &str, quic: SocketAddr, auth: AuthConfig) -> RunningHub {
        RunningHub::start_full(
            database_url,
            quic,
            auth,
            cloud_hub::config::EventsConfig::default(),
        )
    }

    pub fn start_full(
        database_url: &str,
        quic: SocketAddr,
        auth: AuthConfig,
        events: cloud_hub::config::EventsConfig,
    ) -> RunningHub {
        RunningHub::start_tuned(database_url, quic, |config| {
            config.auth = auth;
            config.events = events;
        })
    }

    /// Starts a hub whose configuration `tune` may change from the test defaults.
    pub fn start_tuned(
        database_url: &str,
        quic: SocketAddr,
        tune: impl FnOnce(&mut HubConfig),
    ) -> RunningHub {
        let runtime = runtime();
        let mut config = HubConfig {
            database_url: database_url.to_owned(),
            http: "127.0.0.1:0".parse().unwrap(),
            quic,
            auth: AuthConfig::dev_only(),
            db_connections_max: 8,
            events: cloud_hub::config::EventsConfig::default(),
            rate_limit_per_sec: 10_000,
            rate_limit_burst: 10_000,
            device_rate_limit_per_sec: 10_000,
            device_rate_limit_burst: 10_000,
            ingest: Default::default(),
            treasury: Default::default(),
            notifications: Default::default(),
            services: Default::default(),
            master_keys: cloud_hub::envelope::MasterKeys::none(),
            tenant_registry_url: None,
        };
        tune(&mut config);
        // A restarted hub may find its old UDP port still closing: retry briefly.
        let deadline = Instant::now() + Duration::from_secs(10);
        let hub = loop {
            match runtime.block_on(Hub::build(config.clone())) {
                Ok(hub) => break hub,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("hub start retry: {error:#}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("hub did not start: {error:#}"),
            }
        };
        let (http, quic) = (hub.http_addr().unwrap(), hub.quic_addr().unwrap());
        let faults = hub.faults.clone();
        runtime.spawn(hub.run());
        RunningHub {
            http,
            quic,
            faults,
            runtime: Some(runtime),
        }
    }

    /// Kills the hub: its runtime is dropped without a clean shutdown.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An edge node running on its own runtime.
pub struct RunningEdge {
    pub http: SocketAddr,
    pub token: String,
    pub data_dir: PathBuf,
    runtime: Option<Runtime>,
}

impl RunningEdge {
    pub fn start(data_dir: &Path, token: &str) -> RunningEdge {
        let runtime = runtime();
        let app = runtime
            .block_on(App::build(EdgeConfig {
                data_dir: data_dir.to_path_buf(),
                listen: "127.0.0.1:0".parse().unwrap(),
                reconnect_backoff_max_ms: 5_000,
                ack_timeout_ms: 2_000,
                staff_idle_timeout_ms: edge_node::services::staff::SESSION_IDLE_TIMEOUT_MS_DEFAULT,
                mdns: false,
            }))
            .unwrap();
        let http = app.local_addr().unwrap();
        runtime.spawn(app.run());
        RunningEdge {
            http,
            token: token.to_owned(),
            data_dir: data_dir.to_path_buf(),
            runtime: Some(runtime),
        }
    }

    /// Kills the edge mid-whatever: the runtime is dropped without a clean shutdown.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }
}

impl Drop for RunningEdge {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Pairs a terminal on the edge store in `data_dir`; returns its token.
pub fn pair_terminal(data_dir: &Path) -> String {
    let store =
        edge_node::store::Store::open(&data_dir.join(edge_node::config::STORE_FILE)).unwrap();
    let (_, token) =
        edge_node::services::devices::pair(&store, "till-1", edge_node::now_ms()).unwrap();
    token
}

/// A terminal's HTTP calls.
pub struct Terminal<'a> {
    pub client: &'a reqwest::Client,
    pub edge: &'a RunningEdge,
}

impl Terminal<'_> {
    /// One call to the edge's LAN API with the terminal's token: its status and JSON body
    /// (`Null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.edge.url(path))
            .bearer_auth(&self.edge.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Opens a take-out order with `quantity` of `item_id`; returns its id.
    pub async fn open_with(&self, item_id: &str, quantity: i64) -> String {
        let (status, order) = self.post("/v1/orders", json!({"type": "take_out"})).await;
        assert_eq!(status, 201, "open: {order}");
        let id = order["id"].as_str().unwrap().to_owned();
        let (status, order) = self
            .post(
                &format!("/v1/orders/{id}/lines"),
                json!({"item_id": item_id, "quantity": quantity}),
            )
            .await;
        assert_eq!(status, 201, "line: {order}");
        id
    }

    /// One cash sale: open, add `lines` (item, quantity), pay with a round note, close.
    /// Returns the closed order as the edge reports it.
    pub async fn sell(&self, lines: &[(&str, i64)]) -> Value {
        let (status, order) = self.post("/v1/orders", json!({"type": "take_out"})).await;
        assert_eq!(status, 201, "open: {order}");
        let id = order["id"].as_str().unwrap().to_owned();
        let mut total = 0;
        for (item, quantity) in lines {
            let (status, order) = self
                .post(
                    &format!("/v1/orders/{id}/lines"),
                    json!({"item_id": item, "quantity": quantity}),
                )
                .await;
            assert_eq!(status, 201, "line: {order}");
            total = order["total_minor"].as_i64().unwrap();
        }
        let tendered = (total / 100_000 + 1) * 100_000;
        let (status, paid) = self
            .post(
                &format!("/v1/orders/{id}/payments"),
                json!({"tender": "cash", "amount_minor": tendered}),
            )
            .await;
        assert_eq!(status, 201, "pay: {paid}");
        assert_eq!(paid["change_due_minor"].as_i64().unwrap(), tendered - total);
        let (status, closed) = self
            .post(&format!("/v1/orders/{id}/close"), json!({}))
            .await;
        assert_eq!(status, 200, "close: {closed}");
        closed
    }
}

/// Polls `probe` until it returns `Some`, or panics after `limit` with `what`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sets up a tenant with one outlet and returns an enrollment code for it.
pub async fn tenant_with_outlet(pool: &sqlx::PgPool, slug: &str, outlet: &str) -> String {
    cloud_hub::services::admin::create_tenant(pool, slug, &format!("{slug} ltd"))
        .await
        .unwrap();
    outlet_with_code(pool, slug, outlet).await
}

/// A new outlet of the existing tenant `slug` and a fresh enrollment code for its edge.
pub async fn outlet_with_code(pool: &sqlx::PgPool, slug: &str, outlet: &str) -> String {
    cloud_hub::services::admin::create_outlet(
        pool,
        slug,
        outlet,
        "Main outlet",
        "Africa/Nairobi",
        "KES",
    )
    .await
    .unwrap();
    let (code, _) = cloud_hub::services::admin::create_enrollment_code(
        pool,
        slug,
        outlet,
        time::Duration::minutes(15),
    )
    .await
    .unwrap();
    code.display()
}

pub async fn dev_token(pool: &sqlx::PgPool, tenant: &str, role: &str) -> String {
    let key = cloud_hub::auth::dev::DevKey::load_or_create(pool)
        .await
        .unwrap();
    key.mint(
        tenant,
        role,
        cloud_hub::config::DEFAULT_AUDIENCE,
        edge_node::now_ms() / 1000,
    )
    .unwrap()
}

/// The hub's orders for `tenant`, all pages.
pub async fn hub_orders(
    client: &reqwest::Client,
    hub: &RunningHub,
    tenant: &str,
    token: &str,
) -> Vec<Value> {
    let mut orders = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = hub.url(&format!("/v1/{tenant}/pos/orders?limit=200"));
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        orders.extend(page["orders"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return orders,
        }
    }
}

/// A raw sync connection to `hub` with an enrolled edge's certificate (for protocol-level tests).
pub async fn raw_sync_connection(
    enrollment: &edge_node::store::Enrollment,
    hub: &RunningHub,
) -> (quinn::Endpoint, quinn::Connection) {
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(
        sync_protocol::quic::sync_client_config(
            &enrollment.ca_cert_der,
            enrollment.device_cert_der.clone(),
            enrollment.device_key_pkcs8_der.clone(),
        )
        .unwrap(),
    );
    let connection = endpoint
        .connect(hub.quic, sync_protocol::quic::HUB_SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    (endpoint, connection)
}

/// The four ops of one cash sale (open, a 150.00 chai, 200.00 cash, close) as an edge would
/// send them, continuing `origin`'s chain from `next_seq` and `prev_hash`.
pub fn wire_sale(
    origin: [u8; 16],
    next_seq: &mut u64,
    prev_hash: &mut [u8; 32],
    now_ms: i64,
) -> Vec<WireOp> {
    let opened = shared_model::OrderEvent::Opened {
        order_id: shared_model::OrderId(uuid::Uuid::now_v7()),
        number: *next_seq,
        order_type: OrderType::Kiosk,
        currency: Currency::kes(),
        opened_at_ms: now_ms,
    };
    let mut order = Order::from_opened(&opened).unwrap();
    let item = CatalogItem::simple(
        "sku-chai",
        "Chai",
        "tea",
        15_000,
        shared_model::TaxMode::Inclusive,
        vec![shared_model::TaxRate::new("VAT16", 1600)],
    );
    let line = order
        .add_line(LineId(uuid::Uuid::now_v7()), &item, 1, RoundingMode::HalfUp)
        .unwrap();
    order.apply(&line).unwrap();
    let pay = order
        .take_payment(
            PaymentId(uuid::Uuid::now_v7()),
            Tender::Cash,
            20_000,
            now_ms,
        )
        .unwrap();
    order.apply(&pay).unwrap();
    let close = order.close(now_ms).unwrap();
    [opened, line, pay, close]
        .iter()
        .map(|event| {
            let op = WireOp {
                origin,
                seq: *next_seq,
                hlc: Hlc {
                    wall_ms: now_ms as u64,
                    logical: *next_seq as u32,
                },
                prev_hash: *prev_hash,
                body: OpBody::Order(OrderEventV1::from(event)).encode(),
            };
            *prev_hash = op.chain_hash();
            *next_seq += 1;
            op
        })
        .collect()
}

/// Serves `app` on an ephemeral loopback port (a real HTTP server playing another service's
/// part) on the current runtime; returns its base URL.
pub async fn serve_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A tenant `slug` with outlet `outlet`, and an edge enrolled to it with one paired terminal,
/// not started: its data directory (keep it alive) and the terminal's token. Start it with
/// [`RunningEdge::start`]; add staff or devices to its store first if the test needs them.
pub fn enrolled_outlet(
    driver: &Runtime,
    pool: &sqlx::PgPool,
    hub: &RunningHub,
    slug: &str,
    outlet: &str,
) -> (tempfile::TempDir, String) {
    let code = driver.block_on(tenant_with_outlet(pool, slug, outlet));
    enrolled_edge(driver, hub, &code)
}

/// An edge enrolled with `code` and one paired terminal, not started.
fn enrolled_edge(driver: &Runtime, hub: &RunningHub, code: &str) -> (tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(
        edge_node::store::Store::open(&data.path().join(edge_node::config::STORE_FILE)).unwrap(),
    );
    driver
        .block_on(edge_node::enroll::enroll(
            store,
            &hub.quic.to_string(),
            code,
        ))
        .unwrap();
    let token = pair_terminal(data.path());
    (data, token)
}

/// One call to the hub's API as `token`: its status and JSON body (`Null` when there is none).
pub async fn hub_request(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json::<Value>().await.unwrap_or(Value::Null),
    )
}

/// A treasury callback to the hub for `tenant`, signed with `secret` as the treasury signs.
pub async fn treasury_callback(
    client: &reqwest::Client,
    hub: &RunningHub,
    tenant: &str,
    body: Value,
    secret: &str,
) -> (u16, Value) {
    let raw = serde_json::to_vec(&body).unwrap();
    let signature = cloud_hub::events::signing::sign(secret, edge_node::now_ms() / 1000, &raw);
    let response = client
        .post(hub.url(&format!("/v1/{tenant}/pos/integrations/treasury/events")))
        .header("kibanda-signature", signature)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Another outlet `outlet` of the existing tenant `slug`, with an edge enrolled to it and one
/// paired terminal, not started (see [`enrolled_outlet`]).
pub fn another_enrolled_outlet(
    driver: &Runtime,
    pool: &sqlx::PgPool,
    hub: &RunningHub,
    slug: &str,
    outlet: &str,
) -> (tempfile::TempDir, String) {
    let code = driver.block_on(outlet_with_code(pool, slug, outlet));
    enrolled_edge(driver, hub, &code)
}
