//! Tenants and outlets.

use super::{StoreError, TenantId};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub currency: String,
}

pub async fn insert_tenant(pool: &PgPool, tenant: &Tenant) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)")
        .bind(tenant.id.0)
        .bind(&tenant.slug)
        .bind(&tenant.name)
        .execute(pool)
        .await?;
    Ok(())
}

fn tenant_from_row((id, slug, name): (Uuid, String, String)) -> Tenant {
    Tenant {
        id: TenantId(id),
        slug,
        name,
    }
}

pub async fn tenant_by_slug(pool: &PgPool, slug: &str) -> Result<Option<Tenant>, StoreError> {
    let row = sqlx::query_as("SELECT id, slug, name FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(tenant_from_row))
}

pub async fn tenant_by_id(pool: &PgPool, id: TenantId) -> Result<Option<Tenant>, StoreError> {
    let row = sqlx::query_as("SELECT id, slug, name FROM tenants WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(tenant_from_row))
}

/// Registers an outlet; its feed starts with the tenant's promotions for every outlet and its
/// loyalty program, members and vouchers.
pub async fn insert_outlet(pool: &PgPool, outlet: &Outlet) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO outlets (tenant_id, id, code, name, timezone, currency)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(outlet.tenant_id.0)
    .bind(outlet.id)
    .bind(&outlet.code)
    .bind(&outlet.name)
    .bind(&outlet.timezone)
    .bind(&outlet.currency)
    .execute(&mut *tx)
    .await?;
    super::promotions::seed_outlet(&mut tx, outlet.tenant_id, outlet.id).await?;
    super::loyalty::seed_outlet(&mut tx, outlet.tenant_id, outlet.id).await?;
    tx.commit().await?;
    Ok(())
}

type OutletRow = (Uuid, Uuid, String, String, String, String);

fn outlet_from_row(row: OutletRow) -> Outlet {
    Outlet {
        tenant_id: TenantId(row.0),
        id: row.1,
        code: row.2,
        name: row.3,
        timezone: row.4,
        currency: row.5,
    }
}

pub async fn outlet_by_code(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<Option<Outlet>, StoreError> {
    let row: Option<OutletRow> = sqlx::query_as(
        "SELECT tenant_id, id, code, name, timezone, currency FROM outlets
         WHERE tenant_id = $1 AND code = $2",
    )
    .bind(tenant.0)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(outlet_from_row))
}

pub async fn outlet_by_id(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Outlet>, StoreError> {
    let row: Option<OutletRow> = sqlx::query_as(
        "SELECT tenant_id, id, code, name, timezone, currency FROM outlets
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(outlet_from_row))
}

pub async fn rename_outlet(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    name: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE outlets SET name = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

/// An outlet as its tenant's back office lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutletSummary {
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub created_at: time::OffsetDateTime,
    /// Enrolled edge devices whose certificate still works.
    pub edge_devices: i64,
    /// When any of its edges last spoke to the hub.
    pub last_seen_at: Option<time::OffsetDateTime>,
}

/// The tenant's outlets by code, or only the one with id `only`.
pub async fn outlet_summaries(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    only: Option<Uuid>,
) -> Result<Vec<OutletSummary>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        time::OffsetDateTime,
        i64,
        Option<time::OffsetDateTime>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT o.code, o.name, o.timezone, o.currency, o.created_at,
                count(d.id) FILTER (WHERE d.revoked_at IS NULL), max(d.last_seen_at)
         FROM outlets o
         LEFT JOIN devices d ON d.tenant_id = o.tenant_id AND d.outlet_id = o.id
         WHERE o.tenant_id = $1 AND ($2::uuid IS NULL OR o.id = $2)
         GROUP BY o.tenant_id, o.id
         ORDER BY o.code",
    )
    .bind(tenant.0)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| OutletSummary {
            code: row.0,
            name: row.1,
            timezone: row.2,
            currency: row.3,
            created_at: row.4,
            edge_devices: row.5,
            last_seen_at: row.6,
        })
        .collect())
}
