//! The gift-card ledger: SQL only.
//!
//! Every change of a card's value is a ledger entry written with the card's new balance in one
//! transaction; redemptions at outlets arrive as ops and are entered at ingest (entry id = the
//! till's payment id, so a re-sent op is entered once). After every change each outlet of the
//! tenant is sent its allowance on the card over the feed (`shared_model::gift_card`). A
//! redemption that takes a card below zero — two outlets spending it offline at once — is entered
//! all the same (the customer left with the goods) and reported: an `offline_event_replay` row and
//! `pos.giftcard.overspent`.

use super::cloud_orders::{ReplayEntry, record_replay};
use super::{StoreError, TenantId};
use crate::events::OutboxEvent;
use shared_model::gift_card::{GiftCardAllowance, outlet_allowance};
use sync_protocol::feed::{FeedBody, GiftCardAllowanceV1};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCard {
    pub id: Uuid,
    pub code: String,
    pub currency: String,
    pub balance_minor: i64,
    pub offline_allowance_minor: i64,
    /// `active` or `expired`.
    pub state: String,
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub kind: String,
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub outlet_code: Option<String>,
    pub order_id: Option<Uuid>,
    pub at_ms: i64,
}

/// Most ledger entries a card read returns (newest). Why 100: a card's whole life, usually.
pub const LEDGER_READ_MAX: i64 = 100;

type CardRow = (Uuid, String, String, i64, i64, String, Option<i64>);

fn card(row: CardRow) -> GiftCard {
    GiftCard {
        id: row.0,
        code: row.1,
        currency: row.2,
        balance_minor: row.3,
        offline_allowance_minor: row.4,
        state: row.5,
        expires_at_ms: row.6,
    }
}

const CARD_COLUMNS: &str =
    "id, code, currency, balance_minor, offline_allowance_minor, state, expires_at_ms";

async fn lock_card(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<Option<GiftCard>, StoreError> {
    let row: Option<CardRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CARD_COLUMNS} FROM gift_cards WHERE tenant_id = $1 AND code = $2 FOR UPDATE"
    )))
    .bind(tenant.0)
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(card))
}

/// A card and its newest ledger entries (oldest first).
pub async fn get(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<Option<(GiftCard, Vec<LedgerEntry>)>, StoreError> {
    let row: Option<CardRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CARD_COLUMNS} FROM gift_cards WHERE tenant_id = $1 AND code = $2"
    )))
    .bind(tenant.0)
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = row.map(card) else {
        return Ok(None);
    };
    type EntryRow = (Uuid, String, i64, i64, Option<String>, Option<Uuid>, i64);
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT l.id, l.kind, l.amount_minor, l.balance_after_minor, o.code, l.order_id, l.at_ms
         FROM gift_card_ledger l
         LEFT JOIN outlets o ON o.tenant_id = l.tenant_id AND o.id = l.outlet_id
         WHERE l.tenant_id = $1 AND l.card_id = $2
         ORDER BY l.at_ms DESC, l.recorded_at DESC LIMIT $3",
    )
    .bind(tenant.0)
    .bind(found.id)
    .bind(LEDGER_READ_MAX)
    .fetch_all(&mut *tx)
    .await?;
    let mut entries: Vec<LedgerEntry> = rows
        .into_iter()
        .map(|r| LedgerEntry {
            id: r.0,
            kind: r.1,
            amount_minor: r.2,
            balance_after_minor: r.3,
            outlet_code: r.4,
            order_id: r.5,
            at_ms: r.6,
        })
        .collect();
    entries.reverse();
    Ok(Some((found, entries)))
}

/// A card to issue.
#[derive(Debug, Clone)]
pub struct NewCard {
    pub code: String,
    pub currency: String,
    pub amount_minor: i64,
    pub offline_allowance_minor: i64,
    pub expires_at_ms: Option<i64>,
}

