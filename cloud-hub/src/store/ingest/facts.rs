//! What a batch's ops change beside the orders they fold into: the outlet's LAN devices, the
//! audit log, refunds for the treasury, drawer sessions, `pos.order.ready` (and the customer's
//! message), cloud-order cancel outcomes, gift-card redemptions and late captures — each a
//! stage of the group's transaction, skipped when the group holds none of its ops.

use super::{Accepted, Decoded, outlet_names};
use crate::store::{StoreError, devices::DeviceIdentity};
use shared_model::OrderEvent;
use uuid::Uuid;

/// Writes what one batch's edge facts change beside its orders: the outlet's LAN devices, its
/// staff sessions, the audit log, refunds to send back through the treasury, drawer sessions. Returns the batch's
/// drawer anomalies.
pub(super) async fn apply_edge_facts(
    tx: &mut sqlx::PgConnection,
    batch: &Accepted<'_>,
) -> Result<usize, StoreError> {
    let (tenant, outlet) = (batch.device.tenant_id, batch.device.outlet_id);
    let devices = batch.picked(|_, decoded| match decoded {
        Decoded::Device(event) => Some(event),
        _ => None,
    });
    if !devices.is_empty() {
        crate::store::lan_devices::apply(&mut *tx, tenant, outlet, &devices).await?;
    }
    let staff = batch.picked(|_, decoded| match decoded {
        Decoded::Staff(event) => Some(event),
        _ => None,
    });
    if !staff.is_empty() {
        crate::store::staff_sessions::apply(&mut *tx, tenant, outlet, &staff).await?;
    }
    let audited = batch.picked(|_, decoded| match decoded {
        Decoded::Audit(entry) => Some(entry),
        _ => None,
    });
    if !audited.is_empty() {
        crate::store::audit_log::insert_till_entries(&mut *tx, tenant, outlet, &audited).await?;
    }
    let refunds = batch.picked(|_, decoded| match decoded {
        Decoded::Order(event @ OrderEvent::Refunded { .. }) => Some(event),
        _ => None,
    });
    if !refunds.is_empty() {
        crate::store::treasury_refunds::queue(&mut *tx, tenant, outlet, batch.device.id, &refunds)
            .await?;
    }
    let docs = batch.picked(|_, decoded| match decoded {
        Decoded::Doc(change) => Some(change),
        _ => None,
    });
    crate::store::outlet_docs::merge_from_outlet(&mut *tx, tenant, outlet, &docs).await?;
    let order_docs = batch.picked(|_, decoded| match decoded {
        Decoded::OrderDoc(change) => Some(change),
        _ => None,
    });
    if !order_docs.is_empty() {
        let merged =
            crate::store::order_notes::merge_from_outlet(&mut *tx, tenant, outlet, &order_docs)
                .await?;
        if !merged.is_empty() {
            let names = outlet_names(&mut *tx, std::iter::once((tenant.0, outlet))).await?;
            let (slug, code) = names
                .get(&(tenant.0, outlet))
                .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
            let events: Vec<_> = merged
                .iter()
                .map(|notes| {
                    (
                        tenant,
                        crate::events::order_notes_changed_event(slug, code, notes),
                    )
                })
                .collect();
            crate::store::outbox::insert_many(&mut *tx, &events).await?;
        }
    }
    // Payouts handed out in cash are marked first (their marker op comes just before them).
    let in_cash = batch.picked(|_, decoded| match decoded {
        Decoded::TipPayoutInCash {
            payout_id,
            drawer_session_id,
        } => Some((*payout_id, *drawer_session_id)),
        _ => None,
    });
    crate::store::tip_payouts::mark_in_cash(&mut *tx, tenant, &in_cash).await?;
    let payouts = batch.picked(|_, decoded| match decoded {
        Decoded::TipPayout(payout) => Some(payout),
        _ => None,
    });
    if !payouts.is_empty() {
        let new = crate::store::tip_payouts::insert(&mut *tx, tenant, outlet, &payouts).await?;
        // The rest go to the treasury to pay the staff their shares.
        for payout in &new {
            if !crate::store::tip_payouts::paid_in_cash(&mut *tx, tenant, payout.payout_id).await? {
                crate::store::service_calls::queue_tip_payout(&mut *tx, tenant, outlet, payout)
                    .await?;
            }
        }
        let names = outlet_names(&mut *tx, std::iter::once((tenant.0, outlet))).await?;
        let (slug, code) = names
            .get(&(tenant.0, outlet))
            .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
        let events: Vec<_> = new
            .iter()
            .map(|payout| {
                (
                    tenant,
                    crate::events::tips_paid_out_event(slug, code, payout),
                )
            })
            .collect();
        crate::store::outbox::insert_many(&mut *tx, &events).await?;
    }
    let drawer_ops = batch.picked(|seq, decoded| match decoded {
        Decoded::Drawer(op) => Some((seq, op.clone())),
        _ => None,
    });
    if drawer_ops.is_empty() {
        return Ok(0);
    }
    crate::store::drawers::apply_drawer_ops(&mut *tx, batch.device, &drawer_ops).await
}

