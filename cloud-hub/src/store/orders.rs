//! Reading orders, always within one tenant.

use super::{StoreError, TenantId};
use shared_model::Order;
use uuid::Uuid;

/// An order with where it was taken.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub order: Order,
    pub outlet_id: Uuid,
    pub outlet_code: String,
    pub device_id: Uuid,
    /// Where it came from, for an order placed in the cloud.
    pub cloud: Option<super::cloud_orders::CloudInfo>,
}

/// Position in the newest-first listing: `(opened_at_ms, id)` of the last order seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub opened_at_ms: i64,
    pub id: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub outlet_code: Option<String>,
    pub state: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    doc: sqlx::types::Json<Order>,
    outlet_id: Uuid,
    code: String,
    device_id: Uuid,
    channel: Option<String>,
    external_ref: Option<String>,
    customer_name: Option<String>,
    customer_phone: Option<String>,
    notes: Option<String>,
    cancel_state: Option<String>,
    cancel_reason: Option<String>,
    refund_requested_minor: Option<i64>,
}

fn stored(row: OrderRow) -> StoredOrder {
    StoredOrder {
        order: row.doc.0,
        outlet_id: row.outlet_id,
        outlet_code: row.code,
        device_id: row.device_id,
        cloud: super::cloud_orders::cloud_info((
            row.channel,
            row.external_ref,
            row.customer_name,
            row.customer_phone,
            row.notes,
            row.cancel_state,
            row.cancel_reason,
            row.refund_requested_minor,
        )),
    }
}

/// Newest first, keyset-paginated.
pub async fn list(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    filter: &OrderFilter,
    after: Option<ListCursor>,
    limit: i64,
) -> Result<Vec<StoredOrder>, StoreError> {
    let rows: Vec<OrderRow> = sqlx::query_as(
        // The page is cut from the (tenant, opened_at_ms DESC, id DESC) index first — a row
        // comparison the planner turns into an index range, no OR around it (a first page
        // starts after the largest possible key) — and only its rows are joined for the code.
        "SELECT o.doc, o.outlet_id, t.code, o.device_id, c.channel, c.external_ref,
                c.customer_name, c.customer_phone, c.notes, c.cancel_state, c.cancel_reason,
                c.refund_requested_minor
         FROM (SELECT tenant_id, id, outlet_id, device_id, opened_at_ms, doc FROM orders
               WHERE tenant_id = $1
                 AND (opened_at_ms, id) < ($4, $5)
                 AND ($2::text IS NULL
                      OR outlet_id = (SELECT id FROM outlets WHERE tenant_id = $1 AND code = $2))
                 AND ($3::text IS NULL OR state = $3)
               ORDER BY opened_at_ms DESC, id DESC
               LIMIT $6) o
         JOIN outlets t ON t.tenant_id = o.tenant_id AND t.id = o.outlet_id
         LEFT JOIN cloud_orders c ON c.tenant_id = o.tenant_id AND c.order_id = o.id
         ORDER BY o.opened_at_ms DESC, o.id DESC",
    )
    .bind(tenant.0)
    .bind(filter.outlet_code.as_deref())
    .bind(filter.state.as_deref())
    .bind(after.map_or(i64::MAX, |c| c.opened_at_ms))
    .bind(after.map_or(Uuid::max(), |c| c.id))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(stored).collect())
}

pub async fn get(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<StoredOrder>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT o.doc, o.outlet_id, t.code, o.device_id, c.channel, c.external_ref,
                c.customer_name, c.customer_phone, c.notes, c.cancel_state, c.cancel_reason,
                c.refund_requested_minor
         FROM orders o JOIN outlets t ON t.tenant_id = o.tenant_id AND t.id = o.outlet_id
         LEFT JOIN cloud_orders c ON c.tenant_id = o.tenant_id AND c.order_id = o.id
         WHERE o.tenant_id = $1 AND o.id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(stored))
}
