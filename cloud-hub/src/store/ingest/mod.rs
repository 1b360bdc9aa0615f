//! Applying batches of ops from edges: group commit, idempotent, gap-checked.
//!
//! [`ingest_group`] applies the batches of many connections in one transaction (one fsync), with
//! a fixed number of statements however many batches the group holds: a trickle from a thousand
//! edges costs what one bulk catch-up costs. The transaction locks the cursor rows of every
//! device in the group first (in key order, so two groups cannot deadlock), then plans each batch
//! against its device's locked cursor with the sans-IO [`IngestSession`]: ops the hub already
//! holds are skipped, the rest must continue the hash chain. A refused batch writes nothing and
//! does not disturb the others. New ops, the orders they change, their events and the cursors
//! commit together, or not at all; no batch is acknowledged before that commit.

mod facts;
pub mod projection;

use super::copy_binary::BinaryCopy;
use super::devices::DeviceIdentity;
use super::{StoreError, TenantId};
use shared_model::{Order, OrderEvent, OrderId, OrderState};
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
    /// Ops that contradicted their order (known only when `projected`).
    pub anomalies: usize,
    /// The batch was projected in its own transaction; `false`: its ops are stored (and may be
    /// acknowledged) and the projector will project them (see [`projection`]).
    pub projected: bool,
}

/// What became of one batch: applied, or refused (nothing of it written).
pub type BatchResult = Result<IngestOutcome, IngestError>;

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

/// Applies `ops` from `device` in a transaction of its own. `Ok(Err(_))` is a refused batch
/// (nothing written).
pub async fn ingest_batch(
    pool: &PgPool,
    device: &DeviceIdentity,
    ops: &[WireOp],
) -> Result<BatchResult, StoreError> {
    let mut results = ingest_group(pool, &[(device, ops)]).await?;
    results
        .pop()
        .ok_or_else(|| StoreError::Corrupt("a group of one batch gave no result".into()))
}

/// A batch the group accepted, with the part of it the hub did not hold yet.
struct Accepted<'a> {
    index: usize,
    device: &'a DeviceIdentity,
    new_ops: &'a [WireOp],
    decoded: Vec<(u64, Result<Decoded, String>)>,
}

impl Accepted<'_> {
    /// The batch's decoded ops that `pick` selects (given each op's sequence number).
    fn picked<'s, T>(&'s self, pick: impl Fn(u64, &'s Decoded) -> Option<T>) -> Vec<T> {
        self.decoded
            .iter()
            .filter_map(|(seq, decoded)| decoded.as_ref().ok().and_then(|d| pick(*seq, d)))
            .collect()
    }
}

/// Applies the batches of several connections in one transaction. The result at index `i` is
/// batch `i`'s; batches of one device are applied in the order given. An `Err` means nothing
/// of the group was written.
pub async fn ingest_group(
    pool: &PgPool,
    batches: &[(&DeviceIdentity, &[WireOp])],
) -> Result<Vec<BatchResult>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut cursors = lock_cursors(&mut tx, batches).await?;
    let cursors_before = cursors.clone();

    let mut results: Vec<Option<BatchResult>> = (0..batches.len()).map(|_| None).collect();
    let mut accepted: Vec<Accepted> = Vec::new();
    for (index, (device, ops)) in batches.iter().enumerate() {
        let key = (device.tenant_id.0, device.id);
        let cursor = cursors.get(&key).copied().unwrap_or(Cursor::START);
        let (session, _) = IngestSession::start(*device.id.as_bytes(), cursor);
        let plan = match session.plan(ops) {
            Ok(plan) => plan,
            Err(error) => {
                results[index] = Some(Err(error));
                continue;
            }
        };
        let new_ops = plan.new_ops(ops);
        cursors.insert(key, plan.cursor_after);
        results[index] = Some(Ok(IngestOutcome {
            cursor: plan.cursor_after,
            new_ops: new_ops.len(),
            anomalies: 0,
            // Nothing new is nothing to project.
            projected: true,
        }));
        if !new_ops.is_empty() {
            accepted.push(Accepted {
                index,
                device,
                new_ops,
                decoded: new_ops.iter().map(|op| (op.seq, decode(op))).collect(),
            });
        }
    }
    if accepted.is_empty() {
        // Nothing new: duplicates and refusals only; nothing to commit.
        return Ok(results.into_iter().flatten().collect());
    }

    insert_ops(&mut tx, &accepted).await?;
    // A trickle is projected now, in this transaction; a backlog is left to the projector.
    let inline = projection::claim_inline(&mut tx, &accepted, &cursors_before).await?;
    let (projected, deferred): (Vec<Accepted>, Vec<Accepted>) = accepted
        .into_iter()
        .partition(|batch| inline.contains(&(batch.device.tenant_id.0, batch.device.id)));
    let anomalies = project(&mut tx, &projected).await?;
    projection::advance(&mut tx, &projected, &cursors).await?;
    let accepted: Vec<Accepted> = projected.into_iter().chain(deferred).collect();
    store_cursors(&mut tx, &accepted, &cursors).await?;
    tx.commit().await?;

    for batch in &accepted {
        if let Some(Some(Ok(outcome))) = results.get_mut(batch.index) {
            let key = (batch.device.tenant_id.0, batch.device.id);
            outcome.projected = inline.contains(&key);
            outcome.anomalies = anomalies.get(batch.index).copied().unwrap_or(0);
        }
    }
    Ok(results.into_iter().flatten().collect())
}

