//! The hub's command line (`cloud-hub`). Admin commands act on `DATABASE_URL` directly (applying
//! migrations first) and print their result alone on their last line.
//!
//! It lives in the library so the crash tests can run the very same command line as a child
//! process they kill.

use crate::auth::dev::DevKey;
use crate::config::{AuthConfig, DEFAULT_AUDIENCE, DEFAULT_HTTP, DEFAULT_QUIC, HubConfig};
use crate::services::admin;
use crate::startup::Hub;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "cloud-hub",
    version,
    about = "Kibanda POS hub: tenant API, QUIC sync for edges, PostgreSQL system of record"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Database {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
}

#[derive(Subcommand)]
// Why allowed: parsed once at start; boxing the run flags buys nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the hub: HTTP API and QUIC sync.
    Run {
        #[command(flatten)]
        database: Database,
        /// HTTP API address.
        #[arg(long, env = "KIBANDA_HTTP", default_value = DEFAULT_HTTP)]
        http: SocketAddr,
        /// QUIC sync address (UDP): edges enroll and sync here.
        #[arg(long, env = "KIBANDA_QUIC", default_value = DEFAULT_QUIC)]
        quic: SocketAddr,
        /// The auth service's JWKS URL (production tokens).
        #[arg(long, env = "KIBANDA_JWKS_URL")]
        jwks_url: Option<String>,
        /// Expected `iss` of production tokens.
        #[arg(long, env = "KIBANDA_JWT_ISSUER")]
        jwt_issuer: Option<String>,
        /// Expected `aud` of every token.
        #[arg(long, env = "KIBANDA_JWT_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
        jwt_audience: String,
        /// Accept tokens from `cloud-hub dev-token`. Set to false in production.
        #[arg(long, env = "KIBANDA_ALLOW_DEV_TOKENS", default_value_t = true, action = clap::ArgAction::Set)]
        allow_dev_tokens: bool,
        /// Shortest time between JWKS refetches caused by unknown key ids, in seconds.
        #[arg(long, env = "KIBANDA_JWKS_REFRESH_MIN_SECS", default_value_t = 30)]
        jwks_refresh_min_secs: u64,
        /// NATS server for the JetStream event stream, e.g. nats://127.0.0.1:4222.
        #[arg(long, env = "KIBANDA_NATS_URL")]
        nats_url: Option<String>,
        /// Attempts before a webhook delivery is dead-lettered.
        #[arg(long, env = "KIBANDA_WEBHOOK_ATTEMPTS_MAX", default_value_t = 8)]
        webhook_attempts_max: i32,
        /// First retry delay of a failed webhook delivery (doubles each time), in milliseconds.
        #[arg(long, env = "KIBANDA_WEBHOOK_BACKOFF_BASE_MS", default_value_t = 1_000)]
        webhook_backoff_base_ms: i64,
        /// Allow webhook endpoints on loopback/private networks (local use only).
        #[arg(long, env = "KIBANDA_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
        webhook_allow_private: bool,
        /// Sustained REST requests per second per tenant (beyond it: 429 with Retry-After).
        #[arg(long, env = "KIBANDA_RATE_LIMIT_PER_SEC", default_value_t = 100)]
        rate_limit_per_sec: u32,
        /// REST requests a tenant may send at once before the sustained rate applies.
        #[arg(long, env = "KIBANDA_RATE_LIMIT_BURST", default_value_t = 200)]
        rate_limit_burst: u32,
        /// Sustained REST requests per second per calling device or service (the token's
        /// `sub`), within its tenant's rate.
        #[arg(long, env = "KIBANDA_DEVICE_RATE_LIMIT_PER_SEC", default_value_t = 50)]
        device_rate_limit_per_sec: u32,
        /// REST requests one device may send at once before its sustained rate applies.
        #[arg(long, env = "KIBANDA_DEVICE_RATE_LIMIT_BURST", default_value_t = 100)]
        device_rate_limit_burst: u32,
        /// Most PostgreSQL connections of this hub process.
        #[arg(long, env = "KIBANDA_DB_CONNECTIONS_MAX", default_value_t = 16)]
        db_connections_max: u32,
        /// Ingest writers: each commits the sync batches waiting at that moment as one group
        /// (one transaction), holding one database connection while it works.
        #[arg(long, env = "KIBANDA_INGEST_WRITERS", default_value_t = 2)]
        ingest_writers: usize,
        /// The treasury service's base URL (payments: M-Pesa STK push, card). Unset: payment
        /// requests from tills fail at once with a clear message.
        #[arg(long, env = "KIBANDA_TREASURY_URL")]
        treasury_url: Option<String>,
        /// Shared secret of the treasury's signed callbacks
        /// (`/v1/{tenant}/pos/integrations/treasury/events`).
        #[arg(long, env = "KIBANDA_TREASURY_WEBHOOK_SECRET", hide_env_values = true)]
        treasury_webhook_secret: Option<String>,
        /// How long a payment prompt may wait for the treasury's word before the till is told it
        /// timed out (a later confirmation is still reconciled).
        #[arg(
            long,
            env = "KIBANDA_TREASURY_PROMPT_TIMEOUT_MS",
            default_value_t = 90_000
        )]
        treasury_prompt_timeout_ms: u64,
        /// The notifications service's base URL (`POST /v1/{tenant}/notify`: "your order is
        /// ready" to cloud-order customers). Unset: messages wait in the queue.
        #[arg(long, env = "KIBANDA_NOTIFICATIONS_URL")]
        notifications_url: Option<String>,
        /// The inventory service's base URL (`POST /v1/{tenant}/inventory/consumption` for each
        /// closed sale, `/v1/{tenant}/transfers`). Unset: calls wait in the queue.
        #[arg(long, env = "KIBANDA_INVENTORY_URL")]
        inventory_url: Option<String>,
        /// The secret the inventory service signs its webhooks (`inventory.low_stock`) with.
        #[arg(long, env = "KIBANDA_INVENTORY_WEBHOOK_SECRET", hide_env_values = true)]
        inventory_webhook_secret: Option<String>,
        /// The logistics service's base URL (`POST /v1/{tenant}/handoff/{orderId}` when a
        /// delivery order is ready). Unset: handoffs wait in the queue.
        #[arg(long, env = "KIBANDA_LOGISTICS_URL")]
        logistics_url: Option<String>,
        /// The secret the logistics service signs its webhooks (`logistics.task.assigned`,
        /// `logistics.status.changed`) with.
        #[arg(long, env = "KIBANDA_LOGISTICS_WEBHOOK_SECRET", hide_env_values = true)]
        logistics_webhook_secret: Option<String>,
        /// The master key sealing tenants' provider secrets: `<id>:<base64 of 32 random bytes>`.
        /// Unset: provider secrets cannot be stored.
        #[arg(long, env = "KIBANDA_MASTER_KEY", hide_env_values = true)]
        master_key: Option<String>,
        /// Earlier master keys still opening sealed secrets (comma-separated), during a
        /// rotation: the hub re-wraps every secret under the current key at start.
        #[arg(long, env = "KIBANDA_MASTER_KEY_PREVIOUS", hide_env_values = true)]
        master_key_previous: Option<String>,
        /// The business's tenant registry, asked about tenants and outlets this hub does not
        /// know before anything is created. Unset: unknown ones are not found.
        #[arg(long, env = "KIBANDA_TENANT_REGISTRY_URL")]
        tenant_registry_url: Option<String>,
    },
    /// Tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Outlets.
    Outlet {
        #[command(subcommand)]
        command: OutletCommand,
    },
    /// Print a one-time code an edge uses to enroll (`edge-node enroll`).
    EnrollmentCode {
        #[command(flatten)]
        database: Database,
        /// Tenant slug.
        #[arg(long, env = "KIBANDA_TENANT")]
        tenant: String,
        /// Outlet code.
        #[arg(long, env = "KIBANDA_OUTLET")]
        outlet: String,
        /// Minutes until the code expires.
        #[arg(long, env = "KIBANDA_ENROLLMENT_CODE_TTL_MINUTES", default_value_t = admin::ENROLLMENT_CODE_TTL_MINUTES)]
        ttl_minutes: i64,
    },
    /// Print a DEV-ONLY bearer token for the tenant API.
    DevToken {
        #[command(flatten)]
        database: Database,
        /// Tenant slug.
        #[arg(long, env = "KIBANDA_TENANT")]
        tenant: String,
        /// Role claim, e.g. manager, admin, service.
        #[arg(long, env = "KIBANDA_ROLE")]
        role: String,
        #[arg(long, env = "KIBANDA_JWT_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
        jwt_audience: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Register a tenant by its registry slug.
    Create {
        #[command(flatten)]
        database: Database,
        #[arg(long, env = "KIBANDA_TENANT_SLUG")]
        slug: String,
        #[arg(long, env = "KIBANDA_TENANT_NAME")]
        name: String,
    },
}

