//! The print queue's worker: sends due jobs from SQLite to their printers, retrying with
//! exponential backoff.
//!
//! Jobs live in the store, so a restart loses nothing: the worker picks up whatever is still
//! pending. A printer that is off, unplugged or refusing connections just makes its jobs wait;
//! so does one that reports its paper roll ended (ESC/POS `DLE EOT 4`, asked before each job).

use crate::store::{PrintJob, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

/// First retry delay. Why 1 s: a printer rebooting or a cable re-seated is back within seconds.
pub const PRINT_RETRY_BACKOFF_BASE_MS: u64 = 1_000;
/// Longest retry delay. Why 60 s: a printer switched back on prints its backlog within a minute.
pub const PRINT_RETRY_BACKOFF_MAX_MS: u64 = 60_000;
/// Attempts before a job is marked failed. Why 200: at the 60 s cap that is over three hours
/// of retrying, a whole service; after that a person must look (and can reprint).
pub const PRINT_ATTEMPTS_MAX: u32 = 200;
/// How long to wait for a printer to accept a connection. Why 3 s: a LAN printer answers in
/// milliseconds; waiting longer only delays the jobs behind it.
pub const PRINT_CONNECT_TIMEOUT_MS: u64 = 3_000;
/// How long writing one job may take. Why 10 s: a receipt is a few KiB; a printer that stalls
/// longer (paper out, cover open) is retried later instead of blocking the queue.
pub const PRINT_WRITE_TIMEOUT_MS: u64 = 10_000;
/// How long to wait for the answer to the paper status query. Why 500 ms: a printer that
/// supports it answers in a few milliseconds even while printing (it is a real-time command);
/// one that does not never answers, and its jobs must not wait long for nothing.
pub const PRINT_STATUS_TIMEOUT_MS: u64 = 500;
/// `DLE EOT 4`: the real-time paper roll sensor status query of ESC/POS.
const PAPER_STATUS_QUERY: [u8; 3] = [0x10, 0x04, 0x04];
/// Bits 5 and 6 of the answer: the paper roll has ended.
const PAPER_END_BITS: u8 = 0x60;
/// Jobs attempted per pass. Why: bounds one pass's work; the next pass starts at once.
pub const PRINT_BATCH_MAX: usize = 32;
/// Longest sleep when nothing is due. Why: a safety net; new jobs wake the worker directly.
pub const PRINT_IDLE_POLL_MS: u64 = 30_000;

#[derive(Debug, Clone, Copy)]
pub struct PrintQueueLimits {
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub attempts_max: u32,
    pub connect_timeout_ms: u64,
    pub write_timeout_ms: u64,
    pub status_timeout_ms: u64,
}

impl Default for PrintQueueLimits {
    fn default() -> Self {
        PrintQueueLimits {
            backoff_base_ms: PRINT_RETRY_BACKOFF_BASE_MS,
            backoff_max_ms: PRINT_RETRY_BACKOFF_MAX_MS,
            attempts_max: PRINT_ATTEMPTS_MAX,
            connect_timeout_ms: PRINT_CONNECT_TIMEOUT_MS,
            write_timeout_ms: PRINT_WRITE_TIMEOUT_MS,
            status_timeout_ms: PRINT_STATUS_TIMEOUT_MS,
        }
    }
}

impl PrintQueueLimits {
    /// Delay after the `failed_attempts`-th failure: base, 2×base, 4×base, … capped.
    pub fn backoff_ms(&self, failed_attempts: u32) -> u64 {
        let doublings = failed_attempts.saturating_sub(1).min(32);
        self.backoff_base_ms
            .saturating_mul(1_u64 << doublings)
            .min(self.backoff_max_ms)
    }
}

pub struct PrintQueue {
    store: Arc<Store>,
    limits: PrintQueueLimits,
    wake: Notify,
    attempts: watch::Sender<u64>,
}

impl PrintQueue {
    pub fn new(store: Arc<Store>, limits: PrintQueueLimits) -> Arc<PrintQueue> {
        Arc::new(PrintQueue {
            store,
            limits,
            wake: Notify::new(),
            attempts: watch::channel(0).0,
        })
    }

    /// Tells the worker new jobs are queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A counter that moves after every attempt, for status pages and tests to await.
    pub fn attempts(&self) -> watch::Receiver<u64> {
        self.attempts.subscribe()
    }

    /// Runs forever: attempts due jobs, then sleeps until the next is due or a job is queued.
    pub async fn run(self: Arc<Self>) {
        loop {
            let more_due = match self.run_once().await {
                Ok(more_due) => more_due,
                Err(error) => {
                    tracing::error!(%error, "print queue pass failed");
                    // A store that keeps failing must not turn this loop into a busy spin.
                    tokio::time::sleep(Duration::from_millis(self.limits.backoff_base_ms)).await;
                    false
                }
            };
            if more_due {
                continue;
            }
            let store = self.store.clone();
            let next_due = tokio::task::spawn_blocking(move || store.next_print_due_at_ms())
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
            let sleep_ms = match next_due {
                Some(at_ms) => (at_ms - crate::now_ms()).clamp(0, PRINT_IDLE_POLL_MS as i64) as u64,
                None => PRINT_IDLE_POLL_MS,
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
            }
        }
    }

    /// Attempts every job due now (up to [`PRINT_BATCH_MAX`]); `true` if a full batch was
    /// taken, so more may be due.
    pub async fn run_once(&self) -> Result<bool, StoreError> {
        let store = self.store.clone();
        let now_ms = crate::now_ms();
        let jobs = crate::services::blocking(move || store.due_print_jobs(now_ms, PRINT_BATCH_MAX))
            .await?;
        let full = jobs.len() == PRINT_BATCH_MAX;
        for job in jobs {
            let result = self.send(&job).await;
            let store = self.store.clone();
            let limits = self.limits;
            crate::services::blocking(move || {
                let now_ms = crate::now_ms();
                match result {
                    Ok(()) => store.mark_print_done(job.id, now_ms),
                    Err(error) => {
                        let failed_attempts = job.attempts + 1;
                        let give_up = failed_attempts >= limits.attempts_max;
                        let retry_at_ms = now_ms + limits.backoff_ms(failed_attempts) as i64;
                        tracing::warn!(job = job.id, printer = %job.printer_addr, %error,
                            failed_attempts, give_up, "print attempt failed");
                        store.mark_print_attempt_failed(job.id, &error, retry_at_ms, give_up)
                    }
                }
            })
            .await?;
            self.attempts.send_modify(|count| *count += 1);
        }
        Ok(full)
    }

    async fn send(&self, job: &PrintJob) -> Result<(), String> {
        let connect = TcpStream::connect(job.printer_addr.as_str());
        let mut stream = tokio::time::timeout(
            Duration::from_millis(self.limits.connect_timeout_ms),
            connect,
        )
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|error| format!("connect: {error}"))?;
        // Out of paper, the printer would still take the bytes and lose the job: ask first.
        stream
            .write_all(&PAPER_STATUS_QUERY)
            .await
            .map_err(|error| format!("status query: {error}"))?;
        let status = tokio::time::timeout(
            Duration::from_millis(self.limits.status_timeout_ms),
            stream.read_u8(),
        )
        .await;
        if let Ok(Ok(status)) = status
            && status & PAPER_END_BITS == PAPER_END_BITS
        {
            return Err("out of paper".to_owned());
        }
        // No answer: a printer without status support; print anyway.
        let write = async {
            stream.write_all(&job.payload).await?;
            stream.flush().await?;
            stream.shutdown().await
        };
        tokio::time::timeout(Duration::from_millis(self.limits.write_timeout_ms), write)
            .await
            .map_err(|_| "write timed out".to_owned())?
            .map_err(|error| format!("write: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_the_base_up_to_the_cap() {
        let limits = PrintQueueLimits::default();
        assert_eq!(limits.backoff_ms(1), 1_000);
        assert_eq!(limits.backoff_ms(2), 2_000);
        assert_eq!(limits.backoff_ms(4), 8_000);
        assert_eq!(limits.backoff_ms(7), 60_000);
        assert_eq!(limits.backoff_ms(u32::MAX), 60_000);
    }
}