/// Projects accepted ops into everything the hub derives from them: orders and their events,
/// the outlet's devices, audit log, drawers, payment intents, ready events, cloud cancels, gift
/// cards, loyalty, day reports and late captures. Returns the anomaly count per batch index.
async fn project(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<Vec<usize>, StoreError> {
    if accepted.is_empty() {
        return Ok(Vec::new());
    }
    let mut anomalies = apply_to_orders(&mut *tx, accepted).await?;
    for batch in accepted {
        anomalies[batch.index] += facts::apply_edge_facts(&mut *tx, batch).await?;
    }
    let intents: Vec<super::payment_intents::NewIntent> = accepted
        .iter()
        .flat_map(|batch| {
            batch.picked(|_, decoded| match decoded {
                Decoded::Payment(op) => new_intent(batch.device, op),
                _ => None,
            })
        })
        .collect();
    if !intents.is_empty() {
        super::payment_intents::insert_requested(&mut *tx, &intents).await?;
    }
    facts::write_ready_events(&mut *tx, accepted).await?;
    facts::apply_cloud_cancels(&mut *tx, accepted).await?;
    facts::enter_gift_card_holds(&mut *tx, accepted).await?;
    facts::enter_gift_card_redemptions(&mut *tx, accepted).await?;
    facts::enter_loyalty(&mut *tx, accepted).await?;
    facts::enter_day_reports(&mut *tx, accepted).await?;
    facts::record_late_captures(&mut *tx, accepted).await?;
    Ok(anomalies)
}

/// Locks the cursor row of every device in the group, in key order.
async fn lock_cursors(
    tx: &mut sqlx::PgConnection,
    batches: &[(&DeviceIdentity, &[WireOp])],
) -> Result<HashMap<(Uuid, Uuid), Cursor>, StoreError> {
    let mut keys: Vec<(Uuid, Uuid)> = batches
        .iter()
        .map(|(device, _)| (device.tenant_id.0, device.id))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let (tenants, devices): (Vec<Uuid>, Vec<Uuid>) = keys.into_iter().unzip();
    let rows: Vec<(Uuid, Uuid, i64, Vec<u8>)> = sqlx::query_as(CURSORS_BY_KEY_SQL)
        .bind(&tenants)
        .bind(&devices)
        .fetch_all(&mut *tx)
        .await?;
    rows.into_iter()
        .map(|(tenant, device, seq, hash)| {
            Ok(((tenant, device), cursor_from_row(Some((seq, hash)))?))
        })
        .collect()
}

/// Moves the cursor of every device that had new ops to where its last batch left it.
async fn store_cursors(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
    cursors: &HashMap<(Uuid, Uuid), Cursor>,
) -> Result<(), StoreError> {
    let mut keys: Vec<(Uuid, Uuid)> = accepted
        .iter()
        .map(|batch| (batch.device.tenant_id.0, batch.device.id))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut tenants = Vec::with_capacity(keys.len());
    let mut devices = Vec::with_capacity(keys.len());
    let mut seqs = Vec::with_capacity(keys.len());
    let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(cursor) = cursors.get(&key) else {
            continue;
        };
        tenants.push(key.0);
        devices.push(key.1);
        seqs.push(cursor.acked_through_seq as i64);
        hashes.push(cursor.acked_hash.to_vec());
    }
    sqlx::query(
        "INSERT INTO sync_cursors (tenant_id, device_id, acked_through_seq, acked_hash)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::bytea[])
         ON CONFLICT (tenant_id, device_id) DO UPDATE SET
            acked_through_seq = excluded.acked_through_seq, acked_hash = excluded.acked_hash,
            updated_at = now()",
    )
    .bind(&tenants)
    .bind(&devices)
    .bind(&seqs)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn new_intent(
    device: &DeviceIdentity,
    op: &sync_protocol::op::PaymentOpV1,
) -> Option<super::payment_intents::NewIntent> {
    use sync_protocol::op::{PaymentMethodV1, PaymentOpV1};
    let (intent_id, order_id, method, msisdn, terminal_ref, receipt, amount_minor, currency) =
        match op {
            PaymentOpV1::IntentRequested {
                intent_id,
                order_id,
                method,
                amount_minor,
                currency,
                ..
            } => {
                let (name, msisdn, terminal_ref) = match method {
                    PaymentMethodV1::MpesaStk { msisdn } => {
                        ("mpesa_stk", Some(msisdn.clone()), None)
                    }
                    PaymentMethodV1::Card { terminal_ref } => {
                        ("card", None, Some(terminal_ref.clone()))
                    }
                };
                (
                    intent_id,
                    order_id,
                    name,
                    msisdn,
                    terminal_ref,
                    None,
                    *amount_minor,
                    currency,
                )
            }
            PaymentOpV1::OfflineCardRecorded {
                intent_id,
                order_id,
                offline_ref,
                amount_minor,
                currency,
                ..
            } => (
                intent_id,
                order_id,
                "card_offline",
                None,
                None,
                Some(offline_ref.clone()),
                *amount_minor,
                currency,
            ),
            PaymentOpV1::ReceiptCodeRecorded {
                intent_id,
                order_id,
                receipt_code,
                amount_minor,
                currency,
                ..
            } => (
                intent_id,
                order_id,
                "mpesa_receipt",
                None,
                None,
                Some(receipt_code.clone()),
                *amount_minor,
                currency,
            ),
            // Nothing to collect: a report of a capture the outlet could not use.
            PaymentOpV1::CaptureNeedsRefund { .. } => return None,
        };
    if amount_minor <= 0 {
        // The op stays in the log; there is nothing to collect.
        tracing::warn!(device = %device.id, amount_minor, "payment intent without a positive amount");
        return None;
    }
    Some(super::payment_intents::NewIntent {
        tenant: device.tenant_id,
        id: Uuid::from_bytes(*intent_id),
        outlet_id: device.outlet_id,
        device_id: device.id,
        order_id: Uuid::from_bytes(*order_id),
        method,
        msisdn,
        terminal_ref,
        receipt,
        amount_minor,
        currency: currency.clone(),
    })
}

fn decode(op: &WireOp) -> Result<Decoded, String> {
    op.decode_body()
        .map_err(|e| e.to_string())
        .and_then(|body| match body {
            OpBody::Order(wire) => OrderEvent::try_from(&wire)
                .map(Decoded::Order)
                .map_err(|e| e.to_string()),
            OpBody::Audit(entry) => Ok(Decoded::Audit(entry)),
            OpBody::Device(event) => Ok(Decoded::Device(event)),
            OpBody::Staff(event) => Ok(Decoded::Staff(event)),
            OpBody::Kitchen(sync_protocol::op::KitchenEventV1::OrderReady {
                order_id,
                order_number,
                at_ms,
            }) => Ok(Decoded::OrderReady {
                order_id: Uuid::from_bytes(order_id),
                number: order_number,
                at_ms,
            }),
            OpBody::Kitchen(_) => Ok(Decoded::EdgeFact("kitchen")),
            OpBody::Table(_) => Ok(Decoded::EdgeFact("table")),
            OpBody::Tab(_) => Ok(Decoded::EdgeFact("tab")),
            OpBody::Drawer(op) => Ok(Decoded::Drawer(op)),
            OpBody::Payment(op) => Ok(Decoded::Payment(op)),
            OpBody::GiftCard(
                hold @ (sync_protocol::op::GiftCardOpV1::HoldRequested { .. }
                | sync_protocol::op::GiftCardOpV1::HoldReleased { .. }),
            ) => Ok(Decoded::GiftCardHold(hold)),
            OpBody::GiftCard(sync_protocol::op::GiftCardOpV1::Redeemed {
                entry_id,
                code,
                order_id,
                amount_minor,
                currency,
                redeemed_at_ms,
            }) => Ok(Decoded::GiftCard {
                entry_id: Uuid::from_bytes(entry_id),
                code,
                order_id: Uuid::from_bytes(order_id),
                amount_minor,
                currency,
                redeemed_at_ms,
            }),
            OpBody::Doc(change) => Ok(Decoded::Doc(change)),
            OpBody::OrderDoc(change) => Ok(Decoded::OrderDoc(change)),
            OpBody::TipPayout(payout) => Ok(Decoded::TipPayout(payout)),
            OpBody::TipPayoutInCash {
                payout_id,
                drawer_session_id,
            } => Ok(Decoded::TipPayoutInCash {
                payout_id: Uuid::from_bytes(payout_id),
                drawer_session_id: Uuid::from_bytes(drawer_session_id),
            }),
            OpBody::Loyalty(op) => Ok(Decoded::Loyalty(op)),
            OpBody::DayClosed(report) => Ok(Decoded::DayClosed(report)),
            OpBody::CloudOrder(sync_protocol::op::CloudOrderOpV1::CancelResolved {
                order_id,
                outcome,
                reason,
                resolved_at_ms,
            }) => Ok(Decoded::CloudCancel {
                order_id: Uuid::from_bytes(order_id),
                outcome,
                reason,
                resolved_at_ms,
            }),
        })
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
    /// A payment for the hub to collect through the treasury.
    Payment(sync_protocol::op::PaymentOpV1),
    /// The kitchen finished an order: raises `pos.order.ready`.
    OrderReady {
        order_id: Uuid,
        number: u64,
        at_ms: i64,
    },
    /// A change to the outlet's LAN devices: kept in the hub's device list.
    Device(sync_protocol::op::DeviceEventV1),
    /// A staff member signed in or out at a till: the hub's list of sessions.
    Staff(sync_protocol::op::StaffEventV1),
    /// A high-risk action a till audited: written to the tenant's audit log.
    Audit(sync_protocol::op::AuditEventV1),
    /// Value taken off a gift card at an outlet: entered in the ledger.
    GiftCard {
        entry_id: Uuid,
        code: String,
        order_id: Uuid,
        amount_minor: i64,
        currency: String,
        redeemed_at_ms: i64,
    },
    /// A gift-card hold asked for (decided now against the card's balance) or given back.
    GiftCardHold(sync_protocol::op::GiftCardOpV1),
    /// Automerge changes to a document the outlet and the hub both edit.
    Doc(sync_protocol::docs::DocChangeV1),
    /// Automerge changes to a cloud order's notes (the outlet's side of the thread).
    OrderDoc(sync_protocol::docs::OrderDocChangeV1),
    /// A tip pool an outlet's manager paid out.
    TipPayout(sync_protocol::op::TipPayoutV1),
    /// The next payout was handed out in cash from a drawer.
    TipPayoutInCash {
        payout_id: Uuid,
        drawer_session_id: Uuid,
    },
    /// A loyalty member named on an order, points burned, a voucher redeemed.
    Loyalty(sync_protocol::op::LoyaltyOpV1),
    /// The outlet closed its business day: its Z report, checked against the hub's orders.
    DayClosed(sync_protocol::op::DayClosedV1),
    /// What the outlet's rule made of a cancel from the cloud.
    CloudCancel {
        order_id: Uuid,
        outcome: sync_protocol::op::CancelOutcomeV1,
        reason: String,
        resolved_at_ms: i64,
    },
}

impl Decoded {
    fn kind(&self) -> &'static str {
        match self {
            Decoded::Order(event) => event.kind(),
            Decoded::EdgeFact(kind) => kind,
            Decoded::Drawer(_) => "drawer",
            Decoded::Payment(_) => "payment",
            Decoded::OrderReady { .. } => "kitchen",
            Decoded::CloudCancel { .. } => "cloud_order",
            Decoded::GiftCard { .. } | Decoded::GiftCardHold(_) => "gift_card",
            Decoded::Audit(_) => "audit",
            Decoded::Device(_) => "device",
            Decoded::Staff(_) => "staff",
            Decoded::Doc(_) => "doc",
            Decoded::OrderDoc(_) => "order_doc",
            Decoded::TipPayout(_) | Decoded::TipPayoutInCash { .. } => "tips",
            Decoded::Loyalty(_) => "loyalty",
            Decoded::DayClosed(_) => "day_closed",
        }
    }
}

