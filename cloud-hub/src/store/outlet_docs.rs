//! The hub's copy of each outlet's automerge documents (the floor plan): edits from the outlet
//! merged in at ingest, edits made here saved and sent down the outlet's feed. SQL and the
//! document; no HTTP.

use super::{StoreError, TenantId};
use sha2::{Digest, Sha256};
use sync_protocol::docs::{DocChangeV1, DocKindV1, FloorPlanDoc, PlanTable};
use sync_protocol::feed::FeedBody;
use uuid::Uuid;

/// The hub's automerge actor for an outlet's documents: one per outlet, stable across hub
/// replicas (the row lock below serialises the hub's own writes to a document).
pub(super) fn hub_actor(outlet_id: Uuid) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(outlet_id.as_bytes())
        .chain_update(b"kibanda-hub")
        .finalize();
    let mut actor = [0_u8; 16];
    actor.copy_from_slice(&digest[..16]);
    actor
}

/// The outlet's floor plan document, locked for this transaction (a new one if none yet).
async fn load_locked(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<FloorPlanDoc, StoreError> {
    let bytes: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT doc FROM outlet_docs WHERE tenant_id = $1 AND outlet_id = $2 AND kind = $3
         FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(DocKindV1::FloorPlan.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    match bytes {
        Some(bytes) => FloorPlanDoc::load(&bytes, hub_actor(outlet_id))
            .map_err(|e| StoreError::Corrupt(format!("floor plan document: {e}"))),
        None => Ok(FloorPlanDoc::new(hub_actor(outlet_id))),
    }
}

async fn save(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    doc: &mut FloorPlanDoc,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outlet_docs (tenant_id, outlet_id, kind, doc) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, outlet_id, kind)
         DO UPDATE SET doc = excluded.doc, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(DocKindV1::FloorPlan.as_str())
    .bind(doc.save())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Merges an outlet's document changes (from its `Doc` ops) into the hub's copies. A change
/// that does not read is skipped with a warning: the op itself is kept in `ops`, and the
/// document stays as it was.
pub async fn merge_from_outlet(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    changes: &[&DocChangeV1],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut doc = load_locked(tx, tenant, outlet_id).await?;
    for change in changes {
        match change.doc {
            DocKindV1::FloorPlan => {
                if let Err(error) = doc.apply(&change.changes) {
                    tracing::warn!(%error, %outlet_id, "skipped floor plan changes that do not read");
                }
            }
        }
    }
    save(tx, tenant, outlet_id, &mut doc).await
}

/// The outlet's floor plan as the hub has merged it.
pub async fn floor_plan(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<PlanTable>, StoreError> {
    let bytes: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT doc FROM outlet_docs WHERE tenant_id = $1 AND outlet_id = $2 AND kind = $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(DocKindV1::FloorPlan.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    match bytes {
        Some(bytes) => Ok(FloorPlanDoc::load(&bytes, hub_actor(outlet_id))
            .map_err(|e| StoreError::Corrupt(format!("floor plan document: {e}")))?
            .tables()),
        None => Ok(Vec::new()),
    }
}

/// Makes the outlet's floor plan `tables` (writing only what differs, so edits the outlet made
/// meanwhile to other tables and fields survive the merge) and sends the changes down its
/// feed. Returns the merged plan and the feed position that carries the change (`None` if
/// nothing changed).
pub async fn put_floor_plan(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    tables: &[PlanTable],
) -> Result<(Vec<PlanTable>, Option<u64>), StoreError> {
    let mut doc = load_locked(tx, tenant, outlet_id).await?;
    let heads = doc.heads();
    doc.set_tables(tables)
        .map_err(|e| StoreError::Corrupt(format!("floor plan document: {e}")))?;
    let changes = doc.changes_since(&heads);
    save(tx, tenant, outlet_id, &mut doc).await?;
    let seq = if changes.is_empty() {
        None
    } else {
        let body = FeedBody::DocChanged(DocChangeV1 {
            doc: DocKindV1::FloorPlan,
            changes,
        })
        .encode();
        Some(
            super::feed::append(
                tx,
                tenant,
                outlet_id,
                &[("doc.floor_plan".into(), outlet_id.to_string(), body)],
            )
            .await?,
        )
    };
    Ok((doc.tables(), seq))
}
