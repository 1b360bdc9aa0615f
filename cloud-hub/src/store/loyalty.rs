//! The loyalty ledger and vouchers: SQL only.
//!
//! Every change of a member's balance is a ledger entry written with the new balance in one
//! transaction under the member's row lock. Points an order earns (or a refund takes back or
//! restores) are settled against `shared_model::loyalty::LoyaltyProgram::order_points`: the hub
//! enters the difference between what the order is worth now and what the ledger holds for it,
//! so a re-sent op or an order folded twice moves the balance once. Burns at the till arrive as
//! ops (entry id = the till's payment id). After every change each outlet of the tenant is sent
//! its allowance on the member over the feed. A burn that takes a member below zero — two
//! outlets burning offline at once — is entered all the same and reported, as is a voucher
//! redeemed at two outlets before the hub's word reached the second.

use super::cloud_orders::{ReplayEntry, record_replay};
use super::{StoreError, TenantId};
use shared_model::Order;
use shared_model::loyalty::{LoyaltyProgram, MemberAllowance, Voucher};
use sync_protocol::feed::{FeedBody, LoyaltyMemberV1, LoyaltyProgramV1, VoucherV1};
use uuid::Uuid;

/// Most ledger entries a member read returns (newest). Why 100: a year of weekly visits.
pub const LEDGER_READ_MAX: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub balance_points: i64,
    /// `active` or `closed`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub kind: String,
    pub points: i64,
    pub balance_after_points: i64,
    pub outlet_code: Option<String>,
    pub order_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoucher {
    pub id: Uuid,
    pub voucher: Voucher,
    /// `active`, `redeemed` or `cancelled`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherRedemption {
    pub id: Uuid,
    pub outlet_code: Option<String>,
    pub order_id: Uuid,
    pub amount_minor: i64,
    pub duplicate: bool,
    pub at_ms: i64,
}

/// Why a loyalty or voucher change was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum LoyaltyChangeError {
    #[error("the tenant has no loyalty program yet")]
    NoProgram,
    #[error("a member with this code already exists")]
    DuplicateMember,
    #[error("a voucher with this code already exists")]
    DuplicateVoucher,
    #[error("not found")]
    NotFound,
    #[error("the balance would go below zero (it is {balance_points})")]
    BelowZero { balance_points: i64 },
    #[error("the voucher is {0}")]
    VoucherNotActive(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type MemberRow = (Uuid, String, String, i64, String);

fn member(row: MemberRow) -> Member {
    Member {
        id: row.0,
        code: row.1,
        name: row.2,
        balance_points: row.3,
        state: row.4,
    }
}

const MEMBER_COLUMNS: &str = "id, code, name, balance_points, state";

pub async fn program(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Option<LoyaltyProgram>, StoreError> {
    let row: Option<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT currency, earn_minor_per_point, point_value_minor, offline_burn_points
         FROM loyalty_programs WHERE tenant_id = $1",
    )
    .bind(tenant.0)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| LoyaltyProgram {
        currency: r.0,
        earn_minor_per_point: r.1,
        point_value_minor: r.2,
        offline_burn_points: r.3,
    }))
}

/// Sets the tenant's program and tells every outlet; a changed offline allowance is sent for
/// every active member.
pub async fn set_program(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    new: &LoyaltyProgram,
) -> Result<(), StoreError> {
    let before = program(&mut *tx, tenant).await?;
    sqlx::query(
        "INSERT INTO loyalty_programs (tenant_id, currency, earn_minor_per_point,
            point_value_minor, offline_burn_points)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id) DO UPDATE SET currency = excluded.currency,
            earn_minor_per_point = excluded.earn_minor_per_point,
            point_value_minor = excluded.point_value_minor,
            offline_burn_points = excluded.offline_burn_points, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(&new.currency)
    .bind(new.earn_minor_per_point)
    .bind(new.point_value_minor)
    .bind(new.offline_burn_points)
    .execute(&mut *tx)
    .await?;
    let body = FeedBody::LoyaltyProgramSet(LoyaltyProgramV1::from(new)).encode();
    let outlets: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM outlets WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await?;
    for outlet_id in outlets {
        super::feed::append(
            &mut *tx,
            tenant,
            outlet_id,
            &[("loyalty.program".into(), "program".into(), body.clone())],
        )
        .await?;
    }
    if before.is_none_or(|before| before.offline_burn_points != new.offline_burn_points) {
        let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM loyalty_members WHERE tenant_id = $1 AND state = 'active'
             ORDER BY id"
        )))
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            send_member(&mut *tx, tenant, &member(row), new.offline_burn_points).await?;
        }
    }
    Ok(())
}

