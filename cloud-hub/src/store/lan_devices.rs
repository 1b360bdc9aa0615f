//! The devices each outlet's edge serves on its LAN, as its device ops report them: SQL only.

use super::{StoreError, TenantId};
use sync_protocol::op::{DeviceEventV1, DeviceKindV1};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanDevice {
    pub id: Uuid,
    pub name: String,
    /// `terminal`, `kds`, `kiosk` or `printer`.
    pub kind: String,
    /// `active`, `disabled` or `removed`.
    pub state: String,
    pub registered_at_ms: i64,
    pub updated_at_ms: i64,
}

fn kind_name(kind: DeviceKindV1) -> &'static str {
    match kind {
        DeviceKindV1::Terminal => "terminal",
        DeviceKindV1::Kds => "kds",
        DeviceKindV1::Kiosk => "kiosk",
        DeviceKindV1::Printer => "printer",
    }
}

/// Applies one outlet's device ops in their order (inside ingest's transaction). A change
/// older than what the hub holds (`updated_at_ms`) does not undo a newer one.
pub async fn apply(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    events: &[&DeviceEventV1],
) -> Result<(), StoreError> {
    for event in events {
        let (id, at_ms, change) = match event {
            DeviceEventV1::Registered {
                device_id,
                name,
                kind,
                at_ms,
            } => {
                sqlx::query(
                    "INSERT INTO lan_devices (tenant_id, id, outlet_id, name, kind, state,
                        registered_at_ms, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) ON CONFLICT DO NOTHING",
                )
                .bind(tenant.0)
                .bind(Uuid::from_bytes(*device_id))
                .bind(outlet_id)
                .bind(name)
                .bind(kind_name(*kind))
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
                continue;
            }
            DeviceEventV1::Renamed {
                device_id,
                name,
                at_ms,
            } => (device_id, at_ms, ("name", name.as_str())),
            DeviceEventV1::Disabled { device_id, at_ms } => {
                (device_id, at_ms, ("state", "disabled"))
            }
            DeviceEventV1::Enabled { device_id, at_ms } => (device_id, at_ms, ("state", "active")),
            DeviceEventV1::Removed { device_id, at_ms } => (device_id, at_ms, ("state", "removed")),
        };
        let statement = match change.0 {
            "name" => {
                "UPDATE lan_devices SET name = $4, updated_at_ms = $5
                 WHERE tenant_id = $1 AND id = $2 AND outlet_id = $3 AND updated_at_ms <= $5"
            }
            _ => {
                "UPDATE lan_devices SET state = $4, updated_at_ms = $5
                 WHERE tenant_id = $1 AND id = $2 AND outlet_id = $3 AND updated_at_ms <= $5
                   AND state <> 'removed'"
            }
        };
        sqlx::query(statement)
            .bind(tenant.0)
            .bind(Uuid::from_bytes(*id))
            .bind(outlet_id)
            .bind(change.1)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// An outlet's LAN devices, by name.
pub async fn of_outlet(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<LanDevice>, StoreError> {
    type Row = (Uuid, String, String, String, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, kind, state, registered_at_ms, updated_at_ms FROM lan_devices
         WHERE tenant_id = $1 AND outlet_id = $2 ORDER BY name, id",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LanDevice {
            id: r.0,
            name: r.1,
            kind: r.2,
            state: r.3,
            registered_at_ms: r.4,
            updated_at_ms: r.5,
        })
        .collect())
}
