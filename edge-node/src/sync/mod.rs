//! The edge's sync client: streams the op log to the hub over QUIC whenever it can.
//!
//! It runs beside the LAN API and never blocks it. When the hub is unreachable it retries
//! with exponential backoff and jitter, capped so a returning hub is reached quickly.

use crate::api::dto::SyncStatusDto;
use crate::store::{Enrollment, Store, StoreError};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sync_protocol::Message;
use sync_protocol::quic::{self, DriverError, HUB_SERVER_NAME};
use sync_protocol::session::{SessionError, UpstreamEvent, UpstreamSession};
use thiserror::Error;
use tokio::sync::Notify;

/// First reconnect delay.
pub const BACKOFF_INITIAL_MS: u64 = 200;
/// How long to wait for the QUIC handshake. Why 5 s: a healthy hub answers in milliseconds;
/// longer means it is not there, and the backoff loop should try again.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Heartbeat interval on an idle sync stream.
pub const HEARTBEAT_INTERVAL_MS: u64 = 5_000;
/// An un-synced op older than this raises the backlog alert. Why 1 h: a shop can ride out a
/// short outage, but an hour of sales not at the hub is worth a manager's attention.
pub const BACKLOG_ALERT_AGE_MS: i64 = 3_600_000;
/// How long ops may stay sent-but-unacknowledged (or the Welcome may take) before the edge
/// treats their outcome as unknown and reconnects: the hub's Welcome then says exactly how far
/// it got, and only the rest is re-sent. Why 15 s: three heartbeats; far above a healthy batch.
pub const ACK_TIMEOUT_MS: u64 = 15_000;
/// How often an edge that is not enrolled looks again (enrollment runs as its own command).
pub const ENROLLMENT_POLL_MS: u64 = 1_000;

/// Shared between the sync loop and the API.
pub struct SyncState {
    ack_timeout_ms: u64,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    new_ops: Notify,
    /// Told when applying the feed wrote live-stream events (a cloud order arrived).
    events: std::sync::OnceLock<Arc<crate::services::stream::EventBus>>,
}

impl Default for SyncState {
    fn default() -> Self {
        SyncState::with_ack_timeout_ms(ACK_TIMEOUT_MS)
    }
}

impl SyncState {
    pub fn with_ack_timeout_ms(ack_timeout_ms: u64) -> SyncState {
        SyncState {
            ack_timeout_ms,
            connected: AtomicBool::new(false),
            last_error: Mutex::new(None),
            new_ops: Notify::new(),
            events: std::sync::OnceLock::new(),
        }
    }

    /// Lets the sync loop wake the live stream's readers after it applied the feed.
    pub fn attach_events(&self, events: Arc<crate::services::stream::EventBus>) {
        let _already_attached = self.events.set(events);
    }

