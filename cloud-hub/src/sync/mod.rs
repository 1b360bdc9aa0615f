//! The hub's QUIC endpoint: enrollment and op-log ingest on one UDP port.

use crate::pki::{HubCa, fingerprint};
use crate::services::enrollment::{self, EnrollFailure, EnrollRequest};
use crate::store::devices::{
    DeviceIdentity, device_by_fingerprint, record_security_event, touch_last_seen,
};
use crate::store::ingest::{ingest_batch, load_cursor};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use sync_protocol::message::{ALPN_ENROLL, ALPN_SYNC};
use sync_protocol::quic::{self, DriverError, FrameWriter};
use sync_protocol::session::IngestSession;
use sync_protocol::{FrameError, Message, RejectCode};

/// How long a new connection may take to send its first message.
pub const FIRST_MESSAGE_TIMEOUT_MS: u64 = 10_000;

/// Fault injection for tests: drop the ack of the next N committed batches (the "committed but
/// ack lost" case the edge must survive). Zero in production.
#[derive(Default)]
pub struct Faults {
    pub drop_acks_after_commit: AtomicU64,
}

#[derive(Clone)]
pub struct SyncServer {
    pub pool: PgPool,
    pub ca: Arc<HubCa>,
    pub faults: Arc<Faults>,
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
        tracing::info!(tenant = %device.tenant_id.0, device = %device.id, acked = cursor.acked_through_seq, "edge connected");

        loop {
            let message = match reader.recv().await {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(()),
                Err(DriverError::Frame(error)) => return reject_frame(&mut writer, error).await,
                Err(other) => return Err(other),
            };
            match message {
                Message::OpsBatch { ops } => {
                    let outcome = match ingest_batch(&self.pool, &device, &ops).await {
                        Ok(outcome) => outcome,
                        Err(error) => {
                            tracing::error!(%error, "batch ingest failed");
                            return reject(
                                &mut writer,
                                RejectCode::Internal,
                                "the hub could not store the batch; it will be re-sent",
                            )
                            .await;
                        }
                    };
                    match outcome {
                        Ok(outcome) => {
                            metrics::counter!(crate::metrics::BATCHES_INGESTED).increment(1);
                            metrics::counter!(crate::metrics::OPS_INGESTED)
                                .increment(outcome.new_ops as u64);
                            if self.take_ack_drop_fault() {
                                tracing::warn!("fault injection: dropping an ack after commit");
                                connection.close(1_u32.into(), b"fault: ack dropped");
                                return Ok(());
                            }
                            writer
                                .send(&Message::Ack {
                                    acked_through_seq: outcome.cursor.acked_through_seq,
                                })
                                .await?;
                        }
                        Err(refusal) => {
                            metrics::counter!(crate::metrics::SYNC_REJECTS).increment(1);
                            let code = refusal.reject_code();
                            if code == RejectCode::IdentityMismatch {
                                self.security_event(
                                    &device,
                                    "identity_mismatch",
                                    &refusal.to_string(),
                                )
                                .await;
                            }
                            tracing::warn!(device = %device.id, error = %refusal, "batch refused");
                            return reject(&mut writer, code, &refusal.to_string()).await;
                        }
                    }
                }
                Message::Heartbeat { sent_at_ms } => {
                    let _ = touch_last_seen(&self.pool, device.tenant_id, device.id).await;
                    writer.send(&Message::Heartbeat { sent_at_ms }).await?;
                }
                _ => return reject(&mut writer, RejectCode::Malformed, "unexpected message").await,
            }
        }
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
