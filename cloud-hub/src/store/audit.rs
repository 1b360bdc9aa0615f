//! Completeness of each device's op log at the hub: "everything up to sequence N is here,
//! chain intact", checked by walking the stored ops and recomputing every link.

use super::{StoreError, TenantId};
use futures_util::TryStreamExt;
use sync_protocol::op::GENESIS_HASH;
use sync_protocol::{Hlc, WireOp};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct DeviceSync {
    pub device_id: Uuid,
    pub outlet_code: String,
    pub acked_through_seq: i64,
    /// Everything the hub derives (orders, events, ledgers, reports) reflects this device's ops
    /// through this sequence.
    pub projected_through_seq: i64,
    pub ops_held: i64,
    pub last_seen_at: Option<OffsetDateTime>,
    pub revoked: bool,
}

type DeviceRow = (
    Uuid,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

pub async fn devices(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Vec<DeviceSync>, StoreError> {
    let rows: Vec<DeviceRow> = sqlx::query_as(
        // A device without a projection row has had every stored op projected as it was stored.
        "SELECT d.id, o.code, c.acked_through_seq,
                coalesce(pc.projected_through_seq, c.acked_through_seq),
                (SELECT count(*) FROM ops p WHERE p.tenant_id = d.tenant_id AND p.device_id = d.id),
                d.last_seen_at, d.revoked_at
         FROM devices d
         JOIN outlets o ON o.tenant_id = d.tenant_id AND o.id = d.outlet_id
         LEFT JOIN sync_cursors c ON c.tenant_id = d.tenant_id AND c.device_id = d.id
         LEFT JOIN projection_cursors pc ON pc.tenant_id = d.tenant_id AND pc.device_id = d.id
         WHERE d.tenant_id = $1
         ORDER BY o.code, d.id",
    )
    .bind(tenant.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| DeviceSync {
            device_id: row.0,
            outlet_code: row.1,
            acked_through_seq: row.2.unwrap_or(0),
            projected_through_seq: row.3.unwrap_or(0),
            ops_held: row.4,
            last_seen_at: row.5,
            revoked: row.6.is_some(),
        })
        .collect())
}

/// The result of walking one device's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAudit {
    /// Every op from 1 through this sequence is present and correctly linked.
    pub complete_through_seq: u64,
    pub ops_checked: u64,
    /// The first sequence where the log is missing an op or a link does not verify.
    pub first_break_seq: Option<u64>,
    /// The cursor the hub acknowledges to the edge.
    pub acked_through_seq: u64,
}

/// Walks the device's stored ops in order, recomputing every hash.
pub async fn audit_chain(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    device_id: Uuid,
) -> Result<Option<ChainAudit>, StoreError> {
    let acked: Option<i64> = sqlx::query_scalar(
        "SELECT c.acked_through_seq FROM devices d
         LEFT JOIN sync_cursors c ON c.tenant_id = d.tenant_id AND c.device_id = d.id
         WHERE d.tenant_id = $1 AND d.id = $2",
    )
    .bind(tenant.0)
    .bind(device_id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|seq: Option<i64>| seq.unwrap_or(0));
    let Some(acked) = acked else { return Ok(None) };
    let mut rows = sqlx::query_as::<_, (i64, i64, i32, Vec<u8>, Vec<u8>, Vec<u8>)>(
        "SELECT seq, hlc_wall_ms, hlc_logical, prev_hash, hash, body FROM ops
         WHERE tenant_id = $1 AND device_id = $2 ORDER BY seq",
    )
    .bind(tenant.0)
    .bind(device_id)
    .fetch(&mut *conn);
    let mut expected_seq = 1_u64;
    let mut prev = GENESIS_HASH;
    let mut checked = 0_u64;
    let mut first_break = None;
    while let Some((seq, wall_ms, logical, prev_hash, hash, body)) = rows.try_next().await? {
        let op = WireOp {
            origin: *device_id.as_bytes(),
            seq: seq as u64,
            hlc: Hlc {
                wall_ms: wall_ms as u64,
                logical: logical as u32,
            },
            prev_hash: prev_hash.as_slice().try_into().unwrap_or([0xff; 32]),
            body,
        };
        checked += 1;
        let recomputed = op.chain_hash();
        if op.seq != expected_seq
            || op.prev_hash != prev
            || recomputed.as_slice() != hash.as_slice()
        {
            first_break = Some(expected_seq);
            break;
        }
        prev = recomputed;
        expected_seq += 1;
    }
    Ok(Some(ChainAudit {
        complete_through_seq: expected_seq - 1,
        ops_checked: checked,
        first_break_seq: first_break,
        acked_through_seq: acked as u64,
    }))
}
