//! `edge-node`: the outlet daemon's command line.

use anyhow::Context;
use clap::{Parser, Subcommand};
use edge_node::config::{DEFAULT_LISTEN, EdgeConfig, default_data_dir};
use edge_node::startup::App;
use edge_node::store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "edge-node",
    version,
    about = "Kibanda POS outlet node: serves terminals on the LAN and syncs with the hub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the outlet node: LAN API for terminals, sync with the hub when enrolled.
    Run {
        /// Where the SQLite store lives (default: the platform data directory).
        #[arg(long, env = "KIBANDA_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// LAN address for terminals.
        #[arg(long, env = "KIBANDA_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Longest wait between reconnect attempts to the hub, in milliseconds.
        #[arg(
            long,
            env = "KIBANDA_RECONNECT_BACKOFF_MAX_MS",
            default_value_t = 5_000
        )]
        reconnect_backoff_max_ms: u64,
        /// How long sent ops may wait for the hub's ack before reconnecting to learn their
        /// outcome, in milliseconds.
        #[arg(long, env = "KIBANDA_ACK_TIMEOUT_MS", default_value_t = edge_node::sync::ACK_TIMEOUT_MS)]
        ack_timeout_ms: u64,
        /// Sign a staff member out after this long without a heartbeat, in milliseconds.
        #[arg(
            long,
            env = "KIBANDA_STAFF_IDLE_TIMEOUT_MS",
            default_value_t = edge_node::services::staff::SESSION_IDLE_TIMEOUT_MS_DEFAULT
        )]
        staff_idle_timeout_ms: i64,
        /// Advertise the LAN API over mDNS (`_kibanda._tcp`) so terminals find the edge.
        #[arg(long, env = "KIBANDA_MDNS", default_value_t = true, action = clap::ArgAction::Set)]
        mdns: bool,
    },
    /// Enroll with a hub using a one-time code from `cloud-hub enrollment-code`.
    Enroll {
        /// The hub's sync address (QUIC, UDP), e.g. hub.example.com:4101.
        #[arg(long, env = "KIBANDA_HUB")]
        hub: String,
        /// The one-time enrollment code.
        #[arg(long, env = "KIBANDA_ENROLLMENT_CODE")]
        code: String,
        #[arg(long, env = "KIBANDA_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Wipe this edge's store. Refused while sales have not reached the hub, unless they are
    /// exported first (`--export FILE --force`).
    Wipe {
        #[arg(long, env = "KIBANDA_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Write every op the hub has not acknowledged to this file (JSON lines) first.
        #[arg(long)]
        export: Option<PathBuf>,
        /// Confirm wiping a store that holds un-synced ops (only together with --export).
        #[arg(long)]
        force: bool,
    },
    /// Create a staff member on this box (e.g. the first manager of a box never online).
    AddStaff {
        /// The name shown on terminals and receipts.
        #[arg(long, env = "KIBANDA_STAFF_NAME")]
        name: String,
        /// cashier, bartender, server, kitchen, supervisor, manager or inventory_clerk.
        #[arg(long, env = "KIBANDA_STAFF_ROLE")]
        role: String,
        /// 4 to 8 digits; stored only as an argon2 hash.
        #[arg(long, env = "KIBANDA_STAFF_PIN")]
        pin: String,
        #[arg(long, env = "KIBANDA_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Pair a terminal: prints the bearer token it must send to the LAN API.
    PairDevice {
        /// A name for the terminal, e.g. "till-1".
        #[arg(long, env = "KIBANDA_DEVICE_NAME")]
        name: String,
        #[arg(long, env = "KIBANDA_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line an operator can act on, with its causes; no backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    edge_node::telemetry::init();
    match Cli::parse().command {
        Command::Run {
            data_dir,
            listen,
            reconnect_backoff_max_ms,
            ack_timeout_ms,
            staff_idle_timeout_ms,
            mdns,
        } => {
            let config = EdgeConfig {
                data_dir: data_dir.unwrap_or_else(default_data_dir),
                listen,
                reconnect_backoff_max_ms,
                ack_timeout_ms,
                staff_idle_timeout_ms,
                mdns,
            };
            let store_path = config.store_path();
            let app = App::build(config).await?;
            println!("Kibanda edge node");
            println!("  store:    {}", store_path.display());
            println!("  LAN API:  http://{}", app.local_addr()?);
            println!("  node id:  {}", app.state.store.node_id());
            if app.seeded_demo_catalog {
                println!("  seeded the demo catalog (the store was empty)");
            }
            println!("Catalog:");
            for item in &app.catalog {
                println!(
                    "  {:<16} {:<22} {:>10}",
                    item.id.0,
                    item.name,
                    shared_model::Money::new(item.price_minor, shared_model::Currency::kes())
                        .to_string()
                );
            }
            println!("Pair a terminal with: edge-node pair-device --name till-1");
            println!(
                "Create the first manager with: edge-node add-staff --name NAME --role manager --pin PIN"
            );
            app.run().await
        }
        Command::Enroll {
            hub,
            code,
            data_dir,
        } => {
            let store = open_store(data_dir)?;
            let enrollment = edge_node::enroll::enroll(store, &hub, &code).await?;
            println!(
                "enrolled: tenant {} outlet {} ({}), syncing with {}",
                enrollment.tenant_slug,
                enrollment.outlet_code,
                enrollment.outlet_name,
                enrollment.hub_addr
            );
            Ok(())
        }
        Command::Wipe {
            data_dir,
            export,
            force,
        } => {
            let dir = data_dir.unwrap_or_else(default_data_dir);
            let outcome = edge_node::services::wipe::wipe(&dir, export.as_deref(), force)?;
            println!(
                "wiped {} ({} un-synced ops exported)",
                dir.display(),
                outcome.exported_ops
            );
            Ok(())
        }
        Command::AddStaff {
            name,
            role,
            pin,
            data_dir,
        } => {
            let store = open_store(data_dir)?;
            let member = edge_node::services::staff::create_staff(
                &store,
                &name,
                &role,
                &pin,
                edge_node::now_ms(),
            )?;
            println!(
                "added {} ({}) with id {}",
                member.name,
                member.role.as_str(),
                member.id
            );
            Ok(())
        }
        Command::PairDevice { name, data_dir } => {
            let store = open_store(data_dir)?;
            let (device, token) =
                edge_node::services::devices::pair(&store, &name, edge_node::now_ms())?;
            eprintln!(
                "paired device {} ({}); send this as 'Authorization: Bearer <token>':",
                device.name, device.id
            );
            println!("{token}");
            Ok(())
        }
    }
}

fn open_store(data_dir: Option<PathBuf>) -> anyhow::Result<Arc<Store>> {
    let path = data_dir
        .unwrap_or_else(default_data_dir)
        .join(edge_node::config::STORE_FILE);
    let store = Store::open(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(store))
}