/// Why a ledger change was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum CardChangeError {
    #[error("a gift card with this code already exists")]
    DuplicateCode,
    #[error("no such gift card")]
    NotFound,
    #[error("the gift card is {0}")]
    NotActive(String),
    #[error("the balance would exceed {0}")]
    TooLarge(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn enter(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    card: &GiftCard,
    kind: &str,
    amount_minor: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gift_card_ledger (tenant_id, id, card_id, kind, amount_minor,
            balance_after_minor, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.0)
    .bind(Uuid::now_v7())
    .bind(card.id)
    .bind(kind)
    .bind(amount_minor)
    .bind(card.balance_minor)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE gift_cards SET balance_minor = $3, state = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(card.id)
    .bind(card.balance_minor)
    .bind(&card.state)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn issue(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    new: &NewCard,
    now_ms: i64,
) -> Result<GiftCard, CardChangeError> {
    let issued = GiftCard {
        id: Uuid::now_v7(),
        code: new.code.clone(),
        currency: new.currency.clone(),
        balance_minor: new.amount_minor,
        offline_allowance_minor: new.offline_allowance_minor,
        state: "active".into(),
        expires_at_ms: new.expires_at_ms,
    };
    let inserted = sqlx::query(
        "INSERT INTO gift_cards (tenant_id, id, code, currency, balance_minor,
            offline_allowance_minor, state, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(issued.id)
    .bind(&issued.code)
    .bind(&issued.currency)
    .bind(issued.balance_minor)
    .bind(issued.offline_allowance_minor)
    .bind(issued.expires_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    if inserted.rows_affected() == 0 {
        return Err(CardChangeError::DuplicateCode);
    }
    enter(tx, tenant, &issued, "issue", issued.balance_minor, now_ms).await?;
    send_allowances(tx, tenant, &issued).await?;
    Ok(issued)
}

pub async fn top_up(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
    amount_minor: i64,
    balance_minor_max: i64,
    now_ms: i64,
) -> Result<GiftCard, CardChangeError> {
    let mut found = lock_card(tx, tenant, code)
        .await?
        .ok_or(CardChangeError::NotFound)?;
    if found.state != "active" || found.expires_at_ms.is_some_and(|at| now_ms >= at) {
        return Err(CardChangeError::NotActive(if found.state == "active" {
            "expired".into()
        } else {
            found.state
        }));
    }
    if found.balance_minor.saturating_add(amount_minor) > balance_minor_max {
        return Err(CardChangeError::TooLarge(balance_minor_max));
    }
    found.balance_minor += amount_minor;
    enter(tx, tenant, &found, "top_up", amount_minor, now_ms).await?;
    send_allowances(tx, tenant, &found).await?;
    Ok(found)
}

/// Ends a card: what is left is forfeited (an `expire` entry takes the balance to zero) and
/// every outlet is told the card is no longer usable.
pub async fn expire(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
    now_ms: i64,
) -> Result<GiftCard, CardChangeError> {
    let mut found = lock_card(tx, tenant, code)
        .await?
        .ok_or(CardChangeError::NotFound)?;
    if found.state != "active" {
        return Ok(found);
    }
    let forfeited_minor = found.balance_minor.max(0);
    found.balance_minor -= forfeited_minor;
    found.state = "expired".into();
    enter(tx, tenant, &found, "expire", -forfeited_minor, now_ms).await?;
    send_allowances(tx, tenant, &found).await?;
    Ok(found)
}

/// Sends every outlet of the tenant its allowance on `card`, with the outlet's redemptions the
/// ledger holds.
async fn send_allowances(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    card: &GiftCard,
) -> Result<(), StoreError> {
    let outlets: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT o.id, coalesce(-sum(l.amount_minor), 0)::bigint
         FROM outlets o
         LEFT JOIN gift_card_ledger l ON l.tenant_id = o.tenant_id AND l.outlet_id = o.id
              AND l.card_id = $2 AND l.kind = 'redeem'
         WHERE o.tenant_id = $1
         GROUP BY o.id ORDER BY o.id",
    )
    .bind(tenant.0)
    .bind(card.id)
    .fetch_all(&mut *tx)
    .await?;
    let active = card.state == "active";
    for (outlet_id, outlet_redeemed_minor) in outlets {
        let word = GiftCardAllowance {
            code: card.code.clone(),
            currency: card.currency.clone(),
            active,
            expires_at_ms: card.expires_at_ms,
            allowance_minor: if active {
                outlet_allowance(card.balance_minor, card.offline_allowance_minor)
            } else {
                0
            },
            outlet_redeemed_minor,
        };
        let body = FeedBody::GiftCardAllowanceSet(GiftCardAllowanceV1::from(&word)).encode();
        super::feed::append(
            &mut *tx,
            tenant,
            outlet_id,
            &[("gift_card.allowance".into(), card.code.clone(), body)],
        )
        .await?;
    }
    Ok(())
}

/// An entry an outlet's till caused on a card (a redemption, a hold, a hold given back).
struct OutletEntry<'a> {
    id: Uuid,
    kind: &'a str,
    /// Signed: a redemption is negative.
    amount_minor: i64,
    outlet_id: Uuid,
    order_id: Uuid,
    device_id: Uuid,
    at_ms: i64,
}

/// Writes `entry` on `card` and moves its balance (the caller holds the card's row lock);
/// `false`, moving nothing, if an entry with its id was written before.
async fn enter_outlet_entry(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    card: &mut GiftCard,
    entry: &OutletEntry<'_>,
) -> Result<bool, StoreError> {
    let balance_after = card.balance_minor + entry.amount_minor;
    let inserted = sqlx::query(
        "INSERT INTO gift_card_ledger (tenant_id, id, card_id, kind, amount_minor,
            balance_after_minor, outlet_id, order_id, device_id, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(entry.id)
    .bind(card.id)
    .bind(entry.kind)
    .bind(entry.amount_minor)
    .bind(balance_after)
    .bind(entry.outlet_id)
    .bind(entry.order_id)
    .bind(entry.device_id)
    .bind(entry.at_ms)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    card.balance_minor = balance_after;
    sqlx::query(
        "UPDATE gift_cards SET balance_minor = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(card.id)
    .bind(card.balance_minor)
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// A redemption an outlet reported, as ingest decoded it.
#[derive(Debug, Clone)]
pub struct Redemption {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub device_id: Uuid,
    pub op_seq: u64,
    pub entry_id: Uuid,
    pub code: String,
    pub order_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub redeemed_at_ms: i64,
}

/// Enters the outlets' redemptions (inside ingest's transaction), in (tenant, code) order so
/// two ingest writers lock cards alike; returns the events to raise, by tenant.
pub async fn enter_redemptions(
    tx: &mut sqlx::PgConnection,
    redemptions: &mut [Redemption],
) -> Result<Vec<(TenantId, Redemption, Uuid, i64)>, StoreError> {
    redemptions.sort_by(|a, b| (a.tenant.0, &a.code).cmp(&(b.tenant.0, &b.code)));
    let mut overspends = Vec::new();
    let mut changed: Vec<(TenantId, GiftCard)> = Vec::new();
    for redemption in redemptions.iter() {
        let Some(mut found) = lock_card(tx, redemption.tenant, &redemption.code).await? else {
            record_replay(
                &mut *tx,
                &ReplayEntry {
                    tenant: redemption.tenant,
                    id: redemption.entry_id,
                    outlet_id: redemption.outlet_id,
                    order_id: Some(redemption.order_id),
                    rule: "gift_card_offline_redeem",
                    resolution: "unknown_card",
                    detail: serde_json::json!({"code": redemption.code, "amount_minor": redemption.amount_minor}),
                    device_id: Some(redemption.device_id),
                    op_seq: Some(redemption.op_seq),
                    occurred_at_ms: redemption.redeemed_at_ms,
                },
            )
            .await?;
            continue;
        };
        let entered = enter_outlet_entry(
            &mut *tx,
            redemption.tenant,
            &mut found,
            &OutletEntry {
                id: redemption.entry_id,
                kind: "redeem",
                amount_minor: -redemption.amount_minor,
                outlet_id: redemption.outlet_id,
                order_id: redemption.order_id,
                device_id: redemption.device_id,
                at_ms: redemption.redeemed_at_ms,
            },
        )
        .await?;
        if !entered {
            continue; // entered before: a re-sent op
        }
        let balance_after = found.balance_minor;
        let overspent_minor = (-balance_after).min(redemption.amount_minor);
        if overspent_minor > 0 {
            record_replay(
                &mut *tx,
                &ReplayEntry {
                    tenant: redemption.tenant,
                    id: redemption.entry_id,
                    outlet_id: redemption.outlet_id,
                    order_id: Some(redemption.order_id),
                    rule: "gift_card_offline_allowance",
                    resolution: "overspent",
                    detail: serde_json::json!({
                        "code": redemption.code, "amount_minor": redemption.amount_minor,
                        "overspent_minor": overspent_minor, "balance_after_minor": balance_after,
                        "explanation": "outlets redeemed the card offline at once, each within its allowance; the card went below zero",
                    }),
                    device_id: Some(redemption.device_id),
                    op_seq: Some(redemption.op_seq),
                    occurred_at_ms: redemption.redeemed_at_ms,
                },
            )
            .await?;
            overspends.push((
                redemption.tenant,
                redemption.clone(),
                redemption.entry_id,
                overspent_minor,
            ));
        }
        match changed
            .iter_mut()
            .find(|(tenant, card)| *tenant == redemption.tenant && card.id == found.id)
        {
            Some(slot) => slot.1 = found,
            None => changed.push((redemption.tenant, found)),
        }
    }
    for (tenant, card) in &changed {
        send_allowances(tx, *tenant, card).await?;
    }
    Ok(overspends)
}

/// `pos.giftcard.overspent` for an overspend the ledger found (id: the ledger entry's).
pub fn overspent_event(
    tenant_slug: &str,
    outlet_code: &str,
    redemption: &Redemption,
    overspent_minor: i64,
) -> OutboxEvent {
    crate::events::gift_card_overspent_event(
        tenant_slug,
        outlet_code,
        redemption.entry_id,
        &redemption.code,
        redemption.order_id,
        overspent_minor,
        redemption.redeemed_at_ms,
    )
}

/// A hold an outlet asked for, or released, as ingest decoded it.
#[derive(Debug, Clone)]
pub struct HoldOp {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub device_id: Uuid,
    pub hold_id: Uuid,
    pub code: String,
    pub at_ms: i64,
    /// `Some((order, amount, currency))` for a request, `None` for a release.
    pub request: Option<(Uuid, i64, String)>,
}

/// Decides the outlets' hold requests against each card's balance, and releases the holds they
/// give back, in op order (a release after its request within one group finds it decided).
/// Each decision goes down the asking outlet's feed; every outlet's allowance follows the card.
pub async fn enter_holds(tx: &mut sqlx::PgConnection, ops: &[HoldOp]) -> Result<(), StoreError> {
    for op in ops {
        match &op.request {
            Some((order_id, amount_minor, currency)) => {
                decide_hold(&mut *tx, op, *order_id, *amount_minor, currency).await?;
            }
            None => release_hold(&mut *tx, op).await?,
        }
    }
    Ok(())
}

async fn decide_hold(
    tx: &mut sqlx::PgConnection,
    op: &HoldOp,
    order_id: Uuid,
    amount_minor: i64,
    currency: &str,
) -> Result<(), StoreError> {
    let decided: Option<String> =
        sqlx::query_scalar("SELECT state FROM gift_card_holds WHERE tenant_id = $1 AND id = $2")
            .bind(op.tenant.0)
            .bind(op.hold_id)
            .fetch_optional(&mut *tx)
            .await?;
    if decided.is_some() {
        return Ok(()); // decided before: a re-sent op
    }
    let card = lock_card(tx, op.tenant, &op.code).await?;
    let refusal = match &card {
        None => Some("the hub knows no such gift card".to_owned()),
        Some(card) if card.state != "active" => Some(format!("the card is {}", card.state)),
        Some(card) if card.expires_at_ms.is_some_and(|at| op.at_ms >= at) => {
            Some("the card expired".to_owned())
        }
        Some(card) if card.currency != currency => Some(format!(
            "the card is in {}, the order in {currency}",
            card.currency
        )),
        Some(_) if amount_minor <= 0 => Some("the amount must be positive".to_owned()),
        Some(card) if card.balance_minor < amount_minor => Some(format!(
            "the card holds {} {}",
            card.balance_minor.max(0),
            card.currency
        )),
        Some(_) => None,
    };
    sqlx::query(
        "INSERT INTO gift_card_holds (tenant_id, id, card_id, code, outlet_id, order_id, device_id,
            amount_minor, state, reason, requested_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(op.tenant.0)
    .bind(op.hold_id)
    .bind(card.as_ref().map(|card| card.id))
    .bind(&op.code)
    .bind(op.outlet_id)
    .bind(order_id)
    .bind(op.device_id)
    .bind(amount_minor)
    .bind(if refusal.is_some() {
        "declined"
    } else {
        "approved"
    })
    .bind(refusal.as_deref().unwrap_or_default())
    .bind(op.at_ms)
    .execute(&mut *tx)
    .await?;
    if let (None, Some(mut card)) = (&refusal, card) {
        // The hold is the redemption: the till's own redemption op later carries the same id.
        enter_outlet_entry(
            &mut *tx,
            op.tenant,
            &mut card,
            &OutletEntry {
                id: op.hold_id,
                kind: "redeem",
                amount_minor: -amount_minor,
                outlet_id: op.outlet_id,
                order_id,
                device_id: op.device_id,
                at_ms: op.at_ms,
            },
        )
        .await?;
        send_allowances(tx, op.tenant, &card).await?;
    }
    let body = FeedBody::GiftCardHoldDecided {
        hold_id: *op.hold_id.as_bytes(),
        approved: refusal.is_none(),
        reason: refusal.unwrap_or_default(),
    }
    .encode();
    super::feed::append(
        &mut *tx,
        op.tenant,
        op.outlet_id,
        &[("gift_card.hold".into(), op.hold_id.to_string(), body)],
    )
    .await?;
    Ok(())
}

async fn release_hold(tx: &mut sqlx::PgConnection, op: &HoldOp) -> Result<(), StoreError> {
    let hold: Option<(Option<Uuid>, i64, String, Uuid)> = sqlx::query_as(
        "SELECT card_id, amount_minor, state, order_id FROM gift_card_holds
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(op.tenant.0)
    .bind(op.hold_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((Some(_), amount_minor, state, order_id)) = hold else {
        return Ok(()); // never decided (or for no card): nothing was taken
    };
    if state != "approved" {
        return Ok(()); // declined, or released before
    }
    let Some(mut card) = lock_card(tx, op.tenant, &op.code).await? else {
        return Ok(());
    };
    enter_outlet_entry(
        &mut *tx,
        op.tenant,
        &mut card,
        &OutletEntry {
            id: crate::events::derived_id(op.hold_id, "gift_card.hold.release"),
            kind: "release",
            amount_minor,
            outlet_id: op.outlet_id,
            order_id,
            device_id: op.device_id,
            at_ms: op.at_ms,
        },
    )
    .await?;
    sqlx::query(
        "UPDATE gift_card_holds SET state = 'released', released_at_ms = $3
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(op.tenant.0)
    .bind(op.hold_id)
    .bind(op.at_ms)
    .execute(&mut *tx)
    .await?;
    send_allowances(tx, op.tenant, &card).await?;
    Ok(())
}
