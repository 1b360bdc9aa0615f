//! Building and running the edge: open the store, seed the demo catalog, serve the LAN API and
//! run the sync client beside it.

use crate::api::{self, AppState};
use crate::config::EdgeConfig;
use crate::printers::queue::PrintQueueLimits;
use crate::store::Store;
use crate::sync::SyncState;
use shared_model::{CatalogItem, Currency};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct App {
    pub state: AppState,
    pub listener: TcpListener,
    pub catalog: Vec<CatalogItem>,
    pub seeded_demo_catalog: bool,
    config: EdgeConfig,
    outlet_id: Option<uuid::Uuid>,
}

impl App {
    /// Opens the store and binds the LAN listener; a bad data dir or a taken port fails here.
    pub async fn build(config: EdgeConfig) -> anyhow::Result<App> {
        let store_path = config.store_path();
        let store = Arc::new(tokio::task::spawn_blocking(move || Store::open(&store_path)).await??);
        let (seeded_demo_catalog, catalog) = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                crate::services::catalog::seed_demo_if_empty(&store)
            })
            .await??
        };
        let enrollment = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.enrollment()).await??
        };
        let currency = match &enrollment {
            Some(enrollment) => Currency::parse(&enrollment.currency)?,
            None => Currency::kes(),
        };
        let outlet_id = enrollment.as_ref().map(|enrollment| enrollment.outlet_id);
        let outlet_name: Arc<str> = match &enrollment {
            Some(enrollment) => enrollment.outlet_name.as_str().into(),
            None => "Kibanda demo outlet".into(),
        };
        let mut state = AppState::new(store, currency, outlet_name, PrintQueueLimits::default())?;
        state.staff_idle_timeout_ms = config.staff_idle_timeout_ms;
        state.sync = Arc::new(SyncState::with_ack_timeout_ms(config.ack_timeout_ms));
        state.sync.attach_events(state.events.clone());
        let listener = TcpListener::bind(config.listen).await?;
        Ok(App {
            state,
            listener,
            catalog,
            seeded_demo_catalog,
            config,
            outlet_id,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends (or the future is dropped).
    pub async fn run(self) -> anyhow::Result<()> {
        let sync_task = tokio::spawn(crate::sync::run(
            self.state.store.clone(),
            self.state.sync.clone(),
            self.config.reconnect_backoff_max_ms,
        ));
        let print_task = tokio::spawn(self.state.printing.queue().clone().run());
        // Kept alive while serving; dropping it says goodbye on the LAN. A LAN without
        // multicast still works for terminals configured with the address, so a failure here
        // is a warning, not a reason to stay down.
        let _advertisement = match (self.config.mdns, self.listener.local_addr()) {
            (true, Ok(addr)) => match crate::discovery::advertise(
                self.state.store.node_id(),
                self.outlet_id,
                &self.state.outlet_name,
                addr.port(),
            ) {
                Ok(advertisement) => Some(advertisement),
                Err(error) => {
                    tracing::warn!(%error, "mDNS advertisement failed; terminals need the address");
                    None
                }
            },
            _ => None,
        };
        let router = api::router(self.state);
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await;
        sync_task.abort();
        print_task.abort();
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
