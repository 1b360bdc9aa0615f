//! Typed settings of the edge node, resolved once at start-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default LAN address: every interface, port 4200, so terminals on the shop's network reach it.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:4200";
/// File name of the SQLite store inside the data directory.
pub const STORE_FILE: &str = "edge.sqlite";

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Longest wait between reconnect attempts to the hub. Why 5 s by default: a hub that comes
    /// back is reached within the 10 s the spine promises, even counting jitter and handshake.
    pub reconnect_backoff_max_ms: u64,
    /// How long sent ops may wait for the hub's ack before the edge reconnects to learn their
    /// outcome (see [`crate::sync::ACK_TIMEOUT_MS`]).
    pub ack_timeout_ms: u64,
    /// A staff session that has not heartbeated for this long is signed out.
    pub staff_idle_timeout_ms: i64,
    /// Advertise the LAN API over mDNS (`_kibanda._tcp`) so terminals find it unconfigured.
    pub mdns: bool,
}

impl EdgeConfig {
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join(STORE_FILE)
    }
}

/// The platform data directory (e.g. `~/.local/share/kibanda-edge` on Linux).
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("io", "Kibanda", "kibanda-edge")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .unwrap_or_else(|| Path::new(".kibanda-edge").to_path_buf())
}
