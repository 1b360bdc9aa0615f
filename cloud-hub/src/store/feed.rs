//! The per-outlet downstream feed and the outlet catalog behind it.
//!
//! A change and its feed entry commit in one transaction (the same outbox pattern the edge
//! uses upstream). Sequence numbers come from a per-outlet head row locked for the
//! transaction, so they are gap-free and in commit order. Writers `pg_notify` the outlet, and
//! connected edges are pushed the new entries at once.

use super::{StoreError, TenantId};
use shared_model::CatalogItem;
use sqlx::PgPool;
use sync_protocol::feed::{CatalogItemV1, FeedBody, FeedEntry};
use uuid::Uuid;

/// The channel writers notify with the outlet id when its feed grows.
pub const FEED_CHANNEL: &str = "kibanda_outlet_feed";

/// Outcome of a catalog upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogUpsert {
    pub changed: usize,
    pub unchanged: usize,
    pub feed_through_seq: u64,
}

pub(super) async fn append(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    entries: &[(String, String, Vec<u8>)],
) -> Result<u64, StoreError> {
    sqlx::query(
        "INSERT INTO outlet_feed_heads (tenant_id, outlet_id, last_seq) VALUES ($1, $2, 0)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .execute(&mut *tx)
    .await?;
    let last: i64 = sqlx::query_scalar(
        "UPDATE outlet_feed_heads SET last_seq = last_seq + $3
         WHERE tenant_id = $1 AND outlet_id = $2 RETURNING last_seq",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(entries.len() as i64)
    .fetch_one(&mut *tx)
    .await?;
    let first = last - entries.len() as i64 + 1;
    let seqs: Vec<i64> = (first..=last).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let keys: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    let bodies: Vec<&[u8]> = entries.iter().map(|e| e.2.as_slice()).collect();
    sqlx::query(
        "INSERT INTO outlet_feed (tenant_id, outlet_id, seq, kind, key, body)
         SELECT $1, $2, * FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::bytea[])",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(&seqs)
    .bind(&kinds)
    .bind(&keys)
    .bind(&bodies)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(FEED_CHANNEL)
        .bind(outlet_id.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(last as u64)
}

pub(super) async fn feed_head(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<u64, StoreError> {
    let head: Option<i64> = sqlx::query_scalar(
        "SELECT last_seq FROM outlet_feed_heads WHERE tenant_id = $1 AND outlet_id = $2",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(head.unwrap_or(0) as u64)
}

/// Upserts `items` into the outlet catalog; only real changes become feed entries.
pub async fn upsert_catalog(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    items: &[CatalogItem],
) -> Result<CatalogUpsert, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let ids: Vec<&str> = items.iter().map(|item| item.id.0.as_str()).collect();
    let existing: Vec<(String, sqlx::types::Json<CatalogItem>)> = sqlx::query_as(
        "SELECT item_id, doc FROM catalog_items
         WHERE tenant_id = $1 AND outlet_id = $2 AND item_id = ANY($3) FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let existing: std::collections::HashMap<String, CatalogItem> =
        existing.into_iter().map(|(id, doc)| (id, doc.0)).collect();
    let changed: Vec<&CatalogItem> = items
        .iter()
        .filter(|item| existing.get(&item.id.0) != Some(*item))
        .collect();
    if changed.is_empty() {
        let head = feed_head(&mut tx, tenant, outlet_id).await?;
        return Ok(CatalogUpsert {
            changed: 0,
            unchanged: items.len(),
            feed_through_seq: head,
        });
    }
    for item in &changed {
        sqlx::query(
            "INSERT INTO catalog_items (tenant_id, outlet_id, item_id, doc) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, outlet_id, item_id) DO UPDATE SET doc = excluded.doc, updated_at = now()",
        )
        .bind(tenant.0)
        .bind(outlet_id)
        .bind(&item.id.0)
        .bind(sqlx::types::Json(item))
        .execute(&mut *tx)
        .await?;
    }
    let entries: Vec<(String, String, Vec<u8>)> = changed
        .iter()
        .map(|item| {
            (
                "catalog.item_upserted".to_owned(),
                item.id.0.clone(),
                FeedBody::CatalogItemUpserted(CatalogItemV1::from(*item)).encode(),
            )
        })
        .collect();
    let feed_through_seq = append(&mut tx, tenant, outlet_id, &entries).await?;
    tx.commit().await?;
    Ok(CatalogUpsert {
        changed: changed.len(),
        unchanged: items.len() - changed.len(),
        feed_through_seq,
    })
}

/// Removes an item; `false` if the outlet had no such item.
pub async fn remove_catalog_item(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    item_id: &str,
) -> Result<bool, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let removed = sqlx::query(
        "DELETE FROM catalog_items WHERE tenant_id = $1 AND outlet_id = $2 AND item_id = $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(item_id)
    .execute(&mut *tx)
    .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    let body = FeedBody::CatalogItemRemoved {
        item_id: item_id.to_owned(),
    }
    .encode();
    append(
        &mut tx,
        tenant,
        outlet_id,
        &[("catalog.item_removed".into(), item_id.into(), body)],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Sets the modifier groups `item_id` offers at the outlet and sends them down its feed;
/// `None` if the outlet has no such item. The item's own document lists the groups' ids.
pub async fn set_item_modifiers(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    item_id: &str,
    groups: &[shared_model::modifiers::ModifierGroup],
) -> Result<Option<u64>, StoreError> {
    let ids: Vec<String> = groups.iter().map(|group| group.id.clone()).collect();
    let updated = sqlx::query(
        "UPDATE catalog_items SET doc = jsonb_set(doc, '{modifier_group_ids}', $4)
         WHERE tenant_id = $1 AND outlet_id = $2 AND item_id = $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(item_id)
    .bind(sqlx::types::Json(&ids))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO item_modifiers (tenant_id, outlet_id, item_id, groups) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, outlet_id, item_id)
         DO UPDATE SET groups = excluded.groups, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(item_id)
    .bind(sqlx::types::Json(groups))
    .execute(&mut *tx)
    .await?;
    let body = FeedBody::ItemModifiersSet {
        item_id: item_id.to_owned(),
        groups: groups.iter().map(Into::into).collect(),
    }
    .encode();
    let seq = append(
        tx,
        tenant,
        outlet_id,
        &[("catalog.item_modifiers".into(), item_id.into(), body)],
    )
    .await?;
    Ok(Some(seq))
}

/// Creates or replaces a combo and sends it down the outlet's feed; `Err(item)` names a slot
/// item the outlet does not sell (nothing is written then).
pub async fn put_combo(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    combo: &shared_model::modifiers::Combo,
) -> Result<Result<u64, String>, StoreError> {
    let wanted: Vec<String> = combo
        .slots
        .iter()
        .flat_map(|slot| slot.options.iter().map(|option| option.item_id.0.clone()))
        .collect();
    let known = catalog_items(tx, tenant, outlet_id, &wanted).await?;
    if let Some(missing) = wanted.iter().find(|id| !known.contains_key(*id)) {
        return Ok(Err(missing.clone()));
    }
    sqlx::query(
        "INSERT INTO combos (tenant_id, outlet_id, id, doc) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, outlet_id, id) DO UPDATE SET doc = excluded.doc, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(&combo.id)
    .bind(sqlx::types::Json(combo))
    .execute(&mut *tx)
    .await?;
    let body = FeedBody::ComboUpserted(combo.into()).encode();
    let seq = append(
        tx,
        tenant,
        outlet_id,
        &[("catalog.combo".into(), combo.id.clone(), body)],
    )
    .await?;
    Ok(Ok(seq))
}

/// Withdraws a combo from the outlet; `false` if it had none of that id.
pub async fn remove_combo(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    combo_id: &str,
) -> Result<bool, StoreError> {
    let removed =
        sqlx::query("DELETE FROM combos WHERE tenant_id = $1 AND outlet_id = $2 AND id = $3")
            .bind(tenant.0)
            .bind(outlet_id)
            .bind(combo_id)
            .execute(&mut *tx)
            .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    let body = FeedBody::ComboRemoved {
        combo_id: combo_id.to_owned(),
    }
    .encode();
    append(
        tx,
        tenant,
        outlet_id,
        &[("catalog.combo_removed".into(), combo_id.into(), body)],
    )
    .await?;
    Ok(true)
}

/// The outlet's combos, by id.
pub async fn combos(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<shared_model::modifiers::Combo>, StoreError> {
    let rows: Vec<(sqlx::types::Json<shared_model::modifiers::Combo>,)> = sqlx::query_as(
        "SELECT doc FROM combos WHERE tenant_id = $1 AND outlet_id = $2 ORDER BY id",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|row| row.0.0).collect())
}

/// The modifier groups `item_id` offers at the outlet (`None`: no such item).
pub async fn item_modifiers(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    item_id: &str,
) -> Result<Option<Vec<shared_model::modifiers::ModifierGroup>>, StoreError> {
    let row: Option<(Option<sqlx::types::Json<Vec<shared_model::modifiers::ModifierGroup>>>,)> =
        sqlx::query_as(
            "SELECT m.groups FROM catalog_items c
             LEFT JOIN item_modifiers m ON m.tenant_id = c.tenant_id
                AND m.outlet_id = c.outlet_id AND m.item_id = c.item_id
             WHERE c.tenant_id = $1 AND c.outlet_id = $2 AND c.item_id = $3",
        )
        .bind(tenant.0)
        .bind(outlet_id)
        .bind(item_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|(groups,)| groups.map(|groups| groups.0).unwrap_or_default()))
}

pub async fn catalog(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<CatalogItem>, StoreError> {
    let rows: Vec<(sqlx::types::Json<CatalogItem>,)> = sqlx::query_as(
        "SELECT doc FROM catalog_items WHERE tenant_id = $1 AND outlet_id = $2 ORDER BY item_id",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|row| row.0.0).collect())
}

/// The outlet's catalog items among `ids`, by id.
pub async fn catalog_items(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    ids: &[String],
) -> Result<std::collections::HashMap<String, CatalogItem>, StoreError> {
    let rows: Vec<(String, sqlx::types::Json<CatalogItem>)> = sqlx::query_as(
        "SELECT item_id, doc FROM catalog_items
         WHERE tenant_id = $1 AND outlet_id = $2 AND item_id = ANY($3)",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id, doc)| (id, doc.0)).collect())
}

/// Up to `limit` entries after `after_seq`, in order.
pub async fn entries_after(
    pool: &PgPool,
    tenant: TenantId,
    outlet_id: Uuid,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<FeedEntry>, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, body FROM outlet_feed WHERE tenant_id = $1 AND outlet_id = $2 AND seq > $3
         ORDER BY seq LIMIT $4",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(after_seq as i64)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, body)| FeedEntry {
            seq: seq as u64,
            body,
        })
        .collect())
}

/// A staff member as the hub sends them to an outlet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRecord {
    pub id: Uuid,
    pub name: String,
    pub role: shared_model::staff::Role,
    /// Argon2id PHC string; never the PIN itself.
    pub pin_hash: String,
    pub disabled: bool,
}

/// The PIN hash the hub already holds for each of `ids` (to keep a re-uploaded PIN's hash).
pub async fn staff_pin_hashes(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, StoreError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, pin_hash FROM outlet_staff WHERE tenant_id = $1 AND outlet_id = $2 AND id = ANY($3)",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Upserts staff; only real changes become feed entries for the outlet's edge.
pub async fn upsert_staff(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    staff: &[StaffRecord],
) -> Result<CatalogUpsert, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let ids: Vec<Uuid> = staff.iter().map(|s| s.id).collect();
    type Row = (Uuid, String, String, String, bool);
    let existing: Vec<Row> = sqlx::query_as(
        "SELECT id, name, role, pin_hash, disabled FROM outlet_staff
         WHERE tenant_id = $1 AND outlet_id = $2 AND id = ANY($3) FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let existing: std::collections::HashMap<Uuid, Row> =
        existing.into_iter().map(|row| (row.0, row)).collect();
    let changed: Vec<&StaffRecord> = staff
        .iter()
        .filter(|member| {
            existing.get(&member.id).is_none_or(|row| {
                row.1 != member.name
                    || row.2 != member.role.as_str()
                    || row.3 != member.pin_hash
                    || row.4 != member.disabled
            })
        })
        .collect();
    if changed.is_empty() {
        let head = feed_head(&mut tx, tenant, outlet_id).await?;
        return Ok(CatalogUpsert {
            changed: 0,
            unchanged: staff.len(),
            feed_through_seq: head,
        });
    }
    for member in &changed {
        sqlx::query(
            "INSERT INTO outlet_staff (tenant_id, outlet_id, id, name, role, pin_hash, disabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, outlet_id, id) DO UPDATE SET name = excluded.name,
                role = excluded.role, pin_hash = excluded.pin_hash, disabled = excluded.disabled,
                updated_at = now()",
        )
        .bind(tenant.0)
        .bind(outlet_id)
        .bind(member.id)
        .bind(&member.name)
        .bind(member.role.as_str())
        .bind(&member.pin_hash)
        .bind(member.disabled)
        .execute(&mut *tx)
        .await?;
    }
    let entries: Vec<(String, String, Vec<u8>)> = changed
        .iter()
        .map(|member| {
            (
                "staff.upserted".to_owned(),
                member.id.to_string(),
                FeedBody::StaffUpserted(sync_protocol::feed::StaffV1 {
                    id: *member.id.as_bytes(),
                    name: member.name.clone(),
                    role: sync_protocol::op::RoleV1::from(member.role),
                    pin_hash_phc: member.pin_hash.clone(),
                    disabled: member.disabled,
                })
                .encode(),
            )
        })
        .collect();
    let feed_through_seq = append(&mut tx, tenant, outlet_id, &entries).await?;
    tx.commit().await?;
    Ok(CatalogUpsert {
        changed: changed.len(),
        unchanged: staff.len() - changed.len(),
        feed_through_seq,
    })
}

/// Staff of an outlet, without their PIN hashes.
pub async fn staff(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<(Uuid, String, String, bool)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name, role, disabled FROM outlet_staff
         WHERE tenant_id = $1 AND outlet_id = $2 ORDER BY name",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Sends a forced logout for a staff member to the outlet's edge; `false` if unknown there.
pub async fn force_logout(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    staff_id: Uuid,
) -> Result<bool, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let known: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM outlet_staff WHERE tenant_id = $1 AND outlet_id = $2 AND id = $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(staff_id)
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_none() {
        return Ok(false);
    }
    let body = FeedBody::StaffLoggedOut {
        staff_id: *staff_id.as_bytes(),
    }
    .encode();
    append(
        &mut tx,
        tenant,
        outlet_id,
        &[("staff.logged_out".into(), staff_id.to_string(), body)],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
