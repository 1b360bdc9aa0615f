//! Enrollment codes, devices and security events.

use super::{StoreError, TenantId};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct EnrollmentCodeRow {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub secret: String,
    pub outlet_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

pub async fn insert_enrollment_code(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    code_id: &str,
    secret: &str,
    outlet_id: Uuid,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO enrollment_codes (tenant_id, id, code_id, secret, outlet_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(code_id)
    .bind(secret)
    .bind(outlet_id)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every code sharing a public id, across tenants: the edge does not know its tenant yet, and
/// only the proof tells which code (if any) it holds. Bounded: ids are 20 random bits.
pub async fn codes_by_code_id(
    pool: &PgPool,
    code_id: &str,
) -> Result<Vec<EnrollmentCodeRow>, StoreError> {
    let rows: Vec<(
        Uuid,
        Uuid,
        String,
        Uuid,
        OffsetDateTime,
        Option<OffsetDateTime>,
    )> = sqlx::query_as(
        "SELECT tenant_id, id, secret, outlet_id, expires_at, used_at FROM enrollment_codes
         WHERE code_id = $1 ORDER BY created_at DESC LIMIT 64",
    )
    .bind(code_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| EnrollmentCodeRow {
            tenant_id: TenantId(row.0),
            id: row.1,
            secret: row.2,
            outlet_id: row.3,
            expires_at: row.4,
            used_at: row.5,
        })
        .collect())
}

/// Why a redemption did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum RedeemOutcome {
    Redeemed,
    /// Someone used the code first (a race between two edges).
    AlreadyUsed,
    /// This device id is already enrolled.
    DeviceExists,
}

pub struct NewDevice<'a> {
    pub tenant: TenantId,
    pub id: Uuid,
    pub outlet_id: Uuid,
    pub cert_fingerprint: &'a [u8],
    pub software: &'a str,
    pub genesis_hash: &'a [u8],
}

/// Marks the code used and registers the device with a fresh sync cursor, atomically.
pub async fn redeem_code(
    pool: &PgPool,
    code_row_id: Uuid,
    device: NewDevice<'_>,
) -> Result<RedeemOutcome, StoreError> {
    let mut tx = pool.begin().await?;
    let used = sqlx::query(
        "UPDATE enrollment_codes SET used_at = now(), used_by_device = $3
         WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL",
    )
    .bind(device.tenant.0)
    .bind(code_row_id)
    .bind(device.id)
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() != 1 {
        return Ok(RedeemOutcome::AlreadyUsed);
    }
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM devices WHERE id = $1")
        .bind(device.id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Ok(RedeemOutcome::DeviceExists);
    }
    sqlx::query(
        "INSERT INTO devices (tenant_id, id, outlet_id, kind, cert_fingerprint, software)
         VALUES ($1, $2, $3, 'edge', $4, $5)",
    )
    .bind(device.tenant.0)
    .bind(device.id)
    .bind(device.outlet_id)
    .bind(device.cert_fingerprint)
    .bind(device.software)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO sync_cursors (tenant_id, device_id, acked_through_seq, acked_hash)
         VALUES ($1, $2, 0, $3)",
    )
    .bind(device.tenant.0)
    .bind(device.id)
    .bind(device.genesis_hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(RedeemOutcome::Redeemed)
}

/// A device as the sync server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub outlet_id: Uuid,
    pub revoked: bool,
}

pub async fn device_by_fingerprint(
    pool: &PgPool,
    fingerprint: &[u8],
) -> Result<Option<DeviceIdentity>, StoreError> {
    let row: Option<(Uuid, Uuid, Uuid, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT tenant_id, id, outlet_id, revoked_at FROM devices WHERE cert_fingerprint = $1",
    )
    .bind(fingerprint)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(tenant_id, id, outlet_id, revoked_at)| DeviceIdentity {
            tenant_id: TenantId(tenant_id),
            id,
            outlet_id,
            revoked: revoked_at.is_some(),
        }),
    )
}

pub async fn touch_last_seen(
    pool: &PgPool,
    tenant: TenantId,
    device_id: Uuid,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE devices SET last_seen_at = now() WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(device_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn record_security_event(
    pool: &PgPool,
    tenant: Option<TenantId>,
    device_id: Option<Uuid>,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO security_events (tenant_id, device_id, kind, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant.map(|t| t.0))
    .bind(device_id)
    .bind(kind)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// The channel a revocation is announced on (payload: the device id).
pub const REVOKED_CHANNEL: &str = "kibanda_device_revoked";

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: Uuid,
    pub outlet_code: String,
    pub kind: String,
    pub software: String,
    pub enrolled_at: OffsetDateTime,
    pub last_seen_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

pub async fn list(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Vec<DeviceRow>, StoreError> {
    type Row = (
        Uuid,
        String,
        String,
        String,
        OffsetDateTime,
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, o.code, d.kind, d.software, d.enrolled_at, d.last_seen_at, d.revoked_at
         FROM devices d JOIN outlets o ON o.tenant_id = d.tenant_id AND o.id = d.outlet_id
         WHERE d.tenant_id = $1 ORDER BY d.enrolled_at",
    )
    .bind(tenant.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeviceRow {
            id: r.0,
            outlet_code: r.1,
            kind: r.2,
            software: r.3,
            enrolled_at: r.4,
            last_seen_at: r.5,
            revoked_at: r.6,
        })
        .collect())
}

/// Revokes a device: its certificate is refused from now on, and every hub replica closes its
/// open connection. `false` if the tenant has no such device.
pub async fn revoke(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    device_id: Uuid,
) -> Result<bool, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let found = sqlx::query(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    if found.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(REVOKED_CHANNEL)
        .bind(device_id.to_string())
        .execute(&mut *tx)
        .await?;
    record_security_event_in(
        &mut tx,
        tenant,
        device_id,
        "device_revoked",
        "revoked through the API",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn record_security_event_in(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    device_id: Uuid,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO security_events (tenant_id, device_id, kind, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant.0)
    .bind(device_id)
    .bind(kind)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
