//! Prometheus metrics: one recorder per process, rendered at `/metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once (tests start many hubs in one process) and returns its handle.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|_| handle)
        })
        .clone()
}

pub const OPS_INGESTED: &str = "kibanda_sync_ops_ingested_total";
pub const BATCHES_INGESTED: &str = "kibanda_sync_batches_total";
pub const SYNC_CONNECTIONS: &str = "kibanda_sync_connections_total";
pub const SYNC_REJECTS: &str = "kibanda_sync_rejects_total";
/// Batches committed together in one ingest transaction (group commit).
pub const INGEST_GROUP_BATCHES: &str = "kibanda_sync_ingest_group_batches";
/// Ops the projector projected after they were acknowledged (a backlog's).
pub const OPS_PROJECTED_LATE: &str = "kibanda_sync_ops_projected_late_total";
/// Devices with stored ops not yet projected, and how many ops (0 when the projector is idle).
pub const PROJECTION_LAG_DEVICES: &str = "kibanda_sync_projection_lag_devices";
pub const PROJECTION_LAG_OPS: &str = "kibanda_sync_projection_lag_ops";
pub const HTTP_REQUESTS: &str = "kibanda_http_requests_total";
pub const HTTP_LATENCY: &str = "kibanda_http_request_duration_seconds";
