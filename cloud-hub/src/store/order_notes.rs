//! The hub's copy of each cloud order's notes document (`sync_protocol::docs::CloudOrderDoc`):
//! edits from the order's outlet merged in at ingest, edits made through the API saved and sent
//! down that outlet's feed. SQL and the document; no HTTP.

use super::{StoreError, TenantId};
use sha2::{Digest, Sha256};
use sync_protocol::docs::{CloudOrderDoc, OrderDocChangeV1, OrderNotes};
use sync_protocol::feed::FeedBody;
use uuid::Uuid;

/// A cloud order as its notes need it.
#[derive(Clone, Debug)]
pub struct NotedOrder {
    pub order_id: Uuid,
    pub outlet_id: Uuid,
    pub external_ref: String,
}

/// The cloud order `order_id` of `tenant`, if there is one.
pub async fn cloud_order(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<Option<NotedOrder>, StoreError> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT outlet_id, external_ref FROM cloud_orders WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(tenant.0)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(outlet_id, external_ref)| NotedOrder {
        order_id,
        outlet_id,
        external_ref,
    }))
}

fn load(bytes: Option<Vec<u8>>, order_id: Uuid) -> Result<CloudOrderDoc, StoreError> {
    let actor = super::outlet_docs::hub_actor(order_id);
    let doc = match bytes {
        Some(bytes) => CloudOrderDoc::load(&bytes, actor),
        None => CloudOrderDoc::seeded(*order_id.as_bytes(), actor),
    };
    doc.map_err(|e| StoreError::Corrupt(format!("order notes document: {e}")))
}

/// The order's document, locked for this transaction (the seed if nobody wrote yet).
async fn load_locked(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<CloudOrderDoc, StoreError> {
    if let Some(bytes) = select_locked(tx, tenant, order_id).await? {
        return load(Some(bytes), order_id);
    }
    // No row yet: the seed goes in first (or a concurrent writer's row wins), so that there is
    // a row to lock and no writer overwrites another's first edit.
    let mut seed = load(None, order_id)?;
    sqlx::query(
        "INSERT INTO order_docs (tenant_id, order_id, doc) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, order_id) DO NOTHING",
    )
    .bind(tenant.0)
    .bind(order_id)
    .bind(seed.save())
    .execute(&mut *tx)
    .await?;
    load(select_locked(tx, tenant, order_id).await?, order_id)
}

async fn select_locked(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT doc FROM order_docs WHERE tenant_id = $1 AND order_id = $2 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?)
}

async fn save(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
    doc: &mut CloudOrderDoc,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_docs (tenant_id, order_id, doc) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET doc = excluded.doc, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(order_id)
    .bind(doc.save())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The order's notes as the hub has merged them.
pub async fn read(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<OrderNotes, StoreError> {
    let bytes: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT doc FROM order_docs WHERE tenant_id = $1 AND order_id = $2")
            .bind(tenant.0)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(load(bytes, order_id)?.read())
}

/// Edits the order's notes with `edit` (which refuses by returning `Err(refusal)`), saves the
/// result and sends the changes down the order's outlet feed. Returns the notes and the feed
/// position carrying the change (`None` when the edit changed nothing).
pub async fn edit<R>(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order: &NotedOrder,
    edit: impl FnOnce(&mut CloudOrderDoc) -> Result<(), R>,
) -> Result<Result<(OrderNotes, Option<u64>), R>, StoreError> {
    let mut doc = load_locked(tx, tenant, order.order_id).await?;
    let heads = doc.heads();
    if let Err(refusal) = edit(&mut doc) {
        return Ok(Err(refusal));
    }
    let changes = doc.changes_since(&heads);
    if changes.is_empty() {
        return Ok(Ok((doc.read(), None)));
    }
    save(tx, tenant, order.order_id, &mut doc).await?;
    let body = FeedBody::OrderDocChanged(OrderDocChangeV1 {
        order_id: *order.order_id.as_bytes(),
        changes,
    })
    .encode();
    let seq = super::feed::append(
        tx,
        tenant,
        order.outlet_id,
        &[("doc.order_notes".into(), order.order_id.to_string(), body)],
    )
    .await?;
    Ok(Ok((doc.read(), Some(seq))))
}

/// An order whose notes an outlet's changes moved, as merged.
#[derive(Debug)]
pub struct MergedNotes {
    pub order: NotedOrder,
    pub notes: OrderNotes,
    /// Stable for the merged document state (its heads), so re-merging the same changes
    /// raises the same event id.
    pub state_id: Uuid,
}

/// Merges an outlet's changes to its cloud orders' notes (from its `OrderDoc` ops) into the
/// hub's copies. Changes to an order that is not a cloud order of this outlet, or that do not
/// read, are skipped with a warning (the op itself stays in `ops`).
pub async fn merge_from_outlet(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    changes: &[&OrderDocChangeV1],
) -> Result<Vec<MergedNotes>, StoreError> {
    let mut order_ids: Vec<Uuid> = changes
        .iter()
        .map(|change| Uuid::from_bytes(change.order_id))
        .collect();
    // Key order, so two writers of the same orders lock them in the same order.
    order_ids.sort_unstable();
    order_ids.dedup();
    let mut merged = Vec::new();
    for order_id in order_ids {
        let order = match cloud_order(tx, tenant, order_id).await? {
            Some(order) if order.outlet_id == outlet_id => order,
            _ => {
                tracing::warn!(%order_id, %outlet_id, "skipped notes for an order that is not this outlet's cloud order");
                continue;
            }
        };
        let mut doc = load_locked(tx, tenant, order_id).await?;
        let before = doc.heads();
        for change in changes
            .iter()
            .filter(|change| change.order_id == *order_id.as_bytes())
        {
            if let Err(error) = doc.apply(&change.changes) {
                tracing::warn!(%error, %order_id, "skipped order notes changes that do not read");
            }
        }
        let heads = doc.heads();
        if heads == before {
            continue;
        }
        save(tx, tenant, order_id, &mut doc).await?;
        let mut digest = Sha256::new().chain_update(order_id.as_bytes());
        for head in &heads {
            digest.update(head.0);
        }
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest.finalize()[..16]);
        merged.push(MergedNotes {
            order,
            notes: doc.read(),
            state_id: uuid::Builder::from_custom_bytes(bytes).into_uuid(),
        });
    }
    Ok(merged)
}
