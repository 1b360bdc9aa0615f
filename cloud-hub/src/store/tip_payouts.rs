//! Tip payouts the outlets recorded (from their `TipPayout` ops): SQL only.

use super::{StoreError, TenantId};
use sync_protocol::op::TipPayoutV1;
use uuid::Uuid;

/// Enters an outlet's payouts once each; returns the ones new to the hub.
pub async fn insert<'a>(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    payouts: &[&'a TipPayoutV1],
) -> Result<Vec<&'a TipPayoutV1>, StoreError> {
    let mut new = Vec::new();
    for payout in payouts {
        let shares: Vec<serde_json::Value> = payout
            .shares
            .iter()
            .map(|share| {
                serde_json::json!({"staff_id": Uuid::from_bytes(share.staff_id),
                    "weight": share.weight, "amount_minor": share.amount_minor})
            })
            .collect();
        let inserted = sqlx::query(
            "INSERT INTO tip_payouts (tenant_id, id, outlet_id, from_ms, to_ms, tips_minor, shares,
                by_staff_id, paid_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(Uuid::from_bytes(payout.payout_id))
        .bind(outlet_id)
        .bind(payout.from_ms)
        .bind(payout.to_ms)
        .bind(payout.tips_minor)
        .bind(sqlx::types::Json(&shares))
        .bind(Uuid::from_bytes(payout.by_staff_id))
        .bind(payout.paid_at_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            new.push(*payout);
        }
    }
    Ok(new)
}

/// Records which payouts were handed out in cash, and from which drawer session.
pub async fn mark_in_cash(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    marks: &[(Uuid, Uuid)],
) -> Result<(), StoreError> {
    if marks.is_empty() {
        return Ok(());
    }
    let (payouts, sessions): (Vec<Uuid>, Vec<Uuid>) = marks.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO tip_payouts_in_cash (tenant_id, payout_id, drawer_session_id)
         SELECT $1, * FROM UNNEST($2::uuid[], $3::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(&payouts)
    .bind(&sessions)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether payout `payout_id` was handed out in cash.
pub async fn paid_in_cash(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    payout_id: [u8; 16],
) -> Result<bool, StoreError> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM tip_payouts_in_cash WHERE tenant_id = $1 AND payout_id = $2",
    )
    .bind(tenant.0)
    .bind(Uuid::from_bytes(payout_id))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(found.is_some())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PayoutRow {
    pub id: Uuid,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tips_minor: i64,
    pub shares: serde_json::Value,
    pub by_staff_id: Uuid,
    pub paid_at_ms: i64,
    /// The drawer session it was handed out from in cash, if it was.
    pub drawer_session_id: Option<Uuid>,
}

/// Where each payout's treasury call stands (`pending`, `sent`, `failed`), by payout id; a
/// payout handed out in cash has none.
pub async fn treasury_states(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    payout_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, StoreError> {
    let calls: Vec<Uuid> = payout_ids
        .iter()
        .map(|id| super::service_calls::call_id(*id, "treasury.payout"))
        .collect();
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, state FROM service_calls WHERE tenant_id = $1 AND id = ANY($2)")
            .bind(tenant.0)
            .bind(&calls)
            .fetch_all(&mut *tx)
            .await?;
    Ok(payout_ids
        .iter()
        .zip(&calls)
        .filter_map(|(payout, call)| {
            rows.iter()
                .find(|(id, _)| id == call)
                .map(|(_, state)| (*payout, state.clone()))
        })
        .collect())
}

/// An outlet's payouts, newest period first.
pub async fn list(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    limit: i64,
) -> Result<Vec<PayoutRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.from_ms, p.to_ms, p.tips_minor, p.shares, p.by_staff_id, p.paid_at_ms,
                c.drawer_session_id
         FROM tip_payouts p
         LEFT JOIN tip_payouts_in_cash c ON c.tenant_id = p.tenant_id AND c.payout_id = p.id
         WHERE p.tenant_id = $1 AND p.outlet_id = $2 ORDER BY p.from_ms DESC LIMIT $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?)
}
