//! mDNS advertisement: terminals on the shop's LAN find the edge without configuration.
//!
//! The edge registers one `_kibanda._tcp` service instance named after its node id, on every
//! interface, with TXT records that tell a terminal what it found: the outlet, the node and the
//! LAN API's port and protocol version. Browsing is the terminals' business; the edge only
//! answers.

use mdns_sd::{ServiceDaemon, ServiceInfo};
use std::collections::HashMap;
use uuid::Uuid;

/// The DNS-SD service type the edge advertises.
pub const SERVICE_TYPE: &str = "_kibanda._tcp.local.";
/// TXT `api` value: the LAN API generation, so a terminal can refuse an edge it cannot talk to.
pub const LAN_API_VERSION: &str = "1";
/// Longest outlet name put in TXT. Why 63: one TXT string is at most 255 bytes, and a short
/// name keeps the whole record in one small multicast packet.
pub const TXT_OUTLET_NAME_CHARS_MAX: usize = 63;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

/// What the edge says about itself in its TXT records.
pub fn txt_records(
    node_id: Uuid,
    outlet_id: Option<Uuid>,
    outlet_name: &str,
    port: u16,
) -> HashMap<String, String> {
    let mut records = HashMap::from([
        ("node".to_owned(), node_id.to_string()),
        ("port".to_owned(), port.to_string()),
        ("api".to_owned(), LAN_API_VERSION.to_owned()),
        (
            "name".to_owned(),
            outlet_name
                .chars()
                .take(TXT_OUTLET_NAME_CHARS_MAX)
                .collect(),
        ),
    ]);
    // An edge not yet enrolled has no outlet; terminals then show it as "unenrolled".
    if let Some(outlet_id) = outlet_id {
        records.insert("outlet".to_owned(), outlet_id.to_string());
    }
    records
}

/// A running advertisement; dropping it withdraws the service and stops the responder.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Advertisement {
    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

/// Starts answering mDNS queries for this edge on every interface.
pub fn advertise(
    node_id: Uuid,
    outlet_id: Option<Uuid>,
    outlet_name: &str,
    port: u16,
) -> Result<Advertisement, DiscoveryError> {
    let daemon = ServiceDaemon::new()?;
    let instance = format!("kibanda-edge-{}", node_id.simple());
    let host_name = format!("{instance}.local.");
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        &instance,
        &host_name,
        "",
        port,
        txt_records(node_id, outlet_id, outlet_name, port),
    )?
    .enable_addr_auto();
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    Ok(Advertisement { daemon, fullname })
}

impl Drop for Advertisement {
    fn drop(&mut self) {
        // Best effort: a goodbye packet lets terminals forget the edge at once; if the daemon is
        // already gone the records simply expire.
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_records_name_the_outlet_node_port_and_api_version() {
        let node = Uuid::from_u128(1);
        let outlet = Uuid::from_u128(2);
        let records = txt_records(node, Some(outlet), &"x".repeat(100), 4200);
        assert_eq!(records["outlet"], outlet.to_string());
        assert_eq!(records["node"], node.to_string());
        assert_eq!(records["port"], "4200");
        assert_eq!(records["api"], LAN_API_VERSION);
        assert_eq!(records["name"].chars().count(), TXT_OUTLET_NAME_CHARS_MAX);
        assert!(!txt_records(node, None, "", 4200).contains_key("outlet"));
    }
}
