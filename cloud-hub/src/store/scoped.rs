//! Tenant-scoped transactions: the second wall behind the tenant-scoped queries.
//!
//! [`begin`] opens a transaction as the non-owner role `kibanda_api` with
//! `kibanda.tenant_id` set, so PostgreSQL's row-level security hides every other tenant's rows
//! for the rest of the transaction, whatever the queries say. Every tenant API request runs its
//! queries in one.

use super::{StoreError, TenantId};
use sqlx::{PgPool, Postgres, Transaction};

pub async fn begin(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL ROLE kibanda_api")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT set_config('kibanda.tenant_id', $1, true)")
        .bind(tenant.0.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
