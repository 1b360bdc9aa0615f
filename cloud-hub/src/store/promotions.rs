//! The tenant's promotions, and their fan-out to the outlets' feeds: SQL only. A promotion is
//! sent to every outlet it applies to (and its removal to every other one), in the transaction
//! that changes it, so a till never applies a promotion head office withdrew once it has synced.

use super::{StoreError, TenantId};
use shared_model::promotions::Promotion;
use sync_protocol::feed::FeedBody;
use sync_protocol::promotions::PromotionV1;
use uuid::Uuid;

/// A promotion with the outlets it is limited to (`None`: all of them).
#[derive(Debug, Clone)]
pub struct StoredPromotion {
    pub promotion: Promotion,
    pub outlet_ids: Option<Vec<Uuid>>,
}

fn upserted(promotion: &Promotion) -> (String, String, Vec<u8>) {
    (
        "promotion.upserted".into(),
        promotion.id.clone(),
        FeedBody::PromotionUpserted(PromotionV1::from(promotion)).encode(),
    )
}

fn removed(id: &str) -> (String, String, Vec<u8>) {
    (
        "promotion.removed".into(),
        id.to_owned(),
        FeedBody::PromotionRemoved {
            promotion_id: id.to_owned(),
        }
        .encode(),
    )
}

async fn outlet_ids(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM outlets WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await?,
    )
}

/// Creates or replaces a promotion and sends it to the outlets it applies to (and its removal
/// to the others). Returns `true` if it was new.
pub async fn put(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    stored: &StoredPromotion,
) -> Result<bool, StoreError> {
    let doc = serde_json::to_value(&stored.promotion)
        .map_err(|e| StoreError::Corrupt(format!("a promotion does not serialise: {e}")))?;
    let inserted: bool = sqlx::query_scalar(
        "INSERT INTO promotions (tenant_id, id, doc, outlet_ids) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, id)
         DO UPDATE SET doc = excluded.doc, outlet_ids = excluded.outlet_ids, updated_at = now()
         RETURNING (xmax = 0)",
    )
    .bind(tenant.0)
    .bind(&stored.promotion.id)
    .bind(&doc)
    .bind(&stored.outlet_ids)
    .fetch_one(&mut *tx)
    .await?;
    for outlet in outlet_ids(tx, tenant).await? {
        let applies = stored
            .outlet_ids
            .as_ref()
            .is_none_or(|only| only.contains(&outlet));
        let entry = if applies {
            upserted(&stored.promotion)
        } else {
            removed(&stored.promotion.id)
        };
        super::feed::append(tx, tenant, outlet, &[entry]).await?;
    }
    Ok(inserted)
}

/// Withdraws a promotion everywhere; `false` if the tenant has no such promotion.
pub async fn remove(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: &str,
) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM promotions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    for outlet in outlet_ids(tx, tenant).await? {
        super::feed::append(tx, tenant, outlet, &[removed(id)]).await?;
    }
    Ok(true)
}

/// The tenant's promotions, by id.
pub async fn list(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Vec<StoredPromotion>, StoreError> {
    let rows: Vec<(serde_json::Value, Option<Vec<Uuid>>)> =
        sqlx::query_as("SELECT doc, outlet_ids FROM promotions WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await?;
    rows.into_iter()
        .map(|(doc, outlet_ids)| {
            Ok(StoredPromotion {
                promotion: serde_json::from_value(doc)
                    .map_err(|e| StoreError::Corrupt(format!("a stored promotion: {e}")))?,
                outlet_ids,
            })
        })
        .collect()
}

/// Sends a new outlet the tenant's promotions that apply to every outlet.
pub async fn seed_outlet(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<(), StoreError> {
    let entries: Vec<_> = list(tx, tenant)
        .await?
        .iter()
        .filter(|stored| stored.outlet_ids.is_none())
        .map(|stored| upserted(&stored.promotion))
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    super::feed::append(tx, tenant, outlet_id, &entries).await?;
    Ok(())
}
