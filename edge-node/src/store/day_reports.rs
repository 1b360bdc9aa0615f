//! The outlet's business day: the X report (sales since the last close, as of now) and the
//! numbered, immutable Z report that closes the day. SQL only; the figures are
//! `shared_model::day_report`'s.
//!
//! A day runs from the previous Z report's end (the first from the epoch) to the moment it is
//! closed. Closing reads the orders, writes the report and its op in one transaction, so a Z
//! report and the hub's copy are the same facts; rows are never updated.

use super::{Store, StoreError, append_op_body};
use rusqlite::{Connection, OptionalExtension, params};
use shared_model::Order;
use shared_model::day_report::SalesSummary;
use sync_protocol::op::{DayClosedV1, OpBody, SalesSummaryV1};
use uuid::Uuid;

/// How far before a day's start an order's last change may lie and still hold a fact of the
/// day. Why a day: an order's facts carry the till's clock at the time, its row the time it was
/// last written; a cloud order's facts carry the hub's clock. A day covers any skew seen.
pub const CANDIDATE_SLACK_MS: i64 = 86_400_000;
/// Most Z reports one listing returns (newest first). Why 400: over a year of daily closes.
pub const Z_REPORTS_LIST_MAX: i64 = 400;

/// A closed day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZReport {
    pub z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub currency: String,
    pub summary: SalesSummary,
    pub closed_by: Uuid,
    pub closed_at_ms: i64,
}

/// The day so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XReport {
    /// The number the day's Z report will take.
    pub next_z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub summary: SalesSummary,
    /// Orders not yet closed or voided, and what they come to: they land in a later day.
    pub open_orders: u32,
    pub open_orders_minor: i64,
}

/// Why the day could not be closed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum CloseDayError {
    #[error("{0} cash drawer(s) are still open: count and close them first")]
    DrawersOpen(u32),
}

fn last_close(connection: &Connection) -> Result<(u64, i64), StoreError> {
    let last: Option<(i64, i64)> = connection
        .query_row(
            "SELECT z_number, to_ms FROM day_reports ORDER BY z_number DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(last.map_or((0, 0), |(number, to_ms)| (number.max(0) as u64, to_ms)))
}

/// Orders that may hold a fact of `[from_ms, ..)`.
fn candidates(connection: &Connection, from_ms: i64) -> Result<Vec<Order>, StoreError> {
    let mut statement =
        connection.prepare_cached("SELECT doc FROM orders WHERE updated_at_ms >= ?1")?;
    let docs = statement
        .query_map(params![from_ms.saturating_sub(CANDIDATE_SLACK_MS)], |row| {
            row.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    docs.iter()
        .map(|doc| serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

fn report_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(i64, i64, i64, String, String, String, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn z_report(
    (z_number, from_ms, to_ms, currency, summary, closed_by, closed_at_ms): (
        i64,
        i64,
        i64,
        String,
        String,
        String,
        i64,
    ),
) -> Result<ZReport, StoreError> {
    Ok(ZReport {
        z_number: z_number.max(0) as u64,
        from_ms,
        to_ms,
        currency,
        summary: serde_json::from_str(&summary).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        closed_by: closed_by
            .parse()
            .map_err(|e: uuid::Error| StoreError::Corrupt(e.to_string()))?,
        closed_at_ms,
    })
}

const Z_COLUMNS: &str = "z_number, from_ms, to_ms, currency, summary, closed_by, closed_at_ms";

impl Store {
    /// The day so far: everything since the last Z report up to `now_ms`.
    pub fn x_report(&self, now_ms: i64) -> Result<XReport, StoreError> {
        let connection = self.lock();
        let (last_number, from_ms) = last_close(&connection)?;
        let orders = candidates(&connection, from_ms)?;
        let to_ms = now_ms.max(from_ms);
        let summary = SalesSummary::of(&orders, from_ms, to_ms);
        let mut open_orders = 0;
        let mut open_orders_minor = 0;
        for order in orders.iter().filter(|order| order.state.is_live()) {
            open_orders += 1;
            open_orders_minor += order.totals().total_minor;
        }
        Ok(XReport {
            next_z_number: last_number + 1,
            from_ms,
            to_ms,
            summary,
            open_orders,
            open_orders_minor,
        })
    }

    /// Closes the day at `now_ms` with the next Z report, and its op for the hub.
    pub fn close_day(
        &self,
        currency: &str,
        closed_by: Uuid,
        now_ms: i64,
    ) -> Result<Result<ZReport, CloseDayError>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let drawers_open: i64 = tx.query_row(
            "SELECT count(*) FROM drawer_sessions WHERE state <> 'closed'",
            [],
            |row| row.get(0),
        )?;
        if drawers_open > 0 {
            return Ok(Err(CloseDayError::DrawersOpen(drawers_open as u32)));
        }
        let (last_number, from_ms) = last_close(&tx)?;
        // A clock that went back must not make a day end before it began.
        let to_ms = now_ms.max(from_ms);
        let orders = candidates(&tx, from_ms)?;
        let report = ZReport {
            z_number: last_number + 1,
            from_ms,
            to_ms,
            currency: currency.to_owned(),
            summary: SalesSummary::of(&orders, from_ms, to_ms),
            closed_by,
            closed_at_ms: now_ms,
        };
        let summary_json = serde_json::to_string(&report.summary)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO day_reports (z_number, from_ms, to_ms, currency, summary, closed_by,
                closed_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                report.z_number as i64,
                report.from_ms,
                report.to_ms,
                report.currency,
                summary_json,
                closed_by.to_string(),
                now_ms
            ],
        )?;
        let body = OpBody::DayClosed(DayClosedV1 {
            z_number: report.z_number,
            from_ms: report.from_ms,
            to_ms: report.to_ms,
            currency: report.currency.clone(),
            summary: SalesSummaryV1::from(&report.summary),
            closed_by_staff_id: *closed_by.as_bytes(),
            closed_at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "day_closed", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok(report))
    }

    pub fn z_report(&self, z_number: u64) -> Result<Option<ZReport>, StoreError> {
        let connection = self.lock();
        let row = connection
            .query_row(
                &format!("SELECT {Z_COLUMNS} FROM day_reports WHERE z_number = ?1"),
                params![z_number as i64],
                report_from_row,
            )
            .optional()?;
        row.map(z_report).transpose()
    }

    /// The newest Z reports first.
    pub fn z_reports(&self) -> Result<Vec<ZReport>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {Z_COLUMNS} FROM day_reports ORDER BY z_number DESC LIMIT ?1"
        ))?;
        let rows = statement
            .query_map(params![Z_REPORTS_LIST_MAX], report_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(z_report).collect()
    }
}
