//! The outlets' Z reports at the hub: SQL only.
//!
//! Each report arrives as the edge's op, after every fact of its day (one origin, one gap-free
//! sequence). The hub computes the same period from its own copy of the outlet's orders with
//! `shared_model::day_report` and keeps both, with whether they agree: an auditor sees the
//! edge's report and the hub's proof of it side by side.

use super::{StoreError, TenantId};
use shared_model::Order;
use shared_model::day_report::SalesSummary;
use uuid::Uuid;

/// How far before a day's start an order's last fact may lie and still hold a fact of the day
/// (clocks of tills and of the hub differ; the edge allows the same).
pub const CANDIDATE_SLACK_MS: i64 = 86_400_000;
/// Most reports one listing returns (newest first). Why 400: over a year of daily closes.
pub const DAY_REPORTS_LIST_MAX: i64 = 400;

/// A Z report as the hub holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    pub z_number: u64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub currency: String,
    /// As the outlet closed it.
    pub summary: SalesSummary,
    /// As the hub computes it from its orders.
    pub hub_summary: SalesSummary,
    pub matches: bool,
    pub closed_by: Uuid,
    pub closed_at_ms: i64,
}

/// A report an edge sent, to enter.
pub struct NewDayReport<'a> {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub device_id: Uuid,
    pub op_seq: u64,
    pub report: &'a sync_protocol::op::DayClosedV1,
}

/// The hub's figures for an outlet's period, from its orders.
pub async fn hub_summary(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    from_ms: i64,
    to_ms: i64,
) -> Result<SalesSummary, StoreError> {
    let docs: Vec<sqlx::types::Json<Order>> = sqlx::query_scalar(
        "SELECT doc FROM orders
         WHERE tenant_id = $1 AND outlet_id = $2 AND last_activity_ms >= $3 AND opened_at_ms < $4",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(from_ms.saturating_sub(CANDIDATE_SLACK_MS))
    .bind(to_ms)
    .fetch_all(&mut *tx)
    .await?;
    Ok(SalesSummary::of(
        docs.iter().map(|doc| &doc.0),
        from_ms,
        to_ms,
    ))
}

/// Enters a report (once: a re-sent op changes nothing); `Some` with the entered report when it
/// is new.
pub async fn enter(
    tx: &mut sqlx::PgConnection,
    new: &NewDayReport<'_>,
) -> Result<Option<DayReport>, StoreError> {
    let wire = new.report;
    let summary = SalesSummary::from(&wire.summary);
    let hub_summary = hub_summary(
        &mut *tx,
        new.tenant,
        new.outlet_id,
        wire.from_ms,
        wire.to_ms,
    )
    .await?;
    let matches = summary == hub_summary;
    let json = |value: &SalesSummary| {
        serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let inserted = sqlx::query(
        "INSERT INTO day_reports (tenant_id, outlet_id, z_number, device_id, op_seq, from_ms, to_ms,
            currency, summary, hub_summary, matches, closed_by, closed_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
    )
    .bind(new.tenant.0)
    .bind(new.outlet_id)
    .bind(wire.z_number as i64)
    .bind(new.device_id)
    .bind(new.op_seq as i64)
    .bind(wire.from_ms)
    .bind(wire.to_ms)
    .bind(&wire.currency)
    .bind(json(&summary)?)
    .bind(json(&hub_summary)?)
    .bind(matches)
    .bind(Uuid::from_bytes(wire.closed_by_staff_id))
    .bind(wire.closed_at_ms)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    if !matches {
        tracing::warn!(tenant = %new.tenant.0, outlet = %new.outlet_id, z_number = wire.z_number,
            "an outlet's Z report differs from the hub's orders");
    }
    Ok(Some(DayReport {
        z_number: wire.z_number,
        from_ms: wire.from_ms,
        to_ms: wire.to_ms,
        currency: wire.currency.clone(),
        summary,
        hub_summary,
        matches,
        closed_by: Uuid::from_bytes(wire.closed_by_staff_id),
        closed_at_ms: wire.closed_at_ms,
    }))
}

type Row = (
    i64,
    i64,
    i64,
    String,
    sqlx::types::Json<SalesSummary>,
    sqlx::types::Json<SalesSummary>,
    bool,
    Uuid,
    i64,
);

const COLUMNS: &str =
    "z_number, from_ms, to_ms, currency, summary, hub_summary, matches, closed_by, closed_at_ms";

fn from_row(row: Row) -> DayReport {
    DayReport {
        z_number: row.0.max(0) as u64,
        from_ms: row.1,
        to_ms: row.2,
        currency: row.3,
        summary: row.4.0,
        hub_summary: row.5.0,
        matches: row.6,
        closed_by: row.7,
        closed_at_ms: row.8,
    }
}

/// An outlet's reports, newest first.
pub async fn list(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<DayReport>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM day_reports WHERE tenant_id = $1 AND outlet_id = $2
         ORDER BY z_number DESC LIMIT $3"
    )))
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(DAY_REPORTS_LIST_MAX)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn get(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    z_number: u64,
) -> Result<Option<DayReport>, StoreError> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM day_reports WHERE tenant_id = $1 AND outlet_id = $2 AND z_number = $3"
    )))
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(z_number as i64)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(from_row))
}