async fn lock_member(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<Option<Member>, StoreError> {
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MEMBER_COLUMNS} FROM loyalty_members WHERE tenant_id = $1 AND code = $2
         FOR UPDATE"
    )))
    .bind(tenant.0)
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(member))
}

/// A member and their newest ledger entries (oldest first).
pub async fn get_member(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<Option<(Member, Vec<LedgerEntry>)>, StoreError> {
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MEMBER_COLUMNS} FROM loyalty_members WHERE tenant_id = $1 AND code = $2"
    )))
    .bind(tenant.0)
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = row.map(member) else {
        return Ok(None);
    };
    type EntryRow = (
        Uuid,
        String,
        i64,
        i64,
        Option<String>,
        Option<Uuid>,
        Option<String>,
        i64,
    );
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT l.id, l.kind, l.points, l.balance_after_points, o.code, l.order_id, l.reason,
                l.at_ms
         FROM loyalty_ledger l
         LEFT JOIN outlets o ON o.tenant_id = l.tenant_id AND o.id = l.outlet_id
         WHERE l.tenant_id = $1 AND l.member_id = $2
         ORDER BY l.recorded_at DESC, l.at_ms DESC LIMIT $3",
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
            points: r.2,
            balance_after_points: r.3,
            outlet_code: r.4,
            order_id: r.5,
            reason: r.6,
            at_ms: r.7,
        })
        .collect();
    entries.reverse();
    Ok(Some((found, entries)))
}

pub async fn enroll(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
    name: &str,
) -> Result<Member, LoyaltyChangeError> {
    let program = program(&mut *tx, tenant)
        .await?
        .ok_or(LoyaltyChangeError::NoProgram)?;
    let enrolled = Member {
        id: Uuid::now_v7(),
        code: code.to_owned(),
        name: name.to_owned(),
        balance_points: 0,
        state: "active".into(),
    };
    let inserted = sqlx::query(
        "INSERT INTO loyalty_members (tenant_id, id, code, name, balance_points, state)
         VALUES ($1, $2, $3, $4, 0, 'active') ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(enrolled.id)
    .bind(&enrolled.code)
    .bind(&enrolled.name)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    if inserted.rows_affected() == 0 {
        return Err(LoyaltyChangeError::DuplicateMember);
    }
    send_member(&mut *tx, tenant, &enrolled, program.offline_burn_points).await?;
    Ok(enrolled)
}

/// One ledger entry and the member's new balance (the caller holds the member's row lock).
struct Entry<'a> {
    id: Uuid,
    kind: &'a str,
    points: i64,
    outlet_id: Option<Uuid>,
    order_id: Option<Uuid>,
    device_id: Option<Uuid>,
    reason: Option<&'a str>,
    at_ms: i64,
}

