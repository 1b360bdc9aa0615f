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
    // A limited promotion goes with the uses the other outlets made of it so far.
    let uses = if stored.promotion.usage_limit.is_some() {
        uses_by_outlet(tx, tenant, &stored.promotion.id).await?
    } else {
        UsesByOutlet::default()
    };
    for outlet in outlet_ids(tx, tenant).await? {
        let applies = stored
            .outlet_ids
            .as_ref()
            .is_none_or(|only| only.contains(&outlet));
        let mut entries = Vec::with_capacity(2);
        if applies {
            entries.push(upserted(&stored.promotion));
            if stored.promotion.usage_limit.is_some() {
                entries.push(uses_entry(&stored.promotion.id, uses.elsewhere(outlet)));
            }
        } else {
            entries.push(removed(&stored.promotion.id));
        }
        super::feed::append(tx, tenant, outlet, &entries).await?;
    }
    Ok(inserted)
}

/// A promotion's counted uses, per outlet.
#[derive(Debug, Default)]
struct UsesByOutlet(Vec<(Uuid, i64)>);

impl UsesByOutlet {
    /// Uses at every outlet but `outlet`.
    fn elsewhere(&self, outlet: Uuid) -> i64 {
        self.0
            .iter()
            .filter(|(id, _)| *id != outlet)
            .map(|(_, n)| n)
            .sum()
    }
}

async fn uses_by_outlet(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    promotion_id: &str,
) -> Result<UsesByOutlet, StoreError> {
    Ok(UsesByOutlet(
        sqlx::query_as(
            "SELECT outlet_id, count(*) FROM promotion_uses
             WHERE tenant_id = $1 AND promotion_id = $2 GROUP BY outlet_id",
        )
        .bind(tenant.0)
        .bind(promotion_id)
        .fetch_all(&mut *tx)
        .await?,
    ))
}

