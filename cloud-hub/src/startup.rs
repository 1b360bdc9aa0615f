//! Building and running the hub: connect and migrate, load the CA and keys, bind HTTP and QUIC.

use crate::api::{self, AppState};
use crate::auth::Authenticator;
use crate::auth::dev::DevKey;
use crate::config::HubConfig;
use crate::integrations::payments::PaymentWorker;
use crate::integrations::treasury::HttpTreasury;
use crate::pki::HubCa;
use crate::sync::{Faults, FeedNotifier, SyncServer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Hub {
    pub pool: sqlx::PgPool,
    pub faults: Arc<Faults>,
    listener: TcpListener,
    endpoint: quinn::Endpoint,
    state: AppState,
    sync: SyncServer,
    dispatcher: crate::events::dispatcher::Dispatcher,
    webhook_worker: crate::events::webhooks::WebhookWorker,
    payment_worker: PaymentWorker<HttpTreasury>,
    notification_worker: crate::integrations::notifications::NotificationWorker,
    service_call_worker: crate::integrations::services::ServiceCallWorker,
}

impl Hub {
    /// Everything that can fail at start fails here: database, migrations, ports, keys.
    pub async fn build(config: HubConfig) -> anyhow::Result<Hub> {
        sync_protocol::quic::install_crypto_provider();
        let _ = crate::metrics::handle();
        let pool = crate::store::connect(&config.database_url, config.db_connections_max).await?;
        let ca = Arc::new(HubCa::load_or_create(&pool, &config.master_keys).await?);
        let dev_key = DevKey::load_or_create(&pool).await?;
        if config.auth.allow_dev_tokens {
            tracing::warn!(
                "dev tokens are accepted (KIBANDA_ALLOW_DEV_TOKENS=true); turn off in production"
            );
        }
        let auth = Arc::new(Authenticator::new(config.auth.clone(), Some(&dev_key)));
        let (chain, key) = ca.issue_server_cert()?;
        let server_config = sync_protocol::quic::server_config(chain, key, ca.cert_der())?;
        let endpoint = quinn::Endpoint::server(server_config, config.quic)?;
        let listener = TcpListener::bind(config.http).await?;
        let jetstream = match &config.events.nats_url {
            Some(url) => Some(crate::events::dispatcher::connect_jetstream(url).await?),
            None => {
                tracing::warn!("no NATS configured (KIBANDA_NATS_URL): events go to webhooks only");
                None
            }
        };
        let dispatcher = crate::events::dispatcher::Dispatcher {
            pool: pool.clone(),
            jetstream,
        };
        let webhook_worker = crate::events::webhooks::WebhookWorker::new(
            pool.clone(),
            config.master_keys.clone(),
            config.events.webhooks.clone(),
        );
        let treasury = match &config.treasury.base_url {
            Some(url) => Some(Arc::new(HttpTreasury::new(url, &config.treasury)?)),
            None => {
                tracing::warn!(
                    "no treasury configured (KIBANDA_TREASURY_URL): card and M-Pesa prompts from tills will fail"
                );
                None
            }
        };
        let notifier = config.notifications.client()?.map(Arc::new);
        if notifier.is_none() {
            tracing::warn!(
                "no notifications service configured (KIBANDA_NOTIFICATIONS_URL): customer messages wait in the queue"
            );
        }
        let notification_worker = crate::integrations::notifications::NotificationWorker {
            pool: pool.clone(),
            notifier,
            config: config.notifications.clone(),
        };
        let mut services = config.services.clone();
        if services.treasury_url.is_none() {
            services.treasury_url = config.treasury.base_url.clone();
        }
        let service_call_worker =
            crate::integrations::services::ServiceCallWorker::new(pool.clone(), &services)?;
        let payment_worker = PaymentWorker {
            pool: pool.clone(),
            treasury,
            config: config.treasury.clone(),
        };
        // After a master-key rotation, re-wrap every provider's data key under the new key.
        let rewrapped = crate::store::providers::rewrap_all(&pool, &config.master_keys)
            .await
            .map_err(|e| anyhow::anyhow!("re-wrapping provider secrets: {e}"))?;
        if rewrapped > 0 {
            tracing::info!(
                rewrapped,
                "provider secrets re-wrapped under the current master key"
            );
        }
        let sealed = crate::store::webhooks::seal_secrets(&pool, &config.master_keys).await?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "webhook secrets sealed under the current master key"
            );
        }
        let faults = Arc::new(Faults::default());
        let feed = FeedNotifier::start(&pool).await?;
        Ok(Hub {
            sync: SyncServer {
                pool: pool.clone(),
                ca,
                faults: faults.clone(),
                feed,
                ingest: crate::sync::IngestQueue::start(pool.clone(), config.ingest),
            },
            state: AppState {
                pool: pool.clone(),
                auth,
                webhook_allow_private: config.events.webhook_allow_private,
                treasury_webhook_secret: config.treasury.webhook_secret.as_deref().map(Arc::from),
                inventory_webhook_secret: config
                    .services
                    .inventory_webhook_secret
                    .as_deref()
                    .map(Arc::from),
                logistics_webhook_secret: config
                    .services
                    .logistics_webhook_secret
                    .as_deref()
                    .map(Arc::from),
                master_keys: Arc::new(config.master_keys.clone()),
                registry: match &config.tenant_registry_url {
                    Some(url) => Some(Arc::new(
                        crate::integrations::registry::TenantRegistry::new(url)?,
                    )),
                    None => None,
                },
                rate_limiter: Arc::new(crate::api::middleware::RateLimiter::new(
                    config.rate_limit_per_sec,
                    config.rate_limit_burst,
                )),
                device_rate_limiter: Arc::new(crate::api::middleware::RateLimiter::new(
                    config.device_rate_limit_per_sec,
                    config.device_rate_limit_burst,
                )),
            },
            dispatcher,
            webhook_worker,
            payment_worker,
            notification_worker,
            service_call_worker,
            pool,
            faults,
            listener,
            endpoint,
        })
    }

    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn quic_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Serves until the process is asked to stop (or the future is dropped).
    pub async fn run(self) -> anyhow::Result<()> {
        let endpoint = self.endpoint.clone();
        let sync_task = tokio::spawn(self.sync.serve(self.endpoint));
        let dispatcher_task = tokio::spawn(self.dispatcher.run());
        let webhook_task = tokio::spawn(self.webhook_worker.run());
        let payment_task = tokio::spawn(self.payment_worker.run());
        let notification_task = tokio::spawn(self.notification_worker.run());
        let service_call_task = tokio::spawn(self.service_call_worker.run());
        let served = axum::serve(self.listener, api::router(self.state))
            .with_graceful_shutdown(shutdown_signal())
            .await;
        endpoint.close(0_u32.into(), b"hub shutting down");
        sync_task.abort();
        dispatcher_task.abort();
        webhook_task.abort();
        payment_task.abort();
        notification_task.abort();
        service_call_task.abort();
        served?;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
