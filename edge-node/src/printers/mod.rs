//! Printers on the LAN: a small ESC/POS encoder and the persisted print queue's worker that
//! sends jobs to raw TCP sockets (port 9100), retrying printers that are off.

pub mod escpos;
pub mod queue;

/// The raw printing port of network thermal printers (HP JetDirect / "port 9100" printing).
pub const RAW_PRINT_PORT: u16 = 9100;
