//! The hub's QUIC endpoint: enrollment and op-log ingest on one UDP port.

use crate::pki::{HubCa, fingerprint};
use crate::services::enrollment::{self, EnrollFailure, EnrollRequest};
use crate::store::devices::REVOKED_CHANNEL;
use crate::store::devices::{
    DeviceIdentity, device_by_fingerprint, record_security_event, touch_last_seen,
};
use crate::store::feed::{FEED_CHANNEL, entries_after};
use crate::store::ingest::load_cursor;

pub mod group_commit;
use group_commit::BatchAnswer;
pub use group_commit::{GroupCommitConfig, IngestQueue};
use sqlx::PgPool;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use sync_protocol::feed::FEED_BATCH_MAX;
use sync_protocol::message::{ALPN_ENROLL, ALPN_SYNC};
use sync_protocol::quic::{self, DriverError, FrameWriter};
use sync_protocol::session::IngestSession;
use sync_protocol::{FrameError, Message, RejectCode};

/// How long a new connection may take to send its first message.
pub const FIRST_MESSAGE_TIMEOUT_MS: u64 = 10_000;
/// Each connection also looks for feed entries this often, in case a notification was missed
/// (e.g. while the listener reconnected).
pub const FEED_SAFETY_POLL_MS: u64 = 5_000;
/// How often a connected device's `last_seen_at` is written. Why 30 s: an edge heartbeats every
/// 5 s, and writing each one is a row update per device every 5 s (2,000 a second for 10,000
/// outlets) for a time nobody reads closer than a minute; on connect it is written at once.
pub const LAST_SEEN_WRITE_MS: u64 = 30_000;

/// Batches of one connection handed to the writers and not yet answered. Why 16: twice the
/// edge's send window (8 batches of 1,000 ops), so a catch-up never waits on the hub's reading
/// and the writer finds the next batches queued to commit with the one before.
pub const PIPELINED_BATCHES_MAX: usize = 16;

/// A batch handed to the writers, awaiting its group's commit.
struct PendingBatch {
    answer: tokio::sync::oneshot::Receiver<
        Result<crate::store::ingest::BatchResult, group_commit::IngestFailed>,
    >,
    newest_wall_ms: Option<u64>,
}

/// The answer of the connection's oldest pending batch (never resolves when there is none).
async fn front_answer(pending: &mut VecDeque<PendingBatch>) -> BatchAnswer {
    match pending.front_mut() {
        Some(batch) => (&mut batch.answer)
            .await
            .map_err(|_| group_commit::IngestFailed("the ingest writer went away".into())),
        None => std::future::pending().await,
    }
}