/// Writes `entry` against `member` (whose balance it moves); `false` if an entry with its id
/// was written before.
async fn enter(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    member: &mut Member,
    entry: &Entry<'_>,
) -> Result<bool, StoreError> {
    let balance_after = member.balance_points.saturating_add(entry.points);
    let inserted = sqlx::query(
        "INSERT INTO loyalty_ledger (tenant_id, id, member_id, kind, points, balance_after_points,
            outlet_id, order_id, device_id, reason, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(entry.id)
    .bind(member.id)
    .bind(entry.kind)
    .bind(entry.points)
    .bind(balance_after)
    .bind(entry.outlet_id)
    .bind(entry.order_id)
    .bind(entry.device_id)
    .bind(entry.reason)
    .bind(entry.at_ms)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    member.balance_points = balance_after;
    sqlx::query(
        "UPDATE loyalty_members SET balance_points = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(member.id)
    .bind(member.balance_points)
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// Head office moves a member's balance by `points` (a goodwill gesture, a correction); never
/// below zero.
pub async fn adjust(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
    points: i64,
    reason: &str,
    now_ms: i64,
) -> Result<Member, LoyaltyChangeError> {
    let mut found = lock_member(&mut *tx, tenant, code)
        .await?
        .ok_or(LoyaltyChangeError::NotFound)?;
    let program = program(&mut *tx, tenant)
        .await?
        .ok_or(LoyaltyChangeError::NoProgram)?;
    if found.balance_points.saturating_add(points) < 0 {
        return Err(LoyaltyChangeError::BelowZero {
            balance_points: found.balance_points,
        });
    }
    enter(
        &mut *tx,
        tenant,
        &mut found,
        &Entry {
            id: Uuid::now_v7(),
            kind: "adjust",
            points,
            outlet_id: None,
            order_id: None,
            device_id: None,
            reason: Some(reason),
            at_ms: now_ms,
        },
    )
    .await?;
    send_member(&mut *tx, tenant, &found, program.offline_burn_points).await?;
    Ok(found)
}

/// Sends every outlet of the tenant its allowance on `member`, with the outlet's burns the
/// ledger holds.
async fn send_member(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    member: &Member,
    offline_burn_points: i64,
) -> Result<(), StoreError> {
    let outlets: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT o.id, coalesce(-sum(l.points), 0)::bigint
         FROM outlets o
         LEFT JOIN loyalty_ledger l ON l.tenant_id = o.tenant_id AND l.outlet_id = o.id
              AND l.member_id = $2 AND l.kind = 'burn'
         WHERE o.tenant_id = $1
         GROUP BY o.id ORDER BY o.id",
    )
    .bind(tenant.0)
    .bind(member.id)
    .fetch_all(&mut *tx)
    .await?;
    let active = member.state == "active";
    for (outlet_id, outlet_burned_points) in outlets {
        let word = MemberAllowance {
            code: member.code.clone(),
            name: member.name.clone(),
            active,
            balance_points: member.balance_points,
            allowance_points: if active {
                MemberAllowance::outlet_allowance(member.balance_points, offline_burn_points)
            } else {
                0
            },
            outlet_burned_points,
        };
        let body = FeedBody::LoyaltyMemberSet(LoyaltyMemberV1::from(&word)).encode();
        super::feed::append(
            &mut *tx,
            tenant,
            outlet_id,
            &[("loyalty.member".into(), member.code.clone(), body)],
        )
        .await?;
    }
    Ok(())
}

/// A loyalty op an outlet sent, as ingest decoded it.
#[derive(Debug, Clone)]
pub struct FromOutlet<T> {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub device_id: Uuid,
    pub op_seq: u64,
    pub fact: T,
}

#[derive(Debug, Clone)]
pub struct Attach {
    pub order_id: Uuid,
    pub member_code: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Burn {
    pub entry_id: Uuid,
    pub member_code: String,
    pub order_id: Uuid,
    pub points: i64,
    pub at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Redeem {
    pub entry_id: Uuid,
    pub code: String,
    pub order_id: Uuid,
    pub amount_minor: i64,
    pub at_ms: i64,
}

/// What ingest raises after entering loyalty facts: (tenant, outlet, event kind, payload id,
/// payload, at).
#[derive(Debug, Clone)]
pub struct Raised {
    pub tenant: TenantId,
    pub outlet_id: Uuid,
    pub event: &'static str,
    pub id: Uuid,
    pub data: serde_json::Value,
    pub at_ms: i64,
}

async fn unknown<T: std::fmt::Debug>(
    tx: &mut sqlx::PgConnection,
    from: &FromOutlet<T>,
    id: Uuid,
    order_id: Uuid,
    rule: &'static str,
    at_ms: i64,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    record_replay(
        &mut *tx,
        &ReplayEntry {
            tenant: from.tenant,
            id,
            outlet_id: from.outlet_id,
            order_id: Some(order_id),
            rule,
            resolution: "unknown",
            detail,
            device_id: Some(from.device_id),
            op_seq: Some(from.op_seq),
            occurred_at_ms: at_ms,
        },
    )
    .await?;
    Ok(())
}

/// Records the member each order names (the last one named wins).
pub async fn attach_members(
    tx: &mut sqlx::PgConnection,
    attaches: &[FromOutlet<Attach>],
) -> Result<(), StoreError> {
    for attach in attaches {
        let member_id: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM loyalty_members WHERE tenant_id = $1 AND code = $2")
                .bind(attach.tenant.0)
                .bind(&attach.fact.member_code)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(member_id) = member_id else {
            unknown(
                &mut *tx,
                attach,
                Uuid::now_v7(),
                attach.fact.order_id,
                "loyalty_member_attach",
                attach.fact.at_ms,
                serde_json::json!({"member_code": attach.fact.member_code}),
            )
            .await?;
            continue;
        };
        sqlx::query(
            "INSERT INTO loyalty_order_members (tenant_id, order_id, member_id, outlet_id, at_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, order_id) DO UPDATE SET member_id = excluded.member_id,
                at_ms = excluded.at_ms
             WHERE loyalty_order_members.at_ms <= excluded.at_ms",
        )
        .bind(attach.tenant.0)
        .bind(attach.fact.order_id)
        .bind(member_id)
        .bind(attach.outlet_id)
        .bind(attach.fact.at_ms)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Enters the outlets' burns (in (tenant, member) order so two ingest writers lock members
/// alike); an overspend is recorded and raised as `pos.loyalty.overspent`.
pub async fn enter_burns(
    tx: &mut sqlx::PgConnection,
    burns: &mut [FromOutlet<Burn>],
) -> Result<Vec<Raised>, StoreError> {
    burns.sort_by(|a, b| (a.tenant.0, &a.fact.member_code).cmp(&(b.tenant.0, &b.fact.member_code)));
    let mut raised = Vec::new();
    let mut changed: Vec<(TenantId, Member)> = Vec::new();
    for burn in burns.iter() {
        let Some(mut found) = lock_member(&mut *tx, burn.tenant, &burn.fact.member_code).await?
        else {
            unknown(
                &mut *tx,
                burn,
                burn.fact.entry_id,
                burn.fact.order_id,
                "loyalty_offline_burn",
                burn.fact.at_ms,
                serde_json::json!({"member_code": burn.fact.member_code, "points": burn.fact.points}),
            )
            .await?;
            continue;
        };
        let entered = enter(
            &mut *tx,
            burn.tenant,
            &mut found,
            &Entry {
                id: burn.fact.entry_id,
                kind: "burn",
                points: -burn.fact.points,
                outlet_id: Some(burn.outlet_id),
                order_id: Some(burn.fact.order_id),
                device_id: Some(burn.device_id),
                reason: None,
                at_ms: burn.fact.at_ms,
            },
        )
        .await?;
        if !entered {
            continue; // entered before: a re-sent op
        }
        let overspent_points = (-found.balance_points).min(burn.fact.points);
        if overspent_points > 0 {
            record_replay(
                &mut *tx,
                &ReplayEntry {
                    tenant: burn.tenant,
                    id: burn.fact.entry_id,
                    outlet_id: burn.outlet_id,
                    order_id: Some(burn.fact.order_id),
                    rule: "loyalty_offline_allowance",
                    resolution: "overspent",
                    detail: serde_json::json!({
                        "member_code": burn.fact.member_code, "points": burn.fact.points,
                        "overspent_points": overspent_points,
                        "balance_after_points": found.balance_points,
                        "explanation": "outlets burned the member's points offline at once, each within its allowance; the balance went below zero",
                    }),
                    device_id: Some(burn.device_id),
                    op_seq: Some(burn.op_seq),
                    occurred_at_ms: burn.fact.at_ms,
                },
            )
            .await?;
            raised.push(Raised {
                tenant: burn.tenant,
                outlet_id: burn.outlet_id,
                event: crate::events::LOYALTY_OVERSPENT,
                id: burn.fact.entry_id,
                data: serde_json::json!({"member_code": burn.fact.member_code,
                    "order_id": burn.fact.order_id.to_string(), "points": burn.fact.points,
                    "overspent_points": overspent_points}),
                at_ms: burn.fact.at_ms,
            });
        }
        remember(&mut changed, burn.tenant, found);
    }
    send_changed(&mut *tx, &changed).await?;
    Ok(raised)
}

fn remember(changed: &mut Vec<(TenantId, Member)>, tenant: TenantId, member: Member) {
    match changed
        .iter_mut()
        .find(|(t, m)| *t == tenant && m.id == member.id)
    {
        Some(slot) => slot.1 = member,
        None => changed.push((tenant, member)),
    }
}

async fn send_changed(
    tx: &mut sqlx::PgConnection,
    changed: &[(TenantId, Member)],
) -> Result<(), StoreError> {
    for (tenant, member) in changed {
        let Some(program) = program(&mut *tx, *tenant).await? else {
            continue;
        };
        send_member(&mut *tx, *tenant, member, program.offline_burn_points).await?;
    }
    Ok(())
}

/// Settles the points of every given order that names a member: enters the difference between
/// what the order is worth now and what the ledger holds for it. Returns `pos.loyalty.earned`
/// for each order whose points moved.
pub async fn settle_orders(
    tx: &mut sqlx::PgConnection,
    orders: &[(TenantId, Uuid)],
) -> Result<Vec<Raised>, StoreError> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let (tenants, ids): (Vec<Uuid>, Vec<Uuid>) = orders.iter().map(|(t, o)| (t.0, *o)).unzip();
    // Orders with a member, of tenants with a program, in (tenant, member) lock order.
    type Row = (Uuid, Uuid, Uuid, String, sqlx::types::Json<Order>);
    let rows: Vec<Row> = sqlx::query_as(
        // Key lookups per order (a lateral subquery the planner cannot turn into a hash join
        // over every loyalty order and every order of the tenant, as a plain join could be
        // planned while statistics are stale).
        "SELECT m.tenant_id, m.order_id, m.outlet_id, m.code, m.doc
         FROM UNNEST($1::uuid[], $2::uuid[]) AS k(tenant_id, order_id)
         CROSS JOIN LATERAL (
             SELECT m.tenant_id, m.order_id, o.outlet_id, lm.code, o.doc
             FROM loyalty_order_members m
             JOIN loyalty_members lm ON lm.tenant_id = m.tenant_id AND lm.id = m.member_id
             JOIN orders o ON o.tenant_id = m.tenant_id AND o.id = m.order_id
             JOIN loyalty_programs p ON p.tenant_id = m.tenant_id
             WHERE m.tenant_id = k.tenant_id AND m.order_id = k.order_id
             OFFSET 0
         ) m
         ORDER BY m.tenant_id, m.code, m.order_id",
    )
    .bind(&tenants)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut raised = Vec::new();
    let mut changed: Vec<(TenantId, Member)> = Vec::new();
    for (tenant, order_id, outlet_id, code, order) in rows {
        let tenant = TenantId(tenant);
        let Some(program) = program(&mut *tx, tenant).await? else {
            continue;
        };
        let Some(mut found) = lock_member(&mut *tx, tenant, &code).await? else {
            continue;
        };
        let worth = program.order_points(&order.0);
        let held: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, coalesce(sum(points), 0)::bigint FROM loyalty_ledger
             WHERE tenant_id = $1 AND order_id = $2 AND member_id = $3
               AND kind IN ('earn', 'restore')
             GROUP BY kind",
        )
        .bind(tenant.0)
        .bind(order_id)
        .bind(found.id)
        .fetch_all(&mut *tx)
        .await?;
        let held_of = |kind: &str| {
            held.iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, points)| *points)
        };
        let at_ms = order.0.closed_at_ms.unwrap_or(order.0.opened_at_ms);
        let mut moved = false;
        for (kind, target) in [("earn", worth.earned), ("restore", worth.restored)] {
            let difference = target - held_of(kind);
            if difference == 0 {
                continue;
            }
            enter(
                &mut *tx,
                tenant,
                &mut found,
                &Entry {
                    id: Uuid::now_v7(),
                    kind,
                    points: difference,
                    outlet_id: Some(outlet_id),
                    order_id: Some(order_id),
                    device_id: None,
                    reason: None,
                    at_ms,
                },
            )
            .await?;
            moved = true;
        }
        if moved {
            raised.push(Raised {
                tenant,
                outlet_id,
                event: crate::events::LOYALTY_POINTS_CHANGED,
                id: Uuid::now_v7(),
                data: serde_json::json!({"member_code": code, "order_id": order_id.to_string(),
                    "number": order.0.number, "earned_points": worth.earned,
                    "restored_points": worth.restored, "balance_points": found.balance_points}),
                at_ms,
            });
            remember(&mut changed, tenant, found);
        }
    }
    send_changed(&mut *tx, &changed).await?;
    Ok(raised)
}

type VoucherRow = (Uuid, String, String, i64, String, Option<i64>);

fn stored_voucher(row: VoucherRow) -> StoredVoucher {
    StoredVoucher {
        id: row.0,
        voucher: Voucher {
            code: row.1,
            currency: row.2,
            value_minor: row.3,
            active: row.4 == "active",
            expires_at_ms: row.5,
        },
        state: row.4,
    }
}

const VOUCHER_COLUMNS: &str = "id, code, currency, value_minor, state, expires_at_ms";

async fn voucher_row(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
    lock: bool,
) -> Result<Option<StoredVoucher>, StoreError> {
    let row: Option<VoucherRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE tenant_id = $1 AND code = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(tenant.0)
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(stored_voucher))
}

/// Sends every outlet of the tenant the voucher as it stands.
async fn send_voucher(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    voucher: &Voucher,
) -> Result<(), StoreError> {
    let outlets: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM outlets WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(&mut *tx)
            .await?;
    let body = FeedBody::VoucherSet(VoucherV1::from(voucher)).encode();
    for outlet_id in outlets {
        super::feed::append(
            &mut *tx,
            tenant,
            outlet_id,
            &[("voucher".into(), voucher.code.clone(), body.clone())],
        )
        .await?;
    }
    Ok(())
}

pub async fn issue_voucher(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    voucher: &Voucher,
) -> Result<StoredVoucher, LoyaltyChangeError> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO vouchers (tenant_id, id, code, currency, value_minor, state, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, 'active', $6) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(&voucher.code)
    .bind(&voucher.currency)
    .bind(voucher.value_minor)
    .bind(voucher.expires_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    if inserted.rows_affected() == 0 {
        return Err(LoyaltyChangeError::DuplicateVoucher);
    }
    let issued = Voucher {
        active: true,
        ..voucher.clone()
    };
    send_voucher(&mut *tx, tenant, &issued).await?;
    Ok(StoredVoucher {
        id,
        voucher: issued,
        state: "active".into(),
    })
}

/// A voucher and every redemption outlets reported (oldest first).
pub async fn get_voucher(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<Option<(StoredVoucher, Vec<VoucherRedemption>)>, StoreError> {
    let Some(found) = voucher_row(&mut *tx, tenant, code, false).await? else {
        return Ok(None);
    };
    type Row = (Uuid, Option<String>, Uuid, i64, bool, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.id, o.code, r.order_id, r.amount_minor, r.duplicate, r.at_ms
         FROM voucher_redemptions r
         LEFT JOIN outlets o ON o.tenant_id = r.tenant_id AND o.id = r.outlet_id
         WHERE r.tenant_id = $1 AND r.voucher_id = $2
         ORDER BY r.recorded_at, r.at_ms",
    )
    .bind(tenant.0)
    .bind(found.id)
    .fetch_all(&mut *tx)
    .await?;
    let redemptions = rows
        .into_iter()
        .map(|r| VoucherRedemption {
            id: r.0,
            outlet_code: r.1,
            order_id: r.2,
            amount_minor: r.3,
            duplicate: r.4,
            at_ms: r.5,
        })
        .collect();
    Ok(Some((found, redemptions)))
}

/// Cancels an unused voucher; every outlet is told it no longer takes it.
pub async fn cancel_voucher(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    code: &str,
) -> Result<StoredVoucher, LoyaltyChangeError> {
    let mut found = voucher_row(&mut *tx, tenant, code, true)
        .await?
        .ok_or(LoyaltyChangeError::NotFound)?;
    match found.state.as_str() {
        "active" => {}
        "cancelled" => return Ok(found),
        other => return Err(LoyaltyChangeError::VoucherNotActive(other.to_owned())),
    }
    sqlx::query(
        "UPDATE vouchers SET state = 'cancelled', updated_at = now()
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(found.id)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    found.state = "cancelled".into();
    found.voucher.active = false;
    send_voucher(&mut *tx, tenant, &found.voucher).await?;
    Ok(found)
}

/// Enters the outlets' voucher redemptions; the first use of a voucher redeems it and tells
/// every outlet; any later one (two outlets offline at once, or a cancelled voucher taken
/// before the word arrived) is kept, recorded and raised as `pos.voucher.double_redeemed`.
pub async fn enter_redemptions(
    tx: &mut sqlx::PgConnection,
    redemptions: &mut [FromOutlet<Redeem>],
) -> Result<Vec<Raised>, StoreError> {
    redemptions.sort_by(|a, b| (a.tenant.0, &a.fact.code).cmp(&(b.tenant.0, &b.fact.code)));
    let mut raised = Vec::new();
    for redemption in redemptions.iter() {
        let fact = &redemption.fact;
        let Some(mut found) = voucher_row(&mut *tx, redemption.tenant, &fact.code, true).await?
        else {
            unknown(
                &mut *tx,
                redemption,
                fact.entry_id,
                fact.order_id,
                "voucher_offline_redeem",
                fact.at_ms,
                serde_json::json!({"code": fact.code, "amount_minor": fact.amount_minor}),
            )
            .await?;
            continue;
        };
        let duplicate = found.state != "active";
        let inserted = sqlx::query(
            "INSERT INTO voucher_redemptions (tenant_id, id, voucher_id, outlet_id, order_id,
                device_id, amount_minor, duplicate, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(redemption.tenant.0)
        .bind(fact.entry_id)
        .bind(found.id)
        .bind(redemption.outlet_id)
        .bind(fact.order_id)
        .bind(redemption.device_id)
        .bind(fact.amount_minor)
        .bind(duplicate)
        .bind(fact.at_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            continue; // entered before: a re-sent op
        }
        if !duplicate {
            sqlx::query(
                "UPDATE vouchers SET state = 'redeemed', updated_at = now()
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(redemption.tenant.0)
            .bind(found.id)
            .execute(&mut *tx)
            .await?;
            found.state = "redeemed".into();
            found.voucher.active = false;
            send_voucher(&mut *tx, redemption.tenant, &found.voucher).await?;
            continue;
        }
        record_replay(
            &mut *tx,
            &ReplayEntry {
                tenant: redemption.tenant,
                id: fact.entry_id,
                outlet_id: redemption.outlet_id,
                order_id: Some(fact.order_id),
                rule: "voucher_single_use",
                resolution: "double_redeemed",
                detail: serde_json::json!({
                    "code": fact.code, "amount_minor": fact.amount_minor, "voucher_state": found.state,
                    "explanation": "the voucher was taken again before this outlet heard it was used or cancelled",
                }),
                device_id: Some(redemption.device_id),
                op_seq: Some(redemption.op_seq),
                occurred_at_ms: fact.at_ms,
            },
        )
        .await?;
        raised.push(Raised {
            tenant: redemption.tenant,
            outlet_id: redemption.outlet_id,
            event: crate::events::VOUCHER_DOUBLE_REDEEMED,
            id: fact.entry_id,
            data: serde_json::json!({"code": fact.code, "order_id": fact.order_id.to_string(),
                "amount_minor": fact.amount_minor, "voucher_state": found.state}),
            at_ms: fact.at_ms,
        });
    }
    Ok(raised)
}

/// Sends a new outlet the tenant's program, the allowance on every active member and every
/// active voucher, so a shop opened after the program started takes them like the others.
pub async fn seed_outlet(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<(), StoreError> {
    let mut entries = Vec::new();
    if let Some(program) = program(&mut *tx, tenant).await? {
        entries.push((
            "loyalty.program".to_owned(),
            "program".to_owned(),
            FeedBody::LoyaltyProgramSet(LoyaltyProgramV1::from(&program)).encode(),
        ));
        let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM loyalty_members WHERE tenant_id = $1 AND state = 'active'
             ORDER BY id"
        )))
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await?;
        for found in rows.into_iter().map(member) {
            let word = MemberAllowance {
                code: found.code.clone(),
                name: found.name.clone(),
                active: true,
                balance_points: found.balance_points,
                allowance_points: MemberAllowance::outlet_allowance(
                    found.balance_points,
                    program.offline_burn_points,
                ),
                outlet_burned_points: 0,
            };
            entries.push((
                "loyalty.member".to_owned(),
                found.code,
                FeedBody::LoyaltyMemberSet(LoyaltyMemberV1::from(&word)).encode(),
            ));
        }
    }
    let vouchers: Vec<VoucherRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE tenant_id = $1 AND state = 'active'
         ORDER BY id"
    )))
    .bind(tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    for stored in vouchers.into_iter().map(stored_voucher) {
        entries.push((
            "voucher".to_owned(),
            stored.voucher.code.clone(),
            FeedBody::VoucherSet(VoucherV1::from(&stored.voucher)).encode(),
        ));
    }
    if entries.is_empty() {
        return Ok(());
    }
    super::feed::append(&mut *tx, tenant, outlet_id, &entries).await?;
    Ok(())
}
