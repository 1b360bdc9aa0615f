//! The hub's copy of cash-drawer sessions, rebuilt from the edges' drawer ops with the same
//! `shared-model` rules, inside the ingest transaction. A session that closes raises
//! `pos.cashdrawer.closed` (and `pos.cash_exception` past the threshold) in the same
//! transaction, through the outbox.

use super::StoreError;
use super::devices::DeviceIdentity;
use crate::events::{CASH_EXCEPTION_THRESHOLD_MINOR, OutboxEvent, drawer_closed_events};
use shared_model::drawer::{DrawerEvent, DrawerSession};
use std::collections::HashMap;
use sync_protocol::op::DrawerOpV1;
use uuid::Uuid;

/// Folds drawer ops into their sessions; returns how many contradicted their session (kept as
/// anomalies, never silently dropped).
pub async fn apply_drawer_ops(
    tx: &mut sqlx::PgConnection,
    device: &DeviceIdentity,
    ops: &[(u64, DrawerOpV1)],
) -> Result<usize, StoreError> {
    let tenant = device.tenant_id;
    let ids: Vec<Uuid> = {
        let mut ids: Vec<Uuid> = ops
            .iter()
            .map(|(_, op)| Uuid::from_bytes(op.session_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let existing: Vec<(Uuid, sqlx::types::Json<DrawerSession>)> = sqlx::query_as(
        "SELECT id, doc FROM drawer_sessions WHERE tenant_id = $1 AND id = ANY($2) AND device_id = $3 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(device.id)
    .fetch_all(&mut *tx)
    .await?;
    let mut sessions: HashMap<Uuid, (DrawerSession, bool)> = existing
        .into_iter()
        .map(|(id, doc)| (id, (doc.0, false)))
        .collect();
    let mut closed: Vec<Uuid> = Vec::new();
    let mut anomalies: Vec<(u64, String)> = Vec::new();
    for (seq, op) in ops {
        let id = Uuid::from_bytes(op.session_id);
        let event = op.to_domain();
        match (sessions.get_mut(&id), &event) {
            (None, DrawerEvent::Opened { .. }) => {
                if let Some(session) = DrawerSession::from_opened(&event) {
                    sessions.insert(id, (session, true));
                }
            }
            (Some((session, dirty)), _) => match session.apply(&event) {
                Ok(()) => {
                    *dirty = true;
                    if matches!(event, DrawerEvent::Closed { .. }) {
                        closed.push(id);
                    }
                }
                Err(error) => anomalies.push((*seq, format!("drawer {id}: {error}"))),
            },
            (None, _) => anomalies.push((
                *seq,
                format!("drawer {id}: event for a session never opened"),
            )),
        }
    }
    for (id, (session, dirty)) in &sessions {
        if !dirty {
            continue;
        }
        sqlx::query(
            "INSERT INTO drawer_sessions (tenant_id, id, outlet_id, device_id, state, z_number, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, id) DO UPDATE SET state = excluded.state,
                z_number = excluded.z_number, doc = excluded.doc, updated_at = now()",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(device.outlet_id)
        .bind(device.id)
        .bind(session.state.as_str())
        .bind(session.report().z_number.map(|z| z as i64))
        .bind(sqlx::types::Json(session))
        .execute(&mut *tx)
        .await?;
    }
    if !closed.is_empty() {
        // The outlet's own threshold, if its configuration sets one.
        let (tenant_slug, outlet_code, threshold): (String, String, Option<i64>) = sqlx::query_as(
            "SELECT t.slug, o.code, (c.doc->>'cash_exception_threshold_minor')::bigint
             FROM tenants t JOIN outlets o ON o.tenant_id = t.id
             LEFT JOIN outlet_configs c ON c.tenant_id = o.tenant_id AND c.outlet_id = o.id
             WHERE t.id = $1 AND o.id = $2",
        )
        .bind(tenant.0)
        .bind(device.outlet_id)
        .fetch_one(&mut *tx)
        .await?;
        let events: Vec<OutboxEvent> = closed
            .iter()
            .filter_map(|id| sessions.get(id))
            .flat_map(|(session, _)| {
                drawer_closed_events(
                    &tenant_slug,
                    &outlet_code,
                    session,
                    threshold.unwrap_or(CASH_EXCEPTION_THRESHOLD_MINOR),
                )
            })
            .collect();
        super::outbox::insert(&mut *tx, tenant, &events).await?;
    }
    for (seq, error) in &anomalies {
        tracing::warn!(tenant = %tenant.0, device = %device.id, seq, %error, "drawer anomaly");
        sqlx::query(
            "INSERT INTO order_anomalies (tenant_id, device_id, seq, order_id, error)
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(device.id)
        .bind(*seq as i64)
        .bind(error)
        .execute(&mut *tx)
        .await?;
    }
    Ok(anomalies.len())
}

/// An outlet's drawer sessions as the hub rebuilt them, oldest first; only closed ones with
/// `closed_only`.
pub async fn sessions_of_outlet(
    conn: &mut sqlx::PgConnection,
    tenant: super::TenantId,
    outlet_id: Uuid,
    closed_only: bool,
) -> Result<Vec<DrawerSession>, StoreError> {
    let rows: Vec<sqlx::types::Json<DrawerSession>> = sqlx::query_scalar(
        "SELECT doc FROM drawer_sessions
         WHERE tenant_id = $1 AND outlet_id = $2 AND (NOT $3 OR state = 'closed')
         ORDER BY z_number NULLS LAST, id",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(closed_only)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|doc| doc.0).collect())
}