/// Stores the group's new ops with one binary `COPY`. Every op here is past its device's
/// locked cursor (the plan skipped what the hub holds), so none can already be stored; if one
/// ever were, the unique key refuses the `COPY`, the group rolls back and its batches are
/// retried one by one, where that batch alone fails.
async fn insert_ops(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    let bytes: usize = accepted
        .iter()
        .flat_map(|batch| batch.new_ops.iter())
        .map(|op| op.body.len() + OP_ROW_OVERHEAD_BYTES)
        .sum();
    let mut copy = BinaryCopy::new(10, bytes);
    for batch in accepted {
        let device = batch.device;
        for (op, (_, decoded)) in batch.new_ops.iter().zip(&batch.decoded) {
            copy.row()
                .uuid(&device.tenant_id.0)
                .uuid(&device.id)
                .uuid(&device.outlet_id)
                .int8(op.seq as i64)
                .text(match decoded {
                    Ok(decoded) => decoded.kind(),
                    Err(_) => "undecodable",
                })
                .int8(op.hlc.wall_ms as i64)
                .int4(op.hlc.logical as i32)
                .bytea(&op.prev_hash)
                .bytea(&op.chain_hash())
                .bytea(&op.body);
        }
    }
    let mut sink = tx
        .copy_in_raw(
            "COPY ops (tenant_id, device_id, outlet_id, seq, kind, hlc_wall_ms, hlc_logical,
                       prev_hash, hash, body)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    if let Err(error) = sink.send(copy.finish()).await {
        let _ = sink.abort("sending the ops failed").await;
        return Err(error.into());
    }
    sink.finish().await?;
    Ok(())
}