#[derive(Subcommand)]
enum OutletCommand {
    /// Register an outlet of a tenant.
    Create {
        #[command(flatten)]
        database: Database,
        /// Tenant slug.
        #[arg(long, env = "KIBANDA_TENANT")]
        tenant: String,
        /// Outlet code from the registry, e.g. nairobi-cbd.
        #[arg(long, env = "KIBANDA_OUTLET_CODE")]
        code: String,
        #[arg(long, env = "KIBANDA_OUTLET_NAME")]
        name: String,
        /// IANA timezone, e.g. Africa/Nairobi.
        #[arg(long, env = "KIBANDA_OUTLET_TIMEZONE")]
        timezone: String,
        /// ISO 4217 currency, e.g. KES.
        #[arg(long, env = "KIBANDA_OUTLET_CURRENCY")]
        currency: String,
    },
}

/// Parses the command line and runs it; the exit code for the process.
pub fn main() -> std::process::ExitCode {
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
    crate::telemetry::init();
    match Cli::parse().command {
        Command::Run {
            database,
            http,
            quic,
            jwks_url,
            jwt_issuer,
            jwt_audience,
            allow_dev_tokens,
            jwks_refresh_min_secs,
            nats_url,
            webhook_attempts_max,
            webhook_backoff_base_ms,
            webhook_allow_private,
            rate_limit_per_sec,
            rate_limit_burst,
            device_rate_limit_per_sec,
            device_rate_limit_burst,
            db_connections_max,
            ingest_writers,
            treasury_url,
            treasury_webhook_secret,
            treasury_prompt_timeout_ms,
            notifications_url,
            inventory_url,
            inventory_webhook_secret,
            logistics_url,
            logistics_webhook_secret,
            master_key,
            master_key_previous,
            tenant_registry_url,
        } => {
            let master_keys = crate::envelope::MasterKeys::parse(
                master_key.as_deref(),
                master_key_previous.as_deref(),
            )?;
            let hub = Hub::build(HubConfig {
                database_url: database.database_url,
                http,
                quic,
                auth: AuthConfig {
                    jwks_url,
                    issuer: jwt_issuer,
                    audience: jwt_audience,
                    allow_dev_tokens,
                    jwks_refresh_min_secs,
                },
                db_connections_max,
                rate_limit_per_sec,
                rate_limit_burst,
                device_rate_limit_per_sec,
                device_rate_limit_burst,
                ingest: crate::sync::GroupCommitConfig {
                    writers: ingest_writers.max(1),
                    ..Default::default()
                },
                treasury: crate::integrations::treasury::TreasuryConfig {
                    base_url: treasury_url,
                    webhook_secret: treasury_webhook_secret,
                    prompt_timeout: std::time::Duration::from_millis(treasury_prompt_timeout_ms),
                    ..Default::default()
                },
                notifications: crate::integrations::notifications::NotificationsConfig {
                    base_url: notifications_url,
                    ..Default::default()
                },
                services: crate::integrations::services::ServicesConfig {
                    inventory_url,
                    inventory_webhook_secret,
                    logistics_url,
                    logistics_webhook_secret,
                    ..Default::default()
                },
                master_keys,
                tenant_registry_url,
                events: crate::config::EventsConfig {
                    nats_url,
                    webhooks: crate::events::webhooks::WebhookSettings {
                        attempts_max: webhook_attempts_max,
                        backoff_base_ms: webhook_backoff_base_ms,
                        ..Default::default()
                    },
                    webhook_allow_private,
                },
            })
            .await?;
            tracing::info!(http = %hub.http_addr()?, quic = %hub.quic_addr()?, "hub listening");
            println!(
                "Kibanda hub: HTTP on {}, QUIC sync on {}",
                hub.http_addr()?,
                hub.quic_addr()?
            );
            hub.run().await
        }
        Command::Tenant {
            command:
                TenantCommand::Create {
                    database,
                    slug,
                    name,
                },
        } => {
            let pool = connect(&database).await?;
            let tenant = admin::create_tenant(&pool, &slug, &name).await?;
            println!("created tenant {} ({})", tenant.slug, tenant.id.0);
            println!("{}", tenant.slug);
            Ok(())
        }
        Command::Outlet {
            command:
                OutletCommand::Create {
                    database,
                    tenant,
                    code,
                    name,
                    timezone,
                    currency,
                },
        } => {
            let pool = connect(&database).await?;
            let outlet =
                admin::create_outlet(&pool, &tenant, &code, &name, &timezone, &currency).await?;
            println!(
                "created outlet {} of {} ({}, {}, {})",
                outlet.code, tenant, outlet.name, outlet.timezone, outlet.currency
            );
            println!("{}", outlet.code);
            Ok(())
        }
        Command::EnrollmentCode {
            database,
            tenant,
            outlet,
            ttl_minutes,
        } => {
            if !(1..=7 * 24 * 60).contains(&ttl_minutes) {
                anyhow::bail!("--ttl-minutes must be between 1 and 10080 (a week)");
            }
            let pool = connect(&database).await?;
            let (code, expires_at) = admin::create_enrollment_code(
                &pool,
                &tenant,
                &outlet,
                time::Duration::minutes(ttl_minutes),
            )
            .await?;
            println!("one-time enrollment code for {tenant}/{outlet}, valid until {expires_at}:");
            println!("{}", code.display());
            Ok(())
        }
        Command::DevToken {
            database,
            tenant,
            role,
            jwt_audience,
        } => {
            let pool = connect(&database).await?;
            admin::find_tenant(&pool, &tenant).await?;
            let key = DevKey::load_or_create(&pool).await?;
            let token = key.mint(&tenant, &role, &jwt_audience, crate::now_ms() / 1000)?;
            eprintln!(
                "DEV-ONLY token for tenant {tenant}, role {role} (valid 12 h; refused when KIBANDA_ALLOW_DEV_TOKENS=false):"
            );
            println!("{token}");
            Ok(())
        }
    }
}

async fn connect(database: &Database) -> anyhow::Result<sqlx::PgPool> {
    Ok(crate::store::connect(&database.database_url, 2).await?)
}
