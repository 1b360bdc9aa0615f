//! Staff sessions as the outlets' tills report them (sign-ins and how each ended): SQL only.
//! A sign-out may arrive in the same batch as its sign-in, or (after a replay) on its own; both
//! orders land on the same row.

use super::{StoreError, TenantId};
use sync_protocol::op::StaffEventV1;
use uuid::Uuid;

/// Most sessions a listing returns (newest first). Why 200: a busy outlet's day of shifts.
pub const SESSIONS_LIST_MAX: i64 = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    pub id: Uuid,
    pub staff_id: Uuid,
    pub staff_name: Option<String>,
    pub device_id: Option<Uuid>,
    pub device_name: Option<String>,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub ended_by: Option<Uuid>,
}

/// Enters an outlet's staff events (staff created at the till are not sessions: skipped).
pub async fn apply(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    events: &[&StaffEventV1],
) -> Result<(), StoreError> {
    for event in events {
        match event {
            StaffEventV1::SignedIn {
                session_id,
                staff_id,
                device_id,
                at_ms,
            } => {
                sqlx::query(
                    "INSERT INTO staff_sessions (tenant_id, id, outlet_id, staff_id, device_id,
                        started_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (tenant_id, id) DO UPDATE SET device_id = excluded.device_id,
                        started_at_ms = excluded.started_at_ms",
                )
                .bind(tenant.0)
                .bind(Uuid::from_bytes(*session_id))
                .bind(outlet_id)
                .bind(Uuid::from_bytes(*staff_id))
                .bind(Uuid::from_bytes(*device_id))
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
            }
            StaffEventV1::SignedOut {
                session_id,
                staff_id,
                reason,
                by_staff_id,
                at_ms,
            } => {
                sqlx::query(
                    "INSERT INTO staff_sessions (tenant_id, id, outlet_id, staff_id, ended_at_ms,
                        end_reason, ended_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (tenant_id, id) DO UPDATE SET ended_at_ms = excluded.ended_at_ms,
                        end_reason = excluded.end_reason, ended_by = excluded.ended_by",
                )
                .bind(tenant.0)
                .bind(Uuid::from_bytes(*session_id))
                .bind(outlet_id)
                .bind(Uuid::from_bytes(*staff_id))
                .bind(at_ms)
                .bind(reason)
                .bind(by_staff_id.map(Uuid::from_bytes))
                .execute(&mut *tx)
                .await?;
            }
            StaffEventV1::Created { .. } => {}
        }
    }
    Ok(())
}

type Row = (
    Uuid,
    Uuid,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<Uuid>,
);

/// An outlet's sessions, newest first; `active_only`: those not ended.
pub async fn list(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    active_only: bool,
) -> Result<Vec<StaffSession>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.staff_id, st.name, s.device_id, d.name, s.started_at_ms, s.ended_at_ms,
                s.end_reason, s.ended_by
         FROM staff_sessions s
         LEFT JOIN outlet_staff st ON st.tenant_id = s.tenant_id AND st.outlet_id = s.outlet_id
              AND st.id = s.staff_id
         LEFT JOIN lan_devices d ON d.tenant_id = s.tenant_id AND d.id = s.device_id
         WHERE s.tenant_id = $1 AND s.outlet_id = $2 AND ($3 = false OR s.ended_at_ms IS NULL)
         ORDER BY s.started_at_ms DESC NULLS LAST, s.id DESC
         LIMIT $4",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(active_only)
    .bind(SESSIONS_LIST_MAX)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StaffSession {
            id: row.0,
            staff_id: row.1,
            staff_name: row.2,
            device_id: row.3,
            device_name: row.4,
            started_at_ms: row.5,
            ended_at_ms: row.6,
            end_reason: row.7,
            ended_by: row.8,
        })
        .collect())
}