    /// Wakes the sync loop: new ops are in the log.
    pub fn notify_new_ops(&self) {
        self.new_ops.notify_one();
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot resolve hub address {0}")]
    Resolve(String),
    #[error("timed out connecting to the hub")]
    ConnectTimeout,
    #[error("hub closed the sync stream")]
    StreamClosed,
    #[error("{ops} ops sent without an answer from the hub; reconnecting to learn their outcome")]
    OutcomeUnknown { ops: u64 },
    #[error("feed entry from the hub cannot be read: {0}")]
    Feed(sync_protocol::op::OpDecodeError),
}

pub async fn status(store: Arc<Store>, state: Arc<SyncState>) -> Result<SyncStatusDto, StoreError> {
    let (enrollment, outbox, feed_through_seq) = crate::services::blocking({
        let store = store.clone();
        move || {
            Ok((
                store.enrollment()?,
                store.outbox_status()?,
                store.feed_through_seq()?,
            ))
        }
    })
    .await?;
    let oldest_pending_age_ms = outbox
        .oldest_pending_at_ms
        .map(|at| (crate::now_ms() - at).max(0));
    if let Some(age) = oldest_pending_age_ms.filter(|age| *age > BACKLOG_ALERT_AGE_MS) {
        tracing::warn!(
            age_ms = age,
            "sync backlog is old: sales have not reached the hub"
        );
    }
    Ok(SyncStatusDto {
        enrolled: enrollment.is_some(),
        connected: state.is_connected(),
        hub: enrollment.map(|e| e.hub_addr),
        node_id: store.node_id().to_string(),
        ops_pending: outbox.last_seq - outbox.acked_through_seq.min(outbox.last_seq),
        last_seq: outbox.last_seq,
        last_acked_seq: outbox.acked_through_seq,
        oldest_pending_age_ms,
        backlog_alert: oldest_pending_age_ms.is_some_and(|age| age > BACKLOG_ALERT_AGE_MS),
        last_error: state.last_error(),
        feed_through_seq,
    })
}

/// Runs forever: connect, stream, back off, repeat.
pub async fn run(store: Arc<Store>, state: Arc<SyncState>, backoff_max_ms: u64) {
    quic::install_crypto_provider();
    let mut attempt: u32 = 0;
    loop {
        let enrollment = match crate::services::blocking({
            let store = store.clone();
            move || store.enrollment()
        })
        .await
        {
            Ok(Some(enrollment)) => enrollment,
            Ok(None) => {
                tokio::time::sleep(Duration::from_millis(ENROLLMENT_POLL_MS)).await;
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "cannot read enrollment");
                tokio::time::sleep(Duration::from_millis(backoff_max_ms)).await;
                continue;
            }
        };
        let outcome = sync_once(&store, &state, &enrollment, &mut attempt).await;
        state.connected.store(false, Ordering::Relaxed);
        match outcome {
            Ok(()) => state.set_error(None),
            Err(error) => {
                tracing::warn!(%error, hub = %enrollment.hub_addr, "sync connection ended");
                state.set_error(Some(error.to_string()));
            }
        }
        let delay_ms = backoff_delay_ms(attempt, backoff_max_ms);
        attempt = attempt.saturating_add(1);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
}

/// Exponential backoff with full jitter in the upper half, capped at `max_ms`.
pub fn backoff_delay_ms(attempt: u32, max_ms: u64) -> u64 {
    let ceiling = BACKOFF_INITIAL_MS
        .saturating_mul(1_u64 << attempt.min(16))
        .min(max_ms.max(1));
    rand::rng().random_range(ceiling / 2..=ceiling)
}

async fn resolve(addr: &str) -> Result<SocketAddr, SyncError> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|_| SyncError::Resolve(addr.to_owned()))?
        .next()
        .ok_or_else(|| SyncError::Resolve(addr.to_owned()))
}

/// Binds a client endpoint of the right address family for `remote`.
pub fn client_endpoint(remote: SocketAddr) -> Result<quinn::Endpoint, std::io::Error> {
    let bind: SocketAddr = if remote.is_ipv6() {
        "[::]:0".parse().map_err(std::io::Error::other)?
    } else {
        "0.0.0.0:0".parse().map_err(std::io::Error::other)?
    };
    quinn::Endpoint::client(bind)
}

async fn sync_once(
    store: &Arc<Store>,
    state: &Arc<SyncState>,
    enrollment: &Enrollment,
    attempt: &mut u32,
) -> Result<(), SyncError> {
    let remote = resolve(&enrollment.hub_addr).await?;
    let mut endpoint =
        client_endpoint(remote).map_err(|e| SyncError::Driver(DriverError::Tls(e.to_string())))?;
    endpoint.set_default_client_config(quic::sync_client_config(
        &enrollment.ca_cert_der,
        enrollment.device_cert_der.clone(),
        enrollment.device_key_pkcs8_der.clone(),
    )?);
    let connecting = endpoint
        .connect(remote, HUB_SERVER_NAME)
        .map_err(DriverError::from)?;
    let connection = tokio::time::timeout(Duration::from_millis(CONNECT_TIMEOUT_MS), connecting)
        .await
        .map_err(|_| SyncError::ConnectTimeout)?
        .map_err(DriverError::from)?;
    let result = stream_ops(store, state, &connection, attempt).await;
    connection.close(0_u32.into(), b"bye");
    endpoint.wait_idle().await;
    result
}

