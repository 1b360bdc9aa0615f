//! mDNS: a browser on this host finds the edge's `_kibanda._tcp` service with its TXT records.
#![allow(clippy::unwrap_used)]

use edge_node::discovery::{SERVICE_TYPE, advertise};
use mdns_sd::{ServiceDaemon, ServiceEvent};
use std::time::Duration;
use uuid::Uuid;

/// How long to wait for the multicast answer before failing. Why 10 s: mDNS queries back off
/// over the first seconds; on loopback the answer takes milliseconds.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn a_terminal_browsing_the_lan_finds_the_edge_with_its_outlet_and_port() {
    let node = Uuid::now_v7();
    let outlet = Uuid::now_v7();
    let advertisement = advertise(node, Some(outlet), "Kibanda Westlands", 4242).unwrap();
    let browser = ServiceDaemon::new().unwrap();
    let events = browser.browse(SERVICE_TYPE).unwrap();
    let deadline = std::time::Instant::now() + RESOLVE_TIMEOUT;
    let resolved = loop {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        match events.recv_timeout(remaining).unwrap() {
            ServiceEvent::ServiceResolved(service)
                if service.get_fullname() == advertisement.fullname() =>
            {
                break service;
            }
            _ => continue,
        }
    };
    assert_eq!(resolved.get_port(), 4242);
    assert_eq!(
        resolved.get_property_val_str("outlet"),
        Some(outlet.to_string().as_str())
    );
    assert_eq!(
        resolved.get_property_val_str("node"),
        Some(node.to_string().as_str())
    );
    assert_eq!(resolved.get_property_val_str("port"), Some("4242"));
    let _ = browser.shutdown();
}