/// `pos.order.ready` for every order the group's kitchens finished.
pub(super) async fn write_ready_events(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    let ready: Vec<(&DeviceIdentity, Uuid, u64, i64)> = accepted
        .iter()
        .flat_map(|batch| {
            batch.picked(|_, decoded| match decoded {
                Decoded::OrderReady {
                    order_id,
                    number,
                    at_ms,
                } => Some((batch.device, *order_id, *number, *at_ms)),
                _ => None,
            })
        })
        .collect();
    if ready.is_empty() {
        return Ok(());
    }
    let names = outlet_names(
        &mut *tx,
        ready
            .iter()
            .map(|(device, ..)| (device.tenant_id.0, device.outlet_id)),
    )
    .await?;
    let mut events = Vec::with_capacity(ready.len());
    for (device, order_id, number, at_ms) in ready {
        let (slug, code) = names
            .get(&(device.tenant_id.0, device.outlet_id))
            .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
        let event = crate::events::order_ready_event(slug, code, order_id, number, at_ms);
        // The customer of a cloud order who left a number is told, once (the event's id).
        crate::store::notifications::queue_order_ready(
            &mut *tx,
            device.tenant_id,
            event.id,
            order_id,
            number,
        )
        .await?;
        // A delivery order goes to logistics for its rider, once.
        crate::store::service_calls::queue_handoff(
            &mut *tx,
            device.tenant_id,
            order_id,
            number,
            at_ms,
        )
        .await?;
        events.push((device.tenant_id, event));
    }
    crate::store::outbox::insert_many(&mut *tx, &events).await
}

/// Records what the outlets' rules made of cancels from the cloud; a refund request raises
/// `pos.order.refund_requested` (once: its id comes from the replay record's).
pub(super) async fn apply_cloud_cancels(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    let resolved: Vec<crate::store::cloud_orders::CancelResolved> = accepted
        .iter()
        .flat_map(|batch| {
            batch.picked(|seq, decoded| match decoded {
                Decoded::CloudCancel {
                    order_id,
                    outcome,
                    reason,
                    resolved_at_ms,
                } => Some(crate::store::cloud_orders::CancelResolved {
                    tenant: batch.device.tenant_id,
                    outlet_id: batch.device.outlet_id,
                    device_id: batch.device.id,
                    op_seq: seq,
                    order_id: *order_id,
                    outcome: outcome.clone(),
                    reason: reason.clone(),
                    resolved_at_ms: *resolved_at_ms,
                }),
                _ => None,
            })
        })
        .collect();
    if resolved.is_empty() {
        return Ok(());
    }
    let conflicts = crate::store::cloud_orders::apply_cancel_outcomes(&mut *tx, &resolved).await?;
    if conflicts.is_empty() {
        return Ok(());
    }
    let names = outlet_names(
        &mut *tx,
        conflicts
            .iter()
            .map(|(tenant, _, resolved)| (tenant.0, resolved.outlet_id)),
    )
    .await?;
    let mut events = Vec::with_capacity(conflicts.len());
    for (tenant, replay_id, resolved) in conflicts {
        let (slug, code) = names
            .get(&(tenant.0, resolved.outlet_id))
            .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
        events.push((
            tenant,
            crate::events::cloud_cancel_conflict_event(slug, code, replay_id, &resolved),
        ));
    }
    crate::store::outbox::insert_many(&mut *tx, &events).await
}

