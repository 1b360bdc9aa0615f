//! Publishes the outbox: to NATS JetStream (when configured) and into webhook deliveries.
//!
//! Each round claims a batch with `FOR UPDATE SKIP LOCKED` (so hub replicas share the work),
//! publishes every event and waits for JetStream's ack, then marks the batch published in the
//! same transaction. A crash between the publish and the commit re-publishes the batch; the
//! `Nats-Msg-Id` header (the event id) lets JetStream drop the duplicates.

use crate::store::StoreError;
use crate::store::outbox::{claim, depth, mark_published};
use async_nats::jetstream;
use sqlx::PgPool;
use std::time::Duration;
use thiserror::Error;

/// Events per round. Why: one round is one transaction holding row locks; 200 keeps it short.
pub const BATCH_EVENTS_MAX: i64 = 200;
/// Idle wait between rounds when the outbox is empty.
pub const IDLE_POLL_MS: u64 = 200;
/// Wait after a failed round (NATS or Postgres unavailable) before trying again.
pub const RETRY_AFTER_ERROR_MS: u64 = 1_000;
/// The JetStream stream that keeps every POS event.
pub const STREAM_NAME: &str = "KIBANDA_POS";
/// JetStream's de-duplication window: a re-published event within it is dropped.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

#[derive(Debug, Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("NATS: {0}")]
    Nats(String),
}

/// Connects to NATS and makes sure the stream exists.
pub async fn connect_jetstream(url: &str) -> Result<jetstream::Context, DispatchError> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| DispatchError::Nats(e.to_string()))?;
    let context = jetstream::new(client);
    context
        .get_or_create_stream(jetstream::stream::Config {
            name: STREAM_NAME.to_owned(),
            subjects: vec!["pos.>".to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| DispatchError::Nats(e.to_string()))?;
    Ok(context)
}

/// How often subscriptions are checked for a renewal coming near.
const RENEWAL_CHECK_SECS: u64 = 5;

pub struct Dispatcher {
    pub pool: PgPool,
    pub jetstream: Option<jetstream::Context>,
}

impl Dispatcher {
    /// One round; returns how many events it published.
    pub async fn dispatch_once(&self) -> Result<usize, DispatchError> {
        let mut tx = self.pool.begin().await?;
        let events = claim(&mut tx, BATCH_EVENTS_MAX).await?;
        if events.is_empty() {
            return Ok(0);
        }
        if let Some(jetstream) = &self.jetstream {
            let mut acks = Vec::with_capacity(events.len());
            for event in &events {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
                let body = serde_json::to_vec(&event.payload).unwrap_or_default();
                let ack = jetstream
                    .publish_with_headers(event.subject.clone(), headers, body.into())
                    .await
                    .map_err(|e| DispatchError::Nats(e.to_string()))?;
                acks.push(ack);
            }
            for ack in acks {
                ack.await.map_err(|e| DispatchError::Nats(e.to_string()))?;
            }
        }
        mark_published(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    /// Runs rounds forever.
    pub async fn run(self) {
        let mut renewals = tokio::time::interval(Duration::from_secs(RENEWAL_CHECK_SECS));
        loop {
            if futures_util::FutureExt::now_or_never(renewals.tick()).is_some() {
                match crate::store::subscriptions::raise_renewal_notices(
                    &self.pool,
                    crate::events::renewal_due_event,
                )
                .await
                {
                    Ok(0) => {}
                    Ok(raised) => tracing::info!(raised, "subscription renewal notices raised"),
                    Err(error) => tracing::warn!(%error, "subscription renewal check failed"),
                }
            }
            match self.dispatch_once().await {
                Ok(0) => {
                    if let Ok(depth) = depth(&self.pool).await {
                        metrics::gauge!("kibanda_outbox_depth").set(depth as f64);
                    }
                    tokio::time::sleep(Duration::from_millis(IDLE_POLL_MS)).await;
                }
                Ok(published) => {
                    metrics::counter!("kibanda_events_published_total").increment(published as u64);
                }
                Err(error) => {
                    tracing::warn!(%error, "outbox dispatch failed; retrying");
                    metrics::counter!("kibanda_outbox_dispatch_errors_total").increment(1);
                    tokio::time::sleep(Duration::from_millis(RETRY_AFTER_ERROR_MS)).await;
                }
            }
        }
    }
}
