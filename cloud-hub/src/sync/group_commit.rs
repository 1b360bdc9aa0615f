//! Group commit: the sync connections hand their batches to a few ingest writers, and each
//! writer applies every batch waiting at that moment in one PostgreSQL transaction.
//!
//! A trickle from many edges then costs one transaction (one fsync, a fixed number of
//! statements) per group instead of one per batch, and a lone batch still goes straight in:
//! a writer never waits to fill a group, it takes what is queued. A batch is answered only
//! after its group committed. If a group fails, its batches are retried one by one, so one
//! batch the database refuses cannot take the others down with it.

use crate::store::devices::DeviceIdentity;
use crate::store::ingest::{BatchResult, ingest_group};
use sqlx::PgPool;
use std::sync::Arc;
use sync_protocol::WireOp;
use tokio::sync::{Notify, mpsc, oneshot};

/// How often the projector looks for ops left unprojected when nothing woke it: after a crash,
/// or ops another hub replica stored. Why a second: a backlog is found quickly, and an idle
/// hub's poll costs one indexed query a second.
pub const PROJECTOR_POLL_MS: u64 = 1_000;

/// How a hub groups its ingest.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommitConfig {
    /// Writers committing groups at once (each holds one database connection while it works).
    pub writers: usize,
    /// Most batches in one group.
    pub max_batches: usize,
    /// Most ops in one group (a group stops growing once it reaches this).
    pub max_ops: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        GroupCommitConfig {
            writers: 2,
            max_batches: 512,
            max_ops: 16_000,
        }
    }
}

/// The storage failed for this batch; the connection should tell the edge to re-send.
#[derive(Debug, Clone, thiserror::Error)]
#[error("batch ingest failed: {0}")]
pub struct IngestFailed(pub String);

struct Job {
    device: DeviceIdentity,
    ops: Vec<WireOp>,
    reply: oneshot::Sender<Result<BatchResult, IngestFailed>>,
}

/// The connections' side of the writers.
#[derive(Clone)]
pub struct IngestQueue {
    /// One queue per writer; a device's batches always go to the same one, so they commit in
    /// the order the device sent them.
    senders: Vec<mpsc::Sender<Job>>,
}

/// Wakes the projector when a group left ops for it.
type ProjectorBell = Arc<Notify>;

/// What the writers answer for one batch: its result, or why it could not be stored.
pub type BatchAnswer = Result<Result<BatchResult, IngestFailed>, IngestFailed>;

impl IngestQueue {
    /// Starts the writers and the projector on the current runtime.
    pub fn start(pool: PgPool, config: GroupCommitConfig) -> IngestQueue {
        let bell: ProjectorBell = Arc::new(Notify::new());
        let senders = (0..config.writers.max(1))
            .map(|_| {
                // Bounded: when the database falls behind, connections wait here (and their
                // edges' windows fill) instead of piling batches up in memory.
                let (sender, receiver) = mpsc::channel(config.max_batches.max(1) * 4);
                tokio::spawn(writer(pool.clone(), receiver, config, bell.clone()));
                sender
            })
            .collect();
        tokio::spawn(projector(pool, bell));
        IngestQueue { senders }
    }

    /// Hands `ops` from `device` to its writer; the answer comes once their group committed.
    pub async fn submit(
        &self,
        device: DeviceIdentity,
        ops: Vec<WireOp>,
    ) -> Result<oneshot::Receiver<Result<BatchResult, IngestFailed>>, IngestFailed> {
        let (reply, answer) = oneshot::channel();
        let writer = (device.id.as_u128() % self.senders.len().max(1) as u128) as usize;
        let sender = self
            .senders
            .get(writer)
            .ok_or_else(|| IngestFailed("no ingest writer".into()))?;
        sender
            .send(Job { device, ops, reply })
            .await
            .map_err(|_| IngestFailed("the ingest writers stopped".into()))?;
        Ok(answer)
    }

    /// Applies `ops` from `device` in the next group and waits for that group's commit.
    pub async fn ingest(
        &self,
        device: DeviceIdentity,
        ops: Vec<WireOp>,
    ) -> Result<BatchResult, IngestFailed> {
        self.submit(device, ops)
            .await?
            .await
            .map_err(|_| IngestFailed("the ingest writer went away".into()))?
    }
}

async fn writer(
    pool: PgPool,
    mut receiver: mpsc::Receiver<Job>,
    config: GroupCommitConfig,
    bell: ProjectorBell,
) {
    loop {
        let jobs = {
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut ops = first.ops.len();
            let mut jobs = vec![first];
            while jobs.len() < config.max_batches && ops < config.max_ops {
                match receiver.try_recv() {
                    Ok(job) => {
                        ops += job.ops.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            jobs
        };
        metrics::histogram!(crate::metrics::INGEST_GROUP_BATCHES).record(jobs.len() as f64);
        commit_group(&pool, jobs, &bell).await;
    }
}

/// Follows the ops groups stored without projecting them (see
/// `crate::store::ingest::projection`): projects them, device by device, until none is
/// behind; then waits for the bell or the poll.
async fn projector(pool: PgPool, bell: ProjectorBell) {
    use crate::store::ingest::projection::lag;
    use crate::store::ingest::projection::project_next;
    loop {
        let stepped = match project_next(&pool).await {
            Ok(Some(step)) => {
                metrics::counter!(crate::metrics::OPS_PROJECTED_LATE).increment(step.ops as u64);
                true
            }
            Ok(None) => false,
            Err(error) => {
                tracing::error!(%error, "projecting stored ops failed; retrying");
                false
            }
        };
        if let Ok((devices, ops)) = lag(&pool).await {
            metrics::gauge!(crate::metrics::PROJECTION_LAG_DEVICES).set(devices as f64);
            metrics::gauge!(crate::metrics::PROJECTION_LAG_OPS).set(ops as f64);
        }
        if stepped {
            continue;
        }
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(PROJECTOR_POLL_MS),
            bell.notified(),
        )
        .await;
    }
}

async fn commit_group(pool: &PgPool, jobs: Vec<Job>, bell: &ProjectorBell) {
    let batches: Vec<(&DeviceIdentity, &[WireOp])> = jobs
        .iter()
        .map(|job| (&job.device, job.ops.as_slice()))
        .collect();
    match ingest_group(pool, &batches).await {
        Ok(results) => {
            if results
                .iter()
                .any(|result| matches!(result, Ok(outcome) if !outcome.projected))
            {
                bell.notify_one();
            }
            for (job, result) in jobs.into_iter().zip(results) {
                // The connection may have gone; its edge re-sends and finds the ops held.
                let _ = job.reply.send(Ok(result));
            }
        }
        Err(error) if jobs.len() > 1 => {
            tracing::warn!(%error, batches = jobs.len(), "group ingest failed; retrying its batches one by one");
            for job in jobs {
                let result = ingest_group(pool, &[(&job.device, job.ops.as_slice())])
                    .await
                    .map_err(|e| IngestFailed(e.to_string()))
                    .and_then(|mut results| {
                        results
                            .pop()
                            .ok_or_else(|| IngestFailed("no result for the batch".into()))
                    });
                if matches!(&result, Ok(Ok(outcome)) if !outcome.projected) {
                    bell.notify_one();
                }
                let _ = job.reply.send(result);
            }
        }
        Err(error) => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(IngestFailed(error.to_string())));
            }
        }
    }
}