/// Records, for managers, every capture an outlet could not use because the order was settled
/// another way first (the customer paid twice and is owed a refund).
pub(super) async fn record_late_captures(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    for batch in accepted {
        for (seq, decoded) in &batch.decoded {
            let Ok(Decoded::Payment(sync_protocol::op::PaymentOpV1::CaptureNeedsRefund {
                intent_id,
                order_id,
                amount_minor,
                detected_at_ms,
            })) = decoded
            else {
                continue;
            };
            crate::store::cloud_orders::record_replay(
                &mut *tx,
                &crate::store::cloud_orders::ReplayEntry {
                    tenant: batch.device.tenant_id,
                    id: Uuid::from_bytes(*intent_id),
                    outlet_id: batch.device.outlet_id,
                    order_id: Some(Uuid::from_bytes(*order_id)),
                    rule: "late_payment_capture",
                    resolution: "refund_requested",
                    detail: serde_json::json!({
                        "intent_id": Uuid::from_bytes(*intent_id).to_string(),
                        "amount_minor": amount_minor,
                        "explanation": "the treasury confirmed the payment after the order was settled another way; it was not taken twice and the customer must be refunded",
                    }),
                    device_id: Some(batch.device.id),
                    op_seq: Some(*seq),
                    occurred_at_ms: *detected_at_ms,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Enters the group's gift-card redemptions in the ledger; an overspend raises
/// `pos.giftcard.overspent`.
pub(super) async fn enter_gift_card_redemptions(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    let mut redemptions: Vec<crate::store::gift_cards::Redemption> = accepted
        .iter()
        .flat_map(|batch| {
            batch.picked(|seq, decoded| match decoded {
                Decoded::GiftCard {
                    entry_id,
                    code,
                    order_id,
                    amount_minor,
                    currency,
                    redeemed_at_ms,
                } => Some(crate::store::gift_cards::Redemption {
                    tenant: batch.device.tenant_id,
                    outlet_id: batch.device.outlet_id,
                    device_id: batch.device.id,
                    op_seq: seq,
                    entry_id: *entry_id,
                    code: code.clone(),
                    order_id: *order_id,
                    amount_minor: *amount_minor,
                    currency: currency.clone(),
                    redeemed_at_ms: *redeemed_at_ms,
                }),
                _ => None,
            })
        })
        .collect();
    if redemptions.is_empty() {
        return Ok(());
    }
    let overspends =
        crate::store::gift_cards::enter_redemptions(&mut *tx, &mut redemptions).await?;
    if overspends.is_empty() {
        return Ok(());
    }
    let names = outlet_names(
        &mut *tx,
        overspends
            .iter()
            .map(|(tenant, redemption, ..)| (tenant.0, redemption.outlet_id)),
    )
    .await?;
    let mut events = Vec::with_capacity(overspends.len());
    for (tenant, redemption, _, overspent_minor) in overspends {
        let (slug, code) = names
            .get(&(tenant.0, redemption.outlet_id))
            .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
        events.push((
            tenant,
            crate::store::gift_cards::overspent_event(slug, code, &redemption, overspent_minor),
        ));
    }
    crate::store::outbox::insert_many(&mut *tx, &events).await
}

/// Enters the group's loyalty facts: the members orders name, points burned at tills, vouchers
/// redeemed; then settles the points of every order the group touched that names a member.
/// Overspends, double redemptions and moved points raise their events.
pub(super) async fn enter_loyalty(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    use crate::store::TenantId;
    use crate::store::loyalty::{self, Attach, Burn, FromOutlet, Redeem};
    use sync_protocol::op::LoyaltyOpV1;
    let mut attaches = Vec::new();
    let mut burns = Vec::new();
    let mut redemptions = Vec::new();
    let mut touched: Vec<(TenantId, Uuid)> = Vec::new();
    for batch in accepted {
        let from = |op_seq: u64| {
            (
                batch.device.tenant_id,
                batch.device.outlet_id,
                batch.device.id,
                op_seq,
            )
        };
        for (seq, decoded) in batch.decoded.iter() {
            let Ok(decoded) = decoded else { continue };
            let (tenant, outlet_id, device_id, op_seq) = from(*seq);
            match decoded {
                Decoded::Order(event) => touched.push((tenant, event.order_id().0)),
                Decoded::Loyalty(LoyaltyOpV1::MemberAttached {
                    order_id,
                    member_code,
                    attached_at_ms,
                }) => {
                    touched.push((tenant, Uuid::from_bytes(*order_id)));
                    attaches.push(FromOutlet {
                        tenant,
                        outlet_id,
                        device_id,
                        op_seq,
                        fact: Attach {
                            order_id: Uuid::from_bytes(*order_id),
                            member_code: member_code.clone(),
                            at_ms: *attached_at_ms,
                        },
                    });
                }
                Decoded::Loyalty(LoyaltyOpV1::PointsBurned {
                    entry_id,
                    member_code,
                    order_id,
                    points,
                    burned_at_ms,
                    ..
                }) => {
                    burns.push(FromOutlet {
                        tenant,
                        outlet_id,
                        device_id,
                        op_seq,
                        fact: Burn {
                            entry_id: Uuid::from_bytes(*entry_id),
                            member_code: member_code.clone(),
                            order_id: Uuid::from_bytes(*order_id),
                            points: *points,
                            at_ms: *burned_at_ms,
                        },
                    });
                }
                Decoded::Loyalty(LoyaltyOpV1::VoucherRedeemed {
                    entry_id,
                    code,
                    order_id,
                    amount_minor,
                    redeemed_at_ms,
                    ..
                }) => {
                    redemptions.push(FromOutlet {
                        tenant,
                        outlet_id,
                        device_id,
                        op_seq,
                        fact: Redeem {
                            entry_id: Uuid::from_bytes(*entry_id),
                            code: code.clone(),
                            order_id: Uuid::from_bytes(*order_id),
                            amount_minor: *amount_minor,
                            at_ms: *redeemed_at_ms,
                        },
                    });
                }
                _ => {}
            }
        }
    }
    touched.sort_unstable_by_key(|(tenant, order)| (tenant.0, *order));
    touched.dedup();
    if !attaches.is_empty() {
        loyalty::attach_members(&mut *tx, &attaches).await?;
    }
    let mut raised = Vec::new();
    if !burns.is_empty() {
        raised.extend(loyalty::enter_burns(&mut *tx, &mut burns).await?);
    }
    if !redemptions.is_empty() {
        raised.extend(loyalty::enter_redemptions(&mut *tx, &mut redemptions).await?);
    }
    raised.extend(loyalty::settle_orders(&mut *tx, &touched).await?);
    if raised.is_empty() {
        return Ok(());
    }
    let names = outlet_names(&mut *tx, raised.iter().map(|r| (r.tenant.0, r.outlet_id))).await?;
    let mut events = Vec::with_capacity(raised.len());
    for fact in raised {
        let (slug, code) = names
            .get(&(fact.tenant.0, fact.outlet_id))
            .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
        events.push((
            fact.tenant,
            crate::events::event(slug, code, fact.id, fact.event, fact.at_ms, fact.data),
        ));
    }
    crate::store::outbox::insert_many(&mut *tx, &events).await
}

/// Enters the group's Z reports, each checked against the hub's own orders (folded earlier in
/// this transaction, so the day's every fact is in), and raises `pos.day.closed` once per report.
pub(super) async fn enter_day_reports(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    use crate::store::day_reports::{self, NewDayReport};
    let mut entered = Vec::new();
    for batch in accepted {
        for (seq, report) in batch.picked(|seq, decoded| match decoded {
            Decoded::DayClosed(report) => Some((seq, report)),
            _ => None,
        }) {
            let new = NewDayReport {
                tenant: batch.device.tenant_id,
                outlet_id: batch.device.outlet_id,
                device_id: batch.device.id,
                op_seq: seq,
                report,
            };
            if let Some(report) = day_reports::enter(&mut *tx, &new).await? {
                entered.push((batch.device, report));
            }
        }
    }
    if entered.is_empty() {
        return Ok(());
    }
    let names = outlet_names(
        &mut *tx,
        entered
            .iter()
            .map(|(device, _)| (device.tenant_id.0, device.outlet_id)),
    )
    .await?;
    let mut events = Vec::with_capacity(entered.len());
    for (device, report) in entered {
        let (slug, code) = names
            .get(&(device.tenant_id.0, device.outlet_id))
            .ok_or_else(|| StoreError::Corrupt("a device's outlet has no tenant".into()))?;
        // One event per outlet and Z number, however often the op is re-sent.
        let kind = format!("{}:{}", crate::events::DAY_CLOSED, report.z_number);
        events.push((
            device.tenant_id,
            crate::events::event(
                slug,
                code,
                crate::events::derived_id(device.outlet_id, &kind),
                crate::events::DAY_CLOSED,
                report.closed_at_ms,
                serde_json::json!({
                    "z_number": report.z_number, "from_ms": report.from_ms, "to_ms": report.to_ms,
                    "currency": report.currency, "summary": report.summary,
                    "matches_hub": report.matches,
                }),
            ),
        ));
    }
    crate::store::outbox::insert_many(&mut *tx, &events).await
}

/// Decides the group's gift-card hold requests and enters their releases, in op order.
pub(super) async fn enter_gift_card_holds(
    tx: &mut sqlx::PgConnection,
    accepted: &[Accepted<'_>],
) -> Result<(), StoreError> {
    use crate::store::gift_cards::{HoldOp, enter_holds};
    use sync_protocol::op::GiftCardOpV1;
    let ops: Vec<HoldOp> = accepted
        .iter()
        .flat_map(|batch| {
            batch.picked(|_, decoded| {
                let Decoded::GiftCardHold(op) = decoded else {
                    return None;
                };
                let hold = |hold_id: &[u8; 16], code: &str, at_ms: i64, request| HoldOp {
                    tenant: batch.device.tenant_id,
                    outlet_id: batch.device.outlet_id,
                    device_id: batch.device.id,
                    hold_id: Uuid::from_bytes(*hold_id),
                    code: code.to_owned(),
                    at_ms,
                    request,
                };
                match op {
                    GiftCardOpV1::HoldRequested {
                        hold_id,
                        code,
                        order_id,
                        amount_minor,
                        currency,
                        requested_at_ms,
                    } => Some(hold(
                        hold_id,
                        code,
                        *requested_at_ms,
                        Some((Uuid::from_bytes(*order_id), *amount_minor, currency.clone())),
                    )),
                    GiftCardOpV1::HoldReleased {
                        hold_id,
                        code,
                        released_at_ms,
                    } => Some(hold(hold_id, code, *released_at_ms, None)),
                    GiftCardOpV1::Redeemed { .. } => None,
                }
            })
        })
        .collect();
    if ops.is_empty() {
        return Ok(());
    }
    // Cards are locked in (tenant, code) order, as redemptions lock them, so two writers never
    // wait on each other in a circle; the sort is stable, so a hold's release stays after it.
    let mut ops = ops;
    ops.sort_by(|a, b| (a.tenant.0, &a.code).cmp(&(b.tenant.0, &b.code)));
    enter_holds(&mut *tx, &ops).await
}
