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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PayoutRow {
    pub id: Uuid,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tips_minor: i64,
    pub shares: serde_json::Value,
    pub by_staff_id: Uuid,
    pub paid_at_ms: i64,
}

/// An outlet's payouts, newest period first.
pub async fn list(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    limit: i64,
) -> Result<Vec<PayoutRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, from_ms, to_ms, tips_minor, shares, by_staff_id, paid_at_ms FROM tip_payouts
         WHERE tenant_id = $1 AND outlet_id = $2 ORDER BY from_ms DESC LIMIT $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?)
}
