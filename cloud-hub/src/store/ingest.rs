//! Applying a batch of ops from an edge: one transaction, idempotent, gap-checked.
//!
//! The transaction locks the device's cursor row first, so two connections of one device (an
//! old one not yet timed out, a new one after a reconnect) cannot interleave. The batch is then
//! planned against that locked cursor by the sans-IO [`IngestSession`]: ops the hub already
//! holds are skipped, the rest must continue the hash chain. New ops, the orders they change
//! and the cursor commit together, or not at all.

use super::devices::DeviceIdentity;
use super::{StoreError, TenantId};
use shared_model::{Order, OrderEvent, OrderId};
use sqlx::PgPool;
use std::collections::HashMap;
use sync_protocol::WireOp;
use sync_protocol::op::OpBody;
use sync_protocol::session::{Cursor, IngestError, IngestSession};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub cursor: Cursor,
    pub new_ops: usize,
    pub anomalies: usize,
}

pub async fn load_cursor(pool: &PgPool, device: &DeviceIdentity) -> Result<Cursor, StoreError> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT acked_through_seq, acked_hash FROM sync_cursors WHERE tenant_id = $1 AND device_id = $2",
    )
    .bind(device.tenant_id.0)
    .bind(device.id)
    .fetch_optional(pool)
    .await?;
    cursor_from_row(row)
}

fn cursor_from_row(row: Option<(i64, Vec<u8>)>) -> Result<Cursor, StoreError> {
    match row {
        None => Ok(Cursor::START),
        Some((seq, hash)) => Ok(Cursor {
            acked_through_seq: seq.max(0) as u64,
            acked_hash: hash
                .try_into()
                .map_err(|_| StoreError::Corrupt("cursor hash is not 32 bytes".into()))?,
        }),
    }
}

/// Applies `ops` from `device`. `Ok(Err(_))` is a refused batch (nothing written).
pub async fn ingest_batch(
    pool: &PgPool,
    device: &DeviceIdentity,
    ops: &[WireOp],
) -> Result<Result<IngestOutcome, IngestError>, StoreError> {
    let tenant = device.tenant_id;
    let mut tx = pool.begin().await?;
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT acked_through_seq, acked_hash FROM sync_cursors
         WHERE tenant_id = $1 AND device_id = $2 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(device.id)
    .fetch_optional(&mut *tx)
    .await?;
    let cursor = cursor_from_row(row)?;
    let (session, _) = IngestSession::start(*device.id.as_bytes(), cursor);
    let plan = match session.plan(ops) {
        Ok(plan) => plan,
        Err(error) => return Ok(Err(error)),
    };
    let new_ops = plan.new_ops(ops);
    if new_ops.is_empty() {
        return Ok(Ok(IngestOutcome {
            cursor,
            new_ops: 0,
            anomalies: 0,
        }));
    }

    let decoded: Vec<(u64, Result<Decoded, String>)> = new_ops
        .iter()
        .map(|op| {
            let event = op
                .decode_body()
                .map_err(|e| e.to_string())
                .and_then(|body| match body {
                    OpBody::Order(wire) => OrderEvent::try_from(&wire)
                        .map(Decoded::Order)
                        .map_err(|e| e.to_string()),
                    OpBody::Audit(_) => Ok(Decoded::EdgeFact("audit")),
                    OpBody::Device(_) => Ok(Decoded::EdgeFact("device")),
                    OpBody::Staff(_) => Ok(Decoded::EdgeFact("staff")),
                    OpBody::Kitchen(_) => Ok(Decoded::EdgeFact("kitchen")),
                    OpBody::Table(_) => Ok(Decoded::EdgeFact("table")),
                    OpBody::Tab(_) => Ok(Decoded::EdgeFact("tab")),
                    OpBody::Drawer(op) => Ok(Decoded::Drawer(op)),
                });
            (op.seq, event)
        })
        .collect();

    insert_ops(&mut tx, device, new_ops, &decoded).await?;
    // Only order events fold into orders; edge facts (audit, devices, staff, kitchen) are kept
    // in `ops` as they came and are not anomalies.
    let mut drawer_ops = Vec::new();
    let order_events: Vec<(u64, Result<OrderEvent, String>)> = decoded
        .into_iter()
        .filter_map(|(seq, decoded)| match decoded {
            Ok(Decoded::Order(event)) => Some((seq, Ok(event))),
            Ok(Decoded::Drawer(op)) => {
                drawer_ops.push((seq, op));
                None
            }
            Ok(Decoded::EdgeFact(_)) => None,
            Err(error) => Some((seq, Err(error))),
        })
        .collect();
    let mut anomalies = apply_to_orders(&mut tx, device, &order_events).await?;
    if !drawer_ops.is_empty() {
        anomalies += super::drawers::apply_drawer_ops(&mut tx, device, &drawer_ops).await?;
    }

    sqlx::query(
        "UPDATE sync_cursors SET acked_through_seq = $3, acked_hash = $4, updated_at = now()
         WHERE tenant_id = $1 AND device_id = $2",
    )
    .bind(tenant.0)
    .bind(device.id)
    .bind(plan.cursor_after.acked_through_seq as i64)
    .bind(plan.cursor_after.acked_hash.as_slice())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(IngestOutcome {
        cursor: plan.cursor_after,
        new_ops: new_ops.len(),
        anomalies,
    }))
}

