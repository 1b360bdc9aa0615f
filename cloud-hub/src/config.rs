//! Typed settings of the hub, resolved once at start-up.

use std::net::SocketAddr;

pub const DEFAULT_HTTP: &str = "0.0.0.0:4100";
pub const DEFAULT_QUIC: &str = "0.0.0.0:4101";
/// Issuer and audience of dev tokens minted by `cloud-hub dev-token`.
pub const DEV_TOKEN_ISSUER: &str = "kibanda-hub-dev";
pub const DEFAULT_AUDIENCE: &str = "kibanda-pos";

#[derive(Debug, Clone)]
pub struct HubConfig {
    pub database_url: String,
    pub http: SocketAddr,
    pub quic: SocketAddr,
    pub auth: AuthConfig,
    /// Most database connections. Why 16: the hub's work is short transactions; Postgres on a
    /// small box serves best with few connections per hub replica.
    pub db_connections_max: u32,
    pub events: EventsConfig,
    /// Sustained requests per second per tenant on the REST API.
    pub rate_limit_per_sec: u32,
    /// Requests a tenant may send at once before the sustained rate applies.
    pub rate_limit_burst: u32,
    /// Sustained requests per second per calling device or service (the token's `sub`).
    pub device_rate_limit_per_sec: u32,
    /// Requests one device may send at once before its sustained rate applies.
    pub device_rate_limit_burst: u32,
    /// How sync batches are group-committed.
    pub ingest: crate::sync::GroupCommitConfig,
    /// The treasury service: payments (M-Pesa STK, card) and its signed callbacks.
    pub treasury: crate::integrations::treasury::TreasuryConfig,
    /// The notifications service (SMS, email, push to customers).
    pub notifications: crate::integrations::notifications::NotificationsConfig,
    /// The inventory and logistics services, and the secrets of their webhooks.
    pub services: crate::integrations::services::ServicesConfig,
    /// Master keys sealing tenants' provider secrets.
    pub master_keys: crate::envelope::MasterKeys,
    /// The business's tenant registry (`GET /tenants/{slug}`, `/tenants/{slug}/outlets/{code}`),
    /// asked about tenants and outlets the hub does not know; `None`: unknown ones are 404.
    pub tenant_registry_url: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EventsConfig {
    /// NATS server for JetStream publication; `None` publishes to webhooks only.
    pub nats_url: Option<String>,
    pub webhooks: crate::events::webhooks::WebhookSettings,
    /// Allow webhook URLs on loopback and private networks. Off in production: a tenant must not
    /// make the hub call into its own network (SSRF).
    pub webhook_allow_private: bool,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The auth service's JWKS URL. `None`: only dev tokens (if allowed) are accepted.
    pub jwks_url: Option<String>,
    /// Expected `iss` of tokens from the JWKS.
    pub issuer: Option<String>,
    /// Expected `aud`.
    pub audience: String,
    /// Accept tokens minted by `cloud-hub dev-token`. Turn off in production.
    pub allow_dev_tokens: bool,
    /// Shortest time between two JWKS fetches triggered by unknown key ids.
    pub jwks_refresh_min_secs: u64,
}

impl AuthConfig {
    /// Dev tokens only: the embedded default for local use and tests.
    pub fn dev_only() -> AuthConfig {
        AuthConfig {
            jwks_url: None,
            issuer: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            allow_dev_tokens: true,
            jwks_refresh_min_secs: 30,
        }
    }
}
