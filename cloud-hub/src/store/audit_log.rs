//! The tenant's audit log and the chargebacks on its orders: SQL only.
//!
//! Audit entries of the tills arrive as ops and are written at ingest, once per audit id;
//! a chargeback the treasury reports is written with its audit entry in one transaction.

use super::{StoreError, TenantId};
use sync_protocol::op::AuditEventV1;
use uuid::Uuid;

/// One audit entry as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub outlet_code: Option<String>,
    /// `till` or `treasury`.
    pub source: String,
    pub action: String,
    pub actor_staff_id: Option<Uuid>,
    pub approver_staff_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub subject: String,
    pub reason: String,
    pub detail: serde_json::Value,
    pub at_ms: i64,
}

/// Writes the audit ops of one outlet's device (inside ingest's transaction); an entry
/// already written (a re-sent op) is skipped.
pub async fn insert_till_entries(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    entries: &[&AuditEventV1],
) -> Result<(), StoreError> {
    for entry in entries {
        let action = shared_model::staff::Action::from(entry.action);
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, id, outlet_id, source, action, actor_staff_id,
                approver_staff_id, device_id, subject, reason, at_ms)
             VALUES ($1, $2, $3, 'till', $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(Uuid::from_bytes(entry.audit_id))
        .bind(outlet_id)
        .bind(action.as_str())
        .bind(entry.actor_staff_id.map(Uuid::from_bytes))
        .bind(entry.approver_staff_id.map(Uuid::from_bytes))
        .bind(Uuid::from_bytes(entry.device_id))
        .bind(&entry.subject)
        .bind(&entry.reason)
        .bind(entry.at_ms)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Position in the newest-first log: `(at_ms, id)` of the last entry seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    pub at_ms: i64,
    pub id: Uuid,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    code: Option<String>,
    source: String,
    action: String,
    actor_staff_id: Option<Uuid>,
    approver_staff_id: Option<Uuid>,
    device_id: Option<Uuid>,
    subject: String,
    reason: String,
    detail: serde_json::Value,
    at_ms: i64,
}

/// Newest first, keyset-paginated, optionally of one outlet and one action.
pub async fn list(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_code: Option<&str>,
    action: Option<&str>,
    after: Option<AuditCursor>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT a.id, o.code, a.source, a.action, a.actor_staff_id, a.approver_staff_id,
                a.device_id, a.subject, a.reason, a.detail, a.at_ms
         FROM audit_log a
         LEFT JOIN outlets o ON o.tenant_id = a.tenant_id AND o.id = a.outlet_id
         WHERE a.tenant_id = $1
           AND (a.at_ms, a.id) < ($4, $5)
           AND ($2::text IS NULL OR o.code = $2)
           AND ($3::text IS NULL OR a.action = $3)
         ORDER BY a.at_ms DESC, a.id DESC
         LIMIT $6",
    )
    .bind(tenant.0)
    .bind(outlet_code)
    .bind(action)
    .bind(after.map_or(i64::MAX, |c| c.at_ms))
    .bind(after.map_or(Uuid::max(), |c| c.id))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEntry {
            id: row.id,
            outlet_code: row.code,
            source: row.source,
            action: row.action,
            actor_staff_id: row.actor_staff_id,
            approver_staff_id: row.approver_staff_id,
            device_id: row.device_id,
            subject: row.subject,
            reason: row.reason,
            detail: row.detail,
            at_ms: row.at_ms,
        })
        .collect())
}

/// A chargeback on an order, as the treasury reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chargeback {
    pub id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub provider_ref: Option<String>,
    pub received_at_ms: i64,
}

/// A chargeback to record.
#[derive(Debug, Clone)]
pub struct NewChargeback<'a> {
    pub order_id: Uuid,
    pub event_id: Option<&'a str>,
    pub amount_minor: i64,
    pub reason: &'a str,
    pub provider_ref: Option<&'a str>,
    pub received_at_ms: i64,
}

/// A recorded chargeback, with what its event names.
#[derive(Debug, Clone)]
pub struct RecordedChargeback {
    pub chargeback: Chargeback,
    pub outlet_code: String,
    pub order_number: u64,
}

/// Records a chargeback on an order and its audit entry, in the caller's transaction; `None`
/// if the order is not the tenant's.
pub async fn record_chargeback(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    new: &NewChargeback<'_>,
) -> Result<Option<RecordedChargeback>, StoreError> {
    let order: Option<(Uuid, String, i64, String)> = sqlx::query_as(
        "SELECT o.outlet_id, o.currency, o.number, t.code
         FROM orders o JOIN outlets t ON t.tenant_id = o.tenant_id AND t.id = o.outlet_id
         WHERE o.tenant_id = $1 AND o.id = $2",
    )
    .bind(tenant.0)
    .bind(new.order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((outlet_id, currency, number, outlet_code)) = order else {
        return Ok(None);
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO order_chargebacks (tenant_id, id, order_id, outlet_id, event_id, amount_minor,
            currency, reason, provider_ref, received_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(new.order_id)
    .bind(outlet_id)
    .bind(new.event_id)
    .bind(new.amount_minor)
    .bind(&currency)
    .bind(new.reason)
    .bind(new.provider_ref)
    .bind(new.received_at_ms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, outlet_id, source, action, subject, reason, detail,
            at_ms)
         VALUES ($1, $2, $3, 'treasury', 'chargeback', $4, $5, $6, $7)",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(outlet_id)
    .bind(format!("order:{}", new.order_id))
    .bind(new.reason)
    .bind(serde_json::json!({"amount_minor": new.amount_minor, "currency": currency, "provider_ref": new.provider_ref}))
    .bind(new.received_at_ms)
    .execute(&mut *tx)
    .await?;
    Ok(Some(RecordedChargeback {
        chargeback: Chargeback {
            id,
            amount_minor: new.amount_minor,
            currency,
            reason: new.reason.to_owned(),
            provider_ref: new.provider_ref.map(str::to_owned),
            received_at_ms: new.received_at_ms,
        },
        outlet_code,
        order_number: number as u64,
    }))
}

/// The chargebacks on an order, oldest first.
pub async fn chargebacks_of(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<Vec<Chargeback>, StoreError> {
    type Row = (Uuid, i64, String, String, Option<String>, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, amount_minor, currency, reason, provider_ref, received_at_ms
         FROM order_chargebacks WHERE tenant_id = $1 AND order_id = $2
         ORDER BY received_at_ms, id",
    )
    .bind(tenant.0)
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Chargeback {
            id: r.0,
            amount_minor: r.1,
            currency: r.2,
            reason: r.3,
            provider_ref: r.4,
            received_at_ms: r.5,
        })
        .collect())
}
