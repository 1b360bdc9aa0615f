//! Projection: turning stored ops into what the hub derives from them (orders and their events,
//! ledgers, drawers, reports), exactly once, in op order per device.
//!
//! A batch is acknowledged once its ops are durable (nothing acknowledged is lost, whatever
//! comes next). What happens to the projection depends on the batch:
//!
//! - a trickle (at most [`PROJECT_INLINE_OPS_MAX`] new ops from a device whose projection is
//!   caught up) is projected in the same transaction as its ops, so its orders and events exist
//!   when the edge hears the ack — the common case all day long;
//! - a backlog (an edge back after days offline streaming 1,000-op batches) is stored and
//!   acknowledged at the speed of the ops insert, and the projector follows it
//!   ([`project_next`]) in transactions of up to [`PROJECT_BATCH_OPS_MAX`] ops on the other
//!   core, so storing and projecting overlap instead of alternating.
//!
//! Each device's `projection_cursors` row says how far its ops are projected; it moves in the
//! projecting transaction, under that row's lock, so a crash anywhere leaves either all of a
//! projection or none of it, and the projector (which starts with the hub) resumes from the
//! row. Once a device is behind, everything it sends waits for the projector, so its ops are
//! always projected in sequence.

use super::{Accepted, StoreError, decode, project};
use crate::store::TenantId;
use crate::store::devices::DeviceIdentity;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use sync_protocol::session::Cursor;
use sync_protocol::{Hlc, WireOp};
use uuid::Uuid;

/// Most new ops of one device a group projects in its own transaction. Why 256: a terminal's
/// trickle (a few sales a second, a few ops each) stays far below it, so its orders exist when
/// it is acknowledged; an edge's catch-up batches (up to 1,000 ops) are above it and go to the
/// projector.
pub const PROJECT_INLINE_OPS_MAX: usize = 256;
/// Most ops the projector folds in one transaction. Why 8,000: the edge's send window, so a
/// catch-up is projected in about as many transactions as it has windows; a transaction this
/// size holds a few megabytes of rows, well within what PostgreSQL commits at once.
pub const PROJECT_BATCH_OPS_MAX: i64 = 8_000;

/// The projection cursors of a group's devices by (tenant, device) key, in the order given
/// (sorted by the caller), one key probe each, skipping rows the projector holds (see
/// `super::ORDERS_BY_KEY_SQL` for why a lateral lookup). Public for the plan test.
pub const PROJECTION_CURSORS_BY_KEY_SQL: &str =
    "SELECT p.tenant_id, p.device_id, p.projected_through_seq
     FROM UNNEST($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(tenant_id, device_id, n)
     CROSS JOIN LATERAL (
         SELECT tenant_id, device_id, projected_through_seq FROM projection_cursors
         WHERE projection_cursors.tenant_id = k.tenant_id
           AND projection_cursors.device_id = k.device_id
         FOR UPDATE SKIP LOCKED
     ) p
     ORDER BY k.n";

/// The devices of the group whose ops are projected now: those with at most
/// [`PROJECT_INLINE_OPS_MAX`] new ops whose projection had caught up with their cursor before
/// the group. Their projection rows are locked (without waiting: a row the projector holds
/// means it is behind) for the rest of the transaction.
pub(super) async fn claim_inline(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
    cursors_before: &HashMap<(Uuid, Uuid), Cursor>,
) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
    let mut new_ops: HashMap<(Uuid, Uuid), usize> = HashMap::new();
    for batch in accepted {
        *new_ops
            .entry((batch.device.tenant_id.0, batch.device.id))
            .or_default() += batch.new_ops.len();
    }
    // A device the hub never projected for starts caught up at its cursor before the group
    // (everything before it was projected as it was stored).
    let mut all: Vec<(Uuid, Uuid)> = new_ops.keys().copied().collect();
    all.sort_unstable();
    let (tenants, devices): (Vec<Uuid>, Vec<Uuid>) = all.iter().copied().unzip();
    let before: Vec<i64> = all
        .iter()
        .map(|key| {
            cursors_before
                .get(key)
                .map_or(0, |cursor| cursor.acked_through_seq as i64)
        })
        .collect();
    sqlx::query(
        "INSERT INTO projection_cursors (tenant_id, device_id, projected_through_seq)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&tenants)
    .bind(&devices)
    .bind(&before)
    .execute(&mut *tx)
    .await?;

    let mut small: Vec<(Uuid, Uuid)> = new_ops
        .into_iter()
        .filter(|(_, count)| *count <= PROJECT_INLINE_OPS_MAX)
        .map(|(key, _)| key)
        .collect();
    if small.is_empty() {
        return Ok(HashSet::new());
    }
    small.sort_unstable();
    let (tenants, devices): (Vec<Uuid>, Vec<Uuid>) = small.iter().copied().unzip();
    // A row the projector holds is missing from the answer: that device is behind.
    let rows: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(PROJECTION_CURSORS_BY_KEY_SQL)
        .bind(&tenants)
        .bind(&devices)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(tenant, device, projected)| {
            let before = cursors_before
                .get(&(*tenant, *device))
                .map_or(0, |cursor| cursor.acked_through_seq as i64);
            *projected == before
        })
        .map(|(tenant, device, _)| (tenant, device))
        .collect())
}