/// Fault injection for tests: drop the ack of the next N committed batches (the "committed but
/// ack lost" case the edge must survive). Zero in production.
#[derive(Default)]
pub struct Faults {
    pub drop_acks_after_commit: AtomicU64,
    /// Commit batches but never answer them, keeping the connection open (a hub that hangs
    /// after its commit).
    pub stall_acks: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct SyncServer {
    pub pool: PgPool,
    pub ca: Arc<HubCa>,
    pub faults: Arc<Faults>,
    pub feed: Arc<FeedNotifier>,
    /// Where connections hand their batches to be group-committed.
    pub ingest: IngestQueue,
}

/// Fans `pg_notify` notices out to sync connections: feed growth (by outlet id) and device
/// revocations (by device id), so every hub replica reacts at once.
pub struct FeedNotifier {
    sender: tokio::sync::broadcast::Sender<uuid::Uuid>,
    revoked: tokio::sync::broadcast::Sender<uuid::Uuid>,
}

/// Pending notices per subscriber before it is told it lagged (and re-reads its feed).
const FEED_NOTICES_BUFFERED: usize = 1_024;

impl FeedNotifier {
    /// Listens on the notice channels; the listener reconnects by itself after errors.
    pub async fn start(pool: &PgPool) -> Result<Arc<FeedNotifier>, sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen_all([FEED_CHANNEL, REVOKED_CHANNEL]).await?;
        let (sender, _) = tokio::sync::broadcast::channel(FEED_NOTICES_BUFFERED);
        let (revoked, _) = tokio::sync::broadcast::channel(FEED_NOTICES_BUFFERED);
        let notifier = Arc::new(FeedNotifier { sender, revoked });
        let (feed_out, revoked_out) = (notifier.sender.clone(), notifier.revoked.clone());
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(notice) => {
                        let Ok(id) = notice.payload().parse() else {
                            continue;
                        };
                        let _ = if notice.channel() == REVOKED_CHANNEL {
                            revoked_out.send(id)
                        } else {
                            feed_out.send(id)
                        };
                    }
                    Err(error) => {
                        tracing::warn!(%error, "notice listener error; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(notifier)
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<uuid::Uuid> {
        self.sender.subscribe()
    }

    pub fn subscribe_revocations(&self) -> tokio::sync::broadcast::Receiver<uuid::Uuid> {
        self.revoked.subscribe()
    }
}

impl SyncServer {
    /// Accepts connections until the endpoint closes.
    pub async fn serve(self, endpoint: quinn::Endpoint) {
        while let Some(incoming) = endpoint.accept().await {
            let server = self.clone();
            tokio::spawn(async move {
                let connection = match incoming.await {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::debug!(%error, "handshake failed");
                        return;
                    }
                };
                server.handle(connection).await;
            });
        }
    }

    async fn handle(&self, connection: quinn::Connection) {
        let alpn = connection
            .handshake_data()
            .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
            .and_then(|data| data.protocol);
        let result = match alpn.as_deref() {
            Some(protocol) if protocol == ALPN_SYNC => self.handle_sync(&connection).await,
            Some(protocol) if protocol == ALPN_ENROLL => self.handle_enroll(&connection).await,
            _ => Ok(()),
        };
        if let Err(error) = result {
            tracing::debug!(%error, "sync connection ended");
        }
        connection.close(0_u32.into(), b"");
    }

    async fn handle_enroll(&self, connection: &quinn::Connection) -> Result<(), DriverError> {
        let (mut writer, mut reader) = quic::accept_framed(connection).await?;
        let first = tokio::time::timeout(
            Duration::from_millis(FIRST_MESSAGE_TIMEOUT_MS),
            reader.recv(),
        )
        .await;
        let request = match first {
            Ok(Ok(Some(Message::EnrollRequest {
                code_id,
                proof,
                node_id,
                public_key,
                software,
            }))) => EnrollRequest {
                code_id,
                proof,
                node_id,
                public_key,
                software,
            },
            Ok(Err(DriverError::Frame(error))) => return reject_frame(&mut writer, error).await,
            _ => {
                return reject(
                    &mut writer,
                    RejectCode::Malformed,
                    "expected an enrollment request",
                )
                .await;
            }
        };
        let exporter = quic::enrollment_exporter(connection)?;
        let answer = match enrollment::redeem(&self.pool, &self.ca, &exporter, request).await {
            Ok(message) => message,
            Err(EnrollFailure::Refused { code, message }) => {
                tracing::info!(%code, "enrollment refused");
                Message::Reject { code, message }
            }
            Err(error) => {
                tracing::error!(%error, "enrollment failed");
                Message::Reject {
                    code: RejectCode::Internal,
                    message: "the hub could not complete enrollment; try again".into(),
                }
            }
        };
        writer.send(&answer).await?;
        writer.finish()?;
        writer.stopped().await;
        Ok(())
    }

    async fn handle_sync(&self, connection: &quinn::Connection) -> Result<(), DriverError> {
        metrics::counter!(crate::metrics::SYNC_CONNECTIONS).increment(1);
        let (mut writer, mut reader) = quic::accept_framed(connection).await?;
        let Some(cert) = quic::peer_certificate_der(connection) else {
            return reject(
                &mut writer,
                RejectCode::Unauthenticated,
                "a device certificate is required",
            )
            .await;
        };
        let device = match device_by_fingerprint(&self.pool, &fingerprint(&cert)).await {
            Ok(Some(device)) if !device.revoked => device,
            Ok(Some(device)) => {
                self.security_event(
                    &device,
                    "revoked_device_connected",
                    "a revoked device tried to sync",
                )
                .await;
                return reject(
                    &mut writer,
                    RejectCode::DeviceRevoked,
                    "this device was revoked",
                )
                .await;
            }
            Ok(None) => {
                return reject(
                    &mut writer,
                    RejectCode::Unauthenticated,
                    "unknown device certificate",
                )
                .await;
            }
            Err(error) => {
                tracing::error!(%error, "device lookup failed");
                return reject(&mut writer, RejectCode::Internal, "try again").await;
            }
        };
        let first = tokio::time::timeout(
            Duration::from_millis(FIRST_MESSAGE_TIMEOUT_MS),
            reader.recv(),
        )
        .await;
        match first {
            Ok(Ok(Some(Message::Hello { .. }))) => {}
            Ok(Err(DriverError::Frame(error))) => return reject_frame(&mut writer, error).await,
            _ => return reject(&mut writer, RejectCode::Malformed, "expected Hello").await,
        }
        let cursor = match load_cursor(&self.pool, &device).await {
            Ok(cursor) => cursor,
            Err(error) => {
                tracing::error!(%error, "cursor lookup failed");
                return reject(&mut writer, RejectCode::Internal, "try again").await;
            }
        };
        let (_, welcome) = IngestSession::start(*device.id.as_bytes(), cursor);
        writer.send(&welcome).await?;
        let _ = touch_last_seen(&self.pool, device.tenant_id, device.id).await;
        let mut last_seen_written = std::time::Instant::now();
        tracing::info!(tenant = %device.tenant_id.0, device = %device.id, acked = cursor.acked_through_seq, "edge connected");

        // A reader task turns the stream into a channel so the loop can wait on the edge, the
        // feed notifications and the safety poll at once without cancelling a half-read frame.
        let (incoming_tx, mut incoming) = tokio::sync::mpsc::channel(16);
        let reader_task = tokio::spawn(async move {
            loop {
                let next = reader.recv().await;
                let stop = !matches!(next, Ok(Some(_)));
                if incoming_tx.send(next).await.is_err() || stop {
                    break;
                }
            }
        });
        let mut feed_notices = self.feed.subscribe();
        let mut revocations = self.feed.subscribe_revocations();
        let mut feed_sent: Option<u64> = None;
        let mut safety_poll = tokio::time::interval(Duration::from_millis(FEED_SAFETY_POLL_MS));
        let mut pending: VecDeque<PendingBatch> = VecDeque::new();
        let result = loop {
            tokio::select! {
                answer = front_answer(&mut pending), if !pending.is_empty() => {
                    let newest_wall_ms = pending.pop_front().and_then(|batch| batch.newest_wall_ms);
                    match self.on_batch_answer(&device, connection, &mut writer, newest_wall_ms, answer).await {
                        Ok(true) => {}
                        Ok(false) => break Ok(()),
                        Err(error) => break Err(error),
                    }
                }
                next = incoming.recv(), if pending.len() < PIPELINED_BATCHES_MAX => {
                    let message = match next {
                        Some(Ok(Some(message))) => message,
                        Some(Ok(None)) | None => break Ok(()),
                        Some(Err(DriverError::Frame(error))) => break reject_frame(&mut writer, error).await,
                        Some(Err(other)) => break Err(other),
                    };
                    match self.on_message(&device, &mut writer, &mut feed_sent, &mut pending, &mut last_seen_written, message).await {
                        Ok(true) => {}
                        Ok(false) => break Ok(()),
                        Err(error) => break Err(error),
                    }
                }
                notice = feed_notices.recv() => {
                    let ours = match notice {
                        Ok(outlet_id) => outlet_id == device.outlet_id,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                    };
                    if ours && let Err(error) = self.push_feed(&device, &mut writer, &mut feed_sent).await {
                        break Err(error);
                    }
                }
                revoked = revocations.recv() => {
                    if matches!(revoked, Ok(id) if id == device.id) {
                        tracing::warn!(device = %device.id, "device revoked: closing its connection");
                        break reject(&mut writer, RejectCode::DeviceRevoked, "this device was revoked").await;
                    }
                }
                _ = safety_poll.tick() => {
                    if let Err(error) = self.push_feed(&device, &mut writer, &mut feed_sent).await {
                        break Err(error);
                    }
                }
            }
        };
        reader_task.abort();
        result
    }

    /// Answers the edge for its oldest batch in the pipeline once that batch's group committed:
    /// an ack, or a refusal that ends the connection (`Ok(false)`).
    async fn on_batch_answer(
        &self,
        device: &DeviceIdentity,
        connection: &quinn::Connection,
        writer: &mut FrameWriter,
        newest_wall_ms: Option<u64>,
        answer: BatchAnswer,
    ) -> Result<bool, DriverError> {
        let outcome = match answer {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) | Err(error) => {
                tracing::error!(%error, "batch ingest failed");
                reject(
                    writer,
                    RejectCode::Internal,
                    "the hub could not store the batch; it will be re-sent",
                )
                .await?;
                return Ok(false);
            }
        };
        match outcome {
            Ok(outcome) => {
                metrics::counter!(crate::metrics::BATCHES_INGESTED).increment(1);
                metrics::counter!(crate::metrics::OPS_INGESTED).increment(outcome.new_ops as u64);
                // Sync lag per outlet: how old the newest op of this batch is.
                if let Some(wall_ms) = newest_wall_ms {
                    let lag_ms = (crate::now_ms() - wall_ms as i64).max(0);
                    metrics::gauge!("kibanda_sync_lag_seconds", "outlet" => device.outlet_id.to_string())
                        .set(lag_ms as f64 / 1000.0);
                }
                if self.faults.stall_acks.load(Ordering::SeqCst) {
                    tracing::warn!("fault injection: withholding an ack after commit");
                    return Ok(true);
                }
                if self.take_ack_drop_fault() {
                    tracing::warn!("fault injection: dropping an ack after commit");
                    connection.close(1_u32.into(), b"fault: ack dropped");
                    return Ok(false);
                }
                writer
                    .send(&Message::Ack {
                        acked_through_seq: outcome.cursor.acked_through_seq,
                    })
                    .await?;
                Ok(true)
            }
            Err(refusal) => {
                metrics::counter!(crate::metrics::SYNC_REJECTS).increment(1);
                let code = refusal.reject_code();
                if code == RejectCode::IdentityMismatch {
                    self.security_event(device, "identity_mismatch", &refusal.to_string())
                        .await;
                }
                tracing::warn!(device = %device.id, error = %refusal, "batch refused");
                reject(writer, code, &refusal.to_string()).await?;
                Ok(false)
            }
        }
    }