async fn stream_ops(
    store: &Arc<Store>,
    state: &Arc<SyncState>,
    connection: &quinn::Connection,
    attempt: &mut u32,
) -> Result<(), SyncError> {
    let (mut writer, mut reader) = quic::open_framed(connection).await?;
    let outbox = read_store(store, |s| s.outbox_status()).await?;
    let (mut session, hello) = UpstreamSession::start(
        concat!("edge-node/", env!("CARGO_PKG_VERSION")),
        outbox.last_seq,
    );
    writer.send(&hello).await?;

    // A reader task turns the stream into a channel, so the loop below can wait on messages,
    // new local ops and the heartbeat timer at once without cancelling a half-read frame.
    let (incoming_tx, mut incoming) =
        tokio::sync::mpsc::channel::<Result<Option<Message>, DriverError>>(64);
    let reader_task = tokio::spawn(async move {
        loop {
            let next = reader.recv().await;
            let stop = !matches!(next, Ok(Some(_)));
            if incoming_tx.send(next).await.is_err() || stop {
                break;
            }
        }
    });
    let result = async {
        // Heartbeats double as the clock of the ack timeout, so tick at least that often.
        let tick_ms = HEARTBEAT_INTERVAL_MS.min(state.ack_timeout_ms.max(50) / 2);
        let mut heartbeat = tokio::time::interval(Duration::from_millis(tick_ms));
        let mut last_progress = std::time::Instant::now();
        loop {
            while let Some(wanted) = session.wants_ops() {
                let ops = read_store(store, move |s| s.ops_from(wanted.from_seq, wanted.count_max)).await?;
                let Some(last) = ops.last().map(|op| op.seq) else { break };
                writer.send(&Message::OpsBatch { ops }).await?;
                session.batch_sent(last);
            }
            tokio::select! {
                message = incoming.recv() => {
                    let message = match message {
                        Some(Ok(Some(message))) => message,
                        Some(Err(error)) => return Err(SyncError::Driver(error)),
                        Some(Ok(None)) | None => return Err(SyncError::StreamClosed),
                    };
                    match session.on_message(message)? {
                        UpstreamEvent::Welcomed { acked_through_seq } => {
                            read_store(store, move |s| s.record_ack(acked_through_seq)).await?;
                            let feed_cursor = read_store(store, |s| s.feed_through_seq()).await?;
                            writer.send(&session.subscribe(feed_cursor)).await?;
                            state.connected.store(true, Ordering::Relaxed);
                            state.set_error(None);
                            *attempt = 0;
                            last_progress = std::time::Instant::now();
                            tracing::info!(acked_through_seq, "connected to hub");
                        }
                        UpstreamEvent::Acked { acked_through_seq } => {
                            read_store(store, move |s| s.record_ack(acked_through_seq)).await?;
                            last_progress = std::time::Instant::now();
                        }
                        UpstreamEvent::Heartbeat => {}
                        UpstreamEvent::Feed { entries } => {
                            let decoded = entries
                                .iter()
                                .map(|entry| entry.decode_known().map(|body| (entry.seq, body)))
                                .collect::<Result<Vec<_>, _>>()
                                .map_err(SyncError::Feed)?;
                            if !decoded.is_empty() {
                                let cursor = read_store(store, move |s| s.apply_feed_entries(&decoded, crate::now_ms())).await?;
                                session.feed_applied(cursor);
                                // Applying may have written ops (a cloud cancel's outcome) and
                                // live-stream events (a cloud order for the screens).
                                let outbox = read_store(store, |s| s.outbox_status()).await?;
                                session.local_ops_through(outbox.last_seq);
                                if let Some(events) = state.events.get() {
                                    let last = read_store(store, |s| s.last_stream_seq()).await?;
                                    events.published(last);
                                }
                                tracing::info!(feed_through_seq = cursor, "applied hub feed");
                            }
                        }
                    }
                }
                _ = state.new_ops.notified() => {
                    let outbox = read_store(store, |s| s.outbox_status()).await?;
                    session.local_ops_through(outbox.last_seq);
                }
                _ = heartbeat.tick() => {
                    let waiting = !session.is_welcomed() || session.ops_in_flight() > 0;
                    if waiting && last_progress.elapsed() > Duration::from_millis(state.ack_timeout_ms) {
                        return Err(SyncError::OutcomeUnknown { ops: session.ops_in_flight() });
                    }
                    writer.send(&Message::Heartbeat { sent_at_ms: crate::now_ms().max(0) as u64 }).await?;
                }
            }
        }
    }
    .await;
    reader_task.abort();
    result
}

async fn read_store<T: Send + 'static>(
    store: &Arc<Store>,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    crate::services::blocking(move || work(&store)).await
}