/// An op body as the hub uses it: an order event to fold, or an edge fact to keep.
// Why not boxed: one short-lived value per op of a batch; almost all ops are order events, so
// boxing would add an allocation per op for no saving.
#[allow(clippy::large_enum_variant)]
enum Decoded {
    Order(OrderEvent),
    /// Kept in `ops` under this kind; not folded into orders.
    EdgeFact(&'static str),
    /// Folded into the hub's copy of a drawer session.
    Drawer(sync_protocol::op::DrawerOpV1),
}

async fn insert_ops(
    tx: &mut sqlx::PgConnection,
    device: &DeviceIdentity,
    ops: &[WireOp],
    decoded: &[(u64, Result<Decoded, String>)],
) -> Result<(), StoreError> {
    let seqs: Vec<i64> = ops.iter().map(|op| op.seq as i64).collect();
    let kinds: Vec<String> = decoded
        .iter()
        .map(|(_, event)| match event {
            Ok(Decoded::Order(event)) => event.kind().to_owned(),
            Ok(Decoded::EdgeFact(kind)) => (*kind).to_owned(),
            Ok(Decoded::Drawer(_)) => "drawer".to_owned(),
            Err(_) => "undecodable".to_owned(),
        })
        .collect();
    let walls: Vec<i64> = ops.iter().map(|op| op.hlc.wall_ms as i64).collect();
    let logicals: Vec<i32> = ops.iter().map(|op| op.hlc.logical as i32).collect();
    let prev_hashes: Vec<Vec<u8>> = ops.iter().map(|op| op.prev_hash.to_vec()).collect();
    let hashes: Vec<Vec<u8>> = ops.iter().map(|op| op.chain_hash().to_vec()).collect();
    let bodies: Vec<Vec<u8>> = ops.iter().map(|op| op.body.clone()).collect();
    sqlx::query(
        "INSERT INTO ops (tenant_id, device_id, outlet_id, seq, kind, hlc_wall_ms, hlc_logical,
                          prev_hash, hash, body)
         SELECT $1, $2, $3, * FROM UNNEST($4::bigint[], $5::text[], $6::bigint[], $7::int[],
                                          $8::bytea[], $9::bytea[], $10::bytea[])
         ON CONFLICT DO NOTHING",
    )
    .bind(device.tenant_id.0)
    .bind(device.id)
    .bind(device.outlet_id)
    .bind(&seqs)
    .bind(&kinds)
    .bind(&walls)
    .bind(&logicals)
    .bind(&prev_hashes)
    .bind(&hashes)
    .bind(&bodies)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Folds the batch's order events into the orders they name, with `shared-model`'s rules.
/// Events that contradict their order are recorded as anomalies; the op itself stays.
async fn apply_to_orders(
    tx: &mut sqlx::PgConnection,
    device: &DeviceIdentity,
    decoded: &[(u64, Result<OrderEvent, String>)],
) -> Result<usize, StoreError> {
    let tenant = device.tenant_id;
    let order_ids: Vec<Uuid> = {
        let mut ids: Vec<Uuid> = decoded
            .iter()
            .filter_map(|(_, event)| event.as_ref().ok().map(|e| e.order_id().0))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let existing: Vec<(Uuid, Uuid, sqlx::types::Json<Order>)> = sqlx::query_as(
        "SELECT id, outlet_id, doc FROM orders WHERE tenant_id = $1 AND id = ANY($2) FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(&order_ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut orders: HashMap<OrderId, (Order, bool)> = HashMap::with_capacity(order_ids.len());
    // The state each order had before this batch; absent for orders first seen in it.
    let mut before: HashMap<OrderId, shared_model::OrderState> = HashMap::new();
    let mut foreign: Vec<OrderId> = Vec::new();
    for (id, outlet_id, doc) in existing {
        if outlet_id == device.outlet_id {
            before.insert(OrderId(id), doc.0.state);
            orders.insert(OrderId(id), (doc.0, false));
        } else {
            foreign.push(OrderId(id));
        }
    }

    let mut anomalies: Vec<(u64, Option<Uuid>, String)> = Vec::new();
    for (seq, event) in decoded {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                anomalies.push((*seq, None, format!("undecodable op: {error}")));
                continue;
            }
        };
        let order_id = event.order_id();
        if foreign.contains(&order_id) {
            anomalies.push((
                *seq,
                Some(order_id.0),
                "order belongs to another outlet".into(),
            ));
            continue;
        }
        match orders.get_mut(&order_id) {
            Some((order, dirty)) => match order.apply(event) {
                Ok(()) => *dirty = true,
                Err(error) => anomalies.push((*seq, Some(order_id.0), error.to_string())),
            },
            None => match Order::from_opened(event) {
                Some(order) => {
                    orders.insert(order_id, (order, true));
                }
                None => anomalies.push((
                    *seq,
                    Some(order_id.0),
                    format!("{} for an order never opened", event.kind()),
                )),
            },
        }
    }

    let dirty: Vec<&Order> = orders
        .values()
        .filter(|(_, dirty)| *dirty)
        .map(|(order, _)| order)
        .collect();
    if !dirty.is_empty() {
        upsert_orders(&mut *tx, device, &dirty).await?;
        let (tenant_slug, outlet_code): (String, String) = sqlx::query_as(
            "SELECT t.slug, o.code FROM tenants t JOIN outlets o ON o.tenant_id = t.id
             WHERE t.id = $1 AND o.id = $2",
        )
        .bind(tenant.0)
        .bind(device.outlet_id)
        .fetch_one(&mut *tx)
        .await?;
        let events: Vec<crate::events::OutboxEvent> = dirty
            .iter()
            .flat_map(|order| {
                let previous = before.get(&order.id).copied();
                crate::events::order_events(
                    &tenant_slug,
                    &outlet_code,
                    order,
                    previous.is_none(),
                    previous,
                )
            })
            .collect();
        super::outbox::insert(&mut *tx, tenant, &events).await?;
    }
    for (seq, order_id, error) in &anomalies {
        tracing::warn!(tenant = %tenant.0, device = %device.id, seq, %error, "order anomaly");
        sqlx::query(
            "INSERT INTO order_anomalies (tenant_id, device_id, seq, order_id, error)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(device.id)
        .bind(*seq as i64)
        .bind(*order_id)
        .bind(error)
        .execute(&mut *tx)
        .await?;
    }
    Ok(anomalies.len())
}

async fn upsert_orders(
    tx: &mut sqlx::PgConnection,
    device: &DeviceIdentity,
    orders: &[&Order],
) -> Result<(), StoreError> {
    let mut ids = Vec::with_capacity(orders.len());
    let mut numbers = Vec::with_capacity(orders.len());
    let mut types = Vec::with_capacity(orders.len());
    let mut states = Vec::with_capacity(orders.len());
    let mut currencies = Vec::with_capacity(orders.len());
    let mut nets = Vec::with_capacity(orders.len());
    let mut taxes = Vec::with_capacity(orders.len());
    let mut totals_minor = Vec::with_capacity(orders.len());
    let mut paids = Vec::with_capacity(orders.len());
    let mut opened = Vec::with_capacity(orders.len());
    let mut closed: Vec<Option<i64>> = Vec::with_capacity(orders.len());
    let mut docs = Vec::with_capacity(orders.len());
    for order in orders {
        let totals = order.totals();
        ids.push(order.id.0);
        numbers.push(order.number as i64);
        types.push(order.order_type.as_str().to_owned());
        states.push(order.state.as_str().to_owned());
        currencies.push(order.currency.code().to_owned());
        nets.push(totals.net_minor);
        taxes.push(totals.tax_minor);
        totals_minor.push(totals.total_minor);
        paids.push(totals.paid_minor);
        opened.push(order.opened_at_ms);
        closed.push(order.closed_at_ms);
        docs.push(serde_json::to_value(order).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    sqlx::query(
        "INSERT INTO orders (tenant_id, outlet_id, device_id, id, number, order_type, state, currency,
                             net_minor, tax_minor, total_minor, paid_minor, opened_at_ms, closed_at_ms, doc)
         SELECT $1, $2, $3, * FROM UNNEST($4::uuid[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                                          $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
                                          $13::bigint[], $14::bigint[], $15::jsonb[])
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            state = excluded.state, net_minor = excluded.net_minor, tax_minor = excluded.tax_minor,
            total_minor = excluded.total_minor, paid_minor = excluded.paid_minor,
            closed_at_ms = excluded.closed_at_ms, doc = excluded.doc, updated_at = now()",
    )
    .bind(device.tenant_id.0)
    .bind(device.outlet_id)
    .bind(device.id)
    .bind(&ids)
    .bind(&numbers)
    .bind(&types)
    .bind(&states)
    .bind(&currencies)
    .bind(&nets)
    .bind(&taxes)
    .bind(&totals_minor)
    .bind(&paids)
    .bind(&opened)
    .bind(&closed)
    .bind(&docs)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How many ops the hub holds for a device (for status and tests).
pub async fn op_count(pool: &PgPool, tenant: TenantId, device_id: Uuid) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM ops WHERE tenant_id = $1 AND device_id = $2")
            .bind(tenant.0)
            .bind(device_id)
            .fetch_one(pool)
            .await?,
    )
}