fn uses_entry(id: &str, uses_elsewhere: i64) -> (String, String, Vec<u8>) {
    (
        "promotion.uses".into(),
        id.to_owned(),
        FeedBody::PromotionUsesSet {
            promotion_id: id.to_owned(),
            uses_elsewhere: u32::try_from(uses_elsewhere.max(0)).unwrap_or(u32::MAX),
        }
        .encode(),
    )
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

/// Uses counted per promotion (only usage-limited promotions are counted).
pub async fn use_counts(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT promotion_id, count(*) FROM promotion_uses WHERE tenant_id = $1
         GROUP BY promotion_id",
    )
    .bind(tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Sends a new outlet the tenant's promotions that apply to every outlet.
pub async fn seed_outlet(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<(), StoreError> {
    let counts = use_counts(tx, tenant).await?;
    let entries: Vec<_> = list(tx, tenant)
        .await?
        .iter()
        .filter(|stored| stored.outlet_ids.is_none())
        .flat_map(|stored| {
            // With the uses the other outlets already made, so a new outlet does not start
            // the limit afresh.
            let uses = stored.promotion.usage_limit.map(|_| {
                let id = &stored.promotion.id;
                uses_entry(id, counts.get(id).copied().unwrap_or(0))
            });
            std::iter::once(upserted(&stored.promotion)).chain(uses)
        })
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    super::feed::append(tx, tenant, outlet_id, &entries).await?;
    Ok(())
}

/// An order as ingest left it, for counting the promotions it uses.
pub struct OrderUses<'a> {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub order: &'a shared_model::Order,
}

/// Counts the uses of usage-limited promotions on `orders` (an order uses one once money is
/// taken, `OrderState::redeems_promotions`; a void, merge or whole refund gives it back) and
/// sends each outlet the promotion applies to how many uses the other outlets now have, when
/// that number moved. Costs one indexed query when the orders' tenants have no limited
/// promotion.
pub async fn record_uses(
    tx: &mut sqlx::PgConnection,
    orders: &[OrderUses<'_>],
) -> Result<(), StoreError> {
    let mut tenants: Vec<Uuid> = orders.iter().map(|o| o.tenant.0).collect();
    tenants.sort_unstable();
    tenants.dedup();
    if tenants.is_empty() {
        return Ok(());
    }
    let limited: Vec<(Uuid, String, Option<Vec<Uuid>>)> = sqlx::query_as(
        "SELECT tenant_id, id, outlet_ids FROM promotions
         WHERE tenant_id = ANY($1) AND doc->'usage_limit' IS NOT NULL
           AND doc->'usage_limit' <> 'null'::jsonb",
    )
    .bind(&tenants)
    .fetch_all(&mut *tx)
    .await?;
    if limited.is_empty() {
        return Ok(());
    }
    let is_limited = |tenant: Uuid, id: &str| limited.iter().any(|l| l.0 == tenant && l.1 == id);
    let relevant: Vec<&OrderUses<'_>> = orders
        .iter()
        .filter(|o| limited.iter().any(|l| l.0 == o.tenant.0))
        .collect();
    let (order_tenants, order_ids): (Vec<Uuid>, Vec<Uuid>) =
        relevant.iter().map(|o| (o.tenant.0, o.order.id.0)).unzip();
    // (tenant, promotion, order, outlet) before and after.
    type Use = (Uuid, String, Uuid, Uuid);
    let before: Vec<Use> = sqlx::query_as(
        "DELETE FROM promotion_uses
         WHERE (tenant_id, order_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))
         RETURNING tenant_id, promotion_id, order_id, outlet_id",
    )
    .bind(&order_tenants)
    .bind(&order_ids)
    .fetch_all(&mut *tx)
    .await?;
    let after: Vec<Use> = relevant
        .iter()
        .filter(|o| o.order.state.redeems_promotions())
        .flat_map(|o| {
            o.order
                .promotions
                .iter()
                .filter(|applied| is_limited(o.tenant.0, &applied.promotion_id))
                .map(|applied| {
                    (
                        o.tenant.0,
                        applied.promotion_id.clone(),
                        o.order.id.0,
                        o.outlet_id,
                    )
                })
        })
        .collect();
    if !after.is_empty() {
        sqlx::query(
            "INSERT INTO promotion_uses (tenant_id, promotion_id, order_id, outlet_id)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[])
             ON CONFLICT DO NOTHING",
        )
        .bind(after.iter().map(|u| u.0).collect::<Vec<_>>())
        .bind(after.iter().map(|u| u.1.clone()).collect::<Vec<_>>())
        .bind(after.iter().map(|u| u.2).collect::<Vec<_>>())
        .bind(after.iter().map(|u| u.3).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    // Net change per (tenant, promotion, outlet): re-saving an order that keeps its promotion
    // changes nothing and sends nothing.
    let mut moved: std::collections::BTreeMap<
        (Uuid, String),
        std::collections::BTreeMap<Uuid, i64>,
    > = Default::default();
    for gone in before.iter().filter(|u| !after.contains(u)) {
        *moved
            .entry((gone.0, gone.1.clone()))
            .or_default()
            .entry(gone.3)
            .or_default() -= 1;
    }
    for new in after.iter().filter(|u| !before.contains(u)) {
        *moved
            .entry((new.0, new.1.clone()))
            .or_default()
            .entry(new.3)
            .or_default() += 1;
    }
    for ((tenant, promotion_id), deltas) in moved {
        let delta_total: i64 = deltas.values().sum();
        let uses = uses_by_outlet(&mut *tx, TenantId(tenant), &promotion_id).await?;
        let targets = match limited
            .iter()
            .find(|l| l.0 == tenant && l.1 == promotion_id)
            .and_then(|l| l.2.clone())
        {
            Some(listed) => listed,
            None => outlet_ids(&mut *tx, TenantId(tenant)).await?,
        };
        for outlet in targets {
            let own_delta = deltas.get(&outlet).copied().unwrap_or(0);
            // The others' count moves only by what the other outlets changed.
            if delta_total == own_delta {
                continue;
            }
            super::feed::append(
                tx,
                TenantId(tenant),
                outlet,
                &[uses_entry(&promotion_id, uses.elsewhere(outlet))],
            )
            .await?;
        }
    }
    Ok(())
}