/// Bytes of an op's row besides its body: field lengths, three uuids, the hashes, the kind.
const OP_ROW_OVERHEAD_BYTES: usize = 2 + 10 * 4 + 3 * 16 + 8 + 8 + 4 + 2 * 32 + 24;

/// One order of the group as it is being folded.
struct Folding {
    order: Order,
    dirty: bool,
    /// The state before this group; `None` for an order first seen in it.
    before: Option<OrderState>,
    /// Who first reported it (written on insert only).
    device: DeviceIdentity,
}

/// The orders of a group, locked, by (tenant, order) key: one primary-key probe per key, in the
/// order given (the caller sorts the keys, so two writers cannot deadlock). The locking subquery
/// cannot be flattened into a join, so the planner has no other plan to pick: with statistics
/// gone stale while the table grows (a fresh hub taking its first busy hour), both a join against
/// UNNEST and `= ANY` over the two columns were seen scanning every order of the tenant per
/// group. Public for the plan test.
pub const ORDERS_BY_KEY_SQL: &str = "SELECT o.tenant_id, o.id, o.outlet_id, o.doc
     FROM UNNEST($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(tenant_id, id, n)
     CROSS JOIN LATERAL (
         SELECT tenant_id, id, outlet_id, doc FROM orders
         WHERE orders.tenant_id = k.tenant_id AND orders.id = k.id
         FOR UPDATE
     ) o
     ORDER BY k.n";

/// The device cursors of a group, locked, by (tenant, device) key in the order given (sorted by
/// the caller), one key probe each (see [`ORDERS_BY_KEY_SQL`]: a join against UNNEST was
/// planned as a hash join over every cursor row). Public for the plan test.
pub const CURSORS_BY_KEY_SQL: &str =
    "SELECT c.tenant_id, c.device_id, c.acked_through_seq, c.acked_hash
     FROM UNNEST($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(tenant_id, device_id, n)
     CROSS JOIN LATERAL (
         SELECT tenant_id, device_id, acked_through_seq, acked_hash FROM sync_cursors
         WHERE sync_cursors.tenant_id = k.tenant_id AND sync_cursors.device_id = k.device_id
         FOR UPDATE
     ) c
     ORDER BY k.n";

/// Folds the group's order events into the orders they name, with `shared-model`'s rules,
/// and writes the events the changes raise. Events that contradict their order are recorded
/// as anomalies; the op itself stays. Returns the anomaly count per batch index.
async fn apply_to_orders(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<Vec<usize>, StoreError> {
    let batch_count = accepted.iter().map(|b| b.index + 1).max().unwrap_or(0);
    let mut per_batch = vec![0_usize; batch_count];
    let mut keys: Vec<(Uuid, Uuid)> = accepted
        .iter()
        .flat_map(|batch| {
            batch
                .decoded
                .iter()
                .filter_map(|(_, decoded)| match decoded {
                    Ok(Decoded::Order(event)) => {
                        Some((batch.device.tenant_id.0, event.order_id().0))
                    }
                    _ => None,
                })
        })
        .collect();
    if keys.is_empty()
        && accepted
            .iter()
            .all(|b| b.decoded.iter().all(|(_, d)| d.is_ok()))
    {
        return Ok(per_batch);
    }
    keys.sort_unstable();
    keys.dedup();
    let (key_tenants, key_ids): (Vec<Uuid>, Vec<Uuid>) = keys.into_iter().unzip();
    let existing: Vec<(Uuid, Uuid, Uuid, sqlx::types::Json<Order>)> =
        sqlx::query_as(ORDERS_BY_KEY_SQL)
            .bind(&key_tenants)
            .bind(&key_ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut orders: HashMap<(TenantId, OrderId), Folding> = HashMap::new();
    // Orders this hub holds for an outlet other than the one now naming them.
    let mut owners: HashMap<(TenantId, OrderId), Uuid> = HashMap::new();
    for (tenant, id, outlet_id, doc) in existing {
        owners.insert((TenantId(tenant), OrderId(id)), outlet_id);
        let before = Some(doc.0.state);
        orders.insert(
            (TenantId(tenant), OrderId(id)),
            Folding {
                order: doc.0,
                dirty: false,
                before,
                device: DeviceIdentity {
                    tenant_id: TenantId(tenant),
                    id: Uuid::nil(),
                    outlet_id,
                    revoked: false,
                },
            },
        );
    }

    let mut anomalies: Vec<(&DeviceIdentity, u64, Option<Uuid>, String)> = Vec::new();
    for batch in accepted {
        let device = batch.device;
        for (seq, decoded) in &batch.decoded {
            let event = match decoded {
                Ok(Decoded::Order(event)) => event,
                Ok(_) => continue,
                Err(error) => {
                    anomalies.push((device, *seq, None, format!("undecodable op: {error}")));
                    per_batch[batch.index] += 1;
                    continue;
                }
            };
            let order_id = event.order_id();
            let key = (device.tenant_id, order_id);
            if owners
                .get(&key)
                .is_some_and(|outlet| *outlet != device.outlet_id)
            {
                anomalies.push((
                    device,
                    *seq,
                    Some(order_id.0),
                    "order belongs to another outlet".into(),
                ));
                per_batch[batch.index] += 1;
                continue;
            }
            match orders.get_mut(&key) {
                Some(folding) => match folding.order.apply(event) {
                    Ok(()) => folding.dirty = true,
                    Err(error) => {
                        anomalies.push((device, *seq, Some(order_id.0), error.to_string()));
                        per_batch[batch.index] += 1;
                    }
                },
                None => match Order::from_opened(event) {
                    Some(order) => {
                        owners.insert(key, device.outlet_id);
                        orders.insert(
                            key,
                            Folding {
                                order,
                                dirty: true,
                                before: None,
                                device: device.clone(),
                            },
                        );
                    }
                    None => {
                        anomalies.push((
                            device,
                            *seq,
                            Some(order_id.0),
                            format!("{} for an order never opened", event.kind()),
                        ));
                        per_batch[batch.index] += 1;
                    }
                },
            }
        }
    }

    let dirty: Vec<&Folding> = orders.values().filter(|f| f.dirty).collect();
    if !dirty.is_empty() {
        upsert_orders(&mut *tx, &dirty).await?;
        write_order_events(&mut *tx, &dirty).await?;
        let uses: Vec<super::promotions::OrderUses<'_>> = dirty
            .iter()
            .map(|folding| super::promotions::OrderUses {
                tenant: folding.device.tenant_id,
                outlet_id: folding.device.outlet_id,
                order: &folding.order,
            })
            .collect();
        super::promotions::record_uses(&mut *tx, &uses).await?;
    }
    record_anomalies(&mut *tx, &anomalies).await?;
    Ok(per_batch)
}

/// Tenant slug and outlet code of each (tenant, outlet): from [`OUTLET_NAMES`], and the ones it
/// lacks in one query.
async fn outlet_names(
    tx: &mut sqlx::PgConnection,
    keys: impl Iterator<Item = (Uuid, Uuid)>,
) -> Result<HashMap<(Uuid, Uuid), (String, String)>, StoreError> {
    let mut found = HashMap::new();
    let mut missing: Vec<(Uuid, Uuid)> = Vec::new();
    {
        let known = OUTLET_NAMES
            .read()
            .map_err(|_| StoreError::Corrupt("the outlet name cache is poisoned".into()))?;
        for key in keys {
            match known.get(&key) {
                Some(names) => {
                    found.insert(key, names.clone());
                }
                None => missing.push(key),
            }
        }
    }
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(found);
    }
    let (tenants, outlets): (Vec<Uuid>, Vec<Uuid>) = missing.into_iter().unzip();
    let names: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(
        "SELECT t.id, o.id, t.slug, o.code FROM outlets o
         JOIN tenants t ON t.id = o.tenant_id
         JOIN UNNEST($1::uuid[], $2::uuid[]) AS k(tenant_id, outlet_id)
           ON o.tenant_id = k.tenant_id AND o.id = k.outlet_id",
    )
    .bind(&tenants)
    .bind(&outlets)
    .fetch_all(&mut *tx)
    .await?;
    let mut known = OUTLET_NAMES
        .write()
        .map_err(|_| StoreError::Corrupt("the outlet name cache is poisoned".into()))?;
    if known.len() + names.len() > OUTLET_NAMES_MAX {
        known.clear();
    }
    for (tenant, outlet, slug, code) in names {
        known.insert((tenant, outlet), (slug.clone(), code.clone()));
        found.insert((tenant, outlet), (slug, code));
    }
    Ok(found)
}

/// The tenant slug and outlet code of outlets seen by this process. Both are fixed once created
/// (an outlet is renamed by its name, never its code, and neither outlets nor tenants are
/// deleted), so an entry never goes stale; the map only saves every ingest group a join that,
/// with a thousand outlets trickling, cost more than inserting the group's orders.
static OUTLET_NAMES: std::sync::LazyLock<std::sync::RwLock<OutletNames>> =
    std::sync::LazyLock::new(Default::default);
/// (tenant id, outlet id) → (tenant slug, outlet code).
type OutletNames = HashMap<(Uuid, Uuid), (String, String)>;
/// Most outlets [`OUTLET_NAMES`] holds; past it the map starts again (a hub serving more outlets
/// than this looks the rest up as before).
const OUTLET_NAMES_MAX: usize = 100_000;

/// Writes the outbox events of the group's changed orders, named by tenant slug and outlet code,
/// and queues the stock consumption of each order the group closed for the inventory service.
async fn write_order_events(
    tx: &mut sqlx::PgConnection,
    dirty: &[&Folding],
) -> Result<(), StoreError> {
    let names = outlet_names(
        &mut *tx,
        dirty
            .iter()
            .map(|f| (f.device.tenant_id.0, f.device.outlet_id)),
    )
    .await?;
    let mut events: Vec<(TenantId, crate::events::OutboxEvent)> = Vec::new();
    let mut closed = Vec::new();
    for folding in dirty {
        let tenant = folding.device.tenant_id;
        let (slug, code) = names
            .get(&(tenant.0, folding.device.outlet_id))
            .ok_or_else(|| StoreError::Corrupt("an order's outlet has no tenant".into()))?;
        if folding.order.state == OrderState::Closed && folding.before != Some(OrderState::Closed) {
            closed.push((
                tenant,
                folding.device.outlet_id,
                code.as_str(),
                &folding.order,
            ));
        }
        events.extend(
            crate::events::order_events(
                slug,
                code,
                &folding.order,
                folding.before.is_none(),
                folding.before,
            )
            .into_iter()
            .map(|event| (tenant, event)),
        );
    }
    super::service_calls::queue_consumptions(&mut *tx, &closed).await?;
    super::outbox::insert_many(&mut *tx, &events).await
}

async fn record_anomalies(
    tx: &mut sqlx::PgConnection,
    anomalies: &[(&DeviceIdentity, u64, Option<Uuid>, String)],
) -> Result<(), StoreError> {
    if anomalies.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(anomalies.len());
    let mut devices = Vec::with_capacity(anomalies.len());
    let mut seqs: Vec<i64> = Vec::with_capacity(anomalies.len());
    let mut orders: Vec<Option<Uuid>> = Vec::with_capacity(anomalies.len());
    let mut errors: Vec<&str> = Vec::with_capacity(anomalies.len());
    for (device, seq, order_id, error) in anomalies {
        tracing::warn!(tenant = %device.tenant_id.0, device = %device.id, seq, %error, "order anomaly");
        tenants.push(device.tenant_id.0);
        devices.push(device.id);
        seqs.push(*seq as i64);
        orders.push(*order_id);
        errors.push(error.as_str());
    }
    sqlx::query(
        "INSERT INTO order_anomalies (tenant_id, device_id, seq, order_id, error)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::uuid[], $5::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&tenants)
    .bind(&devices)
    .bind(&seqs)
    .bind(&orders)
    .bind(&errors)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_orders(tx: &mut sqlx::PgConnection, orders: &[&Folding]) -> Result<(), StoreError> {
    let n = orders.len();
    let mut tenants = Vec::with_capacity(n);
    let mut outlets = Vec::with_capacity(n);
    let mut devices = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut numbers = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(n);
    let mut currencies = Vec::with_capacity(n);
    let mut nets = Vec::with_capacity(n);
    let mut taxes = Vec::with_capacity(n);
    let mut totals_minor = Vec::with_capacity(n);
    let mut paids = Vec::with_capacity(n);
    let mut opened = Vec::with_capacity(n);
    let mut closed: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut last_activity: Vec<i64> = Vec::with_capacity(n);
    let mut docs = Vec::with_capacity(n);
    for folding in orders {
        let order = &folding.order;
        let totals = order.totals();
        tenants.push(folding.device.tenant_id.0);
        outlets.push(folding.device.outlet_id);
        devices.push(folding.device.id);
        ids.push(order.id.0);
        numbers.push(order.number as i64);
        types.push(order.order_type.as_str());
        states.push(order.state.as_str());
        currencies.push(order.currency.code().to_owned());
        nets.push(totals.net_minor);
        taxes.push(totals.tax_minor);
        totals_minor.push(totals.total_minor);
        paids.push(totals.paid_minor);
        opened.push(order.opened_at_ms);
        closed.push(order.closed_at_ms);
        last_activity.push(order.last_activity_ms());
        docs.push(serde_json::to_value(order).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    // `outlet_id` and `device_id` are written on insert only: an existing order keeps them.
    sqlx::query(
        "INSERT INTO orders (tenant_id, outlet_id, device_id, id, number, order_type, state, currency,
                             net_minor, tax_minor, total_minor, paid_minor, opened_at_ms, closed_at_ms, doc,
                             last_activity_ms)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],
                              $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[],
                              $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::jsonb[],
                              $16::bigint[])
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            state = excluded.state, net_minor = excluded.net_minor, tax_minor = excluded.tax_minor,
            total_minor = excluded.total_minor, paid_minor = excluded.paid_minor,
            closed_at_ms = excluded.closed_at_ms, doc = excluded.doc,
            last_activity_ms = excluded.last_activity_ms, updated_at = now()",
    )
    .bind(&tenants)
    .bind(&outlets)
    .bind(&devices)
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
    .bind(&last_activity)
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