    /// Handles one message from a connected edge; `Ok(false)` ends the connection.
    async fn on_message(
        &self,
        device: &DeviceIdentity,
        writer: &mut FrameWriter,
        feed_sent: &mut Option<u64>,
        pending: &mut VecDeque<PendingBatch>,
        last_seen_written: &mut std::time::Instant,
        message: Message,
    ) -> Result<bool, DriverError> {
        match message {
            Message::OpsBatch { ops } => {
                let newest_wall_ms = ops.last().map(|op| op.hlc.wall_ms);
                match self.ingest.submit(device.clone(), ops).await {
                    Ok(answer) => {
                        pending.push_back(PendingBatch {
                            answer,
                            newest_wall_ms,
                        });
                        Ok(true)
                    }
                    Err(error) => {
                        tracing::error!(%error, "batch ingest failed");
                        reject(
                            writer,
                            RejectCode::Internal,
                            "the hub could not store the batch; it will be re-sent",
                        )
                        .await?;
                        Ok(false)
                    }
                }
            }
            Message::Subscribe { feed_after_seq } => {
                *feed_sent = Some(feed_after_seq);
                self.push_feed(device, writer, feed_sent).await?;
                Ok(true)
            }
            Message::Heartbeat { sent_at_ms } => {
                if last_seen_written.elapsed() >= Duration::from_millis(LAST_SEEN_WRITE_MS) {
                    let _ = touch_last_seen(&self.pool, device.tenant_id, device.id).await;
                    *last_seen_written = std::time::Instant::now();
                }
                writer.send(&Message::Heartbeat { sent_at_ms }).await?;
                Ok(true)
            }
            _ => {
                reject(writer, RejectCode::Malformed, "unexpected message").await?;
                Ok(false)
            }
        }
    }

