//! Printers, the persisted print queue, and small outlet settings (the receipt template).
//!
//! A print job is a row holding the exact ESC/POS bytes to send, so a job queued before a
//! restart prints the same after it.

use super::{AuditEntry, Store, StoreError, insert_audit_tx, parse_uuid};
use rusqlite::{OptionalExtension, Transaction, params};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterRole {
    Receipt,
    Kitchen,
}

impl PrinterRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            PrinterRole::Receipt => "receipt",
            PrinterRole::Kitchen => "kitchen",
        }
    }

    pub fn parse(text: &str) -> Option<PrinterRole> {
        [PrinterRole::Receipt, PrinterRole::Kitchen]
            .into_iter()
            .find(|candidate| candidate.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printer {
    pub id: Uuid,
    pub name: String,
    /// `host:port` of the printer's raw TCP socket (usually port 9100).
    pub addr: String,
    pub role: PrinterRole,
    /// For kitchen printers: the station whose tickets it prints.
    pub station: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrintJob {
    pub printer_id: Uuid,
    /// `kitchen_ticket`, `receipt`, `receipt_reprint` or `drawer_kick`.
    pub kind: String,
    /// What it prints, e.g. `order:<uuid>`.
    pub subject: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintJobState {
    Pending,
    Done,
    Failed,
}

impl PrintJobState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PrintJobState::Pending => "pending",
            PrintJobState::Done => "done",
            PrintJobState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<PrintJobState> {
        [
            PrintJobState::Pending,
            PrintJobState::Done,
            PrintJobState::Failed,
        ]
        .into_iter()
        .find(|candidate| candidate.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    pub id: i64,
    pub printer_id: Uuid,
    pub printer_addr: String,
    pub kind: String,
    pub subject: String,
    pub payload: Vec<u8>,
    pub state: PrintJobState,
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
}

impl Store {
    pub fn insert_printer(&self, printer: &Printer, now_ms: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO printers (id, name, addr, role, station, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                printer.id.to_string(),
                printer.name,
                printer.addr,
                printer.role.as_str(),
                printer.station,
                now_ms
            ],
        )?;
        Ok(())
    }

    pub fn printers(&self) -> Result<Vec<Printer>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT id, name, addr, role, station FROM printers ORDER BY created_at_ms, id",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, name, addr, role, station)| {
                Ok(Printer {
                    id: parse_uuid(&id)?,
                    name,
                    addr,
                    role: PrinterRole::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("printer role {role}")))?,
                    station,
                })
            })
            .collect()
    }

    /// Queues jobs, and the audit entry of a high-risk print (a reprint, a no-sale), together.
    pub fn enqueue_print_jobs(
        &self,
        jobs: &[NewPrintJob],
        audit: Option<&AuditEntry>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        for job in jobs {
            insert_print_job_tx(&tx, job, now_ms)?;
        }
        if let Some(audit) = audit {
            insert_audit_tx(&tx, self.node_id, audit)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a receipt for `subject` has been queued before (so the next one is a reprint).
    pub fn receipt_printed(&self, subject: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT 1 FROM print_jobs WHERE subject = ?1 AND kind IN ('receipt', 'receipt_reprint')
                 LIMIT 1",
                params![subject],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Pending jobs due at `now_ms`, oldest first.
    pub fn due_print_jobs(
        &self,
        now_ms: i64,
        count_max: usize,
    ) -> Result<Vec<PrintJob>, StoreError> {
        self.print_jobs_where(
            "j.state = 'pending' AND j.next_attempt_at_ms <= ?1 ORDER BY j.id LIMIT ?2",
            params![now_ms, count_max as i64],
        )
    }

    /// The newest `count_max` jobs, newest first.
    pub fn recent_print_jobs(&self, count_max: usize) -> Result<Vec<PrintJob>, StoreError> {
        self.print_jobs_where(
            "?1 = ?1 ORDER BY j.id DESC LIMIT ?2",
            params![0, count_max as i64],
        )
    }

    fn print_jobs_where(
        &self,
        condition: &str,
        parameters: impl rusqlite::Params,
    ) -> Result<Vec<PrintJob>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT j.id, j.printer_id, p.addr, j.kind, j.subject, j.payload, j.state, j.attempts,
                    j.next_attempt_at_ms, j.last_error
             FROM print_jobs j JOIN printers p ON p.id = j.printer_id WHERE {condition}"
        ))?;
        let rows = statement
            .query_map(parameters, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Vec<u8>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, i64>(8)?,
                    row.get::<_, Option<String>>(9)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(id, printer_id, addr, kind, subject, payload, state, attempts, next, error)| {
                    Ok(PrintJob {
                        id,
                        printer_id: parse_uuid(&printer_id)?,
                        printer_addr: addr,
                        kind,
                        subject,
                        payload,
                        state: PrintJobState::parse(&state)
                            .ok_or_else(|| StoreError::Corrupt(format!("job state {state}")))?,
                        attempts: attempts.max(0) as u32,
                        next_attempt_at_ms: next,
                        last_error: error,
                    })
                },
            )
            .collect()
    }

    /// The earliest time a pending job is due, if any.
    pub fn next_print_due_at_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.lock().query_row(
            "SELECT min(next_attempt_at_ms) FROM print_jobs WHERE state = 'pending'",
            [],
            |row| row.get(0),
        )?)
    }

    pub fn mark_print_done(&self, job_id: i64, now_ms: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE print_jobs SET state = 'done', done_at_ms = ?2, attempts = attempts + 1,
                last_error = NULL WHERE id = ?1",
            params![job_id, now_ms],
        )?;
        Ok(())
    }

    /// Records a failed attempt: retry at `retry_at_ms`, or give up (`failed`) when `give_up`.
    pub fn mark_print_attempt_failed(
        &self,
        job_id: i64,
        error: &str,
        retry_at_ms: i64,
        give_up: bool,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE print_jobs SET attempts = attempts + 1, last_error = ?2,
                next_attempt_at_ms = ?3, state = CASE WHEN ?4 THEN 'failed' ELSE state END
             WHERE id = ?1",
            params![job_id, error, retry_at_ms, give_up],
        )?;
        Ok(())
    }

    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?)
    }

    pub fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }
}

pub(crate) fn insert_print_job_tx(
    tx: &Transaction<'_>,
    job: &NewPrintJob,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO print_jobs (printer_id, kind, subject, payload, state, next_attempt_at_ms,
            created_at_ms) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
        params![
            job.printer_id.to_string(),
            job.kind,
            job.subject,
            job.payload,
            now_ms
        ],
    )?;
    Ok(())
}