/// Moves the projection of every device in `projected` to its cursor after the group.
pub(super) async fn advance(
    tx: &mut sqlx::PgConnection,
    projected: &[Accepted<'_>],
    cursors: &HashMap<(Uuid, Uuid), Cursor>,
) -> Result<(), StoreError> {
    let mut keys: Vec<(Uuid, Uuid)> = projected
        .iter()
        .map(|batch| (batch.device.tenant_id.0, batch.device.id))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(keys.len());
    let mut devices = Vec::with_capacity(keys.len());
    let mut seqs: Vec<i64> = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(cursor) = cursors.get(&key) else {
            continue;
        };
        tenants.push(key.0);
        devices.push(key.1);
        seqs.push(cursor.acked_through_seq as i64);
    }
    sqlx::query(
        // Every row exists (claimed above); an upsert probes the key per row, where an
        // UPDATE ... FROM UNNEST was planned as a hash join over every device's row.
        "INSERT INTO projection_cursors (tenant_id, device_id, projected_through_seq)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[])
         ON CONFLICT (tenant_id, device_id) DO UPDATE SET
            projected_through_seq = excluded.projected_through_seq, updated_at = now()",
    )
    .bind(&tenants)
    .bind(&devices)
    .bind(&seqs)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What one step of the projector did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Projected {
    pub device_id: Uuid,
    pub ops: usize,
    /// The device is still behind after this step.
    pub behind: bool,
}

/// One step of the projector: claims a device whose projection is behind its stored ops (one
/// no other projector holds), projects up to [`PROJECT_BATCH_OPS_MAX`] of its next ops and
/// moves its cursor, in one transaction. `None`: nothing is behind.
pub async fn project_next(pool: &PgPool) -> Result<Option<Projected>, StoreError> {
    let mut tx = pool.begin().await?;
    let claimed: Option<(Uuid, Uuid, Uuid, bool, i64, i64)> = sqlx::query_as(
        "SELECT p.tenant_id, p.device_id, d.outlet_id, d.revoked_at IS NOT NULL,
                p.projected_through_seq, c.acked_through_seq
         FROM projection_cursors p
         JOIN sync_cursors c ON c.tenant_id = p.tenant_id AND c.device_id = p.device_id
         JOIN devices d ON d.tenant_id = p.tenant_id AND d.id = p.device_id
         WHERE p.projected_through_seq < c.acked_through_seq
         ORDER BY p.updated_at
         LIMIT 1
         FOR UPDATE OF p SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((tenant, device_id, outlet_id, revoked, from_seq, acked_seq)) = claimed else {
        return Ok(None);
    };
    let device = DeviceIdentity {
        tenant_id: TenantId(tenant),
        id: device_id,
        outlet_id,
        revoked,
    };
    type OpRow = (i64, i64, i32, Vec<u8>, Vec<u8>);
    let rows: Vec<OpRow> = sqlx::query_as(
        "SELECT seq, hlc_wall_ms, hlc_logical, prev_hash, body FROM ops
         WHERE tenant_id = $1 AND device_id = $2 AND seq > $3 AND seq <= $4
         ORDER BY seq LIMIT $5",
    )
    .bind(tenant)
    .bind(device_id)
    .bind(from_seq)
    .bind(acked_seq)
    .bind(PROJECT_BATCH_OPS_MAX)
    .fetch_all(&mut *tx)
    .await?;
    let mut ops = Vec::with_capacity(rows.len());
    let mut expected = from_seq;
    for (seq, wall_ms, logical, prev_hash, body) in rows {
        expected += 1;
        if seq != expected {
            return Err(StoreError::Corrupt(format!(
                "device {device_id}'s stored ops skip from {} to {seq}",
                expected - 1
            )));
        }
        ops.push(WireOp {
            origin: *device_id.as_bytes(),
            seq: seq as u64,
            hlc: Hlc {
                wall_ms: wall_ms.max(0) as u64,
                logical: logical.max(0) as u32,
            },
            prev_hash: prev_hash
                .try_into()
                .map_err(|_| StoreError::Corrupt("an op's prev_hash is not 32 bytes".into()))?,
            body,
        });
    }
    let Some(last_seq) = ops.last().map(|op| op.seq as i64) else {
        return Err(StoreError::Corrupt(format!(
            "device {device_id} is acknowledged through {acked_seq} but holds no op after {from_seq}"
        )));
    };
    let batch = Accepted {
        index: 0,
        device: &device,
        new_ops: &ops,
        decoded: ops.iter().map(|op| (op.seq, decode(op))).collect(),
    };
    let anomalies = project(&mut tx, std::slice::from_ref(&batch)).await?;
    sqlx::query(
        "UPDATE projection_cursors SET projected_through_seq = $3, updated_at = now()
         WHERE tenant_id = $1 AND device_id = $2",
    )
    .bind(tenant)
    .bind(device_id)
    .bind(last_seq)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let anomalies: usize = anomalies.iter().sum();
    if anomalies > 0 {
        tracing::warn!(device = %device_id, anomalies, "projected ops that contradict their orders");
    }
    Ok(Some(Projected {
        device_id,
        ops: ops.len(),
        behind: last_seq < acked_seq,
    }))
}

/// How many devices have stored ops not yet projected, and how many ops that is.
pub async fn lag(pool: &PgPool) -> Result<(i64, i64), StoreError> {
    let row: (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), sum(c.acked_through_seq - p.projected_through_seq)::bigint
         FROM projection_cursors p
         JOIN sync_cursors c ON c.tenant_id = p.tenant_id AND c.device_id = p.device_id
         WHERE p.projected_through_seq < c.acked_through_seq",
    )
    .fetch_one(pool)
    .await?;
    Ok((row.0, row.1.unwrap_or(0)))
}
