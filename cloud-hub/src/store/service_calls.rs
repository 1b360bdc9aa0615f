//! Calls owed to the inventory and logistics services, and what those services report back:
//! SQL only. Calls are queued in the transaction of what asked for them (a closed sale, a
//! transfer, a delivery order made ready), each under an id derived from its cause, so a
//! re-sent op queues one call; the service-call worker sends them.

use super::{StoreError, TenantId};
use shared_model::{Order, Quantity};
use uuid::Uuid;

/// The queue these rows are retried in.
pub const QUEUE: super::outbound::OutboundQueue = super::outbound::OutboundQueue::ServiceCalls;

/// The services whose calls go through this queue: inventory, logistics, and the treasury's
/// payouts (its payments and refunds have their own workers, with their own state machines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Inventory,
    Logistics,
    Treasury,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Inventory => "inventory",
            Service::Logistics => "logistics",
            Service::Treasury => "treasury",
        }
    }

    pub fn parse(text: &str) -> Option<Service> {
        match text {
            "inventory" => Some(Service::Inventory),
            "logistics" => Some(Service::Logistics),
            "treasury" => Some(Service::Treasury),
            _ => None,
        }
    }
}

/// Queues the treasury payout of a tip pool an outlet closed without handing it out in cash:
/// `POST /v1/{tenant}/payouts` with each staff member's share, once (its id is derived from
/// the payout's).
pub async fn queue_tip_payout(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    payout: &sync_protocol::op::TipPayoutV1,
) -> Result<(), StoreError> {
    let payout_id = Uuid::from_bytes(payout.payout_id);
    let lines: Vec<serde_json::Value> = payout
        .shares
        .iter()
        .filter(|share| share.amount_minor > 0)
        .map(|share| {
            serde_json::json!({"staff_id": Uuid::from_bytes(share.staff_id),
                "amount_minor": share.amount_minor})
        })
        .collect();
    let body = serde_json::json!({
        "payout_id": payout_id, "reason": "tips", "from_ms": payout.from_ms,
        "to_ms": payout.to_ms, "amount_minor": payout.tips_minor, "lines": lines,
        "approved_by_staff_id": Uuid::from_bytes(payout.by_staff_id),
    });
    sqlx::query(
        "INSERT INTO service_calls (tenant_id, id, service, kind, outlet_id, path, body)
         SELECT o.tenant_id, $2, 'treasury', 'payout', o.id, '/payouts',
                jsonb_build_object('outlet', o.code, 'currency', o.currency) || $4::jsonb
         FROM outlets o WHERE o.tenant_id = $1 AND o.id = $3
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(call_id(payout_id, "treasury.payout"))
    .bind(outlet_id)
    .bind(sqlx::types::Json(&body))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A stable id for the call `kind` caused by `cause` (an order, a transfer).
pub fn call_id(cause: Uuid, kind: &str) -> Uuid {
    crate::events::derived_id(cause, kind)
}

/// The stock one line moved: units, or grams / millilitres for measured items.
fn stock_line(line: &shared_model::order::OrderLine) -> serde_json::Value {
    let (quantity, unit) = match line.measured {
        Some(Quantity::Grams(grams)) => (grams, "g"),
        Some(Quantity::Millilitres(ml)) => (ml, "ml"),
        _ => (line.quantity, "each"),
    };
    serde_json::json!({"line_id": line.id.to_string(), "item_id": line.item_id.0,
        "name": line.name, "quantity": quantity, "unit": unit})
}

/// The consumption a closed sale reports: what was sold, and what the kitchen made and threw
/// away (lines voided after they were sent).
pub fn consumption_body(outlet_code: &str, order: &Order) -> serde_json::Value {
    let sold: Vec<_> = order
        .lines
        .iter()
        .filter(|line| line.is_live())
        .map(stock_line)
        .collect();
    let waste: Vec<_> = order
        .lines
        .iter()
        .filter(|line| line.voided.as_ref().is_some_and(|void| void.after_send))
        .map(stock_line)
        .collect();
    serde_json::json!({
        "consumption_id": call_id(order.id.0, "inventory.consumption"),
        "order_id": order.id.to_string(),
        "order_number": order.number,
        "outlet": outlet_code,
        "occurred_at_ms": order.closed_at_ms,
        "lines": sold,
        "waste": waste,
    })
}

/// Queues the consumption of each closed order: `(tenant, outlet id, outlet code, order)`.
/// One multi-row insert, so a catch-up of thousands of sales stays one statement.
pub async fn queue_consumptions(
    tx: &mut sqlx::PgConnection,
    closed: &[(TenantId, Uuid, &str, &Order)],
) -> Result<(), StoreError> {
    if closed.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(closed.len());
    let mut ids = Vec::with_capacity(closed.len());
    let mut outlets = Vec::with_capacity(closed.len());
    let mut orders = Vec::with_capacity(closed.len());
    let mut bodies = Vec::with_capacity(closed.len());
    for (tenant, outlet, code, order) in closed {
        tenants.push(tenant.0);
        ids.push(call_id(order.id.0, "inventory.consumption"));
        outlets.push(*outlet);
        orders.push(order.id.0);
        bodies.push(consumption_body(code, order));
    }
    sqlx::query(
        "INSERT INTO service_calls (tenant_id, id, service, kind, outlet_id, order_id, path, body)
         SELECT t, i, 'inventory', 'consumption', o, r, '/inventory/consumption', b
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::jsonb[]) AS k(t, i, o, r, b)
         ON CONFLICT DO NOTHING",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(&outlets)
    .bind(&orders)
    .bind(&bodies)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Hands a ready delivery order to logistics (nothing for other orders): queues
/// `POST /handoff/{orderId}` with the pickup outlet, the customer and where it goes, and
/// records the delivery as `requested`. `ready_event_id` keys it, so a re-sent op hands off
/// once.
pub async fn queue_handoff(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
    number: u64,
    ready_at_ms: i64,
) -> Result<(), StoreError> {
    let queued = sqlx::query(
        "INSERT INTO service_calls (tenant_id, id, service, kind, outlet_id, order_id, path, body)
         SELECT c.tenant_id, $2, 'logistics', 'handoff', c.outlet_id, c.order_id,
                '/handoff/' || c.order_id::text,
                jsonb_build_object(
                    'order_id', c.order_id::text, 'external_ref', c.external_ref,
                    'order_number', $3::bigint, 'ready_at_ms', $4::bigint, 'notes', c.notes,
                    'pickup', jsonb_build_object('outlet', o.code, 'name', o.name),
                    'customer', jsonb_build_object('name', c.customer_name, 'phone', c.customer_phone),
                    'dropoff', jsonb_build_object('address', c.delivery_address))
         FROM cloud_orders c JOIN outlets o ON o.tenant_id = c.tenant_id AND o.id = c.outlet_id
         WHERE c.tenant_id = $1 AND c.order_id = $5 AND c.channel = 'delivery'
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(call_id(order_id, "logistics.handoff"))
    .bind(number as i64)
    .bind(ready_at_ms)
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    if queued.rows_affected() == 1 {
        sqlx::query(
            "INSERT INTO deliveries (tenant_id, order_id, status, reported_at_ms)
             VALUES ($1, $2, 'requested', $3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(order_id)
        .bind(ready_at_ms)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A transfer to record and send to inventory.
#[derive(Debug, Clone)]
pub struct NewTransfer {
    pub id: Uuid,
    pub from_outlet: (Uuid, String),
    pub to_outlet: (Uuid, String),
    /// `[{item_id, quantity, unit}]`, validated by the caller.
    pub lines: serde_json::Value,
    pub note: Option<String>,
}

/// Records a transfer and queues `POST /transfers` for it, in one transaction.
pub async fn insert_transfer(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    transfer: &NewTransfer,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stock_transfers (tenant_id, id, from_outlet_id, to_outlet_id, lines, note)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.0)
    .bind(transfer.id)
    .bind(transfer.from_outlet.0)
    .bind(transfer.to_outlet.0)
    .bind(&transfer.lines)
    .bind(&transfer.note)
    .execute(&mut *tx)
    .await?;
    let body = serde_json::json!({
        "transfer_id": transfer.id, "from_outlet": transfer.from_outlet.1,
        "to_outlet": transfer.to_outlet.1, "lines": transfer.lines, "note": transfer.note,
    });
    sqlx::query(
        "INSERT INTO service_calls (tenant_id, id, service, kind, outlet_id, path, body)
         VALUES ($1, $2, 'inventory', 'transfer', $3, '/transfers', $4)",
    )
    .bind(tenant.0)
    .bind(call_id(transfer.id, "inventory.transfer"))
    .bind(transfer.from_outlet.0)
    .bind(&body)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A transfer as the API shows it, with its call's state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransferRow {
    pub id: Uuid,
    pub from_outlet: String,
    pub to_outlet: String,
    pub lines: serde_json::Value,
    pub note: Option<String>,
    pub state: String,
    pub detail: String,
    pub created_at_ms: i64,
}

const TRANSFER_SELECT: &str = "SELECT s.id, f.code AS from_outlet, d.code AS to_outlet, s.lines,
        s.note, c.state, c.detail, (extract(epoch FROM s.created_at) * 1000)::bigint AS created_at_ms
    FROM stock_transfers s
    JOIN outlets f ON f.tenant_id = s.tenant_id AND f.id = s.from_outlet_id
    JOIN outlets d ON d.tenant_id = s.tenant_id AND d.id = s.to_outlet_id
    JOIN service_calls c ON c.tenant_id = s.tenant_id AND c.id = $3";

/// One transfer of the tenant.
pub async fn transfer(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<TransferRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TRANSFER_SELECT} WHERE s.tenant_id = $1 AND s.id = $2"
    )))
    .bind(tenant.0)
    .bind(id)
    .bind(call_id(id, "inventory.transfer"))
    .fetch_optional(&mut *tx)
    .await?)
}

/// `inventory.low_stock` as reported.
#[derive(Debug, Clone)]
pub struct LowStock {
    pub event_id: String,
    pub outlet_id: Option<Uuid>,
    pub item_id: String,
    pub on_hand: i64,
    pub reorder_level: Option<i64>,
    pub unit: String,
    pub raised_at_ms: i64,
}

/// Records a low-stock report; `false` if its event id was seen before.
pub async fn record_low_stock(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    alert: &LowStock,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO stock_alerts (tenant_id, event_id, outlet_id, item_id, on_hand,
            reorder_level, unit, raised_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(&alert.event_id)
    .bind(alert.outlet_id)
    .bind(&alert.item_id)
    .bind(alert.on_hand)
    .bind(alert.reorder_level)
    .bind(&alert.unit)
    .bind(alert.raised_at_ms)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockAlertRow {
    pub event_id: String,
    pub outlet: Option<String>,
    pub item_id: String,
    pub on_hand: i64,
    pub reorder_level: Option<i64>,
    pub unit: String,
    pub raised_at_ms: i64,
}

/// The newest low-stock reports, optionally for one outlet.
pub async fn stock_alerts(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet: Option<Uuid>,
    limit: i64,
) -> Result<Vec<StockAlertRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.event_id, o.code AS outlet, a.item_id, a.on_hand, a.reorder_level, a.unit,
                a.raised_at_ms
         FROM stock_alerts a
         LEFT JOIN outlets o ON o.tenant_id = a.tenant_id AND o.id = a.outlet_id
         WHERE a.tenant_id = $1 AND ($2::uuid IS NULL OR a.outlet_id = $2)
         ORDER BY a.raised_at_ms DESC, a.event_id LIMIT $3",
    )
    .bind(tenant.0)
    .bind(outlet)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?)
}

/// A logistics report on a delivery.
#[derive(Debug, Clone)]
pub struct DeliveryReport {
    pub order_id: Uuid,
    pub task_id: String,
    pub status: String,
    pub rider_name: Option<String>,
    pub rider_phone: Option<String>,
    pub eta_ms: Option<i64>,
    pub reported_at_ms: i64,
}

/// Applies a report to the order's delivery unless a newer one is already there (reports can
/// arrive out of order). `None`: the order is not a delivery order handed off by this hub.
/// `Some(false)`: older than what is recorded, ignored.
pub async fn apply_delivery_report(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    report: &DeliveryReport,
) -> Result<Option<bool>, StoreError> {
    let known: Option<i64> = sqlx::query_scalar(
        "SELECT reported_at_ms FROM deliveries WHERE tenant_id = $1 AND order_id = $2 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(report.order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(known) = known else {
        return Ok(None);
    };
    if report.reported_at_ms < known {
        return Ok(Some(false));
    }
    sqlx::query(
        "UPDATE deliveries SET task_id = $3, status = $4,
            rider_name = coalesce($5, rider_name), rider_phone = coalesce($6, rider_phone),
            eta_ms = coalesce($7, eta_ms), reported_at_ms = $8, updated_at = now()
         WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(tenant.0)
    .bind(report.order_id)
    .bind(&report.task_id)
    .bind(&report.status)
    .bind(&report.rider_name)
    .bind(&report.rider_phone)
    .bind(report.eta_ms)
    .bind(report.reported_at_ms)
    .execute(&mut *tx)
    .await?;
    Ok(Some(true))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub task_id: Option<String>,
    pub status: String,
    pub rider_name: Option<String>,
    pub rider_phone: Option<String>,
    pub eta_ms: Option<i64>,
    pub reported_at_ms: i64,
}

/// The delivery of an order, if it was handed to logistics.
pub async fn delivery(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<Option<DeliveryRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT task_id, status, rider_name, rider_phone, eta_ms, reported_at_ms
         FROM deliveries WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(tenant.0)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// The code of the outlet a cloud order was placed with.
pub async fn order_outlet_code(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT o.code FROM cloud_orders c
         JOIN outlets o ON o.tenant_id = c.tenant_id AND o.id = c.outlet_id
         WHERE c.tenant_id = $1 AND c.order_id = $2",
    )
    .bind(tenant.0)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// A call the worker has claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueCall {
    pub tenant_id: Uuid,
    pub slug: String,
    pub id: Uuid,
    pub service: String,
    pub kind: String,
    pub path: String,
    pub body: serde_json::Value,
    pub attempts: i32,
}

/// Claims up to `limit` due calls to `services` across tenants (`SKIP LOCKED`: hubs share the
/// work).
pub async fn claim_due(
    tx: &mut sqlx::PgConnection,
    services: &[&str],
    limit: i64,
) -> Result<Vec<DueCall>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT c.tenant_id, t.slug, c.id, c.service, c.kind, c.path, c.body, c.attempts
         FROM service_calls c JOIN tenants t ON t.id = c.tenant_id
         WHERE c.state = 'pending' AND c.next_attempt_at <= now() AND c.service = ANY($1)
         ORDER BY c.next_attempt_at LIMIT $2
         FOR UPDATE OF c SKIP LOCKED",
    )
    .bind(services)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?)
}

/// Settles a call (`sent` or `failed`) with what the service said.
pub async fn settle(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: Uuid,
    state: &str,
    remote_ref: Option<&str>,
    detail: &str,
    attempts: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE service_calls SET state = $3, remote_ref = $4, detail = $5, attempts = $6,
            updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(state)
    .bind(remote_ref)
    .bind(detail)
    .bind(attempts)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