    /// Sends every feed entry past what this connection already sent, in batches.
    async fn push_feed(
        &self,
        device: &DeviceIdentity,
        writer: &mut FrameWriter,
        feed_sent: &mut Option<u64>,
    ) -> Result<(), DriverError> {
        let Some(mut sent) = *feed_sent else {
            return Ok(());
        };
        loop {
            let entries = match entries_after(
                &self.pool,
                device.tenant_id,
                device.outlet_id,
                sent,
                FEED_BATCH_MAX,
            )
            .await
            {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::error!(%error, "feed read failed");
                    return Ok(());
                }
            };
            let Some(last) = entries.last().map(|entry| entry.seq) else {
                break;
            };
            let full = entries.len() == FEED_BATCH_MAX;
            writer.send(&Message::FeedBatch { entries }).await?;
            sent = last;
            *feed_sent = Some(sent);
            if !full {
                break;
            }
        }
        Ok(())
    }

    fn take_ack_drop_fault(&self) -> bool {
        self.faults
            .drop_acks_after_commit
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    async fn security_event(&self, device: &DeviceIdentity, kind: &str, detail: &str) {
        if let Err(error) = record_security_event(
            &self.pool,
            Some(device.tenant_id),
            Some(device.id),
            kind,
            detail,
        )
        .await
        {
            tracing::error!(%error, "could not record security event");
        }
    }
}

async fn reject(
    writer: &mut FrameWriter,
    code: RejectCode,
    message: &str,
) -> Result<(), DriverError> {
    writer
        .send(&Message::Reject {
            code,
            message: message.to_owned(),
        })
        .await?;
    writer.finish()?;
    tokio::time::timeout(Duration::from_secs(2), writer.stopped())
        .await
        .ok();
    Ok(())
}

async fn reject_frame(writer: &mut FrameWriter, error: FrameError) -> Result<(), DriverError> {
    let code = match error {
        FrameError::UnsupportedVersion(_) => RejectCode::UnsupportedVersion,
        _ => RejectCode::Malformed,
    };
    reject(writer, code, &error.to_string()).await
}
